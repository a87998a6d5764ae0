//! `claims.*`: what the app asks beyond tokens and what it answers: the ID token over
//! UserInfo, roles and groups from the token, the groups overage, and (the guard) whoami
//! matching what was issued.

use super::{about, describe, Breaches, Finding, Input};
use model::scenario::Expect;
use model::transcript::TranscriptEvent;
use model::verdict::Evidence;
use model::{Endpoint, GrantType, JournalEntry};
use serde_json::Value;
use std::collections::BTreeSet;

fn whoami_asked(input: &Input<'_>) -> bool {
    input.scenario.flow.is_user() && input.commands("whoami").next().is_some()
}

/// `claims.id-token-over-userinfo`: no UserInfo call when the ID token has what whoami needs.
pub fn no_userinfo(input: &Input<'_>) -> Finding {
    // Observed apps send no whoami: a UserInfo call after the app got an ID token (which holds
    // the name, username and object ID UserInfo answers) is the avoidable call.
    let first_id_token = input
        .client_requests()
        .find(|e| e.issued.iter().any(|t| t.kind == model::TokenKind::Id))
        .map(|e| e.arrived_us);
    if input.observed {
        if first_id_token.is_none() {
            return Finding::na("the app got no ID token");
        }
    } else if !whoami_asked(input) {
        return Finding::na("whoami was never asked");
    }
    let calls: Vec<_> = input
        .client_requests()
        .filter(|e| e.endpoint == Endpoint::Userinfo)
        .filter(|e| !input.observed || first_id_token.is_some_and(|t| e.arrived_us > t))
        .map(|e| {
            about(
                e,
                format!("UserInfo call at {}", model::verdict::secs(e.arrived_us)),
            )
        })
        .collect();
    if calls.is_empty() {
        Finding::pass("whoami was answered without UserInfo")
    } else {
        Finding::fail(
            "userinfo-call",
            "the client called UserInfo although the ID token has the claims",
            calls,
        )
    }
}

/// A Graph request that reads directory membership or role assignments, directly or inside a
/// JSON batch (`$batch`).
pub fn reads_directory(e: &model::JournalEntry) -> bool {
    e.endpoint == Endpoint::Graph
        && (is_directory_call(&e.path) || e.batch_paths.iter().any(|p| is_directory_call(p)))
}

/// Graph paths that read directory membership or role assignments.
pub fn is_directory_call(path: &str) -> bool {
    [
        "memberOf",
        "transitiveMemberOf",
        "getMemberObjects",
        "getMemberGroups",
        "checkMemberGroups",
        "appRoleAssignments",
    ]
    .iter()
    .any(|p| path.contains(p))
}

/// `claims.roles-in-token`: no directory call for whoami when roles and groups are in the
/// token (no overage).
pub fn roles_in_token(input: &Input<'_>) -> Finding {
    if !whoami_asked(input) {
        return Finding::na("whoami was never asked");
    }
    if input.scenario.tokens.groups.unwrap_or(0) > 200 {
        return Finding::na("the groups are in overage: a Graph call is expected");
    }
    let calls: Vec<_> = input
        .client_requests()
        .filter(|e| reads_directory(e))
        .map(|e| about(e, format!("{} {}", describe(e), e.path)))
        .collect();
    if calls.is_empty() {
        Finding::pass("roles and groups came from the token")
    } else {
        Finding::fail(
            "directory-call",
            "the client asked Graph for what the token already said",
            calls,
        )
    }
}

/// Whoami answers: (time, command id, body).
fn whoami_answers<'a>(input: &'a Input<'_>) -> Vec<(u64, u64, &'a Value)> {
    let ids: Vec<u64> = input
        .commands("whoami")
        .filter_map(|c| match &c.event {
            TranscriptEvent::Command { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    input
        .transcript
        .iter()
        .filter_map(|e| match &e.event {
            TranscriptEvent::Result { id, ok: true, body } if ids.contains(id) => {
                Some((e.at_us, *id, body))
            }
            _ => None,
        })
        .collect()
}

/// The groups and the roles a correct answer at `at` may report: the user's as of any moment
/// from when the client last learnt them to `at` itself (what a fresh token or query says).
/// Roles come with ID tokens, so from the last one delivered before `at`; groups with ID tokens or
/// directory queries (in an overage the ID token carries none), so from the earlier of the last
/// of each. `set_groups` and `set_roles` events in between each add one state.
fn acceptable_at(input: &Input<'_>, at: u64) -> (Vec<BTreeSet<String>>, Vec<BTreeSet<String>>) {
    let last = |f: &dyn Fn(&JournalEntry) -> bool| {
        input
            .client_requests()
            .filter(|e| f(e))
            .map(|e| e.finished_us.unwrap_or(e.arrived_us))
            .filter(|t| *t <= at)
            .max()
    };
    let id_token = last(&|e| e.issued_of(model::TokenKind::Id).is_some()).unwrap_or(at);
    let query = last(&|e| reads_directory(e) && (200..300).contains(&e.status)).unwrap_or(at);
    let states_since = |since: u64| {
        std::iter::once(since)
            .chain(
                input
                    .fired
                    .iter()
                    .map(|f| f.at_us)
                    .filter(|t| *t > since && *t <= at),
            )
            .map(|t| expected_at(input, t))
            .collect::<Vec<_>>()
    };
    let groups = states_since(id_token.min(query))
        .into_iter()
        .map(|(g, _)| g)
        .collect();
    let roles = states_since(id_token).into_iter().map(|(_, r)| r).collect();
    (groups, roles)
}

/// The groups (ids) and roles the user had at `at`, by the scenario and its fired events.
fn expected_at(input: &Input<'_>, at: u64) -> (BTreeSet<String>, BTreeSet<String>) {
    let s = input.scenario;
    let mut n = s.tokens.groups.unwrap_or(0);
    let mut roles: BTreeSet<String> = s.tokens.roles.iter().cloned().collect();
    for f in input.fired.iter().filter(|f| f.at_us <= at) {
        if let Some(ev) = s.events.iter().find(|e| e.name.value == f.name) {
            match ev.action {
                model::scenario::EventAction::SetGroups => n = ev.groups.unwrap_or(0),
                model::scenario::EventAction::SetRoles => {
                    roles = ev.roles.clone().unwrap_or_default().into_iter().collect()
                }
                _ => {}
            }
        }
    }
    let groups = model::directory::group_ids(n).into_iter().collect();
    (groups, roles)
}

fn strings(v: &Value, key: &str) -> BTreeSet<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn group_mismatch(expected: &BTreeSet<String>, got: &BTreeSet<String>) -> Option<String> {
    (expected != got).then(|| {
        let missing = expected.difference(got).count();
        let extra = got.difference(expected).count();
        format!(
            "groups: {} returned of {} ({missing} missing, {extra} unknown)",
            got.len(),
            expected.len()
        )
    })
}

/// `claims.correct`: whoami matches what the IdP issued (name, username, oid, roles, groups).
pub fn correct(input: &Input<'_>) -> Finding {
    if !input.scenario.flow.is_user() {
        return Finding::na("whoami applies to user flows");
    }
    if input.commands("whoami").next().is_none() {
        return Finding::na("whoami was never asked");
    }
    let answers = whoami_answers(input);
    let user = (
        model::directory::NAME,
        model::directory::USERNAME,
        model::directory::OID,
    );
    let mut b = Breaches::default();
    // The guard: efficiency rules cannot be passed by answering nothing.
    for c in input.commands("whoami") {
        let TranscriptEvent::Command { id, step, .. } = &c.event else {
            continue;
        };
        let expect = input
            .scenario
            .steps
            .get(*step)
            .and_then(|s| s.expect)
            .unwrap_or(Expect::Ok);
        if expect == Expect::Ok && !answers.iter().any(|(_, aid, _)| aid == id) {
            let why = input.transcript.iter().find_map(|r| match &r.event {
                TranscriptEvent::Result {
                    id: rid,
                    ok: false,
                    body,
                } if rid == id => Some(
                    body.get("description")
                        .or(body.get("error"))
                        .cloned()
                        .unwrap_or_default()
                        .to_string(),
                ),
                _ => None,
            });
            b.add(
                "no-answer",
                [Evidence {
                    at_us: c.at_us,
                    what: format!(
                        "whoami (command {id}) got no correct answer: {}",
                        why.unwrap_or_else(|| "no answer".into())
                    ),
                    seq: None,
                }],
            );
        }
    }
    for (at, id, body) in answers {
        let mut wrong = Vec::new();
        for (k, want) in [("name", user.0), ("username", user.1), ("oid", user.2)] {
            let got = body.get(k).and_then(Value::as_str).unwrap_or_default();
            if got != want {
                wrong.push(format!("{k}: {got:?}, issued {want:?}"));
            }
        }
        let got_roles = strings(body, "roles");
        let got_groups = strings(body, "groups");
        let (groups_ok, roles_ok) = acceptable_at(input, at);
        // Each as of a moment the answer may speak for; the present state is the one named when
        // none matches.
        let (groups, roles) = expected_at(input, at);
        if !roles_ok.contains(&got_roles) {
            wrong.push(format!("roles: {got_roles:?}, issued {roles:?}"));
        }
        if !groups_ok.contains(&got_groups) {
            if let Some(m) = group_mismatch(&groups, &got_groups) {
                wrong.push(m);
            }
        }
        if !wrong.is_empty() {
            b.add(
                "wrong-claims",
                [Evidence {
                    at_us: at,
                    what: format!("whoami (command {id}) answered {}", wrong.join("; ")),
                    seq: None,
                }],
            );
        }
    }
    b.finding(
        "every whoami matched the issued claims",
        "whoami did not match the claims the IdP issued",
    )
}

/// `claims.groups-overage`: in an overage, whoami returns the full group list with at most one
/// Graph query per sign-in (a query that follows its own pages counts once).
pub fn groups_overage(input: &Input<'_>) -> Finding {
    if input.scenario.tokens.groups.unwrap_or(0) <= 200 {
        return Finding::na("no groups overage");
    }
    let answers = whoami_answers(input);
    if answers.is_empty() {
        return Finding::na("whoami was never answered");
    }
    let mut b = Breaches::default();
    for (at, id, body) in &answers {
        let got = strings(body, "groups");
        if acceptable_at(input, *at).0.contains(&got) {
            continue;
        }
        let (groups, _) = expected_at(input, *at);
        if let Some(m) = group_mismatch(&groups, &got) {
            b.add(
                "wrong-groups",
                [Evidence {
                    at_us: *at,
                    what: format!("whoami (command {id}): {m}"),
                    seq: None,
                }],
            );
        }
    }
    // Queries per sign-in: sign-ins (authorize, or a start of the client) split the run; a
    // directory call right after another of the same path with no whoami between is a page.
    let mut boundaries: Vec<u64> = input
        .client_requests()
        // A silent round trip (prompt=none) is no new sign-in: it earns no extra query.
        .filter(|e| {
            (e.endpoint == Endpoint::Authorize && e.prompt.as_deref() != Some("none"))
                || e.grant_type == Some(GrantType::DeviceCode) && e.status == 200
        })
        .map(|e| e.arrived_us)
        // A new process of the client starts without what the last one knew.
        .chain(super::incarnations(input).into_iter().skip(1))
        .collect();
    boundaries.sort();
    let whoami_starts: Vec<u64> = input.commands("whoami").map(|c| c.at_us).collect();
    // Queries that answered: a failed one (a 503 the client backs off from, then asks again at
    // a later whoami) taught the client nothing.
    let calls: Vec<&JournalEntry> = input
        .client_requests()
        .filter(|e| reads_directory(e) && (200..300).contains(&e.status))
        .collect();
    let segment = |at: u64| boundaries.iter().filter(|b| **b <= at).count();
    let mut queries: Vec<(usize, &JournalEntry)> = Vec::new();
    let mut prev: Option<&JournalEntry> = None;
    for c in calls {
        let continues = prev.is_some_and(|p| {
            p.path == c.path
                && c.path.contains("memberOf")
                && !whoami_starts
                    .iter()
                    .any(|w| *w > p.arrived_us && *w < c.arrived_us)
        });
        if !continues {
            queries.push((segment(c.arrived_us), c));
        }
        prev = Some(c);
    }
    let mut per: std::collections::BTreeMap<usize, Vec<&JournalEntry>> = Default::default();
    for (seg, c) in queries {
        per.entry(seg).or_default().push(c);
    }
    for calls in per.values().filter(|v| v.len() > 1) {
        b.add(
            "extra-queries",
            calls
                .iter()
                .map(|c| about(c, format!("directory query {} {}", describe(c), c.path))),
        );
    }
    b.finding(
        "the full group list, at most one Graph query per sign-in",
        "the overage was not resolved correctly and economically",
    )
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use model::transcript::{TranscriptEntry, TranscriptEvent};
    use model::verdict::Status;
    use model::Endpoint;

    fn user_scenario(rule: &str, extra: &str) -> model::scenario::Scenario {
        let text = format!("name: t\nsummary: t\nflow: auth_code\nfeatures: [whoami]\nrules: [{rule}]\nsteps: [{{whoami: {{}}}}]\n{extra}");
        serde_saphyr::from_str(&text).unwrap()
    }
    fn whoami() -> Vec<TranscriptEntry> {
        vec![TranscriptEntry {
            at_us: 1,
            event: TranscriptEvent::Command {
                id: 1,
                op: "whoami".into(),
                args: serde_json::Value::Null,
                step: 0,
                deadline_ms: 1000,
            },
        }]
    }
    fn status(
        s: &model::scenario::Scenario,
        rule: &str,
        j: &[model::JournalEntry],
        t: &[TranscriptEntry],
    ) -> Status {
        judged(rule, s, j, t, &[], &[]).0
    }

    #[test]
    fn forced_prompts() {
        let s = user_scenario("silent.no-forced-prompt", "");
        let mut a = entry(1, 1.0, Endpoint::Authorize, 302);
        assert_eq!(
            status(&s, "silent.no-forced-prompt", std::slice::from_ref(&a), &[]),
            Status::Pass
        );
        a.prompt = Some("login".into());
        assert_eq!(
            status(&s, "silent.no-forced-prompt", &[a], &[]),
            Status::Fail
        );
        assert_eq!(
            status(&s, "silent.no-forced-prompt", &[], &[]),
            Status::NotApplicable
        );
    }

    #[test]
    fn userinfo_and_directory_calls() {
        let s = user_scenario("claims.id-token-over-userinfo", "");
        assert_eq!(
            status(&s, "claims.id-token-over-userinfo", &[], &whoami()),
            Status::Pass
        );
        assert_eq!(
            status(
                &s,
                "claims.id-token-over-userinfo",
                &[entry(1, 1.0, Endpoint::Userinfo, 200)],
                &whoami()
            ),
            Status::Fail
        );
        assert_eq!(
            status(&s, "claims.id-token-over-userinfo", &[], &[]),
            Status::NotApplicable
        );

        let s = user_scenario("claims.roles-in-token", "");
        let mut g = entry(1, 1.0, Endpoint::Graph, 200);
        g.path = "/graph/v1.0/me/memberOf".into();
        assert_eq!(
            status(&s, "claims.roles-in-token", &[g.clone()], &whoami()),
            Status::Fail
        );
        let mut me = g.clone();
        me.path = "/graph/v1.0/me".into();
        assert_eq!(
            status(&s, "claims.roles-in-token", &[me], &whoami()),
            Status::Pass
        );
        let over = user_scenario("claims.roles-in-token", "tokens: { groups: 250 }\n");
        assert_eq!(
            status(&over, "claims.roles-in-token", &[g], &whoami()),
            Status::NotApplicable
        );
    }

    #[test]
    fn cae_capability() {
        let s = scenario("[cae.capable]", "");
        let mut t = entry(1, 1.0, Endpoint::Token, 200);
        assert_eq!(
            status(&s, "cae.capable", std::slice::from_ref(&t), &[]),
            Status::Fail
        );
        t.client_capabilities = vec!["cp1".into()];
        assert_eq!(
            status(&s, "cae.capable", std::slice::from_ref(&t), &[]),
            Status::Pass
        );
        // As MSAL.js writes it: Entra reads capabilities case-insensitively.
        t.client_capabilities = vec!["CP1".into()];
        assert_eq!(
            status(&s, "cae.capable", std::slice::from_ref(&t), &[]),
            Status::Pass
        );
        // A managed identity can't declare it: not judged.
        t.client_capabilities = vec![];
        t.grant_type = Some(model::GrantType::ManagedIdentity);
        assert_eq!(status(&s, "cae.capable", &[t], &[]), Status::NotApplicable);
        assert_eq!(status(&s, "cae.capable", &[], &[]), Status::NotApplicable);
    }

    fn browse(at: f64, url: &str, outcome: &str) -> TranscriptEntry {
        TranscriptEntry {
            at_us: (at * 1e6) as u64,
            event: TranscriptEvent::Browse {
                id: 1,
                url: url.into(),
                outcome: outcome.into(),
            },
        }
    }

    #[test]
    fn forced_prompts_are_judged_from_what_the_client_asked_the_browser() {
        let s = user_scenario("silent.no-forced-prompt", "");
        let base = "https://127.0.0.1:1/t/oauth2/v2.0/authorize?client_id=c&scope=openid";
        // The user cancelled: nothing reached the mock, the asked-for prompt still counts.
        let t = [browse(1.0, &format!("{base}&prompt=login"), "cancelled")];
        let (st, ev) = judged("silent.no-forced-prompt", &s, &[], &t, &[], &[]);
        assert_eq!(st, Status::Fail);
        assert!(ev[0].contains("prompt=login"), "{ev:?}");
        let t = [browse(1.0, &format!("{base}&max_age=0"), "cancelled")];
        assert_eq!(
            judged("silent.no-forced-prompt", &s, &[], &t, &[], &[]).0,
            Status::Fail
        );
        // select_account on a first sign-in (nothing held): MSAL.NET's default, not forced.
        let t = [browse(
            1.0,
            &format!("{base}&prompt=select_account"),
            "cancelled",
        )];
        assert_eq!(
            judged("silent.no-forced-prompt", &s, &[], &t, &[], &[]).0,
            Status::Pass
        );
        // The same sign-in in the journal and the transcript is judged once.
        let mut a = entry(1, 1.2, Endpoint::Authorize, 302);
        a.prompt = Some("consent".into());
        let t = [browse(1.0, &format!("{base}&prompt=consent"), "ok")];
        let (st, ev) = judged("silent.no-forced-prompt", &s, &[a], &t, &[], &[]);
        assert_eq!(st, Status::Fail);
        assert_eq!(ev.len(), 1, "{ev:?}");
    }
}

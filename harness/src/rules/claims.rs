//! Rules about what the client asks for beyond tokens: forced prompts, UserInfo, directory
//! calls, and the CAE capability.

use super::{about, describe, Breaches, Finding, Input};
use model::verdict::Evidence;
use model::Endpoint;

/// A sign-in the client asked for: from the journal (it reached the mock) or from a `browse`
/// the client asked the harness for (it may never reach the mock when the user cancels).
struct SignIn {
    at_us: u64,
    seq: Option<u64>,
    prompt: Option<String>,
    max_age: Option<String>,
    what: String,
}

fn sign_ins(input: &Input<'_>) -> Vec<SignIn> {
    let mut out: Vec<SignIn> = input
        .client_requests()
        .filter(|e| e.endpoint == Endpoint::Authorize)
        .map(|e| SignIn {
            at_us: e.arrived_us,
            seq: Some(e.seq),
            prompt: e.prompt.clone(),
            max_age: None,
            what: describe(e),
        })
        .collect();
    for t in input.transcript {
        let model::transcript::TranscriptEvent::Browse { id, url, outcome } = &t.event else {
            continue;
        };
        let query = url.split_once('?').map_or("", |(_, q)| q);
        let query = query.split('#').next().unwrap_or_default();
        let q = |k: &str| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
        };
        let (prompt, max_age) = (q("prompt"), q("max_age"));
        // The same sign-in reached the mock: judge the browse for what only it shows.
        if let Some(j) = out
            .iter_mut()
            .filter(|s| s.seq.is_some() && s.prompt == prompt && s.max_age.is_none())
            .find(|s| {
                s.at_us >= t.at_us.saturating_sub(1_000_000) && s.at_us <= t.at_us + 10_000_000
            })
        {
            j.max_age = max_age;
            continue;
        }
        out.push(SignIn {
            at_us: t.at_us,
            seq: None,
            prompt,
            max_age,
            what: format!("browse for command {id} (the browser ended: {outcome})"),
        });
    }
    out.sort_by_key(|s| s.at_us);
    out
}

/// `silent.no-forced-prompt`: no `prompt=login`, `prompt=consent` or `max_age=0`;
/// `select_account` only on a sign-in that was needed anyway (no usable refresh token held:
/// MSAL.NET's default prompt).
pub fn no_forced_prompt(input: &Input<'_>) -> Finding {
    let all = sign_ins(input);
    if all.is_empty() {
        return Finding::na("the client never signed a user in");
    }
    let mut b = Breaches::default();
    for s in &all {
        let ev = |why: String| Evidence {
            at_us: s.at_us,
            what: format!("{}: {why}", s.what),
            seq: s.seq,
        };
        match s.prompt.as_deref() {
            Some(p @ ("login" | "consent")) => b.add("forced-prompt", [ev(format!("prompt={p}"))]),
            Some("select_account") if super::silent::honourable_rt(input, s.at_us).is_some() => b
                .add(
                    "unneeded-select-account",
                    [ev(
                        "prompt=select_account while the client held a usable refresh token"
                            .to_string(),
                    )],
                ),
            _ => {}
        }
        if s.max_age.as_deref() == Some("0") {
            b.add("forced-reauthentication", [ev("max_age=0".to_string())]);
        }
    }
    b.finding("no sign-in forced a prompt", "the client forced a prompt")
}

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

/// `cae.capable`: every token request declares the `cp1` capability.
pub fn cae_capable(input: &Input<'_>) -> Finding {
    let reqs: Vec<_> = input
        .client_requests()
        .filter(|e| e.endpoint == Endpoint::Token)
        .collect();
    if reqs.is_empty() {
        return Finding::na("the client made no token request");
    }
    let missing: Vec<_> = reqs
        .iter()
        .filter(|e| !e.client_capabilities.iter().any(|c| c == "cp1"))
        .map(|e| about(e, format!("{} without xms_cc cp1 in `claims`", describe(e))))
        .collect();
    if missing.is_empty() {
        Finding::pass("every token request declared cp1")
    } else {
        Finding::fail(
            "no-cp1",
            "the client did not declare the cp1 capability, so it gets no long-lived CAE tokens",
            missing,
        )
    }
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
        assert_eq!(status(&s, "cae.capable", &[t], &[]), Status::Pass);
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

//! Rules about what the app gets and how it uses the resource: correct claims, groups
//! overage, CAE claims challenges, opaque tokens, single-flight acquisition, device-code
//! polling.

use super::claims::reads_directory;
use super::{about, describe, Breaches, Finding, Input};
use model::scenario::Expect;
use model::transcript::TranscriptEvent;
use model::verdict::{secs, Evidence};
use model::{Endpoint, GrantType, JournalEntry};
use serde_json::Value;
use std::collections::BTreeSet;

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
        let (groups, roles) = expected_at(input, at);
        let mut wrong = Vec::new();
        for (k, want) in [("name", user.0), ("username", user.1), ("oid", user.2)] {
            let got = body.get(k).and_then(Value::as_str).unwrap_or_default();
            if got != want {
                wrong.push(format!("{k}: {got:?}, issued {want:?}"));
            }
        }
        let got_roles = strings(body, "roles");
        if got_roles != roles {
            wrong.push(format!("roles: {got_roles:?}, issued {roles:?}"));
        }
        if let Some(m) = group_mismatch(&groups, &strings(body, "groups")) {
            wrong.push(m);
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
        let (groups, _) = expected_at(input, *at);
        if let Some(m) = group_mismatch(&groups, &strings(body, "groups")) {
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
        .collect();
    boundaries.sort();
    let whoami_starts: Vec<u64> = input.commands("whoami").map(|c| c.at_us).collect();
    let calls: Vec<&JournalEntry> = input
        .client_requests()
        .filter(|e| reads_directory(e))
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

/// The claims a challenge asks for: `claims="<base64 JSON>"` in `WWW-Authenticate`.
fn challenge_claims(e: &JournalEntry) -> Option<Value> {
    use base64::Engine as _;
    let h = e.response_header("www-authenticate")?;
    let i = h.find("claims=\"")? + 8;
    let b64 = h[i..].split('"').next()?;
    let t = b64.trim_end_matches('=');
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(t)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Whether a request carries `wanted`: every member of each of its objects (`access_token`,
/// `id_token`), with the same value; other members (`xms_cc`) may be merged in.
fn carries(e: &JournalEntry, wanted: &Value) -> bool {
    let Some(sent) = e.claims.as_ref() else {
        return false;
    };
    let sent = match sent {
        // Claims journaled as text (not JSON): read them.
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
        v => v.clone(),
    };
    let Some(w) = wanted.as_object() else {
        return false;
    };
    w.iter().all(|(part, members)| match members.as_object() {
        Some(m) => m
            .iter()
            .all(|(k, v)| sent.get(part).and_then(|p| p.get(k)) == Some(v)),
        None => sent.get(part) == Some(members),
    })
}

/// What the client must carry after `c`: the challenge's own claims, or (when they can't be
/// read) anything beyond the capabilities.
fn carries_challenge(e: &JournalEntry, wanted: Option<&Value>) -> bool {
    match wanted {
        Some(w) => carries(e, w),
        None => e
            .claims
            .as_ref()
            .and_then(|x| x.get("access_token"))
            .and_then(Value::as_object)
            .is_some_and(|a| a.keys().any(|k| k != "xms_cc")),
    }
}

/// The claims an `interaction_required` refusal asked the client to carry into its sign-in:
/// those of the scenario fault that scripted it (or imposed the step-up the refusal enforces).
fn refusal_claims(input: &Input<'_>, refusal: &JournalEntry) -> Option<Value> {
    let faults = &input.scenario.faults;
    let by_label = refusal.fault.as_deref().and_then(|label| {
        faults.iter().enumerate().find_map(|(i, f)| {
            let l = f
                .value
                .name
                .clone()
                .unwrap_or_else(|| format!("fault-{}", i + 1));
            (l == label).then_some(&f.value)
        })
    });
    let f = by_label.or_else(|| {
        faults
            .iter()
            .map(|f| &f.value)
            .find(|f| f.respond.error.as_deref() == Some("interaction_required"))
    })?;
    serde_json::from_str(f.respond.claims.as_deref()?).ok()
}

fn is_challenge(e: &JournalEntry) -> bool {
    e.status == 401
        && e.response_header("www-authenticate")
            .is_some_and(|w| w.contains("insufficient_claims"))
}

/// `cae.claims-challenge`: after an `insufficient_claims` challenge, a token request (or an
/// interactive sign-in) carrying the challenge's claims before the next call, the rejected token
/// never presented again, at most one retry per challenge, and, when the identity provider
/// answers `interaction_required`, an interactive sign-in carrying the claims it asked for.
pub fn claims_challenge(input: &Input<'_>) -> Finding {
    let reqs: Vec<&JournalEntry> = input.client_requests().collect();
    let challenges: Vec<&&JournalEntry> = reqs.iter().filter(|e| is_challenge(e)).collect();
    if challenges.is_empty() {
        return Finding::na("the resource never challenged");
    }
    let mut b = Breaches::default();
    for c in &challenges {
        let wanted = challenge_claims(c);
        let rejected = c.presented.as_ref().map(|p| p.fingerprint.clone());
        let after: Vec<&&JournalEntry> = reqs
            .iter()
            .filter(|e| e.arrived_us > c.arrived_us)
            .collect();
        if let Some(fp) = &rejected {
            if let Some(again) = after.iter().find(|e| {
                e.endpoint == Endpoint::Graph
                    && e.presented.as_ref().is_some_and(|p| &p.fingerprint == fp)
            }) {
                b.add(
                    "rejected-token-reused",
                    [
                        about(c, format!("challenge at {}", secs(c.arrived_us))),
                        about(
                            again,
                            format!(
                                "the rejected token presented again at {}",
                                secs(again.arrived_us)
                            ),
                        ),
                    ],
                );
            }
        }
        let next_call = after.iter().find(|e| e.endpoint == Endpoint::Graph);
        let claims_request = after.iter().find(|e| {
            matches!(e.endpoint, Endpoint::Token | Endpoint::Authorize)
                && carries_challenge(e, wanted.as_ref())
        });
        let asked = wanted
            .as_ref()
            .map_or_else(|| "its claims".to_string(), Value::to_string);
        match (next_call, claims_request) {
            (Some(n), Some(t)) if t.arrived_us > n.arrived_us => b.add(
                "retried-before-claims",
                [about(
                    n,
                    format!(
                        "the call was retried at {} before a token with the challenge's claims ({asked})",
                        secs(n.arrived_us)
                    ),
                )],
            ),
            (Some(n), None) => b.add(
                "retried-without-claims",
                [about(
                    n,
                    format!(
                        "the call was retried at {} without asking for a token with the challenge's claims ({asked})",
                        secs(n.arrived_us)
                    ),
                )],
            ),
            _ => {}
        }
        // At most one retry per challenge: Graph calls after it, up to the next call_api command.
        let next_command = input
            .commands("call_api")
            .map(|e| e.at_us)
            .find(|t| *t > c.arrived_us)
            .unwrap_or(u64::MAX);
        let retries = after
            .iter()
            .filter(|e| e.endpoint == Endpoint::Graph && e.arrived_us < next_command)
            .count();
        if retries > 1 {
            b.add(
                "several-retries",
                [about(
                    c,
                    format!(
                        "challenge at {}, then {retries} calls before the app asked again",
                        secs(c.arrived_us)
                    ),
                )],
            );
        }
        // interaction_required: an interactive sign-in must follow, carrying the claims the
        // refusal asked for.
        let refusal = after.iter().find(|e| {
            matches!(e.endpoint, Endpoint::Token | Endpoint::Authorize)
                && e.error.as_deref() == Some("interaction_required")
        });
        if let Some(t) = refusal {
            let interactive: Vec<&&&JournalEntry> = after
                .iter()
                .filter(|e| {
                    e.endpoint == Endpoint::Authorize
                        && e.arrived_us > t.arrived_us
                        && e.prompt.as_deref() != Some("none")
                })
                .collect();
            let owed = refusal_claims(input, t);
            match interactive.first() {
                None => b.add(
                    "no-interaction",
                    [about(
                        t,
                        format!(
                            "{} answered interaction_required; no interactive sign-in followed",
                            describe(t)
                        ),
                    )],
                ),
                Some(a) => {
                    if let Some(w) = &owed {
                        if !carries(a, w) {
                            b.add(
                                "dropped-claims-on-fallback",
                                [
                                    about(
                                        t,
                                        format!(
                                            "{} answered interaction_required, asking for the claims {w}",
                                            describe(t)
                                        ),
                                    ),
                                    about(
                                        a,
                                        format!(
                                            "the interactive sign-in at {} carried {} instead",
                                            secs(a.arrived_us),
                                            a.claims
                                                .as_ref()
                                                .map_or_else(|| "no claims".to_string(), Value::to_string)
                                        ),
                                    ),
                                ],
                            );
                        }
                    }
                }
            }
        }
    }
    b.finding(
        format!(
            "every challenge ({}) was answered with its claims and one retry",
            challenges.len()
        ),
        "the client mishandled a CAE claims challenge",
    )
}

/// `tokens.opaque`: everything works when the API's access token is opaque.
pub fn opaque(input: &Input<'_>) -> Finding {
    let opaque = input.client_requests().any(|e| {
        e.issued
            .iter()
            .any(|t| t.opaque && t.kind == model::TokenKind::Access)
    });
    if !opaque {
        return Finding::na("no opaque access token was issued");
    }
    let mut ev = Vec::new();
    for c in input.transcript {
        let TranscriptEvent::Command { id, op, step, .. } = &c.event else {
            continue;
        };
        if !matches!(op.as_str(), "acquire_token" | "call_api" | "whoami") {
            continue;
        }
        let expect = input
            .scenario
            .steps
            .get(*step)
            .and_then(|s| s.expect)
            .unwrap_or(Expect::Ok);
        if expect != Expect::Ok {
            continue;
        }
        let failed = input.transcript.iter().find_map(|r| match &r.event {
            TranscriptEvent::Result {
                id: rid,
                ok: false,
                body,
            } if rid == id => Some((r.at_us, body)),
            _ => None,
        });
        if let Some((at, body)) = failed {
            ev.push(Evidence {
                at_us: at,
                what: format!(
                    "{op} (command {id}) failed with an opaque token: {}",
                    body.get("description")
                        .or(body.get("error"))
                        .cloned()
                        .unwrap_or_default()
                ),
                seq: None,
            });
        }
    }
    if ev.is_empty() {
        Finding::pass("the app worked with an opaque access token")
    } else {
        Finding::fail(
            "failed-with-opaque-token",
            "the client broke on an opaque access token (did it decode it?)",
            ev,
        )
    }
}

/// `concurrency.single-flight`: N concurrent `acquire_token` commands lead to at most one
/// token request.
pub fn single_flight(input: &Input<'_>) -> Finding {
    let cmds: Vec<(u64, usize, u64)> = input
        .transcript
        .iter()
        .filter_map(|e| match &e.event {
            TranscriptEvent::Command { id, op, step, .. } if op == "acquire_token" => {
                Some((e.at_us, *step, *id))
            }
            _ => None,
        })
        .collect();
    let mut batches: Vec<Vec<(u64, usize, u64)>> = Vec::new();
    for c in cmds {
        match batches.last_mut() {
            Some(b) if b[0].1 == c.1 && c.0 - b[0].0 < 50_000 => b.push(c),
            _ => batches.push(vec![c]),
        }
    }
    let batches: Vec<_> = batches.into_iter().filter(|b| b.len() > 1).collect();
    if batches.is_empty() {
        return Finding::na("no concurrent token requests were asked for");
    }
    let mut ev = Vec::new();
    for b in &batches {
        let start = b[0].0;
        let ids: Vec<u64> = b.iter().map(|c| c.2).collect();
        let end = input
            .transcript
            .iter()
            .filter_map(|e| match &e.event {
                TranscriptEvent::Result { id, .. } if ids.contains(id) => Some(e.at_us),
                _ => None,
            })
            .max()
            .unwrap_or(start);
        let reqs: Vec<&JournalEntry> = input
            .client_requests()
            .filter(|e| {
                e.endpoint == Endpoint::Token && e.arrived_us >= start && e.arrived_us <= end
            })
            .collect();
        // Several requests in flight at once: each arrived before an earlier one's answer
        // was sent. Requests one after another (each after the previous answer) are not a
        // single-flight matter: a client that found the renewed token unusable asks again,
        // and cache.reuse judges whether it should have.
        let mut overlapping: Vec<&JournalEntry> = Vec::new();
        let mut open_until = 0u64;
        for (i, r) in reqs.iter().enumerate() {
            if i > 0 && r.arrived_us < open_until {
                if overlapping.is_empty() {
                    overlapping.push(reqs[i - 1]);
                }
                overlapping.push(r);
            }
            open_until = open_until.max(r.finished_us.unwrap_or(r.arrived_us));
        }
        if !overlapping.is_empty() {
            ev.push(Evidence {
                at_us: start,
                what: format!(
                    "{} concurrent acquire_token commands at {}: {} token requests in flight at once",
                    b.len(),
                    secs(start),
                    overlapping.len()
                ),
                seq: None,
            });
            for r in overlapping {
                ev.push(about(r, describe(r)));
            }
        }
    }
    if ev.is_empty() {
        Finding::pass("concurrent needs shared one token request")
    } else {
        Finding::fail(
            "several-requests",
            "concurrent needs led to several token requests",
            ev,
        )
    }
}

/// The polling interval in force after these polls (the base, plus 5 s per `slow_down`).
fn interval_after(polls: &[&&JournalEntry], base: u64) -> u64 {
    base + 5 * polls
        .iter()
        .filter(|p| p.error.as_deref() == Some("slow_down"))
        .count() as u64
}

/// `device.polling`: polls keep the interval, add 5 s after `slow_down`, and stop after
/// `expired_token`, `access_denied` or success.
pub fn device_polling(input: &Input<'_>) -> Finding {
    let base = input
        .scenario
        .tokens
        .device_interval
        .map_or(5, |d| d.secs_ceil().max(1));
    let polls: Vec<&JournalEntry> = input
        .client_requests()
        .filter(|e| e.endpoint == Endpoint::Token && e.grant_type == Some(GrantType::DeviceCode))
        .collect();
    if polls.is_empty() {
        return Finding::na("the client never polled for a device code");
    }
    let tol = input.tolerance_us("device.polling");
    let mut codes: Vec<&model::Fingerprint> = polls
        .iter()
        .filter_map(|p| p.presented.as_ref().map(|x| &x.fingerprint))
        .collect();
    codes.sort();
    codes.dedup();
    let mut b = Breaches::default();
    for code in codes {
        let mine: Vec<&&JournalEntry> = polls
            .iter()
            .filter(|p| p.presented.as_ref().is_some_and(|x| &x.fingerprint == code))
            .collect();
        // Giving up while the grant is still pending: the app gets no token although the user
        // may still be signing in (RFC 8628: on slow_down, keep polling, 5 s slower).
        if let Some(last) = mine.last() {
            if matches!(
                last.error.as_deref(),
                Some("slow_down" | "authorization_pending")
            ) {
                let gave_up = input.transcript.iter().find_map(|e| match &e.event {
                    TranscriptEvent::Result { id, ok: false, .. }
                        if e.at_us > last.arrived_us
                            && super::op_of(input, *id) == Some("acquire_token") =>
                    {
                        Some((e.at_us, *id))
                    }
                    _ => None,
                });
                // A client may stop once the code has expired (or would have by its next
                // poll): the devicecode answer's expires_in, from when it was asked.
                let lifetime_us = input
                    .scenario
                    .tokens
                    .device_code_lifetime
                    .map_or(900_000_000, |d| d.0.as_micros() as u64);
                let started = input
                    .client_requests()
                    .filter(|e| {
                        e.endpoint == Endpoint::Devicecode && e.arrived_us <= last.arrived_us
                    })
                    .map(|e| e.arrived_us)
                    .last()
                    .unwrap_or(0);
                let expired_by_next_poll = |at: u64| {
                    at + (interval_after(&mine, base) * 1_000_000) >= started + lifetime_us
                };
                if let Some((at, id)) = gave_up.filter(|(at, _)| !expired_by_next_poll(*at)) {
                    b.add(
                        "stopped-while-pending",
                        [
                            about(
                                last,
                                format!(
                                    "{} answered {}: the grant is still pending",
                                    describe(last),
                                    last.error.as_deref().unwrap_or_default()
                                ),
                            ),
                            Evidence {
                                at_us: at,
                                what: format!(
                                    "acquire_token (command {id}) failed at {} with no further poll",
                                    secs(at)
                                ),
                                seq: None,
                            },
                        ],
                    );
                }
            }
        }
        let mut interval = base;
        for w in mine.windows(2) {
            let (a, next) = (w[0], w[1]);
            if a.error.as_deref() == Some("slow_down") {
                interval += 5;
            }
            if a.status == 200
                || matches!(
                    a.error.as_deref(),
                    Some("expired_token" | "access_denied" | "authorization_declined")
                )
            {
                b.add(
                    "poll-after-end",
                    [about(
                        next,
                        format!(
                            "polled again at {} after {} ({})",
                            secs(next.arrived_us),
                            describe(a),
                            a.error.as_deref().unwrap_or("tokens issued")
                        ),
                    )],
                );
                break;
            }
            let gap = next.arrived_us.saturating_sub(a.arrived_us);
            let need = (interval * 1_000_000) as f64 * 0.9;
            if (gap + tol) as f64 + 0.0 < need {
                b.add(
                    "poll-too-fast",
                    [
                        about(a, describe(a)),
                        about(
                            next,
                            format!(
                                "next poll {:.1} s later; the interval is {interval} s",
                                gap as f64 / 1e6
                            ),
                        ),
                    ],
                );
            }
        }
    }
    b.finding(
        "device-code polling kept its interval and stopped when told",
        "device-code polling broke RFC 8628",
    )
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use model::transcript::{TranscriptEntry, TranscriptEvent};
    use model::verdict::Status;
    use model::{Endpoint, GrantType, PresentedToken, TokenKind};
    use serde_json::json;

    fn user(rule: &str, extra: &str) -> model::scenario::Scenario {
        serde_saphyr::from_str(&format!("name: t\nsummary: t\nflow: auth_code\nfeatures: [whoami, call_api, cae]\nrules: [{rule}]\nsteps: [{{whoami: {{}}}}]\n{extra}")).unwrap()
    }
    fn cmd(at: f64, id: u64, op: &str) -> TranscriptEntry {
        TranscriptEntry {
            at_us: (at * 1e6) as u64,
            event: TranscriptEvent::Command {
                id,
                op: op.into(),
                args: serde_json::Value::Null,
                step: 0,
                deadline_ms: 1000,
            },
        }
    }
    fn res(at: f64, id: u64, ok: bool, body: serde_json::Value) -> TranscriptEntry {
        TranscriptEntry {
            at_us: (at * 1e6) as u64,
            event: TranscriptEvent::Result { id, ok, body },
        }
    }
    fn status(
        s: &model::scenario::Scenario,
        rule: &str,
        j: &[model::JournalEntry],
        t: &[TranscriptEntry],
    ) -> Status {
        judged(rule, s, j, t, &[], &[]).0
    }
    fn me() -> serde_json::Value {
        let u = mock_idp::config::UserConfig::default();
        json!({"ok": true, "name": u.name, "username": u.username, "oid": u.oid, "roles": ["Reader"], "groups": []})
    }

    #[test]
    fn claims_correct_and_overage() {
        let s = user("claims.correct", "tokens: { roles: [Reader] }\n");
        assert_eq!(
            status(
                &s,
                "claims.correct",
                &[],
                &[cmd(1.0, 1, "whoami"), res(1.1, 1, true, me())]
            ),
            Status::Pass
        );
        let mut wrong = me();
        wrong["roles"] = json!([]);
        assert_eq!(
            status(
                &s,
                "claims.correct",
                &[],
                &[cmd(1.0, 1, "whoami"), res(1.1, 1, true, wrong)]
            ),
            Status::Fail
        );
        assert_eq!(
            status(&s, "claims.correct", &[], &[]),
            Status::NotApplicable
        );

        let s = user("claims.groups-overage", "tokens: { groups: 250 }\n");
        let all: Vec<String> = mock_idp::scenario::groups(250)
            .into_iter()
            .map(|g| g.id)
            .collect();
        let mut full = me();
        full["groups"] = json!(all);
        let mut call = entry(1, 1.05, Endpoint::Graph, 200);
        call.path = "/graph/v1.0/users/x/getMemberObjects".into();
        let t = [cmd(1.0, 1, "whoami"), res(1.1, 1, true, full.clone())];
        assert_eq!(
            status(&s, "claims.groups-overage", std::slice::from_ref(&call), &t),
            Status::Pass
        );
        let mut again = call.clone();
        again.seq = 2;
        again.arrived_us = 1_070_000;
        assert_eq!(
            status(&s, "claims.groups-overage", &[call.clone(), again], &t),
            Status::Fail,
            "two queries in one sign-in"
        );
        let mut partial = me();
        partial["groups"] = json!(all[..100].to_vec());
        assert_eq!(
            status(
                &s,
                "claims.groups-overage",
                &[call],
                &[cmd(1.0, 1, "whoami"), res(1.1, 1, true, partial)]
            ),
            Status::Fail
        );
        assert_eq!(
            status(
                &user("claims.groups-overage", ""),
                "claims.groups-overage",
                &[],
                &t
            ),
            Status::NotApplicable
        );
    }

    #[test]
    fn cae_challenge_handling() {
        let s = user("cae.claims-challenge", "");
        let fp = model::Fingerprint::of("old");
        let mut ch = with_header(
            entry(1, 1.0, Endpoint::Graph, 401),
            "www-authenticate",
            "Bearer error=\"insufficient_claims\", claims=\"e30=\"",
        );
        ch.presented = Some(PresentedToken {
            kind: TokenKind::Access,
            fingerprint: fp.clone(),
            uti: None,
        });
        let mut tok = entry(2, 1.1, Endpoint::Token, 200);
        tok.claims = Some(
            json!({"access_token": {"nbf": {"essential": true, "value": "1"}, "xms_cc": {"values": ["cp1"]}}}),
        );
        let mut retry = entry(3, 1.2, Endpoint::Graph, 200);
        retry.presented = Some(PresentedToken {
            kind: TokenKind::Access,
            fingerprint: model::Fingerprint::of("new"),
            uti: None,
        });
        let t = [cmd(0.9, 1, "call_api")];
        assert_eq!(
            status(
                &s,
                "cae.claims-challenge",
                &[ch.clone(), tok.clone(), retry.clone()],
                &t
            ),
            Status::Pass
        );
        // Retried with the rejected token, without new claims: fail.
        let mut same = retry.clone();
        same.presented = Some(PresentedToken {
            kind: TokenKind::Access,
            fingerprint: fp,
            uti: None,
        });
        assert_eq!(
            status(&s, "cae.claims-challenge", &[ch.clone(), same], &t),
            Status::Fail
        );
        assert_eq!(
            status(&s, "cae.claims-challenge", &[retry], &t),
            Status::NotApplicable
        );
    }

    #[test]
    fn cae_challenges_are_judged_by_their_own_claims_and_the_fallback_must_carry_them() {
        use base64::Engine as _;
        let acrs = json!({"access_token": {"acrs": {"essential": true, "value": "c1"}}});
        let b64 = base64::engine::general_purpose::STANDARD.encode(acrs.to_string());
        let ch = with_header(
            entry(1, 1.0, Endpoint::Graph, 401),
            "www-authenticate",
            &format!("Bearer error=\"insufficient_claims\", claims=\"{b64}\""),
        );
        let retry = entry(3, 1.2, Endpoint::Graph, 200);
        let t = [cmd(0.9, 1, "call_api")];
        let s = user("cae.claims-challenge", "");
        // A token request with other claims (a generic nbf) does not answer an acrs challenge.
        let mut nbf = entry(2, 1.1, Endpoint::Token, 200);
        nbf.claims = Some(json!({"access_token": {"nbf": {"essential": true, "value": "1"}}}));
        let (st, ev) = judged(
            "cae.claims-challenge",
            &s,
            &[ch.clone(), nbf, retry.clone()],
            &t,
            &[],
            &[],
        );
        assert_eq!(st, Status::Fail);
        assert!(ev.iter().any(|e| e.contains("acrs")), "{ev:?}");
        let mut good = entry(2, 1.1, Endpoint::Token, 200);
        good.claims = Some(
            json!({"access_token": {"acrs": {"essential": true, "value": "c1"}, "xms_cc": {"values": ["cp1"]}}}),
        );
        assert_eq!(
            status(
                &s,
                "cae.claims-challenge",
                &[ch.clone(), good.clone(), retry.clone()],
                &t
            ),
            Status::Pass
        );
        // interaction_required asks for MFA claims: the interactive sign-in must carry them.
        let s = user(
            "cae.claims-challenge",
            "faults:\n  - { name: mfa, endpoint: token, grant: refresh_token, respond: { error: interaction_required, claims: '{\"access_token\":{\"capolids\":{\"essential\":true,\"values\":[\"p1\"]}}}' } }\n",
        );
        let mut refused = good.clone();
        refused.status = 400;
        refused.issued.clear();
        refused.error = Some("interaction_required".into());
        refused.fault = Some("mfa".into());
        let mut dropped = entry(4, 1.3, Endpoint::Authorize, 302);
        dropped.prompt = Some("select_account".into());
        let (st, ev) = judged(
            "cae.claims-challenge",
            &s,
            &[ch.clone(), refused.clone(), dropped.clone()],
            &t,
            &[],
            &[],
        );
        assert_eq!(st, Status::Fail);
        assert!(ev.iter().any(|e| e.contains("capolids")), "{ev:?}");
        let mut carried = dropped;
        carried.claims = Some(
            json!({"access_token": {"capolids": {"essential": true, "values": ["p1"]}, "acrs": {"essential": true, "value": "c1"}}}),
        );
        assert_eq!(
            status(&s, "cae.claims-challenge", &[ch, refused, carried], &t),
            Status::Pass
        );
    }

    #[test]
    fn giving_up_on_slow_down_breaks_polling() {
        let s = user("device.polling", "tokens: { device_interval: 2s }\n");
        let poll = |seq: u64, at: f64, error: &str| {
            let mut p = entry(seq, at, Endpoint::Token, 400);
            p.grant_type = Some(GrantType::DeviceCode);
            p.error = Some(error.into());
            p.presented = Some(PresentedToken {
                kind: TokenKind::Code,
                fingerprint: model::Fingerprint::of("device-code"),
                uti: None,
            });
            p
        };
        let j = [
            poll(1, 1.0, "authorization_pending"),
            poll(2, 3.0, "slow_down"),
        ];
        let t = [
            cmd(0.5, 1, "acquire_token"),
            res(3.1, 1, false, json!({"error": "slow_down"})),
        ];
        let (st, ev) = judged("device.polling", &s, &j, &t, &[], &[]);
        assert_eq!(st, Status::Fail);
        assert!(ev[0].contains("slow_down"), "{ev:?}");
        // Polling on, 5 s slower, until the user approves: pass.
        let mut done = entry(3, 10.1, Endpoint::Token, 200);
        done.grant_type = Some(GrantType::DeviceCode);
        done.presented = j[0].presented.clone();
        let t = [cmd(0.5, 1, "acquire_token"), res(10.2, 1, true, json!({}))];
        assert_eq!(
            status(
                &s,
                "device.polling",
                &[j[0].clone(), j[1].clone(), done],
                &t
            ),
            Status::Pass
        );
    }

    #[test]
    fn opaque_single_flight_and_device_polling() {
        let s = user("tokens.opaque", "");
        let mut tok = entry(1, 1.0, Endpoint::Token, 200);
        tok.issued[0].opaque = true;
        assert_eq!(
            status(
                &s,
                "tokens.opaque",
                std::slice::from_ref(&tok),
                &[cmd(1.0, 1, "call_api"), res(1.2, 1, true, json!({}))]
            ),
            Status::Pass
        );
        assert_eq!(
            status(
                &s,
                "tokens.opaque",
                std::slice::from_ref(&tok),
                &[
                    cmd(1.0, 1, "call_api"),
                    res(1.2, 1, false, json!({"error": "jwt decode"}))
                ]
            ),
            Status::Fail
        );
        assert_eq!(status(&s, "tokens.opaque", &[], &[]), Status::NotApplicable);

        let s = user("concurrency.single-flight", "");
        let batch = [
            cmd(1.0, 1, "acquire_token"),
            cmd(1.001, 2, "acquire_token"),
            cmd(1.002, 3, "acquire_token"),
            res(1.3, 1, true, json!({})),
            res(1.3, 2, true, json!({})),
            res(1.31, 3, true, json!({})),
        ];
        assert_eq!(
            status(
                &s,
                "concurrency.single-flight",
                &[entry(1, 1.01, Endpoint::Token, 200)],
                &batch
            ),
            Status::Pass
        );
        assert_eq!(
            status(
                &s,
                "concurrency.single-flight",
                &[
                    entry(1, 1.01, Endpoint::Token, 200),
                    entry(2, 1.011, Endpoint::Token, 200)
                ],
                &batch
            ),
            Status::Fail
        );
        // One after another (each after the previous answer, as a client that serializes its
        // renewals does): not a single-flight breach.
        assert_eq!(
            status(
                &s,
                "concurrency.single-flight",
                &[
                    entry(1, 1.01, Endpoint::Token, 200),
                    entry(2, 1.02, Endpoint::Token, 200)
                ],
                &batch
            ),
            Status::Pass
        );
        assert_eq!(
            status(
                &s,
                "concurrency.single-flight",
                &[],
                &[cmd(1.0, 1, "acquire_token")]
            ),
            Status::NotApplicable
        );

        let s = user("device.polling", "tokens: { device_interval: 2s }\n");
        let poll = |seq: u64, at: f64, st: u16, err: Option<&str>| {
            let mut p = entry(seq, at, Endpoint::Token, st);
            p.grant_type = Some(GrantType::DeviceCode);
            p.presented = Some(PresentedToken {
                kind: TokenKind::Code,
                fingerprint: model::Fingerprint::of("dc"),
                uti: None,
            });
            p.error = err.map(str::to_string);
            p
        };
        let good = [
            poll(1, 0.0, 400, Some("authorization_pending")),
            poll(2, 2.0, 400, Some("slow_down")),
            poll(3, 9.1, 200, None),
        ];
        assert_eq!(status(&s, "device.polling", &good, &[]), Status::Pass);
        let fast = [
            poll(1, 0.0, 400, Some("authorization_pending")),
            poll(2, 0.5, 200, None),
        ];
        assert_eq!(status(&s, "device.polling", &fast, &[]), Status::Fail);
        let ignored_slow_down = [
            poll(1, 0.0, 400, Some("slow_down")),
            poll(2, 2.1, 200, None),
        ];
        assert_eq!(
            status(&s, "device.polling", &ignored_slow_down, &[]),
            Status::Fail
        );
        let after_expiry = [
            poll(1, 0.0, 400, Some("expired_token")),
            poll(2, 5.0, 400, Some("expired_token")),
        ];
        assert_eq!(
            status(&s, "device.polling", &after_expiry, &[]),
            Status::Fail
        );
        assert_eq!(
            status(&s, "device.polling", &[], &[]),
            Status::NotApplicable
        );
    }
}

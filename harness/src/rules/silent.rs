//! `silent.*`: how the client gets a token without the user: cache, then the refresh token,
//! then `prompt=none`, and no forced prompt.

use super::{about, describe, incarnation_of, incarnations, op_of, Breaches, Finding, Input};
use model::transcript::TranscriptEvent;
use model::verdict::{secs, Evidence};
use model::{Endpoint, GrantType, JournalEntry, TokenKind};

/// When refresh tokens stopped being honoured: revocation events, and refusals of a refresh.
pub(super) fn revocations(input: &Input<'_>) -> Vec<u64> {
    let mut v: Vec<u64> = input
        .fired
        .iter()
        .filter(|f| {
            matches!(
                f.action.as_str(),
                "revoke_sessions" | "revoke_refresh_tokens" | "disable_user"
            )
        })
        .map(|f| f.at_us)
        .collect();
    v.sort();
    v
}

/// Until when a client may count on a refresh token issued by `e`: its expiry less 300 s,
/// which a client may treat as spent (MSAL.js does: `DEFAULT_REFRESH_TOKEN_EXPIRATION_OFFSET_
/// SECONDS`), so one living 300 s or less is never counted on. Counted from a second before the
/// request arrived: a client may count the lifetime from before it sent the request (msal-common
/// reads its clock then) and on a whole-second clock. A refresh token without a stated lifetime
/// never runs out.
pub(crate) fn rt_usable_until(e: &JournalEntry, rt: &model::IssuedToken) -> u64 {
    let issued = e.finished_us.unwrap_or(e.arrived_us);
    let counted_from = e.arrived_us.saturating_sub(1_000_000);
    match rt.expires_in {
        Some(s) => {
            let life = s.saturating_mul(1_000_000);
            counted_from
                .saturating_add(life.saturating_sub(300_000_000))
                .max(issued)
        }
        None => u64::MAX,
    }
}

/// When the client was left with no refresh token it could count on because the last one
/// issued ran out ([`rt_usable_until`]), with no newer one issued meanwhile.
fn expiries(input: &Input<'_>) -> Vec<u64> {
    let issued: Vec<(u64, u64)> = input
        .client_requests()
        .filter(|e| e.endpoint == Endpoint::Token && e.status == 200)
        .filter_map(|e| {
            e.issued_of(TokenKind::Refresh).map(|rt| {
                (
                    e.finished_us.unwrap_or(e.arrived_us),
                    rt_usable_until(e, rt),
                )
            })
        })
        .collect();
    // Only what ran out while the scenario ran.
    let end = input
        .transcript
        .iter()
        .map(|e| e.at_us)
        .chain(
            input
                .journal
                .iter()
                .map(|e| e.finished_us.unwrap_or(e.arrived_us)),
        )
        .max()
        .unwrap_or(0);
    issued
        .iter()
        .filter(|(_, until)| *until <= end)
        .filter(|(from, until)| !issued.iter().any(|(f, _)| f > from && f <= until))
        .map(|(_, until)| *until)
        .collect()
}

/// A refresh token the client holds at `at` that the IdP would honour: issued in the same
/// incarnation, not revoked since, not refused since, and not run out ([`rt_usable_until`]).
pub(crate) fn honourable_rt<'a>(input: &'a Input<'_>, at: u64) -> Option<&'a JournalEntry> {
    honourable_rt_from(input, at, false)
}

/// As [`honourable_rt`], counting those issued before a restart too (what a client that
/// persists its cache holds).
pub(crate) fn honourable_persisted_rt<'a>(
    input: &'a Input<'_>,
    at: u64,
) -> Option<&'a JournalEntry> {
    honourable_rt_from(input, at, true)
}

fn honourable_rt_from<'a>(
    input: &'a Input<'_>,
    at: u64,
    across_restarts: bool,
) -> Option<&'a JournalEntry> {
    let s = incarnations(input);
    let revoked = revocations(input);
    input
        .client_requests()
        .filter(|e| e.endpoint == Endpoint::Token && e.status == 200)
        .filter(|e| e.finished_us.unwrap_or(e.arrived_us) < at)
        .filter(|e| across_restarts || incarnation_of(&s, e.arrived_us) == incarnation_of(&s, at))
        .filter_map(|e| e.issued_of(TokenKind::Refresh).map(|rt| (e, rt)))
        .filter(|(e, _)| {
            let issued = e.finished_us.unwrap_or(e.arrived_us);
            !revoked.iter().any(|r| *r > issued && *r <= at)
        })
        .filter(|(e, rt)| rt_usable_until(e, rt) > at)
        .filter(|(_, rt)| {
            !input.client_requests().any(|x| {
                x.grant_type == Some(GrantType::RefreshToken)
                    && x.status == 400
                    && x.arrived_us < at
                    && x.presented
                        .as_ref()
                        .is_some_and(|p| p.fingerprint == rt.fingerprint)
            })
        })
        .map(|(e, _)| e)
        .last()
}

/// `silent.order`: cache, then the refresh token: no authorize request while the client
/// holds a refresh token the IdP would honour.
pub fn order(input: &Input<'_>) -> Finding {
    let any_rt = input
        .client_requests()
        .any(|e| e.issued_of(TokenKind::Refresh).is_some());
    if !any_rt {
        return Finding::na("no refresh token was ever issued");
    }
    let mut ev = Vec::new();
    for a in input
        .client_requests()
        .filter(|e| e.endpoint == Endpoint::Authorize)
    {
        if let Some(rt) = honourable_rt(input, a.arrived_us) {
            ev.push(about(
                rt,
                format!("refresh token issued by {}", describe(rt)),
            ));
            ev.push(about(
                a,
                format!(
                    "yet a sign-in: {}{}",
                    describe(a),
                    a.prompt
                        .as_deref()
                        .map(|p| format!(" prompt={p}"))
                        .unwrap_or_default()
                ),
            ));
        }
    }
    if ev.is_empty() {
        Finding::pass("no sign-in while a usable refresh token was held")
    } else {
        Finding::fail(
            "authorize-with-refresh-token",
            "the client went to the authorize endpoint while it held a usable refresh token",
            ev,
        )
    }
}

/// `silent.prompt-none`: when the refresh token is gone or refused and the browser has an SSO
/// session, a `prompt=none` authorize comes before any interactive one.
pub fn prompt_none(input: &Input<'_>) -> Finding {
    // A refusal asking for interaction (`interaction_required`: a step-up, MFA, a policy) is no
    // loss that `prompt=none` could answer: it would be refused the same way, and the client is
    // right to sign in interactively (`cae.claims-challenge` judges that sign-in's claims).
    let refused = input
        .client_requests()
        .filter(|e| e.grant_type == Some(GrantType::RefreshToken) && e.status == 400)
        .filter(|e| e.error.as_deref() != Some("interaction_required"))
        .map(|e| e.finished_us.unwrap_or(e.arrived_us));
    let mut lost: Vec<u64> = revocations(input)
        .into_iter()
        .chain(refused)
        .chain(expiries(input))
        .collect();
    lost.sort();
    let Some(&first_loss) = lost.first() else {
        return Finding::na("the refresh token was never lost, refused or run out");
    };
    let sso_ended = |at: u64| {
        input
            .transcript
            .iter()
            .any(|e| matches!(e.event, TranscriptEvent::ClearedSso) && e.at_us <= at)
            || input
                .fired
                .iter()
                .any(|f| f.action == "revoke_sessions" && f.at_us <= at)
    };
    let next = input
        .client_requests()
        .find(|e| e.endpoint == Endpoint::Authorize && e.arrived_us > first_loss);
    // Commands that failed after the loss, while the browser still had a session: the app
    // needed a token and the client never tried to get one silently.
    let failed_after: Vec<Evidence> = input
        .transcript
        .iter()
        .filter(|e| e.at_us > first_loss && !sso_ended(e.at_us))
        .filter_map(|e| match &e.event {
            TranscriptEvent::Result { id, ok: false, .. }
                if op_of(input, *id) == Some("acquire_token") =>
            {
                Some(Evidence {
                    at_us: e.at_us,
                    what: format!(
                        "acquire_token (command {id}) failed at {} with no sign-in attempted",
                        secs(e.at_us)
                    ),
                    seq: None,
                })
            }
            _ => None,
        })
        .collect();
    match next {
        None if !failed_after.is_empty() => {
            let mut ev = vec![Evidence {
                at_us: first_loss,
                what: format!("refresh token lost, refused or run out at {}", secs(first_loss)),
                seq: None,
            }];
            ev.extend(failed_after);
            Finding::fail(
                "never-signed-in-again",
                "the app needed a token after the refresh token was lost, and the client never tried prompt=none (nor any sign-in)",
                ev,
            )
        }
        None => Finding::pass("no sign-in was needed after the refresh token was lost"),
        Some(a) if sso_ended(a.arrived_us) => Finding::na("the browser had no SSO session: an interactive sign-in is right"),
        Some(a) if a.prompt.as_deref() == Some("none") => Finding::pass("the client tried prompt=none first"),
        Some(a) => Finding::fail(
            "interactive-without-prompt-none",
            "the client went interactive without trying prompt=none while the browser had a session",
            vec![
                Evidence { at_us: first_loss, what: format!("refresh token lost, refused or run out at {}", secs(first_loss)), seq: None },
                about(a, format!("first sign-in after it: {} prompt={}", describe(a), a.prompt.as_deref().unwrap_or("(none given)"))),
            ],
        ),
    }
}

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
            Some("select_account") if honourable_rt(input, s.at_us).is_some() => b.add(
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

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use model::transcript::{TranscriptEntry, TranscriptEvent};
    use model::verdict::Status;
    use model::FiredEvent;
    use model::{Endpoint, GrantType, TokenKind};

    fn user(rule: &str) -> model::scenario::Scenario {
        serde_saphyr::from_str(&format!("name: t\nsummary: t\nflow: auth_code\nrules: [{rule}]\nsteps: [{{acquire_token: {{}}}}]\n")).unwrap()
    }
    fn with_rt(mut e: model::JournalEntry) -> model::JournalEntry {
        e.grant_type = Some(GrantType::AuthorizationCode);
        e.issued
            .push(token_of(TokenKind::Refresh, &format!("rt-{}", e.seq)));
        e
    }
    fn authz(seq: u64, at: f64, prompt: Option<&str>) -> model::JournalEntry {
        let mut a = entry(seq, at, Endpoint::Authorize, 302);
        a.prompt = prompt.map(str::to_string);
        a
    }
    fn started() -> TranscriptEntry {
        TranscriptEntry {
            at_us: 0,
            event: TranscriptEvent::Started {
                pid: 1,
                incarnation: 1,
            },
        }
    }
    fn acquire(at: f64, id: u64, ok: bool) -> Vec<TranscriptEntry> {
        let t = (at * 1e6) as u64;
        vec![
            TranscriptEntry {
                at_us: t,
                event: TranscriptEvent::Command {
                    id,
                    op: "acquire_token".into(),
                    args: serde_json::Value::Null,
                    step: 0,
                    deadline_ms: 1000,
                },
            },
            TranscriptEntry {
                at_us: t + 1000,
                event: TranscriptEvent::Result {
                    id,
                    ok,
                    body: serde_json::Value::Null,
                },
            },
        ]
    }
    fn status(
        s: &model::scenario::Scenario,
        rule: &str,
        j: &[model::JournalEntry],
        t: &[TranscriptEntry],
        fired: &[FiredEvent],
    ) -> Status {
        judged(rule, s, j, t, &[], fired).0
    }

    /// A code redemption at `at` s issuing a refresh token living `life` s (an SPA's).
    fn with_short_rt(seq: u64, at: f64, life: u64) -> model::JournalEntry {
        let mut e = with_rt(entry(seq, at, Endpoint::Token, 200));
        for t in e.issued.iter_mut().filter(|t| t.kind == TokenKind::Refresh) {
            t.expires_in = Some(life);
        }
        e
    }

    #[test]
    fn a_refresh_token_that_ran_out_is_lost_and_its_last_300_s_may_be_treated_as_spent() {
        let t = vec![started()];
        let s = user("silent.order");
        // A 600 s refresh token asked for at 1 s is counted on until 300 s (its last 300 s
        // counted from a second before the request, as a whole-second clock read before sending
        // may); a 15 s one (an SPA's in a scenario) never is, as a client with MSAL.js's 300 s
        // offset treats it.
        let rt = with_short_rt(2, 1.0, 600);
        let short = with_short_rt(2, 1.0, 15);
        for (rt, at, want) in [
            (&rt, 200.0, Status::Fail),
            (&rt, 299.5, Status::Fail),
            (&rt, 300.5, Status::Pass),
            (&rt, 302.0, Status::Pass),
            (&short, 5.0, Status::Pass),
            (&short, 17.0, Status::Pass),
        ] {
            assert_eq!(
                status(
                    &s,
                    "silent.order",
                    &[authz(1, 0.5, None), rt.clone(), authz(3, at, Some("none"))],
                    &t,
                    &[]
                ),
                want,
                "a prompt=none at {at} s"
            );
        }
        // A long one (a day) is counted on until its last 300 s.
        let day = with_short_rt(2, 1.0, 86_400);
        assert_eq!(
            status(
                &s,
                "silent.order",
                &[
                    authz(1, 0.5, None),
                    day.clone(),
                    authz(3, 86_000.0, Some("none"))
                ],
                &t,
                &[]
            ),
            Status::Fail
        );
        assert_eq!(
            status(
                &s,
                "silent.order",
                &[authz(1, 0.5, None), day, authz(3, 86_200.0, Some("none"))],
                &t,
                &[]
            ),
            Status::Pass
        );
        // Running out is a loss for silent.prompt-none: prompt=none first passes, interactive
        // first fails, giving up fails.
        let s = user("silent.prompt-none");
        let rt = with_short_rt(2, 1.0, 15);
        assert_eq!(
            status(
                &s,
                "silent.prompt-none",
                &[
                    authz(1, 0.5, None),
                    rt.clone(),
                    authz(3, 17.0, Some("none")),
                    authz(4, 17.1, None)
                ],
                &t,
                &[]
            ),
            Status::Pass
        );
        assert_eq!(
            status(
                &s,
                "silent.prompt-none",
                &[authz(1, 0.5, None), rt.clone(), authz(3, 17.0, None)],
                &t,
                &[]
            ),
            Status::Fail
        );
        let mut gave_up = t.clone();
        gave_up.extend(acquire(17.0, 2, false));
        assert_eq!(
            status(
                &s,
                "silent.prompt-none",
                &[authz(1, 0.5, None), rt.clone()],
                &gave_up,
                &[]
            ),
            Status::Fail
        );
        // A newer refresh token issued before the first ran out: nothing was lost.
        let first = with_short_rt(2, 1.0, 600);
        let renewed = with_short_rt(3, 100.0, 86_400);
        let mut gave_up = t.clone();
        gave_up.extend(acquire(400.0, 2, false));
        assert_eq!(
            status(
                &s,
                "silent.prompt-none",
                &[authz(1, 0.5, None), first, renewed],
                &gave_up,
                &[]
            ),
            Status::NotApplicable
        );
    }

    #[test]
    fn order_and_prompt_none() {
        let s = user("silent.order");
        let code = with_rt(entry(2, 1.0, Endpoint::Token, 200));
        let t = vec![started()];
        // A second sign-in while the refresh token is good: fail.
        assert_eq!(
            status(
                &s,
                "silent.order",
                &[
                    authz(1, 0.5, None),
                    code.clone(),
                    authz(3, 5.0, Some("none"))
                ],
                &t,
                &[]
            ),
            Status::Fail
        );
        // After a revocation it is fine.
        let revoked = [FiredEvent {
            name: "r".into(),
            action: "revoke_refresh_tokens".into(),
            at_us: 3_000_000,
        }];
        assert_eq!(
            status(
                &s,
                "silent.order",
                &[
                    authz(1, 0.5, None),
                    code.clone(),
                    authz(3, 5.0, Some("none"))
                ],
                &t,
                &revoked
            ),
            Status::Pass
        );
        assert_eq!(
            status(&s, "silent.order", &[authz(1, 0.5, None)], &t, &[]),
            Status::NotApplicable
        );

        let s = user("silent.prompt-none");
        assert_eq!(
            status(
                &s,
                "silent.prompt-none",
                &[
                    code.clone(),
                    authz(3, 5.0, Some("none")),
                    authz(4, 5.1, None)
                ],
                &t,
                &revoked
            ),
            Status::Pass
        );
        assert_eq!(
            status(
                &s,
                "silent.prompt-none",
                &[code.clone(), authz(3, 5.0, None)],
                &t,
                &revoked
            ),
            Status::Fail
        );
        // Without an SSO session interactive is right.
        let cleared = vec![
            started(),
            TranscriptEntry {
                at_us: 4_000_000,
                event: TranscriptEvent::ClearedSso,
            },
        ];
        assert_eq!(
            status(
                &s,
                "silent.prompt-none",
                &[code.clone(), authz(3, 5.0, None)],
                &cleared,
                &revoked
            ),
            Status::NotApplicable
        );
        assert_eq!(
            status(&s, "silent.prompt-none", &[code], &t, &[]),
            Status::NotApplicable
        );
    }

    #[test]
    fn proactive_renewal() {
        let s = user("refresh.proactive");
        let mut tok = entry(1, 1.0, Endpoint::Token, 200);
        tok.issued[0].refresh_in = Some(3);
        // Due at 4.002 s on the mock's clock, and surely on any client's by 6.002 s.
        let mut t = vec![started()];
        t.extend(acquire(6.5, 1, true));
        assert_eq!(
            status(&s, "refresh.proactive", &[tok.clone()], &t, &[]),
            Status::Fail
        );
        assert_eq!(
            status(
                &s,
                "refresh.proactive",
                &[tok.clone(), entry(2, 6.5, Endpoint::Token, 200)],
                &t,
                &[]
            ),
            Status::Pass
        );
        // Renewed a little before refresh_in elapsed (3.8 s < 4.0 s), then asked at 6.5 s: the
        // token in use then is the new one, so the client did renew.
        assert_eq!(
            status(
                &s,
                "refresh.proactive",
                &[tok.clone(), entry(2, 3.8, Endpoint::Token, 200)],
                &t,
                &[]
            ),
            Status::Pass
        );
        let mut early = vec![started()];
        early.extend(acquire(2.0, 1, true));
        assert_eq!(
            status(&s, "refresh.proactive", &[tok], &early, &[]),
            Status::NotApplicable
        );
    }

    #[test]
    fn outage_tolerance() {
        let s = user("refresh.outage-tolerant");
        let tok = entry(1, 1.0, Endpoint::Token, 200);
        let fail = entry(2, 6.0, Endpoint::Token, 503);
        let mut t = vec![started()];
        t.extend(acquire(6.0, 1, false));
        assert_eq!(
            status(
                &s,
                "refresh.outage-tolerant",
                &[tok.clone(), fail.clone()],
                &t,
                &[]
            ),
            Status::Fail
        );
        let mut ok = vec![started()];
        ok.extend(acquire(6.0, 1, true));
        assert_eq!(
            status(
                &s,
                "refresh.outage-tolerant",
                &[tok.clone(), fail],
                &ok,
                &[]
            ),
            Status::Pass
        );
        assert_eq!(
            status(&s, "refresh.outage-tolerant", &[tok], &ok, &[]),
            Status::NotApplicable
        );
    }

    fn verdict_of(
        s: &model::scenario::Scenario,
        j: &[model::JournalEntry],
        t: &[TranscriptEntry],
    ) -> model::verdict::Verdict {
        super::super::judge(&super::super::Input {
            scenario: s,
            journal: j,
            transcript: t,
            state_files: &[],
            outcome: &model::Outcome::Completed,
            fired: &[],
            observed: false,
        })
        .into_iter()
        .find(|v| v.rule == "refresh.outage-tolerant")
        .unwrap()
    }

    #[test]
    fn outage_tolerance_is_a_should_in_the_last_300_s_and_outlives_the_failures() {
        let s = user("refresh.outage-tolerant");
        // A 305 s token: from 6 s on it is in its last 300 s.
        let mut tok = entry(1, 1.0, Endpoint::Token, 200);
        tok.issued[0].expires_in = Some(305);
        let fail = entry(2, 6.0, Endpoint::Token, 503);
        let mut t = vec![started()];
        t.extend(acquire(6.5, 1, false));
        let v = verdict_of(&s, &[tok.clone(), fail.clone()], &t);
        assert_eq!(v.status, Status::Fail);
        assert_eq!(v.level, model::rules::Level::Should);
        assert_eq!(v.causes, ["failed-in-last-300s"]);
        // An hour-long token: a MUST, and a command failing long after the last renewal
        // failure (a breaker that never closes) counts too.
        let hour = entry(1, 1.0, Endpoint::Token, 200);
        let mut t = vec![started()];
        t.extend(acquire(60.0, 1, false));
        let v = verdict_of(&s, &[hour, fail], &t);
        assert_eq!(v.status, Status::Fail);
        assert_eq!(v.level, model::rules::Level::Must);
        assert!(
            v.evidence.iter().any(|e| e.what.contains("command 1")),
            "{v:?}"
        );
    }

    #[test]
    fn prompt_none_fails_a_client_that_never_signs_in_again() {
        let s = user("silent.prompt-none");
        let mut refused = entry(2, 5.0, Endpoint::Token, 400);
        refused.grant_type = Some(GrantType::RefreshToken);
        let j = [with_rt(entry(1, 1.0, Endpoint::Token, 200)), refused];
        let mut t = vec![started()];
        t.extend(acquire(6.0, 1, false));
        assert_eq!(status(&s, "silent.prompt-none", &j, &t, &[]), Status::Fail);
        let mut t = vec![started()];
        t.extend(acquire(6.0, 1, true));
        assert_eq!(status(&s, "silent.prompt-none", &j, &t, &[]), Status::Pass);
    }

    /// A refresh refused with `interaction_required` (a step-up) asks for the user: going
    /// interactive at once is right, as `prompt=none` would be refused the same way. Refused
    /// with `invalid_grant`, the same sign-in is interactive-without-prompt-none.
    #[test]
    fn a_step_up_refusal_asks_for_interaction_not_prompt_none() {
        let s = user("silent.prompt-none");
        let mut refused = entry(2, 11.287, Endpoint::Token, 400);
        refused.grant_type = Some(GrantType::RefreshToken);
        refused.error = Some("interaction_required".into());
        let sign_in = authz(3, 11.293, None);
        let mut t = vec![started()];
        t.extend(acquire(11.0, 1, true));
        let j = [
            with_rt(entry(1, 1.0, Endpoint::Token, 200)),
            refused.clone(),
            sign_in.clone(),
        ];
        assert_eq!(
            status(&s, "silent.prompt-none", &j, &t, &[]),
            Status::NotApplicable
        );
        refused.error = Some("invalid_grant".into());
        let j = [
            with_rt(entry(1, 1.0, Endpoint::Token, 200)),
            refused,
            sign_in,
        ];
        assert_eq!(status(&s, "silent.prompt-none", &j, &t, &[]), Status::Fail);
    }
}

//! Rules about how the client renews: silently and in order, early when `refresh_in` says so,
//! and without failing the app while an old token is still valid.

use super::{about, describe, incarnation_of, incarnations, scope_key, Breaches, Finding, Input};
use model::transcript::TranscriptEvent;
use model::verdict::{secs, Evidence};
use model::{Endpoint, GrantType, JournalEntry, TokenKind};

/// When refresh tokens stopped being honoured: revocation events, and refusals of a refresh.
fn revocations(input: &Input<'_>) -> Vec<u64> {
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

/// A refresh token the client holds at `at` that the IdP would honour: issued in the same
/// incarnation, not revoked since, and not refused since.
pub(crate) fn honourable_rt<'a>(input: &'a Input<'_>, at: u64) -> Option<&'a JournalEntry> {
    let s = incarnations(input);
    let revoked = revocations(input);
    input
        .client_requests()
        .filter(|e| e.endpoint == Endpoint::Token && e.status == 200)
        .filter(|e| e.finished_us.unwrap_or(e.arrived_us) < at)
        .filter(|e| incarnation_of(&s, e.arrived_us) == incarnation_of(&s, at))
        .filter_map(|e| e.issued_of(TokenKind::Refresh).map(|rt| (e, rt)))
        .filter(|(e, _)| {
            let issued = e.finished_us.unwrap_or(e.arrived_us);
            !revoked.iter().any(|r| *r > issued && *r <= at)
        })
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
    let refused = input
        .client_requests()
        .filter(|e| e.grant_type == Some(GrantType::RefreshToken) && e.status == 400)
        .map(|e| e.finished_us.unwrap_or(e.arrived_us));
    let mut lost: Vec<u64> = revocations(input).into_iter().chain(refused).collect();
    lost.sort();
    let Some(&first_loss) = lost.first() else {
        return Finding::na("the refresh token was never lost or refused");
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
                if super::op_of(input, *id) == Some("acquire_token") =>
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
                what: format!("refresh token lost or refused at {}", secs(first_loss)),
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
                Evidence { at_us: first_loss, what: format!("refresh token lost or refused at {}", secs(first_loss)), seq: None },
                about(a, format!("first sign-in after it: {} prompt={}", describe(a), a.prompt.as_deref().unwrap_or("(none given)"))),
            ],
        ),
    }
}

/// `refresh.proactive`: after `refresh_in` elapses (and before expiry), a need for the token
/// leads to a renewal instead of serving the old token forever.
pub fn proactive(input: &Input<'_>) -> Finding {
    let with_refresh_in: Vec<(&JournalEntry, u64, u64)> = input
        .client_requests()
        .filter(|e| e.endpoint == Endpoint::Token && e.status == 200)
        .filter_map(|e| {
            let at = e.issued_of(TokenKind::Access)?;
            let r = at.refresh_in?;
            let issued = e.finished_us.unwrap_or(e.arrived_us);
            Some((
                e,
                issued + r * 1_000_000,
                issued + at.expires_in.unwrap_or(0) * 1_000_000,
            ))
        })
        .collect();
    if with_refresh_in.is_empty() {
        return Finding::na("no token came with refresh_in");
    }
    let mut situations = 0;
    let mut ev = Vec::new();
    for (e, due, expires) in with_refresh_in {
        let key = scope_key(&e.scopes);
        let asked_after: Vec<u64> = input
            .commands("acquire_token")
            .map(|c| c.at_us)
            .filter(|t| *t >= due && *t < expires)
            .collect();
        let Some(&first_need) = asked_after.first() else {
            continue;
        };
        situations += 1;
        // Any later request for the same token renews it: one made a little before
        // `refresh_in` elapsed (a cache rounding its clock to seconds) still replaced the
        // token; asking too early is cache.reuse's business, not this rule's.
        let renewed = input.client_requests().any(|x| {
            x.endpoint == Endpoint::Token
                && x.arrived_us > e.arrived_us
                && x.arrived_us < expires
                && x.seq != e.seq
                && scope_key(&x.scopes) == key
        });
        if !renewed {
            ev.push(about(
                e,
                format!(
                    "token issued at {} with refresh_in {} s: renewable from {}",
                    secs(e.finished_us.unwrap_or(e.arrived_us)),
                    (due - e.finished_us.unwrap_or(e.arrived_us)) / 1_000_000,
                    secs(due)
                ),
            ));
            ev.push(Evidence {
                at_us: first_need,
                what: format!(
                    "{} request(s) for a token after that, and no renewal before expiry at {}",
                    asked_after.len(),
                    secs(expires)
                ),
                seq: None,
            });
        }
    }
    if situations == 0 {
        Finding::na("the app did not need a token after refresh_in elapsed")
    } else if ev.is_empty() {
        Finding::pass("the client renewed once refresh_in elapsed")
    } else {
        Finding::fail(
            "no-renewal",
            "the client kept serving the old token after refresh_in",
            ev,
        )
    }
}

fn renewal_failed(e: &JournalEntry) -> bool {
    e.endpoint == Endpoint::Token
        && (e.status == 0
            || e.status == 429
            || e.status >= 500
            || (e.status == 200 && e.issued_of(TokenKind::Access).is_none()))
}

/// `refresh.outage-tolerant`: while renewal fails and the old access token is still valid,
/// `acquire_token` still succeeds (with the old token). MUST while the token is inside its
/// `refresh_in` window (before its last 300 s); SHOULD in its last 300 s, where MSAL
/// deliberately counts a token as expired. A breaker that keeps failing the app after the
/// renewal failures stopped still fails, for as long as the token was valid; a refusal for good
/// (`invalid_grant`, ...) or a revocation ends the token's claim to be served.
pub fn outage_tolerant(input: &Input<'_>) -> Finding {
    let mut situations = 0;
    let mut must = Breaches::default();
    let mut should = Breaches::default();
    let issued: Vec<(&JournalEntry, u64, u64)> = input
        .client_requests()
        .filter(|e| e.endpoint == Endpoint::Token && e.status == 200)
        .filter_map(|e| {
            let at = e.issued_of(TokenKind::Access)?;
            let t = e.finished_us.unwrap_or(e.arrived_us);
            Some((e, t, t + at.expires_in.unwrap_or(0) * 1_000_000))
        })
        .collect();
    let failures: Vec<&JournalEntry> = input
        .client_requests()
        .filter(|e| renewal_failed(e))
        .collect();
    // When the client's tokens stopped being servable for good: a renewal refused for good,
    // a revocation.
    let ends = input
        .client_requests()
        .filter(|e| {
            e.endpoint == Endpoint::Token
                && matches!(
                    e.grant_type,
                    Some(
                        GrantType::RefreshToken
                            | GrantType::ClientCredentials
                            | GrantType::JwtBearer
                    )
                )
                && matches!(
                    e.error.as_deref(),
                    Some(
                        "invalid_grant"
                            | "invalid_client"
                            | "unauthorized_client"
                            | "interaction_required"
                    )
                )
        })
        .map(|e| e.arrived_us)
        .chain(revocations(input))
        .chain(
            input
                .fired
                .iter()
                .filter(|f| f.action == "cae_revoke")
                .map(|f| f.at_us),
        )
        .collect::<Vec<u64>>();
    let mut seen_commands = std::collections::BTreeSet::new();
    for f in &failures {
        let Some((tok, issued_at, expires)) = issued
            .iter()
            .rev()
            .find(|(_, t, exp)| *t < f.arrived_us && f.arrived_us < *exp)
        else {
            continue;
        };
        situations += 1;
        let window = input.renewal_window("refresh.outage-tolerant").as_micros() as u64;
        let last_300 = expires.saturating_sub(window);
        let ended_for_good = ends
            .iter()
            .copied()
            .filter(|t| t > issued_at)
            .min()
            .unwrap_or(u64::MAX);
        let until = (*expires).min(ended_for_good);
        for c in input.commands("acquire_token") {
            let TranscriptEvent::Command { id, .. } = &c.event else {
                continue;
            };
            let result = input
                .transcript
                .iter()
                .find(|r| matches!(&r.event, TranscriptEvent::Result { id: rid, .. } if rid == id));
            let Some(r) = result else { continue };
            let TranscriptEvent::Result { ok: false, .. } = r.event else {
                continue;
            };
            if r.at_us < f.arrived_us || r.at_us >= until || !seen_commands.insert(*id) {
                continue;
            }
            let ev = [
                about(tok, format!("a valid access token until {}", secs(*expires))),
                about(f, format!("renewal failed: {}", describe(f))),
                Evidence {
                    at_us: r.at_us,
                    what: format!(
                        "acquire_token (command {id}) failed at {} although the old token was still valid ({} left)",
                        secs(r.at_us),
                        secs(expires.saturating_sub(r.at_us))
                    ),
                    seq: None,
                },
            ];
            if r.at_us < last_300 {
                must.add("failed-with-valid-token", ev);
            } else {
                should.add("failed-in-last-300s", ev);
            }
        }
    }
    if situations == 0 {
        return Finding::na("renewal never failed while a token was valid");
    }
    if !must.is_empty() {
        let Breaches { causes, evidence } = should;
        for c in causes {
            must.add(c, []);
        }
        must.evidence.extend(evidence);
        return must.finding("", "the app failed while its old token was still valid");
    }
    let mut f = should.finding(
        "the app kept working on the old token while renewal failed",
        "the app failed while its old token was still valid, in its last 300 s (a SHOULD: MSAL counts such a token as expired)",
    );
    if f.status == model::verdict::Status::Fail {
        f.level = Some(model::rules::Level::Should);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use model::transcript::{TranscriptEntry, TranscriptEvent};
    use model::verdict::Status;
    use model::FiredEvent;
    use model::{Endpoint, GrantType, IssuedToken, TokenKind};

    fn user(rule: &str) -> model::scenario::Scenario {
        serde_saphyr::from_str(&format!("name: t\nsummary: t\nflow: auth_code\nrules: [{rule}]\nsteps: [{{acquire_token: {{}}}}]\n")).unwrap()
    }
    fn with_rt(mut e: model::JournalEntry) -> model::JournalEntry {
        e.grant_type = Some(GrantType::AuthorizationCode);
        e.issued.push(IssuedToken {
            kind: TokenKind::Refresh,
            fingerprint: model::Fingerprint::of(&format!("rt-{}", e.seq)),
            uti: None,
            expires_in: None,
            refresh_in: None,
            scopes: vec![],
            audience: None,
            cae: false,
            opaque: true,
        });
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
        let mut t = vec![started()];
        t.extend(acquire(5.0, 1, true));
        assert_eq!(
            status(&s, "refresh.proactive", &[tok.clone()], &t, &[]),
            Status::Fail
        );
        assert_eq!(
            status(
                &s,
                "refresh.proactive",
                &[tok.clone(), entry(2, 5.0, Endpoint::Token, 200)],
                &t,
                &[]
            ),
            Status::Pass
        );
        // Renewed a little before refresh_in elapsed (3.8 s < 4.0 s), then asked at 5 s: the
        // token in use at 5 s is the new one, so the client did renew.
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
}

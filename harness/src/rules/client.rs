//! `client.*`, the guards: `client.liveness` (the client answers in time, doesn't crash, exits
//! when asked) and `client.outcome`, on what the app got back: every command is answered as its
//! step expects, and every token handed to the app is one the mock issued, for what was asked,
//! and unexpired. Without them, a client that never returns a token passes every timing rule.

use super::{op_of, Breaches, Finding, Input};
use model::scenario::Expect;
use model::scope::Ask;
use model::transcript::TranscriptEvent;
use model::verdict::{secs, Evidence};
use model::{Fingerprint, GrantType, JournalEntry, Outcome, TokenKind};
use serde_json::Value;

/// The fingerprint inside a redacted token (`eyJ0eX…(sha256:0123456789abcdef)` or the bare
/// fingerprint), as the transcript keeps tokens.
pub(crate) fn fingerprint_in(s: &str) -> Option<Fingerprint> {
    let i = s.find("sha256:")?;
    let hex: String = s[i + 7..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    (hex.len() == 16).then(|| Fingerprint::from_hex(&hex))
}

/// One command and its answer.
struct Answered<'a> {
    id: u64,
    op: &'a str,
    step: usize,
    sent_us: u64,
    args: &'a Value,
    answer: Option<(u64, bool, &'a Value)>,
}

fn answered<'a>(input: &'a Input<'_>) -> Vec<Answered<'a>> {
    input
        .transcript
        .iter()
        .filter_map(|e| match &e.event {
            TranscriptEvent::Command {
                id, op, step, args, ..
            } if op != "shutdown" => Some(Answered {
                id: *id,
                op,
                step: *step,
                sent_us: e.at_us,
                args,
                answer: input.transcript.iter().find_map(|r| match &r.event {
                    TranscriptEvent::Result { id: rid, ok, body } if rid == id => {
                        Some((r.at_us, *ok, body))
                    }
                    _ => None,
                }),
            }),
            _ => None,
        })
        .collect()
}

fn why(body: &Value) -> String {
    let text = body
        .get("description")
        .or(body.get("error"))
        .and_then(Value::as_str)
        .unwrap_or("no reason given");
    text.chars().take(160).collect()
}

/// An access token the mock issued, and the request that got it.
fn issued_access<'a>(input: &'a Input<'_>, fp: &Fingerprint) -> Option<&'a JournalEntry> {
    input.journal.iter().find(|e| {
        e.issued
            .iter()
            .any(|t| t.kind == TokenKind::Access && &t.fingerprint == fp)
    })
}

/// Checks a token handed to the app for an `acquire_token` command.
fn check_token(input: &Input<'_>, c: &Answered<'_>, at: u64, body: &Value, b: &mut Breaches) {
    let Some(returned) = body.get("access_token").and_then(Value::as_str) else {
        b.add(
            "token-less-success",
            [Evidence {
                at_us: at,
                what: format!(
                    "acquire_token (command {}) answered ok at {} without an access token",
                    c.id,
                    secs(at)
                ),
                seq: None,
            }],
        );
        return;
    };
    let Some(fp) = fingerprint_in(returned).or_else(|| {
        // A driver that bypassed redaction (not a JWT, under a key we don't redact).
        (!returned.is_empty()).then(|| Fingerprint::of(returned))
    }) else {
        b.add(
            "token-less-success",
            [Evidence {
                at_us: at,
                what: format!(
                    "acquire_token (command {}) answered ok at {} with an empty access token",
                    c.id,
                    secs(at)
                ),
                seq: None,
            }],
        );
        return;
    };
    let Some(issuing) = issued_access(input, &fp) else {
        let issued: Vec<String> = input
            .journal
            .iter()
            .flat_map(|e| e.issued.iter())
            .filter(|t| t.kind == TokenKind::Access)
            .map(|t| t.fingerprint.to_string())
            .collect();
        b.add(
            "unknown-token",
            [Evidence {
                at_us: at,
                what: format!(
                    "acquire_token (command {}) handed the app {fp} at {}, a token the mock never issued (issued: {})",
                    c.id,
                    secs(at),
                    if issued.is_empty() { "none".to_string() } else { issued.join(", ") }
                ),
                seq: None,
            }],
        );
        return;
    };
    let Some(token) = issuing
        .issued
        .iter()
        .find(|t| t.kind == TokenKind::Access && t.fingerprint == fp)
    else {
        return;
    };
    let about_issue = |what: String| Evidence {
        at_us: issuing.arrived_us,
        what,
        seq: Some(issuing.seq),
    };
    // The scopes (and so the audience) asked for.
    let asked: Vec<String> = c
        .args
        .get("scopes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if !asked.is_empty() {
        let got = Ask::of(if token.scopes.is_empty() {
            &issuing.scopes
        } else {
            &token.scopes
        });
        let want = Ask::of(&asked);
        if !got.covers(&want) {
            b.add(
                "wrong-scopes",
                [
                    about_issue(format!(
                        "{fp} was issued at {} for {}",
                        secs(issuing.arrived_us),
                        token.scopes.join(" ")
                    )),
                    Evidence {
                        at_us: at,
                        what: format!(
                            "acquire_token (command {}) asked for {} and was handed {fp}",
                            c.id,
                            asked.join(" ")
                        ),
                        seq: None,
                    },
                ],
            );
        }
    }
    // On-behalf-of: the token must be for the user whose assertion the app passed.
    if let Some(assertion) = c
        .args
        .get("assertion")
        .and_then(Value::as_str)
        .and_then(fingerprint_in)
    {
        let for_user = issuing.grant_type == Some(GrantType::JwtBearer)
            && issuing
                .presented
                .as_ref()
                .is_some_and(|p| p.fingerprint == assertion);
        if !for_user {
            b.add(
                "wrong-account",
                [
                    about_issue(format!(
                        "{fp} was issued at {} for another assertion (or another grant)",
                        secs(issuing.arrived_us)
                    )),
                    Evidence {
                        at_us: at,
                        what: format!(
                            "acquire_token (command {}) passed the user assertion {assertion} and was handed {fp}",
                            c.id
                        ),
                        seq: None,
                    },
                ],
            );
        }
    }
    // Unexpired when handed over: the mock's expiry is at most `expires_in` after the response
    // was sent (a second of rounding allowed, as the wire counts whole seconds).
    if let Some(life) = token.expires_in {
        let expiry = issuing.finished_us.unwrap_or(issuing.arrived_us) + life * 1_000_000;
        if at > expiry + 1_000_000 {
            b.add(
                "expired-token",
                [
                    about_issue(format!(
                        "{fp} issued at {}, expired at {}",
                        secs(issuing.arrived_us),
                        secs(expiry)
                    )),
                    Evidence {
                        at_us: at,
                        what: format!(
                            "acquire_token (command {}) handed the app {fp} at {}, {} after it expired",
                            c.id,
                            secs(at),
                            secs(at - expiry)
                        ),
                        seq: None,
                    },
                ],
            );
        }
    }
}

/// Whether, by `until`, the client had waited as long as its last failure could justify, so
/// that failing every command of a recovery step means it did not recover (a breaker that never
/// closes) rather than that it was still backing off. A failure with Retry-After justifies that
/// wait and 10 s more; a 429 or 5xx without it, 65 s (the 60 s back-off cap, which MSAL applies
/// at once, and a margin); a malformed answer, a reset or a stall, twice the exponential
/// back-off its streak asks (5 s, 10 s, ... up to 60 s).
fn had_its_chance(input: &Input<'_>, until: u64) -> bool {
    let failed =
        |e: &JournalEntry| e.status == 0 || e.status == 429 || e.status >= 500 || e.fault.is_some();
    let reqs: Vec<&JournalEntry> = input
        .client_requests()
        .filter(|e| e.arrived_us < until)
        .collect();
    let Some(last) = reqs.last() else {
        return true; // it never tried: nothing justifies its silence
    };
    if !failed(last) {
        return true; // its last request succeeded, and still the app got nothing
    }
    let streak = reqs.iter().rev().take_while(|e| failed(e)).count() as u32;
    let justified_us = match super::retry::retry_after_us(last) {
        Some(ra) => ra + 10_000_000,
        None if last.status == 429 || last.status >= 500 => 65_000_000,
        None => (5u64 << streak.saturating_sub(1).min(4)).min(60) * 2_000_000,
    };
    until >= last.finished_us.unwrap_or(last.arrived_us) + justified_us
}

/// `client.outcome`.
pub fn outcome(input: &Input<'_>) -> Finding {
    if input.observed {
        return Finding::na("observe mode: the app's answers are not seen");
    }
    let cmds = answered(input);
    if cmds.is_empty() {
        return Finding::na("no command was sent");
    }
    let mut b = Breaches::default();
    // Steps expecting recovery: at least one success over their commands.
    let mut recovering: std::collections::BTreeMap<usize, (u64, usize, usize, u64)> =
        Default::default();
    for c in &cmds {
        let expect = input
            .scenario
            .steps
            .get(c.step)
            .and_then(|s| s.expect)
            .unwrap_or(Expect::Ok);
        let Some((at, ok, body)) = c.answer else {
            continue; // unanswered: client.liveness judges it
        };
        if ok && c.op == "acquire_token" {
            check_token(input, c, at, body, &mut b);
        }
        match expect {
            Expect::Ok if !ok => b.add(
                "expected-ok",
                [Evidence {
                    at_us: at,
                    what: format!(
                        "{} (command {}, step {}) failed at {}: {}; the step expects success",
                        c.op,
                        c.id,
                        c.step + 1,
                        secs(at),
                        why(body)
                    ),
                    seq: None,
                }],
            ),
            Expect::Error if ok => b.add(
                "expected-error",
                [Evidence {
                    at_us: at,
                    what: format!(
                        "{} (command {}, step {}) succeeded at {}; nothing could have been served, the step expects an error",
                        c.op,
                        c.id,
                        c.step + 1,
                        secs(at)
                    ),
                    seq: None,
                }],
            ),
            Expect::Recovers => {
                let r = recovering.entry(c.step).or_insert((c.sent_us, 0, 0, 0));
                r.1 += 1;
                r.2 += usize::from(ok);
                r.3 = r.3.max(at);
            }
            _ => {}
        }
    }
    for (step, (first, asked, succeeded, last_answer)) in recovering {
        if succeeded == 0 && had_its_chance(input, last_answer) {
            b.add(
                "no-recovery",
                [Evidence {
                    at_us: first,
                    what: format!(
                        "step {} must recover after the fault window: all {asked} of its commands failed",
                        step + 1
                    ),
                    seq: None,
                }],
            );
        }
    }
    b.finding(
        "every command was answered as its step expects, with tokens the mock issued for what was asked",
        "the app did not get what its steps expect",
    )
}

pub fn liveness(input: &Input<'_>) -> Finding {
    if input.observed {
        return liveness_observed(input);
    }
    let mut b = Breaches::default();
    if let Outcome::ClientFailed {
        reason,
        stderr_tail,
    } = input.outcome
    {
        let at = input.transcript.last().map_or(0, |e| e.at_us);
        let mut ev = vec![Evidence {
            at_us: at,
            what: reason.clone(),
            seq: None,
        }];
        for l in stderr_tail.iter().rev().take(10).rev() {
            ev.push(Evidence {
                at_us: at,
                what: format!("stderr: {l}"),
                seq: None,
            });
        }
        b.add("client-failed", ev);
    }
    // A command that timed out and ended the run: the harness killed the client for it.
    let mut killed_for_timeout = false;
    // Signals the harness sent this incarnation of the client, and when.
    let mut signalled: Vec<(u64, &str)> = Vec::new();
    for e in input.transcript {
        match &e.event {
            TranscriptEvent::Started { .. } => signalled.clear(),
            TranscriptEvent::Signalled { signal } => signalled.push((e.at_us, signal)),
            TranscriptEvent::ProtocolError { message, line } => b.add(
                "protocol-error",
                [Evidence {
                    at_us: e.at_us,
                    what: format!("{message}: {line:?}"),
                    seq: None,
                }],
            ),
            TranscriptEvent::Timeout { id, deadline_ms } => {
                if op_of(input, *id) == Some("shutdown") {
                    b.add(
                        "slow-shutdown",
                        [Evidence {
                            at_us: e.at_us,
                            what: format!(
                                "shutdown (command {id}) not done within {deadline_ms} ms"
                            ),
                            seq: None,
                        }],
                    );
                } else {
                    killed_for_timeout = true;
                }
            }
            TranscriptEvent::Exited {
                expected: false,
                code,
                ..
            } if !matches!(input.outcome, Outcome::ClientFailed { .. }) => b.add(
                "unasked-exit",
                [Evidence {
                    at_us: e.at_us,
                    what: format!("the client exited unasked (code {code:?})"),
                    seq: None,
                }],
            ),
            TranscriptEvent::Exited {
                expected: true,
                code: Some(c),
                ..
            } if *c != 0 => b.add(
                "exit-code",
                [Evidence {
                    at_us: e.at_us,
                    what: format!("the client exited with {c} after shutdown"),
                    seq: None,
                }],
            ),
            TranscriptEvent::Exited {
                expected: true,
                code: None,
                signal,
                stderr_tail,
            } if !std::mem::take(&mut killed_for_timeout) => {
                // Ended by a signal the harness did not send: it crashed while stopping.
                let crashed = signalled.is_empty() && signal.is_some();
                let mut ev: Vec<Evidence> = if crashed {
                    vec![Evidence {
                        at_us: e.at_us,
                        what: format!(
                            "the client was asked to stop and died by signal {} ({}), which the harness did not send",
                            signal.unwrap_or_default(),
                            signal_name(signal.unwrap_or_default())
                        ),
                        seq: None,
                    }]
                } else {
                    let mut ev: Vec<Evidence> = signalled
                        .iter()
                        .map(|(at, sig)| Evidence {
                            at_us: *at,
                            what: format!(
                                "the client had not exited after shutdown: the harness sent {sig}"
                            ),
                            seq: None,
                        })
                        .collect();
                    ev.push(Evidence {
                        at_us: e.at_us,
                        what: "the client did not exit after shutdown and was killed".to_string(),
                        seq: None,
                    });
                    ev
                };
                ev.extend(stderr_tail.iter().rev().take(10).rev().map(|l| Evidence {
                    at_us: e.at_us,
                    what: format!("stderr: {l}"),
                    seq: None,
                }));
                b.add(
                    if crashed {
                        "crash"
                    } else {
                        "killed-at-shutdown"
                    },
                    ev,
                )
            }
            _ => {}
        }
    }
    b.finding(
        "the client answered every command in time and exited when asked",
        "the client did not stay live",
    )
}

/// Observe mode: the app is not driven, so live means it did not crash: it exited 0, or it
/// was still running when the harness stopped it.
fn liveness_observed(input: &Input<'_>) -> Finding {
    for e in input.transcript {
        if let TranscriptEvent::Exited {
            code,
            signal,
            expected: false,
            stderr_tail,
        } = &e.event
        {
            let mut evidence = vec![Evidence {
                at_us: e.at_us,
                what: match (code, signal) {
                    (Some(c), _) => format!("the app exited with code {c}"),
                    (None, Some(s)) => {
                        format!("the app was ended by signal {s} ({})", signal_name(*s))
                    }
                    (None, None) => "the app was ended by a signal".to_string(),
                },
                seq: None,
            }];
            evidence.extend(stderr_tail.iter().rev().take(10).rev().map(|l| Evidence {
                at_us: e.at_us,
                what: format!("output: {l}"),
                seq: None,
            }));
            return Finding::fail("crash", "the app crashed", evidence);
        }
    }
    Finding::pass("the app ran until it finished or was stopped")
}

/// A POSIX signal's name, for evidence (the numbers Linux uses; `signal N` for the rest).
fn signal_name(signal: i32) -> String {
    match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => return format!("signal {signal}"),
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;
    use model::transcript::TranscriptEntry;
    use model::verdict::Status;
    use model::Endpoint;
    use serde_json::json;

    fn cmd(at: f64, id: u64, step: usize, args: Value) -> TranscriptEntry {
        TranscriptEntry {
            at_us: (at * 1e6) as u64,
            event: TranscriptEvent::Command {
                id,
                op: "acquire_token".into(),
                args,
                step,
                deadline_ms: 60_000,
            },
        }
    }
    fn res(at: f64, id: u64, ok: bool, body: Value) -> TranscriptEntry {
        TranscriptEntry {
            at_us: (at * 1e6) as u64,
            event: TranscriptEvent::Result { id, ok, body },
        }
    }
    fn scn(expects: &[&str]) -> model::scenario::Scenario {
        let steps: Vec<String> = expects
            .iter()
            .map(|e| {
                if e.is_empty() {
                    "{acquire_token: {}}".to_string()
                } else {
                    format!("{{acquire_token: {{}}, expect: {e}}}")
                }
            })
            .collect();
        serde_saphyr::from_str(&format!(
            "name: t\nsummary: t\nflow: client_credentials\nrules: [client.liveness]\nsteps: [{}]\n",
            steps.join(", ")
        ))
        .unwrap()
    }
    fn graph() -> Value {
        json!({"scopes": ["https://graph.microsoft.com/.default"]})
    }
    fn tok(seq: u64) -> String {
        format!(
            "eyJ0eX…({})",
            model::Fingerprint::of(&format!("token-{seq}"))
        )
    }
    fn outcome(
        s: &model::scenario::Scenario,
        j: &[JournalEntry],
        t: &[TranscriptEntry],
    ) -> (Status, Vec<String>) {
        judged("client.outcome", s, j, t, &[], &[])
    }

    #[test]
    fn a_token_the_mock_issued_passes() {
        let s = scn(&[""]);
        let j = [entry(1, 1.0, Endpoint::Token, 200)];
        let t = [
            cmd(0.9, 1, 0, graph()),
            res(1.1, 1, true, json!({"access_token": tok(1)})),
        ];
        assert_eq!(outcome(&s, &j, &t).0, Status::Pass);
    }

    #[test]
    fn refusing_everything_fails_an_ok_step() {
        let s = scn(&["either", ""]);
        let t = [
            cmd(0.9, 1, 0, graph()),
            res(1.1, 1, false, json!({"error": "x"})),
            cmd(2.0, 2, 1, graph()),
            res(
                2.1,
                2,
                false,
                json!({"error": "breaker_open", "description": "open"}),
            ),
        ];
        let (st, ev) = outcome(&s, &[], &t);
        assert_eq!(st, Status::Fail);
        assert!(
            ev.iter()
                .any(|e| e.contains("step 2") && e.contains(": open;")),
            "{ev:?}"
        );
    }

    #[test]
    fn a_step_that_must_recover_needs_one_success() {
        let s = scn(&["recovers"]);
        let fail = [
            cmd(1.0, 1, 0, graph()),
            res(1.1, 1, false, json!({})),
            cmd(2.0, 2, 0, graph()),
            res(2.1, 2, false, json!({})),
        ];
        let (st, ev) = outcome(&s, &[], &fail);
        assert_eq!(st, Status::Fail);
        assert!(ev[0].contains("all 2 of its commands failed"), "{ev:?}");
        let j = [entry(5, 2.0, Endpoint::Token, 200)];
        let pass = [
            cmd(1.0, 1, 0, graph()),
            res(1.1, 1, false, json!({})),
            cmd(2.0, 2, 0, graph()),
            res(2.1, 2, true, json!({"access_token": tok(5)})),
        ];
        assert_eq!(outcome(&s, &j, &pass).0, Status::Pass);
    }

    #[test]
    fn a_client_still_backing_off_is_not_failed_for_not_recovering() {
        let s = scn(&["recovers"]);
        let fail = [
            cmd(1.0, 1, 0, graph()),
            res(1.1, 1, false, json!({})),
            cmd(20.0, 2, 0, graph()),
            res(20.1, 2, false, json!({})),
        ];
        // A 503 without Retry-After at 0.5 s: up to 65 s of silence is justified.
        let j = [entry(1, 0.5, Endpoint::Token, 503)];
        assert_eq!(outcome(&s, &j, &fail).0, Status::Pass);
        // A 429 with Retry-After 3 s: 13 s are justified, 20 s are not.
        let j = [with_header(
            entry(1, 0.5, Endpoint::Token, 429),
            "retry-after",
            "3",
        )];
        let (st, ev) = outcome(&s, &j, &fail);
        assert_eq!(st, Status::Fail, "{ev:?}");
    }

    #[test]
    fn a_success_without_a_token_or_with_a_foreign_one_fails() {
        let s = scn(&["either"]);
        let t = [cmd(0.9, 1, 0, graph()), res(1.1, 1, true, json!({}))];
        let (st, ev) = outcome(&s, &[], &t);
        assert_eq!(st, Status::Fail);
        assert!(ev[0].contains("without an access token"), "{ev:?}");
        let t = [
            cmd(0.9, 1, 0, graph()),
            res(1.1, 1, true, json!({"access_token": tok(99)})),
        ];
        let j = [entry(1, 1.0, Endpoint::Token, 200)];
        let (st, ev) = outcome(&s, &j, &t);
        assert_eq!(st, Status::Fail);
        assert!(ev[0].contains("never issued"), "{ev:?}");
    }

    #[test]
    fn a_token_for_other_scopes_or_expired_fails() {
        let s = scn(&["", ""]);
        let j = [entry(1, 1.0, Endpoint::Token, 200)];
        let t = [
            cmd(0.9, 1, 0, graph()),
            res(1.1, 1, true, json!({"access_token": tok(1)})),
            cmd(2.0, 2, 1, json!({"scopes": ["api://other/.default"]})),
            res(2.1, 2, true, json!({"access_token": tok(1)})),
        ];
        let (st, ev) = outcome(&s, &j, &t);
        assert_eq!(st, Status::Fail);
        assert!(
            ev.iter()
                .any(|e| e.contains("asked for api://other/.default")),
            "{ev:?}"
        );
        // Expired: issued with 3599 s, handed over an hour and a bit later.
        let t = [
            cmd(3700.0, 1, 0, graph()),
            res(3700.1, 1, true, json!({"access_token": tok(1)})),
        ];
        let (st, ev) = outcome(&s, &j, &t);
        assert_eq!(st, Status::Fail);
        assert!(ev.iter().any(|e| e.contains("after it expired")), "{ev:?}");
    }

    #[test]
    fn an_error_step_must_not_succeed() {
        let s = scn(&["error"]);
        let j = [entry(1, 1.0, Endpoint::Token, 200)];
        let t = [
            cmd(0.9, 1, 0, graph()),
            res(1.1, 1, true, json!({"access_token": tok(1)})),
        ];
        assert_eq!(outcome(&s, &j, &t).0, Status::Fail);
        let t = [cmd(0.9, 1, 0, graph()), res(1.1, 1, false, json!({}))];
        assert_eq!(outcome(&s, &[], &t).0, Status::Pass);
    }

    #[test]
    fn fingerprints_are_read_from_redacted_tokens() {
        let fp = model::Fingerprint::of("x");
        assert_eq!(fingerprint_in(&format!("eyJ0eX…({fp})")), Some(fp.clone()));
        assert_eq!(fingerprint_in(fp.as_str()), Some(fp));
        assert_eq!(fingerprint_in("sha256:12"), None);
    }
}

//! `refresh.*`: renewing early when `refresh_in` says so, and serving the old token while
//! renewal fails.

use super::silent::revocations;
use super::{about, describe, Breaches, Finding, Input};
use model::scope::Ask;
use model::transcript::TranscriptEvent;
use model::verdict::{secs, Evidence};
use model::{Endpoint, GrantType, JournalEntry, TokenKind};

/// A client counts `refresh_in` from when it read the answer, later than the mock's count by
/// the answer's flight and parsing, and often on a whole-second clock that renews only once the
/// next second has begun (msal4j keeps `refreshOn` in whole seconds and renews strictly after
/// it; msal-common rounds). So a need is sure to find the token due on the client's clock only
/// `refresh_in` after the later of: the mock's answer plus 2 s (one second for the clock, one
/// for the flight), and the first time the app was handed the token plus 1 s (it had read the
/// answer by then, however slowly).
const CLOCK_US: u64 = 1_000_000;
const FLIGHT_US: u64 = 1_000_000;

/// What a command asked for: its `scopes` argument (none named: the client's default, Graph).
fn command_ask(c: &model::transcript::TranscriptEntry) -> Ask {
    let scopes: Vec<String> = match &c.event {
        TranscriptEvent::Command { args, .. } => args
            .get("scopes")
            .and_then(serde_json::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        _ => vec![],
    };
    Ask::of(&scopes)
}

/// What an access token answers: the scopes it was issued for, or those asked for.
fn token_ask(e: &JournalEntry, at: &model::IssuedToken) -> Ask {
    Ask::of(if at.scopes.is_empty() {
        &e.scopes
    } else {
        &at.scopes
    })
}

/// Whether `x` is a token request of the same client for the same resource as `e` (a renewal
/// of its token, whatever permissions or spelling it asks with).
fn renews(x: &JournalEntry, e: &JournalEntry, ask: &Ask) -> bool {
    x.endpoint == Endpoint::Token
        && x.seq != e.seq
        && x.client_id == e.client_id
        && Ask::of(&x.scopes).resources == ask.resources
}

/// When the app was first handed the access token `fp` (an answer carrying it).
fn first_handout(input: &Input<'_>, fp: &model::Fingerprint) -> Option<u64> {
    input.transcript.iter().find_map(|t| match &t.event {
        TranscriptEvent::Result { ok: true, body, .. } => body
            .get("access_token")
            .and_then(serde_json::Value::as_str)
            .and_then(super::client::fingerprint_in)
            .filter(|f| f == fp)
            .map(|_| t.at_us),
        _ => None,
    })
}

/// `refresh.proactive`: after `refresh_in` elapses (and before expiry), a need for the token
/// leads to a renewal instead of serving the old token forever.
pub fn proactive(input: &Input<'_>) -> Finding {
    // (entry, due on the mock's clock, due on any client's clock, expiry)
    let with_refresh_in: Vec<(&JournalEntry, u64, u64, u64)> = input
        .client_requests()
        .filter(|e| e.endpoint == Endpoint::Token && e.status == 200)
        .filter_map(|e| {
            let at = e.issued_of(TokenKind::Access)?;
            let r = at.refresh_in? * 1_000_000;
            let issued = e.finished_us.unwrap_or(e.arrived_us);
            let read_by = first_handout(input, &at.fingerprint)
                .map_or(0, |t| t + CLOCK_US)
                .max(issued + FLIGHT_US + CLOCK_US);
            Some((
                e,
                issued + r,
                read_by + r,
                issued + at.expires_in.unwrap_or(0) * 1_000_000,
            ))
        })
        .collect();
    if with_refresh_in.is_empty() {
        return Finding::na("no token came with refresh_in");
    }
    let mut situations = 0;
    let mut ev = Vec::new();
    for (e, due, surely_due, expires) in with_refresh_in {
        let Some(at) = e.issued_of(TokenKind::Access) else {
            continue;
        };
        let ask = token_ask(e, at);
        // A need for what this token answers, from when the client's clock must have reached
        // `refresh_in`: earlier needs are rightly served from the cache.
        let asked_after: Vec<u64> = input
            .commands("acquire_token")
            .filter(|c| ask.covers(&command_ask(c)))
            .map(|c| c.at_us)
            .filter(|t| *t >= surely_due && *t < expires)
            .collect();
        let Some(&first_need) = asked_after.first() else {
            continue;
        };
        situations += 1;
        // Any later request for the same token renews it: one made a little before
        // `refresh_in` elapsed (a cache rounding its clock to seconds) still replaced the
        // token; asking too early is cache.reuse's business, not this rule's.
        let renewed = input
            .client_requests()
            .any(|x| x.arrived_us > e.arrived_us && x.arrived_us < expires && renews(x, e, &ask));
        if !renewed {
            ev.push(about(
                e,
                format!(
                    "token issued at {} with refresh_in {} s: renewable from {}, due on any client clock by {}",
                    secs(e.finished_us.unwrap_or(e.arrived_us)),
                    (due - e.finished_us.unwrap_or(e.arrived_us)) / 1_000_000,
                    secs(due),
                    secs(surely_due)
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
        Finding::na(
            "the app did not need a token once refresh_in had surely elapsed on the client's clock",
        )
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
            || !e.delivered()
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
    let issued: Vec<(&JournalEntry, Ask, u64, u64)> = input
        .client_requests()
        .filter(|e| e.endpoint == Endpoint::Token && e.status == 200)
        .filter_map(|e| {
            let at = e.issued_of(TokenKind::Access)?;
            let t = e.finished_us.unwrap_or(e.arrived_us);
            Some((
                e,
                token_ask(e, at),
                t,
                t + at.expires_in.unwrap_or(0) * 1_000_000,
            ))
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
        // The token the failed request was renewing: the latest still valid of the same client
        // for the same resource.
        let Some((tok, ask, issued_at, expires)) = issued
            .iter()
            .rev()
            .find(|(e, ask, t, exp)| *t < f.arrived_us && f.arrived_us < *exp && renews(f, e, ask))
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
        // A token the resource rejected (a 401 presenting it) is not one to serve any more.
        let rejected = tok.issued_of(TokenKind::Access).and_then(|at| {
            input
                .journal
                .iter()
                .filter(|e| e.status == 401 && e.arrived_us > *issued_at)
                .filter(|e| {
                    e.presented
                        .as_ref()
                        .is_some_and(|p| p.fingerprint == at.fingerprint)
                })
                .map(|e| e.arrived_us)
                .min()
        });
        let until = (*expires)
            .min(ended_for_good)
            .min(rejected.unwrap_or(u64::MAX));
        for c in input
            .commands("acquire_token")
            .filter(|c| ask.covers(&command_ask(c)))
        {
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
    use model::Endpoint;

    fn app() -> model::scenario::Scenario {
        judging("refresh.proactive")
    }

    fn judging(rule: &str) -> model::scenario::Scenario {
        serde_saphyr::from_str(&format!("name: t\nsummary: t\nflow: client_credentials\nrules: [{rule}]\nsteps: [{{acquire_token: {{}}}}]\n")).unwrap()
    }

    /// A renewal at 6 s answered 200 with a token, dribbled out by a fault; the client gave up
    /// reading at 16 s, so the token never reached it.
    fn abandoned_renewal() -> model::JournalEntry {
        let mut e = token(2, 6.0, 5);
        e.fault = Some("dribble".into());
        e.completion = model::Completion::ClientDisconnected;
        e.finished_us = Some(16_000_000);
        e
    }

    /// `acquire_token` (command `id`) at `at` s, answered `ok` 1 ms later.
    fn need(at: f64, id: u64, ok: bool) -> Vec<TranscriptEntry> {
        let mut t = needs(&[at]).split_off(1);
        for e in &mut t {
            match &mut e.event {
                TranscriptEvent::Command { id: i, .. } => *i = id,
                TranscriptEvent::Result { id: i, ok: o, .. } => {
                    *i = id;
                    *o = ok;
                }
                _ => {}
            }
        }
        t
    }

    /// The app failed at 16 s while its first token was valid for an hour: the renewal the
    /// client abandoned is a failed renewal, not a token it held.
    #[test]
    fn an_answer_the_client_never_finished_reading_is_a_failed_renewal() {
        let j = [token(1, 1.0, 5), abandoned_renewal()];
        let mut t = needs(&[1.0]);
        t.extend(need(16.0, 2, false));
        let (st, ev) = judged(
            "refresh.outage-tolerant",
            &judging("refresh.outage-tolerant"),
            &j,
            &t,
            &[],
            &[],
        );
        assert_eq!(st, Status::Fail, "{ev:?}");
        // Delivered, the same answer is a renewal that worked: nothing to tolerate.
        let mut sent = abandoned_renewal();
        sent.completion = model::Completion::Sent;
        let (st, _) = judged(
            "refresh.outage-tolerant",
            &judging("refresh.outage-tolerant"),
            &[token(1, 1.0, 5), sent],
            &t,
            &[],
            &[],
        );
        assert_eq!(st, Status::NotApplicable);
    }

    /// Asking again after giving up on a dribbled answer is no cache miss: the client never
    /// got the token in it.
    #[test]
    fn a_token_the_client_never_received_is_not_one_it_should_have_reused() {
        // The first token is renewable from 6 s; the abandoned answer's would not have been
        // for 3000 s, so asking at 21 s would be a needless request had the client got it.
        let mut j = vec![token(1, 1.0, 5), abandoned_renewal(), token(3, 21.0, 5)];
        j[1].issued[0].refresh_in = Some(3000);
        let mut t = needs(&[1.0]);
        t.extend(need(6.0, 2, true));
        t.extend(need(21.0, 3, true));
        let (st, ev) = judged("cache.reuse", &judging("cache.reuse"), &j, &t, &[], &[]);
        assert_eq!(st, Status::Pass, "{ev:?}");
        // Had the client got it, the request at 21 s would be needless.
        j[1].completion = model::Completion::Sent;
        let (st, ev) = judged("cache.reuse", &judging("cache.reuse"), &j, &t, &[], &[]);
        assert_eq!(st, Status::Fail, "{ev:?}");
    }

    /// A token answer at `at` s carrying `refresh_in`.
    fn token(seq: u64, at: f64, refresh_in: u64) -> model::JournalEntry {
        let mut e = entry(seq, at, Endpoint::Token, 200);
        e.issued[0].refresh_in = Some(refresh_in);
        e
    }

    /// `acquire_token` commands at these times, each answered 1 ms later.
    fn needs(at: &[f64]) -> Vec<TranscriptEntry> {
        let mut t = vec![TranscriptEntry {
            at_us: 0,
            event: TranscriptEvent::Started {
                pid: 1,
                incarnation: 1,
            },
        }];
        for (i, s) in at.iter().enumerate() {
            let us = (s * 1e6) as u64;
            let id = i as u64 + 1;
            t.push(TranscriptEntry {
                at_us: us,
                event: TranscriptEvent::Command {
                    id,
                    op: "acquire_token".into(),
                    args: serde_json::Value::Null,
                    step: 0,
                    deadline_ms: 1000,
                },
            });
            t.push(TranscriptEntry {
                at_us: us + 1000,
                event: TranscriptEvent::Result {
                    id,
                    ok: true,
                    body: serde_json::Value::Null,
                },
            });
        }
        t
    }

    fn status(j: &[model::JournalEntry], t: &[TranscriptEntry]) -> (Status, Vec<String>) {
        judged("refresh.proactive", &app(), j, t, &[], &[])
    }

    /// msal4j's clock: the answer sent at 10.002 s is parsed at 10.3 s, `refreshOn` is
    /// 10 + 5 = 15 in whole seconds, and it renews only when the whole second passes 15, so
    /// from 16.0 s. The mock counts the token due at 15.002 s.
    #[test]
    fn a_need_inside_a_whole_second_clock_and_the_flight_is_rightly_served_from_the_cache() {
        let j = [token(1, 10.0, 5)];
        // Needs each second, the last at 15.9 s: the client's clock says 15, not yet past
        // refresh_on, so the cached token is right.
        let t = needs(&[11.0, 12.0, 13.0, 14.0, 15.0, 15.9]);
        assert_eq!(status(&j, &t).0, Status::NotApplicable);
        // Past the client's second: a renewal at the need is right (judged by the need at
        // 17.9 s, past the allowance) ...
        let t = needs(&[11.0, 13.0, 15.9, 16.9, 17.9]);
        assert_eq!(
            status(&[token(1, 10.0, 5), token(2, 16.9, 5)], &t).0,
            Status::Pass
        );
    }

    #[test]
    fn a_need_after_the_allowance_without_a_renewal_fails_with_the_times() {
        // ... and the old token served at 17.1 s, past 15.002 + 2 s, is no-renewal.
        let j = [token(1, 10.0, 5)];
        let t = needs(&[11.0, 15.9, 17.1, 18.1]);
        let (st, ev) = status(&j, &t);
        assert_eq!(st, Status::Fail);
        assert!(
            ev.iter().any(|e| e.contains("renewable from 15.002")
                && e.contains("due on any client clock by 17.002")),
            "{ev:?}"
        );
        assert!(ev.iter().any(|e| e.starts_with("2 request(s)")), "{ev:?}");
        // Just inside the allowance (17.0 s < 17.002 s) is not yet a need that must renew.
        assert_eq!(
            status(&j, &needs(&[11.0, 15.9, 17.0])).0,
            Status::NotApplicable
        );
    }

    /// A slow client (a garbage collection, a loaded machine) read the answer sent at 10.002 s
    /// only at 12.4 s and handed the token out at 12.5 s: on its whole-second clock the token is
    /// due at 12 + 5 = 17 and renewed from 18.0 s. A need at 17.5 s rightly gets the old token;
    /// the rule counts from 12.5 + 1 + 5 = 18.5 s.
    #[test]
    fn a_slowly_read_answer_is_counted_from_when_the_app_got_its_token() {
        let j = [token(1, 10.0, 5)];
        let mut t = needs(&[10.0, 17.5]);
        // The first command's answer hands out the token at 12.5 s.
        let fp = j[0].issued[0].fingerprint.to_string();
        if let TranscriptEvent::Result { body, .. } = &mut t[2].event {
            *body = serde_json::json!({ "access_token": format!("eyJ...{fp}") });
        }
        t[2].at_us = 12_500_000;
        assert_eq!(status(&j, &t).0, Status::NotApplicable);
        // Past that, the old token is no-renewal, evidence naming the later time.
        t.extend(needs(&[18.6]).into_iter().skip(1).map(|mut e| {
            match &mut e.event {
                TranscriptEvent::Command { id, .. } | TranscriptEvent::Result { id, .. } => *id = 9,
                _ => {}
            }
            e
        }));
        let (st, ev) = status(&j, &t);
        assert_eq!(st, Status::Fail);
        assert!(
            ev.iter()
                .any(|e| e.contains("due on any client clock by 18.500")),
            "{ev:?}"
        );
    }

    /// `acquire_token` commands for `scopes` at these times, numbered from `first`, answered ok.
    fn needs_for(scopes: &[&str], at: &[f64], first: u64) -> Vec<TranscriptEntry> {
        let mut t = needs(at).split_off(1);
        for e in &mut t {
            match &mut e.event {
                TranscriptEvent::Command { id, args, .. } => {
                    *id += first;
                    *args = serde_json::json!({ "scopes": scopes });
                }
                TranscriptEvent::Result { id, .. } => *id += first,
                _ => {}
            }
        }
        t
    }

    fn for_resource(mut e: model::JournalEntry, scopes: &[&str]) -> model::JournalEntry {
        e.scopes = scopes.iter().map(|s| s.to_string()).collect();
        for t in &mut e.issued {
            t.scopes = e.scopes.clone();
        }
        e
    }

    /// A token for another resource is not what a need for Graph asks for, and a renewal
    /// spelled differently (another permission of the same resource) still renews.
    #[test]
    fn needs_and_renewals_are_matched_by_resource() {
        let orders = for_resource(token(1, 1.0, 5), &["api://orders/.default"]);
        let graph = for_resource(
            token(2, 1.0, 3000),
            &["https://graph.microsoft.com/User.Read"],
        );
        let mut t = needs_for(&["api://orders/.default"], &[1.0], 0);
        t.extend(needs_for(&["User.Read"], &[1.0, 9.0, 10.0], 10));
        // The app needed only Graph after the Orders token was due: nothing to judge.
        assert_eq!(
            status(&[orders.clone(), graph.clone()], &t).0,
            Status::NotApplicable
        );
        // It needed Orders at 9 s: renewed with the scope spelled by its app id URI's
        // permission, it passes; not renewed, it fails.
        t.extend(needs_for(&["api://orders/.default"], &[9.5], 20));
        let renewal = for_resource(token(3, 9.5, 5), &["API://orders/Orders.Read", "openid"]);
        assert_eq!(
            status(&[orders.clone(), graph.clone(), renewal], &t).0,
            Status::Pass
        );
        let (st, ev) = status(&[orders, graph], &t);
        assert_eq!(st, Status::Fail, "{ev:?}");
    }

    /// The Orders renewal fails while only the Graph token is valid: the app failing its Orders
    /// need had no valid token to serve; failing a Graph need would be a breach.
    #[test]
    fn outage_tolerance_counts_only_a_valid_token_for_what_was_asked() {
        let graph = for_resource(
            token(1, 1.0, 3000),
            &["https://graph.microsoft.com/.default"],
        );
        let failed = for_resource(
            entry(2, 20.0, Endpoint::Token, 503),
            &["api://orders/.default"],
        );
        let rule = "refresh.outage-tolerant";
        let mut t = needs_for(&["api://orders/.default"], &[20.0], 0);
        if let TranscriptEvent::Result { ok, .. } = &mut t[1].event {
            *ok = false;
        }
        t[1].at_us = 20_100_000;
        let (st, ev) = judged(
            rule,
            &judging(rule),
            &[graph.clone(), failed.clone()],
            &t,
            &[],
            &[],
        );
        assert_eq!(st, Status::NotApplicable, "{ev:?}");
        // An Orders token valid then, and the same failure: a breach.
        let orders = for_resource(token(3, 2.0, 3000), &["api://orders/.default"]);
        let (st, ev) = judged(rule, &judging(rule), &[graph, orders, failed], &t, &[], &[]);
        assert_eq!(st, Status::Fail, "{ev:?}");
    }

    /// Graph rejects the token with a plain 401 at 0.44 s; the client asks for a new one and the
    /// token endpoint is down: failing the app then is right, the rejected token is no longer one
    /// to serve. Without the 401 the same failures are a breach.
    #[test]
    fn a_token_the_resource_rejected_ends_its_claim_to_be_served() {
        let rule = "refresh.outage-tolerant";
        let tok = token(1, 0.1, 3000);
        let mut rejected = entry(2, 0.44, Endpoint::Graph, 401);
        rejected.presented = Some(model::PresentedToken {
            kind: model::TokenKind::Access,
            fingerprint: tok.issued[0].fingerprint.clone(),
            uti: None,
        });
        let down = entry(3, 0.45, Endpoint::Token, 503);
        let mut t = needs(&[0.1]);
        t.extend(need(1.0, 2, false));
        let (st, ev) = judged(
            rule,
            &judging(rule),
            &[tok.clone(), rejected, down.clone()],
            &t,
            &[],
            &[],
        );
        assert_eq!(st, Status::Pass, "{ev:?}");
        let (st, ev) = judged(rule, &judging(rule), &[tok, down], &t, &[], &[]);
        assert_eq!(st, Status::Fail, "{ev:?}");
    }

    /// The run's last token was renewed at 16.9 s; the run ends at 22.5 s, inside that token's
    /// allowance (due 21.902, sure by 23.902): the first token's renewal is judged, the second's
    /// is not a situation, and the client passes.
    #[test]
    fn the_runs_last_token_due_inside_the_allowance_does_not_fail_a_renewing_client() {
        let j = [token(1, 10.0, 5), token(2, 16.9, 5)];
        let t = needs(&[11.0, 13.0, 15.9, 16.9, 18.0, 20.0, 22.0, 22.5]);
        assert_eq!(status(&j, &t).0, Status::Pass);
        // A client that renewed the first token and then kept the second past its allowance
        // fails on the second.
        let t = needs(&[11.0, 13.0, 15.9, 16.9, 18.0, 20.0, 22.0, 24.0]);
        let (st, ev) = status(&j, &t);
        assert_eq!(st, Status::Fail);
        assert!(
            ev.iter().any(|e| e.contains("renewable from 21.902")),
            "{ev:?}"
        );
    }
}

//! Rules about the token cache: reuse while valid, persistence across restarts, protection
//! of what is persisted.

use super::flight::Window;
use super::{about, describe, incarnation_of, incarnations, scope_key, Breaches, Finding, Input};
use model::scope::Ask;
use model::verdict::{secs, Evidence};
use model::{Endpoint, Fingerprint, GrantType, JournalEntry, TokenKind};
use rustc_hash::FxHashMap as HashMap;

/// The granularity of lifetimes on the wire (`expires_in`, `refresh_in`: whole seconds).
const CLOCK_GRANULARITY_US: u64 = 1_000_000;

/// An access token the mock issued: who for, which scopes, from when it is renewable.
struct Issued<'a> {
    entry: &'a JournalEntry,
    client: Option<&'a str>,
    /// Shared between tokens issued for the same scopes (read once per scope list).
    ask: std::rc::Rc<Ask>,
    issued_at: u64,
    renewable_from: u64,
    expires_at: u64,
}

fn issued_tokens<'a>(input: &'a Input<'_>, rule: &str) -> Vec<Issued<'a>> {
    let window = input.renewal_window(rule).as_micros() as u64;
    let mut asks: HashMap<&'a [String], std::rc::Rc<Ask>> = HashMap::default();
    input
        .client_requests()
        .filter(|e| e.endpoint == Endpoint::Token && e.status == 200)
        .filter_map(|e| {
            let at = e.issued_of(TokenKind::Access)?;
            let issued_at = e.finished_us.unwrap_or(e.arrived_us);
            let life = at.expires_in.unwrap_or(0) * 1_000_000;
            // Clients count `expires_in` and `refresh_in` (whole seconds on the wire) from
            // when they began the request, often on a whole-second clock (MSAL does both), so
            // renewal is allowed from one second before the boundary as measured from when the
            // request can have begun: its arrival, or, when a command was in progress, when
            // the oldest such command was sent (msal-node reads its clock before sending, and
            // on a loaded machine the request arrives a second or more later). A renewal that
            // early is conservative, not a cache miss.
            let start = super::flight::oldest_outstanding_command(input, e.arrived_us)
                .map_or(e.arrived_us, |sent| sent.min(e.arrived_us));
            let by_window = start + life.saturating_sub(window);
            let by_refresh_in = at.refresh_in.map_or(u64::MAX, |r| start + r * 1_000_000);
            Some(Issued {
                entry: e,
                client: e.client_id.as_deref(),
                ask: {
                    let scopes = if at.scopes.is_empty() {
                        &e.scopes[..]
                    } else {
                        &at.scopes[..]
                    };
                    asks.entry(scopes)
                        .or_insert_with(|| std::rc::Rc::new(Ask::of(scopes)))
                        .clone()
                },
                issued_at,
                renewable_from: by_window
                    .min(by_refresh_in)
                    .saturating_sub(CLOCK_GRANULARITY_US),
                expires_at: issued_at + life,
            })
        })
        .collect()
}

/// A token request that answers a claims challenge (CAE) legitimately bypasses the cache.
fn answers_a_challenge(e: &JournalEntry) -> bool {
    e.claims
        .as_ref()
        .and_then(|c| c.get("access_token"))
        .and_then(|a| a.as_object())
        .is_some_and(|a| a.keys().any(|k| k != "xms_cc"))
}

/// When the resource first rejected each token (a 401 presenting it): a token rejected before a
/// request can't be what the request should have reused.
fn first_rejections<'a>(input: &'a Input<'_>) -> HashMap<&'a Fingerprint, u64> {
    let mut first: HashMap<&Fingerprint, u64> = HashMap::default();
    for e in input.journal.iter().filter(|e| e.status == 401) {
        if let Some(p) = &e.presented {
            let at = first.entry(&p.fingerprint).or_insert(e.arrived_us);
            *at = (*at).min(e.arrived_us);
        }
    }
    first
}

/// Requests for a new token while a cached one is valid, within one incarnation (`same`)
/// or across a restart (`!same`).
///
/// One pass over the requests in arrival order (the journal's sequence order, `Idp::arrive`),
/// with the tokens that could answer each kept per client: a token joins once it was sent, and
/// leaves once a request reaches its renewal point (every later request does too), so each
/// token is added and removed once.
fn needless(input: &Input<'_>, rule: &str, same_incarnation: bool) -> (usize, Vec<Evidence>) {
    let starts = incarnations(input);
    let mut tokens = issued_tokens(input, rule);
    tokens.sort_by_key(|t| t.issued_at);
    let rejected = first_rejections(input);
    // A request counts as early only if it comes more than the tolerance before the
    // renewal point (client and mock clocks differ by the response's flight).
    let tol = input.tolerance_us(rule);
    let mut chances = 0;
    let mut evidence = Vec::new();
    let (mut omitted, mut omitted_at) = (0usize, 0u64);
    // Most requests ask for the same few scope lists: each is read once.
    let mut asked_memo: HashMap<&[String], Ask> = HashMap::default();
    let all: Vec<&JournalEntry> = input
        .client_requests()
        .filter(|e| matches!(e.endpoint, Endpoint::Token | Endpoint::Authorize))
        .collect();
    let mut of_client: HashMap<Option<&str>, Vec<&JournalEntry>> = HashMap::default();
    for e in &all {
        of_client.entry(e.client_id.as_deref()).or_default().push(e);
    }
    let mut windows: HashMap<u64, Window> = HashMap::default();
    // The tokens that may still answer a request, per client, in journal order.
    let mut live: HashMap<Option<&str>, Vec<&Issued<'_>>> = HashMap::default();
    let mut next = 0;
    for r in all.iter().copied() {
        if r.endpoint == Endpoint::Token && answers_a_challenge(r) {
            continue;
        }
        if matches!(r.grant_type, Some(GrantType::DeviceCode)) {
            continue; // polls of a device code in progress
        }
        while let Some(t) = tokens.get(next).filter(|t| t.issued_at <= r.arrived_us) {
            let list = live.entry(t.client).or_default();
            let at = list.partition_point(|x| x.entry.seq < t.entry.seq);
            list.insert(at, t);
            next += 1;
        }
        let inc = incarnation_of(&starts, r.arrived_us);
        let key = scope_key(&r.scopes);
        let asked: &Ask = asked_memo
            .entry(&r.scopes[..])
            .or_insert_with(|| Ask::of(&r.scopes));
        let still_due = |t: &&Issued<'_>| r.arrived_us + tol < t.renewable_from;
        let answers = |t: &&Issued<'_>| {
            t.issued_at <= r.arrived_us
                && still_due(t)
                && (incarnation_of(&starts, t.issued_at) == inc) == same_incarnation
                // The same account: on-behalf-of tokens are per user assertion.
                && (r.grant_type != Some(GrantType::JwtBearer)
                    || t.entry.presented.as_ref().map(|p| &p.fingerprint)
                        == r.presented.as_ref().map(|p| &p.fingerprint))
                // A token for these scopes or more answers the request.
                && (key.is_empty() || t.ask.covers(asked))
                // Not a token the resource had already rejected.
                && t
                    .entry
                    .issued_of(TokenKind::Access)
                    .and_then(|i| rejected.get(&i.fingerprint))
                    .is_none_or(|first| *first >= r.arrived_us)
        };
        // A sign-in may be answered by any client's token; a token request by its own client's.
        let cached: Option<&Issued<'_>> = if r.endpoint == Endpoint::Authorize {
            let mut first: Option<&Issued<'_>> = None;
            for list in live.values_mut() {
                list.retain(still_due);
                if let Some(t) = list.iter().find(|t| answers(t)) {
                    if first.is_none_or(|f| t.entry.seq < f.entry.seq) {
                        first = Some(t);
                    }
                }
            }
            first
        } else {
            live.get_mut(&r.client_id.as_deref()).and_then(|list| {
                list.retain(still_due);
                list.iter().find(|t| answers(t)).copied()
            })
        };
        // A request already on its way when the token was sent (concurrent commands that each
        // missed the cache before the answer came) is single-flight's business.
        let cached = cached.filter(|t| {
            let window = windows.entry(t.entry.seq).or_insert_with(|| {
                let same = of_client
                    .get(&t.entry.client_id.as_deref())
                    .map_or(&[][..], Vec::as_slice);
                Window::of(input, t.entry, same)
            });
            !window.in_flight(input, r)
        });
        if let (Some(_), true) = (cached, evidence.len() >= super::MAX_EVIDENCE) {
            // Past the cap: counted, not described (a fleet's journal can hold a million).
            if omitted == 0 {
                omitted_at = r.arrived_us;
            }
            omitted += 1;
        } else if let Some(t) = cached {
            evidence.push(about(
                t.entry,
                format!(
                    "access token issued at {}, valid until {}, renewable from {}",
                    secs(t.issued_at),
                    secs(t.expires_at),
                    secs(t.renewable_from)
                ),
            ));
            evidence.push(about(r, format!("yet {}", describe(r))));
        }
        chances += 1;
    }
    if omitted > 0 {
        evidence.push(super::more_evidence(omitted, omitted_at));
    }
    (chances, evidence)
}

/// `cache.reuse`: no new token request while a token for the same scopes is valid and
/// outside its renewal window.
pub fn reuse(input: &Input<'_>) -> Finding {
    let asks = input.commands("acquire_token").count()
        + input.commands("call_api").count()
        + input.commands("whoami").count();
    // Observed apps send no commands: any token request while a cached one is valid counts.
    if (asks < 2 && !input.observed) || issued_tokens(input, "cache.reuse").is_empty() {
        return Finding::na("the app never needed a token twice");
    }
    let (_, ev) = needless(input, "cache.reuse", true);
    if ev.is_empty() {
        Finding::pass("every repeated need was served from the cache")
    } else {
        Finding::fail(
            "needless-request",
            "the client asked the identity provider again while its cached token was valid",
            ev,
        )
    }
}

/// `cache.persist`: after a restart, no sign-in and no token request while a persisted
/// access token is valid; once it has expired, a refresh token rather than a prompt.
pub fn persist(input: &Input<'_>) -> Finding {
    let starts = incarnations(input);
    if starts.len() < 2 {
        return Finding::na("the client was never restarted");
    }
    let (_, needless_ev) = needless(input, "cache.persist", false);
    let mut b = Breaches::default();
    if !needless_ev.is_empty() {
        b.add("needless-request-after-restart", needless_ev);
    }
    // Expired persisted tokens: a user flow must refresh, not prompt, while the refresh token
    // it persisted is one the identity provider would honour (not revoked, refused or run out).
    let had_refresh = |restart: u64, at: u64| {
        super::silent::honourable_persisted_rt(input, at).is_some_and(|e| e.arrived_us < restart)
    };
    for r in input
        .client_requests()
        .filter(|e| e.endpoint == Endpoint::Authorize)
    {
        let inc = incarnation_of(&starts, r.arrived_us);
        if inc >= 2 && had_refresh(starts[inc - 1], r.arrived_us) {
            let refreshed_first = input.client_requests().any(|e| {
                e.grant_type == Some(GrantType::RefreshToken)
                    && e.arrived_us >= starts[inc - 1]
                    && e.arrived_us < r.arrived_us
            });
            if !refreshed_first {
                b.add(
                    "prompt-after-restart",
                    [about(
                        r,
                        format!(
                            "after the restart at {}, a sign-in ({}) instead of the persisted refresh token",
                            secs(starts[inc - 1]),
                            describe(r)
                        ),
                    )],
                );
            }
        }
    }
    b.finding(
        "after each restart the client used what it had persisted",
        "after a restart the client did not use its persisted tokens",
    )
}

/// `cache.protected`: state files readable by the owner only, and no issued token in them in
/// plain text.
pub fn protected(input: &Input<'_>) -> Finding {
    if input.state_files.is_empty() {
        return Finding::na("the client wrote nothing to its state directory");
    }
    let end = input.transcript.last().map_or(0, |e| e.at_us);
    let mut b = Breaches::default();
    for f in input.state_files {
        if f.may_hold_secret && f.mode & 0o077 != 0 {
            b.add(
                "readable-by-others",
                [Evidence {
                    at_us: end,
                    what: format!(
                        "{} has mode {:o}: readable by group or others",
                        f.path, f.mode
                    ),
                    seq: None,
                }],
            );
        }
        if !f.plaintext_tokens.is_empty() {
            let fps: Vec<&str> = f.plaintext_tokens.iter().map(|t| t.as_str()).collect();
            b.add(
                "readable-token",
                [Evidence {
                    at_us: end,
                    what: format!(
                        "{} holds {} issued token(s) in plain text (or merely encoded): {}",
                        f.path,
                        fps.len(),
                        fps.join(", ")
                    ),
                    seq: None,
                }],
            );
        }
    }
    b.finding(
        "the state directory is owner-only and holds no token in the clear",
        "the persisted cache is not protected",
    )
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use model::transcript::{TranscriptEntry, TranscriptEvent};
    use model::verdict::Status;
    use model::StateFile;
    use model::{Endpoint, GrantType, TokenKind};

    fn cmd(at_s: f64, id: u64) -> TranscriptEntry {
        TranscriptEntry {
            at_us: (at_s * 1e6) as u64,
            event: TranscriptEvent::Command {
                id,
                op: "acquire_token".into(),
                args: serde_json::Value::Null,
                step: 0,
                deadline_ms: 60_000,
            },
        }
    }
    fn started(at_s: f64, n: u32) -> TranscriptEntry {
        TranscriptEntry {
            at_us: (at_s * 1e6) as u64,
            event: TranscriptEvent::Started {
                pid: 1,
                incarnation: n,
            },
        }
    }
    /// `cache.reuse`'s status over a journal and transcript (no state files).
    fn reuse(j: &[model::JournalEntry], t: &[TranscriptEntry]) -> Status {
        verdict("cache.reuse", j, t, &[]).0
    }

    fn verdict(
        rule: &str,
        j: &[model::JournalEntry],
        t: &[TranscriptEntry],
        files: &[StateFile],
    ) -> (Status, Vec<String>) {
        judged(rule, &scenario(&format!("[{rule}]"), ""), j, t, files, &[])
    }

    #[test]
    fn reuse_pass_fail_na() {
        let t = vec![started(0.0, 1), cmd(1.0, 1), cmd(2.0, 2), cmd(3.0, 3)];
        assert_eq!(
            reuse(&[entry(1, 1.0, Endpoint::Token, 200)], &t),
            Status::Pass
        );
        let (st, ev) = verdict(
            "cache.reuse",
            &[
                entry(1, 1.0, Endpoint::Token, 200),
                entry(2, 2.0, Endpoint::Token, 200),
            ],
            &t,
            &[],
        );
        assert_eq!(st, Status::Fail);
        assert!(
            ev[0].contains("renewable from") && ev[1].contains("at 2.000 s"),
            "{ev:?}"
        );
        // A token for other scopes is not a reuse breach.
        let mut other = entry(2, 2.0, Endpoint::Token, 200);
        other.scopes = vec!["api://orders/.default".into()];
        assert_eq!(
            reuse(&[entry(1, 1.0, Endpoint::Token, 200), other], &t),
            Status::Pass
        );
        // In the renewal window, a new request is allowed (a token of 305 s is renewable after 5 s).
        let mut short = entry(1, 1.0, Endpoint::Token, 200);
        short.issued[0].expires_in = Some(305);
        assert_eq!(
            reuse(&[short.clone(), entry(2, 6.1, Endpoint::Token, 200)], &t),
            Status::Pass
        );
        // Up to a second before the boundary (whole-second lifetimes, counted from the
        // request) is conservative, not a miss; earlier is a breach.
        assert_eq!(
            reuse(&[short.clone(), entry(2, 5.3, Endpoint::Token, 200)], &t),
            Status::Pass
        );
        assert_eq!(
            reuse(&[short, entry(2, 4.5, Endpoint::Token, 200)], &t),
            Status::Fail
        );
        // One need only: not applicable.
        assert_eq!(
            reuse(
                &[entry(1, 1.0, Endpoint::Token, 200)],
                &[started(0.0, 1), cmd(1.0, 1)]
            ),
            Status::NotApplicable
        );
    }

    /// A request that arrives long after its command was sent (a loaded machine): the client
    /// read its clock when it began, so the token's life counts from the command, not from the
    /// arrival. A renewal before even that boundary is still a miss.
    #[test]
    fn reuse_counts_from_when_the_request_can_have_begun() {
        let res = |at_s: f64, id: u64| TranscriptEntry {
            at_us: (at_s * 1e6) as u64,
            event: TranscriptEvent::Result {
                id,
                ok: true,
                body: serde_json::Value::Null,
            },
        };
        // The first command was sent at 1.0, its request arrived 1.2 s later.
        let t = vec![started(0.0, 1), cmd(1.0, 1), res(2.3, 1), cmd(5.3, 2)];
        let mut short = entry(1, 2.2, Endpoint::Token, 200);
        short.issued[0].expires_in = Some(305);
        // Renewable from 1.0 + 5 - 1 = 5.0 counted from the command (6.2 from the arrival).
        assert_eq!(
            reuse(&[short.clone(), entry(2, 5.3, Endpoint::Token, 200)], &t),
            Status::Pass
        );
        let t = vec![started(0.0, 1), cmd(1.0, 1), res(2.3, 1), cmd(4.5, 2)];
        assert_eq!(
            reuse(&[short, entry(2, 4.5, Endpoint::Token, 200)], &t),
            Status::Fail
        );
    }

    #[test]
    fn reuse_covers_subsets_keys_by_user_and_excuses_requests_in_flight() {
        let t = vec![started(0.0, 1), cmd(1.0, 1), cmd(2.0, 2)];
        // A token for User.Read and Mail.Read answers a request for User.Read.
        let mut both = entry(1, 1.0, Endpoint::Token, 200);
        both.issued[0].scopes = vec![
            "https://graph.microsoft.com/User.Read".into(),
            "https://graph.microsoft.com/Mail.Read".into(),
        ];
        let mut sub = entry(2, 2.0, Endpoint::Token, 200);
        sub.scopes = vec!["https://graph.microsoft.com/User.Read".into()];
        assert_eq!(reuse(&[both, sub], &t), Status::Fail);
        // On-behalf-of: another user's assertion is another account.
        let obo = |seq: u64, at: f64, user: &str| {
            let mut e = entry(seq, at, Endpoint::Token, 200);
            e.grant_type = Some(model::GrantType::JwtBearer);
            e.presented = Some(model::PresentedToken {
                kind: model::TokenKind::Access,
                fingerprint: model::Fingerprint::of(user),
                uti: None,
            });
            e
        };
        assert_eq!(
            reuse(&[obo(1, 1.0, "alice"), obo(2, 2.0, "bob")], &t),
            Status::Pass
        );
        assert_eq!(
            reuse(&[obo(1, 1.0, "alice"), obo(2, 2.0, "alice")], &t),
            Status::Fail
        );
        // Three commands at once, each missing the cache before the first answer: the
        // requests arriving just after it are in flight, not needless.
        let burst = vec![started(0.0, 1), cmd(0.9, 1), cmd(0.9, 2), cmd(0.9, 3)];
        let j = [
            entry(1, 1.0, Endpoint::Token, 200),
            entry(2, 1.01, Endpoint::Token, 200),
            entry(3, 1.02, Endpoint::Token, 200),
        ];
        assert_eq!(reuse(&j, &burst), Status::Pass);
        // With one command at a time, the same requests are needless.
        let one = vec![started(0.0, 1), cmd(0.9, 1), cmd(1.005, 2), cmd(1.015, 3)];
        assert_eq!(reuse(&j, &one), Status::Fail);
    }

    #[test]
    fn persist_pass_fail_na() {
        let t = vec![started(0.0, 1), cmd(1.0, 1), started(3.0, 2), cmd(4.0, 2)];
        assert_eq!(
            verdict(
                "cache.persist",
                &[entry(1, 1.0, Endpoint::Token, 200)],
                &t,
                &[]
            )
            .0,
            Status::Pass
        );
        let (st, ev) = verdict(
            "cache.persist",
            &[
                entry(1, 1.0, Endpoint::Token, 200),
                entry(2, 4.0, Endpoint::Token, 200),
            ],
            &t,
            &[],
        );
        assert_eq!(st, Status::Fail, "{ev:?}");
        // Within one incarnation it is cache.reuse's business, not persist's.
        let one = vec![started(0.0, 1), cmd(1.0, 1), cmd(2.0, 2)];
        assert_eq!(
            verdict(
                "cache.persist",
                &[entry(1, 1.0, Endpoint::Token, 200)],
                &one,
                &[]
            )
            .0,
            Status::NotApplicable
        );
    }

    /// After a restart, a sign-in instead of the persisted refresh token fails, unless that
    /// refresh token was revoked before: then prompting is right.
    #[test]
    fn a_prompt_after_restart_is_judged_only_while_the_persisted_refresh_token_is_honoured() {
        let mut tok = entry(1, 1.0, Endpoint::Token, 200);
        tok.grant_type = Some(GrantType::AuthorizationCode);
        // The access token is gone by the sign-in (expired at 3.002 s).
        tok.issued[0].expires_in = Some(2);
        tok.issued.push(token_of(TokenKind::Refresh, "rt"));
        let sign_in = entry(2, 4.0, Endpoint::Authorize, 302);
        let t = vec![started(0.0, 1), cmd(1.0, 1), started(3.0, 2), cmd(4.0, 2)];
        let s = scenario("[cache.persist]", "");
        let j = [tok, sign_in];
        let (st, ev) = judged("cache.persist", &s, &j, &t, &[], &[]);
        assert_eq!(st, Status::Fail, "{ev:?}");
        assert!(ev
            .iter()
            .any(|e| e.contains("instead of the persisted refresh token")));
        let revoked = [model::FiredEvent {
            name: "revoke".into(),
            action: "revoke_refresh_tokens".into(),
            at_us: 2_000_000,
        }];
        let (st, ev) = judged("cache.persist", &s, &j, &t, &[], &revoked);
        assert_eq!(st, Status::Pass, "{ev:?}");
    }

    #[test]
    fn protected_pass_fail_na() {
        let t = vec![started(0.0, 1)];
        let good = StateFile {
            path: "cache.bin".into(),
            mode: 0o600,
            len: 10,
            plaintext_tokens: vec![],
            may_hold_secret: true,
        };
        assert_eq!(
            verdict("cache.protected", &[], &t, std::slice::from_ref(&good)).0,
            Status::Pass
        );
        let open = StateFile {
            mode: 0o644,
            ..good.clone()
        };
        assert_eq!(
            verdict("cache.protected", &[], &t, std::slice::from_ref(&open)).0,
            Status::Fail
        );
        // A world-readable lock file holds no secret: not judged.
        let lock = StateFile {
            may_hold_secret: false,
            ..open
        };
        assert_eq!(verdict("cache.protected", &[], &t, &[lock]).0, Status::Pass);
        let clear = StateFile {
            plaintext_tokens: vec![model::Fingerprint::of("x")],
            ..good
        };
        let (st, ev) = verdict("cache.protected", &[], &t, &[clear]);
        assert_eq!(st, Status::Fail);
        assert!(
            ev[0].contains("plain text") && ev[0].contains("sha256:"),
            "{ev:?}"
        );
        assert_eq!(
            verdict("cache.protected", &[], &t, &[]).0,
            Status::NotApplicable
        );
    }
}

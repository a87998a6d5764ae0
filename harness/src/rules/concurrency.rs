//! `concurrency.*`: concurrent needs share one token request.

use super::{about, describe, scope_key, Finding, Input};
use model::transcript::TranscriptEvent;
use model::verdict::{secs, Evidence};
use model::{Endpoint, JournalEntry, TokenKind};

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
        // was sent, or after an earlier request of the burst had brought a token that was
        // still fresh (outside its last 300 s and before its refresh_in): the burst's needs
        // could have shared it. Renewals one after another, each finding the previous token
        // already due (an MSAL-like 300 s buffer facing short tokens), are not a breach.
        let window = input
            .renewal_window("concurrency.single-flight")
            .as_micros() as u64;
        let fresh_at = |e: &JournalEntry, at: u64| {
            e.issued_of(TokenKind::Access).is_some_and(|t| {
                let age = at.saturating_sub(e.arrived_us);
                let life = t.expires_in.unwrap_or(0) * 1_000_000;
                let due = t
                    .refresh_in
                    .map_or(u64::MAX, |r| r * 1_000_000)
                    .min(life.saturating_sub(window));
                e.finished_us.unwrap_or(e.arrived_us) <= at && age < due
            })
        };
        // A request after an earlier one's 429 or 5xx, more than a second sooner than the wait
        // that answer asked (its Retry-After, else the 5 s first back-off): the timing rules
        // excuse it as possibly in flight for a concurrent burst, so it is either another
        // concurrent request or a retry inside the wait. Either way, one more request where one
        // could serve them all (a client serialising its callers but ignoring the wait).
        let too_soon_after_failure = |p: &JournalEntry, r: &JournalEntry| {
            let sent = p.finished_us.unwrap_or(p.arrived_us);
            (p.status == 429 || p.status >= 500)
                && r.arrived_us >= sent
                && r.arrived_us + 1_000_000
                    < sent + super::retry::retry_after_us(p).unwrap_or(5_000_000)
        };
        let mut overlapping: Vec<&JournalEntry> = Vec::new();
        let mut open_until = 0u64;
        for (i, r) in reqs.iter().enumerate() {
            let shared = reqs[..i].iter().any(|p| {
                (fresh_at(p, r.arrived_us) && scope_key(&p.scopes) == scope_key(&r.scopes))
                    || too_soon_after_failure(p, r)
            });
            if i > 0 && (r.arrived_us < open_until || shared) {
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
                    "{} concurrent acquire_token commands at {}: {} token requests where one could serve them all (or requests sooner than a failed answer's wait)",
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

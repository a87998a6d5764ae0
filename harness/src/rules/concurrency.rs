//! `concurrency.*`: concurrent needs share one token request.

use super::{about, describe, Finding, Input};
use model::transcript::TranscriptEvent;
use model::verdict::{secs, Evidence};
use model::{Endpoint, JournalEntry};

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

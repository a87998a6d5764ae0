//! `backoff.*`: exponential back-off after a 5xx (or a 429) without Retry-After, and after a
//! request timed out.

use super::retry::{backoff, finish, idp_endpoint, retry_after_us, stalled};
use super::{about, describe, Breaches, Finding, Input};
use model::transcript::TranscriptEvent;
use model::verdict::{secs, Evidence};

/// `backoff.5xx`: after a 5xx (or a 429) without Retry-After from the identity provider,
/// exponential back-off from 5 s.
pub fn backoff_5xx(input: &Input<'_>) -> Finding {
    let walk = backoff(
        input,
        "backoff.5xx",
        |e| {
            idp_endpoint(e.endpoint)
                && (e.status >= 500 || e.status == 429)
                && retry_after_us(e).is_none()
        },
        "5xx or 429 without Retry-After",
        5,
    );
    finish(
        walk,
        "fast-retry",
        "the identity provider sent no 5xx or 429 without Retry-After",
        "the client backed off exponentially after every 5xx",
        "the client retried a 5xx too fast",
    )
}

/// `backoff.timeout`: the client times out a stalled request (its command is answered within
/// the step's deadline) and comes back no sooner than 5 s after giving up, growing as for 5xx.
pub fn backoff_timeout(input: &Input<'_>) -> Finding {
    let walk = backoff(
        input,
        "backoff.timeout",
        stalled,
        "stalled request given up",
        5,
    );
    let mut situations = walk.situations;
    let mut b = Breaches::default();
    if !walk.breaches.is_empty() {
        b.add("fast-retry", walk.breaches);
    }
    for t in input.transcript {
        let TranscriptEvent::Timeout { id, deadline_ms } = &t.event else {
            continue;
        };
        if super::op_of(input, *id) == Some("shutdown") {
            continue; // a slow shutdown is client.liveness's
        }
        situations += 1;
        let mut ev = vec![Evidence {
            at_us: t.at_us,
            what: format!(
                "command {id} got no answer within its {deadline_ms} ms deadline: the client did not time out its request"
            ),
            seq: None,
        }];
        // The requests the mock was holding then.
        ev.extend(
            input
                .client_requests()
                .filter(|e| e.fault.is_some() && e.arrived_us < t.at_us)
                .filter(|e| e.status == 0 || e.finished_us.is_some_and(|f| f >= t.at_us))
                .map(|e| {
                    about(
                        e,
                        format!(
                            "{} held by the mock from {} (fault {})",
                            describe(e),
                            secs(e.arrived_us),
                            e.fault.as_deref().unwrap_or_default()
                        ),
                    )
                }),
        );
        b.add("no-timeout", ev);
    }
    if situations == 0 {
        return Finding::na("no request stalled");
    }
    b.finding(
        "the client timed out stalled requests and backed off",
        "the client did not time out a stalled request, or retried too soon",
    )
}

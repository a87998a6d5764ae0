//! `device.*`: device-code polling by RFC 8628.

use super::{about, describe, Breaches, Finding, Input};
use model::transcript::TranscriptEvent;
use model::verdict::{secs, Evidence};
use model::{Endpoint, GrantType, JournalEntry};

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

//! The zoo's cases: a deliberate breakage of the reference client (its `--zoo` quirk), a
//! scenario that exercises it, and the rule that must catch it. Shared by `zoo.rs` (the client
//! as a process, on the real clock) and `virtual_time.rs` (in-process, on a paused clock).

#![allow(dead_code)]

pub const CASES: &[(&str, &str, &str)] = &[
    (
        "ignore-retry-after",
        "throttle-429-short",
        "throttle.retry-after",
    ),
    (
        "ignore-retry-after",
        "graph-429-retry-after",
        "api.retry-after",
    ),
    (
        "no-backoff",
        "outage-malformed-json",
        "robust.malformed-response",
    ),
    ("no-backoff", "refresh-renewal-5xx", "backoff.5xx"),
    ("no-backoff", "outage-token-stall", "backoff.timeout"),
    ("no-cache", "cache-reuse-app-token", "cache.reuse"),
    (
        "no-single-flight",
        "concurrency-single-flight",
        "concurrency.single-flight",
    ),
    // Single flight, but the next caller's request goes out right after the first one's 429:
    // the timing rules can't tell it from a concurrent one, single-flight counts it.
    (
        "ignore-retry-after",
        "concurrency-throttled-burst",
        "concurrency.single-flight",
    ),
    ("no-cp1", "cae-long-lived-token", "cae.capable"),
    ("no-persist", "cache-restart-app-token", "cache.persist"),
    ("plaintext-cache", "cache-protected-file", "cache.protected"),
    (
        "forced-prompt",
        "silent-no-forced-prompt",
        "silent.no-forced-prompt",
    ),
    (
        "no-refresh-token",
        "silent-expired-at-refresh",
        "silent.order",
    ),
    (
        "no-prompt-none",
        "silent-revoked-rt-prompt-none",
        "silent.prompt-none",
    ),
    (
        "ignore-refresh-in",
        "refresh-proactive-app",
        "refresh.proactive",
    ),
    (
        "no-fallback",
        "refresh-renewal-5xx",
        "refresh.outage-tolerant",
    ),
    (
        "userinfo",
        "claims-whoami-id-token",
        "claims.id-token-over-userinfo",
    ),
    (
        "directory",
        "claims-roles-in-token",
        "claims.roles-in-token",
    ),
    (
        "no-overage",
        "claims-groups-overage",
        "claims.groups-overage",
    ),
    ("no-overage", "claims-groups-overage", "claims.correct"),
    (
        "no-challenge",
        "cae-revocation-challenge",
        "cae.claims-challenge",
    ),
    ("decode-access-token", "tokens-opaque-app", "tokens.opaque"),
    ("fast-poll", "device-code-pending", "device.polling"),
    (
        "ignore-slow-down",
        "device-code-slow-down",
        "device.polling",
    ),
    (
        "drop-step-up-claims",
        "cae-challenge-interaction",
        "cae.claims-challenge",
    ),
];

/// The quirk named as `--zoo` names it.
pub fn quirks(name: &str) -> reference_client::Quirks {
    reference_client::Quirks::parse(name).unwrap_or_else(|e| panic!("{e}"))
}

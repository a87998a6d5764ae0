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
    let mut q = reference_client::Quirks::default();
    match name {
        "ignore-retry-after" => q.ignore_retry_after = true,
        "no-backoff" => q.no_backoff = true,
        "no-cache" => q.no_cache = true,
        "no-single-flight" => q.no_single_flight = true,
        "no-cp1" => q.no_cp1 = true,
        "no-persist" => q.no_persist = true,
        "plaintext-cache" => q.plaintext_cache = true,
        "forced-prompt" => q.forced_prompt = true,
        "no-refresh-token" => q.no_refresh_token = true,
        "no-prompt-none" => q.no_prompt_none = true,
        "ignore-refresh-in" => q.ignore_refresh_in = true,
        "no-fallback" => q.no_fallback = true,
        "userinfo" => q.userinfo = true,
        "directory" => q.directory = true,
        "no-overage" => q.no_overage = true,
        "no-challenge" => q.no_challenge = true,
        "decode-access-token" => q.decode_access_token = true,
        "fast-poll" => q.fast_poll = true,
        "drop-step-up-claims" => q.drop_step_up_claims = true,
        "ignore-slow-down" => q.ignore_slow_down = true,
        other => panic!("unknown quirk {other}"),
    }
    q
}

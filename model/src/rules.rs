//! The rule catalog (`docs/rules.md`): IDs are a public contract; reports, JUnit names,
//! baselines and expected-failure files key on them.
//!
//! Each rule is defined once, here: [`RuleId`] names it, and [`RuleId::rule`] gives its level,
//! guidance, what it judges and where it applies. The catalog ([`CATALOG`]), `tokenstorm rules`,
//! the set observe mode judges and the harness's dispatch (an exhaustive `match` on [`RuleId`])
//! all come from it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// MUST rules fail a run; SHOULD rules warn unless `--strict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// A fail makes the run fail.
    Must,
    /// Reported as a warning; `--strict` makes it fail.
    Should,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
        })
    }
}

/// What a rule is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A resilience behaviour from the guidance.
    Behaviour,
    /// A guard: it keeps the behaviour rules from being passed by doing nothing (a client that
    /// answers nothing, or answers wrongly). Guards alone never make a scenario conclusive.
    Guard,
}

/// One rule of the catalog.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rule {
    /// The stable ID (`throttle.retry-after`).
    pub id: RuleId,
    /// MUST or SHOULD.
    pub level: Level,
    /// The guidance it comes from.
    pub guidance: &'static str,
    /// What it judges, in one sentence.
    pub judges: &'static str,
    /// A behaviour rule or a guard.
    pub kind: Kind,
    /// Whether observe mode (no driver, the journal and state directory only) judges it.
    pub observable: bool,
    /// The names of its checks: a fail names the ones that failed (`Verdict::causes`), and an
    /// expected-failures entry accepts one of them.
    pub causes: &'static [&'static str],
}

macro_rules! rule_ids {
    ($($variant:ident => $id:literal),+ $(,)?) => {
        /// A rule's identity. Its string form (`cache.reuse`) is the public ID.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum RuleId {
            $(
                #[doc = concat!("`", $id, "`")]
                $variant,
            )+
        }

        impl RuleId {
            /// Every rule, in catalog order.
            pub const ALL: &'static [RuleId] = &[$(RuleId::$variant),+];

            /// The public ID.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(RuleId::$variant => $id,)+
                }
            }

            /// The rule with this public ID.
            pub fn parse(id: &str) -> Option<RuleId> {
                match id {
                    $($id => Some(RuleId::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

rule_ids! {
    CacheReuse => "cache.reuse",
    CachePersist => "cache.persist",
    CacheProtected => "cache.protected",
    SilentOrder => "silent.order",
    SilentPromptNone => "silent.prompt-none",
    SilentNoForcedPrompt => "silent.no-forced-prompt",
    ThrottleRetryAfter => "throttle.retry-after",
    Backoff5xx => "backoff.5xx",
    BackoffTimeout => "backoff.timeout",
    RefreshProactive => "refresh.proactive",
    RefreshOutageTolerant => "refresh.outage-tolerant",
    ClaimsIdTokenOverUserinfo => "claims.id-token-over-userinfo",
    ClaimsRolesInToken => "claims.roles-in-token",
    ClaimsGroupsOverage => "claims.groups-overage",
    ClaimsCorrect => "claims.correct",
    CaeClaimsChallenge => "cae.claims-challenge",
    CaeCapable => "cae.capable",
    ApiRetryAfter => "api.retry-after",
    TokensOpaque => "tokens.opaque",
    ConcurrencySingleFlight => "concurrency.single-flight",
    RobustMalformedResponse => "robust.malformed-response",
    RobustPermanentRefusal => "robust.permanent-refusal",
    DevicePolling => "device.polling",
    ClientOutcome => "client.outcome",
    ClientLiveness => "client.liveness",
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RuleId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RuleId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RuleId::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown rule '{s}'")))
    }
}

use Kind::{Behaviour, Guard};
use Level::{Must, Should};

const fn r(
    id: RuleId,
    level: Level,
    kind: Kind,
    observable: bool,
    guidance: &'static str,
    judges: &'static str,
    causes: &'static [&'static str],
) -> Rule {
    Rule {
        id,
        level,
        guidance,
        judges,
        kind,
        observable,
        causes,
    }
}

impl RuleId {
    /// The rule's definition.
    pub const fn rule(self) -> Rule {
        use RuleId::*;
        match self {
            CacheReuse => r(self, Must, Behaviour, true, "Cache tokens",
                "No new token request while a token the client holds for the same account and scopes (or a superset) is valid and outside its renewal window.", &["needless-request"]),
            CachePersist => r(self, Must, Behaviour, false, "Serialize and persist tokens",
                "After a restart, no sign-in and no token request while a persisted token is valid; a refresh token, not a prompt, once it has expired.", &["needless-request-after-restart", "prompt-after-restart"]),
            CacheProtected => r(self, Should, Behaviour, true, "Persistent storage has access control and encryption",
                "Files holding tokens are owner-only and hold no issued token in the clear, nor merely encoded (base64, hex, gzip).", &["readable-by-others", "readable-token"]),
            SilentOrder => r(self, Must, Behaviour, true, "Acquire tokens silently",
                "No authorize request while the client holds a refresh token the identity provider would still honour.", &["authorize-with-refresh-token"]),
            SilentPromptNone => r(self, Should, Behaviour, false, "...the app acquires a token using the prompt=none parameter",
                "When the refresh token is lost and the browser has a session, prompt=none comes before an interactive sign-in; giving up instead of signing in again does not pass.", &["interactive-without-prompt-none", "never-signed-in-again"]),
            SilentNoForcedPrompt => r(self, Must, Behaviour, true, "Don't use prompts like login and consent",
                "No prompt=login, prompt=consent or max_age=0; select_account only on a sign-in that was needed anyway.", &["forced-prompt", "forced-reauthentication", "unneeded-select-account"]),
            ThrottleRetryAfter => r(self, Must, Behaviour, true, "HTTP 429 / 5xx with Retry-After",
                "After a 429 or 5xx with Retry-After from the identity provider, nothing to the same place before it elapses (token, authorize and device code are one place; discovery and keys their own).", &["early-retry", "early-retry-within-1s"]),
            Backoff5xx => r(self, Must, Behaviour, true, "HTTP 5xx (and 429 without Retry-After): no fast retry loop, exponential back-off",
                "After a 5xx or 429 without Retry-After, retries come at least 5 s, then 10 s, 20 s ... (up to 60 s) apart.", &["fast-retry"]),
            BackoffTimeout => r(self, Must, Behaviour, true, "Request timed out: no immediate retry",
                "A stalled request is timed out within the step's deadline, and the next attempt backs off as for a 5xx.", &["no-timeout", "fast-retry"]),
            RefreshProactive => r(self, Should, Behaviour, false, "refresh_in",
                "A token needed after refresh_in elapsed is renewed before it expires.", &["no-renewal"]),
            RefreshOutageTolerant => r(self, Must, Behaviour, false, "The app runs while the old token is valid",
                "While renewal fails, the app still gets its old, valid token: MUST while more than the renewal window (300 s) remains, SHOULD in the token's last 300 s, where MSAL counts it as expired.", &["failed-with-valid-token", "failed-in-last-300s"]),
            ClaimsIdTokenOverUserinfo => r(self, Should, Behaviour, true, "Use the ID token instead of UserInfo",
                "No UserInfo call when the ID token holds what the app asks.", &["userinfo-call"]),
            ClaimsRolesInToken => r(self, Should, Behaviour, false, "Use app roles and groups in tokens",
                "No directory call to Graph for roles and groups the token carries.", &["directory-call"]),
            ClaimsGroupsOverage => r(self, Must, Behaviour, false, "Groups overage / token bloat",
                "In a groups overage, whoami returns the full group list with at most one Graph query per sign-in.", &["wrong-groups", "extra-queries"]),
            ClaimsCorrect => r(self, Must, Guard, false, "(guard)",
                "whoami answers match the claims the identity provider issued.", &["no-answer", "wrong-claims"]),
            CaeClaimsChallenge => r(self, Must, Behaviour, false, "Continuous Access Evaluation",
                "After an insufficient_claims challenge, a token request (or interactive sign-in) carrying the challenge's claims, the rejected token never presented again, one retry per challenge.", &["rejected-token-reused", "retried-before-claims", "retried-without-claims", "several-retries", "no-interaction", "dropped-claims-on-fallback"]),
            CaeCapable => r(self, Should, Behaviour, true, "CAE increases resilience with long-lived tokens",
                "Token requests declare the cp1 client capability.", &["no-cp1"]),
            ApiRetryAfter => r(self, Must, Behaviour, true, "Graph throttling",
                "After a throttling or 5xx answer from the API: nothing before Retry-After; without it, no fast retry loop (MUST, 1 s and growing) and 5 s exponential back-off (SHOULD).", &["early-retry", "early-retry-within-1s", "fast-retry", "short-backoff"]),
            TokensOpaque => r(self, Must, Behaviour, false, "Don't decode an API access token",
                "Everything works when the API's access token is opaque.", &["failed-with-opaque-token"]),
            ConcurrencySingleFlight => r(self, Should, Behaviour, false, "Reduce token acquisition calls",
                "Concurrent needs for the same token lead to one token request.", &["several-requests"]),
            RobustMalformedResponse => r(self, Must, Behaviour, true, "(resilience)",
                "A malformed answer (invalid JSON, no token, truncated, reset, closed) is a failed attempt with back-off.", &["fast-retry"]),
            RobustPermanentRefusal => r(self, Must, Behaviour, true, "No fast retry loop (4xx: a refusal for good)",
                "A request the identity provider refused for good (invalid_grant, invalid_client, unauthorized_client, interaction_required) is not sent again unchanged.", &["repeated-refused-request"]),
            DevicePolling => r(self, Must, Behaviour, true, "RFC 8628",
                "Device-code polls keep the interval, add 5 s after slow_down, and stop when told.", &["poll-too-fast", "poll-after-end", "stopped-while-pending"]),
            ClientOutcome => r(self, Must, Guard, false, "(guard)",
                "Every command is answered as its step expects; a token handed to the app was issued to it, for what it asked, and unexpired.", &["expected-ok", "expected-error", "no-recovery", "token-less-success", "unknown-token", "wrong-scopes", "wrong-account", "expired-token"]),
            ClientLiveness => r(self, Must, Guard, true, "(guard)",
                "The client answers every command in time, doesn't crash, and exits when asked.", &["client-failed", "protocol-error", "unasked-exit", "exit-code", "killed-at-shutdown", "slow-shutdown", "crash"]),
        }
    }
}

/// Every rule, in catalog order.
pub static CATALOG: std::sync::LazyLock<Vec<Rule>> =
    std::sync::LazyLock::new(|| RuleId::ALL.iter().map(|id| id.rule()).collect());

/// The rule with this public ID.
pub fn rule(id: &str) -> Option<Rule> {
    RuleId::parse(id).map(RuleId::rule)
}

/// Whether a public ID names a guard rule.
pub fn is_guard(id: &str) -> bool {
    rule(id).is_some_and(|r| r.kind == Kind::Guard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_dotted_and_round_trip() {
        let mut ids: Vec<_> = CATALOG.iter().map(|r| r.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), CATALOG.len());
        assert!(CATALOG.iter().all(|r| r.id.as_str().contains('.')));
        for r in CATALOG.iter() {
            assert_eq!(RuleId::parse(r.id.as_str()), Some(r.id));
            assert_eq!(r.id.rule().id, r.id);
            assert!(!r.judges.is_empty());
            assert!(!r.causes.is_empty(), "{} names no cause", r.id);
        }
        assert_eq!(rule("cae.capable").map(|r| r.level), Some(Level::Should));
        assert!(rule("no.such").is_none());
        assert!(is_guard("client.outcome") && !is_guard("cache.reuse"));
        assert_eq!(Level::Must.to_string(), "MUST");
    }
}

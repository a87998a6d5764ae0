//! The rule catalog (`shared/rules.md`): IDs are a public contract; reports, JUnit names,
//! baselines and expected-failure files key on them.

use serde::{Deserialize, Serialize};

/// MUST rules fail a run; SHOULD rules warn unless `--strict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// A fail makes the run fail.
    Must,
    /// Reported as a warning; `--strict` makes it fail.
    Should,
}

/// One rule of the catalog.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rule {
    /// The stable ID (`throttle.retry-after`).
    pub id: &'static str,
    /// MUST or SHOULD.
    pub level: Level,
    /// The guidance it comes from.
    pub guidance: &'static str,
}

use Level::{Must, Should};

/// Every rule, in catalog order.
pub const CATALOG: &[Rule] = &[
    Rule {
        id: "cache.reuse",
        level: Must,
        guidance: "Cache tokens",
    },
    Rule {
        id: "cache.persist",
        level: Must,
        guidance: "Serialize and persist tokens",
    },
    Rule {
        id: "cache.protected",
        level: Should,
        guidance: "Persistent storage has access control and encryption",
    },
    Rule {
        id: "silent.order",
        level: Must,
        guidance: "Acquire tokens silently",
    },
    Rule {
        id: "silent.prompt-none",
        level: Should,
        guidance: "...the app acquires a token using the prompt=none parameter",
    },
    Rule {
        id: "silent.no-forced-prompt",
        level: Must,
        guidance: "Don't use prompts like login and consent",
    },
    Rule {
        id: "throttle.retry-after",
        level: Must,
        guidance: "HTTP 429 / 5xx with Retry-After",
    },
    Rule {
        id: "backoff.5xx",
        level: Must,
        guidance: "HTTP 5xx: no fast retry loop, exponential back-off",
    },
    Rule {
        id: "backoff.timeout",
        level: Must,
        guidance: "Request timed out: no immediate retry",
    },
    Rule {
        id: "refresh.proactive",
        level: Should,
        guidance: "refresh_in",
    },
    Rule {
        id: "refresh.outage-tolerant",
        level: Must,
        guidance: "The app runs while the old token is valid",
    },
    Rule {
        id: "claims.id-token-over-userinfo",
        level: Should,
        guidance: "Use the ID token instead of UserInfo",
    },
    Rule {
        id: "claims.roles-in-token",
        level: Should,
        guidance: "Use app roles and groups in tokens",
    },
    Rule {
        id: "claims.groups-overage",
        level: Must,
        guidance: "Groups overage / token bloat",
    },
    Rule {
        id: "claims.correct",
        level: Must,
        guidance: "(guard)",
    },
    Rule {
        id: "cae.claims-challenge",
        level: Must,
        guidance: "Continuous Access Evaluation",
    },
    Rule {
        id: "cae.capable",
        level: Should,
        guidance: "CAE increases resilience with long-lived tokens",
    },
    Rule {
        id: "api.retry-after",
        level: Must,
        guidance: "Graph throttling",
    },
    Rule {
        id: "tokens.opaque",
        level: Must,
        guidance: "Don't decode an API access token",
    },
    Rule {
        id: "concurrency.single-flight",
        level: Should,
        guidance: "Reduce token acquisition calls",
    },
    Rule {
        id: "robust.malformed-response",
        level: Must,
        guidance: "(resilience)",
    },
    Rule {
        id: "device.polling",
        level: Must,
        guidance: "RFC 8628",
    },
    Rule {
        id: "client.liveness",
        level: Must,
        guidance: "(guard)",
    },
];

/// The rule with this ID.
pub fn rule(id: &str) -> Option<&'static Rule> {
    CATALOG.iter().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_dotted() {
        let mut ids: Vec<_> = CATALOG.iter().map(|r| r.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), CATALOG.len());
        assert!(CATALOG.iter().all(|r| r.id.contains('.')));
        assert_eq!(rule("cae.capable").map(|r| r.level), Some(Level::Should));
    }
}

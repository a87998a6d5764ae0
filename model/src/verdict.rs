//! Verdicts: what a rule concluded about a scenario run, with the evidence a reviewer needs to
//! see the breach without re-running anything.

use crate::rules::Level;
use serde::{Deserialize, Serialize};

/// A rule's conclusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The client did what the rule asks.
    Pass,
    /// It did not; the evidence shows where.
    Fail,
    /// The run never created the situation the rule judges, or the client lacks the feature.
    NotApplicable,
    /// The run could not be judged (the client crashed or hung, the scenario was invalid).
    Error,
}

/// One piece of evidence: a moment of the run and what happened then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Evidence {
    /// Microseconds from the mock's start.
    pub at_us: u64,
    /// What happened, in words with times (`429 sent at 2.013 s with Retry-After 3`).
    pub what: String,
    /// The journal entry it refers to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

/// A rule's verdict on one scenario run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Verdict {
    /// The rule ID.
    pub rule: String,
    /// MUST or SHOULD.
    pub level: Level,
    /// The conclusion.
    pub status: Status,
    /// One sentence: why.
    pub summary: String,
    /// The requests and transcript lines that show it (non-empty for a fail).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
    /// For a fail: which of the rule's checks failed (`early-retry`, `expected-ok`, ...),
    /// stable names an expected-failures entry can accept by (`cause`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<String>,
    /// For a fail that an expected-failures file accepts: its reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
}

/// Seconds with milliseconds, for evidence text: `2.013 s`.
pub fn secs(us: u64) -> String {
    format!("{:.3} s", us as f64 / 1e6)
}

//! A run against a baseline: which (scenario, rule) verdicts got worse, which got better, and
//! which scenarios are new or gone. Statuses are compared as judged, before any
//! expected-failures file: a rule that passed in the baseline and fails now is a regression
//! even when an expected-failures entry accepts it, so an accepted fail can never hide
//! backsliding.

use crate::{Report, ScenarioReport};
use model::rules::Level;
use model::verdict::Status;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One (scenario, rule) whose verdict differs, or still fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Change {
    /// The scenario.
    pub scenario: String,
    /// The rule.
    pub rule: String,
    /// MUST or SHOULD.
    pub level: Level,
    /// Its status in the baseline.
    pub base: Status,
    /// Its status now.
    pub head: Status,
    /// Now: why (the verdict's summary).
    pub summary: String,
}

/// The comparison of two runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Diff {
    /// The baseline's client command and start time, to say what was compared.
    pub base_client: String,
    /// Unix time the baseline started.
    pub base_started_unix: u64,
    /// Passed (or not applicable) in the baseline, fails or errors now: regressions.
    pub new_fails: Vec<Change>,
    /// Failed or errored in the baseline, passes now.
    pub fixed: Vec<Change>,
    /// Failing in both.
    pub still_failing: Vec<Change>,
    /// (scenario, rule) verdicts that are the same and not failing.
    pub unchanged: usize,
    /// Scenarios only in this run (their fails are not regressions: nothing to compare).
    pub new_scenarios: Vec<String>,
    /// Scenarios only in the baseline.
    pub removed_scenarios: Vec<String>,
}

impl Diff {
    /// Whether anything got worse.
    pub fn regressed(&self) -> bool {
        !self.new_fails.is_empty()
    }
}

fn failing(s: Status) -> bool {
    matches!(s, Status::Fail | Status::Error)
}

fn by_name(r: &Report) -> BTreeMap<&str, &ScenarioReport> {
    r.scenarios.iter().map(|s| (s.name.as_str(), s)).collect()
}

/// Compares `head` with `base`. Scenarios that were not applicable or skipped in one run
/// compare as not applicable.
pub fn diff(base: &Report, head: &Report) -> Diff {
    let (b, h) = (by_name(base), by_name(head));
    let mut d = Diff {
        base_client: base.client.clone(),
        base_started_unix: base.started_unix,
        ..Diff::default()
    };
    for (name, hs) in &h {
        let Some(bs) = b.get(name) else {
            d.new_scenarios.push(name.to_string());
            continue;
        };
        for hv in &hs.rules {
            let base_status = bs
                .rules
                .iter()
                .find(|v| v.rule == hv.rule)
                .map_or(Status::NotApplicable, |v| v.status);
            let c = Change {
                scenario: name.to_string(),
                rule: hv.rule.clone(),
                level: hv.level,
                base: base_status,
                head: hv.status,
                summary: hv.summary.clone(),
            };
            match (failing(base_status), failing(hv.status)) {
                (false, true) => d.new_fails.push(c),
                (true, false) if hv.status == Status::Pass => d.fixed.push(c),
                (true, true) => d.still_failing.push(c),
                _ => d.unchanged += 1,
            }
        }
    }
    d.removed_scenarios = b
        .keys()
        .filter(|n| !h.contains_key(*n))
        .map(|n| n.to_string())
        .collect();
    d
}

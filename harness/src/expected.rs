//! Expected-failures files: known, accepted fails, each with its reason. An accepted fail is
//! still reported (with the reason) but does not fail the run; an entry whose scenario ran and
//! whose rule no longer fails is reported as out of date and fails the run, so the file cannot
//! silently outlive what it excuses.
//!
//! ```yaml
//! - scenario: throttle-429-short
//!   rule: throttle.retry-after
//!   reason: "msal-node caches a 429 for 60 s (ThrottlingUtils.mjs): conformant, but ..."
//! ```

use crate::report::ScenarioReport;
use model::verdict::Status;
use std::path::Path;

/// One accepted failure.
pub use reports::ExpectedFailure as Entry;

/// Reads an expected-failures file; errors name file:line:column.
pub fn load(path: &Path) -> Result<Vec<Entry>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let entries: Vec<Entry> = serde_saphyr::from_str(&text).map_err(|e| {
        let (l, c) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((1, 1));
        let msg = e.without_snippet().to_string();
        let msg = msg.lines().next().unwrap_or_default().to_string();
        format!("{}:{l}:{c}: {msg}", path.display())
    })?;
    for e in &entries {
        if model::rules::rule(&e.rule).is_none() {
            return Err(format!(
                "{}: unknown rule '{}' (scenario {})",
                path.display(),
                e.rule,
                e.scenario
            ));
        }
        if e.reason.trim().is_empty() {
            return Err(format!(
                "{}: the entry for {} / {} needs a reason",
                path.display(),
                e.scenario,
                e.rule
            ));
        }
    }
    Ok(entries)
}

/// Marks accepted fails in the scenario reports; returns the out-of-date entries (their
/// scenario ran, and the rule did not fail).
pub fn apply(entries: &[Entry], scenarios: &mut [ScenarioReport], strict: bool) -> Vec<Entry> {
    let mut stale = Vec::new();
    for e in entries {
        let Some(sc) = scenarios.iter_mut().find(|s| s.name == e.scenario) else {
            continue; // not run (filter or shard): neither used nor stale
        };
        match sc
            .rules
            .iter_mut()
            .find(|v| v.rule == e.rule && v.status == Status::Fail)
        {
            Some(v) => v.expected = Some(e.reason.clone()),
            None if sc.verdict != "not_applicable" && sc.verdict != "error" && !e.unstable => {
                stale.push(e.clone())
            }
            None => {}
        }
        sc.recompute(strict);
    }
    stale
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::rules::Level;
    use model::verdict::Verdict;

    fn scenario(status: Status) -> ScenarioReport {
        ScenarioReport {
            name: "s".into(),
            summary: String::new(),
            tags: vec![],
            flow: "client_credentials".into(),
            tenant: "t".into(),
            hello: None,
            outcome: reports::Outcome::Completed,
            verdict: if status == Status::Fail {
                "fail"
            } else {
                "pass"
            }
            .into(),
            duration_ms: 0,
            rules: vec![Verdict {
                rule: "throttle.retry-after".into(),
                level: Level::Must,
                status,
                summary: String::new(),
                evidence: vec![],
                expected: None,
            }],
            journal: String::new(),
            requests: 0,
        }
    }

    #[test]
    fn unstable_entries_accept_a_fail_and_are_not_stale_when_it_passes() {
        let entry = |unstable| Entry {
            scenario: "s".into(),
            rule: "throttle.retry-after".into(),
            reason: "a whole-second clock".into(),
            unstable,
        };
        for unstable in [false, true] {
            let mut failing = [scenario(Status::Fail)];
            assert!(apply(&[entry(unstable)], &mut failing, false).is_empty());
            assert_eq!(failing[0].verdict, "pass");
            assert!(failing[0].rules[0].expected.is_some());
            let mut passing = [scenario(Status::Pass)];
            let stale = apply(&[entry(unstable)], &mut passing, false);
            assert_eq!(stale.len(), usize::from(!unstable));
        }
    }
}

//! Expected-failures files: known, accepted fails, each with the cause it accepts and its
//! reason. An accepted fail is still reported (with the reason) but does not fail the run. An
//! entry accepts one cause of one rule in one scenario: a fail of that rule for another cause
//! (another check of the rule failing) is a new fail. An entry whose scenario ran and whose
//! cause no longer fails is reported as out of date and fails the run, so the file cannot
//! silently outlive what it excuses (`unstable` entries excepted: see [`Entry::unstable`]).
//!
//! ```yaml
//! - scenario: throttle-429-short
//!   rule: throttle.retry-after
//!   cause: early-retry
//!   reason: "msal-python returns up to 1 s early after Retry-After (int(time.time()) in throttled_http_client.py)"
//! ```

use crate::report::ScenarioReport;
use model::verdict::Status;
use std::path::Path;

/// One accepted failure.
pub use reports::ExpectedFailure as Entry;

/// Reads an expected-failures file; errors name file:line:column. `known_scenarios`: the
/// names an entry may name (every scenario loaded for the run, before filters); an entry
/// naming another is refused, as is one naming an unknown rule.
pub fn load(path: &Path, known_scenarios: &[&str]) -> Result<Vec<Entry>, String> {
    // Within the limits of every YAML file tokenstorm reads (`model::yaml`: 1 MiB, ...).
    let at = |e: model::yaml::YamlError| {
        format!(
            "{}:{}:{}: {}",
            path.display(),
            e.line.max(1),
            e.column.max(1),
            e.message
        )
    };
    let text = model::yaml::read_file(path).map_err(at)?;
    let entries: Vec<Entry> = model::yaml::from_str(&text).map_err(at)?;
    for e in &entries {
        if e.inconclusive {
            if !e.rule.is_empty() || !e.cause.is_empty() {
                return Err(format!(
                    "{}: the inconclusive entry for {} names a rule or cause: it accepts the scenario's verdict, not a rule's",
                    path.display(),
                    e.scenario
                ));
            }
            if e.reason.trim().is_empty() {
                return Err(format!(
                    "{}: the inconclusive entry for {} needs a reason",
                    path.display(),
                    e.scenario
                ));
            }
            if !known_scenarios.is_empty() && !known_scenarios.contains(&e.scenario.as_str()) {
                return Err(format!(
                    "{}: unknown scenario '{}': no scenario of this run has that name",
                    path.display(),
                    e.scenario
                ));
            }
            continue;
        }
        if e.rule.trim().is_empty() {
            return Err(format!(
                "{}: the entry for {} needs a rule (or `inconclusive: true`, for a scenario that cannot judge the client)",
                path.display(),
                e.scenario
            ));
        }
        let Some(rule) = model::rules::rule(&e.rule) else {
            return Err(format!(
                "{}: unknown rule '{}' (scenario {})",
                path.display(),
                e.rule,
                e.scenario
            ));
        };
        if !e.cause.trim().is_empty() && !rule.causes.contains(&e.cause.as_str()) {
            return Err(format!(
                "{}: {} has no cause '{}' (scenario {}); its causes: {}",
                path.display(),
                e.rule,
                e.cause,
                e.scenario,
                rule.causes.join(", ")
            ));
        }
        if !known_scenarios.is_empty() && !known_scenarios.contains(&e.scenario.as_str()) {
            return Err(format!(
                "{}: unknown scenario '{}' (rule {}): no scenario of this run has that name",
                path.display(),
                e.scenario,
                e.rule
            ));
        }
        if e.cause.trim().is_empty() {
            return Err(format!(
                "{}: the entry for {} / {} needs a cause: the check of the rule it accepts, as the report lists it under the verdict's causes",
                path.display(),
                e.scenario,
                e.rule
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
/// scenario ran, and their rule did not fail for their cause).
pub fn apply(entries: &[Entry], scenarios: &mut [ScenarioReport], strict: bool) -> Vec<Entry> {
    let mut stale = Vec::new();
    for sc in scenarios.iter_mut() {
        let mine: Vec<&Entry> = entries.iter().filter(|e| e.scenario == sc.name).collect();
        if mine.is_empty() {
            continue;
        }
        let judged = sc.verdict != "not_applicable" && sc.verdict != "error";
        let (whole, mine): (Vec<&Entry>, Vec<&Entry>) =
            mine.into_iter().partition(|e| e.inconclusive);
        for e in &whole {
            if judged && sc.verdict != "inconclusive" && !e.unstable {
                stale.push((*e).clone());
            }
        }
        for e in &mine {
            let occurred = sc.rules.iter().any(|v| {
                v.rule == e.rule && v.status == Status::Fail && v.causes.contains(&e.cause)
            });
            // Out of date only when the rule was judged and didn't fail for this cause: a rule
            // that found nothing to judge in this run (not applicable) says nothing either way.
            let rule_judged = sc
                .rules
                .iter()
                .any(|v| v.rule == e.rule && matches!(v.status, Status::Pass | Status::Fail));
            if !occurred && judged && rule_judged && !e.unstable {
                stale.push((*e).clone());
            }
        }
        for v in sc.rules.iter_mut().filter(|v| v.status == Status::Fail) {
            let accepting: Vec<&&Entry> = mine.iter().filter(|e| e.rule == v.rule).collect();
            // Accepted only when every cause it failed for is accepted.
            let all = !v.causes.is_empty()
                && v.causes
                    .iter()
                    .all(|c| accepting.iter().any(|e| &e.cause == c));
            if all {
                let reasons: Vec<String> = v
                    .causes
                    .iter()
                    .filter_map(|c| accepting.iter().find(|e| &e.cause == c))
                    .map(|e| format!("{}: {}", e.cause, e.reason))
                    .collect();
                v.expected = Some(reasons.join("; "));
            }
        }
        sc.recompute(strict);
        sc.expected_inconclusive = whole
            .first()
            .filter(|_| sc.verdict == "inconclusive")
            .map(|e| e.reason.clone());
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
            expected_inconclusive: None,
            rules: vec![Verdict {
                rule: "throttle.retry-after".into(),
                level: Level::Must,
                status,
                summary: String::new(),
                evidence: vec![],
                causes: if status == Status::Fail {
                    vec!["early-retry".into()]
                } else {
                    vec![]
                },
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
            cause: "early-retry".into(),
            reason: "a whole-second clock".into(),
            unstable,
            inconclusive: false,
        };
        for unstable in [false, true] {
            let mut failing = [scenario(Status::Fail)];
            assert!(apply(&[entry(unstable)], &mut failing, false).is_empty());
            assert_eq!(failing[0].verdict, "pass");
            assert!(failing[0].rules[0].expected.is_some());
            let mut passing = [scenario(Status::Pass)];
            let stale = apply(&[entry(unstable)], &mut passing, false);
            assert_eq!(stale.len(), usize::from(!unstable));
            // Not applicable in this run: nothing was judged, so nothing is out of date.
            let mut na = [scenario(Status::NotApplicable)];
            assert!(apply(&[entry(unstable)], &mut na, false).is_empty());
        }
    }

    #[test]
    fn an_entry_accepts_its_cause_only() {
        let other = Entry {
            scenario: "s".into(),
            rule: "throttle.retry-after".into(),
            cause: "early-retry-within-1s".into(),
            reason: "a race".into(),
            unstable: true,
            inconclusive: false,
        };
        let mut failing = [scenario(Status::Fail)];
        let stale = apply(&[other], &mut failing, false);
        // The fail is for early-retry: not accepted, and the unstable entry is not stale.
        assert!(stale.is_empty());
        assert_eq!(failing[0].verdict, "fail");
        assert!(failing[0].rules[0].expected.is_none());
    }

    #[test]
    fn unknown_scenarios_and_missing_causes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.yaml");
        std::fs::write(
            &p,
            "- scenario: nope\n  rule: cache.reuse\n  cause: needless-request\n  reason: r\n",
        )
        .unwrap();
        assert!(load(&p, &["s"])
            .unwrap_err()
            .contains("unknown scenario 'nope'"));
        std::fs::write(
            &p,
            "- scenario: s\n  rule: cache.reuse\n  cause: \"\"\n  reason: r\n",
        )
        .unwrap();
        assert!(load(&p, &["s"]).unwrap_err().contains("needs a cause"));
        std::fs::write(&p, "- scenario: s\n  rule: cache.reuse\n  reason: r\n").unwrap();
        assert!(load(&p, &["s"]).unwrap_err().contains("cause"));
        std::fs::write(
            &p,
            "- scenario: s\n  rule: cache.reuse\n  cause: early-retry\n  reason: r\n",
        )
        .unwrap();
        assert!(load(&p, &["s"])
            .unwrap_err()
            .contains("cache.reuse has no cause 'early-retry'"));
    }

    #[test]
    fn an_inconclusive_entry_accepts_the_scenarios_verdict_only() {
        let entry = Entry {
            scenario: "s".into(),
            rule: String::new(),
            cause: String::new(),
            reason: "no refresh_in for a managed identity".into(),
            unstable: false,
            inconclusive: true,
        };
        let mut nothing_judged = [scenario(Status::NotApplicable)];
        nothing_judged[0].recompute(false);
        assert_eq!(nothing_judged[0].verdict, "inconclusive");
        assert!(apply(std::slice::from_ref(&entry), &mut nothing_judged, false).is_empty());
        assert_eq!(nothing_judged[0].verdict, "inconclusive");
        assert!(nothing_judged[0].expected_inconclusive.is_some());
        let mut r = reports::Report {
            scenarios: nothing_judged.to_vec(),
            ..reports::Report::default()
        };
        r.summarize();
        assert_eq!(
            (r.summary.inconclusive, r.summary.accepted_inconclusive),
            (0, 1)
        );
        assert_eq!(r.exit_code(), 0);
        // A fail is not accepted by it, and a scenario that judged something makes it stale.
        let mut failing = [scenario(Status::Fail)];
        let stale = apply(std::slice::from_ref(&entry), &mut failing, false);
        assert_eq!(failing[0].verdict, "fail");
        assert!(failing[0].expected_inconclusive.is_none());
        assert_eq!(stale.len(), 1);
        // Without the entry the same scenario fails the run.
        let mut r = reports::Report {
            scenarios: vec![scenario(Status::NotApplicable)],
            ..reports::Report::default()
        };
        r.scenarios[0].recompute(false);
        r.summarize();
        assert_eq!(r.exit_code(), 1);
    }

    #[test]
    fn an_inconclusive_entry_names_no_rule_and_gives_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.yaml");
        std::fs::write(&p, "- scenario: s\n  inconclusive: true\n  reason: r\n").unwrap();
        assert!(load(&p, &["s"]).unwrap()[0].inconclusive);
        std::fs::write(
            &p,
            "- scenario: s\n  inconclusive: true\n  rule: cache.reuse\n  reason: r\n",
        )
        .unwrap();
        assert!(load(&p, &["s"]).unwrap_err().contains("names a rule"));
        std::fs::write(&p, "- scenario: s\n  inconclusive: true\n  reason: \"\"\n").unwrap();
        assert!(load(&p, &["s"]).unwrap_err().contains("needs a reason"));
        std::fs::write(&p, "- scenario: s\n  reason: r\n").unwrap();
        assert!(load(&p, &["s"]).unwrap_err().contains("needs a rule"));
    }
}

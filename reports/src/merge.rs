//! `tokenstorm report merge`: the shards of one run (`run --shard K/N` on a CI matrix) joined
//! into one report, as if the run had not been split.

use crate::{Report, SCHEMA_VERSION};
use std::collections::BTreeSet;

/// Why shards cannot be merged.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MergeError {
    /// Nothing to merge.
    #[error("nothing to merge")]
    Empty,
    /// The shards judged different clients or with different strictness.
    #[error("the reports are not shards of one run: {0}")]
    Mismatch(String),
    /// A scenario appears in two shards.
    #[error("scenario '{0}' is in two of the reports")]
    Duplicate(String),
    /// Shards of a K/N split are missing or repeated.
    #[error("shard {0}")]
    Shards(String),
}

/// Merges shard reports (or any reports of one client over disjoint scenarios).
pub fn merge(parts: &[Report]) -> Result<Report, MergeError> {
    let first = parts.first().ok_or(MergeError::Empty)?;
    for p in parts {
        if p.client != first.client {
            return Err(MergeError::Mismatch(format!(
                "client `{}` vs `{}`",
                first.client, p.client
            )));
        }
        if p.strict != first.strict || p.mode != first.mode {
            return Err(MergeError::Mismatch(
                "one was run with --strict (or observed) and another not".into(),
            ));
        }
    }
    // When every part names its shard, the set must be exactly 1..=N once each.
    let shards: Vec<(usize, usize)> = parts
        .iter()
        .filter_map(|p| p.shard.as_deref())
        .filter_map(|s| {
            let (k, n) = s.split_once('/')?;
            Some((k.parse().ok()?, n.parse().ok()?))
        })
        .collect();
    if shards.len() == parts.len() {
        let n = shards[0].1;
        if shards.iter().any(|s| s.1 != n) {
            return Err(MergeError::Shards(
                "counts differ (K/N with different N)".into(),
            ));
        }
        let mut seen = BTreeSet::new();
        for (k, _) in &shards {
            if !seen.insert(*k) {
                return Err(MergeError::Shards(format!("{k}/{n} is given twice")));
            }
        }
        let missing: Vec<String> = (1..=n)
            .filter(|k| !seen.contains(k))
            .map(|k| format!("{k}/{n}"))
            .collect();
        if !missing.is_empty() {
            return Err(MergeError::Shards(format!(
                "{} missing: a merged report must cover the whole run",
                missing.join(", ")
            )));
        }
    }
    let mut names = BTreeSet::new();
    let mut out = Report {
        schema_version: SCHEMA_VERSION,
        tokenstorm_version: first.tokenstorm_version.clone(),
        mode: first.mode,
        started_unix: parts.iter().map(|p| p.started_unix).min().unwrap_or(0),
        duration_ms: parts.iter().map(|p| p.duration_ms).max().unwrap_or(0),
        client: first.client.clone(),
        strict: first.strict,
        interrupted: parts.iter().any(|p| p.interrupted),
        shard: None,
        summary: Default::default(),
        scenarios: Vec::new(),
        stale_expected_failures: Vec::new(),
        baseline: None,
    };
    for p in parts {
        for s in &p.scenarios {
            if !names.insert(s.name.clone()) {
                return Err(MergeError::Duplicate(s.name.clone()));
            }
            out.scenarios.push(s.clone());
        }
        out.stale_expected_failures
            .extend(p.stale_expected_failures.iter().cloned());
        if let Some(d) = &p.baseline {
            let m = out.baseline.get_or_insert_with(|| crate::diff::Diff {
                base_client: d.base_client.clone(),
                base_started_unix: d.base_started_unix,
                ..Default::default()
            });
            m.new_fails.extend(d.new_fails.iter().cloned());
            m.fixed.extend(d.fixed.iter().cloned());
            m.still_failing.extend(d.still_failing.iter().cloned());
            m.unchanged += d.unchanged;
            m.new_scenarios.extend(d.new_scenarios.iter().cloned());
            m.removed_scenarios
                .extend(d.removed_scenarios.iter().cloned());
        }
    }
    if let Some(m) = &mut out.baseline {
        // Every shard sees the same scenarios missing from the whole run.
        m.removed_scenarios.sort();
        m.removed_scenarios.dedup();
        m.new_scenarios.sort();
    }
    out.scenarios.sort_by(|a, b| a.name.cmp(&b.name));
    out.summarize();
    Ok(out)
}

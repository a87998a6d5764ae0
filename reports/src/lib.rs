//! tokenstorm's reports. `report.json` is the source of truth (a versioned schema, checked in
//! as `docs/report.schema.json`); every other format is rendered from it (and, for the HTML
//! timeline, from the journals beside it):
//!
//! - [`markdown`]: `report.md`, for pull-request comments and `$GITHUB_STEP_SUMMARY`, kept
//!   within GitHub's size limits;
//! - [`junit`]: `junit.xml`, one testsuite per scenario, one testcase per rule;
//! - [`html`]: `report.html`, self-contained, with a per-scenario SVG timeline;
//! - [`diff`]: a run against a baseline (new fails, fixed, unchanged);
//! - [`merge`]: shards of one run joined into one report.
//!
//! Tokens never appear here: the journal holds fingerprints only, and evidence text is built
//! from the journal.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod diff;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod merge;

use model::rules::Level;
use model::transcript::Hello;
use model::verdict::{Status, Verdict};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The version of `report.json`'s schema. Additive changes (new optional fields) keep it;
/// anything else bumps it.
pub const SCHEMA_VERSION: u32 = 1;

/// A whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Report {
    /// Schema version of this document.
    pub schema_version: u32,
    /// The tokenstorm version that wrote it.
    pub tokenstorm_version: String,
    /// `run` (a driven client) or `observe` (an app judged from the journal alone).
    #[serde(default)]
    pub mode: Mode,
    /// Unix time the run started.
    pub started_unix: u64,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// The client command.
    pub client: String,
    /// Whether SHOULD rules failed the run.
    pub strict: bool,
    /// Whether the run was interrupted (the report holds what was judged so far).
    pub interrupted: bool,
    /// For a shard of a run (`--shard K/N`): which one. Absent for a whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// Counts.
    pub summary: Summary,
    /// Per scenario, sorted by name.
    pub scenarios: Vec<ScenarioReport>,
    /// Expected-failures entries whose scenario ran but whose rule no longer fails: the file
    /// is out of date (this fails the run, as the OpenID conformance suite does).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stale_expected_failures: Vec<ExpectedFailure>,
    /// The comparison with a baseline (`run --baseline`), when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<diff::Diff>,
}

/// How the client was judged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// `tokenstorm run`: driven through the driver protocol, judged by every rule.
    #[default]
    Run,
    /// `tokenstorm observe`: not driven; only the rules the journal can show.
    Observe,
}

/// Counts of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    /// Scenarios run.
    pub scenarios: usize,
    /// Scenarios whose verdicts all passed (or were not applicable).
    pub passed: usize,
    /// Scenarios with a failing MUST rule (or SHOULD under strict).
    pub failed: usize,
    /// Scenarios with only SHOULD warnings.
    pub warned: usize,
    /// Scenarios not applicable to the client.
    pub not_applicable: usize,
    /// Scenarios where the client crashed or hung.
    pub errors: usize,
    /// Scenarios the client ran in which no behaviour rule found anything to judge (and no
    /// expected-failures entry says why it can't: those count in `accepted_inconclusive`).
    #[serde(default)]
    pub inconclusive: usize,
    /// Inconclusive scenarios an expected-failures entry (`inconclusive: true`) accepts: the
    /// scenario can't judge this client, for the entry's reason. They don't fail the run.
    #[serde(default)]
    pub accepted_inconclusive: usize,
    /// Of the passed and warned scenarios, those that pass only because an
    /// expected-failures entry accepts a failing rule.
    #[serde(default)]
    pub accepted: usize,
}

/// An accepted failure from an expected-failures file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectedFailure {
    /// The scenario's name.
    pub scenario: String,
    /// The rule ID (none for an `inconclusive` entry).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rule: String,
    /// The check of the rule whose failure it accepts (a verdict's `causes` name them): a fail
    /// of the rule for any other cause is not accepted (none for an `inconclusive` entry).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cause: String,
    /// Accepts the scenario's `inconclusive` verdict instead of a rule's fail: the scenario
    /// cannot judge this client (a managed identity gets no `refresh_in`, say), for `reason`.
    /// Out of date when the scenario ran and was not inconclusive.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inconclusive: bool,
    /// Why it is accepted (shown in every report).
    pub reason: String,
    /// The verdict depends on timing the client doesn't control (a library's whole-second
    /// clock, a race between concurrent requests): its cause is accepted when it fails, and the
    /// entry is not reported as out of date when it doesn't. It still accepts nothing but its
    /// cause. Use sparingly, with the race explained in `reason`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unstable: bool,
}

pub use model::Outcome;

/// One scenario's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScenarioReport {
    /// The scenario's name.
    pub name: String,
    /// One sentence.
    pub summary: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Flow.
    pub flow: String,
    /// Its tenant on the mock.
    pub tenant: String,
    /// The client's hello.
    pub hello: Option<Hello>,
    /// How the run of it ended.
    pub outcome: Outcome,
    /// `pass`, `fail`, `warn`, `inconclusive` (nothing was judged), `not_applicable` or
    /// `error`.
    pub verdict: String,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// Per rule.
    pub rules: Vec<Verdict>,
    /// The journal file, relative to the report folder.
    pub journal: String,
    /// Requests that reached the mock.
    pub requests: usize,
    /// An `inconclusive` verdict an expected-failures entry accepts: its reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_inconclusive: Option<String>,
}

/// A scenario's verdict from its outcome and rule verdicts (fails an expected-failures file
/// accepts do not count).
pub fn scenario_verdict(outcome: &Outcome, rules: &[Verdict], strict: bool) -> &'static str {
    if matches!(outcome, Outcome::NotApplicable { .. }) {
        return "not_applicable";
    }
    if matches!(
        outcome,
        Outcome::ClientFailed { .. } | Outcome::Unjudgeable { .. }
    ) {
        return "error";
    }
    let must_fail = rules.iter().any(|v| {
        v.status == Status::Fail && v.expected.is_none() && (v.level == Level::Must || strict)
    });
    let should_fail = rules
        .iter()
        .any(|v| v.status == Status::Fail && v.expected.is_none() && v.level == Level::Should);
    // Nothing judged is never a pass: every behaviour rule not applicable (guards aside),
    // while the client ran the scenario.
    let behaviour: Vec<&Verdict> = rules
        .iter()
        .filter(|v| !model::rules::is_guard(&v.rule))
        .collect();
    let inconclusive =
        !behaviour.is_empty() && behaviour.iter().all(|v| v.status == Status::NotApplicable);
    if must_fail {
        "fail"
    } else if inconclusive {
        "inconclusive"
    } else if should_fail {
        "warn"
    } else {
        "pass"
    }
}

impl ScenarioReport {
    /// Recomputes the scenario's verdict (after expected failures are marked).
    pub fn recompute(&mut self, strict: bool) {
        self.verdict = scenario_verdict(&self.outcome, &self.rules, strict).to_string();
    }
}

impl Report {
    /// Counts the scenarios.
    pub fn summarize(&mut self) {
        let mut s = Summary {
            scenarios: self.scenarios.len(),
            ..Summary::default()
        };
        for sc in &self.scenarios {
            match sc.verdict.as_str() {
                "pass" => s.passed += 1,
                "fail" => s.failed += 1,
                "warn" => s.warned += 1,
                "not_applicable" => s.not_applicable += 1,
                "inconclusive" if sc.expected_inconclusive.is_some() => {
                    s.accepted_inconclusive += 1;
                }
                "inconclusive" => s.inconclusive += 1,
                _ => s.errors += 1,
            }
            if matches!(sc.verdict.as_str(), "pass" | "warn")
                && sc.rules.iter().any(|v| v.expected.is_some())
            {
                s.accepted += 1;
            }
        }
        self.summary = s;
    }

    /// The exit code: 1 when a MUST rule (or a SHOULD under `--strict`) failed, a client
    /// crashed or hung, an expected failure is stale, or the run regressed against its
    /// baseline; 130 when interrupted; else 0.
    pub fn exit_code(&self) -> u8 {
        if self.interrupted {
            model::exit::INTERRUPTED
        } else if self.summary.failed > 0
            || self.summary.errors > 0
            || self.summary.inconclusive > 0
            || !self.stale_expected_failures.is_empty()
            || self.baseline.as_ref().is_some_and(diff::Diff::regressed)
        {
            model::exit::FAILED
        } else {
            model::exit::PASSED
        }
    }

    /// The headline: `passed`, `failed`, `regressed` or `interrupted`.
    pub fn headline(&self) -> &'static str {
        if self.interrupted {
            "interrupted"
        } else if self.baseline.as_ref().is_some_and(diff::Diff::regressed) {
            "regressed"
        } else if self.exit_code() == 0 {
            "passed"
        } else {
            "failed"
        }
    }
}

/// Why a report could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// It is not a report.json this build understands.
    #[error("{path}:{line}:{column}: not a tokenstorm report.json: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// Line (1-based).
        line: usize,
        /// Column (1-based).
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// Written by an incompatible schema version.
    #[error("{path}: report.json schema version {found}; this tokenstorm reads version {SCHEMA_VERSION}")]
    Version {
        /// The file.
        path: String,
        /// Its version.
        found: u64,
    },
}

/// Reads a `report.json`.
pub fn load(path: &Path) -> Result<Report, ReportError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Io {
        path: p.clone(),
        source,
    })?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| ReportError::Invalid {
        path: p.clone(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let found = v
        .get("schema_version")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    if found != u64::from(SCHEMA_VERSION) {
        return Err(ReportError::Version { path: p, found });
    }
    serde_json::from_value(v).map_err(|e| ReportError::Invalid {
        path: p,
        line: 1,
        column: 1,
        message: e.to_string(),
    })
}

/// The JSON Schema of `report.json`.
pub fn schema() -> serde_json::Value {
    let s = schemars::schema_for!(Report);
    serde_json::to_value(s).unwrap_or_default()
}

/// Writes a file atomically (temporary file in the same folder, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tokenstorm-")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    // Reports are for reading (tempfile makes 0600); nothing in them is secret.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Writes every format into `dir`: `report.json`, `report.md`, `junit.xml` and `report.html`
/// (whose timelines read the journals already written under `dir/journal/`).
pub fn write_all(dir: &Path, r: &Report) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(r).map_err(std::io::Error::other)?;
    write_atomic(&dir.join("report.json"), &json)?;
    write_atomic(
        &dir.join("report.md"),
        markdown::render(r, markdown::GITHUB_SUMMARY_LIMIT).as_bytes(),
    )?;
    write_atomic(&dir.join("junit.xml"), junit::render(r).as_bytes())?;
    let journals = html::Journals::from_dir(dir, r);
    write_atomic(
        &dir.join("report.html"),
        html::render(r, &journals).as_bytes(),
    )?;
    Ok(())
}

/// `PASS`, `FAIL`, `WARN`, `N/A`, `INCONCLUSIVE` or `ERROR`.
pub fn label(verdict: &str) -> &'static str {
    match verdict {
        "pass" => "PASS",
        "fail" => "FAIL",
        "warn" => "WARN",
        "not_applicable" => "N/A",
        "inconclusive" => "INCONCLUSIVE",
        _ => "ERROR",
    }
}

/// Scenarios in reading order: errors, fails, warnings, passes, not applicable; by name.
pub fn reading_order(r: &Report) -> Vec<&ScenarioReport> {
    let rank = |v: &str| match v {
        "error" => 0,
        "fail" => 1,
        "inconclusive" => 2,
        "warn" => 3,
        "pass" => 4,
        _ => 5,
    };
    let mut order: Vec<&ScenarioReport> = r.scenarios.iter().collect();
    order.sort_by_key(|s| (rank(&s.verdict), s.name.clone()));
    order
}

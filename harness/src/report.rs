//! `report.json` (versioned) and the first renderings of it: `report.md` and `junit.xml`.
//! Every file is written atomically. The reports issue polishes the renderings; the JSON is the
//! source of truth for all of them.

use crate::runner::{Outcome, ScenarioRun};
use model::rules::Level;
use model::transcript::Hello;
use model::verdict::{secs, Status, Verdict};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

/// The version of `report.json`'s schema.
pub const SCHEMA_VERSION: u32 = 1;

/// A whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// Counts.
    pub summary: Summary,
    /// Per scenario.
    pub scenarios: Vec<ScenarioReport>,
    /// Expected-failures entries whose scenario ran but whose rule no longer fails: the file
    /// is out of date (this fails the run, as the OpenID conformance suite does).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stale_expected_failures: Vec<crate::expected::Entry>,
}

/// How the client was judged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// `tokenstorm run`: driven through the driver protocol, judged by every rule.
    #[default]
    Run,
    /// `tokenstorm observe`: not driven; only the rules the journal can show.
    Observe,
}

/// Counts of a run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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
}

/// One scenario's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// `pass`, `fail`, `warn`, `not_applicable` or `error`.
    pub verdict: String,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// Per rule.
    pub rules: Vec<Verdict>,
    /// The journal file, relative to the report folder.
    pub journal: String,
    /// Requests that reached the mock.
    pub requests: usize,
}

fn scenario_verdict(outcome: &Outcome, rules: &[Verdict], strict: bool) -> &'static str {
    if matches!(outcome, Outcome::NotApplicable { .. }) {
        return "not_applicable";
    }
    if matches!(outcome, Outcome::ClientFailed { .. }) {
        return "error";
    }
    // Fails an expected-failures file accepts do not fail the scenario.
    let must_fail = rules.iter().any(|v| {
        v.status == Status::Fail && v.expected.is_none() && (v.level == Level::Must || strict)
    });
    let should_fail = rules
        .iter()
        .any(|v| v.status == Status::Fail && v.expected.is_none() && v.level == Level::Should);
    if must_fail {
        "fail"
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

    /// The report of a judged run.
    pub fn new(run: &ScenarioRun, rules: Vec<Verdict>, strict: bool) -> Self {
        let verdict = scenario_verdict(&run.outcome, &rules, strict).to_string();
        ScenarioReport {
            name: run.scenario.name.value.clone(),
            summary: run.scenario.summary.clone(),
            tags: run.scenario.tags.clone(),
            flow: run.scenario.flow.as_str().to_string(),
            tenant: run.tenant.clone(),
            hello: run.hello.clone(),
            outcome: run.outcome.clone(),
            verdict,
            duration_ms: run.duration.as_millis() as u64,
            rules,
            journal: format!("journal/{}.jsonl", run.scenario.name.value),
            requests: run.journal.len(),
        }
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
                _ => s.errors += 1,
            }
        }
        self.summary = s;
    }

    /// The exit code: 1 when a MUST rule (or a SHOULD under `--strict`) failed or a client
    /// crashed or hung; 130 when interrupted; else 0.
    pub fn exit_code(&self) -> u8 {
        if self.interrupted {
            130
        } else if self.summary.failed > 0
            || self.summary.errors > 0
            || !self.stale_expected_failures.is_empty()
        {
            1
        } else {
            0
        }
    }
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
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn icon(v: &str) -> &'static str {
    match v {
        "pass" => "PASS",
        "fail" => "FAIL",
        "warn" => "WARN",
        "not_applicable" => "N/A",
        _ => "ERROR",
    }
}

/// `report.md`: headline, scenarios failures first, each failing rule with its evidence.
pub fn markdown(r: &Report) -> String {
    let mut out = String::new();
    let head = match r.exit_code() {
        0 => "passed",
        130 => "interrupted",
        _ => "failed",
    };
    let _ = writeln!(out, "# tokenstorm: {head}\n");
    let s = &r.summary;
    let _ = writeln!(
        out,
        "Client `{}`: {} scenario(s): {} passed, {} failed, {} warned, {} not applicable, {} errors ({:.1} s).\n",
        r.client, s.scenarios, s.passed, s.failed, s.warned, s.not_applicable, s.errors, r.duration_ms as f64 / 1000.0
    );
    let mut order: Vec<&ScenarioReport> = r.scenarios.iter().collect();
    let rank = |v: &str| match v {
        "error" => 0,
        "fail" => 1,
        "warn" => 2,
        "pass" => 3,
        _ => 4,
    };
    order.sort_by_key(|s| (rank(&s.verdict), s.name.clone()));
    let accepted: Vec<(&str, &Verdict)> = r
        .scenarios
        .iter()
        .flat_map(|s| {
            s.rules
                .iter()
                .filter(|v| v.expected.is_some())
                .map(move |v| (s.name.as_str(), v))
        })
        .collect();
    if !r.stale_expected_failures.is_empty() {
        let _ = writeln!(
            out,
            "**Out-of-date expected failures** (they no longer fail; remove them):\n"
        );
        for e in &r.stale_expected_failures {
            let _ = writeln!(out, "- {} / {}: {}", e.scenario, e.rule, e.reason);
        }
        let _ = writeln!(out);
    }
    if !accepted.is_empty() {
        let _ = writeln!(
            out,
            "Accepted by the expected-failures file: {}.\n",
            accepted
                .iter()
                .map(|(s, v)| format!(
                    "{s} / {} ({})",
                    v.rule,
                    v.expected.as_deref().unwrap_or_default()
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    let _ = writeln!(out, "| scenario | verdict | failing rules |\n|---|---|---|");
    for sc in &order {
        let failing: Vec<&str> = sc
            .rules
            .iter()
            .filter(|v| v.status == Status::Fail && v.expected.is_none())
            .map(|v| v.rule.as_str())
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            sc.name,
            icon(&sc.verdict),
            failing.join(", ")
        );
    }
    for sc in order
        .iter()
        .filter(|s| matches!(s.verdict.as_str(), "fail" | "warn" | "error"))
    {
        let _ = writeln!(
            out,
            "\n## {} {}\n\n{}\n",
            icon(&sc.verdict),
            sc.name,
            sc.summary
        );
        if let Outcome::ClientFailed {
            reason,
            stderr_tail,
        } = &sc.outcome
        {
            let _ = writeln!(
                out,
                "The client failed: {reason}\n\n```text\n{}\n```\n",
                stderr_tail.join("\n")
            );
        }
        for v in sc.rules.iter().filter(|v| v.status == Status::Fail) {
            let level = if v.level == Level::Must {
                "MUST"
            } else {
                "SHOULD"
            };
            let guidance = model::rules::rule(&v.rule)
                .map(|r| r.guidance)
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "- **{}** ({level}, \"{guidance}\"): {}",
                v.rule, v.summary
            );
            for e in v.evidence.iter().take(12) {
                let _ = writeln!(out, "  - {}: {}", secs(e.at_us), e.what);
            }
        }
    }
    out
}

fn xml(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect::<String>()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `junit.xml`: one testsuite per scenario, one testcase per rule (`scenario::rule`).
pub fn junit(r: &Report) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let tests: usize = r.scenarios.iter().map(|s| s.rules.len()).sum();
    let failures: usize = r
        .scenarios
        .iter()
        .flat_map(|s| &s.rules)
        .filter(|v| v.status == Status::Fail)
        .count();
    let errors: usize = r
        .scenarios
        .iter()
        .flat_map(|s| &s.rules)
        .filter(|v| v.status == Status::Error)
        .count();
    let _ = writeln!(out, "<testsuites name=\"tokenstorm\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\">", r.duration_ms as f64 / 1000.0);
    for sc in &r.scenarios {
        let f = sc.rules.iter().filter(|v| v.status == Status::Fail).count();
        let e = sc
            .rules
            .iter()
            .filter(|v| v.status == Status::Error)
            .count();
        let sk = sc
            .rules
            .iter()
            .filter(|v| v.status == Status::NotApplicable)
            .count();
        let _ = writeln!(out, "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{f}\" errors=\"{e}\" skipped=\"{sk}\" time=\"{:.3}\">", xml(&sc.name), sc.rules.len(), sc.duration_ms as f64 / 1000.0);
        for v in &sc.rules {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}::{}\">",
                xml(&sc.name),
                xml(&sc.name),
                xml(&v.rule)
            );
            let detail: String = v
                .evidence
                .iter()
                .map(|e| format!("{}: {}\n", secs(e.at_us), e.what))
                .collect();
            match v.status {
                Status::Fail if v.expected.is_some() => {
                    let _ = write!(
                        out,
                        "<skipped message=\"expected failure: {}\"/>",
                        xml(v.expected.as_deref().unwrap_or_default())
                    );
                }
                Status::Fail => {
                    let kind = if v.level == Level::Must {
                        "MUST"
                    } else {
                        "SHOULD"
                    };
                    let _ = write!(
                        out,
                        "<failure message=\"{}\" type=\"{kind}\">{}</failure>",
                        xml(&v.summary),
                        xml(&detail)
                    );
                }
                Status::Error => {
                    let _ = write!(
                        out,
                        "<error message=\"{}\">{}</error>",
                        xml(&v.summary),
                        xml(&detail)
                    );
                }
                Status::NotApplicable => {
                    let _ = write!(out, "<skipped message=\"{}\"/>", xml(&v.summary));
                }
                Status::Pass => {}
            }
            let _ = writeln!(out, "</testcase>");
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Writes `report.json`, `report.md` and `junit.xml` into `dir`.
pub fn write_all(dir: &Path, r: &Report) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(r).map_err(std::io::Error::other)?;
    write_atomic(&dir.join("report.json"), &json)?;
    write_atomic(&dir.join("report.md"), markdown(r).as_bytes())?;
    write_atomic(&dir.join("junit.xml"), junit(r).as_bytes())?;
    Ok(())
}

//! `report.md`: what a reviewer reads in a pull-request comment or a job summary. A headline,
//! the comparison with the baseline, a table of scenarios (failures first), then each failing
//! rule with the guidance it comes from and its evidence as a short timeline; passes and
//! not-applicable scenarios folded in `<details>`. It stays within a size limit (GitHub's
//! comment limit by default) by dropping detail from the end and saying so.

use crate::{label, reading_order, Outcome, Report, ScenarioReport};
use model::verdict::{secs, Status, Verdict};
use std::fmt::Write as _;

/// GitHub caps an issue or pull-request comment at 65,536 characters (the job summary at
/// 1 MiB); `report.md` fits the smaller with room for a bot's wrapper.
pub const GITHUB_SUMMARY_LIMIT: usize = 60_000;

/// Evidence lines shown per failing rule.
const EVIDENCE_LINES: usize = 8;

/// Text made safe for a table cell: one line, no pipes.
pub fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// The failing section of one scenario.
fn failure_section(sc: &ScenarioReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### {} `{}`\n\n{} ({} flow, {} requests, {:.1} s)\n",
        label(&sc.verdict),
        sc.name,
        sc.summary,
        sc.flow,
        sc.requests,
        sc.duration_ms as f64 / 1000.0
    );
    if let Outcome::ClientFailed {
        reason,
        stderr_tail,
    } = &sc.outcome
    {
        let _ = writeln!(out, "The client failed: {reason}\n");
        if !stderr_tail.is_empty() {
            let tail: Vec<&String> = stderr_tail.iter().rev().take(15).rev().collect();
            let _ = writeln!(
                out,
                "```text\n{}\n```\n",
                tail.iter()
                    .map(|s| s.replace("```", "'''"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    }
    if let Outcome::Unjudgeable { reason } = &sc.outcome {
        let _ = writeln!(out, "tokenstorm could not judge this run: {reason}\n");
    }
    let failing: Vec<&Verdict> = sc
        .rules
        .iter()
        .filter(|v| v.status == Status::Fail)
        .collect();
    for v in failing {
        let guidance = model::rules::rule(&v.rule)
            .map(|r| r.guidance)
            .unwrap_or_default();
        let accepted = v
            .expected
            .as_deref()
            .map(|r| format!(" *Accepted by the expected-failures file: {r}*"))
            .unwrap_or_default();
        let causes = if v.causes.is_empty() {
            String::new()
        } else {
            format!(" (cause: `{}`)", v.causes.join("`, `"))
        };
        let _ = writeln!(
            out,
            "- **`{}`** {} · *\"{guidance}\"*: {}{causes}.{accepted}",
            v.rule,
            v.level,
            v.summary.trim_end_matches('.')
        );
        for e in v.evidence.iter().take(EVIDENCE_LINES) {
            let _ = writeln!(out, "  - `{:>9}` {}", secs(e.at_us), e.what);
        }
        if v.evidence.len() > EVIDENCE_LINES {
            let _ = writeln!(
                out,
                "  - … and {} more in report.json",
                v.evidence.len() - EVIDENCE_LINES
            );
        }
    }
    out.push('\n');
    out
}

/// Renders `report.md`, at most `limit` bytes (a pointer to report.html replaces what does
/// not fit).
pub fn render(r: &Report, limit: usize) -> String {
    let mut out = String::new();
    let s = &r.summary;
    let icon = match r.headline() {
        "passed" => "✅",
        "interrupted" => "⏸️",
        _ => "❌",
    };
    let mode = if r.mode == crate::Mode::Observe {
        " (observe mode: journal-only rules)"
    } else {
        ""
    };
    let _ = writeln!(out, "# {icon} tokenstorm: {}{mode}\n", r.headline());
    let _ = writeln!(
        out,
        "Client `{}`: **{} scenario(s)**: {} passed{}, {} failed, {} warned, {} not applicable, {} errors, in {:.1} s{}.\n",
        r.client.replace('`', "'"),
        s.scenarios,
        s.passed,
        if s.accepted > 0 {
            format!(" ({} only by accepted failures)", s.accepted)
        } else {
            String::new()
        },
        s.failed,
        s.warned,
        s.not_applicable,
        s.errors,
        r.duration_ms as f64 / 1000.0,
        if r.strict { " (strict: SHOULD rules count)" } else { "" }
    );
    if r.interrupted {
        let _ = writeln!(
            out,
            "> **Interrupted**: this report holds only the scenarios judged before the run stopped.\n"
        );
    }
    if let Some(d) = &r.baseline {
        out.push_str(&diff(d));
    }
    if !r.stale_expected_failures.is_empty() {
        let _ = writeln!(
            out,
            "**Out-of-date expected failures** (these no longer fail; remove them from the file):\n"
        );
        for e in &r.stale_expected_failures {
            let _ = writeln!(
                out,
                "- `{}` / `{}` / cause `{}`: {}",
                e.scenario, e.rule, e.cause, e.reason
            );
        }
        out.push('\n');
    }
    let order = reading_order(r);
    let (attention, quiet): (Vec<&ScenarioReport>, Vec<&ScenarioReport>) =
        order.iter().partition(|s| {
            matches!(
                s.verdict.as_str(),
                "error" | "fail" | "warn" | "inconclusive"
            )
        });
    if !attention.is_empty() {
        let _ = writeln!(out, "| | scenario | failing rules |\n|---|---|---|");
        for sc in &attention {
            let rules: Vec<String> = sc
                .rules
                .iter()
                .filter(|v| matches!(v.status, Status::Fail | Status::Error))
                .map(|v| {
                    if v.expected.is_some() {
                        format!("~~`{}`~~ (accepted)", v.rule)
                    } else {
                        format!("`{}`", v.rule)
                    }
                })
                .collect();
            let label = if sc.expected_inconclusive.is_some() {
                format!("{} (accepted)", label(&sc.verdict))
            } else {
                label(&sc.verdict).to_string()
            };
            let _ = writeln!(out, "| {label} | `{}` | {} |", sc.name, rules.join(", "));
        }
        out.push('\n');
    }
    let accepted: Vec<(&str, &Verdict)> = order
        .iter()
        .flat_map(|s| {
            s.rules
                .iter()
                .filter(|v| v.status == Status::Fail && v.expected.is_some())
                .map(move |v| (s.name.as_str(), v))
        })
        .collect();
    let accepted_inconclusive: Vec<&ScenarioReport> = order
        .iter()
        .copied()
        .filter(|s| s.expected_inconclusive.is_some())
        .collect();
    if !accepted_inconclusive.is_empty() {
        let _ = writeln!(
            out,
            "**Accepted inconclusive scenarios** (they can't judge this client, as the expected-failures file says):\n"
        );
        for s in &accepted_inconclusive {
            let _ = writeln!(
                out,
                "- `{}`: {}",
                s.name,
                s.expected_inconclusive.as_deref().unwrap_or_default()
            );
        }
        out.push('\n');
    }
    if !accepted.is_empty() {
        let _ = writeln!(
            out,
            "**Accepted failures** (the expected-failures file accepts these; they still fail):\n"
        );
        for (s, v) in &accepted {
            let _ = writeln!(
                out,
                "- `{s}` / `{}` (observed cause: `{}`): accepted as {}",
                v.rule,
                v.causes.join("`, `"),
                v.expected.as_deref().unwrap_or_default()
            );
        }
        out.push('\n');
    }
    let folded = folded(&quiet);

    // Detail, failures first, while it fits (leaving room for the folded part and a note).
    let tail_room = folded.len().min(limit / 4) + 400;
    let mut omitted = Vec::new();
    for sc in &attention {
        let section = failure_section(sc);
        if out.len() + section.len() + tail_room > limit {
            omitted.push(sc.name.as_str());
        } else {
            out.push_str(&section);
        }
    }
    if !omitted.is_empty() {
        let _ = writeln!(
            out,
            "> {} more failing scenario(s) did not fit here ({}): see `report.html` or `report.json` in the report folder.\n",
            omitted.len(),
            omitted.join(", ")
        );
    }
    if out.len() + folded.len() + 200 <= limit {
        out.push_str(&folded);
    } else {
        let _ = writeln!(
            out,
            "> {} passing or not-applicable scenario(s) are listed in `report.html`.\n",
            quiet.len()
        );
    }
    if out.len() > limit {
        // A pathological single section: cut at a character boundary and say so.
        let mut cut = limit.saturating_sub(120);
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("\n\n> Truncated to fit; see `report.html`.\n");
    }
    out
}

fn folded(quiet: &[&ScenarioReport]) -> String {
    let mut out = String::new();
    let passed: Vec<&&ScenarioReport> = quiet.iter().filter(|s| s.verdict == "pass").collect();
    let na: Vec<&&ScenarioReport> = quiet.iter().filter(|s| s.verdict != "pass").collect();
    if !passed.is_empty() {
        let _ = writeln!(
            out,
            "<details><summary>Passed: {} scenario(s)</summary>\n\n| scenario | rules passed |\n|---|---|",
            passed.len()
        );
        for sc in passed {
            let rules: Vec<String> = sc
                .rules
                .iter()
                .map(|v| match (v.status, &v.expected) {
                    (Status::Fail, Some(_)) => format!("`{}` (accepted fail)", v.rule),
                    (Status::NotApplicable, _) => format!("`{}` (n/a)", v.rule),
                    _ => format!("`{}`", v.rule),
                })
                .collect();
            let _ = writeln!(out, "| `{}` | {} |", sc.name, rules.join(", "));
        }
        out.push_str("\n</details>\n\n");
    }
    if !na.is_empty() {
        let _ = writeln!(
            out,
            "<details><summary>Not applicable: {} scenario(s)</summary>\n\n| scenario | why |\n|---|---|",
            na.len()
        );
        for sc in na {
            let why = match &sc.outcome {
                Outcome::NotApplicable { reason } => reason.clone(),
                _ => String::new(),
            };
            let _ = writeln!(out, "| `{}` | {} |", sc.name, cell(&why));
        }
        out.push_str("\n</details>\n");
    }
    out
}

/// A status in the diff's tables.
fn status(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::NotApplicable => "n/a",
        Status::Error => "error",
    }
}

fn table(out: &mut String, changes: &[crate::diff::Change]) {
    let _ = writeln!(
        out,
        "| scenario | rule | was | now | why |\n|---|---|---|---|---|"
    );
    for c in changes {
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} | {} |",
            c.scenario,
            c.rule,
            status(c.base),
            status(c.head),
            cell(&c.summary)
        );
    }
}

/// A run against its baseline as Markdown (for `tokenstorm diff` and the top of `report.md`).
pub fn diff(d: &crate::diff::Diff) -> String {
    let mut out = String::new();
    let head = if d.regressed() {
        format!("**Regressed**: {} new fail(s)", d.new_fails.len())
    } else {
        "**No regression**".to_string()
    };
    let _ = writeln!(
        out,
        "{head} against the baseline: {} fixed, {} still failing, {} unchanged; {} new scenario(s), {} removed.\n",
        d.fixed.len(),
        d.still_failing.len(),
        d.unchanged,
        d.new_scenarios.len(),
        d.removed_scenarios.len()
    );
    if !d.new_fails.is_empty() {
        let _ = writeln!(out, "New fails:\n");
        table(&mut out, &d.new_fails);
        out.push('\n');
    }
    if !d.fixed.is_empty() {
        let _ = writeln!(out, "Fixed:\n");
        table(&mut out, &d.fixed);
        out.push('\n');
    }
    if !d.new_scenarios.is_empty() {
        let _ = writeln!(out, "New scenarios: {}.\n", d.new_scenarios.join(", "));
    }
    if !d.removed_scenarios.is_empty() {
        let _ = writeln!(
            out,
            "Removed scenarios: {}.\n",
            d.removed_scenarios.join(", ")
        );
    }
    out
}

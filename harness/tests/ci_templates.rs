//! The CI templates in `ci/` parse as YAML and do what `ci/README.md` promises: run
//! tokenstorm with a report folder and a baseline, write the step summary, publish the JUnit
//! report, upload the reports even when the run failed; and every `tokenstorm` flag they use
//! exists in this build's CLI.
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn yaml(name: &str) -> (String, Value) {
    let text = std::fs::read_to_string(root().join("ci").join(name)).unwrap();
    let v: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    (text, v)
}

/// Every step of every job of a GitHub workflow.
fn steps(v: &Value) -> Vec<&Value> {
    v["jobs"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|j| j["steps"].as_array().into_iter().flatten())
        .collect()
}

fn run_text(s: &Value) -> &str {
    s["run"].as_str().unwrap_or_default()
}

/// The `--flags` given to `tokenstorm <sub>` in a script (continuation lines and `args+=(...)`
/// arrays included).
fn flags_in(script: &str) -> Vec<String> {
    script
        .split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '"' | '\'' | '='))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(str::to_string)
        .collect()
}

fn cli_flags(sub: &[&str]) -> String {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_tokenstorm"))
        .args(sub)
        .arg("--help")
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn the_github_workflow_runs_publishes_and_uploads_always() {
    let (_, v) = yaml("github-actions.yml");
    assert!(
        v.get("on").is_some() || v.get("true").is_some(),
        "no trigger"
    );
    let all = steps(&v);
    let run = all
        .iter()
        .find(|s| run_text(s).contains("tokenstorm run"))
        .expect("a step running tokenstorm run");
    let script = run_text(run);
    assert!(
        script.contains("--out") && script.contains("--baseline"),
        "{script}"
    );
    // The run step builds tokenstorm's arguments (in `args=(...)` arrays): each must exist.
    let help = cli_flags(&["run"]);
    let ours: String = script
        .lines()
        .filter(|l| l.contains("args=(") || l.contains("args+=(") || l.contains("tokenstorm run"))
        .collect::<Vec<_>>()
        .join("\n");
    let used = flags_in(&ours);
    assert!(used.len() >= 4, "{used:?}");
    for f in used {
        assert!(help.contains(&f), "`{f}` is not a flag of tokenstorm run");
    }
    let summary = all
        .iter()
        .find(|s| run_text(s).contains("GITHUB_STEP_SUMMARY"))
        .expect("a step summary");
    assert!(run_text(summary).contains("report.md"));
    assert_eq!(summary["if"].as_str(), Some("always()"));
    let junit = all
        .iter()
        .find(|s| s.to_string().contains("junit.xml") && s.get("uses").is_some())
        .expect("a JUnit publishing action");
    assert_eq!(junit["if"].as_str(), Some("always()"));
    let upload = all
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/upload-artifact@"))
        })
        .expect("an upload of the report folder");
    assert_eq!(upload["if"].as_str(), Some("always()"));
    assert!(upload["with"]["path"]
        .as_str()
        .unwrap_or_default()
        .contains("tokenstorm-report"));
    // The job fails on tokenstorm's exit code, after the reports are out.
    let last = all.last().unwrap();
    assert!(
        run_text(last).contains("exit"),
        "the last step should fail the job on a bad exit"
    );
}

#[test]
fn the_sharded_workflow_merges_its_shards() {
    let (text, v) = yaml("github-actions-sharded.yml");
    assert!(text.contains("--shard"));
    let all = steps(&v);
    assert!(all
        .iter()
        .any(|s| run_text(s).contains("tokenstorm report merge")));
    let help = cli_flags(&["report", "merge"]);
    assert!(help.contains("--out"));
}

#[test]
fn the_gitlab_job_runs_tokenstorm_and_reports_junit_always() {
    let (_, v) = yaml("gitlab-ci.yml");
    let jobs: Vec<&Value> = v
        .as_object()
        .unwrap()
        .values()
        .filter(|j| j.get("script").is_some())
        .collect();
    let job = jobs
        .iter()
        .find(|j| j["script"].to_string().contains("tokenstorm run"))
        .expect("a job running tokenstorm run");
    assert_eq!(job["artifacts"]["when"], "always");
    assert!(job["artifacts"]["reports"]["junit"]
        .as_str()
        .unwrap()
        .ends_with("junit.xml"));
    assert!(job["artifacts"]["paths"]
        .to_string()
        .contains("tokenstorm-report"));
}

#[test]
fn the_readme_documents_each_template() {
    let readme = std::fs::read_to_string(root().join("ci/README.md")).unwrap();
    for f in [
        "github-actions.yml",
        "github-actions-sharded.yml",
        "gitlab-ci.yml",
        "--baseline",
        "--expected-failures",
    ] {
        assert!(readme.contains(f), "ci/README.md does not mention {f}");
    }
}

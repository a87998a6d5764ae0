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

fn action() -> Value {
    let text = std::fs::read_to_string(root().join("action.yml")).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("action.yml: {e}"))
}

/// The steps that use the tokenstorm action, and each is given only inputs the action has.
fn action_steps<'a>(all: &[&'a Value]) -> Vec<&'a Value> {
    let inputs = action()["inputs"].as_object().unwrap().clone();
    let uses: Vec<&Value> = all
        .iter()
        .copied()
        .filter(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("YOUR-ORG/tokenstorm@v"))
        })
        .collect();
    for s in &uses {
        for k in s["with"].as_object().into_iter().flat_map(|w| w.keys()) {
            assert!(inputs.contains_key(k), "the action has no input `{k}`");
        }
    }
    uses
}

#[test]
fn the_github_workflow_runs_the_action_and_publishes_always() {
    let (_, v) = yaml("github-actions.yml");
    assert!(
        v.get("on").is_some() || v.get("true").is_some(),
        "no trigger"
    );
    let all = steps(&v);
    let uses = action_steps(&all);
    assert_eq!(uses.len(), 1, "one step runs the action");
    let run = uses[0];
    assert_eq!(run["with"]["out"], "tokenstorm-report");
    assert!(run["with"]["baseline"]
        .as_str()
        .unwrap()
        .ends_with("report.json"));
    assert!(run["with"].get("expected-failures").is_some());
    // What comes after the run publishes whatever the verdict.
    let after: Vec<&&Value> = all
        .iter()
        .skip_while(|s| !std::ptr::eq(**s, run))
        .skip(1)
        .collect();
    assert!(after.len() >= 2, "publishing steps after the run");
    for s in &after {
        assert_eq!(s["if"].as_str(), Some("always()"), "{s}");
    }
    let junit = after
        .iter()
        .find(|s| s.to_string().contains("junit.xml"))
        .expect("a JUnit publishing action");
    assert!(junit.get("uses").is_some());
    let upload = after
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/upload-artifact@"))
        })
        .expect("an upload of the report folder");
    assert!(upload["with"]["path"]
        .as_str()
        .unwrap_or_default()
        .contains("tokenstorm-report"));
}

#[test]
fn the_action_passes_only_flags_tokenstorm_run_has() {
    let script = std::fs::read_to_string(root().join("ci/action/run.sh")).unwrap();
    let help = cli_flags(&["run"]);
    let ours: String = script
        .lines()
        .filter(|l| l.contains("args=(") || l.contains("args+=("))
        .collect::<Vec<_>>()
        .join("\n");
    let used = flags_in(&ours);
    assert!(used.len() >= 6, "{used:?}");
    for f in used {
        assert!(help.contains(&f), "`{f}` is not a flag of tokenstorm run");
    }
    // Every input the scripts read is declared, and every declared input is read.
    let a = action();
    let inputs = a["inputs"].as_object().unwrap();
    let text = std::fs::read_to_string(root().join("action.yml")).unwrap();
    for k in inputs.keys() {
        assert!(
            text.contains(&format!("inputs.{k} }}}}")) || text.contains(&format!("inputs.{k} ")),
            "input `{k}` is declared but never used"
        );
    }
    for step in a["runs"]["steps"].as_array().unwrap() {
        if let Some(run) = step["run"].as_str() {
            assert!(
                run.contains("$GITHUB_ACTION_PATH/ci/action/"),
                "{run}: the action's scripts live in ci/action"
            );
        }
    }
}

#[test]
fn the_sharded_workflow_merges_its_shards() {
    let (text, v) = yaml("github-actions-sharded.yml");
    assert!(text.contains("--shard"));
    let all = steps(&v);
    let uses = action_steps(&all);
    assert!(uses.iter().any(|s| s["with"]["args"]
        .as_str()
        .is_some_and(|a| a.contains("--shard"))
        && s["with"]["fail-on-verdict"] == "false"));
    assert!(uses.iter().any(|s| s["with"]["install-only"] == "true"));
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
    // The release archive is checked before it is unpacked.
    let install = job["before_script"].to_string();
    let check = install.find("sha256sum --check").expect("a checksum check");
    assert!(check < install.find("tar -xzf").expect("the unpacking"));
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

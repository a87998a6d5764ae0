//! `--impersonate` as a user runs it: apps of several runtimes, told nothing about tokenstorm,
//! reach Entra by its real name through the proxy and trust the run's CA by the variables
//! tokenstorm sets (curl, Python, a JVM), or reach the managed-identity endpoint (Node); and
//! `run --impersonate` drives the reference client at Entra's and Graph's real names with the
//! same verdicts.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn tokenstorm(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tokenstorm"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn journal(out: &Path) -> Vec<serde_json::Value> {
    let dir = out.join("journal");
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".jsonl") && !name.ends_with(".transcript.jsonl") {
            for line in std::fs::read_to_string(e.path()).unwrap().lines() {
                v.push(serde_json::from_str(line).unwrap());
            }
        }
    }
    v
}

#[test]
fn every_runtime_reaches_entra_by_its_real_name_and_trusts_the_run() {
    let out = tempfile::tempdir().unwrap();
    let app = root().join("harness/tests/clients/impersonation/fetch.sh");
    let o = tokenstorm(&[
        "observe",
        "--impersonate",
        "--timeout",
        "90s",
        "--out",
        out.path().to_str().unwrap(),
        "--",
        "bash",
        app.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    // Java, Python, Node and curl are on every machine this project's CI runs on.
    let want = [
        "app| curl 200",
        "app| python 200",
        "app| node 200",
        "app| java 200",
    ];
    for w in &want {
        assert!(stderr.contains(w), "no {w:?} in:\n{stderr}");
    }
    // Each request reached the mock, under the tenant the app named.
    let j = journal(out.path());
    let discovery = j
        .iter()
        .filter(|e| e["endpoint"] == "discovery")
        .filter(|e| e["tenant"] == "72f988bf-86f1-41af-91ab-2d7cd011db47")
        .count();
    assert_eq!(discovery, want.len() - 1, "{j:#?}");
    assert!(j
        .iter()
        .any(|e| e["grant_type"] == "managed_identity" && e["status"] == 200));
}

#[test]
fn run_impersonate_judges_the_reference_client_at_entras_names() {
    let out = tempfile::tempdir().unwrap();
    let o = tokenstorm(&[
        "run",
        "--impersonate",
        "--filter",
        "cache-per-scope",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The sign-in went to Entra's real name (the harness's browser went through the proxy too).
    let transcript: String = std::fs::read_dir(out.path().join("journal"))
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .ends_with(".transcript.jsonl")
        })
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    assert!(
        transcript.contains("https://login.microsoftonline.com/"),
        "{transcript}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    assert!(
        report["summary"]["passed"].as_u64().unwrap() >= 2,
        "{report}"
    );
}

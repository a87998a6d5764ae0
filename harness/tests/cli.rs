//! The `tokenstorm` binary's scenario tooling and `serve`, run as a user runs them.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

fn tokenstorm(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tokenstorm"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .unwrap()
}

#[test]
fn validate_accepts_the_library_and_names_file_line_column_otherwise() {
    let ok = tokenstorm(&["scenarios", "validate", "scenarios"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("scenario(s) valid"));

    let bad = tokenstorm(&[
        "scenarios",
        "validate",
        "model/tests/broken/misspelled-rule.yaml",
        "model/tests/broken/until-before-after.yaml",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("model/tests/broken/misspelled-rule.yaml:5:9: unknown rule 'cache.resue' (did you mean 'cache.reuse'?)"), "{err}");
    assert!(
        err.contains("model/tests/broken/until-before-after.yaml:10:12:"),
        "{err}"
    );
    assert!(err.contains("2 problem(s)"), "{err}");

    let missing = tokenstorm(&["scenarios", "validate", "no/such/file.yaml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no/such/file.yaml"));
}

#[test]
fn list_shows_the_builtin_library_and_filters() {
    let out = tokenstorm(&["scenarios", "list"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let rows = text
        .lines()
        .filter(|l| l.contains("client.liveness"))
        .count();
    assert!(rows >= 30, "{text}");
    assert!(text.contains("the longest takes about"));
    let out = tokenstorm(&["scenarios", "list", "--filter", "cae"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .skip(1)
            .filter(|l| l.contains("client.liveness"))
            .all(|l| l.contains("cae")),
        "{text}"
    );
}

#[test]
fn schema_prints_the_checked_in_schema() {
    let out = tokenstorm(&["scenarios", "schema"]);
    assert!(out.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/scenario.schema.json");
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert_eq!(printed, on_disk);
}

#[test]
fn rules_lists_the_catalog() {
    let out = tokenstorm(&["rules"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for r in model::rules::CATALOG {
        assert!(text.contains(r.id), "{} missing", r.id);
    }
    assert!(text.contains("SHOULD") && text.contains("MUST"));
}

#[test]
fn serve_refuses_an_invalid_scenario_with_exit_2() {
    let out = tokenstorm(&[
        "serve",
        "--scenario",
        "model/tests/broken/call-range-from-zero.yaml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("call-range-from-zero.yaml:8:12:"));
}

//! `junit.xml` as CI tools read it: checked against `docs/junit.xsd` and parsed by
//! junitparser (pinned, installed by `scripts/install-report-tools.sh`); what the consumer sees
//! must be what the report says.
#![allow(clippy::unwrap_used)]

use model::verdict::Status;
use std::path::Path;
use std::process::Command;

fn python() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("bash")
        .arg(root.join("scripts/install-report-tools.sh"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("python=").map(str::to_string))
        .unwrap()
}

fn consume(xml: &str) -> Result<serde_json::Value, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("junit.xml");
    std::fs::write(&f, xml).unwrap();
    let out = Command::new(python())
        .arg(root.join("scripts/report-tools/check_junit.py"))
        .arg(&f)
        .arg(root.join("docs/junit.xsd"))
        .output()
        .unwrap();
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn junit_validates_and_a_real_consumer_sees_every_verdict() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run/report.json");
    let r = tokenstorm_reports::load(&fixture).unwrap();
    let seen = consume(&tokenstorm_reports::junit::render(&r)).unwrap();
    let suites = seen["suites"].as_array().unwrap();
    assert_eq!(suites.len(), r.scenarios.len());
    for (suite, sc) in suites.iter().zip(&r.scenarios) {
        assert_eq!(suite["name"], sc.name.as_str());
        // Declared counts agree with the elements.
        assert_eq!(suite["declared"], suite["counts"], "{}", sc.name);
        for (case, v) in suite["cases"].as_array().unwrap().iter().zip(&sc.rules) {
            assert_eq!(case["name"], format!("{}::{}", sc.name, v.rule));
            let want = match (v.status, &v.expected) {
                (Status::Pass, _) => "passed",
                (Status::Fail, None) => "failure",
                (Status::Fail, Some(_)) | (Status::NotApplicable, _) => "skipped",
                (Status::Error, _) => "error",
            };
            assert_eq!(case["kind"], want, "{}::{}", sc.name, v.rule);
            if want == "failure" {
                // The summary, then the causes of the fail.
                let m = case["message"].as_str().unwrap();
                assert!(m.starts_with(v.summary.as_str()), "{m}");
                for c in &v.causes {
                    assert!(m.contains(c.as_str()), "{m} lacks the cause {c}");
                }
            }
        }
    }
    // The crashed client's stderr (redacted already) is its suite's system-err.
    let crashed = r
        .scenarios
        .iter()
        .position(|s| matches!(s.outcome, model::Outcome::ClientFailed { .. }))
        .unwrap();
    let err = suites[crashed]["system_err"].as_str().unwrap_or_default();
    assert!(err.contains("Traceback: simulated crash"), "{err:?}");
    assert!(suites
        .iter()
        .enumerate()
        .all(|(i, s)| i == crashed || s["system_err"].is_null()));
    let t = &seen["totals"];
    // The fixture: two rule fails, a crash (liveness fails, the rest errors), an accepted fail.
    assert_eq!(t["failures"], 3);
    assert_eq!(t["errors"], 1);
    assert_eq!(t["skipped"], 6);
}

#[test]
fn the_schema_check_can_fail() {
    let e = consume("<testsuites><testsuite name=\"x\"><testcase/></testsuite></testsuites>")
        .unwrap_err();
    assert!(e.contains("tests") && e.contains("name"), "{e}");
    // Hostile text in a verdict stays well-formed XML.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run/report.json");
    let mut r = tokenstorm_reports::load(&fixture).unwrap();
    r.scenarios[0].rules[0].status = Status::Fail;
    r.scenarios[0].rules[0].summary = "<&\"'>\u{1b}]]> boom".into();
    // Characters XML 1.0 can't hold (NUL, other C0 controls) and terminal escapes are dropped.
    r.scenarios[0].rules[0]
        .evidence
        .push(model::verdict::Evidence {
            at_us: 1,
            what: "nul\u{0} bell\u{7} \u{1b}[31mred\u{1b}[0m".into(),
            seq: None,
        });
    let text = tokenstorm_reports::junit::render(&r);
    assert!(!text.contains('\u{0}') && !text.contains('\u{7}') && !text.contains('\u{1b}'));
    assert!(text.contains("nul bell red"), "{text}");
    let seen = consume(&text).unwrap();
    // The markup characters arrive as text. (quick-junit reads `ESC ]` as the start of a
    // terminal's OSC sequence and drops it with what follows: a stray escape costs the rest of
    // its line, never the file's well-formedness.)
    let message = seen["suites"][0]["cases"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("<&\"'>"), "{message}");
}

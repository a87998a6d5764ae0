//! Every format rendered from one fixed report (a real run of a scripted client: passes, fails,
//! an accepted fail, a crash, not-applicable scenarios), snapshotted with insta; the schema
//! kept in sync; size limits; diff and merge.
//!
//! Update snapshots: `cargo insta review` or `INSTA_UPDATE=always cargo test -p tokenstorm-reports`;
//! the schema: `TOKENSTORM_BLESS=1 cargo test -p tokenstorm-reports`.
#![allow(clippy::unwrap_used)]

use model::verdict::Status;
use std::path::{Path, PathBuf};
use tokenstorm_reports::{diff, html, junit, markdown, merge, Report};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run")
}

fn fixture() -> Report {
    tokenstorm_reports::load(&fixture_dir().join("report.json")).unwrap()
}

/// A JWT-looking run: `eyJ` + base64url + `.` + base64url (+ `.` ...).
fn holds_a_jwt(text: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
        .any(|w| w.starts_with("eyJ") && w.matches('.').count() >= 2 && w.len() > 60)
}

#[test]
fn markdown_snapshot() {
    let md = markdown::render(&fixture(), markdown::GITHUB_SUMMARY_LIMIT);
    insta::assert_snapshot!("report.md", md);
}

#[test]
fn junit_snapshot() {
    insta::assert_snapshot!("junit.xml", junit::render(&fixture()));
}

#[test]
fn html_snapshot() {
    let r = fixture();
    let h = html::render(&r, &html::Journals::from_dir(&fixture_dir(), &r));
    insta::assert_snapshot!("report.html", h.replace("><", ">\n<"));
}

#[test]
fn json_round_trips() {
    let r = fixture();
    let text = serde_json::to_string_pretty(&r).unwrap();
    let back: Report = serde_json::from_str(&text).unwrap();
    assert_eq!(back, r);
    insta::assert_snapshot!("report.json", text);
}

#[test]
fn no_format_holds_a_token() {
    let r = fixture();
    let j = html::Journals::from_dir(&fixture_dir(), &r);
    for text in [
        markdown::render(&r, markdown::GITHUB_SUMMARY_LIMIT),
        junit::render(&r),
        html::render(&r, &j),
        serde_json::to_string(&r).unwrap(),
    ] {
        assert!(!holds_a_jwt(&text));
    }
    // The check itself can fail: a real JWT shape is caught.
    assert!(holds_a_jwt(
        "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4eHh4eHh4eHh4In0.c2lnbmF0dXJlc2lnbmF0dXJl"
    ));
}

#[test]
fn the_schema_is_checked_in_and_describes_the_fixture() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/report.schema.json");
    let want = serde_json::to_string_pretty(&tokenstorm_reports::schema()).unwrap() + "\n";
    if std::env::var_os("TOKENSTORM_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/report.schema.json is out of date: run TOKENSTORM_BLESS=1 cargo test -p tokenstorm-reports"
    );
    let schema: serde_json::Value = serde_json::from_str(&have).unwrap();
    // Every top-level field the fixture has is declared (the schema is of this document).
    let props = schema["properties"].as_object().unwrap();
    let doc = serde_json::to_value(fixture()).unwrap();
    for k in doc.as_object().unwrap().keys() {
        assert!(props.contains_key(k), "{k} is not in the schema");
    }
}

#[test]
fn markdown_stays_within_its_limit_and_points_to_the_html() {
    let mut big = fixture();
    let failing: Vec<_> = big
        .scenarios
        .iter()
        .filter(|s| s.verdict == "fail")
        .cloned()
        .collect();
    for i in 0..400 {
        let mut s = failing[i % failing.len()].clone();
        s.name = format!("{}-{i}", s.name);
        big.scenarios.push(s);
    }
    big.summarize();
    let md = markdown::render(&big, markdown::GITHUB_SUMMARY_LIMIT);
    assert!(md.len() <= markdown::GITHUB_SUMMARY_LIMIT, "{}", md.len());
    assert!(md.contains("did not fit here"), "no pointer to the rest");
    assert!(md.contains("report.html"));
    // The headline and the table of failures survive truncation.
    assert!(md.starts_with("# ❌ tokenstorm: failed"));
    assert!(md.contains("| FAIL | `throttle-429-short-399` |"));

    let small = markdown::render(&fixture(), 2_500);
    assert!(small.len() <= 2_500, "{}", small.len());
    // Without a limit problem nothing is dropped.
    let full = markdown::render(&fixture(), markdown::GITHUB_SUMMARY_LIMIT);
    assert!(!full.contains("did not fit"));
    assert!(full.contains("<details><summary>Passed: 2 scenario(s)</summary>"));
}

/// A copy of the fixture with one planted regression and one planted fix.
fn planted() -> Report {
    let mut head = fixture();
    for s in &mut head.scenarios {
        for v in &mut s.rules {
            if s.name == "cache-reuse-app-token" && v.rule == "cache.reuse" {
                v.status = Status::Fail;
                v.summary = "planted regression".into();
                // Accepted in the head's expected-failures file: still a regression.
                v.expected = Some("accepted, but it passed before".into());
            }
            if s.name == "throttle-429-short" && v.rule == "throttle.retry-after" {
                v.status = Status::Pass;
                v.evidence.clear();
            }
        }
        s.recompute(false);
    }
    head.summarize();
    head
}

#[test]
fn diff_finds_a_planted_regression_and_a_planted_fix() {
    let base = fixture();
    let head = planted();
    let d = diff::diff(&base, &head);
    assert!(d.regressed());
    assert_eq!(d.new_fails.len(), 1, "{d:?}");
    assert_eq!(d.new_fails[0].scenario, "cache-reuse-app-token");
    assert_eq!(d.new_fails[0].rule, "cache.reuse");
    assert_eq!(d.fixed.len(), 1, "{d:?}");
    assert_eq!(d.fixed[0].rule, "throttle.retry-after");
    assert!(d.still_failing.iter().any(|c| c.rule == "backoff.5xx"));
    // A regression fails the run even though every fail is accepted or fixed.
    let mut r = head.clone();
    r.baseline = Some(d.clone());
    assert_eq!(r.exit_code(), 1);
    assert_eq!(r.headline(), "regressed");
    let md = markdown::diff(&d);
    assert!(md.contains("**Regressed**: 1 new fail(s)"), "{md}");
    assert!(
        md.contains("| cache-reuse-app-token | `cache.reuse` | pass | fail |"),
        "{md}"
    );
    // Compared with itself: nothing changed.
    let same = diff::diff(&base, &base);
    assert!(!same.regressed() && same.fixed.is_empty() && same.new_scenarios.is_empty());
    // New and removed scenarios.
    let mut fewer = base.clone();
    fewer.scenarios.retain(|s| s.name != "throttle-429-short");
    let d = diff::diff(&fewer, &base);
    assert_eq!(d.new_scenarios, vec!["throttle-429-short".to_string()]);
    assert!(!d.regressed(), "a new scenario's fails are not regressions");
    assert_eq!(diff::diff(&base, &fewer).removed_scenarios.len(), 1);
}

#[test]
fn merge_joins_shards_into_the_whole_run() {
    let whole = fixture();
    let mut a = whole.clone();
    let mut b = whole.clone();
    a.scenarios = whole.scenarios.iter().step_by(2).cloned().collect();
    b.scenarios = whole.scenarios.iter().skip(1).step_by(2).cloned().collect();
    a.shard = Some("1/2".into());
    b.shard = Some("2/2".into());
    a.summarize();
    b.summarize();
    let m = merge::merge(&[b.clone(), a.clone()]).unwrap();
    assert_eq!(m.scenarios, whole.scenarios);
    assert_eq!(m.summary, whole.summary);
    assert_eq!(m.exit_code(), whole.exit_code());
    assert_eq!(m.shard, None);

    assert!(matches!(
        merge::merge(std::slice::from_ref(&a)),
        Err(merge::MergeError::Shards(m)) if m.contains("2/2 missing")
    ));
    assert!(matches!(
        merge::merge(&[a.clone(), a.clone()]),
        Err(merge::MergeError::Shards(_)) | Err(merge::MergeError::Duplicate(_))
    ));
    let mut other = b.clone();
    other.client = "someone else".into();
    assert!(matches!(
        merge::merge(&[a, other]),
        Err(merge::MergeError::Mismatch(_))
    ));
}

#[test]
fn load_names_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("report.json");
    std::fs::write(&p, "{\n  \"schema_version\": 1,\n  oops\n}").unwrap();
    let e = tokenstorm_reports::load(&p).unwrap_err().to_string();
    assert!(e.contains("report.json:3:3"), "{e}");
    std::fs::write(&p, "{\"schema_version\": 9}").unwrap();
    let e = tokenstorm_reports::load(&p).unwrap_err().to_string();
    assert!(e.contains("schema version 9"), "{e}");
}

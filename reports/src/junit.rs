//! `junit.xml`: one testsuite per scenario, one testcase per rule (`scenario::rule.id`);
//! failures carry the summary as message and the evidence as text, errors (a client that
//! crashed or hung) are `<error>`, not-applicable verdicts and accepted fails are `<skipped>`.
//! The shape is the one Jenkins, GitLab and GitHub's JUnit actions read (checked against an
//! XSD and parsed by a real consumer in the tests).

use crate::Report;
use model::verdict::{secs, Status};
use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
use std::time::Duration;

/// Text made safe for XML attributes and content (control characters dropped).
pub fn xml(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect::<String>()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `junit.xml`: one testsuite per scenario, one testcase per rule (`scenario::rule`), and a
/// failing `scenario::inconclusive` testcase for a scenario in which nothing was judged (a
/// skipped one when an expected-failures entry accepts it). Written by quick-junit (cargo
/// nextest's serializer), which keeps the declared counts equal to the elements and drops
/// characters XML can't hold; the run's start is the timestamp, and a client that crashed or
/// hung leaves its stderr's tail (tokens redacted) as the testsuite's `system-err`.
pub fn render(r: &Report) -> String {
    let mut report = quick_junit::Report::new("tokenstorm");
    report.set_time(Duration::from_millis(r.duration_ms));
    let started = chrono::DateTime::from_timestamp(i64::try_from(r.started_unix).unwrap_or(0), 0)
        .map(|t| t.fixed_offset());
    if let Some(t) = started {
        report.set_timestamp(t);
    }
    for sc in &r.scenarios {
        let mut suite = TestSuite::new(sc.name.as_str());
        suite.set_time(Duration::from_millis(sc.duration_ms));
        if let Some(t) = started {
            suite.set_timestamp(t);
        }
        if let model::Outcome::ClientFailed { stderr_tail, .. } = &sc.outcome {
            if !stderr_tail.is_empty() {
                suite.set_system_err(stderr_tail.join("\n"));
            }
        }
        for v in &sc.rules {
            let detail: String = v
                .evidence
                .iter()
                .map(|e| format!("{}: {}\n", secs(e.at_us), e.what))
                .collect();
            let status = match v.status {
                Status::Pass => TestCaseStatus::success(),
                Status::Fail if v.expected.is_some() => {
                    let mut st = TestCaseStatus::skipped();
                    st.set_message(format!(
                        "expected failure (observed cause: {}): accepted as {}",
                        v.causes.join(", "),
                        v.expected.as_deref().unwrap_or_default()
                    ));
                    st
                }
                Status::Fail => {
                    let causes = if v.causes.is_empty() {
                        String::new()
                    } else {
                        format!(" (cause: {})", v.causes.join(", "))
                    };
                    let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    st.set_message(format!("{}{causes}", v.summary))
                        .set_type(v.level.to_string())
                        .set_description(detail);
                    st
                }
                Status::Error => {
                    let mut st = TestCaseStatus::non_success(NonSuccessKind::Error);
                    st.set_message(v.summary.as_str()).set_description(detail);
                    st
                }
                Status::NotApplicable => {
                    let mut st = TestCaseStatus::skipped();
                    st.set_message(v.summary.as_str());
                    st
                }
            };
            let mut case = TestCase::new(format!("{}::{}", sc.name, v.rule), status);
            case.set_classname(sc.name.as_str());
            suite.add_test_case(case);
        }
        if sc.verdict == "inconclusive" {
            let status = match &sc.expected_inconclusive {
                Some(reason) => {
                    let mut st = TestCaseStatus::skipped();
                    st.set_message(format!("inconclusive, accepted: {reason}"));
                    st
                }
                None => {
                    let why: String = sc
                        .rules
                        .iter()
                        .filter(|v| !model::rules::is_guard(&v.rule))
                        .map(|v| format!("{}: {}\n", v.rule, v.summary))
                        .collect();
                    let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    st.set_message(
                        "nothing was judged: no rule of the scenario found its situation",
                    )
                    .set_type("MUST")
                    .set_description(why);
                    st
                }
            };
            let mut case = TestCase::new(format!("{}::inconclusive", sc.name), status);
            case.set_classname(sc.name.as_str());
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.to_string().unwrap_or_else(|e| {
        // Serializing into a String can't fail for I/O; say so in the file rather than lose it.
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- junit.xml could not be written: {} -->\n<testsuites name=\"tokenstorm\" tests=\"0\"/>\n", xml(&e.to_string()))
    })
}

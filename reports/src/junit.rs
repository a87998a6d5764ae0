//! `junit.xml`: one testsuite per scenario, one testcase per rule (`scenario::rule.id`);
//! failures carry the summary as message and the evidence as text, errors (a client that
//! crashed or hung) are `<error>`, not-applicable verdicts and accepted fails are `<skipped>`.
//! The shape is the one Jenkins, GitLab and GitHub's JUnit actions read (checked against an
//! XSD and parsed by a real consumer in the tests).

use crate::Report;
use model::verdict::{secs, Status};
use std::fmt::Write as _;

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

/// How a verdict shows in JUnit.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Passed,
    Failure,
    Error,
    Skipped,
}

fn kind(v: &model::verdict::Verdict) -> Kind {
    match v.status {
        Status::Fail if v.expected.is_some() => Kind::Skipped,
        Status::Fail => Kind::Failure,
        Status::Error => Kind::Error,
        Status::NotApplicable => Kind::Skipped,
        Status::Pass => Kind::Passed,
    }
}

fn count<'a>(rules: impl Iterator<Item = &'a model::verdict::Verdict>, k: Kind) -> usize {
    rules.filter(|v| kind(v) == k).count()
}

/// `junit.xml`: one testsuite per scenario, one testcase per rule (`scenario::rule`), and a
/// failing `scenario::inconclusive` testcase for a scenario in which nothing was judged. The
/// declared counts match the elements (an accepted fail is skipped, not a failure).
pub fn render(r: &Report) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let all = || r.scenarios.iter().flat_map(|s| &s.rules);
    // An inconclusive scenario is a failing testcase, unless an expected-failures entry accepts
    // it (then it is skipped, with the entry's reason).
    let inconclusive = |s: &crate::ScenarioReport| {
        usize::from(s.verdict == "inconclusive" && s.expected_inconclusive.is_none())
    };
    let accepted = |s: &crate::ScenarioReport| {
        usize::from(s.verdict == "inconclusive" && s.expected_inconclusive.is_some())
    };
    let inconclusive_all: usize = r.scenarios.iter().map(inconclusive).sum();
    let accepted_all: usize = r.scenarios.iter().map(accepted).sum();
    let _ = writeln!(
        out,
        "<testsuites name=\"tokenstorm\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        all().count() + inconclusive_all + accepted_all,
        count(all(), Kind::Failure) + inconclusive_all,
        count(all(), Kind::Error),
        count(all(), Kind::Skipped) + accepted_all,
        r.duration_ms as f64 / 1000.0
    );
    for sc in &r.scenarios {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
            xml(&sc.name),
            sc.rules.len() + inconclusive(sc) + accepted(sc),
            count(sc.rules.iter(), Kind::Failure) + inconclusive(sc),
            count(sc.rules.iter(), Kind::Error),
            count(sc.rules.iter(), Kind::Skipped) + accepted(sc),
            sc.duration_ms as f64 / 1000.0
        );
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
                        "<skipped message=\"expected failure (observed cause: {}): accepted as {}\"/>",
                        xml(&v.causes.join(", ")),
                        xml(v.expected.as_deref().unwrap_or_default())
                    );
                }
                Status::Fail => {
                    let kind = v.level;
                    let causes = if v.causes.is_empty() {
                        String::new()
                    } else {
                        format!(" (cause: {})", v.causes.join(", "))
                    };
                    let _ = write!(
                        out,
                        "<failure message=\"{}{}\" type=\"{kind}\">{}</failure>",
                        xml(&v.summary),
                        xml(&causes),
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
        if let Some(reason) = sc
            .expected_inconclusive
            .as_deref()
            .filter(|_| sc.verdict == "inconclusive")
        {
            let _ = writeln!(
                out,
                "    <testcase classname=\"{0}\" name=\"{0}::inconclusive\"><skipped message=\"inconclusive, accepted: {1}\"/></testcase>",
                xml(&sc.name),
                xml(reason)
            );
        }
        if inconclusive(sc) == 1 {
            let why: Vec<String> = sc
                .rules
                .iter()
                .filter(|v| !model::rules::is_guard(&v.rule))
                .map(|v| format!("{}: {}\n", v.rule, v.summary))
                .collect();
            let _ = writeln!(
                out,
                "    <testcase classname=\"{0}\" name=\"{0}::inconclusive\"><failure message=\"nothing was judged: no rule of the scenario found its situation\" type=\"MUST\">{1}</failure></testcase>",
                xml(&sc.name),
                xml(&why.concat())
            );
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}

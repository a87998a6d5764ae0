//! What happens during a run, as one typed stream of [`RunEvent`]s, and the [`Reporter`]s that
//! consume it: the terminal progress ([`crate::progress::Progress`]) and the JSON lines of
//! `--message-format json` ([`JsonLines`]). The runner only emits events; what is shown, and
//! where, is each reporter's business.
//!
//! The events' JSON form is a contract (`docs/run-events.schema.json`, checked by a test):
//! fields may be added, none renamed or removed within a major version.

use model::rules::Level;
use model::verdict::Status;
use reports::Summary;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// One thing that happened during a run. In a run's stream, `run_started` comes first and
/// `run_finished` last; a scenario's `scenario_started` comes before its `verdict`s, which come
/// before its `scenario_finished`; scenarios run concurrently, so their events interleave.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RunEvent {
    /// The run begins.
    RunStarted {
        /// tokenstorm's version.
        tokenstorm_version: String,
        /// The client command.
        client: String,
        /// Scenarios to run.
        scenarios: usize,
        /// How many run at once.
        jobs: usize,
    },
    /// A scenario's turn came: its tenant is fresh and its client is starting.
    ScenarioStarted {
        /// The scenario's name.
        scenario: String,
    },
    /// A rule's verdict on a scenario (after the expected-failures file was applied).
    Verdict {
        /// The scenario's name.
        scenario: String,
        /// The rule's ID.
        rule: String,
        /// Its status.
        status: Status,
        /// MUST or SHOULD.
        level: Level,
        /// Why it failed (the rule's causes), empty otherwise.
        causes: Vec<String>,
        /// One line saying what was found.
        summary: String,
        /// An expected-failures entry accepts this failure.
        accepted: bool,
    },
    /// A scenario was judged.
    ScenarioFinished {
        /// The scenario's name.
        scenario: String,
        /// `pass`, `fail`, `warn`, `inconclusive`, `not_applicable` or `error`.
        verdict: String,
        /// How long it ran.
        duration_ms: u64,
        /// Requests that reached the mock.
        requests: usize,
        /// Failing verdicts an expected-failures entry accepts.
        accepted: usize,
    },
    /// The run ended and its reports are written.
    RunFinished {
        /// The counts of the report.
        summary: Summary,
        /// The run was interrupted: the report is partial.
        interrupted: bool,
        /// How long the run took.
        duration_ms: u64,
        /// The exit code tokenstorm ends with.
        exit_code: u8,
    },
}

/// Something that shows or records a run's events. Called from every scenario's task, so it
/// must be cheap and never block for long.
pub trait Reporter: Send + Sync {
    /// One event.
    fn report(&self, event: &RunEvent);
}

/// Every reporter of a run; cloned into each scenario's task.
#[derive(Clone, Default)]
pub struct Reporters(Arc<Vec<Arc<dyn Reporter>>>);

impl Reporters {
    /// These reporters, each getting every event in order.
    pub fn new(reporters: Vec<Arc<dyn Reporter>>) -> Reporters {
        Reporters(Arc::new(reporters))
    }

    /// Hands the event to every reporter.
    pub fn emit(&self, event: &RunEvent) {
        for r in self.0.iter() {
            r.report(event);
        }
    }
}

impl std::fmt::Debug for Reporters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reporters({})", self.0.len())
    }
}

/// `--message-format json`: one JSON object per event and line, flushed as it happens.
pub struct JsonLines<W: Write + Send>(Mutex<W>);

impl<W: Write + Send> JsonLines<W> {
    /// Writes the events to `out` (stdout in the CLI).
    pub fn new(out: W) -> JsonLines<W> {
        JsonLines(Mutex::new(out))
    }
}

impl<W: Write + Send> Reporter for JsonLines<W> {
    fn report(&self, event: &RunEvent) {
        let Ok(mut line) = serde_json::to_vec(event) else {
            return;
        };
        line.push(b'\n');
        let mut out = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // A closed stdout (`| head`) must not end the run: the reports still get written.
        let _ = out.write_all(&line).and_then(|()| out.flush());
    }
}

/// The events of one judged scenario: its verdicts, then its end.
pub fn scenario_events(sr: &reports::ScenarioReport) -> Vec<RunEvent> {
    let mut out: Vec<RunEvent> = sr
        .rules
        .iter()
        .map(|v| RunEvent::Verdict {
            scenario: sr.name.clone(),
            rule: v.rule.clone(),
            status: v.status,
            level: v.level,
            causes: v.causes.clone(),
            summary: v.summary.clone(),
            accepted: v.expected.is_some(),
        })
        .collect();
    out.push(RunEvent::ScenarioFinished {
        scenario: sr.name.clone(),
        verdict: sr.verdict.clone(),
        duration_ms: sr.duration_ms,
        requests: sr.requests,
        accepted: sr.rules.iter().filter(|v| v.expected.is_some()).count(),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON form is a contract: `docs/run-events.schema.json` is generated from the type
    /// (`TOKENSTORM_BLESS=1` rewrites it after a reviewed change).
    #[test]
    fn the_event_schema_is_checked_in() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/run-events.schema.json");
        let want =
            serde_json::to_string_pretty(&schemars::schema_for!(RunEvent)).expect("schema") + "\n";
        if std::env::var_os("TOKENSTORM_BLESS").is_some() {
            std::fs::write(&path, &want).expect("write");
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/run-events.schema.json is out of date: run TOKENSTORM_BLESS=1 cargo test -p tokenstorm --lib events"
        );
    }

    /// Each event is one line, and a closed output loses the events, not the run.
    #[test]
    fn json_lines_are_one_object_per_line_and_survive_a_closed_output() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let started = RunEvent::ScenarioStarted {
            scenario: "a\nb".into(),
        };
        let sink = JsonLines::new(Vec::new());
        sink.report(&started);
        sink.report(&RunEvent::RunFinished {
            summary: Summary::default(),
            interrupted: true,
            duration_ms: 5,
            exit_code: 130,
        });
        let text = String::from_utf8(sink.0.into_inner().expect("lock")).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(
            lines[0],
            r#"{"event":"scenario_started","scenario":"a\nb"}"#
        );
        let back: RunEvent = serde_json::from_str(lines[1]).expect("parses");
        assert!(matches!(
            back,
            RunEvent::RunFinished {
                interrupted: true,
                exit_code: 130,
                ..
            }
        ));
        JsonLines::new(Closed).report(&started);
    }
}

//! What happens during a run, as one typed stream of [`RunEvent`]s, and the [`Reporter`]s that
//! consume it: the terminal progress ([`crate::progress::Progress`]), the JSON lines of
//! `--message-format json` ([`JsonLines`]), and, for each judged scenario ([`Judged`]: the
//! whole of it, which no serialized event carries), the journal writer and the collector the
//! final report is made from (in `run`). The runner only emits events; what is shown or
//! written, and where, is each reporter's business.
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
/// `run_finished` last; a scenario's `scenario_started` comes before its commands, answers and
/// requests, which come before its `verdict`s, which come before its `scenario_finished`;
/// scenarios run concurrently, so their events interleave.
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
    /// The harness sent the scenario's client a command (a step of the scenario, or the
    /// final `shutdown`).
    CommandSent {
        /// The scenario's name.
        scenario: String,
        /// The command's id (answers carry it).
        id: u64,
        /// `acquire_token`, `call_api`, `whoami` or `shutdown`.
        op: String,
        /// The step (index in the scenario) it belongs to.
        step: usize,
        /// When, in milliseconds on the mock's clock (the journal's).
        at_ms: u64,
    },
    /// The scenario's client answered a command.
    CommandAnswered {
        /// The scenario's name.
        scenario: String,
        /// The command's id.
        id: u64,
        /// Whether the operation succeeded.
        ok: bool,
        /// When, in milliseconds on the mock's clock.
        at_ms: u64,
    },
    /// A request of the scenario's client was journaled: answered, cut, or refused.
    RequestJournaled {
        /// The scenario's name.
        scenario: String,
        /// Its sequence number in the mock's journal.
        seq: u64,
        /// The endpoint (`token`, `graph`, `discovery`, ...).
        endpoint: String,
        /// The HTTP status it got.
        status: u16,
        /// The scenario's fault that answered it, if one did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fault: Option<String>,
        /// When it arrived, in milliseconds on the mock's clock.
        at_ms: u64,
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

/// A scenario as judged: what its journal and transcript hold and its report. Handed to the
/// reporters that write them, before the scenario's `verdict` events.
#[derive(Debug, Clone, Copy)]
pub struct Judged<'a> {
    /// The scenario's name.
    pub scenario: &'a str,
    /// Its tenant's journal.
    pub journal: &'a [model::JournalEntry],
    /// The driver conversation.
    pub transcript: &'a [model::transcript::TranscriptEntry],
    /// Its report (the expected-failures file applied).
    pub report: &'a reports::ScenarioReport,
}

/// Something that shows or records a run's events. Called from every scenario's task, so it
/// must be cheap and never block for long.
pub trait Reporter: Send + Sync {
    /// One event.
    fn report(&self, event: &RunEvent);
    /// A scenario was judged (off the async workers: a reporter may write files here). Most
    /// reporters only show events and ignore it.
    fn judged(&self, _scenario: &Judged<'_>) {}
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

    /// Hands a judged scenario to every reporter.
    pub fn judged(&self, scenario: &Judged<'_>) {
        for r in self.0.iter() {
            r.judged(scenario);
        }
    }

    /// These reporters and `more` after them.
    pub fn with(&self, more: Vec<Arc<dyn Reporter>>) -> Reporters {
        Reporters(Arc::new(self.0.iter().cloned().chain(more).collect()))
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

    /// Every reporter gets every event and every judged scenario, in the order they were
    /// given; `with` appends.
    #[test]
    fn reporters_hand_events_and_judged_scenarios_to_each_in_order() {
        #[derive(Default)]
        struct Log(Mutex<Vec<String>>, &'static str);
        impl Reporter for Log {
            fn report(&self, e: &RunEvent) {
                if let RunEvent::ScenarioStarted { scenario } = e {
                    self.0
                        .lock()
                        .unwrap()
                        .push(format!("{} event {scenario}", self.1));
                }
            }
            fn judged(&self, s: &Judged<'_>) {
                self.0
                    .lock()
                    .unwrap()
                    .push(format!("{} judged {}", self.1, s.scenario));
            }
        }
        struct Shows(Arc<Log>);
        impl Reporter for Shows {
            fn report(&self, e: &RunEvent) {
                self.0.report(e)
            }
        }
        let log = Arc::new(Log(Mutex::default(), "a"));
        let writer = Arc::new(Log(Mutex::default(), "b"));
        let reporters =
            Reporters::new(vec![Arc::new(Shows(log.clone()))]).with(vec![writer.clone()]);
        reporters.emit(&RunEvent::ScenarioStarted {
            scenario: "s".into(),
        });
        let report: reports::ScenarioReport = serde_json::from_value(serde_json::json!({
            "name": "s", "summary": "", "tags": [], "flow": "client_credentials",
            "tenant": "t", "hello": null, "outcome": {"kind": "completed"},
            "verdict": "pass", "duration_ms": 0, "rules": [], "journal": "", "requests": 0
        }))
        .unwrap();
        reporters.judged(&Judged {
            scenario: "s",
            journal: &[],
            transcript: &[],
            report: &report,
        });
        // The one that only shows events ignores the judged scenario.
        assert_eq!(*log.0.lock().unwrap(), vec!["a event s"]);
        assert_eq!(*writer.0.lock().unwrap(), vec!["b event s", "b judged s"]);
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

//! Progress of a run on stderr. On a terminal: one status line redrawn in place (running,
//! done, failing, elapsed), with each finished scenario that did not pass printed above it.
//! Elsewhere (CI logs): one plain line per finished scenario and a heartbeat naming what is
//! still running every 30 s, so a slow scenario is visible in a log, never a silent pause.

use crate::events::{Reporter, RunEvent};
use crate::report::{Report, ScenarioReport};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often a plain (non-terminal) log says what is still running.
const HEARTBEAT: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
struct Inner {
    total: usize,
    running: BTreeMap<String, Instant>,
    done: usize,
    failing: usize,
    drawn: bool,
    /// The run finished: nothing more is drawn (a late tick would redraw the status line
    /// under the closing summary).
    ended: bool,
}

/// A run's progress display: a [`Reporter`] of the run's events.
#[derive(Debug)]
pub struct Progress {
    tty: bool,
    started: Instant,
    inner: Mutex<Inner>,
}

fn label(verdict: &str) -> String {
    match verdict {
        "not_applicable" => "N/A".to_string(),
        v => v.to_uppercase(),
    }
}

impl Progress {
    /// A display on stderr; live when stderr is a terminal (and `TERM` is not `dumb`).
    pub fn new() -> Arc<Self> {
        let tty =
            std::io::stderr().is_terminal() && std::env::var("TERM").map_or(true, |t| t != "dumb");
        Self::with_mode(tty)
    }

    /// A display with the mode forced (for tests).
    pub fn with_mode(tty: bool) -> Arc<Self> {
        Arc::new(Progress {
            tty,
            started: Instant::now(),
            inner: Mutex::new(Inner::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The status line: `12 running · 40/59 done · 2 failing · 31 s`.
    fn status(&self, i: &Inner) -> String {
        let longest = i
            .running
            .iter()
            .min_by_key(|(_, t)| **t)
            .map(|(n, t)| format!(" · longest: {n} {} s", t.elapsed().as_secs()))
            .unwrap_or_default();
        format!(
            "tokenstorm: {} running · {}/{} done · {} failing · {} s{longest}",
            i.running.len(),
            i.done,
            i.total,
            i.failing,
            self.started.elapsed().as_secs()
        )
    }

    fn emit(&self, i: &mut Inner, line: Option<&str>) {
        if i.ended {
            return;
        }
        let mut err = std::io::stderr().lock();
        if self.tty {
            if i.drawn {
                let _ = write!(err, "\r\x1b[2K");
            }
            if let Some(l) = line {
                let _ = writeln!(err, "{l}");
            }
            let mut s = self.status(i);
            // One terminal line, or the redraw would scroll.
            if s.chars().count() > 118 {
                s = s.chars().take(117).collect::<String>() + "…";
            }
            let _ = write!(err, "{s}");
            i.drawn = true;
        } else if let Some(l) = line {
            let _ = writeln!(err, "{l}");
        }
        let _ = err.flush();
    }

    /// A scenario started.
    fn started(&self, name: &str) {
        let mut i = self.lock();
        i.running.insert(name.to_string(), Instant::now());
        if self.tty {
            self.emit(&mut i, None);
        }
    }

    /// A scenario finished.
    fn finished(&self, name: &str, verdict: &str, duration_ms: u64, accepted: usize) {
        let mut i = self.lock();
        i.running.remove(name);
        i.done += 1;
        if matches!(verdict, "fail" | "error" | "inconclusive") {
            i.failing += 1;
        }
        let line = format!(
            "[{:>3}/{}] {:<5} {} ({:.1} s){}",
            i.done,
            i.total,
            label(verdict),
            name,
            duration_ms as f64 / 1000.0,
            if accepted > 0 {
                format!(" ({accepted} accepted failure(s))")
            } else {
                String::new()
            }
        );
        // On a terminal only what needs attention scrolls; the status line counts the rest.
        let show = !self.tty || verdict != "pass";
        self.emit(&mut i, show.then_some(line.as_str()));
    }

    /// Redraws the status line (terminal) or prints a heartbeat (log) until dropped.
    pub fn spawn_ticker(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let every = if me.tty {
                Duration::from_millis(250)
            } else {
                HEARTBEAT
            };
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tick.tick().await;
                let mut i = me.lock();
                if me.tty {
                    me.emit(&mut i, None);
                } else if !i.running.is_empty() {
                    let names: Vec<&str> = i.running.keys().take(5).map(String::as_str).collect();
                    let more = i.running.len().saturating_sub(names.len());
                    let line = format!(
                        "{} (still running: {}{})",
                        me.status(&i),
                        names.join(", "),
                        if more > 0 {
                            format!(" and {more} more")
                        } else {
                            String::new()
                        }
                    );
                    me.emit(&mut i, Some(&line));
                }
            }
        })
    }

    /// Clears the status line (before the closing summary).
    fn finish(&self) {
        let mut i = self.lock();
        i.ended = true;
        if self.tty && i.drawn {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            i.drawn = false;
        }
    }
}

impl Reporter for Progress {
    fn report(&self, event: &RunEvent) {
        match event {
            RunEvent::RunStarted { scenarios, .. } => self.lock().total = *scenarios,
            RunEvent::ScenarioStarted { scenario } => self.started(scenario),
            RunEvent::ScenarioFinished {
                scenario,
                verdict,
                duration_ms,
                accepted,
                ..
            } => self.finished(scenario, verdict, *duration_ms, *accepted),
            RunEvent::RunFinished { .. } => self.finish(),
            RunEvent::Verdict { .. } => {}
        }
    }
}

/// The closing summary table: every scenario that did not pass, failures first, with the
/// rules that broke; then the counts. Plain text, for terminals and logs alike.
pub fn summary_table(r: &Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let rank = |v: &str| match v {
        "error" => 0,
        "fail" => 1,
        "inconclusive" => 2,
        "warn" => 3,
        "not_applicable" => 4,
        _ => 5,
    };
    let mut rows: Vec<&ScenarioReport> =
        r.scenarios.iter().filter(|s| s.verdict != "pass").collect();
    rows.sort_by_key(|s| (rank(&s.verdict), s.name.clone()));
    let passed = r.scenarios.len() - rows.len();
    if !rows.is_empty() {
        let width = rows.iter().map(|s| s.name.len()).max().unwrap_or(8).max(8);
        let _ = writeln!(out, "{:<width$}  {:<5}  RULES", "SCENARIO", "");
        for s in rows {
            let rules: Vec<String> = s
                .rules
                .iter()
                .filter(|v| {
                    matches!(
                        v.status,
                        model::verdict::Status::Fail | model::verdict::Status::Error
                    )
                })
                .map(|v| {
                    if v.expected.is_some() {
                        format!("{} (expected)", v.rule)
                    } else {
                        v.rule.clone()
                    }
                })
                .collect();
            let why = match &s.outcome {
                crate::runner::Outcome::NotApplicable { reason } => reason.clone(),
                _ => rules.join(", "),
            };
            let _ = writeln!(out, "{:<width$}  {:<5}  {why}", s.name, label(&s.verdict));
        }
    }
    let accepted = r.summary.accepted;
    let _ = writeln!(
        out,
        "{passed} of {} scenario(s) passed{}",
        r.scenarios.len(),
        if accepted > 0 {
            format!(" ({accepted} only by accepted failures)")
        } else {
            String::new()
        }
    );
    out
}

//! Progress of a run on stderr, a [`Reporter`] of the run's events. On a terminal: an
//! indicatif status line (done of total, running, failing, the longest running scenario, sized
//! to the terminal's width), with each finished scenario that did not pass printed above it.
//! Elsewhere (CI logs): one plain line per finished scenario and a heartbeat naming what is
//! still running every 30 s, so a slow scenario is visible in a log, never a silent pause.
//! Verdict labels are coloured when colour is on (`--color`, `NO_COLOR`: [`ColorChoice`]).

use crate::events::{Reporter, RunEvent};
use crate::report::{Report, ScenarioReport};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often a plain (non-terminal) log says what is still running.
const HEARTBEAT: Duration = Duration::from_secs(30);

/// When verdict labels are coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set (to anything but an empty string).
    #[default]
    Auto,
    /// Always, even in a log.
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    /// Whether to colour output to a stream that is (or is not) a terminal.
    pub fn enabled(self, tty: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    total: usize,
    running: BTreeMap<String, Instant>,
    done: usize,
    failing: usize,
    /// The run finished: nothing more is drawn (a late tick would redraw the status line
    /// under the closing summary).
    ended: bool,
}

/// A run's progress display: a [`Reporter`] of the run's events.
#[derive(Debug)]
pub struct Progress {
    /// The status line, on a terminal.
    bar: Option<ProgressBar>,
    color: bool,
    started: Instant,
    inner: Mutex<Inner>,
}

/// A verdict's label, padded to 5 columns, coloured if asked.
fn label(verdict: &str, color: bool) -> String {
    let text = match verdict {
        "not_applicable" => "N/A".to_string(),
        v => v.to_uppercase(),
    };
    let padded = format!("{text:<5}");
    if !color {
        return padded;
    }
    // SGR: green, red, yellow, dim.
    let sgr = match verdict {
        "pass" => "32",
        "fail" | "error" => "1;31",
        "warn" | "inconclusive" => "33",
        _ => "2",
    };
    format!("\x1b[{sgr}m{padded}\x1b[0m")
}

impl Progress {
    /// A display on stderr: live when stderr is a terminal (and `TERM` is not `dumb`).
    pub fn new(color: ColorChoice) -> Arc<Self> {
        let tty =
            std::io::stderr().is_terminal() && std::env::var("TERM").map_or(true, |t| t != "dumb");
        Self::with_mode(tty, color.enabled(tty))
    }

    /// A display with the mode forced (for tests).
    pub fn with_mode(tty: bool, color: bool) -> Arc<Self> {
        let bar = tty.then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            let template = if color {
                "tokenstorm: {pos}/{len} done · {msg:.dim} · {elapsed}"
            } else {
                "tokenstorm: {pos}/{len} done · {msg} · {elapsed}"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar
        });
        Arc::new(Progress {
            bar,
            color,
            started: Instant::now(),
            inner: Mutex::new(Inner::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What is going on: `12 running · 2 failing · longest: name 31 s`.
    fn activity(i: &Inner) -> String {
        let longest = i
            .running
            .iter()
            .min_by_key(|(_, t)| **t)
            .map(|(n, t)| format!(" · longest: {n} {} s", t.elapsed().as_secs()))
            .unwrap_or_default();
        format!(
            "{} running · {} failing{longest}",
            i.running.len(),
            i.failing
        )
    }

    /// The log's status: `12 running · 40/59 done · 2 failing · 31 s`.
    fn status(&self, i: &Inner) -> String {
        format!(
            "tokenstorm: {} running · {}/{} done · {} failing · {} s",
            i.running.len(),
            i.done,
            i.total,
            i.failing,
            self.started.elapsed().as_secs()
        )
    }

    /// Prints a line: above the status line on a terminal, as it is in a log.
    fn line(&self, i: &Inner, line: &str) {
        if i.ended {
            return;
        }
        match &self.bar {
            Some(bar) => bar.println(line),
            None => {
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{line}");
                let _ = err.flush();
            }
        }
    }

    /// Redraws the status line with what is going on now.
    fn redraw(&self, i: &Inner) {
        if let (Some(bar), false) = (&self.bar, i.ended) {
            bar.set_length(i.total as u64);
            bar.set_position(i.done as u64);
            bar.set_message(Self::activity(i));
        }
    }

    /// A scenario started.
    fn started(&self, name: &str) {
        let mut i = self.lock();
        i.running.insert(name.to_string(), Instant::now());
        self.redraw(&i);
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
            "[{:>3}/{}] {} {} ({:.1} s){}",
            i.done,
            i.total,
            label(verdict, self.color),
            name,
            duration_ms as f64 / 1000.0,
            if accepted > 0 {
                format!(" ({accepted} accepted failure(s))")
            } else {
                String::new()
            }
        );
        // On a terminal only what needs attention scrolls; the status line counts the rest.
        if self.bar.is_none() || verdict != "pass" {
            self.line(&i, &line);
        }
        self.redraw(&i);
    }

    /// Redraws the status line (terminal) or prints a heartbeat (log) until aborted.
    pub fn spawn_ticker(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let every = if me.bar.is_some() {
                Duration::from_millis(250)
            } else {
                HEARTBEAT
            };
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tick.tick().await;
                let i = me.lock();
                if me.bar.is_some() {
                    me.redraw(&i);
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
                    me.line(&i, &line);
                }
            }
        })
    }

    /// Clears the status line (before the closing summary).
    fn finish(&self) {
        let mut i = self.lock();
        i.ended = true;
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
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
            RunEvent::Verdict { .. }
            | RunEvent::CommandSent { .. }
            | RunEvent::CommandAnswered { .. }
            | RunEvent::RequestJournaled { .. } => {}
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
            let _ = writeln!(
                out,
                "{:<width$}  {}  {why}",
                s.name,
                label(&s.verdict, false)
            );
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

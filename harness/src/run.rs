//! `tokenstorm run`: plan (scenarios, filter, shard), one shared mock, scenarios concurrently
//! (each in its own tenant), verdicts, reports written atomically, partial reports when
//! interrupted.
//!
//! `--out` is proved writable before anything starts, and what an earlier run left there
//! (its reports and journals) is removed first, so one folder never mixes two runs.

use crate::events::{Judged, Reporter, Reporters, RunEvent};
use crate::library::{self, Loaded};
use crate::report::{self, Report, ScenarioReport};
use crate::rules::{judge, Input};
use crate::runner::{run_scenario, ClientCommand, RunOptions, ScenarioRun};
use mock_idp::{MockIdp, Options};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A validated run plan (the CLI's flags, checked once).
#[derive(Debug, Clone)]
pub struct Plan {
    /// The client under test.
    pub client: ClientCommand,
    /// The scenarios, after filter and shard.
    pub scenarios: Vec<Loaded>,
    /// How many at once.
    pub jobs: usize,
    /// Where reports go.
    pub out: PathBuf,
    /// SHOULD rules fail the run.
    pub strict: bool,
    /// Accepted failures.
    pub expected: Vec<crate::expected::Entry>,
    /// `--shard K/N`, as given.
    pub shard: Option<String>,
    /// The names of every scenario loaded, before filter and shard (a baseline scenario
    /// missing from here was removed; one merely filtered out was not).
    pub library: Vec<String>,
    /// `--baseline`: the earlier report to compare with.
    pub baseline: Option<Report>,
    /// `--impersonate`: the mock answers as Entra and Graph by their real names.
    pub impersonate: bool,
    /// `--app FILE`: app registrations to enforce.
    pub apps: Vec<mock_idp::AppRegistration>,
    /// The client runs in this process instead of `client`'s program ([`crate::inproc`]).
    pub in_process: Option<crate::client::InProcess>,
}

/// Why a plan could not be made (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A bad flag value.
    #[error("{0}")]
    Usage(String),
    /// Invalid scenarios.
    #[error("{0}")]
    Scenarios(#[from] model::scenario::ScenarioErrors),
}

/// Parses `K/N` (1 ≤ K ≤ N).
pub fn parse_shard(s: &str) -> Result<(usize, usize), PlanError> {
    let bad = || {
        PlanError::Usage(format!(
            "--shard '{s}': expected K/N with 1 <= K <= N, e.g. 2/4"
        ))
    };
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

/// The raw flags of `tokenstorm run`, before validation.
#[derive(Debug, Clone, Default)]
pub struct Flags<'a> {
    /// `--client-cmd` (or the reference client's path).
    pub client_cmd: &'a str,
    /// `--scenarios`.
    pub scenarios: &'a [PathBuf],
    /// `--filter`.
    pub filter: Option<&'a str>,
    /// `--shard K/N`.
    pub shard: Option<&'a str>,
    /// `--jobs`.
    pub jobs: Option<usize>,
    /// `--out`.
    pub out: PathBuf,
    /// `--strict`.
    pub strict: bool,
    /// `--expected-failures`.
    pub expected_failures: Option<&'a Path>,
    /// `--baseline`.
    pub baseline: Option<&'a Path>,
}

/// Builds the plan from raw flags.
pub fn plan(flags: &Flags<'_>) -> Result<Plan, PlanError> {
    let Flags {
        client_cmd,
        scenarios: scenario_paths,
        filter,
        shard,
        jobs,
        ref out,
        strict,
        expected_failures: expected,
        baseline,
    } = *flags;
    let baseline = match baseline {
        Some(p) => {
            Some(reports::load(p).map_err(|e| PlanError::Usage(format!("--baseline: {e}")))?)
        }
        None => None,
    };
    let out = out.clone();
    let words = shell_words::split(client_cmd)
        .map_err(|e| PlanError::Usage(format!("--client-cmd: {e}")))?;
    let Some((program, args)) = words.split_first() else {
        return Err(PlanError::Usage("--client-cmd is empty".into()));
    };
    let mut scenarios = if scenario_paths.is_empty() {
        library::builtin()?
    } else {
        library::load(scenario_paths)?
    };
    let library_names: Vec<String> = scenarios
        .iter()
        .map(|l| l.scenario.name.value.clone())
        .collect();
    let expected = match expected {
        Some(p) => {
            let known: Vec<&str> = library_names.iter().map(String::as_str).collect();
            crate::expected::load(p, &known).map_err(PlanError::Usage)?
        }
        None => Vec::new(),
    };
    if let Some(f) = filter {
        scenarios.retain(|l| {
            l.scenario.name.value.contains(f) || l.scenario.tags.iter().any(|t| t.contains(f))
        });
    }
    scenarios.sort_by(|a, b| a.scenario.name.value.cmp(&b.scenario.name.value));
    if scenarios.is_empty() {
        return Err(PlanError::Usage("no scenario matches".into()));
    }
    // A shard may be empty (a matrix wider than the library): an empty, passing report.
    if let Some(s) = shard {
        let (k, n) = parse_shard(s)?;
        scenarios = scenarios
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % n == k - 1)
            .map(|(_, l)| l)
            .collect();
    }
    let jobs = jobs.unwrap_or(scenarios.len()).max(1);
    // Last: every flag is valid, so an earlier run's reports are only cleared for a run.
    prepare_out(&out).map_err(PlanError::Usage)?;
    Ok(Plan {
        client: ClientCommand {
            program: program.clone(),
            args: args.to_vec(),
        },
        scenarios,
        jobs,
        out,
        strict,
        expected,
        shard: shard.map(str::to_string),
        library: library_names,
        baseline,
        impersonate: false,
        apps: vec![],
        in_process: None,
    })
}

/// The files a run writes at the top of `--out` (the journals go under `journal/`).
pub const REPORT_FILES: [&str; 4] = ["report.json", "report.md", "junit.xml", "report.html"];

/// Makes `out` ready for a run: creates it, proves it writable (a 64 KiB probe written, synced
/// and removed, so a full disk shows too), and removes what an earlier run left there: its
/// reports, its journals (`journal/*.jsonl`) and unfinished temporary files. Nothing else in
/// the folder is touched. The error says what is wrong, for the CLI to print (exit 2).
pub fn prepare_out(out: &Path) -> Result<(), String> {
    use std::io::Write as _;
    let what = |e: std::io::Error| format!("--out {}: {e}", out.display());
    if out.exists() && !out.is_dir() {
        return Err(format!(
            "--out {}: exists and is not a folder",
            out.display()
        ));
    }
    std::fs::create_dir_all(out)
        .map_err(|e| format!("--out {}: cannot create the folder: {e}", out.display()))?;
    let mut probe = tempfile::Builder::new()
        .prefix(".tokenstorm-probe-")
        .tempfile_in(out)
        .map_err(|e| format!("--out {}: cannot write there: {e}", out.display()))?;
    probe
        .write_all(&[0u8; 64 * 1024])
        .and_then(|()| probe.as_file().sync_all())
        .map_err(|e| format!("--out {}: cannot write there: {e}", out.display()))?;
    drop(probe);
    let stale = |name: &str| name.starts_with(".tokenstorm-");
    for name in REPORT_FILES {
        remove_if_there(&out.join(name)).map_err(what)?;
    }
    for dir in [out.to_path_buf(), out.join("journal")] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let ours = stale(&name) || (dir != out && name.ends_with(".jsonl"));
            if ours && e.file_type().is_ok_and(|t| t.is_file()) {
                remove_if_there(&e.path()).map_err(what)?;
            }
        }
    }
    // An emptied journal folder goes too (one holding anything else stays).
    let _ = std::fs::remove_dir(out.join("journal"));
    Ok(())
}

fn remove_if_there(p: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// SIGINT or SIGTERM, listened for from the moment this is called (call it first thing: a
/// signal that comes before the run starts then interrupts it at its start, with a report,
/// instead of killing the process without one).
pub fn interrupt_signals() -> std::io::Result<impl std::future::Future<Output = ()> + Send> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

pub(crate) fn write_journal(out: &Path, run: &ScenarioRun) -> std::io::Result<()> {
    write_journal_files(out, &run.scenario.name.value, &run.journal, &run.transcript)
}

/// `journal/SCENARIO.jsonl` and `journal/SCENARIO.transcript.jsonl` under `out`.
fn write_journal_files(
    out: &Path,
    scenario: &str,
    journal: &[model::JournalEntry],
    transcript: &[model::transcript::TranscriptEntry],
) -> std::io::Result<()> {
    let mut text = String::new();
    for e in journal {
        text.push_str(&serde_json::to_string(e).map_err(std::io::Error::other)?);
        text.push('\n');
    }
    report::write_atomic(
        &out.join("journal").join(format!("{scenario}.jsonl")),
        text.as_bytes(),
    )?;
    let mut t = String::new();
    for e in transcript {
        t.push_str(&serde_json::to_string(e).map_err(std::io::Error::other)?);
        t.push('\n');
    }
    report::write_atomic(
        &out.join("journal")
            .join(format!("{scenario}.transcript.jsonl")),
        t.as_bytes(),
    )
}

/// The reporter that writes each judged scenario's journal and transcript under `--out`.
struct JournalWriter {
    out: PathBuf,
}

impl Reporter for JournalWriter {
    fn report(&self, _: &RunEvent) {}
    fn judged(&self, s: &Judged<'_>) {
        if let Err(e) = write_journal_files(&self.out, s.scenario, s.journal, s.transcript) {
            eprintln!(
                "tokenstorm: cannot write the journal of {}: {e}",
                s.scenario
            );
        }
    }
}

/// The reporter that keeps each judged scenario's report, for the run's report.
#[derive(Default)]
struct Collector {
    done: Mutex<Vec<ScenarioReport>>,
}

impl Reporter for Collector {
    fn report(&self, _: &RunEvent) {}
    fn judged(&self, s: &Judged<'_>) {
        self.done
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(s.report.clone());
    }
}

/// The comparison with a baseline, limited to what this run could have run: scenarios
/// filtered or sharded away are neither compared nor "removed"; a baseline scenario the
/// library no longer has is.
pub fn compare(base: &Report, head: &Report, library: &[String]) -> reports::diff::Diff {
    let ran: std::collections::BTreeSet<&str> =
        head.scenarios.iter().map(|s| s.name.as_str()).collect();
    let mut base_in_scope = base.clone();
    base_in_scope
        .scenarios
        .retain(|s| ran.contains(s.name.as_str()) || !library.contains(&s.name));
    reports::diff::diff(&base_in_scope, head)
}

/// Runs the plan; returns the report (also written to `plan.out`).
///
/// An interrupt (SIGINT, SIGTERM: see [`interrupt_signals`]) at any point, the mock's start
/// included, ends the run: every client's process group is killed, the scenarios judged so far
/// are reported with `interrupted: true`, and the exit code is 130. A signal after the last
/// scenario was judged leaves the (complete) report as it is.
pub async fn execute(
    plan: Plan,
    reporters: Reporters,
    interrupt: impl std::future::Future<Output = ()>,
) -> std::io::Result<Report> {
    let started = Instant::now();
    // Beside the caller's reporters: the journal writer, and the collector of the scenarios'
    // reports that the run's report is made from.
    let collector = Arc::new(Collector::default());
    let reporters = reporters.with(vec![
        Arc::new(JournalWriter {
            out: plan.out.clone(),
        }),
        collector.clone(),
    ]);
    reporters.emit(&RunEvent::RunStarted {
        tokenstorm_version: env!("CARGO_PKG_VERSION").to_string(),
        client: shell_words::join(
            std::iter::once(plan.client.program.as_str())
                .chain(plan.client.args.iter().map(String::as_str)),
        ),
        scenarios: plan.scenarios.len(),
        jobs: plan.jobs,
    });
    let sem = Arc::new(tokio::sync::Semaphore::new(plan.jobs));
    let work = {
        let progress = reporters.clone();
        let plan = plan.clone();
        async move {
            let idp = Arc::new(
                MockIdp::start(
                    Options::default()
                        .impersonate(plan.impersonate)
                        .apps(plan.apps.clone()),
                )
                .await
                .map_err(std::io::Error::other)?,
            );
            // Impersonating: the CA bundle clients trust (the system's CAs and this run's),
            // beside the run, not in any client's state directory.
            let trust = tempfile::Builder::new()
                .prefix("tokenstorm-trust-")
                .tempdir()?;
            let impersonation = if plan.impersonate {
                Some(crate::impersonation::write_bundle(&idp, trust.path())?)
            } else {
                None
            };
            let opts = RunOptions {
                impersonation,
                in_process: plan.in_process.clone(),
                events: Some(progress.clone()),
                ..RunOptions::default()
            };
            // Each scenario is its own task, and its judging and writing run off the async
            // workers: one scenario's end never holds up another's timers (a step's `every`,
            // a command's deadline, the shutdown grace). The set aborts what is left if the
            // run is interrupted, which drops those clients.
            let mut tasks = tokio::task::JoinSet::new();
            for l in &plan.scenarios {
                let scenario = l.scenario.clone();
                let idp = idp.clone();
                let sem = sem.clone();
                let progress = progress.clone();
                let expected = plan.expected.clone();
                let client = plan.client.clone();
                let opts = opts.clone();
                let strict = plan.strict;
                tasks.spawn(async move {
                    let Ok(_permit) = sem.acquire().await else {
                        return;
                    };
                    progress.emit(&RunEvent::ScenarioStarted {
                        scenario: scenario.name.value.clone(),
                    });
                    let run = run_scenario(&idp, &scenario, &client, &opts).await;
                    let writers = progress.clone();
                    let judged = tokio::task::spawn_blocking(move || {
                        let verdicts = judge(&Input::of(&run, false));
                        let mut sr = report::scenario_report(&run, verdicts, strict);
                        // Accepted fails show as accepted from the first line on.
                        crate::expected::apply(&expected, std::slice::from_mut(&mut sr), strict);
                        writers.judged(&Judged {
                            scenario: &run.scenario.name.value,
                            journal: &run.journal,
                            transcript: &run.transcript,
                            report: &sr,
                        });
                        sr
                    })
                    .await;
                    match judged {
                        Ok(sr) => {
                            for e in crate::events::scenario_events(&sr) {
                                progress.emit(&e);
                            }
                        }
                        // A panic while judging is a bug in tokenstorm: say so, and lose
                        // nothing else of the run.
                        Err(e) if e.is_panic() => eprintln!(
                            "tokenstorm: judging {} failed (a bug in tokenstorm): {e}",
                            scenario.name.value
                        ),
                        Err(_) => {}
                    }
                });
            }
            while let Some(r) = tasks.join_next().await {
                if let Err(e) = r {
                    if e.is_panic() {
                        eprintln!(
                            "tokenstorm: a scenario's task failed (a bug in tokenstorm): {e}"
                        );
                    }
                }
            }
            drop(trust);
            Ok::<(), std::io::Error>(())
        }
    };
    // Dropping the unfinished work (interrupted) drops its clients, which kills their process
    // groups and the processes that left them.
    let ended = tokio::select! {
        r = work => r.map(|()| false),
        _ = interrupt => Ok(true),
    };
    let interrupted = match ended {
        Ok(i) => i,
        Err(e) => {
            // The reporters' display ends either way (a terminal's status line is cleared).
            reporters.emit(&RunEvent::RunFinished {
                summary: reports::Summary::default(),
                interrupted: false,
                duration_ms: started.elapsed().as_millis() as u64,
                exit_code: model::exit::USAGE,
            });
            return Err(e);
        }
    };
    let mut scenarios = collector
        .done
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    scenarios.sort_by(|a, b| a.name.cmp(&b.name));
    let stale = if interrupted {
        // Only what ran is judged; an interrupted run proves no entry stale.
        crate::expected::apply(&plan.expected, &mut scenarios, plan.strict);
        Vec::new()
    } else {
        crate::expected::apply(&plan.expected, &mut scenarios, plan.strict)
    };
    let mut r = report::new_report(
        report::Mode::Run,
        &plan.client,
        started,
        plan.strict,
        interrupted,
        scenarios,
    );
    r.stale_expected_failures = stale;
    r.shard = plan.shard.clone();
    r.summarize();
    if let Some(base) = &plan.baseline {
        r.baseline = Some(compare(base, &r, &plan.library));
    }
    let written = report::write_all(&plan.out, &r);
    reporters.emit(&RunEvent::RunFinished {
        summary: r.summary.clone(),
        interrupted: r.interrupted,
        duration_ms: r.duration_ms,
        exit_code: if written.is_ok() {
            r.exit_code()
        } else {
            model::exit::USAGE
        },
    });
    written?;
    Ok(r)
}

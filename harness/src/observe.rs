//! `tokenstorm observe -- CMD ARGS`: judge an app that cannot be driven. The mock starts with a
//! scenario's faults and events, the app runs with the driver protocol's environment (no
//! stdin commands), and the rules that the journal and the state directory alone can show
//! ([`crate::rules::observable`]) are judged; the rest are not applicable.
//!
//! The app runs until it exits by itself, the timeout elapses (then it is stopped: that is
//! not a crash), or the run is interrupted (partial report, exit 130). Its output is passed
//! through to stderr with tokens redacted, and its last lines are kept as evidence.

use crate::driver::{bounded_lines, redact_line, Transcript, MAX_STDERR_LINE};
use crate::report::{self, Report};
use crate::rules::{judge, Input};
use crate::runner::{
    environment, rand_suffix, snapshot_state, ClientCommand, Outcome, ScenarioRun,
};
use mock_idp::{MockIdp, Options};
use model::scenario::{Flow, Scenario};
use model::transcript::TranscriptEvent;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncRead;

/// How many of the app's last output lines are kept as evidence.
const TAIL: usize = 40;

/// What to observe.
#[derive(Debug, Clone)]
pub struct ObservePlan {
    /// The app.
    pub command: ClientCommand,
    /// The scenario whose faults and events the mock plays (a fault-free one when `None`).
    pub scenario: Option<Scenario>,
    /// The flow whose app registration the environment names (default: the scenario's, or
    /// client credentials).
    pub flow: Option<Flow>,
    /// How long the app may run before it is stopped.
    pub timeout: Duration,
    /// Where reports go.
    pub out: PathBuf,
    /// SHOULD rules fail the run.
    pub strict: bool,
    /// Pass the app's output through to stderr.
    pub echo: bool,
    /// Answer as Entra and Graph by their real names (through a proxy), for an app whose
    /// configuration is left as it is: every tenant it names replays the scenario.
    pub impersonate: bool,
    /// App registrations to enforce (`--app FILE`).
    pub apps: Vec<mock_idp::AppRegistration>,
}

/// The scenario observe mode plays when none is given: no faults, no events.
pub fn quiet_scenario(flow: Flow) -> Result<Scenario, model::scenario::ScenarioErrors> {
    model::scenario::parse(
        &format!(
            "name: observe\nsummary: No faults and no events; how the app behaves on a good day.\nflow: {}\nrules: [client.liveness]\nsteps:\n  - wait: 1s\n",
            flow.as_str()
        ),
        "builtin:observe",
    )
}

fn keep(tail: &Mutex<VecDeque<String>>, line: String) {
    let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
    if t.len() == TAIL {
        t.pop_front();
    }
    t.push_back(line);
}

fn pump(
    stream: impl AsyncRead + Unpin + Send + 'static,
    tail: Arc<Mutex<VecDeque<String>>>,
    echo: bool,
) -> tokio::task::JoinHandle<()> {
    // Every line bounded and redacted; read to the end, so the app never blocks on output.
    tokio::spawn(bounded_lines(stream, MAX_STDERR_LINE, move |line| {
        if echo {
            eprintln!("app| {}", redact_line(&line));
        }
        keep(&tail, line);
    }))
}

#[cfg(unix)]
fn signal_group(pgid: Option<u32>, sig: nix::sys::signal::Signal) {
    if let Some(p) = pgid.and_then(|p| i32::try_from(p).ok()) {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(p), sig);
    }
}

/// Plays the scenario's `wait` and `fire` steps on the clock (commands need a driver and are
/// skipped) in every tenant the app has reached; returns when the steps are done.
async fn play(idp: &MockIdp, tenant: &str, scenario: &Scenario, transcript: &Transcript) {
    for step in &scenario.steps {
        let step = &step.value;
        if let Some(w) = step.wait {
            tokio::time::sleep(w.0).await;
        } else if let Some(ev) = &step.fire {
            let mut tenants = idp.tenants();
            if !tenants.iter().any(|t| t == tenant) {
                tenants.push(tenant.to_string());
            }
            for t in tenants {
                if let Err(e) = idp.fire_scenario_event(&t, &ev.value) {
                    tracing::warn!(event = %ev.value, tenant = %t, error = %e, "could not fire");
                }
            }
            transcript.push(TranscriptEvent::Fired {
                name: ev.value.clone(),
            });
        }
    }
    std::future::pending::<()>().await;
}

/// Plays the user for device codes, as the scenario's `user` says (approve by default, after
/// `device_code_delay` or 2 s): an app that signs in by device code runs unmodified. Each
/// code is answered once, through the mock's verification page, as a user would.
async fn device_user(idp: &MockIdp, scenario: &Scenario) {
    use crate::driver::UserAgent;
    let mut play = scenario.user.clone();
    if play.device_code_delay.is_none() {
        play.device_code_delay = Some(model::scenario::Dur(Duration::from_secs(2)));
    }
    let Ok(browser) = crate::browser::Browser::new(idp.base_url(), idp.ca_cert_pem(), None, play)
    else {
        return std::future::pending().await;
    };
    let mut answered = std::collections::HashSet::new();
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        for (_, code, uri) in idp.pending_device_codes() {
            if answered.insert(code.clone()) {
                let b = browser.clone();
                tokio::spawn(async move {
                    let did = b.device_code(code, uri).await;
                    tracing::info!(%did, "observe: the user answered a device code");
                });
            }
        }
    }
}

/// Runs the app under observation; returns the report (also written to `plan.out`).
pub async fn observe(
    plan: ObservePlan,
    interrupt: impl std::future::Future<Output = ()>,
) -> std::io::Result<Report> {
    let started = Instant::now();
    // Before anything starts: a clear error for an unwritable --out, and no earlier report mixed in.
    crate::run::prepare_out(&plan.out).map_err(std::io::Error::other)?;
    let mut scenario = match plan.scenario.clone() {
        Some(s) => s,
        None => quiet_scenario(plan.flow.unwrap_or(Flow::ClientCredentials))
            .map_err(|e| std::io::Error::other(e.to_string()))?,
    };
    if let Some(f) = plan.flow {
        scenario.flow.value = f;
    }
    let mut opts = Options::default()
        .impersonate(plan.impersonate)
        .apps(plan.apps.clone());
    // Impersonating, the app names its own tenant: every tenant replays the scenario.
    opts.scenario = plan.impersonate.then(|| scenario.clone());
    let idp = MockIdp::start(opts).await.map_err(std::io::Error::other)?;
    let tenant = format!("{}-{:06x}", scenario.name.value, rand_suffix());
    idp.load_scenario(&tenant, scenario.clone());
    let state = tempfile::Builder::new()
        .prefix("tokenstorm-observe-")
        .tempdir()?;
    // The trust bundle lives beside (not in) the app's state directory: it is not the app's.
    let trust = tempfile::Builder::new()
        .prefix("tokenstorm-trust-")
        .tempdir()?;
    let bundle = if plan.impersonate {
        Some(crate::impersonation::write_bundle(&idp, trust.path())?)
    } else {
        None
    };
    let env = environment(&idp, &scenario, &tenant, state.path(), bundle.as_ref());
    let clock = idp.clock();
    let transcript = Transcript::new(Arc::new(move || clock.now_us()));

    let tag = crate::driver::process_tag();
    let mut cmd = tokio::process::Command::new(&plan.command.program);
    cmd.args(&plan.command.args)
        .envs(env)
        .env(crate::driver::PROCESS_TAG_VAR, &tag)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = cmd.spawn().map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot start {}: {e}", plan.command.program),
        )
    })?;
    let pid = child.id();
    idp.start_scenario(&tenant);
    transcript.push(TranscriptEvent::Started {
        pid: pid.unwrap_or(0),
        incarnation: 1,
    });
    let tail: Arc<Mutex<VecDeque<String>>> = Arc::default();
    let mut pumps = Vec::new();
    if let Some(o) = child.stdout.take() {
        pumps.push(pump(o, tail.clone(), plan.echo));
    }
    if let Some(e) = child.stderr.take() {
        pumps.push(pump(e, tail.clone(), plan.echo));
    }

    enum End {
        Exited(Option<std::process::ExitStatus>),
        TimedOut,
        Interrupted,
    }
    let end = tokio::select! {
        s = child.wait() => End::Exited(s.ok()),
        _ = tokio::time::sleep(plan.timeout) => End::TimedOut,
        _ = interrupt => End::Interrupted,
        _ = play(&idp, &tenant, &scenario, &transcript) => End::TimedOut,
        _ = device_user(&idp, &scenario) => End::TimedOut,
    };
    #[cfg(unix)]
    let signal_of = |s: &std::process::ExitStatus| std::os::unix::process::ExitStatusExt::signal(s);
    #[cfg(not(unix))]
    let signal_of = |_: &std::process::ExitStatus| None;
    let (code, signal) = match end {
        End::Exited(s) => (s.and_then(|s| s.code()), s.as_ref().and_then(signal_of)),
        End::TimedOut | End::Interrupted => {
            // Ask politely, then make sure nothing of the app's survives.
            #[cfg(unix)]
            signal_group(pid, nix::sys::signal::Signal::SIGTERM);
            let ended = match tokio::time::timeout(Duration::from_secs(3), child.wait()).await {
                Ok(Ok(s)) => (s.code(), signal_of(&s)),
                _ => (None, None),
            };
            #[cfg(unix)]
            signal_group(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = child.kill().await;
            ended
        }
    };
    #[cfg(unix)]
    signal_group(pid, nix::sys::signal::Signal::SIGKILL);
    // What left the app's process group, found by its tag.
    crate::driver::kill_tagged(&tag);
    for p in pumps {
        let _ = tokio::time::timeout(Duration::from_millis(500), p).await;
    }
    let stopped_by_us = !matches!(end, End::Exited(_));
    transcript.push(TranscriptEvent::Exited {
        code,
        signal,
        expected: stopped_by_us || code == Some(0),
        stderr_tail: tail
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|l| redact_line(l))
            .collect(),
    });
    // Give the mock a moment to journal the last exchanges, then collect.
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Impersonating, the app chose its tenants (its own id, `common`, ...): the mock is this
    // run's alone, so all of it is the app's.
    let (journal, fired) = if plan.impersonate {
        let fired = idp
            .tenants()
            .iter()
            .flat_map(|t| idp.fired_events(t))
            .collect();
        (idp.journal(), fired)
    } else {
        (idp.journal_for(&tenant), idp.fired_events(&tenant))
    };
    // Verdicts on a journal with holes could fail a good app or pass a bad one.
    let dropped = idp.journal_dropped(if plan.impersonate {
        None
    } else {
        Some(&tenant)
    });
    let outcome = match dropped {
        0 => Outcome::Completed,
        n => Outcome::Unjudgeable {
            reason: format!(
                "{n} of the app's requests are missing from the journal: it reached its cap on \
                 disk, or the disk refused a write"
            ),
        },
    };
    let run = ScenarioRun {
        state_files: snapshot_state(state.path(), &journal),
        scenario: scenario.clone(),
        tenant: tenant.clone(),
        hello: None,
        outcome,
        journal,
        transcript: transcript.entries(),
        fired,
        duration: started.elapsed(),
    };
    let verdicts = judge(&Input::of(&run, true));
    crate::run::write_journal(&plan.out, &run)?;
    let sr = report::scenario_report(&run, verdicts, plan.strict);
    let r = report::new_report(
        report::Mode::Observe,
        &plan.command,
        started,
        plan.strict,
        matches!(end, End::Interrupted),
        vec![sr],
    );
    report::write_all(&plan.out, &r)?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quiet_scenario_parses_for_every_flow() {
        for f in [
            Flow::ClientCredentials,
            Flow::AuthCode,
            Flow::DeviceCode,
            Flow::Obo,
        ] {
            let s = quiet_scenario(f).unwrap_or_else(|e| panic!("{}: {e}", f.as_str()));
            assert_eq!(s.flow.value, f);
            assert!(s.faults.is_empty() && s.events.is_empty());
        }
    }
}

//! Running one scenario: its own tenant on the shared mock, a fresh state directory, the
//! client started with the driver protocol's environment, the steps played in order (repeats,
//! concurrency, waits, restarts, SSO clearing, fired events), and everything it produced
//! collected for judging: journal, transcript, fired events, the state directory's files.

use crate::browser::Browser;
use crate::driver::{Client, DriverError, Launch, Transcript};
use crate::events::RunEvent;
use mock_idp::MockIdp;
use model::protocol::Op;
use model::scenario::{Expect, Flow, Scenario, Step};
use model::transcript::{Hello, TranscriptEntry, TranscriptEvent};
use model::JournalEntry;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

pub use crate::client::ClientCommand;

/// Limits of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// How long the client may take to say hello.
    pub hello_deadline: Duration,
    /// How long a shutdown may take before the group is killed.
    pub shutdown_grace: Duration,
    /// Where state directories are made (a temporary directory when `None`).
    pub state_root: Option<PathBuf>,
    /// Impersonating Entra and Graph: the CA bundle (system CAs and the run's) the client is
    /// told to trust; the client is given Entra's and Graph's real URLs and the proxy.
    pub impersonation: Option<crate::impersonation::Trust>,
    /// The client runs in this process ([`crate::inproc`]); the command only names it.
    pub in_process: Option<crate::client::InProcess>,
    /// Where the scenario's commands, answers and journaled requests are reported as they
    /// happen (the run's event stream); `None` reports nothing.
    pub events: Option<crate::events::Reporters>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            hello_deadline: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            state_root: None,
            impersonation: None,
            in_process: None,
            events: None,
        }
    }
}

pub use crate::state_dir::StateFile;

pub use reports::Outcome;

/// Everything a scenario run produced.
#[derive(Debug, Clone)]
pub struct ScenarioRun {
    /// The scenario.
    pub scenario: Scenario,
    /// Its tenant on the mock.
    pub tenant: String,
    /// The client's hello (of its first start).
    pub hello: Option<Hello>,
    /// How it ended.
    pub outcome: Outcome,
    /// The mock's journal for the tenant.
    pub journal: Vec<JournalEntry>,
    /// The transcript.
    pub transcript: Vec<TranscriptEntry>,
    /// Scenario events that fired.
    pub fired: Vec<mock_idp::FiredEvent>,
    /// The state directory's files at the end.
    pub state_files: Vec<StateFile>,
    /// Wall time.
    pub duration: Duration,
}

/// The scopes a flow asks for by default (`TOKENSTORM_SCOPES`).
pub fn default_scopes(flow: Flow) -> &'static str {
    match flow {
        Flow::ClientCredentials => "https://graph.microsoft.com/.default",
        _ => "https://graph.microsoft.com/User.Read",
    }
}

pub(crate) fn environment(
    idp: &MockIdp,
    s: &Scenario,
    tenant: &str,
    state_dir: &Path,
    impersonation: Option<&crate::impersonation::Trust>,
) -> Vec<(String, String)> {
    let r = idp.ready();
    let confidential = matches!(s.flow.value, Flow::ClientCredentials | Flow::Obo);
    let (client_id, secret) = if confidential {
        (
            r.clients.confidential.client_id.clone(),
            Some(r.clients.confidential.client_secret.clone()),
        )
    } else {
        (r.clients.public.client_id.clone(), None)
    };
    // Impersonating, the client is given Entra's and Graph's real names.
    let (authority, graph, userinfo) = match impersonation {
        Some(_) => (
            format!("https://{}/{tenant}", mock_idp::AUTHORITY_HOSTS[0]),
            format!("https://{}/v1.0", mock_idp::GRAPH_HOST),
            format!("https://{}/oidc/userinfo", mock_idp::GRAPH_HOST),
        ),
        None => (
            idp.authority(tenant),
            idp.graph_url(),
            format!("{}/oidc/userinfo", idp.base_url()),
        ),
    };
    let mut env = vec![
        ("TOKENSTORM_AUTHORITY".to_string(), authority),
        ("TOKENSTORM_CLIENT_ID".to_string(), client_id),
        (
            "TOKENSTORM_REDIRECT_URI".to_string(),
            r.clients.public.redirect_uri.clone(),
        ),
        (
            "TOKENSTORM_SCOPES".to_string(),
            default_scopes(s.flow.value).to_string(),
        ),
        ("TOKENSTORM_FLOW".to_string(), s.flow.as_str().to_string()),
        ("TOKENSTORM_GRAPH_URL".to_string(), graph),
        ("TOKENSTORM_USERINFO_URL".to_string(), userinfo),
        (
            "TOKENSTORM_STATE_DIR".to_string(),
            state_dir.display().to_string(),
        ),
        ("TOKENSTORM_SCENARIO".to_string(), s.name.value.clone()),
    ];
    if let Some(secret) = secret {
        env.push(("TOKENSTORM_CLIENT_SECRET".to_string(), secret));
    }
    if let Some(ca) = idp.ca_cert_path() {
        let ca = ca.display().to_string();
        let only_ours: &[&str] = if impersonation.is_some() {
            &["TOKENSTORM_CA_BUNDLE"]
        } else {
            &[
                "TOKENSTORM_CA_BUNDLE",
                "SSL_CERT_FILE",
                "REQUESTS_CA_BUNDLE",
                "NODE_EXTRA_CA_CERTS",
            ]
        };
        for k in only_ours {
            env.push((k.to_string(), ca.clone()));
        }
    }
    if let Some(trust) = impersonation {
        env.extend(crate::impersonation::environment(idp, trust));
    }
    // A managed-identity app finds the mock where Azure would put its identity endpoint.
    env.extend(idp.managed_identity_env(tenant));
    env
}

/// Whether the client can run the scenario: its flow and features.
pub fn applicability(s: &Scenario, hello: &Hello) -> Result<(), String> {
    if !hello.flows.iter().any(|f| f == s.flow.as_str()) {
        return Err(format!(
            "the client does not support the {} flow",
            s.flow.as_str()
        ));
    }
    let missing: Vec<&str> = s
        .features
        .iter()
        .map(|f| f.as_str())
        .filter(|f| !hello.features.iter().any(|h| h == f))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the client lacks the feature(s) {}",
            missing.join(", ")
        ))
    }
}

struct Session<'a> {
    idp: &'a MockIdp,
    scenario: &'a Scenario,
    tenant: String,
    launch: Launch,
    transcript: Transcript,
    browser: Arc<Browser>,
    ids: AtomicU64,
    opts: &'a RunOptions,
    incarnation: u32,
    /// On-behalf-of scenarios: the user token the middle tier receives from its front end.
    assertion: Option<String>,
}

impl Session<'_> {
    fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    async fn start_client(&mut self) -> Result<Client, Outcome> {
        self.incarnation += 1;
        match Client::start(
            &self.launch,
            self.transcript.clone(),
            self.browser.clone(),
            self.incarnation,
            self.opts.hello_deadline,
        )
        .await
        {
            Ok(c) => Ok(c),
            Err((e, client)) => {
                let tail = client.as_ref().map(Client::stderr_tail).unwrap_or_default();
                if let Some(c) = client {
                    c.kill(false).await;
                }
                Err(Outcome::ClientFailed {
                    reason: e.to_string(),
                    stderr_tail: tail,
                })
            }
        }
    }

    fn command_for(&self, step: &Step) -> Option<Op> {
        if let Some(a) = &step.acquire_token {
            let scopes: Vec<String> = if a.scopes.is_empty() {
                default_scopes(self.scenario.flow.value)
                    .split(' ')
                    .map(str::to_string)
                    .collect()
            } else {
                a.scopes.clone()
            };
            return Some(Op::AcquireToken {
                scopes,
                assertion: self.assertion.clone(),
            });
        }
        if let Some(c) = &step.call_api {
            // The Graph the client was given: the mock's, or Graph's real name when impersonating.
            let graph = if self.opts.impersonation.is_some() {
                format!("https://{}/v1.0", mock_idp::GRAPH_HOST)
            } else {
                self.idp.graph_url()
            };
            return Some(Op::CallApi {
                method: c.method.clone(),
                url: format!("{graph}{}", c.path),
            });
        }
        step.whoami.map(|_| Op::Whoami)
    }

    /// Runs one command step: its repeats and concurrent copies. A client that fails to
    /// answer ends the scenario.
    async fn command_step(
        &self,
        client: &Client,
        index: usize,
        step: &Step,
    ) -> Result<(), Outcome> {
        let Some(op) = self.command_for(step) else {
            return Ok(());
        };
        let deadline = step.deadline.map_or(Duration::from_secs(60), |d| d.0);
        let copies = step.concurrency.unwrap_or(1).max(1);
        let start = Instant::now();
        let mut iteration: u32 = 0;
        loop {
            if let Some(r) = step.repeat {
                let due = start + r.every.0 * iteration;
                tokio::time::sleep_until(due).await;
            }
            let calls = (0..copies).map(|_| client.command(self.next_id(), &op, index, deadline));
            let answers = futures_util::future::join_all(calls).await;
            for a in answers {
                match a {
                    Ok(answer) => {
                        let ok = answer.ok;
                        let expect = step.expect.unwrap_or(Expect::Ok);
                        if (expect == Expect::Ok && !ok) || (expect == Expect::Error && ok) {
                            tracing::debug!(
                                step = index,
                                op = op.name(),
                                ok,
                                "answer differs from the step's expectation"
                            );
                        }
                    }
                    Err(e @ (DriverError::Timeout { .. } | DriverError::Exited { .. })) => {
                        return Err(Outcome::ClientFailed {
                            reason: e.to_string(),
                            stderr_tail: client.stderr_tail(),
                        })
                    }
                    Err(e) => {
                        return Err(Outcome::ClientFailed {
                            reason: e.to_string(),
                            stderr_tail: client.stderr_tail(),
                        })
                    }
                }
            }
            iteration += 1;
            let more = match step.repeat {
                None => false,
                Some(r) => match (r.count, r.for_) {
                    (Some(n), _) => iteration < n,
                    (None, Some(f)) => start.elapsed() + r.every.0 <= f.0,
                    (None, None) => false,
                },
            };
            if !more {
                return Ok(());
            }
        }
    }
}

pub use crate::state_dir::snapshot_state;

/// Reports the scenario's commands and answers (from its transcript) and its journaled
/// requests (from the mock's journal of its tenant) on the run's event stream as they happen.
fn stream_events(
    idp: &MockIdp,
    tenant: &str,
    scenario: &str,
    events: &crate::events::Reporters,
    transcript: Transcript,
) -> Transcript {
    let (name, to) = (scenario.to_string(), events.clone());
    idp.watch_journal(tenant, move |e| {
        to.emit(&RunEvent::RequestJournaled {
            scenario: name.clone(),
            seq: e.seq,
            endpoint: e.endpoint.as_str().to_string(),
            status: e.status,
            fault: e.fault.clone(),
            at_ms: e.arrived_us / 1_000,
        })
    });
    let (name, to) = (scenario.to_string(), events.clone());
    transcript.observed(Arc::new(move |entry: &TranscriptEntry| {
        let at_ms = entry.at_us / 1_000;
        match &entry.event {
            TranscriptEvent::Command { id, op, step, .. } => to.emit(&RunEvent::CommandSent {
                scenario: name.clone(),
                id: *id,
                op: op.clone(),
                step: *step,
                at_ms,
            }),
            TranscriptEvent::Result { id, ok, .. } => to.emit(&RunEvent::CommandAnswered {
                scenario: name.clone(),
                id: *id,
                ok: *ok,
                at_ms,
            }),
            _ => {}
        }
    }))
}

/// Runs a scenario against a client on a running mock.
pub async fn run_scenario(
    idp: &MockIdp,
    scenario: &Scenario,
    client: &ClientCommand,
    opts: &RunOptions,
) -> ScenarioRun {
    let t0 = Instant::now();
    let suffix = format!("{:06x}", rand_suffix());
    let tenant = format!("{}-{suffix}", scenario.name.value);
    idp.load_scenario(&tenant, scenario.clone());
    let state = match &opts.state_root {
        Some(root) => tempfile::Builder::new()
            .prefix(&format!("{}-", scenario.name.value))
            .tempdir_in(root),
        None => tempfile::Builder::new()
            .prefix("tokenstorm-state-")
            .tempdir(),
    };
    let state = match state {
        Ok(s) => s,
        Err(e) => {
            return ScenarioRun {
                scenario: scenario.clone(),
                tenant,
                hello: None,
                outcome: Outcome::ClientFailed {
                    reason: format!("cannot make a state directory: {e}"),
                    stderr_tail: vec![],
                },
                journal: vec![],
                transcript: vec![],
                fired: vec![],
                state_files: vec![],
                duration: t0.elapsed(),
            }
        }
    };
    let clock_state = idp.clock();
    let mut transcript = Transcript::new(Arc::new(move || clock_state.now_us()));
    if let Some(events) = &opts.events {
        transcript = stream_events(idp, &tenant, &scenario.name.value, events, transcript);
    }
    let browser = match Browser::new(
        idp.base_url(),
        idp.ca_cert_pem(),
        idp.proxy_url().as_deref(),
        scenario.user.clone(),
    ) {
        Ok(b) => Arc::new(b),
        Err(e) => {
            return ScenarioRun {
                scenario: scenario.clone(),
                tenant,
                hello: None,
                outcome: Outcome::ClientFailed {
                    reason: e,
                    stderr_tail: vec![],
                },
                journal: vec![],
                transcript: vec![],
                fired: vec![],
                state_files: vec![],
                duration: t0.elapsed(),
            }
        }
    };
    let launch = Launch {
        program: client.program.clone(),
        args: client.args.clone(),
        env: environment(
            idp,
            scenario,
            &tenant,
            state.path(),
            opts.impersonation.as_ref(),
        ),
        cwd: None,
        in_process: opts.in_process.clone(),
    };
    let mut session = Session {
        idp,
        scenario,
        tenant: tenant.clone(),
        launch,
        transcript: transcript.clone(),
        browser: browser.clone(),
        ids: AtomicU64::new(1),
        opts,
        incarnation: 0,
        assertion: (scenario.flow.value == Flow::Obo)
            .then(|| idp.user_assertion(&tenant).ok())
            .flatten(),
    };
    let mut hello = None;
    let outcome = async {
        let mut client = session.start_client().await?;
        hello = client.hello().cloned();
        if let Some(h) = &hello {
            if let Err(reason) = applicability(scenario, h) {
                client
                    .shutdown(session.next_id(), opts.shutdown_grace)
                    .await;
                return Err(Outcome::NotApplicable { reason });
            }
        }
        idp.start_scenario(&session.tenant);
        for (i, step) in scenario.steps.iter().enumerate() {
            let step = &step.value;
            if let Some(w) = step.wait {
                tokio::time::sleep(w.0).await;
            } else if step.restart.is_some() {
                client
                    .shutdown(session.next_id(), opts.shutdown_grace)
                    .await;
                client = session.start_client().await?;
            } else if step.clear_sso.is_some() {
                browser.clear_cookies();
                transcript.push(model::transcript::TranscriptEvent::ClearedSso);
            } else if let Some(ev) = &step.fire {
                if let Err(e) = idp.fire_scenario_event(&session.tenant, &ev.value) {
                    tracing::warn!(event = %ev.value, error = %e, "could not fire");
                }
                transcript.push(model::transcript::TranscriptEvent::Fired {
                    name: ev.value.clone(),
                });
            } else if let Err(o) = session.command_step(&client, i, step).await {
                // A command that timed out: the harness ends the client itself (whether the
                // timeout was the client's fault is judged afterwards, from the journal).
                let timed_out = transcript
                    .entries()
                    .iter()
                    .any(|e| matches!(e.event, model::transcript::TranscriptEvent::Timeout { .. }));
                client.kill(timed_out).await;
                return Err(o);
            }
        }
        client
            .shutdown(session.next_id(), opts.shutdown_grace)
            .await;
        Ok(())
    }
    .await;
    let outcome = match outcome {
        Ok(()) => Outcome::Completed,
        Err(o) => o,
    };
    // Give the mock a moment to journal the last exchanges, then collect.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let journal = idp.journal_for(&tenant);
    let transcript = transcript.entries();
    let outcome = stalled_to_completion(scenario, outcome, &journal, &transcript);
    // Verdicts on a journal with holes could fail a good client or pass a bad one.
    let outcome = match idp.journal_dropped(Some(&tenant)) {
        0 => outcome,
        n => Outcome::Unjudgeable {
            reason: format!(
                "{n} of this scenario's requests are missing from the journal: it reached its \
                 cap on disk, or the disk refused a write"
            ),
        },
    };
    let state_files = snapshot_state(state.path(), &journal);
    ScenarioRun {
        scenario: scenario.clone(),
        tenant: tenant.clone(),
        hello,
        outcome,
        journal,
        transcript,
        fired: idp.fired_events(&tenant),
        state_files,
        duration: t0.elapsed(),
    }
}

/// A client that never timed out a request the mock stalled on purpose has not crashed: it
/// lacks a request timeout, which `backoff.timeout` judges with the evidence. The run stopped at
/// that command; what it did until then is judged. Only for scenarios that judge
/// `backoff.timeout`; elsewhere the hang stays a `client.liveness` failure.
fn stalled_to_completion(
    scenario: &Scenario,
    outcome: Outcome,
    journal: &[JournalEntry],
    transcript: &[TranscriptEntry],
) -> Outcome {
    let Outcome::ClientFailed { .. } = &outcome else {
        return outcome;
    };
    if !scenario
        .rules
        .iter()
        .any(|r| r.value.id() == "backoff.timeout")
    {
        return outcome;
    }
    let timeout_at = transcript.iter().find_map(|e| match &e.event {
        model::transcript::TranscriptEvent::Timeout { .. } => Some(e.at_us),
        _ => None,
    });
    let Some(at) = timeout_at else {
        return outcome;
    };
    let held = journal.iter().any(|e| {
        e.fault.is_some()
            && e.status == 0
            && e.arrived_us < at
            && e.finished_us.is_none_or(|f| f >= at)
    });
    if held {
        Outcome::Completed
    } else {
        outcome
    }
}

pub(crate) fn rand_suffix() -> u32 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    (h.finish() & 0xff_ffff) as u32
}

//! The harness's side of the driver protocol (`docs/driver-protocol.md`): starts the client
//! under test in its own process group with the protocol's environment, reads its JSON lines,
//! sends commands and matches answers by id within deadlines, hands `browse` and `device_code`
//! requests to the user agent, keeps the tail of stderr, and kills the whole group at the end.
//!
//! Everything the client says or does is written to the transcript, with tokens redacted.
//!
//! A hostile client cannot hold the harness: stdout lines and stderr lines are bounded, so are
//! the recorded protocol errors; the client's own exit is noticed even while a grandchild keeps
//! its pipes open; a client ignoring `shutdown` gets SIGTERM, then SIGKILL; and processes that
//! left its process group are found by the tag in their environment and killed too. The limits
//! are documented in `docs/driver-protocol.md` ("Limits").

use model::protocol::{self, Answer, Browsed, FromClient, Op, ToClient};
use model::transcript::{Hello, TranscriptEntry, TranscriptEvent};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot, watch};

/// How many stderr lines are kept for evidence.
pub const STDERR_TAIL: usize = 40;
/// How many bytes of one stderr line are kept (the rest of the line is counted, not kept).
pub const MAX_STDERR_LINE: usize = 2048;
/// The longest protocol line accepted: a stdout line past it breaks the protocol, and the
/// harness stops reading the client.
pub const MAX_LINE: usize = 1024 * 1024;
/// How many stdout lines that are not protocol messages are recorded one by one (the rest are
/// counted).
pub const MAX_RECORDED_PROTOCOL_ERRORS: usize = 20;
/// Once the client's own process has exited, how long its last stdout lines may take to
/// arrive (a grandchild may hold the pipe open for ever).
pub const EXIT_DRAIN: Duration = Duration::from_millis(300);
/// After SIGTERM (sent when `shutdown` did not end the client within its grace), how long
/// before SIGKILL.
pub const TERM_GRACE: Duration = Duration::from_secs(2);
/// The environment variable that tags every process of one client start, so processes that
/// left the client's process group (`setsid`, a double fork) are found and killed too.
pub const PROCESS_TAG_VAR: &str = "TOKENSTORM_PROCESS_TAG";

/// Why talking to the client failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    /// The program could not be started.
    #[error("cannot start the client `{program}`: {message}")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        message: String,
    },
    /// No hello within the deadline.
    #[error("the client did not say hello within {0:?}")]
    NoHello(Duration),
    /// The hello was not protocol 1.
    #[error("the client speaks protocol {0}; this harness speaks protocol 1")]
    Protocol(u32),
    /// A command got no answer in time.
    #[error("no answer to command {id} ({op}) within {deadline:?}")]
    Timeout {
        /// The id.
        id: u64,
        /// The operation.
        op: String,
        /// The deadline.
        deadline: Duration,
    },
    /// The client exited while a command was outstanding.
    #[error("the client exited before answering command {id} ({op})")]
    Exited {
        /// The id.
        id: u64,
        /// The operation.
        op: String,
    },
    /// The client exited, or closed its stdout, before saying hello.
    #[error("the client exited (or closed its stdout) before saying hello")]
    EndedBeforeHello,
    /// The client broke the protocol so that the harness stopped reading it (a stdout line
    /// past [`MAX_LINE`]).
    #[error("the client broke the driver protocol: {0}")]
    Broken(String),
}

pub use model::protocol::Frame;

/// Who plays the user and the browser for the client.
pub trait UserAgent: Send + Sync + 'static {
    /// Follows an authorize URL as a browser would, in `frame`; the URL it ended on, or an
    /// error text.
    fn browse(
        &self,
        url: String,
        frame: Frame,
    ) -> futures_util::future::BoxFuture<'static, Result<String, String>>;
    /// Handles a device code; returns what the user did (`approve`, `deny`, `ignore`).
    fn device_code(
        &self,
        user_code: String,
        verification_uri: String,
    ) -> futures_util::future::BoxFuture<'static, String>;
}

/// Told of each transcript entry as it is recorded.
pub type TranscriptObserver = Arc<dyn Fn(&TranscriptEntry) + Send + Sync>;

/// The transcript being written, with the clock it is written on.
#[derive(Clone)]
pub struct Transcript {
    entries: Arc<Mutex<Vec<TranscriptEntry>>>,
    clock: Arc<dyn Fn() -> u64 + Send + Sync>,
    observer: Option<TranscriptObserver>,
}

impl Transcript {
    /// A transcript on this clock (the mock's µs clock, so times compare with the journal).
    pub fn new(clock: Arc<dyn Fn() -> u64 + Send + Sync>) -> Self {
        Transcript {
            entries: Arc::new(Mutex::new(Vec::new())),
            clock,
            observer: None,
        }
    }

    /// The same transcript, also telling `observer` of each entry as it is recorded (it must
    /// be quick: it runs where the entry is pushed).
    pub fn observed(mut self, observer: TranscriptObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Records an event now.
    pub fn push(&self, event: TranscriptEvent) {
        let entry = TranscriptEntry {
            at_us: (self.clock)(),
            event,
        };
        if let Some(o) = &self.observer {
            o(&entry);
        }
        lock(&self.entries).push(entry);
    }

    /// The entries so far.
    pub fn entries(&self) -> Vec<TranscriptEntry> {
        lock(&self.entries).clone()
    }

    /// The clock's reading now.
    pub fn now_us(&self) -> u64 {
        (self.clock)()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Replaces tokens in a client's answer by fingerprints: `access_token`-like keys and any
/// string shaped like a JWT.
pub fn redact(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let secret = matches!(
                        k.as_str(),
                        "access_token"
                            | "refresh_token"
                            | "id_token"
                            | "token"
                            | "client_secret"
                            | "assertion"
                    );
                    match (secret, v) {
                        (true, Value::String(s)) => (k.clone(), json!(model::redact(s))),
                        _ => (k.clone(), redact(v)),
                    }
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(redact).collect()),
        Value::String(s) if looks_like_jwt(s) => json!(model::redact(s)),
        other => other.clone(),
    }
}

fn looks_like_jwt(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && s.starts_with("eyJ")
        && parts.iter().all(|p| {
            p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// How to start the client.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The program.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// The protocol's environment (and anything else).
    pub env: Vec<(String, String)>,
    /// Its working directory.
    pub cwd: Option<PathBuf>,
    /// A client run in the harness's own process instead of `program` (see
    /// [`crate::inproc`]).
    pub in_process: Option<crate::client::InProcess>,
}

/// The client's end of the pipes, as the harness holds them.
type ClientStdin = Arc<tokio::sync::Mutex<Box<dyn AsyncWrite + Send + Unpin>>>;

/// What runs the client: a process group, or a task of the harness's runtime.
struct Runner {
    pid: Option<u32>,
    pgid: Option<i32>,
    /// The process tag ([`PROCESS_TAG_VAR`]); empty in-process.
    tag: String,
    exit: ExitWatch,
    /// In-process: the task serving the protocol, and the signal that "ended" it (a task can
    /// only be cancelled; the transcript still says what a process would have got).
    task: Option<(tokio::task::AbortHandle, Arc<std::sync::atomic::AtomicI32>)>,
}

enum Incoming {
    Browse {
        id: u64,
        url: String,
        frame: Frame,
    },
    DeviceCode {
        id: u64,
        user_code: String,
        verification_uri: String,
    },
}

/// How the client's own process ended: its exit code, or the signal that ended it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Ended {
    code: Option<i32>,
    signal: Option<i32>,
}

impl Ended {
    fn of(status: std::process::ExitStatus) -> Ended {
        #[cfg(unix)]
        let signal = std::os::unix::process::ExitStatusExt::signal(&status);
        #[cfg(not(unix))]
        let signal = None;
        Ended {
            code: status.code(),
            signal,
        }
    }
}

/// The client's exit: `None` while it runs, then how it ended.
type ExitWatch = watch::Receiver<Option<Ended>>;

/// Waits until the client's own process has exited; its exit code (`None`: ended by a signal).
async fn exited(exit: ExitWatch) -> Option<i32> {
    ended(exit).await.code
}

/// Waits until the client's own process has exited; how it ended.
async fn ended(mut exit: ExitWatch) -> Ended {
    match exit.wait_for(Option::is_some).await {
        Ok(v) => (*v).unwrap_or_default(),
        // The waiter is gone (the runtime is shutting down): nothing more will come.
        Err(_) => Ended::default(),
    }
}

/// A running client.
pub struct Client {
    pid: Option<u32>,
    pgid: Option<i32>,
    tag: String,
    exit: ExitWatch,
    task: Option<(tokio::task::AbortHandle, Arc<std::sync::atomic::AtomicI32>)>,
    stdin: ClientStdin,
    pending: Arc<Mutex<HashMap<u64, oneshot::Sender<Answer>>>>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    transcript: Transcript,
    hello: Option<Hello>,
    stdout_done: Option<oneshot::Receiver<()>>,
    closed: Arc<std::sync::atomic::AtomicBool>,
    broken: Arc<Mutex<Option<String>>>,
    finished: bool,
}

impl Client {
    /// Starts the client in its own process group and waits for its hello.
    pub async fn start(
        launch: &Launch,
        transcript: Transcript,
        agent: Arc<dyn UserAgent>,
        incarnation: u32,
        hello_deadline: Duration,
    ) -> Result<Client, (DriverError, Option<Client>)> {
        if let Some(inproc) = &launch.in_process {
            return Client::start_in_process(
                inproc,
                launch,
                transcript,
                agent,
                incarnation,
                hello_deadline,
            )
            .await;
        }
        let tag = process_tag();
        let mut cmd = Command::new(&launch.program);
        cmd.args(&launch.args)
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .env(PROCESS_TAG_VAR, &tag)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        cmd.process_group(0);
        if let Some(d) = &launch.cwd {
            cmd.current_dir(d);
        }
        let mut child: Child = cmd.spawn().map_err(|e| {
            (
                DriverError::Spawn {
                    program: launch.program.clone(),
                    message: e.to_string(),
                },
                None,
            )
        })?;
        let pid = child.id().unwrap_or(0);
        let pgid = (pid != 0).then_some(pid as i32);
        transcript.push(TranscriptEvent::Started { pid, incarnation });
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            kill_group(pgid, Signal::Kill);
            return Err((
                DriverError::Spawn {
                    program: launch.program.clone(),
                    message: "no pipes".into(),
                },
                None,
            ));
        };
        // The client's own exit, watched apart from its pipes (a grandchild may hold them).
        let (exit_tx, exit) = watch::channel(None);
        tokio::spawn(async move {
            let ended = child.wait().await.map(Ended::of).unwrap_or_default();
            let _ = exit_tx.send(Some(ended));
        });
        let runner = Runner {
            pid: (pid != 0).then_some(pid),
            pgid,
            tag,
            exit,
            task: None,
        };
        Client::attach(
            runner,
            Box::new(stdin),
            stdout,
            stderr,
            transcript,
            agent,
            hello_deadline,
        )
        .await
    }

    /// Starts an in-process client: a task of this runtime serving the driver protocol
    /// (`model::driver::serve`) over in-memory pipes, with the protocol's environment handed
    /// to its constructor. Its "exit code" is 0 when it served to the end, 1 when it could not
    /// start or its pipes failed (the reason on its stderr), 101 when it panicked (as a Rust
    /// process would); killing it cancels the task.
    async fn start_in_process(
        inproc: &crate::client::InProcess,
        launch: &Launch,
        transcript: Transcript,
        agent: Arc<dyn UserAgent>,
        incarnation: u32,
        hello_deadline: Duration,
    ) -> Result<Client, (DriverError, Option<Client>)> {
        transcript.push(TranscriptEvent::Started {
            pid: 0,
            incarnation,
        });
        let (harness_end, client_end) = tokio::io::duplex(64 * 1024);
        let (stderr_r, stderr_w) = tokio::io::duplex(16 * 1024);
        let stderr_w = Arc::new(tokio::sync::Mutex::new(stderr_w));
        let (from_harness, to_harness) = tokio::io::split(client_end);
        let (stdout, stdin) = tokio::io::split(harness_end);
        let make = inproc.clone();
        let env = launch.env.clone();
        let err = stderr_w.clone();
        let handle = tokio::spawn(async move {
            let driven = match make.make(&env) {
                Ok(d) => d,
                Err(e) => {
                    let _ = err
                        .lock()
                        .await
                        .write_all(format!("{e}\n").as_bytes())
                        .await;
                    return 1;
                }
            };
            match model::driver::serve(driven, from_harness, to_harness).await {
                Ok(()) => 0,
                Err(e) => {
                    let line = format!("the driver protocol's pipes failed: {e}\n");
                    let _ = err.lock().await.write_all(line.as_bytes()).await;
                    1
                }
            }
        });
        let abort = handle.abort_handle();
        let signalled = Arc::new(std::sync::atomic::AtomicI32::new(0));
        let (exit_tx, exit) = watch::channel(None);
        {
            let signalled = signalled.clone();
            tokio::spawn(async move {
                let ended = match handle.await {
                    Ok(code) => Ended {
                        code: Some(code),
                        signal: None,
                    },
                    Err(e) if e.is_panic() => {
                        let p = e.into_panic();
                        let what = p
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| p.downcast_ref::<String>().cloned())
                            .unwrap_or_default();
                        let line = format!("the client panicked: {what}\n");
                        let _ = stderr_w.lock().await.write_all(line.as_bytes()).await;
                        Ended {
                            code: Some(101),
                            signal: None,
                        }
                    }
                    Err(_) => Ended {
                        code: None,
                        signal: Some(signalled.load(std::sync::atomic::Ordering::SeqCst)),
                    },
                };
                // Its stderr ends with it.
                let _ = stderr_w.lock().await.shutdown().await;
                drop(stderr_w);
                let _ = exit_tx.send(Some(ended));
            });
        }
        let runner = Runner {
            pid: None,
            pgid: None,
            tag: String::new(),
            exit,
            task: Some((abort, signalled)),
        };
        Client::attach(
            runner,
            Box::new(stdin),
            stdout,
            stderr_r,
            transcript,
            agent,
            hello_deadline,
        )
        .await
    }

    /// Reads and writes a started client's pipes: hello, answers, browses and device codes.
    async fn attach(
        runner: Runner,
        stdin: Box<dyn AsyncWrite + Send + Unpin>,
        stdout: impl AsyncRead + Send + Unpin + 'static,
        stderr: impl AsyncRead + Send + Unpin + 'static,
        transcript: Transcript,
        agent: Arc<dyn UserAgent>,
        hello_deadline: Duration,
    ) -> Result<Client, (DriverError, Option<Client>)> {
        let stdin: ClientStdin = Arc::new(tokio::sync::Mutex::new(stdin));
        let pending: Arc<Mutex<HashMap<u64, oneshot::Sender<Answer>>>> = Arc::default();
        let stderr_tail: Arc<Mutex<VecDeque<String>>> = Arc::default();

        // stderr: keep the tail, every line bounded, read to the end so the client never
        // blocks on it.
        {
            let tail = stderr_tail.clone();
            tokio::spawn(bounded_lines(stderr, MAX_STDERR_LINE, move |line| {
                let mut t = lock(&tail);
                if t.len() == STDERR_TAIL {
                    t.pop_front();
                }
                t.push_back(line);
            }));
        }

        // Interactions are served on their own task, so commands can wait meanwhile.
        let (itx, irx) = mpsc::unbounded_channel::<Incoming>();
        tokio::spawn(serve_interactions(
            irx,
            stdin.clone(),
            transcript.clone(),
            agent,
        ));

        // stdout: protocol lines.
        let (hello_tx, hello_rx) = oneshot::channel::<Result<Hello, String>>();
        let (done_tx, done_rx) = oneshot::channel::<()>();
        let closed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let broken: Arc<Mutex<Option<String>>> = Arc::default();
        tokio::spawn(read_protocol(
            stdout,
            StdoutSide {
                pending: pending.clone(),
                closed: closed.clone(),
                broken: broken.clone(),
                transcript: transcript.clone(),
                itx,
                hello_tx,
                done_tx,
            },
        ));

        let mut client = Client {
            pid: runner.pid,
            pgid: runner.pgid,
            tag: runner.tag,
            exit: runner.exit,
            task: runner.task,
            stdin,
            pending,
            stderr_tail,
            transcript,
            hello: None,
            stdout_done: Some(done_rx),
            closed,
            broken,
            finished: false,
        };
        let gone = {
            let exit = client.exit.clone();
            async move {
                exited(exit).await;
                tokio::time::sleep(EXIT_DRAIN).await;
            }
        };
        let hello = tokio::select! {
            biased;
            h = hello_rx => h.ok(),
            _ = gone => None,
            _ = tokio::time::sleep(hello_deadline) => {
                return Err((DriverError::NoHello(hello_deadline), Some(client)));
            }
        };
        match hello {
            Some(Ok(h)) => {
                if h.protocol != 1 {
                    return Err((DriverError::Protocol(h.protocol), Some(client)));
                }
                client.hello = Some(h);
                Ok(client)
            }
            _ => {
                let e = match lock(&client.broken).clone() {
                    Some(why) => DriverError::Broken(why),
                    None => DriverError::EndedBeforeHello,
                };
                Err((e, Some(client)))
            }
        }
    }

    /// Why nothing more can come from the client: it broke the protocol, or it exited.
    fn gone(&self, id: u64, op: &str) -> DriverError {
        match lock(&self.broken).clone() {
            Some(why) => DriverError::Broken(why),
            None => DriverError::Exited {
                id,
                op: op.to_string(),
            },
        }
    }

    /// The client's hello.
    pub fn hello(&self) -> Option<&Hello> {
        self.hello.as_ref()
    }

    /// The last lines the client wrote to stderr (redacted).
    pub fn stderr_tail(&self) -> Vec<String> {
        lock(&self.stderr_tail)
            .iter()
            .map(|l| redact_line(l))
            .collect()
    }

    /// Sends a command and waits for its answer.
    pub async fn command(
        &self,
        id: u64,
        op: &Op,
        step: usize,
        deadline: Duration,
    ) -> Result<Answer, DriverError> {
        let (tx, rx) = oneshot::channel();
        {
            let mut p = lock(&self.pending);
            if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(self.gone(id, op.name()));
            }
            p.insert(id, tx);
        }
        let msg = ToClient::Command(protocol::Command { id, op: op.clone() });
        self.transcript.push(TranscriptEvent::Command {
            id,
            op: op.name().to_string(),
            args: redact(&op.args()),
            step,
            deadline_ms: deadline.as_millis() as u64,
        });
        let due = tokio::time::Instant::now() + deadline;
        // A client that does not read its stdin fills the pipe: the write is bounded too.
        let _ = tokio::time::timeout_at(due, write_line(&self.stdin, &msg)).await;
        // The client's own exit ends the wait too, even while a grandchild holds stdout open:
        // its last lines get a moment to arrive.
        let gone = {
            let exit = self.exit.clone();
            async move {
                exited(exit).await;
                tokio::time::sleep(EXIT_DRAIN).await;
            }
        };
        let mut rx = rx;
        tokio::select! {
            biased;
            r = &mut rx => match r {
                Ok(v) => Ok(v),
                Err(_) => Err(self.gone(id, op.name())),
            },
            _ = gone => {
                lock(&self.pending).remove(&id);
                match rx.try_recv() {
                    Ok(v) => Ok(v),
                    Err(_) => Err(self.gone(id, op.name())),
                }
            }
            _ = tokio::time::sleep_until(due) => {
                lock(&self.pending).remove(&id);
                self.transcript.push(TranscriptEvent::Timeout {
                    id,
                    deadline_ms: deadline.as_millis() as u64,
                });
                Err(DriverError::Timeout {
                    id,
                    op: op.name().to_string(),
                    deadline,
                })
            }
        }
    }

    /// Asks the client to shut down (it should persist and exit 0) and waits up to `grace` in
    /// all for it to exit; then sends its process group SIGTERM, waits up to [`TERM_GRACE`],
    /// and kills the group. Records the exit.
    pub async fn shutdown(mut self, id: u64, grace: Duration) -> Option<i32> {
        let due = tokio::time::Instant::now() + grace;
        // Bounded by its deadline (the grace) and by the client's exit.
        let _ = self.command(id, &Op::Shutdown, usize::MAX, grace).await;
        let mut code = tokio::time::timeout_at(due, exited(self.exit.clone()))
            .await
            .ok();
        if code.is_none() {
            self.signal(Signal::Term);
            code = tokio::time::timeout(TERM_GRACE, exited(self.exit.clone()))
                .await
                .ok();
        }
        let code = code.flatten();
        self.finish(true, code).await;
        code
    }

    /// Kills the client's whole process group now and records the exit.
    pub async fn kill(mut self, expected: bool) {
        self.finish(expected, None).await;
    }

    /// Waits for the client to exit by itself (for tests of crashing clients).
    pub async fn wait_exit(&mut self, within: Duration) -> Option<Option<i32>> {
        tokio::time::timeout(within, exited(self.exit.clone()))
            .await
            .ok()
    }

    async fn finish(&mut self, expected: bool, code: Option<i32>) {
        self.finished = true;
        if self.exit.borrow().is_none() {
            self.signal(Signal::Kill);
        } else {
            // Whatever the client left behind in its group.
            kill_group(self.pgid, Signal::Kill);
        }
        // A scan of /proc: off the async workers.
        if !self.tag.is_empty() {
            let tag = self.tag.clone();
            let _ = tokio::task::spawn_blocking(move || kill_tagged(&tag)).await;
        }
        let ended = match code {
            Some(c) => Ended {
                code: Some(c),
                signal: None,
            },
            None => tokio::time::timeout(Duration::from_secs(1), ended(self.exit.clone()))
                .await
                .unwrap_or_default(),
        };
        // Let the readers drain what the process wrote last (bounded: an escaped process that
        // holds the pipes was killed above, but one the tag cannot find may hold them on).
        if let Some(done) = self.stdout_done.take() {
            let _ = tokio::time::timeout(Duration::from_millis(500), done).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.transcript.push(TranscriptEvent::Exited {
            code: ended.code,
            signal: ended.signal,
            expected,
            stderr_tail: self.stderr_tail(),
        });
    }

    /// Signals the client's process group because the client did not exit by itself, and
    /// records that the harness did.
    fn signal(&self, sig: Signal) {
        self.transcript.push(TranscriptEvent::Signalled {
            signal: match sig {
                Signal::Term => "SIGTERM",
                Signal::Kill => "SIGKILL",
            }
            .to_string(),
        });
        kill_group(self.pgid, sig);
        // In-process: a task can't handle a signal; either one cancels it.
        if let Some((task, signalled)) = &self.task {
            let n = match sig {
                Signal::Term => 15,
                Signal::Kill => 9,
            };
            signalled.store(n, std::sync::atomic::Ordering::SeqCst);
            task.abort();
        }
    }

    /// The client's process id.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        kill_group(self.pgid, Signal::Kill);
        if let Some((task, _)) = &self.task {
            task.abort();
        }
        if !self.finished && !self.tag.is_empty() {
            kill_tagged(&self.tag);
        }
    }
}

#[derive(Clone, Copy)]
enum Signal {
    Term,
    Kill,
}

/// Serves the client's browse and device-code requests, each on its own task so commands can
/// wait meanwhile: the user agent acts, the transcript records it, a browse is answered.
async fn serve_interactions(
    mut irx: mpsc::UnboundedReceiver<Incoming>,
    stdin: ClientStdin,
    transcript: Transcript,
    agent: Arc<dyn UserAgent>,
) {
    while let Some(i) = irx.recv().await {
        let stdin = stdin.clone();
        let agent = agent.clone();
        let transcript = transcript.clone();
        tokio::spawn(async move {
            match i {
                Incoming::Browse { id, url, frame } => {
                    let r = agent.browse(url.clone(), frame).await;
                    let (msg, outcome) = match &r {
                        Ok(end) => (
                            ToClient::Browsed(Browsed {
                                id,
                                url: Some(end.clone()),
                                error: None,
                            }),
                            end.clone(),
                        ),
                        Err(e) => (
                            ToClient::Browsed(Browsed {
                                id,
                                url: None,
                                error: Some(e.clone()),
                            }),
                            format!("error: {e}"),
                        ),
                    };
                    transcript.push(TranscriptEvent::Browse {
                        id,
                        url,
                        outcome: redact_url(&outcome),
                    });
                    write_line(&stdin, &msg).await;
                }
                Incoming::DeviceCode {
                    id,
                    user_code,
                    verification_uri,
                } => {
                    let answer = agent.device_code(user_code.clone(), verification_uri).await;
                    transcript.push(TranscriptEvent::DeviceCode {
                        id,
                        user_code,
                        answer,
                    });
                }
            }
        });
    }
}

/// What the stdout reader shares with the client handle and the command senders.
struct StdoutSide {
    pending: Arc<Mutex<HashMap<u64, oneshot::Sender<Answer>>>>,
    closed: Arc<std::sync::atomic::AtomicBool>,
    broken: Arc<Mutex<Option<String>>>,
    transcript: Transcript,
    /// Where the client's interaction requests go.
    itx: mpsc::UnboundedSender<Incoming>,
    hello_tx: oneshot::Sender<Result<Hello, String>>,
    done_tx: oneshot::Sender<()>,
}

/// Reads the client's stdout to its end: protocol messages are recorded and routed (hello,
/// answers to their commands, interaction requests), other lines recorded as protocol errors
/// (the first few); a line past [`MAX_LINE`] breaks the protocol. At the end every waiting
/// command learns that nothing can answer any more.
async fn read_protocol(stdout: impl AsyncRead + Send + Unpin + 'static, side: StdoutSide) {
    let StdoutSide {
        pending,
        closed,
        broken,
        transcript,
        itx,
        hello_tx,
        done_tx,
    } = side;
    let mut hello_tx = Some(hello_tx);
    let mut reader = BufReader::new(stdout);
    let mut buf = Vec::new();
    // Lines that were not protocol messages: the first few are recorded.
    let mut junk = 0usize;
    loop {
        buf.clear();
        match read_line_limited(&mut reader, &mut buf).await {
            Ok(0) => break,
            Ok(_) => {}
            Err(ReadError::TooLong) => {
                let message = format!(
                        "a stdout line longer than {MAX_LINE} bytes without a newline; the harness stopped reading the client"
                    );
                // The line's start is the evidence (tokens in it redacted).
                let head = &buf[..buf.len().min(64 * 1024)];
                transcript.push(TranscriptEvent::ProtocolError {
                    message: message.clone(),
                    line: truncate(&redact_line(&String::from_utf8_lossy(head)), 300),
                });
                *lock(&broken) = Some(message);
                break;
            }
            Err(ReadError::Io(e)) => {
                transcript.push(TranscriptEvent::ProtocolError {
                    message: format!("cannot read the client's stdout: {e}"),
                    line: String::new(),
                });
                break;
            }
        }
        let line = String::from_utf8_lossy(&buf).trim().to_string();
        if line.is_empty() {
            continue;
        }
        let v: Value = match serde_json::from_str(&line) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                junk += 1;
                if junk <= MAX_RECORDED_PROTOCOL_ERRORS {
                    transcript.push(TranscriptEvent::ProtocolError {
                        message: "stdout line is not a JSON object".into(),
                        line: truncate(&redact_line(&line), 300),
                    });
                }
                continue;
            }
        };
        match <FromClient as serde::Deserialize>::deserialize(&v) {
            Ok(FromClient::Hello(h)) => {
                transcript.push(TranscriptEvent::Hello(h.clone()));
                if let Some(tx) = hello_tx.take() {
                    let _ = tx.send(Ok(h));
                }
            }
            Ok(FromClient::Result(answer)) => {
                transcript.push(TranscriptEvent::Result {
                    id: answer.id,
                    ok: answer.ok,
                    body: redact(&v),
                });
                if let Some(tx) = lock(&pending).remove(&answer.id) {
                    let _ = tx.send(answer);
                }
            }
            Ok(FromClient::Browse(b)) => {
                let _ = itx.send(Incoming::Browse {
                    id: b.id,
                    url: b.url,
                    frame: b.frame,
                });
            }
            Ok(FromClient::DeviceCode(d)) => {
                let _ = itx.send(Incoming::DeviceCode {
                    id: d.id,
                    user_code: d.user_code,
                    verification_uri: d.verification_uri,
                });
            }
            Err(e) if v.get("type").and_then(Value::as_str) == Some("hello") => {
                transcript.push(TranscriptEvent::ProtocolError {
                    message: format!("invalid hello: {e}"),
                    line: truncate(&line, 300),
                });
            }
            Err(_) => transcript.push(TranscriptEvent::ProtocolError {
                message: "unknown message (needs a known `type` and, but for hello, an `id`)"
                    .into(),
                line: truncate(&redact_line(&line), 300),
            }),
        }
    }
    if junk > MAX_RECORDED_PROTOCOL_ERRORS {
        transcript.push(TranscriptEvent::ProtocolError {
                message: format!(
                    "{} more stdout lines were not JSON objects (not recorded: only the first {MAX_RECORDED_PROTOCOL_ERRORS} are)",
                    junk - MAX_RECORDED_PROTOCOL_ERRORS
                ),
                line: String::new(),
            });
    }
    if let Some(tx) = hello_tx.take() {
        let _ = tx.send(Err("stdout closed".into()));
    }
    // Nothing can answer any more: every waiting command learns it now, not at its
    // deadline.
    {
        let mut p = lock(&pending);
        closed.store(true, std::sync::atomic::Ordering::SeqCst);
        p.clear();
    }
    let _ = done_tx.send(());
}

/// Signals a process group (the client and everything it started that stayed in its group).
fn kill_group(pgid: Option<i32>, sig: Signal) {
    #[cfg(unix)]
    if let Some(p) = pgid {
        let sig = match sig {
            Signal::Term => nix::sys::signal::Signal::SIGTERM,
            Signal::Kill => nix::sys::signal::Signal::SIGKILL,
        };
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(p), sig);
    }
    #[cfg(not(unix))]
    let _ = (pgid, sig);
}

/// A tag no other client start carries: this process's id, a counter and the clock.
pub(crate) fn process_tag() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{n}-{nanos:08x}", std::process::id())
}

/// Kills every process whose environment carries the tag: what left the client's process
/// group (`setsid`, a daemon's double fork) and kept the environment it was given. Linux only
/// (elsewhere the process group is all there is).
pub(crate) fn kill_tagged(tag: &str) {
    #[cfg(target_os = "linux")]
    {
        let needle = format!("{PROCESS_TAG_VAR}={tag}");
        let me = std::process::id();
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return;
        };
        for e in procs.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
                continue;
            };
            if pid as u32 == me {
                continue;
            }
            let Ok(env) = std::fs::read(e.path().join("environ")) else {
                continue;
            };
            if env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()) {
                tracing::debug!(pid, "killing a process of the client that left its group");
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = tag;
}

/// Reads `r` to its end as lines, each cut to `max_line` bytes (the cut is said, with how much
/// was dropped) and decoded lossily, handing each to `f`, not yet redacted (a flood of lines is
/// read at the pipe's speed; redact what is kept, when it is shown). Never stops early, so the
/// writer never blocks on a full pipe.
pub(crate) async fn bounded_lines<R: tokio::io::AsyncRead + Unpin>(
    r: R,
    max_line: usize,
    mut f: impl FnMut(String),
) {
    let mut r = BufReader::new(r);
    let mut line: Vec<u8> = Vec::new();
    let mut dropped = 0usize;
    let mut emit = |line: &mut Vec<u8>, dropped: &mut usize| {
        let mut text = String::from_utf8_lossy(line)
            .trim_end_matches('\r')
            .to_string();
        if *dropped > 0 {
            text.push_str(&format!("… ({} more bytes not kept)", *dropped));
        }
        f(text);
        line.clear();
        *dropped = 0;
    };
    loop {
        let available = match r.fill_buf().await {
            Ok([]) | Err(_) => break,
            Ok(a) => a,
        };
        let n = available.len();
        let (chunk, end) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (&available[..i], Some(i + 1)),
            None => (available, None),
        };
        let room = max_line.saturating_sub(line.len());
        let keep = chunk.len().min(room);
        line.extend_from_slice(&chunk[..keep]);
        dropped += chunk.len() - keep;
        match end {
            Some(i) => {
                r.consume(i);
                emit(&mut line, &mut dropped);
            }
            None => r.consume(n),
        }
    }
    if !line.is_empty() || dropped > 0 {
        emit(&mut line, &mut dropped);
    }
}

async fn write_line(
    stdin: &tokio::sync::Mutex<Box<dyn AsyncWrite + Send + Unpin>>,
    msg: &ToClient,
) {
    let line = model::protocol::line(msg);
    let mut s = stdin.lock().await;
    // A client that closed stdin will show up as a timeout or an exit.
    let _ = s.write_all(line.as_bytes()).await;
    let _ = s.flush().await;
}

enum ReadError {
    TooLong,
    Io(std::io::Error),
}

/// Reads one line into `buf`; a line past [`MAX_LINE`] is an error (what was read of it stays
/// in `buf`, for evidence).
async fn read_line_limited<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
) -> Result<usize, ReadError> {
    loop {
        let available = r.fill_buf().await.map_err(ReadError::Io)?;
        if available.is_empty() {
            return Ok(buf.len());
        }
        match available.iter().position(|b| *b == b'\n') {
            Some(i) => {
                buf.extend_from_slice(&available[..=i]);
                r.consume(i + 1);
                return Ok(buf.len());
            }
            None => {
                let n = available.len();
                buf.extend_from_slice(available);
                r.consume(n);
                if buf.len() > MAX_LINE {
                    return Err(ReadError::TooLong);
                }
            }
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let t: String = s.chars().take(n).collect();
        format!("{t}…")
    }
}

/// Redacts tokens in a free text line (stderr, protocol errors): every shape a token takes in
/// output ([`model::redact_secrets`]).
pub fn redact_line(line: &str) -> String {
    model::redact_secrets(line)
}

/// Redacts codes and tokens in a URL's query.
fn redact_url(url: &str) -> String {
    let Some((base, q)) = url.split_once(['?', '#']) else {
        return url.to_string();
    };
    let pairs: Vec<String> = form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| {
            if matches!(k.as_ref(), "code" | "access_token" | "id_token") {
                format!("{k}={}", model::Fingerprint::of(&v))
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    model::redact_secrets(&format!("{base}?{}", pairs.join("&")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_redacted() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        let v = json!({"type": "result", "id": 1, "ok": true, "access_token": "opaque-token-value-1234", "nested": [jwt]});
        let r = redact(&v).to_string();
        assert!(!r.contains("opaque-token-value-1234"), "{r}");
        assert!(!r.contains(jwt), "{r}");
        assert!(r.contains("sha256:"));
        let l = redact_line(&format!("got token {jwt}, done"));
        assert!(!l.contains(jwt), "{l}");
        assert!(redact_url("http://localhost/cb?code=SECRET&state=s").contains("code=sha256:"));
    }
}

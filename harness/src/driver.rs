//! The harness's side of the driver protocol (`docs/driver-protocol.md`): starts the client
//! under test in its own process group with the protocol's environment, reads its JSON lines,
//! sends commands and matches answers by id within deadlines, hands `browse` and `device_code`
//! requests to the user agent, keeps the tail of stderr, and kills the whole group at the end.
//!
//! Everything the client says or does is written to the transcript, with tokens redacted.

use model::transcript::{Hello, TranscriptEntry, TranscriptEvent};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{mpsc, oneshot};

/// How many stderr lines are kept for evidence.
const STDERR_TAIL: usize = 40;
/// The longest protocol line accepted (a line past it is a protocol error).
const MAX_LINE: usize = 1024 * 1024;

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
}

/// Where in a browser an authorize URL is loaded (`browse`'s optional `frame`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Frame {
    /// A top-level window: the page itself or a popup (the default).
    #[default]
    Top,
    /// A hidden iframe (MSAL.js's silent `prompt=none`): a third-party context, where a browser
    /// that blocks third-party cookies sends no SSO cookie.
    Iframe,
}

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

/// The transcript being written, with the clock it is written on.
#[derive(Clone)]
pub struct Transcript {
    entries: Arc<Mutex<Vec<TranscriptEntry>>>,
    clock: Arc<dyn Fn() -> u64 + Send + Sync>,
}

impl Transcript {
    /// A transcript on this clock (the mock's µs clock, so times compare with the journal).
    pub fn new(clock: Arc<dyn Fn() -> u64 + Send + Sync>) -> Self {
        Transcript {
            entries: Arc::new(Mutex::new(Vec::new())),
            clock,
        }
    }

    /// Records an event now.
    pub fn push(&self, event: TranscriptEvent) {
        let at_us = (self.clock)();
        lock(&self.entries).push(TranscriptEntry { at_us, event });
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

/// A running client.
pub struct Client {
    child: Child,
    pgid: Option<i32>,
    stdin: Arc<tokio::sync::Mutex<ChildStdin>>,
    pending: Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    transcript: Transcript,
    hello: Option<Hello>,
    stdout_done: Option<oneshot::Receiver<()>>,
    closed: Arc<std::sync::atomic::AtomicBool>,
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
        let mut cmd = Command::new(&launch.program);
        cmd.args(&launch.args)
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        cmd.process_group(0);
        if let Some(d) = &launch.cwd {
            cmd.current_dir(d);
        }
        let mut child = cmd.spawn().map_err(|e| {
            (
                DriverError::Spawn {
                    program: launch.program.clone(),
                    message: e.to_string(),
                },
                None,
            )
        })?;
        let pid = child.id().unwrap_or(0);
        transcript.push(TranscriptEvent::Started { pid, incarnation });
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err((
                DriverError::Spawn {
                    program: launch.program.clone(),
                    message: "no pipes".into(),
                },
                None,
            ));
        };
        let stdin = Arc::new(tokio::sync::Mutex::new(stdin));
        let pending: Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>> = Arc::default();
        let stderr_tail: Arc<Mutex<VecDeque<String>>> = Arc::default();

        // stderr: keep the tail.
        {
            let tail = stderr_tail.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut t = lock(&tail);
                    if t.len() == STDERR_TAIL {
                        t.pop_front();
                    }
                    t.push_back(redact_line(&line));
                }
            });
        }

        // Interactions are served on their own task, so commands can wait meanwhile.
        let (itx, mut irx) = mpsc::unbounded_channel::<Incoming>();
        {
            let stdin = stdin.clone();
            let transcript = transcript.clone();
            tokio::spawn(async move {
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
                                        json!({"type": "browsed", "id": id, "url": end}),
                                        end.clone(),
                                    ),
                                    Err(e) => (
                                        json!({"type": "browsed", "id": id, "error": e}),
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
                                let answer =
                                    agent.device_code(user_code.clone(), verification_uri).await;
                                transcript.push(TranscriptEvent::DeviceCode {
                                    id,
                                    user_code,
                                    answer,
                                });
                            }
                        }
                    });
                }
            });
        }

        // stdout: protocol lines.
        let (hello_tx, hello_rx) = oneshot::channel::<Result<Hello, String>>();
        let (done_tx, done_rx) = oneshot::channel::<()>();
        let closed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        {
            let pending = pending.clone();
            let closed = closed.clone();
            let transcript = transcript.clone();
            tokio::spawn(async move {
                let mut hello_tx = Some(hello_tx);
                let mut reader = BufReader::new(stdout);
                let mut buf = Vec::new();
                loop {
                    buf.clear();
                    match read_line_limited(&mut reader, &mut buf).await {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(e) => {
                            transcript.push(TranscriptEvent::ProtocolError {
                                message: e,
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
                            transcript.push(TranscriptEvent::ProtocolError {
                                message: "stdout line is not a JSON object".into(),
                                line: truncate(&redact_line(&line), 300),
                            });
                            continue;
                        }
                    };
                    let id = v.get("id").and_then(Value::as_u64);
                    match (v.get("type").and_then(Value::as_str), id) {
                        (Some("hello"), _) => match serde_json::from_value::<Hello>(v.clone()) {
                            Ok(h) => {
                                transcript.push(TranscriptEvent::Hello(h.clone()));
                                if let Some(tx) = hello_tx.take() {
                                    let _ = tx.send(Ok(h));
                                }
                            }
                            Err(e) => {
                                transcript.push(TranscriptEvent::ProtocolError {
                                    message: format!("invalid hello: {e}"),
                                    line: truncate(&line, 300),
                                });
                            }
                        },
                        (Some("result"), Some(id)) => {
                            let ok = v.get("ok").and_then(Value::as_bool).unwrap_or(false);
                            transcript.push(TranscriptEvent::Result {
                                id,
                                ok,
                                body: redact(&v),
                            });
                            if let Some(tx) = lock(&pending).remove(&id) {
                                let _ = tx.send(v);
                            }
                        }
                        (Some("browse"), Some(id)) => {
                            let url = v.get("url").and_then(Value::as_str).unwrap_or_default();
                            let frame = match v.get("frame").and_then(Value::as_str) {
                                Some("iframe") => Frame::Iframe,
                                _ => Frame::Top,
                            };
                            let _ = itx.send(Incoming::Browse {
                                id,
                                url: url.to_string(),
                                frame,
                            });
                        }
                        (Some("device_code"), Some(id)) => {
                            let s = |k: &str| {
                                v.get(k)
                                    .and_then(Value::as_str)
                                    .unwrap_or_default()
                                    .to_string()
                            };
                            let _ = itx.send(Incoming::DeviceCode {
                                id,
                                user_code: s("user_code"),
                                verification_uri: s("verification_uri"),
                            });
                        }
                        _ => transcript.push(TranscriptEvent::ProtocolError {
                            message:
                                "unknown message (needs a known `type` and, but for hello, an `id`)"
                                    .into(),
                            line: truncate(&redact_line(&line), 300),
                        }),
                    }
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
            });
        }

        let mut client = Client {
            child,
            pgid: (pid != 0).then_some(pid as i32),
            stdin,
            pending,
            stderr_tail,
            transcript,
            hello: None,
            stdout_done: Some(done_rx),
            closed,
        };
        match tokio::time::timeout(hello_deadline, hello_rx).await {
            Ok(Ok(Ok(h))) => {
                if h.protocol != 1 {
                    return Err((DriverError::Protocol(h.protocol), Some(client)));
                }
                client.hello = Some(h);
                Ok(client)
            }
            _ => Err((DriverError::NoHello(hello_deadline), Some(client))),
        }
    }

    /// The client's hello.
    pub fn hello(&self) -> Option<&Hello> {
        self.hello.as_ref()
    }

    /// The last lines the client wrote to stderr (redacted).
    pub fn stderr_tail(&self) -> Vec<String> {
        lock(&self.stderr_tail).iter().cloned().collect()
    }

    /// Sends a command and waits for its answer.
    pub async fn command(
        &self,
        id: u64,
        op: &str,
        args: Value,
        step: usize,
        deadline: Duration,
    ) -> Result<Value, DriverError> {
        let (tx, rx) = oneshot::channel();
        {
            let mut p = lock(&self.pending);
            if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(DriverError::Exited {
                    id,
                    op: op.to_string(),
                });
            }
            p.insert(id, tx);
        }
        let mut msg = json!({"type": "command", "id": id, "op": op});
        if let (Value::Object(m), Value::Object(a)) = (&mut msg, &args) {
            for (k, v) in a {
                m.insert(k.clone(), v.clone());
            }
        }
        self.transcript.push(TranscriptEvent::Command {
            id,
            op: op.to_string(),
            args: redact(&args),
            step,
            deadline_ms: deadline.as_millis() as u64,
        });
        write_line(&self.stdin, &msg).await;
        match tokio::time::timeout(deadline, rx).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(DriverError::Exited {
                id,
                op: op.to_string(),
            }),
            Err(_) => {
                lock(&self.pending).remove(&id);
                self.transcript.push(TranscriptEvent::Timeout {
                    id,
                    deadline_ms: deadline.as_millis() as u64,
                });
                Err(DriverError::Timeout {
                    id,
                    op: op.to_string(),
                    deadline,
                })
            }
        }
    }

    /// Asks the client to shut down (it should persist and exit 0), waits up to `grace`, then
    /// kills its process group. Records the exit.
    pub async fn shutdown(mut self, id: u64, grace: Duration) -> Option<i32> {
        let _ = tokio::time::timeout(
            grace,
            self.command(id, "shutdown", json!({}), usize::MAX, grace),
        )
        .await;
        let status = tokio::time::timeout(grace, self.child.wait()).await;
        let code = match status {
            Ok(Ok(s)) => s.code(),
            _ => None,
        };
        self.finish(true, code).await;
        code
    }

    /// Kills the client's whole process group now and records the exit.
    pub async fn kill(mut self, expected: bool) {
        self.finish(expected, None).await;
    }

    /// Waits for the client to exit by itself (for tests of crashing clients).
    pub async fn wait_exit(&mut self, within: Duration) -> Option<Option<i32>> {
        match tokio::time::timeout(within, self.child.wait()).await {
            Ok(Ok(s)) => Some(s.code()),
            _ => None,
        }
    }

    async fn finish(&mut self, expected: bool, code: Option<i32>) {
        kill_group(self.pgid);
        let _ = self.child.kill().await;
        let code = code.or_else(|| self.child.try_wait().ok().flatten().and_then(|s| s.code()));
        // Let the stderr reader drain what the process wrote last.
        if let Some(done) = self.stdout_done.take() {
            let _ = tokio::time::timeout(Duration::from_millis(500), done).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.transcript.push(TranscriptEvent::Exited {
            code,
            expected,
            stderr_tail: self.stderr_tail(),
        });
    }

    /// The client's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        kill_group(self.pgid);
    }
}

/// Kills a process group (the client and everything it started).
fn kill_group(pgid: Option<i32>) {
    #[cfg(unix)]
    if let Some(p) = pgid {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    #[cfg(not(unix))]
    let _ = pgid;
}

async fn write_line(stdin: &tokio::sync::Mutex<ChildStdin>, msg: &Value) {
    let mut line = msg.to_string();
    line.push('\n');
    let mut s = stdin.lock().await;
    // A client that closed stdin will show up as a timeout or an exit.
    let _ = s.write_all(line.as_bytes()).await;
    let _ = s.flush().await;
}

async fn read_line_limited<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
) -> Result<usize, String> {
    loop {
        let available = r.fill_buf().await.map_err(|e| e.to_string())?;
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
                    return Err(format!("a stdout line longer than {MAX_LINE} bytes"));
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

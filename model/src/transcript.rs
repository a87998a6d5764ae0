//! The transcript: what the harness and the client under test said to each other (driver
//! protocol, `docs/driver-protocol.md`), and what happened to the client process. Rules read
//! it beside the journal; times are on the same clock as the journal's (µs from the mock's
//! start), so the two can be compared directly.

use serde::{Deserialize, Serialize};

/// One thing that happened between the harness and the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptEntry {
    /// Microseconds from the mock's start.
    pub at_us: u64,
    /// What happened.
    #[serde(flatten)]
    pub event: TranscriptEvent,
}

/// The events of a transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TranscriptEvent {
    /// The client process started.
    Started {
        /// Its process id.
        pid: u32,
        /// Which start this is (1 = first, 2 = after the first restart, ...).
        incarnation: u32,
    },
    /// The client said hello.
    Hello(Hello),
    /// The harness sent a command.
    Command {
        /// The command id.
        id: u64,
        /// `acquire_token`, `call_api`, `whoami` or `shutdown`.
        op: String,
        /// The command's arguments (scopes, method, url), as sent.
        #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
        args: serde_json::Value,
        /// The step (index in the scenario) it belongs to.
        step: usize,
        /// Its deadline in milliseconds.
        deadline_ms: u64,
    },
    /// The client answered a command. Tokens in the answer are replaced by fingerprints.
    Result {
        /// The command id.
        id: u64,
        /// Whether the operation succeeded.
        ok: bool,
        /// The answer, redacted.
        body: serde_json::Value,
    },
    /// The client asked the harness to browse (interactive or `prompt=none` sign-in).
    Browse {
        /// The command it serves.
        id: u64,
        /// The URL (query kept: it names prompt, scopes and claims, never a secret).
        url: String,
        /// Where the browser ended, or the error.
        outcome: String,
    },
    /// The client showed a device code.
    DeviceCode {
        /// The command it serves.
        id: u64,
        /// The user code.
        user_code: String,
        /// What the user did: `approve`, `deny` or `ignore`.
        answer: String,
    },
    /// A command got no answer within its deadline.
    Timeout {
        /// The command id.
        id: u64,
        /// The deadline in milliseconds.
        deadline_ms: u64,
    },
    /// The client wrote something that is not a protocol line.
    ProtocolError {
        /// What was wrong.
        message: String,
        /// The offending line (truncated, redacted).
        line: String,
    },
    /// The harness fired a scenario event (a `fire` step).
    Fired {
        /// The event's name.
        name: String,
    },
    /// The harness cleared the browser's SSO cookie.
    ClearedSso,
    /// The harness signalled the client's process group because the client had not exited
    /// by itself in time (after `shutdown`, or to end a command that timed out).
    Signalled {
        /// The signal's name (`SIGTERM`, `SIGKILL`).
        signal: String,
    },
    /// The client process ended.
    Exited {
        /// The exit code (`None`: ended by a signal).
        code: Option<i32>,
        /// The signal that ended it, if one did (whoever sent it: a `Signalled` event before
        /// this one says the harness did). Absent in transcripts written before it was
        /// recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<i32>,
        /// Whether the harness had asked it to stop (shutdown or restart).
        expected: bool,
        /// The last lines of its stderr.
        stderr_tail: Vec<String>,
    },
}

/// The client's hello.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Hello {
    /// Protocol version (1).
    pub protocol: u32,
    /// The client's name.
    pub client: String,
    /// Its version.
    #[serde(default)]
    pub version: String,
    /// Flows it supports.
    #[serde(default)]
    pub flows: Vec<String>,
    /// Features it supports.
    #[serde(default)]
    pub features: Vec<String>,
}

//! How a scenario run ended, and what the client left behind: what judging needs besides the
//! journal and the transcript.

use crate::Fingerprint;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Why a scenario could not be judged, or was not applicable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// The steps ran to the end.
    Completed,
    /// The client lacks a flow or feature the scenario needs.
    NotApplicable {
        /// What it lacks.
        reason: String,
    },
    /// The client could not be driven: it crashed, hung, or never said hello.
    ClientFailed {
        /// What went wrong.
        reason: String,
        /// The last lines of its stderr (tokens redacted).
        stderr_tail: Vec<String>,
    },
    /// The run cannot be judged for a reason that is tokenstorm's, not the client's: the
    /// journal is missing entries (its cap on disk was reached, or the disk refused a write).
    Unjudgeable {
        /// What is missing, and why.
        reason: String,
    },
}

/// A file the client left in its state directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateFile {
    /// Path relative to the state directory (a symbolic link: `link -> target`).
    pub path: String,
    /// Unix mode bits (of the target, for a symbolic link).
    pub mode: u32,
    /// Its size.
    pub len: u64,
    /// Which issued tokens (by fingerprint) can be read out of it without a key.
    pub plaintext_tokens: Vec<Fingerprint>,
    /// Whether it may hold a secret: an issued token, or content that isn't plain text (an
    /// encrypted blob). A lock file or a plain-text log without tokens holds none, and its
    /// mode is not judged.
    #[serde(default = "yes")]
    pub may_hold_secret: bool,
}

fn yes() -> bool {
    true
}

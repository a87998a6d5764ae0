//! The shared vocabulary of tokenstorm.
//!
//! Every other crate speaks through these types and never through each other's internals:
//! the mock identity provider writes [`journal::JournalEntry`] values, the harness and its rules
//! read them, and clients find the mock through the [`ready::ReadyFile`].
//!
//! **Invariant:** nothing in this crate holds a full token. Tokens are referred to by their
//! [`fingerprint::Fingerprint`], which can be compared but not used.

pub mod clock;
pub mod directory;
pub mod driver;
pub mod endpoint;
pub mod exit;
pub mod fingerprint;
pub mod journal;
pub mod outcome;
pub mod protocol;
pub mod ready;
pub mod rules;
pub mod scenario;
pub mod scope;
pub mod transcript;
pub mod verdict;
pub mod yaml;

pub use endpoint::Endpoint;
pub use fingerprint::{redact, redact_secrets, Fingerprint};
pub use journal::{
    Completion, FiredEvent, GrantType, IssuedToken, JournalEntry, PresentedToken, TokenKind,
};
pub use outcome::{Outcome, StateFile};
pub use ready::ReadyFile;

//! Errors of the reference client.

/// Why a token or an API call could not be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The endpoint asked us to wait (Retry-After) or we are backing off, and no cached token
    /// is still valid.
    #[error("throttled or backing off for {0:?} more; no valid cached token")]
    Waiting(std::time::Duration),
    /// The identity provider refused the request (4xx).
    #[error("the identity provider refused: {error}: {description}")]
    Refused {
        /// OAuth error code.
        error: String,
        /// Its description.
        description: String,
    },
    /// A transient failure (5xx, time-out, reset, malformed answer).
    #[error("transient failure: {0}")]
    Transient(String),
    /// Configuration or local I/O.
    #[error("{0}")]
    Local(String),
}

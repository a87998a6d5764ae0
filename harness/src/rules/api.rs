//! `api.*`: the resource API's throttling and failures.

use super::{Finding, Input};

/// `api.retry-after`: after a 429 or 5xx from the API, nothing before Retry-After; without it,
/// no fast retry loop (MUST) and the 5 s exponential back-off (SHOULD)
/// ([`super::retry::retry_after`]).
pub fn retry_after(input: &Input<'_>) -> Finding {
    super::retry::retry_after(input, true)
}

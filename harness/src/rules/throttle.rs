//! `throttle.*`: the identity provider's Retry-After.

use super::{Finding, Input};

/// `throttle.retry-after`: after a 429 or 5xx with Retry-After from the identity provider,
/// nothing to the same place before it elapses ([`super::retry::retry_after`]).
pub fn retry_after(input: &Input<'_>) -> Finding {
    super::retry::retry_after(input, false)
}

//! The token cache: entries keyed by account and scopes, the whole cache tagged with the
//! authority and client it belongs to (a cache of another is never served), each entry with
//! its expiry and the time from which it should be renewed.
//!
//! Invariants (checked by property tests): a lookup never returns an expired token, nor a
//! token stored for other scopes or another account.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Milliseconds since the Unix epoch (wall clock: cache entries survive restarts), on tokio's
/// clock, so on a paused clock tokens expire in virtual time ([`model::clock`]).
pub fn now_ms() -> u64 {
    model::clock::unix_now_ms()
}

/// The renewal window: renew in the last 300 s of a token's life.
pub const RENEWAL_WINDOW_MS: u64 = 300_000;

/// A cached access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The token (never logged).
    pub access_token: String,
    /// When it expires (ms since the epoch).
    pub expires_at_ms: u64,
    /// From when to renew it: `refresh_in` elapsed, or the last 300 s, whichever is first.
    pub renew_at_ms: u64,
    /// When it was received.
    #[serde(default)]
    pub received_at_ms: u64,
}

impl Entry {
    /// An entry for a token received at `now` that lives `expires_in` s, with an optional
    /// `refresh_in`.
    pub fn new(access_token: String, now: u64, expires_in: u64, refresh_in: Option<u64>) -> Self {
        let expires_at_ms = now + expires_in * 1000;
        let by_window = expires_at_ms.saturating_sub(RENEWAL_WINDOW_MS).max(now);
        let renew_at_ms = refresh_in.map_or(by_window, |r| by_window.min(now + r * 1000));
        Entry {
            access_token,
            expires_at_ms,
            renew_at_ms,
            received_at_ms: now,
        }
    }

    /// Fresh: serve it without asking.
    pub fn fresh(&self, now: u64) -> bool {
        now < self.renew_at_ms
    }

    /// Still valid: serve it when renewal is not possible.
    pub fn valid(&self, now: u64) -> bool {
        now < self.expires_at_ms
    }
}

/// The key of a set of scopes (order and repeats do not matter).
pub fn key(scopes: &[String]) -> String {
    let mut v: Vec<&str> = scopes.iter().map(String::as_str).collect();
    v.sort_unstable();
    v.dedup();
    v.join(" ")
}

/// The entry key of an account's (or the app's, `None`) token for a set of scopes.
pub fn entry_key(account: Option<&str>, scopes: &[String]) -> String {
    // U+001F cannot appear in an account id or a scope, so keys cannot collide.
    format!("{}\u{1f}{}", account.unwrap_or(""), key(scopes))
}

/// Tokens by account and scopes, and the signed-in account (user flows).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cache {
    /// The authority the tokens came from.
    #[serde(default)]
    pub authority: String,
    /// The client they were issued to.
    #[serde(default)]
    pub client_id: String,
    /// The entries, by [`entry_key`].
    pub entries: HashMap<String, Entry>,
    /// The refresh token of the signed-in user (never logged).
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// The ID token's claims of the last sign-in.
    #[serde(default)]
    pub id_claims: Option<serde_json::Value>,
    /// Group ids resolved through Graph after an overage, for the sign-in they belong to.
    #[serde(default)]
    pub overage_groups: Option<Vec<String>>,
}

impl Cache {
    /// An empty cache for an authority and client.
    pub fn for_client(authority: &str, client_id: &str) -> Cache {
        Cache {
            authority: authority.to_string(),
            client_id: client_id.to_string(),
            ..Cache::default()
        }
    }

    /// The signed-in account (`oid.tid` of the last ID token), if any.
    pub fn account(&self) -> Option<String> {
        let c = self.id_claims.as_ref()?;
        let oid = c.get("oid").and_then(|v| v.as_str())?;
        let tid = c.get("tid").and_then(|v| v.as_str()).unwrap_or("");
        Some(format!("{oid}.{tid}"))
    }

    /// A token to serve without asking: stored for exactly this account and scopes, and not
    /// yet due for renewal.
    pub fn fresh(&self, account: Option<&str>, scopes: &[String], now: u64) -> Option<&Entry> {
        self.entries
            .get(&entry_key(account, scopes))
            .filter(|e| e.fresh(now))
    }

    /// A token still valid (though maybe due for renewal), for exactly this account and scopes.
    pub fn valid(&self, account: Option<&str>, scopes: &[String], now: u64) -> Option<&Entry> {
        self.entries
            .get(&entry_key(account, scopes))
            .filter(|e| e.valid(now))
    }

    /// Stores a token for an account and scopes (replacing the previous one).
    pub fn insert(&mut self, account: Option<&str>, scopes: &[String], e: Entry) {
        self.entries.insert(entry_key(account, scopes), e);
    }

    /// Drops expired entries.
    pub fn prune(&mut self, now: u64) {
        self.entries.retain(|_, e| e.valid(now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_is_the_earlier_of_refresh_in_and_the_window() {
        let e = Entry::new("t".into(), 0, 3600, None);
        assert_eq!(e.renew_at_ms, 3_300_000);
        let e = Entry::new("t".into(), 0, 3600, Some(60));
        assert_eq!(e.renew_at_ms, 60_000);
        let e = Entry::new("t".into(), 0, 305, None);
        assert_eq!(e.renew_at_ms, 5_000);
        let e = Entry::new("t".into(), 1000, 100, None);
        assert_eq!(e.renew_at_ms, 1000, "a short token is always due");
        assert!(e.valid(1000) && !e.fresh(1000));
    }

    #[test]
    fn keys_ignore_order() {
        assert_eq!(
            key(&["b".into(), "a".into()]),
            key(&["a".into(), "b".into(), "a".into()])
        );
    }
}

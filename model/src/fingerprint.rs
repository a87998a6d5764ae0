//! Token fingerprints: how journals, reports and logs refer to a token without holding it.

use aws_lc_rs::digest::{digest, SHA256};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A short, stable, one-way identifier of a token (`sha256:` and the first 16 hex digits of the
/// SHA-256 of the token's bytes). Two fingerprints are equal when the tokens are (barring a
/// 64-bit collision); a fingerprint cannot be used as a credential.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The fingerprint of `token`.
    pub fn of(token: &str) -> Self {
        let d = digest(&SHA256, token.as_bytes());
        let mut s = String::with_capacity(23);
        s.push_str("sha256:");
        for b in &d.as_ref()[..8] {
            s.push_str(&format!("{b:02x}"));
        }
        Fingerprint(s)
    }

    /// The fingerprint with these 16 hex digits, as read back from a transcript or report.
    pub fn from_hex(hex: &str) -> Self {
        Fingerprint(format!("sha256:{}", hex.to_ascii_lowercase()))
    }

    /// The fingerprint as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A token made safe to print: its first 6 characters, an ellipsis and its fingerprint.
/// Short strings (under 12 characters) are shown as their fingerprint only.
pub fn redact(token: &str) -> String {
    let fp = Fingerprint::of(token);
    if token.len() < 12 {
        return fp.0;
    }
    let head: String = token.chars().take(6).collect();
    format!("{head}…({fp})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_stable_and_short() {
        let a = Fingerprint::of("eyJhbGciOi.payload.sig");
        assert_eq!(a, Fingerprint::of("eyJhbGciOi.payload.sig"));
        assert_ne!(a, Fingerprint::of("eyJhbGciOi.payload.sih"));
        assert_eq!(a.as_str().len(), "sha256:".len() + 16);
        // SHA-256("abc") starts with ba7816bf8f01cfea.
        assert_eq!(Fingerprint::of("abc").as_str(), "sha256:ba7816bf8f01cfea");
    }

    #[test]
    fn redact_never_contains_the_token() {
        let token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
        let r = redact(token);
        assert!(!r.contains(token));
        assert!(r.starts_with("eyJ0eX"));
        assert!(!redact("short").contains("short"));
    }
}

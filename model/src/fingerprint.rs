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

/// Names whose values are secrets wherever they appear: `"access_token":"…"`,
/// `refresh_token=…`, `Authorization: Bearer …`, `client_secret: …`.
const SECRET_KEYS: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "client_assertion",
    "assertion",
    "device_code",
    "code",
    "token",
    "password",
    "secret",
    "bearer",
];

fn token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '~' | '+' | '/' | '%')
}

fn jwt_shaped(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() >= 3
        && s.starts_with("eyJ")
        && parts[..3].iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Whether the text just before a value names a secret (`"refresh_token": "`, `code=`,
/// `Bearer `).
fn after_secret_key(before: &str) -> bool {
    let t = before.trim_end_matches([' ', '"', '\'', ':', '=', '\\']);
    let lower: String = t
        .chars()
        .rev()
        .take(24)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<String>()
        .to_ascii_lowercase();
    SECRET_KEYS.iter().any(|k| {
        lower.ends_with(k)
            && !lower[..lower.len() - k.len()]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

/// A free text (a client's stderr, a log line, a URL) with every token in it redacted
/// ([`redact`]): JWT-shaped words, values under a secret's name in JSON, `key=value`, URL
/// queries and fragments and `Authorization` headers (refresh tokens, codes and opaque tokens
/// aren't JWTs), and any run of the token alphabet of 64 characters or more that is no path.
pub fn redact_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(token_char) {
        let (before, tail) = rest.split_at(start);
        out.push_str(before);
        let mut end = tail.find(|c: char| !token_char(c)).unwrap_or(tail.len());
        // Base64 padding belongs to the run; an '=' between a name and a value does not.
        let pad = tail[end..].len() - tail[end..].trim_start_matches('=').len();
        if pad > 0 && !tail[end + pad..].starts_with(token_char) {
            end += pad;
        }
        let (run, after) = tail.split_at(end);
        // A value's own alphabet: a JWT or token stops at '&' (not in the run) and at quotes.
        let core = run.trim_end_matches(['.', '=']);
        let secret = jwt_shaped(core)
            // A long run is an opaque token, unless it is a path.
            || (core.len() >= 64 && !core.contains('/'))
            || (core.len() >= 8 && after_secret_key(&out));
        if secret {
            out.push_str(&redact(core));
            out.push_str(&run[core.len()..]);
        } else {
            out.push_str(run);
        }
        rest = after;
    }
    out.push_str(rest);
    out
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

    #[test]
    fn secrets_are_redacted_in_every_shape() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
        let rt = "0.AXoA1234refreshTOKENvalue-_abc";
        let code = "M.C507_BAY.2.U.codeValue123";
        let lines = [
            format!(r#"{{"access_token":"{jwt}","refresh_token":"{rt}"}}"#),
            format!(r#"{{"access_token": "{jwt}", "refresh_token": "{rt}"}}"#),
            format!("token={jwt} refresh_token={rt}"),
            format!("GET /cb?code={code}&state=x#access_token={jwt}"),
            format!("Authorization: Bearer {rt}"),
            format!("{{'refresh_token': '{rt}'}}"),
            format!("plain {jwt}, and {}", "A".repeat(80)),
        ];
        for l in &lines {
            let r = redact_secrets(l);
            for secret in [jwt, rt, code] {
                assert!(!r.contains(secret), "{secret} left in {r}");
            }
            assert!(!r.contains(&"A".repeat(80)), "{r}");
            assert!(r.contains("sha256:"), "{r}");
        }
        // Ordinary text is left alone.
        let plain = "HTTP 503 at 12.5 s: status code 503, retry in 5 s (state=abc)";
        assert_eq!(redact_secrets(plain), plain);
        let url = "https://127.0.0.1:41231/refresh-renewal-outage-event-a1b2c3/oauth2/v2.0/authorize?prompt=none";
        assert_eq!(redact_secrets(url), url);
    }
}

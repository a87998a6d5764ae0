//! Strict OAuth parameter parsing: form bodies and query strings, with Entra's errors for a
//! wrong content type, an oversized body, a duplicated parameter or invalid UTF-8.

use crate::error::OAuthError;
use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use std::collections::HashMap;

/// The largest request body the mock reads (Entra refuses far smaller ones for the token
/// endpoint; 1 MiB leaves room for bloated `claims` and assertions).
pub const MAX_BODY: usize = 1024 * 1024;

/// Parsed parameters: each name at most once.
#[derive(Debug, Default, Clone)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// Parses `application/x-www-form-urlencoded` text, refusing duplicates (AADSTS9000411).
    pub fn parse(raw: &[u8]) -> Result<Self, OAuthError> {
        let mut map = HashMap::new();
        for (k, v) in form_urlencoded::parse(raw) {
            if k.is_empty() {
                continue;
            }
            if map.insert(k.to_string(), v.into_owned()).is_some() {
                return Err(OAuthError::invalid_request(
                    9000411,
                    format!(
                        "The request is not properly formatted. The parameter '{k}' is duplicated."
                    ),
                ));
            }
        }
        Ok(Params(map))
    }

    /// Merges query parameters into body parameters (the body wins; msal-node puts
    /// `client-request-id` in the token URL's query).
    pub fn merge_query(&mut self, query: Option<&str>) -> Result<(), OAuthError> {
        if let Some(q) = query {
            let qp = Params::parse(q.as_bytes())?;
            for (k, v) in qp.0 {
                self.0.entry(k).or_insert(v);
            }
        }
        Ok(())
    }

    /// A parameter, if present and non-empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// A required parameter (AADSTS900144 when missing).
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| OAuthError::missing(name))
    }

    /// Inserts a value (tests and the admin API).
    pub fn insert(&mut self, k: &str, v: &str) {
        self.0.insert(k.to_string(), v.to_string());
    }
}

/// Reads a form body: checks the content type and the size limit.
pub async fn read_form(headers: &HeaderMap, body: Body) -> Result<Params, OAuthError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request(
            900144,
            format!(
                "The request body must contain the following parameter: 'grant_type'. \
                 (Content-Type must be application/x-www-form-urlencoded; got '{}'.)",
                if ct.is_empty() { "none" } else { ct }
            ),
        ));
    }
    let bytes = read_body(body).await?;
    Params::parse(&bytes)
}

/// Reads a body up to [`MAX_BODY`] (413 with Entra's JSON beyond it).
pub async fn read_body(body: Body) -> Result<bytes::Bytes, OAuthError> {
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        OAuthError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            90056,
            format!("The request body is malformed or larger than {MAX_BODY} bytes."),
        )
    })
}

/// Splits a decoded `scope` parameter on spaces into scopes.
pub fn scopes(s: Option<&str>) -> Vec<String> {
    s.unwrap_or("")
        .split(' ')
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// Client ids an app may be registered under on first use: 1–100 characters of letters,
/// digits, `-`, `.` and `_` (Entra's are GUIDs; other providers' are not).
pub fn plausible_client_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 100
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// Tenant segments: 1–100 characters of letters, digits, `.`, `-` and `_`, not `.` or `..`.
pub fn valid_tenant(t: &str) -> bool {
    !t.is_empty()
        && t != "."
        && t != ".."
        && t.len() <= 100
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_refused() {
        let e = Params::parse(b"a=1&scope=x&scope=y").expect_err("duplicate");
        assert_eq!(e.code, 9000411);
        assert!(e.message.contains("'scope'"));
    }

    #[test]
    fn body_wins_over_query() {
        let mut p = Params::parse(b"client_id=a").expect("ok");
        p.merge_query(Some("client_id=b&client-request-id=r"))
            .expect("ok");
        assert_eq!(p.get("client_id"), Some("a"));
        assert_eq!(p.get("client-request-id"), Some("r"));
        assert_eq!(p.get("missing"), None);
    }

    #[test]
    fn scopes_split_on_spaces() {
        assert_eq!(scopes(Some(" a  b ")), vec!["a", "b"]);
        assert!(scopes(None).is_empty());
    }
}

//! The shape every error answer must have, by the surface that answered: Entra's OAuth error
//! (`error`, `error_codes`, an `AADSTS` description), Graph's (`error.code`), or the admin
//! API's (`error`). Shared by the property test and the fuzz job (`benches/fuzz.rs`).
#![allow(dead_code)]

use serde_json::Value;

/// Which surface a path belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// Entra's endpoints (and the fallbacks): the OAuth error shape.
    Entra,
    /// `/graph/...` and UserInfo: Graph's shape.
    Graph,
    /// `/_tokenstorm/...`: the admin API's shape.
    Admin,
}

impl Surface {
    pub fn of(path: &str) -> Surface {
        if path.starts_with("/graph/") || path.starts_with("/oidc/userinfo") {
            Surface::Graph
        } else if path.starts_with("/_tokenstorm/") {
            Surface::Admin
        } else {
            Surface::Entra
        }
    }
}

/// An answer's `Content-Type` (empty when it has none).
pub fn content_type(headers: &axum::http::HeaderMap) -> String {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// `Ok` when the answer is no 5xx and, for an error, JSON in the surface's shape; else why not.
pub fn check(
    surface: Surface,
    head: bool,
    status: u16,
    ct: &str,
    body: &[u8],
) -> Result<(), String> {
    if status >= 500 {
        return Err(format!(
            "unscripted {status}: {}",
            String::from_utf8_lossy(body)
        ));
    }
    if status < 400 || head {
        return Ok(());
    }
    if !ct.starts_with("application/json") {
        return Err(format!("{status} with content-type {ct:?}"));
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| format!("{status} with a body that is not JSON: {e}"))?;
    let ok = match surface {
        Surface::Graph => v["error"]["code"].is_string(),
        Surface::Admin => v["error"].is_string(),
        Surface::Entra => {
            v["error"].is_string()
                && v["error_codes"].as_array().is_some_and(|a| !a.is_empty())
                && v["error_description"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("AADSTS"))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{status} not in {surface:?}'s error shape: {v}"))
    }
}

//! Errors: [`OAuthError`] is both an error and an HTTP response carrying Entra's JSON error
//! shape; [`GraphError`] is the same for the mock Graph's shape; [`StartError`] is what can go
//! wrong starting the server.
//!
//! Injected faults are scenario data, never errors: these types are for requests the mock
//! refuses on their merits (a wrong secret, a reused code, a malformed body).

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

tokio::task_local! {
    /// The correlation id of the request being served (the client's `client-request-id`, or a
    /// fresh one), set by the journal layer so every error body can echo it.
    pub static CORRELATION_ID: String;
}

/// What the journal layer learns about an error response (stored in response extensions).
#[derive(Debug, Clone)]
pub struct ErrorSummary {
    /// The OAuth `error` or Graph error code.
    pub error: String,
    /// AADSTS codes.
    pub codes: Vec<u32>,
}

/// The current request's correlation id, or a fresh one outside a request.
pub fn correlation_id() -> String {
    CORRELATION_ID
        .try_with(|c| c.clone())
        .unwrap_or_else(|_| uuid::Uuid::new_v4().to_string())
}

/// Entra's error timestamp format: `2026-11-24 14:47:20Z`.
pub fn entra_timestamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
    now.format(&fmt).unwrap_or_default()
}

/// A message without a leading `AADSTSnnnn: ` (the mock adds the prefix from the code, so a
/// scenario's description that repeats it would show it twice).
pub fn strip_aadsts_prefix(d: &str) -> &str {
    match d
        .strip_prefix("AADSTS")
        .and_then(|rest| rest.split_once(": "))
    {
        Some((digits, tail))
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            tail
        }
        _ => d,
    }
}

/// An OAuth/OIDC error in Entra's shape:
/// `{"error","error_description":"AADSTSnnnn: ... Trace ID: ... Correlation ID: ... Timestamp: ...",
///   "error_codes":[nnnn],"timestamp","trace_id","correlation_id","error_uri"[,"suberror","claims"]}`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{status} {error} AADSTS{code}: {message}")]
pub struct OAuthError {
    /// HTTP status.
    pub status: StatusCode,
    /// The OAuth error code (`invalid_grant`, ...).
    pub error: &'static str,
    /// The AADSTS number.
    pub code: u32,
    /// The human message (without the AADSTS prefix).
    pub message: String,
    /// Entra's `suberror` (e.g. `basic_action`).
    pub suberror: Option<String>,
    /// A claims challenge for the client to send back.
    pub claims: Option<String>,
    /// Extra headers (e.g. `Retry-After`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl OAuthError {
    /// A new error.
    pub fn new(
        status: StatusCode,
        error: &'static str,
        code: u32,
        message: impl Into<String>,
    ) -> Self {
        OAuthError {
            status,
            error,
            code,
            message: message.into(),
            suberror: None,
            claims: None,
            headers: Vec::new(),
        }
    }

    /// 400 `invalid_request`.
    pub fn invalid_request(code: u32, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", code, message)
    }

    /// 400 `invalid_request` for a missing parameter (AADSTS900144).
    pub fn missing(param: &str) -> Self {
        Self::invalid_request(
            900144,
            format!("The request body must contain the following parameter: '{param}'."),
        )
    }

    /// 400 `invalid_grant`.
    pub fn invalid_grant(code: u32, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", code, message)
    }

    /// 401 `invalid_client`.
    pub fn invalid_client(code: u32, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", code, message)
    }

    /// 400 `invalid_scope`.
    pub fn invalid_scope(code: u32, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", code, message)
    }

    /// 400 `unauthorized_client` for an unknown application (AADSTS700016).
    pub fn unknown_client(client_id: &str, tenant: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. \
                 This can happen if the application has not been installed by the administrator of the tenant."
            ),
        )
    }

    /// Sets the suberror.
    pub fn with_suberror(mut self, s: impl Into<String>) -> Self {
        self.suberror = Some(s.into());
        self
    }

    /// Sets the claims challenge.
    pub fn with_claims(mut self, c: impl Into<String>) -> Self {
        self.claims = Some(c.into());
        self
    }

    /// The JSON body Entra would send.
    pub fn body(&self) -> serde_json::Value {
        let trace_id = uuid::Uuid::new_v4().to_string();
        let correlation_id = correlation_id();
        let ts = entra_timestamp();
        let mut body = json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {} Trace ID: {} Correlation ID: {} Timestamp: {}",
                self.code, self.message, trace_id, correlation_id, ts
            ),
            "error_codes": [self.code],
            "timestamp": ts,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        });
        if let Some(s) = &self.suberror {
            body["suberror"] = json!(s);
        }
        if let Some(c) = &self.claims {
            body["claims"] = json!(c);
        }
        body
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = self.body();
        let mut resp = (self.status, json_body(&body)).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store, no-cache"),
        );
        for (k, v) in self.headers {
            h.insert(k, v);
        }
        resp.extensions_mut().insert(ErrorSummary {
            error: self.error.to_string(),
            codes: vec![self.code],
        });
        resp
    }
}

/// A mock Graph error: `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct GraphError {
    /// HTTP status.
    pub status: StatusCode,
    /// Graph's error code (`InvalidAuthenticationToken`, ...).
    pub code: &'static str,
    /// The message.
    pub message: String,
    /// `WWW-Authenticate` to send (401s).
    pub www_authenticate: Option<String>,
}

impl GraphError {
    /// A new Graph error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        GraphError {
            status,
            code,
            message: message.into(),
            www_authenticate: None,
        }
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let ts = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let body = json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {
                    "date": ts,
                    "request-id": uuid::Uuid::new_v4().to_string(),
                    "client-request-id": correlation_id(),
                }
            }
        });
        let mut resp = (self.status, json_body(&body)).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if let Some(w) = &self.www_authenticate {
            if let Ok(v) = HeaderValue::from_str(w) {
                h.insert(header::WWW_AUTHENTICATE, v);
            }
        }
        resp.extensions_mut().insert(ErrorSummary {
            error: self.code.to_string(),
            codes: Vec::new(),
        });
        resp
    }
}

fn json_body(v: &serde_json::Value) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "{}".to_string())
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Binding the address failed.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// A non-loopback address without `allow_remote`.
    #[error("refusing to bind non-loopback address {0} without --allow-remote")]
    NotLoopback(std::net::SocketAddr),
    /// Impersonation asked for without TLS.
    #[error("impersonating Entra needs TLS: drop --no-tls")]
    ImpersonationNeedsTls,
    /// Generating keys or certificates failed.
    #[error("cannot generate {what}: {message}")]
    Crypto {
        /// What was being generated.
        what: &'static str,
        /// The cause.
        message: String,
    },
    /// Writing the CA or ready file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The path.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

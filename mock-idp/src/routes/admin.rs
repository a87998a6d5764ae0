//! The admin API under `/_tokenstorm`, guarded by the per-run bearer token of the ready file:
//! read the journal, configure tenants, and fire events (revocations, key rotation).

use super::bearer;
use crate::config::TenantConfig;
use crate::params::read_body;
use crate::state::{lock, unix_now, Idp};
use axum::body::Body;
use axum::extract::{OriginalUri, RawQuery, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use std::sync::Arc;

/// The admin routes, nested under `/_tokenstorm`.
pub fn router(idp: Arc<Idp>) -> Router<Arc<Idp>> {
    Router::new()
        .route("/health", get(health))
        .route("/journal", get(journal))
        .route("/journal.jsonl", get(journal_jsonl))
        .route("/tenants", get(tenants))
        .route("/tenants/{tenant}/config", get(get_config).put(put_config))
        .route("/tenants/{tenant}/events/{event}", post(event))
        .fallback(|| async {
            admin_error(
                StatusCode::NOT_FOUND,
                "not_found",
                "No such admin endpoint.",
            )
        })
        .layer(middleware::from_fn_with_state(idp, guard))
}

fn admin_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

async fn guard(State(idp): State<Arc<Idp>>, req: Request, next: Next) -> Response {
    match bearer(req.headers()) {
        Some(t) if super::token::constant_time_eq(t.as_bytes(), idp.admin_token.as_bytes()) => {
            next.run(req).await
        }
        _ => {
            let mut r = admin_error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "The admin API needs 'Authorization: Bearer <admin_token>' from the ready file.",
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"tokenstorm-admin\""),
            );
            r
        }
    }
}

async fn health() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

fn journal_query(q: Option<&str>) -> (Option<String>, usize) {
    let mut tenant = None;
    let mut since = 0;
    for (k, v) in form_urlencoded::parse(q.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "tenant" => tenant = Some(v.into_owned()),
            "since" => since = v.parse().unwrap_or(0),
            _ => {}
        }
    }
    (tenant, since)
}

async fn journal(State(idp): State<Arc<Idp>>, RawQuery(q): RawQuery) -> Response {
    let (tenant, since) = journal_query(q.as_deref());
    let next = idp.journal_len();
    let mut r = Json(idp.journal(tenant.as_deref(), since)).into_response();
    // The cursor for `?since=` on the next read.
    if let Ok(v) = HeaderValue::from_str(&next.to_string()) {
        r.headers_mut().insert("x-tokenstorm-next-since", v);
    }
    r
}

async fn journal_jsonl(State(idp): State<Arc<Idp>>, RawQuery(q): RawQuery) -> Response {
    let (tenant, since) = journal_query(q.as_deref());
    let mut out = String::new();
    for e in idp.journal(tenant.as_deref(), since) {
        if let Ok(line) = serde_json::to_string(&e) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    ([(header::CONTENT_TYPE, "application/x-ndjson")], out).into_response()
}

async fn tenants(State(idp): State<Arc<Idp>>) -> Response {
    Json(json!({"tenants": idp.tenant_names()})).into_response()
}

/// The i-th `/`-separated segment of the full path (`/_tokenstorm/tenants/{tenant}/...`: the
/// tenant is segment 3).
fn path_segment(req_path: &str, i: usize) -> String {
    req_path.split('/').nth(i).unwrap_or_default().to_string()
}

async fn get_config(State(idp): State<Arc<Idp>>, OriginalUri(uri): OriginalUri) -> Response {
    let tenant = path_segment(uri.path(), 3);
    if !super::valid_tenant(&tenant) {
        return admin_error(
            StatusCode::BAD_REQUEST,
            "invalid_tenant",
            "Invalid tenant name.",
        );
    }
    let cfg = match idp.existing_tenant(&tenant) {
        Some(t) => lock(&t.state).config.clone(),
        None => idp.default_config.clone(),
    };
    Json(cfg).into_response()
}

async fn put_config(
    State(idp): State<Arc<Idp>>,
    OriginalUri(uri): OriginalUri,
    req: Request,
) -> Response {
    let tenant = path_segment(uri.path(), 3);
    if !super::valid_tenant(&tenant) {
        return admin_error(
            StatusCode::BAD_REQUEST,
            "invalid_tenant",
            "Invalid tenant name.",
        );
    }
    let Ok(bytes) = read_body(Body::new(req.into_body())).await else {
        return admin_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "Body too large.",
        );
    };
    match serde_json::from_slice::<TenantConfig>(&bytes) {
        Ok(cfg) => {
            let t = idp.tenant(&tenant);
            lock(&t.state).config = cfg;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => admin_error(StatusCode::BAD_REQUEST, "invalid_config", &e.to_string()),
    }
}

async fn event(State(idp): State<Arc<Idp>>, OriginalUri(uri): OriginalUri) -> Response {
    // `/_tokenstorm/tenants/{tenant}/events/{event}`
    let tenant = path_segment(uri.path(), 3);
    let event = path_segment(uri.path(), 5);
    match idp.fire(&tenant, &event) {
        Ok(v) => Json(v).into_response(),
        Err(e) => admin_error(StatusCode::BAD_REQUEST, "unknown_event", &e),
    }
}

impl Idp {
    /// Fires a named event on a tenant: `revoke-sessions` (SSO sessions and refresh tokens),
    /// `revoke-refresh-tokens`, `cae-revoke` (the resource challenges CAE tokens issued before
    /// now), `rotate-keys`, `disable-user`, `enable-user`.
    pub fn fire(&self, tenant: &str, event: &str) -> Result<serde_json::Value, String> {
        if !super::valid_tenant(tenant) {
            return Err(format!("invalid tenant '{tenant}'"));
        }
        let t = self.tenant(tenant);
        let mut st = lock(&t.state);
        let result = match event {
            "revoke-sessions" => {
                let n = st.sessions.len();
                st.sessions.clear();
                let mut r = 0;
                for g in st.refresh_tokens.values_mut() {
                    if !g.revoked {
                        g.revoked = true;
                        r += 1;
                    }
                }
                json!({"sessions_revoked": n, "refresh_tokens_revoked": r})
            }
            "revoke-refresh-tokens" => {
                let mut r = 0;
                for g in st.refresh_tokens.values_mut() {
                    if !g.revoked {
                        g.revoked = true;
                        r += 1;
                    }
                }
                json!({"refresh_tokens_revoked": r})
            }
            "cae-revoke" => {
                // Tokens issued up to this very moment are revoked (iat has one-second
                // granularity); a token requested with the challenge's claims is issued with
                // iat = nbf = this value and is accepted.
                let at = unix_now() + 1;
                st.cae_revoked_before = Some(at);
                json!({"cae_revoked_before": at})
            }
            "rotate-keys" => {
                drop(st);
                let kid = self.keys.rotate(2)?;
                return Ok(json!({"kid": kid}));
            }
            "disable-user" => {
                st.config.user.disabled = true;
                json!({"disabled": true})
            }
            "enable-user" => {
                st.config.user.disabled = false;
                json!({"disabled": false})
            }
            other => {
                return Err(format!(
                    "unknown event '{other}'; known: revoke-sessions, revoke-refresh-tokens, cae-revoke, rotate-keys, disable-user, enable-user"
                ))
            }
        };
        Ok(result)
    }
}

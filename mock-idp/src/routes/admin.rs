//! The admin API under `/_tokenstorm`, guarded by the per-run bearer token of the ready file:
//! read the journal, configure tenants, and fire events (revocations, key rotation).

use crate::config::TenantConfig;
use crate::params::read_body;
use crate::request::bearer;
use crate::state::{lock, Idp};
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
        .route(
            "/tenants/{tenant}/scenario",
            axum::routing::put(put_scenario),
        )
        .route("/tenants/{tenant}/scenario/start", post(start_scenario))
        .route("/tenants/{tenant}/scenario/events", get(scenario_events))
        .route(
            "/tenants/{tenant}/scenario/events/{event}",
            post(fire_scenario_event),
        )
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

/// Says how many entries past the cursor a read could not serve (`x-tokenstorm-journal-missed`):
/// they left the in-memory window before this cursor read, or the journal's cap on disk kept
/// them out.
fn missed_header(r: &mut Response, missed: u64) {
    if missed > 0 {
        if let Ok(v) = HeaderValue::from_str(&missed.to_string()) {
            r.headers_mut().insert("x-tokenstorm-journal-missed", v);
        }
    }
}

/// Reads the journal off the async workers: a read may wait for the writer to flush and then
/// read a tenant's file from disk, which must not hold up the requests the mock is serving.
async fn read_journal(
    idp: &Arc<Idp>,
    tenant: Option<String>,
    since: usize,
) -> Result<crate::store::Read, Response> {
    let idp = idp.clone();
    tokio::task::spawn_blocking(move || idp.journal_store().read(tenant.as_deref(), since))
        .await
        .map_err(|e| {
            admin_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "journal_unreadable",
                &format!("reading the journal failed: {e}"),
            )
        })
}

async fn journal(State(idp): State<Arc<Idp>>, RawQuery(q): RawQuery) -> Response {
    let (tenant, since) = journal_query(q.as_deref());
    let next = idp.journal_len();
    let read = match read_journal(&idp, tenant, since).await {
        Ok(r) => r,
        Err(e) => return e,
    };
    let mut r = Json(read.entries).into_response();
    // The cursor for `?since=` on the next read.
    if let Ok(v) = HeaderValue::from_str(&next.to_string()) {
        r.headers_mut().insert("x-tokenstorm-next-since", v);
    }
    missed_header(&mut r, read.missed);
    r
}

async fn journal_jsonl(State(idp): State<Arc<Idp>>, RawQuery(q): RawQuery) -> Response {
    let (tenant, since) = journal_query(q.as_deref());
    let read = match read_journal(&idp, tenant, since).await {
        Ok(r) => r,
        Err(e) => return e,
    };
    let mut out = String::new();
    for e in read.entries {
        if let Ok(line) = serde_json::to_string(&e) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    let mut r = ([(header::CONTENT_TYPE, "application/x-ndjson")], out).into_response();
    missed_header(&mut r, read.missed);
    r
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

/// The tenant of a `/_tokenstorm/tenants/{tenant}/...` path and the request's body, or the
/// admin error to answer.
async fn tenant_and_body(
    uri: &axum::http::Uri,
    req: Request,
) -> Result<(String, bytes::Bytes), Response> {
    let tenant = path_segment(uri.path(), 3);
    if !super::valid_tenant(&tenant) {
        return Err(admin_error(
            StatusCode::BAD_REQUEST,
            "invalid_tenant",
            "Invalid tenant name.",
        ));
    }
    match read_body(Body::new(req.into_body())).await {
        Ok(b) => Ok((tenant, b)),
        Err(_) => Err(admin_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "Body too large.",
        )),
    }
}

async fn put_config(
    State(idp): State<Arc<Idp>>,
    OriginalUri(uri): OriginalUri,
    req: Request,
) -> Response {
    let (tenant, bytes) = match tenant_and_body(&uri, req).await {
        Ok(v) => v,
        Err(r) => return r,
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
    let fired = event
        .parse::<crate::event::Event>()
        .and_then(|e| idp.fire(&tenant, &e));
    match fired {
        Ok(v) => Json(v).into_response(),
        Err(e) => admin_error(StatusCode::BAD_REQUEST, "unknown_event", &e.to_string()),
    }
}

/// `PUT /tenants/{t}/scenario` with the scenario's YAML: the tenant replays it from now on.
async fn put_scenario(
    State(idp): State<Arc<Idp>>,
    OriginalUri(uri): OriginalUri,
    req: Request,
) -> Response {
    let (tenant, bytes) = match tenant_and_body(&uri, req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let text = String::from_utf8_lossy(&bytes);
    match model::scenario::parse(&text, "scenario") {
        Ok(s) => {
            idp.load_scenario(&tenant, s);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => admin_error(StatusCode::BAD_REQUEST, "invalid_scenario", &e.to_string()),
    }
}

async fn start_scenario(State(idp): State<Arc<Idp>>, OriginalUri(uri): OriginalUri) -> Response {
    let tenant = path_segment(uri.path(), 3);
    match idp.start_scenario(&tenant) {
        true => StatusCode::NO_CONTENT.into_response(),
        false => admin_error(
            StatusCode::NOT_FOUND,
            "no_scenario",
            "This tenant replays no scenario.",
        ),
    }
}

async fn scenario_events(State(idp): State<Arc<Idp>>, OriginalUri(uri): OriginalUri) -> Response {
    let tenant = path_segment(uri.path(), 3);
    Json(idp.fired_events(&tenant)).into_response()
}

async fn fire_scenario_event(
    State(idp): State<Arc<Idp>>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let tenant = path_segment(uri.path(), 3);
    let event = path_segment(uri.path(), 6);
    match idp.fire_scenario_event(&tenant, &event) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => admin_error(StatusCode::BAD_REQUEST, "unknown_event", &e.to_string()),
    }
}

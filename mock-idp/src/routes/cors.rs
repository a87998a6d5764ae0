//! Cross-origin answers, as a browser needs them to call Entra and Graph from a single-page app
//! (MSAL.js): a preflight is answered here, before the journal (it is the browser's, not the
//! client's, request, and no rule counts it); every other answer to a request with an `Origin`
//! names that origin as allowed, faults and errors included, so the page can read them.
//!
//! What a page may read besides the CORS-safelisted headers follows the services: the identity
//! endpoints expose `Retry-After`; Graph exposes `WWW-Authenticate` (the CAE claims challenge an
//! SPA must read) but not `Retry-After`, as Microsoft Graph's own CORS answers don't
//! (microsoftgraph/microsoft-graph-docs#17488). The admin API takes no cross-origin calls: a web
//! page in the developer's browser must not reach it.

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Headers a page may read from an identity-endpoint answer.
const IDENTITY_EXPOSED: &str = "Retry-After, x-ms-request-id, client-request-id, x-ms-clitelem";
/// Headers a page may read from a Graph answer.
const GRAPH_EXPOSED: &str = "WWW-Authenticate, request-id, client-request-id, Location";

/// The CORS middleware; outermost, around the journal.
pub async fn layer(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path.starts_with("/_tokenstorm") {
        return next.run(req).await;
    }
    let Some(origin) = req.headers().get(header::ORIGIN).cloned() else {
        return next.run(req).await;
    };
    let exposed = if path.starts_with("/graph/") {
        GRAPH_EXPOSED
    } else {
        IDENTITY_EXPOSED
    };
    if req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        let mut resp = StatusCode::NO_CONTENT.into_response();
        let h = resp.headers_mut();
        allow(h, origin);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, OPTIONS"),
        );
        if let Some(asked) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
        }
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
        return resp;
    }
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    allow(h, origin);
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(exposed),
    );
    resp
}

fn allow(h: &mut HeaderMap, origin: HeaderValue) {
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.append(header::VARY, HeaderValue::from_static("Origin"));
}

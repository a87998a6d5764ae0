//! The HTTP surface: [`router`] joins the route groups; each module holds one group's handlers.

mod admin;
mod authorize;
mod batch;
mod cors;
mod device;
mod discovery;
mod graph;
pub(crate) mod managed_identity;
mod token;

use crate::error::OAuthError;
use crate::journal::{self, Record};
use crate::params::valid_tenant;
use crate::state::Idp;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Router};
use std::sync::Arc;

/// The whole mock: identity provider, Graph, admin API, with the journal layer around it.
pub fn router(idp: Arc<Idp>) -> Router {
    let inner = Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route(
            "/{tenant}/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(discovery::keys))
        .route("/{tenant}/discovery/keys", get(discovery::keys))
        .route("/common/discovery/instance", get(discovery::instance))
        .route(
            "/{tenant}/oauth2/v2.0/authorize",
            get(authorize::authorize).post(authorize::authorize),
        )
        .route(
            "/{tenant}/oauth2/v2.0/logout",
            get(authorize::logout).post(authorize::logout),
        )
        .route("/{tenant}/oauth2/v2.0/token", post(token::token))
        .route("/{tenant}/oauth2/v2.0/devicecode", post(device::devicecode))
        .route("/{tenant}/devicelogin", get(device::devicelogin))
        .route("/oidc/userinfo", get(graph::userinfo).post(graph::userinfo))
        .route(
            "/metadata/identity/oauth2/token",
            get(managed_identity::token),
        )
        .route(
            "/{tenant}/metadata/identity/oauth2/token",
            get(managed_identity::token),
        )
        .route("/{tenant}/msi/token", get(managed_identity::token))
        .nest("/graph/v1.0", graph::router())
        .nest("/_tokenstorm", admin::router(idp.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // A handler that panics (a bug) answers an Entra-shaped 500 instead of resetting the
        // connection; the journal records it.
        .layer(middleware::from_fn_with_state(
            idp.clone(),
            crate::faults::layer,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .layer(middleware::from_fn_with_state(idp.clone(), journal::layer))
        // Outermost: a browser's preflight is answered before the journal sees it.
        .layer(middleware::from_fn(cors::layer))
        .with_state(idp.clone());
    // Graph by its own name (through the proxy, or with `graph.microsoft.com` pointed at the
    // mock in /etc/hosts): Graph's paths are the mock's Graph's. The URI is rewritten before
    // routing (and so before the journal classifies it), which a layer inside the router can't.
    Router::new().fallback_service(tower::ServiceExt::map_request(
        inner,
        move |req: axum::extract::Request| graph_by_name(&idp, req),
    ))
}

fn graph_by_name(idp: &Idp, mut req: axum::extract::Request) -> axum::extract::Request {
    if idp.impersonate {
        let host = req
            .uri()
            .authority()
            .map(|a| a.host().to_string())
            .or_else(|| {
                req.headers()
                    .get(axum::http::header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .map(|h| h.split(':').next().unwrap_or(h).to_string())
            });
        let path = req.uri().path();
        if host.as_deref() == Some(crate::impersonate::GRAPH_HOST)
            && !path.starts_with("/graph/")
            && !path.starts_with("/oidc/")
        {
            let mut parts = req.uri().clone().into_parts();
            let pq = parts
                .path_and_query
                .as_ref()
                .map_or("/", |p| p.as_str())
                .to_string();
            if let Ok(p) = format!("/graph{pq}").parse() {
                parts.path_and_query = Some(p);
                if let Ok(u) = axum::http::Uri::from_parts(parts) {
                    *req.uri_mut() = u;
                }
            }
        }
    }
    req
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a handler panicked; answering 500");
    OAuthError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        90033,
        "The mock identity provider hit an internal error (a bug in tokenstorm).",
    )
    .into_response()
}

/// What every handler gets: the journal record, the validated tenant segment, and the base URL
/// the client used.
pub struct Ctx {
    /// The request's journal record.
    pub record: Record,
    /// The tenant path segment (empty for tenant-less routes).
    pub tenant: String,
    /// `https://localhost:PORT` when the client came by `localhost` (or `[::1]`), else the
    /// server's base URL: discovery, issuers and links use the name the client used, so a
    /// client that validates the issuer against its authority accepts them.
    pub base: String,
}

/// The base URL for a request: its `Host` (or HTTP/2 `:authority`) when that names this server
/// on a loopback name, or (impersonating) Entra's or Graph's real name, else the server's own
/// base URL.
fn request_base(idp: &Idp, parts: &Parts) -> String {
    let host = parts
        .uri
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            parts
                .headers
                .get(axum::http::header::HOST)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        });
    // Through the impersonation proxy, the app reached Entra's (or Graph's) real name.
    if idp.impersonate {
        if let Some(base) = host.as_deref().and_then(crate::impersonate::base_for_host) {
            return base;
        }
    }
    let (scheme, rest) = idp.base_url.split_once("://").unwrap_or(("https", ""));
    let port = rest.rsplit(':').next().unwrap_or_default();
    if let Some(h) = host {
        for name in ["localhost", "127.0.0.1", "[::1]"] {
            if is_host(&h, name, port) {
                return format!("{scheme}://{name}:{port}");
            }
        }
    }
    idp.base_url.clone()
}

/// Whether `h` is `name:port` (the name in any case), without building the string.
fn is_host(h: &str, name: &str, port: &str) -> bool {
    h.len() == name.len() + 1 + port.len()
        && h.get(..name.len())
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
        && h.get(name.len()..).and_then(|r| r.strip_prefix(':')) == Some(port)
}

impl Ctx {
    /// The tenant tokens name (`tid`, and in `iss`): the path's, except that the multi-tenant
    /// aliases `common`, `organizations` and `consumers` stand for the user's home tenant, as in
    /// Entra.
    pub fn home_tenant<'a>(&'a self, idp: &'a Idp) -> &'a str {
        if is_meta_tenant(&self.tenant) {
            &idp.default_tenant
        } else {
            &self.tenant
        }
    }
}

/// `common`, `organizations`, `consumers`: authorities that stand for whichever tenant the user
/// is in.
pub fn is_meta_tenant(t: &str) -> bool {
    ["common", "organizations", "consumers"]
        .iter()
        .any(|m| t.eq_ignore_ascii_case(m))
}

impl FromRequestParts<Arc<Idp>> for Ctx {
    type Rejection = OAuthError;

    async fn from_request_parts(
        parts: &mut Parts,
        idp: &Arc<Idp>,
    ) -> Result<Self, Self::Rejection> {
        let record =
            parts.extensions.get::<Record>().cloned().ok_or_else(|| {
                OAuthError::invalid_request(90000, "Internal: no journal record.")
            })?;
        let tenant = record.read(|e| e.tenant.clone().unwrap_or_default());
        if !tenant.is_empty() && !valid_tenant(&tenant) {
            return Err(OAuthError::invalid_request(
                900023,
                format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
            ));
        }
        let base = request_base(idp, parts);
        Ok(Ctx {
            record,
            tenant,
            base,
        })
    }
}

/// An error in the shape of the surface the path belongs to: Graph's for Graph and UserInfo,
/// the admin API's for `/_tokenstorm`, Entra's OAuth shape for everything else.
fn surface_error(path: &str, status: StatusCode, message: String) -> Response {
    if path.starts_with("/graph/") || path == "/graph" || path.starts_with("/oidc/") {
        let code = if status == StatusCode::METHOD_NOT_ALLOWED {
            "Request_BadRequest"
        } else {
            "BadRequest"
        };
        crate::error::GraphError::new(status, code, message).into_response()
    } else if path.starts_with("/_tokenstorm") {
        (
            status,
            axum::Json(
                serde_json::json!({"error": "invalid_request", "error_description": message}),
            ),
        )
            .into_response()
    } else {
        OAuthError::new(status, "invalid_request", 900561, message).into_response()
    }
}

async fn not_found(axum::extract::OriginalUri(uri): axum::extract::OriginalUri) -> Response {
    surface_error(
        uri.path(),
        StatusCode::NOT_FOUND,
        "The endpoint does not exist on this mock identity provider.".to_string(),
    )
}

async fn method_not_allowed(
    method: axum::http::Method,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
) -> Response {
    surface_error(
        uri.path(),
        StatusCode::METHOD_NOT_ALLOWED,
        format!("The endpoint does not accept {method} requests."),
    )
}

/// A cookie's value from the request headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::is_host;

    #[test]
    fn a_host_is_its_name_and_port_in_any_case_and_nothing_else() {
        assert!(is_host("localhost:8443", "localhost", "8443"));
        assert!(is_host("LocalHost:8443", "localhost", "8443"));
        assert!(is_host("[::1]:8443", "[::1]", "8443"));
        assert!(!is_host("localhost:84431", "localhost", "8443"));
        assert!(!is_host("localhost8443", "localhost", "8443"));
        assert!(!is_host("localhost:8444", "localhost", "8443"));
        assert!(!is_host("localhos:18443", "localhost", "8443"));
        // The same length, the name ending inside a character.
        assert!(!is_host("localhosé:844", "localhost", "8443"));
        assert!(!is_host("", "localhost", "8443"));
    }
}

//! OpenID discovery, the JWKS, and Entra instance discovery.

use super::Ctx;
use crate::error::OAuthError;
use crate::state::Idp;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Json, Response};
use serde_json::json;
use std::sync::Arc;

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`, in Entra's shape.
pub async fn openid_configuration(State(idp): State<Arc<Idp>>, ctx: Ctx) -> Response {
    let key = format!("{}\n{}", ctx.base, ctx.tenant);
    let body = idp.discovery_bodies.get_or(&key, || {
        serde_json::to_vec(&discovery(&ctx)).unwrap_or_default()
    });
    json_bytes(body)
}

/// A JSON body already serialized, with the content type `Json` gives.
fn json_bytes(body: bytes::Bytes) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// The discovery document for the request's host and tenant.
fn discovery(ctx: &Ctx) -> serde_json::Value {
    let t = &ctx.tenant;
    let base = &ctx.base;
    let auth = format!("{base}/{t}/oauth2/v2.0");
    let host = base.split("://").nth(1).unwrap_or(base);
    // A multi-tenant authority's issuer is a template, as Entra writes it.
    let issuer_tenant = if super::is_meta_tenant(t) {
        "{tenantid}"
    } else {
        t.as_str()
    };
    let msgraph_host = if crate::impersonate::AUTHORITY_HOSTS.contains(&host) {
        crate::impersonate::GRAPH_HOST.to_string()
    } else {
        format!("{host}/graph")
    };
    json!({
        "token_endpoint": format!("{auth}/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{t}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{base}/{issuer_tenant}/v2.0"),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{base}/oidc/userinfo"),
        "authorization_endpoint": format!("{auth}/authorize"),
        "device_authorization_endpoint": format!("{auth}/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{auth}/logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "code_challenge_methods_supported": ["plain", "S256"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:device_code", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
        "kerberos_endpoint": format!("{base}/{t}/kerberos"),
        "tenant_region_scope": "NA",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": msgraph_host,
        "rbac_url": "https://pas.windows.net",
    })
}

/// `GET /{tenant}/discovery/v2.0/keys`.
pub async fn keys(State(idp): State<Arc<Idp>>, ctx: Ctx) -> Response {
    let keys = idp.keys_for(&ctx.tenant);
    json_bytes(keys.jwks_body(&format!("{}/{}/v2.0", ctx.base, ctx.tenant)))
}

/// `GET /common/discovery/instance?authorization_endpoint=...`: what MSAL Python reaches when
/// `instance_discovery` is given this URL.
pub async fn instance(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    RawQuery(q): RawQuery,
) -> Result<Response, OAuthError> {
    let q = q.unwrap_or_default();
    let endpoint = form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == "authorization_endpoint")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| OAuthError::missing("authorization_endpoint"))?;
    let after_scheme = endpoint.split("://").nth(1).unwrap_or(&endpoint);
    let tenant = after_scheme
        .split('/')
        .nth(1)
        .filter(|t| super::valid_tenant(t))
        .unwrap_or(&idp.default_tenant)
        .to_string();
    // Entra's own answer names its cloud's hosts; otherwise the mock's own name.
    if let Some(entra) = ctx
        .base
        .strip_prefix("https://")
        .filter(|h| crate::impersonate::AUTHORITY_HOSTS.contains(h))
    {
        let _ = entra;
        return Ok(Json(json!({
            "tenant_discovery_endpoint": format!("{}/{}/v2.0/.well-known/openid-configuration", ctx.base, tenant),
            "api-version": "1.1",
            "metadata": [
                {
                    "preferred_network": "login.microsoftonline.com",
                    "preferred_cache": "login.windows.net",
                    "aliases": ["login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"],
                },
                {
                    "preferred_network": "login.partner.microsoftonline.cn",
                    "preferred_cache": "login.partner.microsoftonline.cn",
                    "aliases": ["login.partner.microsoftonline.cn", "login.chinacloudapi.cn"],
                },
                {
                    "preferred_network": "login.microsoftonline.us",
                    "preferred_cache": "login.microsoftonline.us",
                    "aliases": ["login.microsoftonline.us", "login.usgovcloudapi.net"],
                },
            ]
        }))
        .into_response());
    }
    let host = idp
        .base_url
        .split("://")
        .nth(1)
        .unwrap_or(&idp.base_url)
        .to_string();
    let host_no_port = host.split(':').next().unwrap_or(&host).to_string();
    Ok(Json(json!({
        "tenant_discovery_endpoint": format!("{}/{}/v2.0/.well-known/openid-configuration", ctx.base, tenant),
        "api-version": "1.1",
        "metadata": [{
            "preferred_network": host,
            "preferred_cache": host,
            "aliases": [host, host_no_port],
        }]
    }))
    .into_response())
}

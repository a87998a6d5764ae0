//! Managed identity: the instance metadata service's token endpoint
//! (`GET /metadata/identity/oauth2/token`, header `Metadata: true`; reached at
//! `169.254.169.254` through the impersonation proxy, or under a tenant by
//! `AZURE_POD_IDENTITY_AUTHORITY_HOST`) and App Service's identity endpoint
//! (`GET /{tenant}/msi/token`, header `X-IDENTITY-HEADER`), in their own answer shapes. They are
//! token requests like any other (journaled as the token endpoint, grant `managed_identity`):
//! a scenario's token-endpoint faults answer them, and the same rules judge them.

use super::Ctx;
use crate::error::OAuthError;
use crate::request::MANAGED_IDENTITY_CLIENT_ID;
use crate::state::{lock, Idp};
use crate::tokens::{mint, Request as MintRequest, ResourceScopes, Subject};
use axum::extract::{OriginalUri, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use serde_json::json;
use std::sync::Arc;

/// An instance-metadata-service error, in its own shape.
fn imds_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// `GET /metadata/identity/oauth2/token`, `GET /{tenant}/metadata/identity/oauth2/token` and
/// `GET /{tenant}/msi/token`.
pub async fn token(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, OAuthError> {
    let q: Vec<(String, String)> = form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let app_service = uri.path().ends_with("/msi/token");
    let client_id = get("client_id")
        .unwrap_or(MANAGED_IDENTITY_CLIENT_ID)
        .to_string();
    let resource = get("resource").unwrap_or_default().to_string();
    let tenant_name = if ctx.tenant.is_empty() {
        idp.default_tenant.clone()
    } else {
        ctx.tenant.clone()
    };
    crate::request::managed_identity_facts(&tenant_name, uri.query()).record(&ctx.record);
    if app_service {
        let expected = &idp.identity_header;
        let given = headers
            .get("x-identity-header")
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !super::token::constant_time_eq(expected.as_bytes(), given) {
            return Ok(imds_error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.",
            ));
        }
    } else if headers.get("metadata").and_then(|v| v.to_str().ok()) != Some("true") {
        return Ok(imds_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required metadata header not specified",
        ));
    }
    if resource.is_empty() {
        return Ok(imds_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required query variable 'resource' is missing",
        ));
    }
    let scope_strings = vec![format!("{}/.default", resource.trim_end_matches('/'))];
    let scopes = ResourceScopes::parse(&scope_strings).map_err(|_| {
        OAuthError::invalid_request(
            500011,
            format!("The resource principal named {resource} was not found in the tenant."),
        )
    })?;
    let tenant = idp.tenant(&tenant_name);
    let st = lock(&tenant.state);
    let config = st.config.clone();
    let keys = st.keys.clone().unwrap_or_else(|| idp.keys.clone());
    drop(st);
    let minted = mint(
        &idp,
        &config,
        &MintRequest {
            keys: &keys,
            base: &ctx.base,
            tenant: &tenant_name,
            client_id: &client_id,
            confidential: true,
            scopes: &scopes,
            scope_strings: &scope_strings,
            subject: Subject::App,
            nonce: None,
            cae: false,
            client_info: false,
            app_roles: &config.app_roles,
            claims_request: None,
            spa_refresh_expires_at: None,
        },
    );
    // Neither answer shape carries `refresh_in`: the journal records what the client was told.
    let mut issued = minted.issued.clone();
    for t in &mut issued {
        t.refresh_in = None;
    }
    ctx.record.update(|e| e.issued = issued);
    let access_token = minted.body["access_token"].clone();
    let expires_in = minted.body["expires_in"].as_u64().unwrap_or(0);
    let now = crate::state::unix_now();
    let expires_on = (now + expires_in).to_string();
    let body = if app_service {
        json!({
            "access_token": access_token,
            "expires_on": expires_on,
            "resource": resource,
            "token_type": "Bearer",
            "client_id": client_id,
        })
    } else {
        json!({
            "access_token": access_token,
            "client_id": client_id,
            "expires_in": expires_in.to_string(),
            "expires_on": expires_on,
            "ext_expires_in": expires_in.to_string(),
            "not_before": now.to_string(),
            "resource": resource,
            "token_type": "Bearer",
        })
    };
    Ok(Json(body).into_response())
}

//! Managed identity: the instance metadata service's token endpoint
//! (`GET /metadata/identity/oauth2/token`, header `Metadata: true`; reached at
//! `169.254.169.254` through the impersonation proxy, or under a tenant by
//! `AZURE_POD_IDENTITY_AUTHORITY_HOST`) and App Service's identity endpoint
//! (`GET /{tenant}/msi/token`, header `X-IDENTITY-HEADER`), in their own answer shapes. They are
//! token requests like any other (journaled as the token endpoint, grant `managed_identity`):
//! a scenario's token-endpoint faults answer them, and the same rules judge them.

use super::Ctx;
use crate::error::OAuthError;
use crate::request::Facts;
use crate::state::{lock, Idp};
use crate::tokens::{mint, Request as MintRequest, ResourceScopes, Subject};
use axum::extract::{OriginalUri, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use model::GrantType;
use serde_json::json;
use std::sync::Arc;

/// The client id of the system-assigned managed identity the mock issues tokens to.
pub const MANAGED_IDENTITY_CLIENT_ID: &str = "8e7d6c5b-4a39-4281-9f0e-1d2c3b4a5f60";

/// Whether `path` is a managed-identity token endpoint.
pub fn is_managed_identity(path: &str) -> bool {
    path.ends_with("/msi/token") || path.ends_with("/metadata/identity/oauth2/token")
}

/// What a managed-identity request says, for the journal and for choosing a fault: the grant,
/// the identity (a user-assigned one's `client_id`, or the system-assigned one's) and the
/// resource as a `.default` scope.
pub fn facts(tenant: &str, query: Option<&str>) -> Facts {
    let q: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    Facts {
        grant: Some(GrantType::ManagedIdentity),
        client_id: Some(get("client_id").unwrap_or_else(|| MANAGED_IDENTITY_CLIENT_ID.to_string())),
        scopes: get("resource")
            .filter(|r| !r.is_empty())
            .map(|r| format!("{}/.default", r.trim_end_matches('/')))
            .into_iter()
            .collect(),
        tenant: Some(tenant.to_string()),
        ..Facts::default()
    }
}

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
    facts(&tenant_name, uri.query()).record(&ctx.record);
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

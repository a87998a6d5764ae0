//! The device-code flow: `POST /{tenant}/oauth2/v2.0/devicecode` starts it, and the
//! verification page (`GET /{tenant}/devicelogin?user_code=CODE`) is where the user (played by
//! the harness or a test) approves it, or declines with `&action=deny`.

use super::Ctx;
use crate::error::OAuthError;
use crate::keys::random_text;
use crate::params::{read_form, scopes as split_scopes};
use crate::request::{basic_auth, parse_claims, Facts};
use crate::state::{lock, unix_now, DeviceGrant, DeviceStatus, Idp};
use crate::tokens::ResourceScopes;
use axum::body::Body;
use axum::extract::{RawQuery, Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Json, Response};
use rand::Rng;
use serde_json::json;
use std::sync::Arc;

fn user_code() -> String {
    // Entra's user codes: 9 characters from an unambiguous alphabet.
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..9)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`.
pub async fn devicecode(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    req: Request,
) -> Result<Response, OAuthError> {
    let (parts, body) = req.into_parts();
    let mut p = read_form(&parts.headers, Body::new(body)).await?;
    p.merge_query(parts.uri.query())?;
    Facts::of_form(
        &idp,
        &ctx.tenant,
        model::Endpoint::Devicecode,
        &p,
        &parts.headers,
    )
    .record(&ctx.record);
    let client_id = p.require("client_id")?.to_string();
    let scope_strings = split_scopes(p.get("scope"));
    // Entra allows the device flow for public clients; a confidential app must authenticate.
    let basic = basic_auth(&parts.headers)?;
    let secret = p
        .get("client_secret")
        .map(str::to_string)
        .or_else(|| basic.map(|(_, s)| s));
    let credential = super::token::credential(&p, secret.as_deref())?;
    let app = idp
        .app_on_first_use(&client_id, None, credential)
        .ok_or_else(|| OAuthError::unknown_client(&client_id, &ctx.tenant))?;
    super::token::authenticate(&app, credential, &model::GrantType::DeviceCode, &ctx)?;
    parse_claims(p.get("claims"))?;
    if scope_strings.is_empty() {
        return Err(OAuthError::missing("scope"));
    }
    ResourceScopes::parse(&scope_strings)?;
    let tenant = idp.tenant(&ctx.tenant);
    let mut st = lock(&tenant.state);
    let lifetime = st.config.device_code_lifetime_s;
    let interval = st.config.device_interval_s;
    let device_code = format!("DAQABIQEAAAD{}", random_text(48));
    let code = user_code();
    st.device_codes.insert(
        device_code.clone(),
        DeviceGrant {
            client_id,
            scopes: scope_strings,
            user_code: code.clone(),
            expires_at: unix_now().saturating_add(lifetime),
            interval_s: interval,
            last_poll_us: None,
            status: DeviceStatus::Pending,
        },
    );
    drop(st);
    let uri = format!("{}/{}/devicelogin", ctx.base, ctx.tenant);
    Ok(Json(json!({
        "user_code": code,
        "device_code": device_code,
        "verification_uri": uri,
        "expires_in": lifetime,
        "interval": interval,
        "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {code} to authenticate."),
    }))
    .into_response())
}

/// `GET /{tenant}/devicelogin[?user_code=CODE[&action=deny]]`: the user's side.
pub async fn devicelogin(State(idp): State<Arc<Idp>>, ctx: Ctx, RawQuery(q): RawQuery) -> Response {
    let q = q.unwrap_or_default();
    let mut code = None;
    let mut deny = false;
    for (k, v) in form_urlencoded::parse(q.as_bytes()) {
        match k.as_ref() {
            "user_code" => code = Some(v.trim().to_ascii_uppercase()),
            "action" => deny = v == "deny",
            _ => {}
        }
    }
    let Some(code) = code else {
        return Html(
            "<html><body><h1>Enter code</h1><form method=\"GET\"><input name=\"user_code\"/>\
             <button type=\"submit\">Next</button></form></body></html>",
        )
        .into_response();
    };
    let unknown = || {
        OAuthError::new(
            StatusCode::NOT_FOUND,
            "invalid_request",
            70000,
            "That code is unknown, expired or already used.",
        )
        .into_response()
    };
    let Some(tenant) = idp.existing_tenant(&ctx.tenant) else {
        return unknown();
    };
    let mut st = lock(&tenant.state);
    let disabled = st.config.user.disabled;
    let now = unix_now();
    let grant = st
        .device_codes
        .values_mut()
        .find(|g| g.user_code == code && g.status == DeviceStatus::Pending && now < g.expires_at);
    match grant {
        Some(g) if deny => {
            g.status = DeviceStatus::Denied;
            Html("<html><body><p>You declined to sign in.</p></body></html>").into_response()
        }
        Some(_) if disabled => OAuthError::new(
            StatusCode::FORBIDDEN,
            "access_denied",
            50057,
            "The user account is disabled.",
        )
        .into_response(),
        Some(g) => {
            g.status = DeviceStatus::Approved(now);
            // Signing in on the verification page is interactive: a step-up owed is done.
            st.satisfy_step_up();
            Html("<html><body><p>You have signed in. You may now close this window.</p></body></html>")
                .into_response()
        }
        None => unknown(),
    }
}

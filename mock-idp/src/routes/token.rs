//! The token endpoint: client credentials, authorization code (PKCE), refresh token (rotated),
//! device code (both grant spellings) and on-behalf-of, with Entra's errors.

use super::Ctx;
use crate::config::AppRegistration;
use crate::config::Credential;
use crate::error::OAuthError;
use crate::params::{read_form, scopes as split_scopes, Params};
use crate::request::{basic_auth, capabilities, parse_claims, Facts};
use crate::state::{lock, unix_now, DeviceStatus, Idp, TenantState};
use crate::tokens::{mint, Request as MintRequest, ResourceScopes, Subject};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Json, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use model::{Endpoint, Fingerprint, GrantType};
use std::sync::Arc;

/// Checks the client's credentials for a grant.
/// The credential a request presents: a secret (body or Basic) or a client assertion.
pub(super) fn credential<'a>(
    p: &'a Params,
    secret: Option<&'a str>,
) -> Result<Credential<'a>, OAuthError> {
    match (p.get("client_assertion"), secret) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_request(
            90072,
            "The request presents both a client secret and a client assertion.",
        )),
        (Some(a), None) => {
            let t = p.get("client_assertion_type").unwrap_or_default();
            if t != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
                return Err(OAuthError::invalid_request(
                    90031,
                    format!("The client_assertion_type '{t}' is not supported; use urn:ietf:params:oauth:client-assertion-type:jwt-bearer."),
                ));
            }
            Ok(Credential::Assertion(a))
        }
        (None, Some(s)) => Ok(Credential::Secret(s)),
        (None, None) => Ok(Credential::None),
    }
}

pub(super) fn authenticate(
    app: &AppRegistration,
    credential: Credential<'_>,
    grant: &GrantType,
    ctx: &Ctx,
) -> Result<(), OAuthError> {
    let missing = || {
        OAuthError::invalid_client(
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )
    };
    match (credential, &app.secret, app.certificate) {
        (Credential::Secret(given), Some(expected), _) => {
            if constant_time_eq(expected.as_bytes(), given.as_bytes()) {
                Ok(())
            } else {
                Err(OAuthError::invalid_client(
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app.",
                ))
            }
        }
        (Credential::Assertion(jwt), _, true) => check_assertion(jwt, app, ctx),
        (Credential::Assertion(_), Some(_), false) => Err(OAuthError::invalid_client(
            700027,
            "The certificate with identifier used to sign the client assertion is not registered on application.",
        )),
        (Credential::Secret(_), None, true) => Err(OAuthError::invalid_client(
            7000215,
            "Invalid client secret provided. The application authenticates with a certificate.",
        )),
        (Credential::None, Some(_), _) | (Credential::None, None, true) => Err(missing()),
        (Credential::Secret(_) | Credential::Assertion(_), None, false) => {
            Err(OAuthError::invalid_client(
                700025,
                "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
            ))
        }
        (Credential::None, None, false) => match grant {
            GrantType::ClientCredentials | GrantType::JwtBearer => Err(missing()),
            _ => Ok(()),
        },
    }
}

/// A client assertion (RFC 7523) as Entra checks it: a JWT whose `iss` and `sub` are the
/// client id, with an `aud` and a current `exp` (and `nbf`). Its signature is not checked: the
/// mock knows no certificate of an app registered on first use.
fn check_assertion(jwt: &str, app: &AppRegistration, ctx: &Ctx) -> Result<(), OAuthError> {
    let client_id = app.client_id.as_str();
    let malformed = || OAuthError::invalid_client(50027, "JWT token is invalid or malformed.");
    let mut parts = jwt.split('.');
    let (Some(header), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    if !app.certificate_thumbprints.is_empty() {
        let header: serde_json::Value = URL_SAFE_NO_PAD
            .decode(header.trim_end_matches('='))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(malformed)?;
        // x5t is base64url of the SHA-1 thumbprint; Entra's portal shows it in hex.
        let named: Vec<String> = ["x5t", "x5t#S256"]
            .iter()
            .filter_map(|k| header.get(*k).and_then(serde_json::Value::as_str))
            .flat_map(|t| {
                let hex = URL_SAFE_NO_PAD
                    .decode(t.trim_end_matches('='))
                    .map(|b| b.iter().map(|x| format!("{x:02x}")).collect::<String>())
                    .unwrap_or_default();
                [t.to_string(), hex]
            })
            .collect();
        let known = app.certificate_thumbprints.iter().any(|t| {
            named
                .iter()
                .any(|n| !n.is_empty() && n.eq_ignore_ascii_case(t.replace(':', "").as_str()))
        });
        if !known {
            return Err(OAuthError::invalid_client(
                700027,
                format!("The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{}']", named.first().cloned().unwrap_or_default()),
            ));
        }
    }
    let claims: serde_json::Value = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(malformed)?;
    let s = |k: &str| claims.get(k).and_then(serde_json::Value::as_str);
    if s("iss") != Some(client_id) || s("sub") != Some(client_id) {
        return Err(OAuthError::invalid_client(
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter.",
        ));
    }
    if claims.get("aud").is_none() {
        return Err(OAuthError::invalid_client(
            700022,
            "The client assertion has no audience: it must name the token endpoint.",
        ));
    }
    let now = unix_now();
    let exp = claims
        .get("exp")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    let nbf = claims
        .get("nbf")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    if exp <= now || nbf > now + 300 {
        return Err(OAuthError::invalid_client(
            700024,
            format!("Client assertion is not within its valid time range. Current time: {now}, assertion valid from {nbf}, expiry time of assertion {exp}."),
        ));
    }
    let _ = ctx;
    Ok(())
}

/// Compares secrets without leaking where they differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub async fn token(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    req: Request,
) -> Result<Response, OAuthError> {
    let (parts, body) = req.into_parts();
    let mut p = read_form(&parts.headers, Body::new(body)).await?;
    p.merge_query(parts.uri.query())?;
    Facts::of_form(&idp, &ctx.tenant, Endpoint::Token, &p, &parts.headers).record(&ctx.record);
    let basic = basic_auth(&parts.headers)?;
    let client_id = match (p.get("client_id"), &basic) {
        (Some(a), Some((b, _))) if a != b => {
            return Err(OAuthError::invalid_request(
                900023,
                "The client_id in the body does not match the one in the Authorization header.",
            ))
        }
        (Some(a), _) => a.to_string(),
        (None, Some((b, _))) => b.clone(),
        (None, None) => return Err(OAuthError::missing("client_id")),
    };
    let grant_raw = p.require("grant_type")?.to_string();
    let grant = GrantType::parse(&grant_raw);
    let claims = parse_claims(p.get("claims"))?;
    let caps = capabilities(claims.as_ref());
    let secret = p
        .get("client_secret")
        .map(str::to_string)
        .or_else(|| basic.as_ref().map(|(_, s)| s.clone()));
    if let (Some(_), Some(_)) = (p.get("client_secret"), &basic) {
        return Err(OAuthError::invalid_request(
            90072,
            "The request presents the client secret twice (body and Authorization header).",
        ));
    }
    let credential = credential(&p, secret.as_deref())?;
    let app = idp
        .app_on_first_use(&client_id, p.get("redirect_uri"), credential)
        .ok_or_else(|| OAuthError::unknown_client(&client_id, &ctx.tenant))?;
    if let GrantType::Other(g) = &grant {
        return Err(OAuthError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{g}'."),
        ));
    }
    authenticate(&app, credential, &grant, &ctx)?;
    // Entra reads capabilities case-insensitively (MSAL.js documents `CP1`).
    let cae = caps.iter().any(|c| c.eq_ignore_ascii_case("cp1"));
    // A browser's cross-origin `fetch` carries its page's origin: only a single-page app's
    // codes and refresh tokens may be redeemed that way, and only that way.
    let origin = parts
        .headers
        .get(header::ORIGIN)
        .map(|o| String::from_utf8_lossy(o.as_bytes()).into_owned());
    let tenant = idp.tenant(&ctx.tenant);
    let mut st = lock(&tenant.state);
    let plan = match grant {
        GrantType::ClientCredentials => client_credentials(&app, &p, cae)?,
        GrantType::AuthorizationCode => {
            authorization_code(&mut st, &app, &p, cae, origin.as_deref())?
        }
        GrantType::RefreshToken => refresh_token(&mut st, &app, &p, cae, origin.as_deref())?,
        GrantType::DeviceCode => device_code(&idp, &mut st, &app, &p, cae)?,
        GrantType::JwtBearer => on_behalf_of(&idp, &mut st, &app, &p, cae)?,
        GrantType::Other(_) | GrantType::ManagedIdentity => unreachable_grant()?,
    };
    let mut plan = plan;
    if plan.user.is_none() {
        // App tokens carry the tenant's grants to apps too.
        plan.app_roles.extend(st.config.app_roles.iter().cloned());
    }
    let config = st.config.clone();
    let keys = st.keys.clone().unwrap_or_else(|| idp.keys.clone());
    drop(st);
    let minted = mint(
        &idp,
        &config,
        &MintRequest {
            keys: &keys,
            base: &ctx.base,
            tenant: ctx.home_tenant(&idp),
            client_id: &app.client_id,
            confidential: plan.confidential,
            scopes: &plan.scopes,
            scope_strings: &plan.scope_strings,
            subject: match &plan.user {
                Some((user, auth_time)) => Subject::User(user, *auth_time),
                None => Subject::App,
            },
            nonce: plan.nonce.as_deref(),
            cae: plan.cae,
            client_info: plan.client_info,
            app_roles: &plan.app_roles,
            claims_request: claims.as_ref(),
            spa_refresh_expires_at: plan.spa_refresh_expires_at,
        },
    );
    {
        let mut st = lock(&tenant.state);
        if let Some((fp, grant)) = minted.refresh {
            st.refresh_tokens.insert(fp, grant);
        }
        if let (true, Some(uti)) = (
            plan.cae,
            minted
                .issued
                .iter()
                .find(|t| t.kind == model::TokenKind::Access)
                .and_then(|t| t.uti.as_deref()),
        ) {
            st.issued_cae_token(crate::state::unix_now(), uti);
        }
    }
    ctx.record.update(|e| e.issued = minted.issued);
    let mut resp = Json(minted.body).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    Ok(resp)
}

fn unreachable_grant() -> Result<Plan, OAuthError> {
    Err(OAuthError::missing("grant_type"))
}

/// What a grant decided to issue, worked out under the tenant's lock; minting (signing) happens
/// after the lock is released.
struct Plan {
    confidential: bool,
    scopes: ResourceScopes,
    scope_strings: Vec<String>,
    user: Option<(crate::config::UserConfig, u64)>,
    nonce: Option<String>,
    cae: bool,
    client_info: bool,
    app_roles: Vec<String>,
    /// A single-page app's refresh token is issued, expiring then.
    spa_refresh_expires_at: Option<u64>,
}

/// A lifetime as Entra's messages write it: `1.00:00:00` (days.hours:minutes:seconds).
fn lifetime_text(secs: u64) -> String {
    format!(
        "{}.{:02}:{:02}:{:02}",
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Entra's refusal of a cross-origin redemption by anything but a single-page app.
fn not_spa(origin: &str) -> OAuthError {
    OAuthError::invalid_request(
        9002326,
        format!("Cross-origin token redemption is permitted only for the 'Single-Page Application' client-type. Request origin: '{origin}'."),
    )
}

fn client_credentials(app: &AppRegistration, p: &Params, cae: bool) -> Result<Plan, OAuthError> {
    let scope_strings = split_scopes(Some(p.require("scope")?));
    let rs = ResourceScopes::parse(&scope_strings)?;
    // OIDC scopes beside `/.default` are ignored, as Entra does: MSAL for Go and Java send
    // `openid profile offline_access` with every request (no ID or refresh token comes back).
    if !rs.is_default() || rs.permissions.len() != 1 {
        return Err(OAuthError::invalid_scope(
            1002012,
            format!(
                "The provided value for scope {} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
                scope_strings.join(" ")
            ),
        ));
    }
    Ok(Plan {
        confidential: true,
        scopes: rs,
        scope_strings,
        user: None,
        nonce: None,
        cae,
        client_info: false,
        app_roles: app.app_roles.clone(),
        spa_refresh_expires_at: None,
    })
}

fn user_disabled(st: &TenantState) -> Result<(), OAuthError> {
    if st.config.user.disabled {
        return Err(OAuthError::invalid_grant(
            50057,
            "The user account is disabled.",
        ));
    }
    Ok(())
}

fn authorization_code(
    st: &mut TenantState,
    app: &AppRegistration,
    p: &Params,
    cae: bool,
    origin: Option<&str>,
) -> Result<Plan, OAuthError> {
    let code = p.require("code")?;
    let now = unix_now();
    let lifetime = st.config.code_lifetime_s;
    let c = st.codes.get(code).cloned().ok_or_else(|| {
        OAuthError::invalid_grant(
            70000,
            "The provided value for the 'code' parameter is not valid.",
        )
    })?;
    if c.redeemed {
        return Err(OAuthError::invalid_grant(
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
        ));
    }
    if c.client_id != app.client_id {
        return Err(OAuthError::invalid_grant(
            70000,
            "The provided value for the 'code' parameter is not valid. The code was issued to a different client.",
        ));
    }
    if now > c.issued_at.saturating_add(lifetime) {
        return Err(OAuthError::invalid_grant(
            70008,
            "The provided authorization code or refresh token has expired due to inactivity.",
        ));
    }
    let redirect = p.require("redirect_uri")?;
    if redirect != c.redirect_uri {
        return Err(OAuthError::invalid_grant(
            500112,
            format!(
                "The reply address '{redirect}' does not match the reply address '{}' provided when requesting Authorization code.",
                c.redirect_uri
            ),
        ));
    }
    let spa_refresh_expires_at = match origin {
        Some(o) if !app.spa_redirect_matches(redirect) => return Err(not_spa(o)),
        Some(_) => Some(now.saturating_add(st.config.spa_refresh_token_lifetime_s)),
        None => None,
    };
    if let Some((challenge, method)) = &c.challenge {
        let verifier = p.require("code_verifier")?;
        let ok = match method.as_str() {
            "S256" => {
                let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
                URL_SAFE_NO_PAD.encode(d.as_ref()) == *challenge
            }
            _ => verifier == challenge,
        };
        if !ok {
            return Err(OAuthError::invalid_grant(
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            ));
        }
    }
    user_disabled(st)?;
    if let Some(entry) = st.codes.get_mut(code) {
        entry.redeemed = true;
    }
    let scope_strings = match p.get("scope") {
        Some(s) => split_scopes(Some(s)),
        None => c.scopes.clone(),
    };
    let rs = ResourceScopes::parse(&scope_strings)?;
    let cae = cae
        || capabilities(c.claims.as_ref())
            .iter()
            .any(|x| x.eq_ignore_ascii_case("cp1"));
    let user = st.config.user.clone();
    Ok(Plan {
        confidential: !app.is_public(),
        scopes: rs,
        scope_strings,
        user: Some((user, c.auth_time)),
        nonce: c.nonce.clone(),
        cae,
        client_info: p.get("client_info") == Some("1"),
        app_roles: vec![],
        spa_refresh_expires_at,
    })
}

fn refresh_token(
    st: &mut TenantState,
    app: &AppRegistration,
    p: &Params,
    cae: bool,
    origin: Option<&str>,
) -> Result<Plan, OAuthError> {
    let rt = p.require("refresh_token")?;
    let fp = Fingerprint::of(rt);
    let grant = st.refresh_tokens.get(&fp).cloned().ok_or_else(|| {
        OAuthError::invalid_grant(9002313, "Invalid request. Request is malformed or invalid.")
    })?;
    if grant.client_id != app.client_id {
        return Err(OAuthError::invalid_grant(
            70000,
            "The provided value for the 'refresh_token' parameter is not valid. The refresh token was issued to a different client.",
        ));
    }
    if grant.revoked {
        return Err(OAuthError::invalid_grant(
            50173,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.",
        ));
    }
    match (grant.spa, origin) {
        (true, None) => {
            return Err(OAuthError::invalid_request(
                9002327,
                "Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin requests.",
            ))
        }
        (false, Some(o)) => return Err(not_spa(o)),
        _ => {}
    }
    if grant.spa && unix_now() >= grant.expires_at {
        return Err(OAuthError::invalid_grant(
            700084,
            format!(
                "The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime of {}, which cannot be extended. It is now expired and a new sign in request must be sent by the SPA to the sign in page. The token was issued on {}.",
                lifetime_text(st.config.spa_refresh_token_lifetime_s),
                grant.auth_time
            ),
        ));
    }
    if unix_now() >= grant.expires_at {
        return Err(OAuthError::invalid_grant(
            700082,
            "The refresh token has expired due to inactivity.",
        ));
    }
    user_disabled(st)?;
    // A step-up the user owes is not satisfied by a refresh, whatever claims it carries.
    st.step_up_required()?;
    let mut scope_strings = match p.get("scope") {
        Some(s) => split_scopes(Some(s)),
        None => grant.scopes.clone(),
    };
    if !scope_strings.iter().any(|s| s == "offline_access") {
        scope_strings.push("offline_access".to_string());
    }
    let rs = ResourceScopes::parse(&scope_strings)?;
    if st.config.revoke_rotated_refresh_tokens {
        if let Some(g) = st.refresh_tokens.get_mut(&fp) {
            g.revoked = true;
        }
    }
    let user = st.config.user.clone();
    Ok(Plan {
        confidential: !app.is_public(),
        scopes: rs,
        scope_strings,
        user: Some((user, grant.auth_time)),
        nonce: None,
        cae,
        client_info: p.get("client_info") == Some("1"),
        app_roles: vec![],
        spa_refresh_expires_at: grant.spa.then_some(grant.expires_at),
    })
}

fn device_code(
    idp: &Idp,
    st: &mut TenantState,
    app: &AppRegistration,
    p: &Params,
    cae: bool,
) -> Result<Plan, OAuthError> {
    let dc = p
        .get("device_code")
        .or_else(|| p.get("code"))
        .ok_or_else(|| OAuthError::missing("device_code"))?
        .to_string();
    let now = unix_now();
    let now_us = idp.now_us();
    let enforce = st.config.device_enforce_interval;
    let g = st.device_codes.get_mut(&dc).ok_or_else(|| {
        OAuthError::invalid_grant(
            70000,
            "The provided value for the 'device_code' parameter is not valid.",
        )
    })?;
    if g.client_id != app.client_id {
        return Err(OAuthError::invalid_grant(
            70000,
            "The provided value for the 'device_code' parameter is not valid. It was issued to a different client.",
        ));
    }
    let last = g.last_poll_us.replace(now_us);
    if g.status == DeviceStatus::Redeemed {
        return Err(OAuthError::invalid_grant(
            54005,
            "The device code was already redeemed.",
        ));
    }
    if now >= g.expires_at {
        return Err(OAuthError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "expired_token",
            70019,
            "Verification code expired.",
        ));
    }
    if g.status == DeviceStatus::Denied {
        return Err(OAuthError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "access_denied",
            65004,
            "User declined to consent to access the app.",
        ));
    }
    if enforce {
        if let Some(last) = last {
            let min_gap = g.interval_s.saturating_mul(800_000);
            if now_us.saturating_sub(last) < min_gap {
                g.interval_s = g.interval_s.saturating_add(5);
                return Err(OAuthError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "slow_down",
                    70016,
                    format!(
                        "Polling too frequently; the interval is now {} seconds (RFC 8628 slow_down).",
                        g.interval_s
                    ),
                ));
            }
        }
    }
    let auth_time = match g.status {
        DeviceStatus::Approved(t) => t,
        _ => {
            return Err(OAuthError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "authorization_pending",
                70016,
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            ))
        }
    };
    let scope_strings = g.scopes.clone();
    user_disabled(st)?;
    let rs = ResourceScopes::parse(&scope_strings)?;
    if let Some(g) = st.device_codes.get_mut(&dc) {
        g.status = DeviceStatus::Redeemed;
    }
    let user = st.config.user.clone();
    Ok(Plan {
        confidential: !app.is_public(),
        scopes: rs,
        scope_strings,
        user: Some((user, auth_time)),
        nonce: None,
        cae,
        client_info: p.get("client_info") == Some("1"),
        app_roles: vec![],
        spa_refresh_expires_at: None,
    })
}

fn on_behalf_of(
    idp: &Idp,
    st: &mut TenantState,
    app: &AppRegistration,
    p: &Params,
    cae: bool,
) -> Result<Plan, OAuthError> {
    let use_ = p.require("requested_token_use")?;
    if use_ != "on_behalf_of" {
        return Err(OAuthError::invalid_request(
            70003,
            format!("The requested_token_use '{use_}' is not supported; expected 'on_behalf_of'."),
        ));
    }
    let assertion = p.require("assertion")?;
    let keys = st.keys.clone().unwrap_or_else(|| idp.keys.clone());
    let asserted = match keys.verify(assertion) {
        Ok(c) => c,
        Err(_) => match idp.lookup_opaque(assertion) {
            Some((_, c)) => c,
            None => {
                return Err(OAuthError::invalid_grant(
                    50013,
                    "Assertion failed signature validation.",
                ))
            }
        },
    };
    let exp = asserted.get("exp").and_then(|v| v.as_u64()).unwrap_or(0);
    if exp <= unix_now() {
        return Err(OAuthError::invalid_grant(
            500133,
            "Assertion is not within its valid time range.",
        ));
    }
    let aud = asserted
        .get("aud")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    if aud != app.client_id && aud != format!("api://{}", app.client_id) {
        return Err(OAuthError::invalid_grant(
            50013,
            format!("Assertion audience '{aud}' does not match the Client app presenting the assertion '{}'.", app.client_id),
        ));
    }
    if asserted.get("idtyp").and_then(|v| v.as_str()) == Some("app") {
        return Err(OAuthError::invalid_grant(
            50013,
            "Assertion contains an application token; on-behalf-of needs a user's token.",
        ));
    }
    user_disabled(st)?;
    // Nor by an exchange on the user's behalf.
    st.step_up_required()?;
    let scope_strings = split_scopes(Some(p.require("scope")?));
    let rs = ResourceScopes::parse(&scope_strings)?;
    let user = st.config.user.clone();
    let auth_time = asserted
        .get("iat")
        .and_then(|v| v.as_u64())
        .unwrap_or_else(unix_now);
    Ok(Plan {
        confidential: true,
        scopes: rs,
        scope_strings,
        user: Some((user, auth_time)),
        nonce: None,
        cae,
        client_info: p.get("client_info") == Some("1"),
        app_roles: vec![],
        spa_refresh_expires_at: None,
    })
}

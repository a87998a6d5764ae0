//! The authorize endpoint (auto sign-in of the default user, SSO cookie, `prompt` semantics,
//! PKCE, response modes) and the end-session endpoint.

use super::{cookie, Ctx};
use crate::error::OAuthError;
use crate::keys::random_text;
use crate::params::{read_body, Params};
use crate::request::{parse_claims, Facts};
use crate::state::{lock, unix_now, AuthCode, Idp, Session};
use crate::tokens::{client_info, ResourceScopes};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use std::sync::Arc;

/// The SSO cookie's name (Entra's is `ESTSAUTH`); its path is the tenant's, so tenants on one
/// server keep separate sessions.
pub const SESSION_COOKIE: &str = "ESTSAUTH";

async fn params_of(req: Request) -> Result<(Params, axum::http::HeaderMap), OAuthError> {
    let (parts, body) = req.into_parts();
    let mut params = if parts.method == Method::POST {
        let bytes = read_body(Body::new(body)).await?;
        Params::parse(&bytes)?
    } else {
        Params::default()
    };
    params.merge_query(parts.uri.query())?;
    Ok((params, parts.headers))
}

/// Where an error or a code goes once the redirect URI is trusted.
struct Reply<'a> {
    redirect_uri: &'a str,
    mode: &'a str,
    state: Option<&'a str>,
}

impl Reply<'_> {
    fn send(&self, mut pairs: Vec<(&str, String)>) -> Response {
        if let Some(s) = self.state {
            pairs.push(("state", s.to_string()));
        }
        if self.mode == "form_post" {
            let inputs: String = pairs
                .iter()
                .map(|(k, v)| {
                    format!(
                        "<input type=\"hidden\" name=\"{}\" value=\"{}\"/>",
                        html_escape(k),
                        html_escape(v)
                    )
                })
                .collect();
            let page = format!(
                "<html><head><title>Working...</title></head><body onload=\"document.forms[0].submit()\">\
                 <form method=\"POST\" name=\"hiddenform\" action=\"{}\">{inputs}\
                 <noscript><p>Script is disabled. Click Submit to continue.</p><input type=\"submit\" value=\"Submit\"/></noscript>\
                 </form></body></html>",
                html_escape(self.redirect_uri)
            );
            return Html(page).into_response();
        }
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            ser.append_pair(k, v);
        }
        let q = ser.finish();
        let sep = if self.mode == "fragment" {
            "#"
        } else if self.redirect_uri.contains('?') {
            "&"
        } else {
            "?"
        };
        let location = format!("{}{sep}{q}", self.redirect_uri);
        match HeaderValue::from_str(&location) {
            Ok(v) => {
                let mut resp = StatusCode::FOUND.into_response();
                resp.headers_mut().insert(header::LOCATION, v);
                resp
            }
            Err(_) => OAuthError::invalid_request(
                50011,
                "The redirect URI cannot be used in a Location header.",
            )
            .into_response(),
        }
    }

    fn error(&self, e: &OAuthError) -> Response {
        let body = e.body();
        let desc = body["error_description"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut pairs = vec![("error", e.error.to_string()), ("error_description", desc)];
        if let Some(s) = &e.suberror {
            pairs.push(("error_subcode", s.clone()));
        }
        if let Some(c) = &e.claims {
            pairs.push(("claims", c.clone()));
        }
        let mut resp = self.send(pairs);
        resp.extensions_mut().insert(crate::error::ErrorSummary {
            error: e.error.to_string(),
            codes: vec![e.code],
        });
        resp
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET|POST /{tenant}/oauth2/v2.0/authorize`.
pub async fn authorize(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    req: Request,
) -> Result<Response, OAuthError> {
    let (p, headers) = params_of(req).await?;
    Facts::of_form(&idp, &ctx.tenant, model::Endpoint::Authorize, &p, &headers).record(&ctx.record);
    let client_id = p.require("client_id")?.to_string();
    let app = idp
        .app_on_first_use(
            &client_id,
            p.get("redirect_uri"),
            crate::config::Credential::None,
        )
        .ok_or_else(|| OAuthError::unknown_client(&client_id, &ctx.tenant))?;
    let redirect_uri = p.require("redirect_uri")?.to_string();
    if !app.redirect_matches(&redirect_uri) {
        return Err(OAuthError::invalid_request(
            50011,
            format!(
                "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'."
            ),
        ));
    }
    let mode = p.get("response_mode").unwrap_or("query").to_string();
    let reply = Reply {
        redirect_uri: &redirect_uri,
        mode: if matches!(mode.as_str(), "query" | "fragment" | "form_post") {
            &mode
        } else {
            "query"
        },
        state: p.get("state"),
    };
    // From here the redirect URI is trusted: errors go back to it, as Entra does.
    let outcome = (|| -> Result<(Vec<String>, Option<serde_json::Value>), OAuthError> {
        if !matches!(mode.as_str(), "query" | "fragment" | "form_post") {
            return Err(OAuthError::invalid_request(
                900561,
                format!("The response_mode '{mode}' is not supported."),
            ));
        }
        let rt = p.require("response_type")?;
        if !rt.split(' ').any(|t| t == "code") {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_response_type",
                700054,
                format!("response_type '{rt}' is not enabled for the application."),
            ));
        }
        let scopes = crate::params::scopes(Some(p.require("scope")?));
        ResourceScopes::parse(&scopes)?;
        if let Some(m) = p.get("code_challenge_method") {
            if !matches!(m, "S256" | "plain") {
                return Err(OAuthError::invalid_request(
                    501491,
                    format!("Invalid code_challenge_method '{m}'."),
                ));
            }
        }
        if let Some(pr) = p.get("prompt") {
            if !matches!(
                pr,
                "none" | "login" | "consent" | "select_account" | "create"
            ) {
                return Err(OAuthError::invalid_request(
                    90023,
                    format!("Invalid prompt value '{pr}'."),
                ));
            }
        }
        let claims = parse_claims(p.get("claims"))?;
        Ok((scopes, claims))
    })();
    let (scopes, claims) = match outcome {
        Ok(v) => v,
        Err(e) => return Ok(reply.error(&e)),
    };

    let tenant = idp.tenant(&ctx.tenant);
    let prompt = p.get("prompt");
    let now = unix_now();
    let cookie_name = SESSION_COOKIE;
    let existing = cookie(&headers, cookie_name);
    let mut st = lock(&tenant.state);
    let user_disabled = st.config.user.disabled;
    let session = existing
        .as_ref()
        .and_then(|sid| st.sessions.get(sid).map(|s| (sid.clone(), s.clone())));
    if matches!(
        prompt,
        Some("login" | "consent" | "select_account" | "create")
    ) {
        st.forced_prompts += 1;
    }
    // A step-up the user owes (multi-factor authentication for a Conditional Access policy)
    // can't be satisfied silently, as in Entra: prompt=none with a session answers
    // interaction_required with the challenge, whatever claims the request carries.
    if prompt == Some("none") && session.is_some() && !user_disabled {
        if let Err(e) = st.step_up_required() {
            drop(st);
            return Ok(reply.error(&e));
        }
    }
    let (sid, auth_time, new_session) = match (prompt, session) {
        (_, _) if user_disabled => {
            drop(st);
            return Ok(reply.error(&OAuthError::new(
                StatusCode::BAD_REQUEST,
                "access_denied",
                50057,
                "The user account is disabled.",
            )));
        }
        (Some("none"), Some((sid, s))) => (sid, s.auth_time, false),
        (Some("none"), None) => {
            drop(st);
            return Ok(reply.error(&OAuthError::new(
                StatusCode::BAD_REQUEST,
                "login_required",
                50058,
                "A silent sign-in request was sent but no user is signed in.",
            )));
        }
        (Some("login"), _) | (_, None) => {
            let sid = random_text(24);
            st.sessions.insert(sid.clone(), Session { auth_time: now });
            (sid, now, true)
        }
        (_, Some((sid, s))) => (sid, s.auth_time, false),
    };
    if prompt != Some("none") {
        // The user is in front of the sign-in page: whatever step-up was owed, they did it.
        if let Some(done) = st.satisfy_step_up() {
            tracing::info!(
                tenant = %ctx.tenant,
                fault = %done.fault,
                claims_carried = carries(claims.as_ref(), done.claims.as_deref()),
                "an interactive sign-in satisfied the pending step-up"
            );
        }
    }
    let code = format!("1.A{}", random_text(64));
    let challenge = p.get("code_challenge").map(|c| {
        (
            c.to_string(),
            p.get("code_challenge_method")
                .unwrap_or("plain")
                .to_string(),
        )
    });
    st.codes.insert(
        code.clone(),
        AuthCode {
            client_id: client_id.clone(),
            redirect_uri: redirect_uri.clone(),
            scopes,
            challenge,
            nonce: p.get("nonce").map(str::to_string),
            claims,
            issued_at: now,
            auth_time,
            redeemed: false,
        },
    );
    let oid = st.config.user.oid.clone();
    drop(st);
    let mut pairs = vec![("code", code.clone())];
    if p.get("client_info") == Some("1") {
        pairs.push(("client_info", client_info(&oid, ctx.home_tenant(&idp))));
    }
    // Derived from the session id, never a part of it: it travels in URLs.
    pairs.push((
        "session_state",
        model::Fingerprint::of(&sid).as_str()[7..].to_string(),
    ));
    let mut resp = reply.send(pairs);
    ctx.record.update(|e| {
        e.issued.push(model::IssuedToken {
            kind: model::TokenKind::Code,
            fingerprint: model::Fingerprint::of(&code),
            uti: None,
            expires_in: None,
            refresh_in: None,
            scopes: vec![],
            audience: None,
            cae: false,
            opaque: true,
        })
    });
    if new_session {
        let secure = if idp.tls {
            "; Secure; SameSite=None"
        } else {
            "; SameSite=Lax"
        };
        let c = format!(
            "{cookie_name}={sid}; Path=/{}/; HttpOnly{secure}",
            ctx.tenant
        );
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(resp)
}

/// `GET|POST /{tenant}/oauth2/v2.0/logout`: ends the SSO session.
pub async fn logout(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    req: Request,
) -> Result<Response, OAuthError> {
    let (p, headers) = params_of(req).await?;
    if let Some(sid) = cookie(&headers, SESSION_COOKIE) {
        if let Some(t) = idp.existing_tenant(&ctx.tenant) {
            lock(&t.state).sessions.remove(&sid);
        }
    }
    let expire = format!(
        "{SESSION_COOKIE}=; Path=/{}/; Max-Age=0; HttpOnly",
        ctx.tenant
    );
    let mut resp = match p.get("post_logout_redirect_uri") {
        Some(uri) if idp.apps.iter().any(|a| a.redirect_matches(uri)) => {
            let mut r = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(uri) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
        Some(uri) => {
            return Err(OAuthError::invalid_request(
                50011,
                format!("The post_logout_redirect_uri '{uri}' is not registered."),
            ))
        }
        None => {
            Html("<html><body><p>You signed out of your account.</p></body></html>").into_response()
        }
    };
    if let Ok(v) = HeaderValue::from_str(&expire) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// Whether a request's `claims` carry a challenge: every claim the challenge names, with the
/// same request, for each token type it names.
fn carries(claims: Option<&serde_json::Value>, challenge: Option<&str>) -> bool {
    let Some(challenge) = challenge.and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
    else {
        return true;
    };
    let Some(sent) = claims else {
        return false;
    };
    challenge.as_object().is_some_and(|ch| {
        ch.iter().all(|(token, wanted)| {
            wanted.as_object().is_some_and(|w| {
                w.iter()
                    .all(|(name, req)| sent.get(token).and_then(|t| t.get(name)) == Some(req))
            })
        })
    })
}

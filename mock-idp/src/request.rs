//! Reading what a request says about itself: its client, grant, scopes, `prompt`, `claims`,
//! correlation id and library, and the token it presents. The routes and the fault layer read
//! requests through this one module, so a request a scripted fault answers is journaled with
//! the same facts as one its handler answered (rules keyed on a presented token's fingerprint
//! see both alike).
//!
//! This is a leaf: it depends on the parameters, the errors, the keys and the server state,
//! never on the routes or the fault layer.

use crate::error::OAuthError;
use crate::journal::Record;
use crate::keys::JwtError;
use crate::params::valid_tenant;
use crate::params::Params;
use crate::state::{Idp, OpaqueClaims};
use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use model::{Endpoint, Fingerprint, GrantType, PresentedToken, TokenKind};
use serde_json::Value;

/// The bearer token of an `Authorization` header.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// The client id and secret of a `client_secret_basic` `Authorization` header (each part
/// form-urlencoded, as RFC 6749 §2.3.1 says). `Ok(None)` without such a header; an error when
/// the header is Basic-shaped but malformed, or names another scheme.
pub fn basic_auth(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || {
        OAuthError::invalid_client(
            7000215,
            "Invalid client secret provided. The Authorization header is malformed.",
        )
    };
    let v = v.to_str().map_err(|_| bad())?;
    let Some((scheme, b64)) = v.split_once(' ') else {
        return Err(bad());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let raw = STANDARD.decode(b64.trim()).map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (id, secret) = raw.split_once(':').ok_or_else(bad)?;
    let dec = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((dec(id), dec(secret))))
}

/// The capabilities a `claims` request declares (`access_token.xms_cc.values`).
pub fn capabilities(claims: Option<&Value>) -> Vec<String> {
    claims
        .and_then(|c| c.get("access_token"))
        .and_then(|a| a.get("xms_cc"))
        .and_then(|x| x.get("values"))
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Parses a `claims` request parameter (AADSTS90014-style error when it is not a JSON object).
pub fn parse_claims(raw: Option<&str>) -> Result<Option<Value>, OAuthError> {
    match raw {
        None => Ok(None),
        Some(s) => match serde_json::from_str::<Value>(s) {
            Ok(v @ Value::Object(_)) => Ok(Some(v)),
            _ => Err(OAuthError::invalid_request(
                90014,
                "The claims request parameter is not a valid JSON object.",
            )),
        },
    }
}

/// The `claims` parameter as the journal keeps it: parsed when it is a JSON object, else the
/// text as sent (the handler refuses it, but rules still see what the client asked).
fn journal_claims(raw: Option<&str>) -> Option<Value> {
    let raw = raw?;
    match serde_json::from_str::<Value>(raw) {
        Ok(v @ Value::Object(_)) => Some(v),
        _ => Some(Value::String(raw.to_string())),
    }
}

/// Verifies an access token the mock issued: an opaque token it remembers, or a JWT signed
/// with the keys of the tenant it names (`tid`), else the server's keys.
pub fn verify_bearer(idp: &Idp, token: &str) -> Result<OpaqueClaims, JwtError> {
    if let Some((_, claims)) = idp.lookup_opaque(token) {
        return Ok(claims);
    }
    let tid = crate::keys::peek_claims(token)
        .ok()
        .and_then(|c| c.get("tid").and_then(Value::as_str).map(str::to_string));
    match tid {
        Some(t) if valid_tenant(&t) => idp.keys_for(&t).verify(token),
        _ => idp.keys.verify(token),
    }
}

/// A claim of a verified token, as text.
fn claim(c: Option<&OpaqueClaims>, name: &str) -> Option<String> {
    c.and_then(|c| c.get(name))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// What a request says about itself, as the journal records it.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Token requests: the grant.
    pub grant: Option<GrantType>,
    /// The client: `client_id` (body or query), the Basic header's, or a verified bearer
    /// token's `azp` (v2) or `appid` (v1).
    pub client_id: Option<String>,
    /// The `scope` parameter, split.
    pub scopes: Vec<String>,
    /// `prompt` (authorize).
    pub prompt: Option<String>,
    /// The `claims` parameter (parsed, or as text when it is not a JSON object).
    pub claims: Option<Value>,
    /// Capabilities the claims declare (`xms_cc`).
    pub capabilities: Vec<String>,
    /// `client-request-id` from the body or query (the journal layer has the header's).
    pub client_request_id: Option<String>,
    /// `x-client-SKU` from the body or query (the journal layer has the header's).
    pub client_sku: Option<String>,
    /// The credential presented: the refresh token, authorization code, device code or
    /// on-behalf-of assertion of a token request, or a bearer token.
    pub presented: Option<PresentedToken>,
    /// A verified bearer token's tenant (`tid`).
    pub tenant: Option<String>,
}

impl Facts {
    /// The facts of a form request (token, authorize, devicecode and the other identity
    /// provider endpoints) to `tenant`. Verifies an on-behalf-of assertion to read its `uti`,
    /// so it takes the tenant's lock: call it without holding that lock.
    pub fn of_form(
        idp: &Idp,
        tenant: &str,
        endpoint: Endpoint,
        p: &Params,
        headers: &HeaderMap,
    ) -> Facts {
        let grant = (endpoint == Endpoint::Token)
            .then(|| p.get("grant_type").map(GrantType::parse))
            .flatten();
        let client_id = p.get("client_id").map(str::to_string).or_else(|| {
            basic_auth(headers)
                .ok()
                .flatten()
                .map(|(id, _)| id)
                .filter(|id| !id.is_empty())
        });
        let claims = journal_claims(p.get("claims"));
        let presented = match &grant {
            Some(GrantType::RefreshToken) => p.get("refresh_token").map(|rt| PresentedToken {
                kind: TokenKind::Refresh,
                fingerprint: Fingerprint::of(rt),
                uti: None,
            }),
            Some(GrantType::AuthorizationCode) => p.get("code").map(|c| PresentedToken {
                kind: TokenKind::Code,
                fingerprint: Fingerprint::of(c),
                uti: None,
            }),
            Some(GrantType::DeviceCode) => {
                p.get("device_code")
                    .or_else(|| p.get("code"))
                    .map(|dc| PresentedToken {
                        kind: TokenKind::Code,
                        fingerprint: Fingerprint::of(dc),
                        uti: None,
                    })
            }
            Some(GrantType::JwtBearer) => p.get("assertion").map(|a| {
                let verified = if valid_tenant(tenant) {
                    idp.keys_for(tenant)
                        .verify(a)
                        .ok()
                        .or_else(|| idp.lookup_opaque(a).map(|(_, c)| c))
                } else {
                    None
                };
                PresentedToken {
                    kind: TokenKind::Access,
                    fingerprint: Fingerprint::of(a),
                    uti: claim(verified.as_ref(), "uti"),
                }
            }),
            _ => None,
        };
        Facts {
            grant,
            client_id,
            scopes: crate::params::scopes(p.get("scope")),
            prompt: (endpoint == Endpoint::Authorize)
                .then(|| p.get("prompt").map(str::to_string))
                .flatten(),
            capabilities: capabilities(claims.as_ref()),
            claims,
            client_request_id: p.get("client-request-id").map(str::to_string),
            client_sku: p.get("x-client-SKU").map(str::to_string),
            presented,
            tenant: None,
        }
    }

    /// The facts of a bearer request (Graph, UserInfo): the token's fingerprint, and for a
    /// token the mock issued, its `uti`, tenant and client. A forged token names no tenant or
    /// client, so it can't land in another tenant's journal.
    pub fn of_bearer(token: &str, verified: Option<&OpaqueClaims>) -> Facts {
        Facts {
            client_id: claim(verified, "azp").or_else(|| claim(verified, "appid")),
            presented: Some(PresentedToken {
                kind: TokenKind::Access,
                fingerprint: Fingerprint::of(token),
                uti: claim(verified, "uti"),
            }),
            tenant: claim(verified, "tid"),
            ..Facts::default()
        }
    }

    /// Writes the facts into the request's journal entry. The journal layer's header-borne
    /// correlation id and library stay unless the request also named them in its parameters
    /// (the correlation id: the header wins; the library: `x-client-SKU` wins over
    /// `User-Agent`).
    pub fn record(&self, record: &Record) {
        record.update(|e| {
            e.grant_type = self.grant.clone();
            e.client_id = self.client_id.clone();
            e.scopes = self.scopes.clone();
            e.prompt = self.prompt.clone();
            e.claims = self.claims.clone();
            e.client_capabilities = self.capabilities.clone();
            e.presented = self.presented.clone();
            if e.tenant.is_none() {
                e.tenant = self.tenant.clone();
            }
            if e.client_request_id.is_none() {
                e.client_request_id = self.client_request_id.clone();
            }
            if let Some(sku) = &self.client_sku {
                e.client_sku = Some(sku.clone());
            }
        });
    }
}

/// The client id of the system-assigned managed identity the mock issues tokens to.
pub const MANAGED_IDENTITY_CLIENT_ID: &str = "8e7d6c5b-4a39-4281-9f0e-1d2c3b4a5f60";

/// Whether `path` is a managed-identity token endpoint.
pub fn is_managed_identity(path: &str) -> bool {
    path.ends_with("/msi/token") || path.ends_with("/metadata/identity/oauth2/token")
}

/// What a managed-identity request says, for the journal and for choosing a fault: the grant,
/// the identity (a user-assigned one's `client_id`, or the system-assigned one's) and the
/// resource as a `.default` scope.
pub fn managed_identity_facts(tenant: &str, query: Option<&str>) -> Facts {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_decodes_form_encoded_parts() {
        let mut h = HeaderMap::new();
        let v = format!("Basic {}", STANDARD.encode("my%20app:s%3Acret"));
        h.insert(header::AUTHORIZATION, v.parse().expect("header"));
        assert_eq!(
            basic_auth(&h).expect("ok"),
            Some(("my app".to_string(), "s:cret".to_string()))
        );
        h.insert(header::AUTHORIZATION, "Basic !!".parse().expect("header"));
        assert!(basic_auth(&h).is_err());
        assert_eq!(basic_auth(&HeaderMap::new()).expect("ok"), None);
    }

    #[test]
    fn claims_that_are_not_json_are_journaled_as_text() {
        assert_eq!(
            journal_claims(Some("{\"a\":1}")),
            Some(serde_json::json!({"a": 1}))
        );
        assert_eq!(
            journal_claims(Some("nope")),
            Some(Value::String("nope".into()))
        );
        assert_eq!(journal_claims(None), None);
    }
}

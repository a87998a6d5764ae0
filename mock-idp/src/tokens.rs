//! Minting tokens: Entra v2 access and ID tokens (RS256 JWTs, or opaque strings for audiences a
//! scenario makes opaque), refresh tokens, `client_info`, and the token response body.

use crate::config::{OverageStyle, TenantConfig, UserConfig, GRAPH_RESOURCE};
use crate::error::OAuthError;
use crate::keys::random_text;
use crate::state::{unix_now, Idp, RefreshGrant};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use model::{Fingerprint, IssuedToken, TokenKind};
use serde_json::{json, Map, Value};

/// OIDC scopes that name no resource.
pub const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "offline_access", "email"];

/// The resource and permission names a set of scopes asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceScopes {
    /// The resource (audience), e.g. `https://graph.microsoft.com` or `api://app`.
    pub resource: String,
    /// Permission names without the resource prefix (`User.Read`, `.default`).
    pub permissions: Vec<String>,
    /// The OIDC scopes asked for.
    pub oidc: Vec<String>,
}

impl ResourceScopes {
    /// Splits scopes into one resource's permissions and OIDC scopes. Scopes for more than one
    /// resource are refused as Entra does (AADSTS28000). No resource scope means Graph.
    pub fn parse(scopes: &[String]) -> Result<Self, OAuthError> {
        let mut resource: Option<String> = None;
        let mut permissions = Vec::new();
        let mut oidc = Vec::new();
        for s in scopes {
            if OIDC_SCOPES.contains(&s.as_str()) {
                if !oidc.contains(s) {
                    oidc.push(s.clone());
                }
                continue;
            }
            let (res, perm) = split_scope(s);
            match &resource {
                Some(r) if *r != res => {
                    return Err(OAuthError::invalid_scope(
                        28000,
                        "Provided value for the input parameter scope is not valid because it \
                         contains more than one resource. Scope "
                            .to_string()
                            + &scopes.join(" ")
                            + " is not valid.",
                    ))
                }
                _ => resource = Some(res),
            }
            if !permissions.contains(&perm) {
                permissions.push(perm);
            }
        }
        Ok(ResourceScopes {
            resource: resource.unwrap_or_else(|| GRAPH_RESOURCE.to_string()),
            permissions,
            oidc,
        })
    }

    /// Whether `.default` was asked for.
    pub fn is_default(&self) -> bool {
        self.permissions.iter().any(|p| p == ".default")
    }
}

fn split_scope(s: &str) -> (String, String) {
    if let Some(i) = s.find("://") {
        if let Some(j) = s[i + 3..].rfind('/') {
            let cut = i + 3 + j;
            return (s[..cut].to_string(), s[cut + 1..].to_string());
        }
        return (s.to_string(), ".default".to_string());
    }
    if let Some((res, perm)) = s.split_once('/') {
        let res = if res == crate::config::GRAPH_APP_ID {
            GRAPH_RESOURCE.to_string()
        } else {
            res.to_string()
        };
        return (res, perm.to_string());
    }
    (GRAPH_RESOURCE.to_string(), s.to_string())
}

/// `base64url({"uid":oid,"utid":tid})`.
pub fn client_info(oid: &str, tid: &str) -> String {
    B64.encode(json!({"uid": oid, "utid": tid}).to_string())
}

/// The `sub` Entra would give: pairwise per user and app.
fn pairwise_sub(oid: &str, client_id: &str) -> String {
    let d = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{oid}|{client_id}").as_bytes(),
    );
    B64.encode(&d.as_ref()[..32])
}

/// A stable object id for an app's service principal.
pub fn service_principal_oid(client_id: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, client_id.as_bytes());
    let b = d.as_ref();
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-4{:01x}{:02x}-8{:01x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[0], b[1], b[2], b[3], b[4], b[5], b[6] & 0xf, b[7], b[8] & 0xf, b[9], b[10], b[11], b[12], b[13], b[14], b[15]
    )
}

/// Who the token is for.
pub enum Subject<'a> {
    /// A user (delegated flows), with the Unix time they signed in.
    User(&'a UserConfig, u64),
    /// The app itself (client credentials).
    App,
}

/// What to issue.
pub struct Request<'a> {
    /// The keys to sign with (the tenant's).
    pub keys: &'a crate::keys::KeySet,
    /// The base URL the client reached the mock by (`https://localhost:PORT`), for `iss`.
    pub base: &'a str,
    /// The tenant (also `tid`).
    pub tenant: &'a str,
    /// The client the tokens go to.
    pub client_id: &'a str,
    /// Whether the client is confidential (`azpacr` 1).
    pub confidential: bool,
    /// The scopes asked for (after validation).
    pub scopes: &'a ResourceScopes,
    /// The original scope strings (echoed back).
    pub scope_strings: &'a [String],
    /// User or app.
    pub subject: Subject<'a>,
    /// The authorize `nonce`.
    pub nonce: Option<&'a str>,
    /// The client declared `cp1`.
    pub cae: bool,
    /// `client_info=1` was asked for.
    pub client_info: bool,
    /// App roles of the app (client credentials).
    pub app_roles: &'a [String],
    /// The `claims` request parameter (a CAE challenge's `nbf` floor is honoured).
    pub claims_request: Option<&'a Value>,
    /// A single-page app's refresh token is issued, with this fixed Unix expiry (`None`: an
    /// ordinary refresh token, living `refresh_token_lifetime_s` from now).
    pub spa_refresh_expires_at: Option<u64>,
}

/// The `access_token.nbf.value` a claims request (a CAE challenge answered) asks for.
fn nbf_floor(claims: Option<&Value>) -> u64 {
    let v = claims
        .and_then(|c| c.get("access_token"))
        .and_then(|a| a.get("nbf"))
        .and_then(|n| n.get("value"));
    match v {
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        _ => 0,
    }
}

/// A minted token response.
pub struct Minted {
    /// The JSON body.
    pub body: Value,
    /// What the journal records.
    pub issued: Vec<IssuedToken>,
    /// The refresh token's grant, for the caller to store in the tenant's state.
    pub refresh: Option<(Fingerprint, RefreshGrant)>,
}

fn group_claims(claims: &mut Map<String, Value>, cfg: &TenantConfig, base: &str) {
    let user = &cfg.user;
    if user.groups.is_empty() {
        return;
    }
    if user.groups.len() > cfg.groups_overage_limit {
        match cfg.overage_style {
            OverageStyle::ClaimSources => {
                claims.insert("_claim_names".into(), json!({"groups": "src1"}));
                claims.insert(
                    "_claim_sources".into(),
                    json!({"src1": {"endpoint": format!("{}/users/{}/getMemberObjects", crate::impersonate::graph_root(base), user.oid)}}),
                );
            }
            OverageStyle::Hasgroups => {
                claims.insert("hasgroups".into(), json!(true));
            }
        }
    } else {
        claims.insert(
            "groups".into(),
            json!(user.groups.iter().map(|g| g.id.clone()).collect::<Vec<_>>()),
        );
    }
}

/// Mints an access token (and, for user flows with `openid`, an ID token; with
/// `offline_access`, a refresh token whose grant the caller stores). Signing is the expensive
/// part, so this takes no lock: callers decide under the tenant's lock, then mint outside it.
pub fn mint(idp: &Idp, cfg: &TenantConfig, req: &Request<'_>) -> Minted {
    // A token answering a CAE challenge is issued no earlier than the revocation it answers,
    // as Entra does; everything else is issued now.
    let now = unix_now().max(nbf_floor(req.claims_request).min(unix_now() + 1));
    let lifetime = if req.cae {
        cfg.cae_access_token_lifetime_s
            .unwrap_or(cfg.access_token_lifetime_s)
    } else {
        cfg.access_token_lifetime_s
    };
    let iss = format!("{}/{}/v2.0", req.base, req.tenant);
    let at_uti = random_text(16);
    let mut at = Map::new();
    at.insert("aud".into(), json!(req.scopes.resource));
    at.insert("iss".into(), json!(iss));
    at.insert("iat".into(), json!(now));
    at.insert("nbf".into(), json!(now));
    at.insert("exp".into(), json!(now.saturating_add(lifetime)));
    at.insert("aio".into(), json!(random_text(24)));
    at.insert("azp".into(), json!(req.client_id));
    at.insert(
        "azpacr".into(),
        json!(if req.confidential { "1" } else { "0" }),
    );
    at.insert("rh".into(), json!(format!("0.{}.", random_text(12))));
    at.insert("tid".into(), json!(req.tenant));
    at.insert("uti".into(), json!(at_uti));
    at.insert("ver".into(), json!("2.0"));
    if req.cae {
        at.insert("xms_cc".into(), json!(["cp1"]));
    }
    match &req.subject {
        Subject::User(user, _) => {
            at.insert("idtyp".into(), json!("user"));
            at.insert("name".into(), json!(user.name));
            at.insert("oid".into(), json!(user.oid));
            at.insert("preferred_username".into(), json!(user.username));
            at.insert("sub".into(), json!(pairwise_sub(&user.oid, req.client_id)));
            let scp: Vec<&str> = req
                .scopes
                .permissions
                .iter()
                .map(String::as_str)
                .filter(|p| *p != ".default")
                .chain(
                    req.scopes
                        .oidc
                        .iter()
                        .map(String::as_str)
                        .filter(|s| *s != "offline_access"),
                )
                .collect();
            // `.default` (or no permission at all) stands for the consented permission.
            let mut scp = scp;
            if !req.scopes.permissions.iter().any(|p| p != ".default") {
                scp.insert(0, "User.Read");
            }
            let scp = scp.join(" ");
            at.insert("scp".into(), json!(scp));
            if !user.roles.is_empty() {
                at.insert("roles".into(), json!(user.roles));
            }
            group_claims(&mut at, cfg, req.base);
        }
        Subject::App => {
            let sp = service_principal_oid(req.client_id);
            at.insert("idtyp".into(), json!("app"));
            at.insert("oid".into(), json!(sp));
            at.insert("sub".into(), json!(sp));
            if !req.app_roles.is_empty() {
                at.insert("roles".into(), json!(req.app_roles));
            }
        }
    }
    for (k, v) in &cfg.extra_access_token_claims {
        at.insert(k.clone(), v.clone());
    }
    let opaque = cfg
        .opaque_access_token_audiences
        .contains(&req.scopes.resource);
    let access_token = if opaque {
        let t = format!("EwB{}", random_text(96));
        idp.remember_opaque(&t, req.tenant, at.clone());
        t
    } else {
        req.keys.sign(&at)
    };

    let mut refresh = None;
    let mut body = json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access_token,
    });
    let mut issued = vec![IssuedToken {
        kind: TokenKind::Access,
        fingerprint: Fingerprint::of(&access_token),
        uti: Some(at_uti),
        expires_in: Some(lifetime),
        refresh_in: None,
        scopes: req.scope_strings.to_vec(),
        audience: Some(req.scopes.resource.clone()),
        cae: req.cae,
        opaque,
    }];
    if let Some(r) = cfg.refresh_in_s.filter(|r| *r < lifetime) {
        body["refresh_in"] = json!(r);
        issued[0].refresh_in = Some(r);
    }

    if let Subject::User(user, auth_time) = &req.subject {
        let mut echo: Vec<String> = Vec::new();
        for s in req.scope_strings {
            if !echo.contains(s) {
                echo.push(s.clone());
            }
        }
        body["scope"] = json!(echo.join(" "));
        if req.scopes.oidc.iter().any(|s| s == "openid") {
            let mut id = Map::new();
            let id_uti = random_text(16);
            id.insert("aud".into(), json!(req.client_id));
            id.insert("iss".into(), json!(iss));
            id.insert("iat".into(), json!(now));
            id.insert("nbf".into(), json!(now));
            id.insert(
                "exp".into(),
                json!(now.saturating_add(cfg.id_token_lifetime_s)),
            );
            id.insert("name".into(), json!(user.name));
            id.insert("oid".into(), json!(user.oid));
            id.insert("preferred_username".into(), json!(user.username));
            id.insert("rh".into(), json!(format!("0.{}.", random_text(12))));
            id.insert("sub".into(), json!(pairwise_sub(&user.oid, req.client_id)));
            id.insert("tid".into(), json!(req.tenant));
            id.insert("uti".into(), json!(id_uti));
            id.insert("ver".into(), json!("2.0"));
            id.insert("auth_time".into(), json!(auth_time));
            if let Some(n) = req.nonce {
                id.insert("nonce".into(), json!(n));
            }
            if !user.roles.is_empty() {
                id.insert("roles".into(), json!(user.roles));
            }
            group_claims(&mut id, cfg, req.base);
            for (k, v) in &cfg.extra_id_token_claims {
                id.insert(k.clone(), v.clone());
            }
            let id_token = req.keys.sign(&id);
            issued.push(IssuedToken {
                kind: TokenKind::Id,
                fingerprint: Fingerprint::of(&id_token),
                uti: Some(id_uti),
                expires_in: Some(cfg.id_token_lifetime_s),
                refresh_in: None,
                scopes: vec![],
                audience: Some(req.client_id.to_string()),
                cae: false,
                opaque: false,
            });
            body["id_token"] = json!(id_token);
        }
        if req.scopes.oidc.iter().any(|s| s == "offline_access") {
            let rt = format!("1.A{}", random_text(96));
            let fp = Fingerprint::of(&rt);
            let rt_expires_at = req
                .spa_refresh_expires_at
                .unwrap_or_else(|| now.saturating_add(cfg.refresh_token_lifetime_s));
            let rt_lifetime = rt_expires_at.saturating_sub(now);
            refresh = Some((
                fp.clone(),
                RefreshGrant {
                    client_id: req.client_id.to_string(),
                    scopes: req.scope_strings.to_vec(),
                    issued_at: now,
                    expires_at: rt_expires_at,
                    revoked: false,
                    auth_time: *auth_time,
                    spa: req.spa_refresh_expires_at.is_some(),
                },
            ));
            issued.push(IssuedToken {
                kind: TokenKind::Refresh,
                fingerprint: fp,
                uti: None,
                expires_in: Some(rt_lifetime),
                refresh_in: None,
                scopes: req.scope_strings.to_vec(),
                audience: None,
                cae: req.cae,
                opaque: true,
            });
            body["refresh_token"] = json!(rt);
            body["refresh_token_expires_in"] = json!(rt_lifetime);
        }
        if req.client_info {
            body["client_info"] = json!(client_info(&user.oid, req.tenant));
        }
    }
    Minted {
        body,
        issued,
        refresh,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn scopes_name_one_resource() {
        let r = ResourceScopes::parse(&s(&[
            "https://graph.microsoft.com/User.Read",
            "openid",
            "offline_access",
        ]))
        .expect("ok");
        assert_eq!(r.resource, "https://graph.microsoft.com");
        assert_eq!(r.permissions, s(&["User.Read"]));
        assert_eq!(r.oidc, s(&["openid", "offline_access"]));
        let r = ResourceScopes::parse(&s(&["api://my-api/.default"])).expect("ok");
        assert_eq!(r.resource, "api://my-api");
        assert!(r.is_default());
        let r = ResourceScopes::parse(&s(&["User.Read"])).expect("ok");
        assert_eq!(r.resource, GRAPH_RESOURCE);
        let e = ResourceScopes::parse(&s(&["api://a/x", "https://graph.microsoft.com/User.Read"]))
            .expect_err("two resources");
        assert_eq!(e.code, 28000);
    }

    #[test]
    fn service_principal_ids_look_like_guids() {
        let id = service_principal_oid("abc");
        assert_eq!(id.len(), 36);
        assert_eq!(id, service_principal_oid("abc"));
    }
}

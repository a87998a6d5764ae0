//! The mock Microsoft Graph under `/graph/v1.0` and the UserInfo endpoint.
//!
//! Graph serves `me` and `users/{id}` (with `$expand=memberOf`), the group memberships a
//! client reads on a groups overage (`memberOf`, `transitiveMemberOf`, each with its
//! `microsoft.graph.group` cast, paged with `@odata.nextLink`; `getMemberObjects`,
//! `getMemberGroups`), `appRoleAssignments`, and JSON batching (`$batch`). Every request
//! validates the bearer token (signature, audience, lifetime, CAE revocation) and answers 401
//! with Graph's `WWW-Authenticate`, including Entra's `insufficient_claims` challenge.

use super::Ctx;
use crate::config::{TenantConfig, GRAPH_APP_ID, GRAPH_RESOURCE};
use crate::error::GraphError;
use crate::impersonate::graph_root;
use crate::params::read_body;
use crate::request::{bearer, verify_bearer, Facts};
use crate::state::{lock, unix_now, Idp};
use axum::body::Body;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Graph's routes, nested under `/graph/v1.0`.
pub fn router() -> Router<Arc<Idp>> {
    Router::new()
        .route("/me", get(user))
        .route("/me/memberOf", get(member_of))
        .route("/me/memberOf/microsoft.graph.group", get(member_of))
        .route("/me/transitiveMemberOf", get(member_of))
        .route(
            "/me/transitiveMemberOf/microsoft.graph.group",
            get(member_of),
        )
        .route("/me/getMemberObjects", post(get_member_objects))
        .route("/me/getMemberGroups", post(get_member_groups))
        .route("/me/appRoleAssignments", get(app_role_assignments))
        .route("/users/{id}", get(user))
        .route("/users/{id}/memberOf", get(member_of))
        .route("/users/{id}/memberOf/microsoft.graph.group", get(member_of))
        .route("/users/{id}/transitiveMemberOf", get(member_of))
        .route(
            "/users/{id}/transitiveMemberOf/microsoft.graph.group",
            get(member_of),
        )
        .route("/users/{id}/getMemberObjects", post(get_member_objects))
        .route("/users/{id}/getMemberGroups", post(get_member_groups))
        .route("/$batch", post(super::batch::batch))
        .fallback(graph_not_found)
}

const AUTHORIZATION_URI: &str = "https://login.microsoftonline.com/common/oauth2/authorize";

fn unauthorized(message: impl Into<String>) -> GraphError {
    let mut e = GraphError::new(
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationToken",
        message,
    );
    e.www_authenticate = Some(format!(
        "Bearer realm=\"\", authorization_uri=\"{AUTHORIZATION_URI}\", client_id=\"{GRAPH_APP_ID}\""
    ));
    e
}

/// The claims challenge Entra's CAE sends for tokens issued before a revocation.
pub fn cae_challenge(revoked_at: u64) -> (String, String) {
    let claims = format!(
        "{{\"access_token\":{{\"nbf\":{{\"essential\":true, \"value\":\"{revoked_at}\"}}}}}}"
    );
    let header = format!(
        "Bearer realm=\"\", authorization_uri=\"{AUTHORIZATION_URI}\", client_id=\"{GRAPH_APP_ID}\", error=\"insufficient_claims\", claims=\"{}\"",
        STANDARD.encode(&claims)
    );
    (header, claims)
}

/// A validated caller.
pub struct Caller {
    /// The token's claims.
    pub claims: Map<String, Value>,
    /// That tenant's configuration.
    pub config: TenantConfig,
}

impl Caller {
    fn is_user(&self) -> bool {
        self.claims.get("idtyp").and_then(Value::as_str) != Some("app")
    }
}

/// Validates the bearer token for Graph or UserInfo and records who presented what.
pub fn validate(idp: &Idp, ctx: &Ctx, headers: &HeaderMap) -> Result<Caller, GraphError> {
    let token = bearer(headers).ok_or_else(|| unauthorized("Access token is empty."))?;
    let verified = verify_bearer(idp, &token);
    Facts::of_bearer(&token, verified.as_ref().ok()).record(&ctx.record);
    let claims = verified.map_err(|e| match e {
        crate::keys::JwtError::Malformed => unauthorized(
            "IDX14100: JWT is not well formed, there are no dots (.). The token needs to be in JWS or JWE Compact Serialization Format.",
        ),
        crate::keys::JwtError::BadSignature => {
            unauthorized("Access token validation failure. Invalid signature.")
        }
    })?;
    let aud = claims
        .get("aud")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if aud != GRAPH_RESOURCE && aud != GRAPH_APP_ID {
        return Err(unauthorized(
            "Access token validation failure. Invalid audience.",
        ));
    }
    let now = unix_now();
    let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
    if exp <= now {
        return Err(unauthorized(
            "Lifetime validation failed, the token is expired.",
        ));
    }
    let nbf = claims.get("nbf").and_then(Value::as_u64).unwrap_or(0);
    if nbf > now + 300 {
        return Err(unauthorized(
            "Lifetime validation failed, the token is not yet valid.",
        ));
    }
    let tenant = claims
        .get("tid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let t = idp.tenant(&tenant);
    let st = lock(&t.state);
    let iat = claims.get("iat").and_then(Value::as_u64).unwrap_or(0);
    let uti = claims
        .get("uti")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let cae = claims
        .get("xms_cc")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|v| v == "cp1"));
    if let Some(revoked) = st.cae_revoked_before {
        if cae && st.cae_revoked(iat, uti) {
            let (header, _) = cae_challenge(revoked);
            let mut e = GraphError::new(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp",
            );
            e.www_authenticate = Some(header);
            return Err(e);
        }
    }
    Ok(Caller {
        claims,
        config: st.config.clone(),
    })
}

fn user_object(base: &str, c: &TenantConfig) -> Value {
    let u = &c.user;
    json!({
        "@odata.context": format!("{}/$metadata#users/$entity", graph_root(base)),
        "businessPhones": [],
        "displayName": u.name,
        "givenName": u.given_name,
        "jobTitle": null,
        "mail": u.username,
        "mobilePhone": null,
        "officeLocation": null,
        "preferredLanguage": "en-US",
        "surname": u.family_name,
        "userPrincipalName": u.username,
        "id": u.oid,
    })
}

fn delegated_only(caller: &Caller) -> Result<(), GraphError> {
    if caller.is_user() {
        Ok(())
    } else {
        Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        ))
    }
}

/// The OData cast segment that keeps only groups.
const GROUP_CAST: &str = "/microsoft.graph.group";

/// The most related objects `$expand` returns for a directory object (Graph sends no
/// `@odata.nextLink` for them).
const EXPAND_MAX: usize = 20;

/// The path under `/graph/v1.0` (as sent, still percent-encoded).
fn graph_path(ctx: &Ctx) -> String {
    ctx.record
        .read(|e| e.path.trim_start_matches("/graph/v1.0").to_string())
}

/// Checks that the caller may read the path's user: `/me/...` needs a user's (delegated)
/// token, `/users/{id}/...` a known user.
fn check_subject(caller: &Caller, ctx: &Ctx) -> Result<(), GraphError> {
    if graph_path(ctx).starts_with("/users/") {
        check_user_id(caller, &path_user_id(ctx))
    } else {
        delegated_only(caller)
    }
}

/// A group as a member of a `directoryObjects` collection names its type; in a collection
/// cast to groups it needs not.
fn group_item(g: &crate::config::Group, typed: bool) -> Value {
    let mut v = json!({
        "id": g.id,
        "displayName": g.display_name,
        "securityEnabled": true,
        "mailEnabled": false,
    });
    if typed {
        v["@odata.type"] = json!("#microsoft.graph.group");
    }
    v
}

/// `GET /me`, `GET /users/{id}`, with `$expand=memberOf` (or `transitiveMemberOf`).
async fn user(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, GraphError> {
    let caller = validate(&idp, &ctx, &headers)?;
    check_subject(&caller, &ctx)?;
    let mut body = user_object(&ctx.base, &caller.config);
    let expand = form_urlencoded::parse(q.as_deref().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "$expand" || k == "expand")
        .map(|(_, v)| v.into_owned());
    if let Some(expand) = expand {
        let mut names = Vec::new();
        for item in split_top_level(&expand) {
            let name = item.split('(').next().unwrap_or_default().trim();
            let canonical = ["memberOf", "transitiveMemberOf"]
                .into_iter()
                .find(|n| n.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    GraphError::new(
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        format!("Could not find a property named '{name}' on type 'microsoft.graph.user'."),
                    )
                })?;
            let items: Vec<Value> = caller
                .config
                .user
                .groups
                .iter()
                .take(EXPAND_MAX)
                .map(|g| group_item(g, true))
                .collect();
            body[canonical] = json!(items);
            names.push(format!("{canonical}()"));
        }
        body["@odata.context"] = json!(format!(
            "{}/$metadata#users({})/$entity",
            graph_root(&ctx.base),
            names.join(",")
        ));
    }
    Ok(Json(body).into_response())
}

/// Splits an OData list on the commas outside parentheses
/// (`memberOf($select=id,displayName),manager` is two items).
fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter().filter(|x| !x.trim().is_empty()).collect()
}

/// One page of the user's groups. A `directoryObjects` collection types each member; the
/// `microsoft.graph.group` cast is a `groups` collection.
fn page(base: &str, caller: &Caller, path: &str, query: Option<&str>) -> Value {
    let cast = path.ends_with(GROUP_CAST);
    let mut top = caller.config.graph_page_size.max(1);
    let mut skip = 0usize;
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "$top" => top = v.parse().unwrap_or(top).clamp(1, 999),
            "$skiptoken" => skip = v.parse().unwrap_or(0),
            _ => {}
        }
    }
    let groups = &caller.config.user.groups;
    let skip = skip.min(groups.len());
    let items: Vec<Value> = groups
        .iter()
        .skip(skip)
        .take(top)
        .map(|g| group_item(g, !cast))
        .collect();
    let set = if cast { "groups" } else { "directoryObjects" };
    let mut body = json!({
        "@odata.context": format!("{}/$metadata#{set}", graph_root(base)),
        "value": items,
    });
    let next = skip.saturating_add(top);
    if next < groups.len() {
        body["@odata.nextLink"] = json!(format!(
            "{}{path}?$top={top}&$skiptoken={next}",
            graph_root(base)
        ));
    }
    body
}

/// `memberOf` and `transitiveMemberOf` of `/me` or `/users/{id}`, and their group casts.
/// The mock's user is directly in each of its groups, so both are the same list.
async fn member_of(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, GraphError> {
    let caller = validate(&idp, &ctx, &headers)?;
    check_subject(&caller, &ctx)?;
    let path = graph_path(&ctx);
    Ok(Json(page(&ctx.base, &caller, &path, q.as_deref())).into_response())
}

fn check_user_id(caller: &Caller, id: &str) -> Result<(), GraphError> {
    let u = &caller.config.user;
    if id == u.oid || id.eq_ignore_ascii_case(&u.username) {
        Ok(())
    } else {
        Err(GraphError::new(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
        ))
    }
}

/// The body of `getMemberObjects` / `getMemberGroups`: `{"securityEnabledOnly": bool}`
/// (required for `getMemberGroups`).
fn member_ids_request(bytes: &[u8], required: bool) -> Result<(), GraphError> {
    let bad = |m: &str| GraphError::new(StatusCode::BAD_REQUEST, "BadRequest", m);
    if bytes.is_empty() {
        return if required {
            Err(bad(
                "The request body must contain the parameter 'securityEnabledOnly'.",
            ))
        } else {
            Ok(())
        };
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => match m.get("securityEnabledOnly") {
            Some(v) if !v.is_boolean() => Err(bad("securityEnabledOnly must be a boolean.")),
            None if required => Err(bad(
                "The request body must contain the parameter 'securityEnabledOnly'.",
            )),
            _ => Ok(()),
        },
        _ => Err(bad(
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        )),
    }
}

/// `POST .../getMemberObjects` and `.../getMemberGroups`: the ids of the user's groups
/// (every mock group is a security group, so `securityEnabledOnly` changes nothing).
async fn member_ids(
    idp: &Idp,
    ctx: &Ctx,
    req: Request,
    required: bool,
) -> Result<Response, GraphError> {
    let (parts, body) = req.into_parts();
    let caller = validate(idp, ctx, &parts.headers)?;
    check_subject(&caller, ctx)?;
    let bytes = read_body(Body::new(body)).await.map_err(|_| {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "The request body is too large.",
        )
    })?;
    member_ids_request(&bytes, required)?;
    let ids: Vec<&str> = caller
        .config
        .user
        .groups
        .iter()
        .map(|g| g.id.as_str())
        .collect();
    Ok(Json(json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)",
        "value": ids,
    }))
    .into_response())
}

async fn get_member_objects(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    req: Request,
) -> Result<Response, GraphError> {
    member_ids(&idp, &ctx, req, false).await
}

async fn get_member_groups(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    req: Request,
) -> Result<Response, GraphError> {
    member_ids(&idp, &ctx, req, true).await
}

/// The `{id}` of `/graph/v1.0/users/{id}/...`, percent-decoded.
fn path_user_id(ctx: &Ctx) -> String {
    let raw = ctx
        .record
        .read(|e| e.path.split('/').nth(4).unwrap_or_default().to_string());
    percent_decode(&raw)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn stable_guid(seed: &str) -> String {
    crate::tokens::service_principal_oid(seed)
}

async fn app_role_assignments(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    let caller = validate(&idp, &ctx, &headers)?;
    delegated_only(&caller)?;
    let u = &caller.config.user;
    let items: Vec<Value> = u
        .roles
        .iter()
        .map(|r| {
            json!({
                "id": stable_guid(&format!("assignment|{}|{r}", u.oid)),
                "appRoleId": stable_guid(&format!("role|{r}")),
                "principalDisplayName": u.name,
                "principalId": u.oid,
                "principalType": "User",
                "resourceDisplayName": "tokenstorm app",
                "resourceId": stable_guid("resource"),
                "appRoleValue": r,
            })
        })
        .collect();
    Ok(Json(json!({
        "@odata.context": format!("{}/$metadata#users('{}')/appRoleAssignments", graph_root(&ctx.base), u.oid),
        "value": items,
    }))
    .into_response())
}

async fn graph_not_found(ctx: Ctx) -> Response {
    let seg = ctx
        .record
        .read(|e| e.path.rsplit('/').next().unwrap_or_default().to_string());
    GraphError::new(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        format!("Resource not found for the segment '{seg}'."),
    )
    .into_response()
}

/// `GET|POST /oidc/userinfo`.
pub async fn userinfo(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    headers: HeaderMap,
) -> Result<Response, GraphError> {
    let caller = validate(&idp, &ctx, &headers)?;
    delegated_only(&caller)?;
    let u = &caller.config.user;
    Ok(Json(json!({
        "sub": caller.claims.get("sub").cloned().unwrap_or(Value::Null),
        "name": u.name,
        "family_name": u.family_name,
        "given_name": u.given_name,
        "picture": format!("{}/me/photo/$value", graph_root(&ctx.base)),
        "email": u.username,
    }))
    .into_response())
}

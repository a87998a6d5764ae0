//! The scenario format: a YAML timeline of faults, events, token shaping and client steps.
//! Defined once here; the mock replays it, the harness drives it, and `tokenstorm scenarios
//! schema` prints its JSON Schema.
//!
//! ```yaml
//! name: throttle-429-short
//! summary: The token endpoint throttles twice with Retry-After 3 s.
//! flow: client_credentials
//! rules: [throttle.retry-after, client.liveness]
//! faults:
//!   - endpoint: token
//!     calls: "1..2"
//!     respond: { status: 429, retry_after: 3s }
//! steps:
//!   - acquire_token: {}
//!     repeat: { count: 6, every: 1s }
//!     expect: either
//! ```

mod at;
pub mod bounds;
pub mod duration;
mod parse;

pub use at::At;
pub use duration::Dur;
pub use parse::{parse, parse_file, schema, ScenarioError, ScenarioErrors, SHOWN_ERRORS};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Unique name, lowercase words joined by `-` (also the journal's file name).
    pub name: At<String>,
    /// One or two sentences: the bad day this scenario plays.
    pub summary: String,
    /// Free tags for `--filter` (themes: cache, throttling, outage, cae, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The flow the client must run.
    pub flow: At<Flow>,
    /// Client features the steps need (a client lacking one is not applicable).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<At<Feature>>,
    /// The rules this scenario exercises, with per-scenario parameters.
    pub rules: Vec<At<RuleRef>>,
    /// Token shaping for this scenario's tenant.
    #[serde(default, skip_serializing_if = "TokenShaping::is_default")]
    pub tokens: TokenShaping,
    /// How the harness plays the user.
    #[serde(default, skip_serializing_if = "UserPlay::is_default")]
    pub user: UserPlay,
    /// Scripted responses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<At<Fault>>,
    /// Things that happen to the world: revocations, rotations, outages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<At<Event>>,
    /// What the application asks of the client, in order.
    pub steps: Vec<At<Step>>,
}

/// The OAuth flow a scenario drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    /// Client credentials (confidential client, app tokens).
    ClientCredentials,
    /// Authorization code + PKCE (public client, a user).
    AuthCode,
    /// Device code (public client, a user).
    DeviceCode,
    /// On-behalf-of (confidential middle tier).
    Obo,
}

impl Flow {
    /// The name in the driver protocol.
    pub fn as_str(self) -> &'static str {
        match self {
            Flow::ClientCredentials => "client_credentials",
            Flow::AuthCode => "auth_code",
            Flow::DeviceCode => "device_code",
            Flow::Obo => "obo",
        }
    }

    /// Whether a user signs in.
    pub fn is_user(self) -> bool {
        !matches!(self, Flow::ClientCredentials)
    }
}

/// A client feature (declared in the driver protocol's hello).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// Persists its cache in the state directory.
    Persist,
    /// Answers `whoami`.
    Whoami,
    /// Answers `call_api`.
    CallApi,
    /// Handles CAE claims challenges.
    Cae,
    /// Finds its endpoints by OpenID discovery (a client with built-in endpoints never asks
    /// for it, so scenarios about discovery can't judge it).
    Discovery,
    /// Runs in a browser as a single-page app: redeems codes cross-origin (so its refresh
    /// tokens are SPA ones, with a fixed life) and signs in silently in a hidden iframe.
    Spa,
}

impl Feature {
    /// The name in the driver protocol.
    pub fn as_str(self) -> &'static str {
        match self {
            Feature::Persist => "persist",
            Feature::Whoami => "whoami",
            Feature::CallApi => "call_api",
            Feature::Cae => "cae",
            Feature::Discovery => "discovery",
            Feature::Spa => "spa",
        }
    }
}

/// A rule the scenario exercises: its ID, or its ID with parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RuleRef {
    /// Just the ID.
    Id(String),
    /// The ID with parameters.
    WithParams(RuleParams),
}

impl RuleRef {
    /// The rule ID.
    pub fn id(&self) -> &str {
        match self {
            RuleRef::Id(s) => s,
            RuleRef::WithParams(p) => &p.id,
        }
    }

    /// The parameters (defaults when given as a bare ID).
    pub fn params(&self) -> RuleParams {
        match self {
            RuleRef::Id(s) => RuleParams {
                id: s.clone(),
                ..RuleParams::default()
            },
            RuleRef::WithParams(p) => p.clone(),
        }
    }
}

/// Per-scenario rule parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleParams {
    /// The rule ID.
    pub id: String,
    /// A request counts as early only if it comes more than this before a deadline (50ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<Dur>,
    /// Renewal is allowed in the last part of a token's life (300s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_window: Option<Dur>,
}

/// Token shaping for the scenario's tenant.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenShaping {
    /// Access-token lifetime (`expires_in`); Entra: about an hour.
    #[serde(
        default,
        deserialize_with = "bounds::access_token_lifetime",
        skip_serializing_if = "Option::is_none"
    )]
    pub access_token_lifetime: Option<Dur>,
    /// `refresh_in` sent with access tokens.
    #[serde(
        default,
        deserialize_with = "bounds::refresh_in",
        skip_serializing_if = "Option::is_none"
    )]
    pub refresh_in: Option<Dur>,
    /// Refresh-token lifetime.
    #[serde(
        default,
        deserialize_with = "bounds::refresh_token_lifetime",
        skip_serializing_if = "Option::is_none"
    )]
    pub refresh_token_lifetime: Option<Dur>,
    /// The fixed lifetime of a single-page app's refresh tokens (those redeemed cross-origin by
    /// a browser); Entra: 24 hours from the sign-in, never extended by refreshing.
    #[serde(
        default,
        deserialize_with = "bounds::spa_refresh_token_lifetime",
        skip_serializing_if = "Option::is_none"
    )]
    pub spa_refresh_token_lifetime: Option<Dur>,
    /// Lifetime of CAE tokens (issued when the client declared `cp1`); Entra: up to 28h.
    #[serde(
        default,
        deserialize_with = "bounds::cae_lifetime",
        skip_serializing_if = "Option::is_none"
    )]
    pub cae_lifetime: Option<Dur>,
    /// Audiences whose access tokens are opaque strings, not JWTs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub opaque_for: Vec<String>,
    /// How many groups the user is in (generated ids); over 200 is an overage.
    #[serde(
        default,
        deserialize_with = "bounds::groups",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 0, max = 10_000))]
    pub groups: Option<usize>,
    /// App roles of the user (user flows) or of the app (client credentials).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// How an overage is signalled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overage: Option<Overage>,
    /// Extra claims merged into access tokens.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra_access_token_claims: BTreeMap<String, serde_json::Value>,
    /// Extra claims merged into ID tokens.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra_id_token_claims: BTreeMap<String, serde_json::Value>,
    /// Device-code polling interval (whole seconds).
    #[serde(
        default,
        deserialize_with = "bounds::device_interval",
        skip_serializing_if = "Option::is_none"
    )]
    pub device_interval: Option<Dur>,
    /// Device-code lifetime.
    #[serde(
        default,
        deserialize_with = "bounds::device_code_lifetime",
        skip_serializing_if = "Option::is_none"
    )]
    pub device_code_lifetime: Option<Dur>,
}

impl TokenShaping {
    fn is_default(&self) -> bool {
        *self == TokenShaping::default()
    }
}

/// How a groups overage is signalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Overage {
    /// `_claim_names` / `_claim_sources`.
    ClaimSources,
    /// `hasgroups: true`.
    Hasgroups,
}

/// How the harness plays the user and the browser.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPlay {
    /// At an interactive sign-in: `sign_in` (default) or `cancel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interactive: Option<Interactive>,
    /// For a device code: `approve` (default), `deny`, or `ignore` (let it expire).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_code: Option<DeviceAnswer>,
    /// Wait this long before approving a device code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_code_delay: Option<Dur>,
    /// The user's browser and third-party cookies: `allowed` (default) or `blocked`, when a
    /// hidden iframe (MSAL.js's silent `prompt=none`) carries no SSO cookie and the silent
    /// sign-in answers `login_required`, as in browsers that block them (Safari, Firefox's
    /// strict mode, Chrome with the setting on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub third_party_cookies: Option<ThirdPartyCookies>,
}

/// Whether the user's browser sends cookies in third-party contexts (iframes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ThirdPartyCookies {
    /// Sent (the default).
    Allowed,
    /// Not sent, nor stored.
    Blocked,
}

impl UserPlay {
    fn is_default(&self) -> bool {
        *self == UserPlay::default()
    }
}

/// The user at an interactive prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Interactive {
    /// Signs in.
    SignIn,
    /// Closes the window.
    Cancel,
}

/// The user's answer to a device code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceAnswer {
    /// Approves.
    Approve,
    /// Declines.
    Deny,
    /// Never answers.
    Ignore,
}

/// The endpoints a fault can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FaultEndpoint {
    /// The token endpoint (all grants).
    Token,
    /// The authorize endpoint.
    Authorize,
    /// The device-code endpoint.
    Devicecode,
    /// OpenID discovery.
    Discovery,
    /// The JWKS.
    Keys,
    /// UserInfo.
    Userinfo,
    /// Anything under the Graph URL (narrow with `path`).
    Graph,
}

impl FaultEndpoint {
    /// The journal's endpoint for this.
    pub fn endpoint(self) -> crate::Endpoint {
        use crate::Endpoint as E;
        match self {
            FaultEndpoint::Token => E::Token,
            FaultEndpoint::Authorize => E::Authorize,
            FaultEndpoint::Devicecode => E::Devicecode,
            FaultEndpoint::Discovery => E::Discovery,
            FaultEndpoint::Keys => E::Keys,
            FaultEndpoint::Userinfo => E::Userinfo,
            FaultEndpoint::Graph => E::Graph,
        }
    }
}

/// A grant, for selecting token requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantSel {
    /// `client_credentials`
    ClientCredentials,
    /// `authorization_code`
    AuthorizationCode,
    /// `refresh_token`
    RefreshToken,
    /// Device code (either spelling).
    DeviceCode,
    /// On-behalf-of.
    JwtBearer,
}

impl GrantSel {
    /// Whether a journal grant is this one.
    pub fn matches(self, g: &crate::GrantType) -> bool {
        use crate::GrantType as G;
        matches!(
            (self, g),
            (GrantSel::ClientCredentials, G::ClientCredentials)
                | (GrantSel::AuthorizationCode, G::AuthorizationCode)
                | (GrantSel::RefreshToken, G::RefreshToken)
                | (GrantSel::DeviceCode, G::DeviceCode)
                | (GrantSel::JwtBearer, G::JwtBearer)
        )
    }
}

/// A scripted response for matching requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// A label (shown in journals and reports); defaults to `fault-N`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Which endpoint.
    pub endpoint: At<FaultEndpoint>,
    /// For `graph`: only paths starting with this (after the Graph URL), e.g. `/me/memberOf`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Only these calls to the endpoint, counted from 1 in this tenant over every request to
    /// that endpoint (whatever this fault's other filters): `"2"`, `"1..3"`, `"4.."`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls: Option<At<String>>,
    /// Only from this long after the scenario's start (the tenant's first request, or when
    /// the harness starts it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Dur>,
    /// Only until this long after the scenario's start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<At<Dur>>,
    /// Only token requests of this grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<GrantSel>,
    /// Only requests with a scope containing this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Only requests from this client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// Only after the named event has fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_event: Option<At<String>>,
    /// Only this fraction of matching requests (deterministic with `seed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<At<f64>>,
    /// Seed for `probability`.
    #[serde(
        default,
        deserialize_with = "bounds::seed",
        skip_serializing_if = "Option::is_none"
    )]
    pub seed: Option<u64>,
    /// What to answer.
    pub respond: Respond,
}

/// What a fault answers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Respond {
    /// HTTP status (default 400 with `error`, else 503).
    #[serde(
        default,
        deserialize_with = "bounds::status",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 100, max = 599))]
    pub status: Option<u16>,
    /// `Retry-After` to send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<Dur>,
    /// Send `Retry-After` as an HTTP-date instead of seconds.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retry_after_http_date: bool,
    /// The OAuth error (`invalid_grant`, `interaction_required`, ...), in Entra's JSON shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The AADSTS code of `error`.
    #[serde(
        default,
        deserialize_with = "bounds::aadsts",
        skip_serializing_if = "Option::is_none"
    )]
    pub aadsts: Option<u32>,
    /// The error's description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Entra's `suberror` (`basic_action`, `bad_token`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suberror: Option<String>,
    /// A claims challenge in the error (`interaction_required`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<String>,
    /// Extra response headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// A JSON body to send verbatim (instead of the generated error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// A broken body: `malformed_json` (200 with invalid JSON), `missing_access_token` (200
    /// without it), `truncated` (cut off mid-body, then the connection closes),
    /// `gateway_html` (a proxy's HTML 502), `empty`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mangle: Option<Mangle>,
    /// Wait this long, then answer (normally, unless something else is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Dur>,
    /// Say nothing until the client gives up (`until_disconnect`) or for a time, then answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stall: Option<Stall>,
    /// Send the (normal) answer slowly: `bytes` at a time, `every` apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dribble: Option<Dribble>,
    /// Break the connection: `reset` (TCP RST) or `close` (FIN, no response).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<ConnectionFault>,
    /// Answer normally (with `delay` or `dribble`) instead of an error.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pass_through: bool,
}

/// A broken body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mangle {
    /// 200 with invalid JSON.
    MalformedJson,
    /// 200 with valid JSON lacking `access_token`.
    MissingAccessToken,
    /// Content-Length promises more than is sent; the connection closes.
    Truncated,
    /// A proxy's HTML 502 page.
    GatewayHtml,
    /// An empty body.
    Empty,
}

/// How long to stall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stall {
    /// Until the client closes the connection.
    UntilDisconnect,
    /// For a time, then answer.
    For(Dur),
}

impl Serialize for Stall {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Stall::UntilDisconnect => s.serialize_str("until_disconnect"),
            Stall::For(d) => d.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Stall {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "until_disconnect" {
            return Ok(Stall::UntilDisconnect);
        }
        match duration::parse(&s) {
            Ok(x) if x.is_zero() => Err(serde::de::Error::custom(
                "`stall` is zero: it must be longer than 0, or until_disconnect",
            )),
            Ok(x) => Ok(Stall::For(Dur(x))),
            Err(e) => Err(serde::de::Error::custom(format!(
                "{e}, or until_disconnect"
            ))),
        }
    }
}

impl JsonSchema for Stall {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Stall".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^(until_disconnect|[0-9]+(\\.[0-9]+)?(ms|s|m|h|d))$",
            "description": "until_disconnect, or a duration",
        })
    }
}

/// A slow body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dribble {
    /// Bytes per piece.
    #[serde(deserialize_with = "bounds::dribble_bytes")]
    #[schemars(range(min = 1, max = 1_048_576))]
    pub bytes: usize,
    /// Time between pieces.
    #[serde(deserialize_with = "bounds::dribble_every")]
    pub every: Dur,
}

/// A connection-level fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionFault {
    /// TCP reset.
    Reset,
    /// Close without a response.
    Close,
}

/// Something that happens to the world.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Unique name (faults' `after_event` and steps' `fire` name it).
    pub name: At<String>,
    /// When, after the scenario's start (omit to fire only from a step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Dur>,
    /// What happens.
    #[serde(rename = "do")]
    pub action: EventAction,
    /// For `set_groups`: the new number of groups.
    #[serde(
        default,
        deserialize_with = "bounds::groups",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 0, max = 10_000))]
    pub groups: Option<usize>,
    /// For `set_roles`: the new roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// For `outage`: how long.
    #[serde(
        default,
        deserialize_with = "bounds::outage_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<Dur>,
    /// For `outage`: which endpoints (default: token).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<FaultEndpoint>,
}

/// What an event does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventAction {
    /// Ends SSO sessions and revokes refresh tokens.
    RevokeSessions,
    /// Revokes refresh tokens.
    RevokeRefreshTokens,
    /// The resource rejects CAE tokens issued before now with an `insufficient_claims`
    /// challenge.
    CaeRevoke,
    /// A new signing key (the old one stays published).
    RotateKeys,
    /// Changes the user's groups (`groups: N`).
    SetGroups,
    /// Changes the user's roles (`roles: [...]`).
    SetRoles,
    /// Disables the user.
    DisableUser,
    /// Enables the user.
    EnableUser,
    /// 503 on `endpoints` for `duration`.
    Outage,
}

/// One step for the client.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The app needs a token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquire_token: Option<AcquireToken>,
    /// The app calls the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_api: Option<CallApi>,
    /// The app asks who is signed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whoami: Option<Empty>,
    /// Nothing happens for a while.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<Dur>,
    /// The client process is restarted (same state directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<Empty>,
    /// The browser's SSO cookie is cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_sso: Option<Empty>,
    /// Fires the named event now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fire: Option<At<String>>,
    /// Repeat the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<Repeat>,
    /// Send this many copies at once.
    #[serde(
        default,
        deserialize_with = "bounds::concurrency",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 1, max = 1_000))]
    pub concurrency: Option<u32>,
    /// The answer expected (default `ok`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
    /// Deadline for each command (default 60s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Dur>,
}

impl Step {
    /// The operation's name, or `None` when the step has none or several.
    pub fn op(&self) -> Option<&'static str> {
        let ops = self.ops();
        (ops.len() == 1).then(|| ops[0])
    }

    /// Every operation set on the step.
    pub fn ops(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.acquire_token.is_some() {
            v.push("acquire_token");
        }
        if self.call_api.is_some() {
            v.push("call_api");
        }
        if self.whoami.is_some() {
            v.push("whoami");
        }
        if self.wait.is_some() {
            v.push("wait");
        }
        if self.restart.is_some() {
            v.push("restart");
        }
        if self.clear_sso.is_some() {
            v.push("clear_sso");
        }
        if self.fire.is_some() {
            v.push("fire");
        }
        v
    }
}

/// An empty argument (`whoami: {}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// `acquire_token` arguments.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcquireToken {
    /// Scopes (default: the scenario flow's default scopes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

/// `call_api` arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallApi {
    /// HTTP method (default GET).
    #[serde(default = "get")]
    pub method: String,
    /// Path under the Graph URL, e.g. `/me`.
    pub path: String,
}

fn get() -> String {
    "GET".to_string()
}

/// How a step repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    /// How many times in all.
    #[serde(
        default,
        deserialize_with = "bounds::repeat_count",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 1, max = 100_000))]
    pub count: Option<u32>,
    /// For how long.
    #[serde(
        default,
        rename = "for",
        deserialize_with = "bounds::repeat_for",
        skip_serializing_if = "Option::is_none"
    )]
    pub for_: Option<Dur>,
    /// Time between starts.
    #[serde(deserialize_with = "bounds::repeat_every")]
    pub every: Dur,
}

/// The answer a step expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// Success.
    Ok,
    /// Failure.
    Error,
    /// Either: the step is not judged by its answers (a fault window, where a correct client
    /// may serve a token or refuse).
    Either,
    /// The step follows a fault window and must recover: at least one of its answers (over its
    /// repeats and copies) succeeds. Give the step a repeat long enough for any conformant
    /// back-off to end within it.
    Recovers,
}

impl Scenario {
    /// A rough wall time: waits and repeats along the steps, plus the time faults hold
    /// requests (a timed stall or delay; `until_disconnect` counts the step's deadline) and
    /// the user's delay before answering a device code.
    pub fn expected_duration(&self) -> std::time::Duration {
        let mut total = std::time::Duration::ZERO;
        let deadline = self
            .steps
            .iter()
            .filter_map(|s| s.deadline)
            .max()
            .map_or(std::time::Duration::from_secs(60), |d| d.0);
        for f in &self.faults {
            let r = &f.respond;
            total = total.saturating_add(match r.stall {
                Some(Stall::For(d)) => d.0,
                Some(Stall::UntilDisconnect) => deadline,
                None => std::time::Duration::ZERO,
            });
            total = total.saturating_add(r.delay.map_or(std::time::Duration::ZERO, |d| d.0));
        }
        if let Some(d) = self.user.device_code_delay {
            total = total.saturating_add(d.0);
        }
        for s in &self.steps {
            if let Some(w) = s.wait {
                total = total.saturating_add(w.0);
            }
            if let Some(r) = s.repeat {
                total = total.saturating_add(match (r.count, r.for_) {
                    (_, Some(f)) => f.0,
                    (Some(n), None) => r.every.0.saturating_mul(n.saturating_sub(1)),
                    (None, None) => std::time::Duration::ZERO,
                });
            }
        }
        total
    }

    /// Whether any step has this operation.
    pub fn has_step(&self, op: &str) -> bool {
        self.steps.iter().any(|s| s.ops().contains(&op))
    }

    /// The declared features.
    pub fn feature_set(&self) -> Vec<Feature> {
        self.features.iter().map(|f| f.value).collect()
    }
}

/// A call-number range: `"3"`, `"1..3"` (inclusive), `"4.."`, `"..2"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallRange {
    /// First call (from 1).
    pub from: u64,
    /// Last call, inclusive (`None`: no end).
    pub to: Option<u64>,
}

impl CallRange {
    /// Parses the text form.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("'{s}' is not a call range: expected \"3\", \"1..3\", \"4..\" or \"..2\" (calls count from 1)")
        };
        let t = s.trim();
        let num = |x: &str| x.trim().parse::<u64>().map_err(|_| bad());
        let r = match t.split_once("..") {
            None => {
                let n = num(t)?;
                CallRange {
                    from: n,
                    to: Some(n),
                }
            }
            Some((a, b)) => CallRange {
                from: if a.trim().is_empty() { 1 } else { num(a)? },
                to: if b.trim().is_empty() {
                    None
                } else {
                    Some(num(b)?)
                },
            },
        };
        if r.from == 0 || r.to.is_some_and(|to| to < r.from) {
            return Err(bad());
        }
        Ok(r)
    }

    /// Whether call `n` (from 1) is in range.
    pub fn contains(&self, n: u64) -> bool {
        n >= self.from && self.to.is_none_or(|to| n <= to)
    }
}

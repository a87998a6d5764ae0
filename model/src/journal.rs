//! The journal: one typed event per request that reached the mock. It is the one interface
//! between running and judging: the mock writes it, rules and reports only read it.
//!
//! Times are microseconds on the mock's monotonic clock, counted from the server's start, so
//! differences between entries are exact whatever the wall clock does.

use crate::{Endpoint, Fingerprint};
use serde::{Deserialize, Serialize};

/// How a response ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Completion {
    /// The whole response was handed to the connection.
    Sent,
    /// The client closed the connection (or gave up) before the response was complete.
    ClientDisconnected,
    /// The mock closed or reset the connection on purpose (an injected fault).
    Aborted,
    /// Refused below the router, before any endpoint saw it: a malformed or oversized request
    /// head (answered with HTTP's bare 400, 414 or 431), or a head not sent within the time
    /// allowed (the connection closed; `status` 408). Method and path are unknown.
    Refused,
}

/// The OAuth grant of a token request, normalised (both device-code spellings are one grant).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// `client_credentials`
    ClientCredentials,
    /// `authorization_code`
    AuthorizationCode,
    /// `refresh_token`
    RefreshToken,
    /// `urn:ietf:params:oauth:grant-type:device_code` or `device_code`
    DeviceCode,
    /// `urn:ietf:params:oauth:grant-type:jwt-bearer` (on-behalf-of)
    JwtBearer,
    /// A managed identity's token, from the instance metadata service or App Service's
    /// identity endpoint (no `grant_type` on the wire).
    ManagedIdentity,
    /// Anything else, as sent.
    Other(String),
}

impl GrantType {
    /// Normalises a `grant_type` parameter.
    pub fn parse(s: &str) -> Self {
        match s {
            "client_credentials" => GrantType::ClientCredentials,
            "authorization_code" => GrantType::AuthorizationCode,
            "refresh_token" => GrantType::RefreshToken,
            "urn:ietf:params:oauth:grant-type:device_code" | "device_code" => GrantType::DeviceCode,
            "urn:ietf:params:oauth:grant-type:jwt-bearer" => GrantType::JwtBearer,
            other => GrantType::Other(other.to_string()),
        }
    }
}

/// What kind of token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// An access token.
    Access,
    /// A refresh token.
    Refresh,
    /// An ID token.
    Id,
    /// An authorization code.
    Code,
}

/// A token the mock issued in a response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedToken {
    /// Access, refresh or ID token.
    pub kind: TokenKind,
    /// Its fingerprint (never the token).
    pub fingerprint: Fingerprint,
    /// The `uti` claim, for JWTs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uti: Option<String>,
    /// Lifetime in seconds from issuance (`expires_in`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    /// `refresh_in`, when the response carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_in: Option<u64>,
    /// Scopes the token was issued for (access tokens).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// The audience (access tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Whether the token is a CAE token (issued to a client that declared `cp1`).
    #[serde(default)]
    pub cae: bool,
    /// Whether the access token is opaque (not a JWT).
    #[serde(default)]
    pub opaque: bool,
}

/// A token the client presented (a bearer token to the API or UserInfo, or a refresh token,
/// authorization code, device code or assertion to the token endpoint).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresentedToken {
    /// What was presented.
    pub kind: TokenKind,
    /// Its fingerprint.
    pub fingerprint: Fingerprint,
    /// The `uti` claim when the mock could read one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uti: Option<String>,
}

/// A scenario event that fired on the mock (at its time, or at the harness's `fire` step).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FiredEvent {
    /// The event's name.
    pub name: String,
    /// What it did (`cae_revoke`, ...).
    pub action: String,
    /// Microseconds from server start.
    pub at_us: u64,
}

/// One request that reached the mock, and what happened to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Arrival order across the whole server, from 0.
    pub seq: u64,
    /// The tenant path segment, or the tenant of the presented token for Graph and UserInfo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Microseconds from server start at which the request head arrived.
    pub arrived_us: u64,
    /// Microseconds from server start at which the response was fully sent, or at which the
    /// client disconnected, or at which the mock aborted the connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_us: Option<u64>,
    /// How the exchange ended.
    pub completion: Completion,
    /// The HTTP method.
    pub method: String,
    /// The path (no query string: queries can carry secrets).
    pub path: String,
    /// Which endpoint.
    pub endpoint: Endpoint,
    /// The HTTP version the client spoke.
    pub http_version: String,
    /// Token requests: the grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_type: Option<GrantType>,
    /// The client id (body, query or Basic header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Requested scopes (`scope` parameter), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// `prompt` on authorize requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// The `claims` request parameter, parsed (or as a string when it was not JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<serde_json::Value>,
    /// Client capabilities declared through `claims` (`xms_cc`), e.g. `["cp1"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_capabilities: Vec<String>,
    /// The client's correlation id (`client-request-id` header, query or body).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_request_id: Option<String>,
    /// The library that sent it, from MSAL's `x-client-SKU` (header or body) or `User-Agent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_sku: Option<String>,
    /// What the client presented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presented: Option<PresentedToken>,
    /// HTTP status sent (0 when no response head was sent).
    pub status: u16,
    /// Response headers that rules and reviewers care about (`retry-after`,
    /// `www-authenticate`, `content-type`, `location` with codes redacted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_headers: Vec<(String, String)>,
    /// The OAuth `error` (or Graph error code) the response carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// AADSTS codes of the error.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_codes: Vec<u32>,
    /// Tokens issued in the response.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issued: Vec<IssuedToken>,
    /// The scripted fault applied to this request, if any (a label from the scenario).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// A Graph JSON batch (`POST /graph/v1.0/$batch`): the path of each request inside it, in
    /// the batch's order, as `path` would be for the request sent alone
    /// (`/graph/v1.0/me/memberOf`, no query string). The inner requests have no entries of
    /// their own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batch_paths: Vec<String>,
}

impl JournalEntry {
    /// The value of a recorded response header (case-insensitive name).
    pub fn response_header(&self, name: &str) -> Option<&str> {
        self.response_headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Seconds from server start at which the request arrived.
    pub fn arrived_secs(&self) -> f64 {
        self.arrived_us as f64 / 1e6
    }

    /// Whether the client got the whole answer. Not when it gave up on an answer a scripted
    /// fault slowed (a dribbled body it stopped reading) or the fault cut short: the tokens
    /// minted for it never reached the client. Without a fault an answer counts as delivered.
    pub fn delivered(&self) -> bool {
        self.completion == Completion::Sent || self.fault.is_none()
    }

    /// The token of a kind the answer delivered, if any (see [`JournalEntry::delivered`]);
    /// `issued` lists what was minted, delivered or not.
    pub fn issued_of(&self, kind: TokenKind) -> Option<&IssuedToken> {
        if !self.delivered() {
            return None;
        }
        self.issued.iter().find(|t| t.kind == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_device_code_spellings_are_one_grant() {
        assert_eq!(GrantType::parse("device_code"), GrantType::DeviceCode);
        assert_eq!(
            GrantType::parse("urn:ietf:params:oauth:grant-type:device_code"),
            GrantType::DeviceCode
        );
        assert_eq!(
            GrantType::parse("password"),
            GrantType::Other("password".into())
        );
    }

    #[test]
    fn entry_round_trips_through_json() {
        let e = JournalEntry {
            seq: 3,
            tenant: Some("t1".into()),
            arrived_us: 1_500_000,
            finished_us: Some(1_502_000),
            completion: Completion::Sent,
            method: "POST".into(),
            path: "/t1/oauth2/v2.0/token".into(),
            endpoint: Endpoint::Token,
            http_version: "HTTP/1.1".into(),
            grant_type: Some(GrantType::ClientCredentials),
            client_id: Some("c".into()),
            scopes: vec!["https://graph.microsoft.com/.default".into()],
            prompt: None,
            claims: None,
            client_capabilities: vec![],
            client_request_id: None,
            client_sku: None,
            presented: None,
            status: 429,
            response_headers: vec![("retry-after".into(), "3".into())],
            error: Some("temporarily_unavailable".into()),
            error_codes: vec![50196],
            issued: vec![],
            fault: Some("throttle".into()),
            batch_paths: vec![],
        };
        let s = serde_json::to_string(&e).expect("serialize");
        let back: JournalEntry = serde_json::from_str(&s).expect("parse");
        assert_eq!(back, e);
        assert_eq!(back.response_header("Retry-After"), Some("3"));
        assert!((back.arrived_secs() - 1.5).abs() < 1e-9);
        // Entries written before batch_paths existed still read, and an empty list is not
        // written.
        assert!(!s.contains("batch_paths"));
        let mut batched = e.clone();
        batched.batch_paths = vec!["/graph/v1.0/me/memberOf".into()];
        let s = serde_json::to_string(&batched).expect("serialize");
        assert!(
            s.contains("\"batch_paths\":[\"/graph/v1.0/me/memberOf\"]"),
            "{s}"
        );
        assert_eq!(
            serde_json::from_str::<JournalEntry>(&s).expect("parse"),
            batched
        );
    }
}

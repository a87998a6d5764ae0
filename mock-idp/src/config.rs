//! Configuration: the app registrations (server-wide) and each tenant's user, lifetimes and
//! token shaping. Scenarios compile into [`TenantConfig`]; the admin API accepts it as JSON.

use serde::{Deserialize, Serialize};

/// The default tenant id.
pub const DEFAULT_TENANT: &str = "7e5a4b1c-2f3d-4e6a-9b8c-0d1e2f3a4b5c";
/// The confidential client's id.
pub const CONFIDENTIAL_CLIENT_ID: &str = "3f2c8a1e-5b7d-4c9e-8a6f-1d2e3b4c5a60";
/// The public client's id.
pub const PUBLIC_CLIENT_ID: &str = "9b1d4e7a-2c6f-4a8b-9e3d-5f7a1c2b4d80";
/// The public client's registered redirect URI (loopback: any port matches).
pub const PUBLIC_REDIRECT_URI: &str = "http://localhost/callback";
/// Microsoft Graph's application id, an accepted Graph audience.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// Microsoft Graph's resource URI.
pub const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";

/// An app registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRegistration {
    /// Application (client) id.
    pub client_id: String,
    /// The secret of a confidential client; `None` for a public client.
    pub secret: Option<String>,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// App roles granted to the app itself (client credentials tokens' `roles`).
    pub app_roles: Vec<String>,
    /// Redirect URIs registered on the single-page-application platform: codes sent to them
    /// may be redeemed cross-origin (a browser's `fetch` with an `Origin`), and the refresh
    /// tokens issued that way are SPA refresh tokens (a fixed 24-hour life, redeemable only
    /// cross-origin), as in Entra.
    #[serde(default)]
    pub spa_redirect_uris: Vec<String>,
    /// Authenticates with a certificate (a `client_assertion` JWT) instead of a secret.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub certificate: bool,
    /// The thumbprints of its certificates (SHA-1 as Entra shows them, hex; or the base64url
    /// `x5t` / `x5t#S256` of an assertion's header): an assertion must name one of them. Empty:
    /// any certificate (an app registered on first use).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificate_thumbprints: Vec<String>,
    /// Registered on first use (impersonation): its credential is the first one it presents,
    /// and it learns each redirect URI it uses.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub first_use: bool,
}

/// The credential a token request presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    /// `client_secret` (body or Basic).
    Secret(&'a str),
    /// `client_assertion` (a signed JWT).
    Assertion(&'a str),
    /// Nothing (a public client).
    None,
}

impl AppRegistration {
    /// Whether this is a public client.
    pub fn is_public(&self) -> bool {
        self.secret.is_none() && !self.certificate
    }

    /// Whether `uri` matches a registered redirect URI: exactly, or for a registered loopback
    /// URI (`http://localhost`, `http://127.0.0.1`, `http://[::1]`) with any port (RFC 8252).
    pub fn redirect_matches(&self, uri: &str) -> bool {
        self.redirect_uris
            .iter()
            .any(|r| r == uri || loopback_equal_ignoring_port(r, uri))
    }

    /// Whether `uri` matches a redirect URI registered on the single-page-application platform
    /// (as [`AppRegistration::redirect_matches`] does).
    pub fn spa_redirect_matches(&self, uri: &str) -> bool {
        self.spa_redirect_uris
            .iter()
            .any(|r| r == uri || loopback_equal_ignoring_port(r, uri))
    }
}

fn loopback_equal_ignoring_port(registered: &str, given: &str) -> bool {
    // Parsed, not split: `http://localhost:1@evil.test/` has the host `evil.test`.
    let (Ok(r), Ok(g)) = (url::Url::parse(registered), url::Url::parse(given)) else {
        return false;
    };
    let loopback = |u: &url::Url| match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    r.scheme() == "http"
        && g.scheme() == "http"
        && loopback(&r)
        && r.host() == g.host()
        && r.port().is_none()
        && g.username().is_empty()
        && g.password().is_none()
        && g.fragment().is_none()
        && r.path() == g.path()
        && r.query() == g.query()
        && given.is_ascii()
        && !given.contains(|c: char| c.is_ascii_control() || c == ' ')
}

/// Reads app registrations from a YAML (or JSON) list, `--app FILE`: the real client ids an app
/// uses, with what Entra would enforce of them (a secret or certificate thumbprints, redirect
/// URIs). An app with thumbprints authenticates with a certificate.
pub fn load_apps(path: &std::path::Path) -> Result<Vec<AppRegistration>, String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Entry {
        client_id: String,
        #[serde(default)]
        secret: Option<String>,
        #[serde(default)]
        certificate_thumbprints: Vec<String>,
        #[serde(default)]
        redirect_uris: Vec<String>,
        #[serde(default)]
        spa_redirect_uris: Vec<String>,
        #[serde(default)]
        app_roles: Vec<String>,
    }
    // Within the limits of every YAML file tokenstorm reads (`model::yaml`: 1 MiB, ...).
    let at = |e: model::yaml::YamlError| {
        format!(
            "{}:{}:{}: {}",
            path.display(),
            e.line.max(1),
            e.column.max(1),
            e.message
        )
    };
    let text = model::yaml::read_file(path).map_err(at)?;
    let entries: Vec<Entry> = model::yaml::from_str(&text).map_err(at)?;
    entries
        .into_iter()
        .map(|e| {
            if e.secret.is_some() && !e.certificate_thumbprints.is_empty() {
                return Err(format!(
                    "{}: app {} has both a secret and certificate thumbprints: give one",
                    path.display(),
                    e.client_id
                ));
            }
            Ok(AppRegistration {
                certificate: !e.certificate_thumbprints.is_empty(),
                client_id: e.client_id,
                secret: e.secret,
                certificate_thumbprints: e.certificate_thumbprints,
                redirect_uris: e.redirect_uris,
                spa_redirect_uris: e.spa_redirect_uris,
                app_roles: e.app_roles,
                first_use: false,
            })
        })
        .collect()
}

/// The default app registrations, with a fresh confidential-client secret.
pub fn default_apps(secret: String) -> Vec<AppRegistration> {
    vec![
        AppRegistration {
            client_id: CONFIDENTIAL_CLIENT_ID.to_string(),
            secret: Some(secret),
            redirect_uris: vec![
                "http://localhost/callback".into(),
                "https://localhost/callback".into(),
            ],
            app_roles: vec![],
            spa_redirect_uris: vec![],
            certificate: false,
            certificate_thumbprints: vec![],
            first_use: false,
        },
        AppRegistration {
            client_id: PUBLIC_CLIENT_ID.to_string(),
            secret: None,
            redirect_uris: vec![
                PUBLIC_REDIRECT_URI.into(),
                "http://localhost".into(),
                "http://127.0.0.1".into(),
                "http://127.0.0.1/callback".into(),
            ],
            app_roles: vec![],
            // The public client doubles as a single-page app served from a loopback origin
            // (`http://localhost:PORT`), so browser clients (MSAL.js) can be judged too.
            spa_redirect_uris: vec![PUBLIC_REDIRECT_URI.into()],
            certificate: false,
            certificate_thumbprints: vec![],
            first_use: false,
        },
    ]
}

/// A security group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Object id.
    pub id: String,
    /// Display name.
    pub display_name: String,
}

/// The signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UserConfig {
    /// `preferred_username` / UPN.
    pub username: String,
    /// Object id.
    pub oid: String,
    /// Display name.
    pub name: String,
    /// Given name.
    pub given_name: String,
    /// Surname.
    pub family_name: String,
    /// App roles assigned to the user.
    pub roles: Vec<String>,
    /// Group memberships.
    pub groups: Vec<Group>,
    /// A disabled user cannot sign in and their refresh tokens stop working (AADSTS50057).
    pub disabled: bool,
}

impl Default for UserConfig {
    fn default() -> Self {
        UserConfig {
            username: model::directory::USERNAME.into(),
            oid: model::directory::OID.into(),
            name: model::directory::NAME.into(),
            given_name: model::directory::GIVEN_NAME.into(),
            family_name: model::directory::FAMILY_NAME.into(),
            roles: vec![],
            groups: vec![],
            disabled: false,
        }
    }
}

/// How a groups overage is signalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OverageStyle {
    /// `_claim_names` / `_claim_sources` (JWTs from the token endpoint).
    #[default]
    ClaimSources,
    /// `hasgroups: true` (implicit-flow style).
    Hasgroups,
}

/// Per-tenant behaviour: lifetimes and token shaping. Every field has Entra's default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantConfig {
    /// The user who signs in.
    pub user: UserConfig,
    /// Access-token lifetime in seconds (`expires_in`); Entra gives 60–90 minutes.
    pub access_token_lifetime_s: u64,
    /// Access-token lifetime for CAE tokens (the client declared `cp1`); Entra gives up to 28 h.
    /// `None`: the same as `access_token_lifetime_s`.
    pub cae_access_token_lifetime_s: Option<u64>,
    /// `refresh_in` to send with access tokens (Entra sends it for long-lived tokens).
    pub refresh_in_s: Option<u64>,
    /// Refresh-token lifetime in seconds (90 days).
    pub refresh_token_lifetime_s: u64,
    /// The fixed lifetime of a single-page app's refresh tokens, from the sign-in that started
    /// the chain (Entra: 24 hours; refreshing never extends it).
    pub spa_refresh_token_lifetime_s: u64,
    /// ID-token lifetime in seconds.
    pub id_token_lifetime_s: u64,
    /// Authorization-code lifetime in seconds.
    pub code_lifetime_s: u64,
    /// Device-code lifetime in seconds.
    pub device_code_lifetime_s: u64,
    /// Device-code polling interval in seconds.
    pub device_interval_s: u64,
    /// Answer `slow_down` (and add 5 s to the interval) to a poll that comes sooner than the
    /// interval allows (RFC 8628 §3.5; with 20 % tolerance for timer jitter).
    pub device_enforce_interval: bool,
    /// Revoke the previous refresh token when a new one is issued for it.
    pub revoke_rotated_refresh_tokens: bool,
    /// Audiences whose access tokens are opaque strings instead of JWTs.
    pub opaque_access_token_audiences: Vec<String>,
    /// More groups than this in a token becomes an overage (Entra: 200 for JWTs).
    pub groups_overage_limit: usize,
    /// How an overage is signalled.
    pub overage_style: OverageStyle,
    /// Extra claims merged into access tokens.
    pub extra_access_token_claims: serde_json::Map<String, serde_json::Value>,
    /// Extra claims merged into ID tokens.
    pub extra_id_token_claims: serde_json::Map<String, serde_json::Value>,
    /// Graph's page size for `memberOf`-style collections.
    pub graph_page_size: usize,
    /// App roles granted to apps in this tenant (client-credentials tokens' `roles`, added to
    /// the app registration's own).
    pub app_roles: Vec<String>,
}

impl Default for TenantConfig {
    fn default() -> Self {
        TenantConfig {
            user: UserConfig::default(),
            access_token_lifetime_s: 3599,
            cae_access_token_lifetime_s: None,
            refresh_in_s: None,
            refresh_token_lifetime_s: 90 * 24 * 3600,
            spa_refresh_token_lifetime_s: 24 * 3600,
            id_token_lifetime_s: 3600,
            code_lifetime_s: 600,
            device_code_lifetime_s: 900,
            device_interval_s: 5,
            device_enforce_interval: true,
            revoke_rotated_refresh_tokens: false,
            opaque_access_token_audiences: vec![],
            groups_overage_limit: 200,
            overage_style: OverageStyle::ClaimSources,
            extra_access_token_claims: Default::default(),
            extra_id_token_claims: Default::default(),
            graph_page_size: 100,
            app_roles: vec![],
        }
    }
}

/// How long a client may take to send a request head (a slow, trickling head, "slowloris",
/// is closed then, and journaled as refused).
pub(crate) const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects_match_any_port_but_nothing_else() {
        let app = &default_apps("s".into())[1];
        assert!(app.redirect_matches("http://localhost/callback"));
        assert!(app.redirect_matches("http://localhost:53127/callback"));
        assert!(app.redirect_matches("http://localhost:8400"));
        assert!(app.redirect_matches("http://localhost:8400/"));
        assert!(!app.redirect_matches("http://localhost:8400/other"));
        assert!(!app.redirect_matches("http://evil.test/callback"));
        assert!(!app.redirect_matches("https://localhost:9/callback"));
        assert!(!app.redirect_matches("http://localhost.evil.test/callback"));
        assert!(!app.redirect_matches("http://localhost:1@evil.test/callback"));
        assert!(!app.redirect_matches("http://localhost:abc/callback"));
        assert!(!app.redirect_matches("http://localhost:8400/callback?x=1"));
        assert!(!app.redirect_matches("http://localhost:%0A/callback"));
        assert!(app.redirect_matches("http://127.0.0.1:9/callback"));
        let conf = &default_apps("s".into())[0];
        // https is not loopback-exempt: exact only.
        assert!(conf.redirect_matches("https://localhost/callback"));
        assert!(!conf.redirect_matches("https://localhost:444/callback"));
    }
}

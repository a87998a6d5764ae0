//! The endpoints of the mock identity provider and mock Graph, as rules and scenarios name them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One endpoint of the mock. Rules treat "an endpoint" as one of these: the token endpoint is one
/// endpoint across all grant types (as Entra throttles it), and the resource API is everything
/// under the Graph URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `GET /{tenant}/v2.0/.well-known/openid-configuration`
    Discovery,
    /// `GET /common/discovery/instance` (Entra instance discovery)
    InstanceDiscovery,
    /// `GET /{tenant}/discovery/v2.0/keys`
    Keys,
    /// `GET|POST /{tenant}/oauth2/v2.0/authorize`
    Authorize,
    /// `POST /{tenant}/oauth2/v2.0/token`
    Token,
    /// `POST /{tenant}/oauth2/v2.0/devicecode`
    Devicecode,
    /// The device-code verification page the user visits.
    DeviceLogin,
    /// `GET|POST /{tenant}/oauth2/v2.0/logout`
    Logout,
    /// `GET|POST /oidc/userinfo`
    Userinfo,
    /// Anything under the mock Graph URL.
    Graph,
    /// The admin API under `/_tokenstorm`.
    Admin,
    /// A path the mock does not serve.
    Unknown,
}

impl Endpoint {
    /// Every endpoint, in a stable order (for reports and schemas).
    pub const ALL: [Endpoint; 12] = [
        Endpoint::Discovery,
        Endpoint::InstanceDiscovery,
        Endpoint::Keys,
        Endpoint::Authorize,
        Endpoint::Token,
        Endpoint::Devicecode,
        Endpoint::DeviceLogin,
        Endpoint::Logout,
        Endpoint::Userinfo,
        Endpoint::Graph,
        Endpoint::Admin,
        Endpoint::Unknown,
    ];

    /// The name used in scenarios, journals and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Discovery => "discovery",
            Endpoint::InstanceDiscovery => "instance_discovery",
            Endpoint::Keys => "keys",
            Endpoint::Authorize => "authorize",
            Endpoint::Token => "token",
            Endpoint::Devicecode => "devicecode",
            Endpoint::DeviceLogin => "device_login",
            Endpoint::Logout => "logout",
            Endpoint::Userinfo => "userinfo",
            Endpoint::Graph => "graph",
            Endpoint::Admin => "admin",
            Endpoint::Unknown => "unknown",
        }
    }

    /// Whether requests to this endpoint are made by the client under test (as opposed to the
    /// harness playing the user, or the admin API).
    pub fn is_client_facing(self) -> bool {
        !matches!(
            self,
            Endpoint::Admin | Endpoint::DeviceLogin | Endpoint::Unknown
        )
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

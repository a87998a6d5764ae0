//! The ready file: how scripts and the harness find a running mock (`tokenstorm serve --help`).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Written atomically once the mock accepts connections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyFile {
    /// `https://127.0.0.1:PORT` (or `http://` with `--no-tls`).
    pub base_url: String,
    /// The default tenant id.
    pub tenant: String,
    /// `{base_url}/{tenant}`.
    pub authority: String,
    /// `{base_url}/graph/v1.0`.
    pub graph_url: String,
    /// The root CA that signed the server certificate (PEM), absent with `--no-tls`.
    pub ca_cert: Option<PathBuf>,
    /// `{base_url}/_tokenstorm`.
    pub admin_url: String,
    /// Bearer token for the admin API, random per run.
    pub admin_token: String,
    /// The default app registrations.
    pub clients: ReadyClients,
    /// The default user.
    pub user: ReadyUser,
    /// The impersonation proxy (`http://127.0.0.1:PORT`), when the mock answers as Entra and
    /// Graph by their real names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
}

/// The default app registrations of the ready file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyClients {
    /// A confidential client (client credentials, auth code, OBO).
    pub confidential: ReadyConfidentialClient,
    /// A public client (auth code with PKCE, device code).
    pub public: ReadyPublicClient,
}

/// A confidential client registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyConfidentialClient {
    /// The application (client) id.
    pub client_id: String,
    /// Its secret (random per run).
    pub client_secret: String,
}

/// A public client registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyPublicClient {
    /// The application (client) id.
    pub client_id: String,
    /// The registered redirect URI (a loopback URI: any port matches).
    pub redirect_uri: String,
}

/// The default user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyUser {
    /// The user principal name (`preferred_username`).
    pub username: String,
    /// The object id (`oid`).
    pub oid: String,
}

//! What the client's layers share about users, below both: the flows a client signs users in
//! with, who shows the user a browser or a device code ([`Interaction`]), who is signed in
//! ([`WhoAmI`]), and the two pure helpers both the client and the user flows need. The layers:
//! `flow` (this) <- `client` (cache, HTTP, back-off, app-only flows) <- `user` (the user flows,
//! as more methods of `Client`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;

/// A boxed future, for object-safe interaction.
pub type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Who shows the user what they must see: a browser for authorize URLs, a device code.
pub trait Interaction: Send + Sync {
    /// Opens `url` in a browser; the URL the browser ended on (the redirect URI with the code
    /// or an error), or why it could not.
    fn browse(&self, url: String) -> Boxed<'_, Result<String, String>>;
    /// Shows the user a device code.
    fn device_code(&self, user_code: String, verification_uri: String) -> Boxed<'_, ()>;
}

/// The flow a client signs users in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    /// App-only.
    ClientCredentials,
    /// Authorization code with PKCE, redirecting to this URI.
    AuthCode {
        /// The registered redirect URI.
        redirect_uri: String,
    },
    /// Device code.
    DeviceCode,
    /// On-behalf-of: a middle tier exchanges the user token it received (the assertion) for
    /// a token to a downstream API ([`crate::Client::acquire_on_behalf_of`]).
    OnBehalfOf,
}

/// Who is signed in, as the ID token (and Graph, on an overage) says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhoAmI {
    /// Display name.
    pub name: String,
    /// `preferred_username`.
    pub username: String,
    /// Object id.
    pub oid: String,
    /// App roles.
    pub roles: Vec<String>,
    /// Group ids.
    pub groups: Vec<String>,
}

/// The claims of a JWT we are allowed to read (an ID token; never an access token).
pub fn id_token_claims(id_token: &str) -> Option<Value> {
    let payload = id_token.split('.').nth(1)?;
    serde_json::from_slice(&B64.decode(payload.trim_end_matches('=')).ok()?).ok()
}

/// The scopes of a user sign-in: the resource's, plus OIDC's.
pub fn user_scope(scopes: &[String]) -> String {
    let mut v: Vec<String> = scopes.to_vec();
    for s in ["openid", "profile", "offline_access"] {
        if !v.iter().any(|x| x == s) {
            v.push(s.to_string());
        }
    }
    v.join(" ")
}

//! A resilient token client for Microsoft Entra ID (and OIDC providers) that does what the
//! resilience guidance asks: cache first, renew early when `refresh_in` says so, never hammer
//! the identity provider (Retry-After honoured, exponential back-off from 5 s after 5xx,
//! time-outs and malformed answers), keep serving a still-valid token while renewal fails,
//! one network call for concurrent needs, the `cp1` capability and claims challenges, and a
//! persistent cache encrypted at rest.
//!
//! Flows: client credentials, authorization code with PKCE (the caller shows the browser
//! through [`Interaction`]), device code, and on-behalf-of
//! ([`Client::acquire_on_behalf_of`]); refresh tokens throughout.
//!
//! # Client credentials (a daemon or service)
//!
//! ```no_run
//! # async fn demo() -> Result<(), tokenstorm_reference_client::Error> {
//! use tokenstorm_reference_client::{Client, Config, Flow};
//! let client = Client::new(Config {
//!     authority: "https://login.microsoftonline.com/contoso.onmicrosoft.com".into(),
//!     client_id: "app-id".into(),
//!     client_secret: "secret".into(),
//!     ca_pem: None,
//!     // Persist the (encrypted) cache so a restart is silent.
//!     state_dir: Some("/var/lib/my-app/tokens".into()),
//!     flow: Flow::ClientCredentials,
//!     graph_url: "https://graph.microsoft.com/v1.0".into(),
//! })?;
//! let graph = ["https://graph.microsoft.com/.default".to_string()];
//! // From the cache while fresh; renewed early; a still-valid token while the IdP throttles.
//! let token = client.acquire(&graph).await?;
//! // Or let the client call the API: Retry-After, back-off and CAE challenges handled.
//! let users = client.call_api("GET", "https://graph.microsoft.com/v1.0/users", &graph, None).await?;
//! # let _ = (token, users); Ok(()) }
//! ```
//!
//! # Authorization code with PKCE (a desktop or CLI app with a browser)
//!
//! The client asks [`Interaction`] to show the authorize URL and hand back the URL the
//! browser ended on (the redirect with the code). It tries `prompt=none` first, so a user
//! with a browser session never sees a prompt, and never forces `login` or `consent`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tokenstorm_reference_client::Error> {
//! use tokenstorm_reference_client::{Boxed, Client, Config, Flow, Interaction};
//! struct SystemBrowser;
//! impl Interaction for SystemBrowser {
//!     fn browse(&self, url: String) -> Boxed<'_, Result<String, String>> {
//!         // Open `url`, listen on the loopback redirect URI, return the URL it was called with.
//!         Box::pin(async move { Err(format!("open {url} in a browser")) })
//!     }
//!     fn device_code(&self, _: String, _: String) -> Boxed<'_, ()> {
//!         Box::pin(async {})
//!     }
//! }
//! let client = Client::new(Config {
//!     authority: "https://login.microsoftonline.com/organizations".into(),
//!     client_id: "public-app-id".into(),
//!     client_secret: String::new(),
//!     ca_pem: None,
//!     state_dir: None,
//!     flow: Flow::AuthCode { redirect_uri: "http://localhost:8400/callback".into() },
//!     graph_url: "https://graph.microsoft.com/v1.0".into(),
//! })?;
//! let scopes = ["https://graph.microsoft.com/User.Read".to_string()];
//! let me = client.whoami(&scopes, Some(&SystemBrowser)).await?; // from the ID token
//! # let _ = me; Ok(()) }
//! ```
//!
//! # Device code (no browser on this machine)
//!
//! `Flow::DeviceCode`: [`Interaction::device_code`] shows the user code and the verification
//! URI; polling keeps the server's interval and slows down when told.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tokenstorm_reference_client::Error> {
//! use tokenstorm_reference_client::{Boxed, Client, Config, Flow, Interaction};
//! struct Terminal;
//! impl Interaction for Terminal {
//!     fn browse(&self, _: String) -> Boxed<'_, Result<String, String>> {
//!         Box::pin(async { Err("no browser here".to_string()) })
//!     }
//!     fn device_code(&self, user_code: String, verification_uri: String) -> Boxed<'_, ()> {
//!         Box::pin(async move { eprintln!("Sign in at {verification_uri} with code {user_code}") })
//!     }
//! }
//! let client = Client::new(Config {
//!     authority: "https://login.microsoftonline.com/organizations".into(),
//!     client_id: "public-app-id".into(),
//!     client_secret: String::new(),
//!     ca_pem: None,
//!     state_dir: Some("/home/me/.config/my-cli".into()), // silent on the next run
//!     flow: Flow::DeviceCode,
//!     graph_url: "https://graph.microsoft.com/v1.0".into(),
//! })?;
//! let scopes = ["https://graph.microsoft.com/User.Read".to_string()];
//! let token = client.acquire_with(&scopes, Some(&Terminal)).await?;
//! # let _ = token; Ok(()) }
//! ```
//!
//! # On-behalf-of (a middle-tier API)
//!
//! ```no_run
//! # async fn demo(client: &tokenstorm_reference_client::Client, incoming_bearer: &str) -> Result<(), tokenstorm_reference_client::Error> {
//! // `client` was made with Flow::OnBehalfOf and the API's own credentials; the user's token
//! // arrived in the request. One exchange per user, then the cache.
//! let graph = ["https://graph.microsoft.com/User.Read".to_string()];
//! let downstream = client.acquire_on_behalf_of(incoming_bearer, &graph).await?;
//! # let _ = downstream; Ok(()) }
//! ```
//!
//! A whole app using it: `examples/daemon.rs`.

mod backoff;
pub mod cache;
mod client;
pub mod driven;
mod error;
mod flow;
pub mod persist;
mod user;

#[cfg(feature = "zoo")]
pub use client::Quirks;
pub use client::{ApiResponse, Client, Config, REQUEST_TIMEOUT};
pub use error::Error;
pub use flow::{Boxed, Flow, Interaction, WhoAmI};

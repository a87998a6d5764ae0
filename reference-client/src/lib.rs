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
//! ```no_run
//! # async fn demo() -> Result<(), reference_client::Error> {
//! use reference_client::{Client, Config};
//! let client = Client::new(Config {
//!     authority: "https://login.microsoftonline.com/contoso.onmicrosoft.com".into(),
//!     client_id: "app-id".into(),
//!     client_secret: "secret".into(),
//!     ca_pem: None,
//!     state_dir: None,
//!     flow: reference_client::Flow::ClientCredentials,
//!     graph_url: "https://graph.microsoft.com/v1.0".into(),
//!     quirks: Default::default(),
//! })?;
//! let token = client.acquire(&["https://graph.microsoft.com/.default".to_string()]).await?;
//! # let _ = token; Ok(()) }
//! ```

mod backoff;
pub mod cache;
mod client;
mod error;
pub mod persist;
mod user;

pub use client::{ApiResponse, Client, Config, Quirks, REQUEST_TIMEOUT};
pub use error::Error;
pub use user::{Boxed, Flow, Interaction, WhoAmI};

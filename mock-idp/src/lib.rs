//! An Entra-faithful identity provider and mock Microsoft Graph over real HTTPS, embeddable in
//! tests the way `wiremock` is: [`MockIdp::start`] binds `127.0.0.1:0`, generates a CA, and
//! serves until the handle is dropped.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tokenstorm_mock_idp::StartError> {
//! let idp = tokenstorm_mock_idp::MockIdp::start(tokenstorm_mock_idp::Options::default()).await?;
//! println!("authority: {}", idp.default_authority());
//! println!("trust this CA: {:?}", idp.ca_cert_path());
//! let journal = idp.journal(); // every request that reached it
//! # Ok(()) }
//! ```
//!
//! Endpoints (any first path segment is a tenant, each with its own state):
//! discovery, JWKS, authorize, token (client credentials, auth code + PKCE, refresh, device
//! code, on-behalf-of), devicecode, logout, UserInfo, Graph (`/graph/v1.0`), and the admin API
//! (`/_tokenstorm`, guarded by a per-run token).

mod bodies;
pub mod cli;
mod config;
mod error;
mod event;
mod faults;
mod impersonate;
mod journal;
mod keys;
mod params;
mod request;
mod routes;
mod scenario;
mod scratch;
mod server;
mod state;
mod store;
mod tls;
mod tokens;

pub use config::{load_apps, AppRegistration, Group, OverageStyle, TenantConfig, UserConfig};
pub use error::{OAuthError, StartError};
pub use event::{Event, FireError};
pub use impersonate::{AUTHORITY_HOSTS, GRAPH_HOST};
pub use model::FiredEvent;
pub use scenario::groups;
pub use store::JournalLimits;

/// The mock's internals the crate's own benchmarks measure (token minting). Not part of the
/// API: anything here may change in any release.
#[doc(hidden)]
pub mod bench_internals {
    pub use crate::config::{default_apps, DEFAULT_TENANT};
    pub use crate::keys::KeySet;
    pub use crate::state::Idp;
    pub use crate::tokens::{mint, Request, ResourceScopes, Subject};
}

use model::{JournalEntry, ReadyFile};
use state::Idp;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How to start the mock: `Options::default()` (HTTPS on `127.0.0.1:0`, a temporary state
/// directory, Entra's defaults), then what to change, by field or chained:
///
/// ```
/// let opts = tokenstorm_mock_idp::Options::default().impersonate(true).tls(true);
/// assert!(opts.impersonate);
/// ```
///
/// Fields may be added in any release (it is `#[non_exhaustive]`), so it is never written out
/// as a literal.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// Where to listen (`127.0.0.1:0` picks a free port).
    pub addr: SocketAddr,
    /// Serve HTTPS with a generated CA (default) or plain HTTP.
    pub tls: bool,
    /// Allow a non-loopback address.
    pub allow_remote: bool,
    /// Where to write `ca.pem`; a temporary directory (removed on drop) when `None`.
    pub state_dir: Option<PathBuf>,
    /// The configuration of every tenant until configured otherwise.
    pub tenant_config: TenantConfig,
    /// A scenario every tenant replays (each with its own clock, counters and state).
    pub scenario: Option<model::scenario::Scenario>,
    /// Answer as Entra's and Graph's real host names through an HTTP proxy on loopback
    /// ([`MockIdp::proxy_url`]), and register any client id on first use.
    pub impersonate: bool,
    /// App registrations besides the default ones (`--app FILE`, [`load_apps`]): their
    /// credentials and redirect URIs are enforced.
    pub apps: Vec<AppRegistration>,
    /// How long a client may take to send a request head before its connection is closed and
    /// the refusal journaled (a "slowloris" client); 30 s by default.
    pub head_timeout: std::time::Duration,
    /// How much of the journal stays in memory, and how much the disk may hold (the journal
    /// streams to `journal/` in the state directory).
    pub journal: JournalLimits,
}

/// Chained setters, one per field.
impl Options {
    /// Where to listen (`127.0.0.1:0` picks a free port).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }
    /// HTTPS with a generated CA (`true`, the default) or plain HTTP.
    pub fn tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }
    /// Allow a non-loopback address.
    pub fn allow_remote(mut self, allow: bool) -> Self {
        self.allow_remote = allow;
        self
    }
    /// Where to write `ca.pem` and the journal (a temporary directory by default).
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = Some(dir.into());
        self
    }
    /// The configuration of every tenant until configured otherwise.
    pub fn tenant_config(mut self, config: TenantConfig) -> Self {
        self.tenant_config = config;
        self
    }
    /// A scenario every tenant replays.
    pub fn scenario(mut self, scenario: model::scenario::Scenario) -> Self {
        self.scenario = Some(scenario);
        self
    }
    /// Answer as Entra's and Graph's real host names (see the field).
    pub fn impersonate(mut self, impersonate: bool) -> Self {
        self.impersonate = impersonate;
        self
    }
    /// App registrations whose credentials and redirect URIs are enforced.
    pub fn apps(mut self, apps: Vec<AppRegistration>) -> Self {
        self.apps = apps;
        self
    }
    /// How long a client may take to send a request head.
    pub fn head_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.head_timeout = timeout;
        self
    }
    /// How much of the journal stays in memory and on disk.
    pub fn journal(mut self, limits: JournalLimits) -> Self {
        self.journal = limits;
        self
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            tls: true,
            allow_remote: false,
            state_dir: None,
            tenant_config: TenantConfig::default(),
            scenario: None,
            impersonate: false,
            apps: vec![],
            head_timeout: config::HEADER_READ_TIMEOUT,
            journal: JournalLimits::default(),
        }
    }
}

/// The mock's clock, cheap to clone: microseconds since the mock started, on tokio's clock (so
/// virtual time in a paused runtime), strictly increasing across readings. Journal entries and
/// fired events carry times on it, so a harness's own records on it sort among them.
#[derive(Clone)]
pub struct Clock(Arc<Idp>);

impl Clock {
    /// Microseconds since the mock started.
    pub fn now_us(&self) -> u64 {
        self.0.now_us()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Clock").field(&self.now_us()).finish()
    }
}

/// A running mock. Dropping it stops the server.
pub struct MockIdp {
    idp: Arc<Idp>,
    addr: SocketAddr,
    ca_pem: Option<String>,
    ca_path: Option<PathBuf>,
    client_secret: String,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    proxy: Option<SocketAddr>,
    _dir: Option<scratch::Scratch>,
}

impl std::fmt::Debug for MockIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockIdp")
            .field("base_url", &self.idp.base_url)
            .finish()
    }
}

impl MockIdp {
    /// Generates keys and certificates, binds, and starts serving.
    pub async fn start(opts: Options) -> Result<MockIdp, StartError> {
        if !opts.allow_remote && !opts.addr.ip().is_loopback() {
            return Err(StartError::NotLoopback(opts.addr));
        }
        if !opts.addr.ip().is_loopback() {
            tracing::warn!(
                addr = %opts.addr,
                "listening beyond loopback (--allow-remote): any host that reaches this address can get tokens signed by this mock and read its journal with the admin token; never expose it to a network you do not control"
            );
        }
        let listener = TcpListener::bind(opts.addr)
            .await
            .map_err(|source| StartError::Bind {
                addr: opts.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: opts.addr,
            source,
        })?;
        let scheme = if opts.tls { "https" } else { "http" };
        let host = match addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => "127.0.0.1".to_string(),
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) if ip.is_unspecified() => "[::1]".to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        };
        let base_url = format!("{scheme}://{host}:{}", addr.port());

        let (dir, state_dir) = match &opts.state_dir {
            Some(d) => {
                std::fs::create_dir_all(d).map_err(|source| StartError::Io {
                    path: d.clone(),
                    source,
                })?;
                (None, d.clone())
            }
            None => {
                let t = scratch::Scratch::create().map_err(|source| StartError::Io {
                    path: std::env::temp_dir(),
                    source,
                })?;
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };

        let (acceptor, ca_pem, ca_path) = if opts.tls {
            let mut extra: Vec<String> = if addr.ip().is_loopback() || addr.ip().is_unspecified() {
                vec![]
            } else {
                vec![addr.ip().to_string()]
            };
            if opts.impersonate {
                extra.extend(impersonate::tls_names());
            }
            let tls = tls::generate(&extra)?;
            let ca_path = state_dir.join("ca.pem");
            write_atomic(&ca_path, tls.ca_pem.as_bytes(), 0o644)?;
            let ca_path = std::fs::canonicalize(&ca_path).unwrap_or(ca_path);
            (
                Some(tokio_rustls::TlsAcceptor::from(tls.server_config)),
                Some(tls.ca_pem),
                Some(ca_path),
            )
        } else {
            (None, None, None)
        };

        let keys = keys::KeySet::generate().map_err(|message| StartError::Crypto {
            what: "RSA signing key",
            message,
        })?;
        let client_secret = format!("tsk~{}", keys::random_text(24));
        let admin_token = keys::random_text(32);
        let mut idp = Idp::new(
            base_url,
            keys,
            config::default_apps(client_secret.clone())
                .into_iter()
                .chain(opts.apps.iter().cloned())
                .collect(),
            admin_token,
            config::DEFAULT_TENANT.to_string(),
            opts.tenant_config.clone(),
            opts.tls,
        );
        idp.default_scenario = opts.scenario.clone();
        idp.impersonate = opts.impersonate;
        idp.head_timeout = opts.head_timeout;
        let journal_dir = state_dir.join("journal");
        idp.stream_journal(
            store::JournalStore::on_disk(&journal_dir, opts.journal.clone()).map_err(|source| {
                StartError::Io {
                    path: journal_dir.clone(),
                    source,
                }
            })?,
        );
        let idp = Arc::new(idp);
        let (tx, rx) = watch::channel(false);
        let app = routes::router(idp.clone());
        let proxy = match (opts.impersonate, &acceptor) {
            (false, _) => None,
            (true, None) => return Err(StartError::ImpersonationNeedsTls),
            (true, Some(tls)) => {
                let at = impersonate::listen_addr(addr);
                let l = TcpListener::bind(at)
                    .await
                    .map_err(|source| StartError::Bind { addr: at, source })?;
                let bound = l
                    .local_addr()
                    .map_err(|source| StartError::Bind { addr: at, source })?;
                tokio::spawn(impersonate::serve(
                    l,
                    tls.clone(),
                    app.clone(),
                    idp.clone(),
                    rx.clone(),
                ));
                tracing::info!(proxy = %bound, "impersonating Entra and Graph through the proxy");
                Some(bound)
            }
        };
        let task = tokio::spawn(server::serve(listener, acceptor, app, idp.clone(), rx));
        tracing::info!(base_url = %idp.base_url, "mock identity provider listening");
        Ok(MockIdp {
            idp,
            addr,
            ca_pem,
            ca_path,
            client_secret,
            shutdown: tx,
            task: Some(task),
            proxy,
            _dir: dir,
        })
    }

    /// `https://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.idp.base_url
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `{base_url}/{tenant}`: the authority to give a client.
    pub fn authority(&self, tenant: &str) -> String {
        format!("{}/{}", self.idp.base_url, tenant)
    }

    /// The default tenant's authority.
    pub fn default_authority(&self) -> String {
        self.authority(&self.idp.default_tenant)
    }

    /// `{base_url}/graph/v1.0`.
    pub fn graph_url(&self) -> String {
        self.idp.graph_url()
    }

    /// The impersonation proxy (`http://127.0.0.1:PORT`), when started with
    /// [`Options::impersonate`].
    pub fn proxy_url(&self) -> Option<String> {
        self.proxy.map(|a| format!("http://{a}"))
    }

    /// The CA certificate (PEM), unless started without TLS.
    pub fn ca_cert_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Where the CA certificate was written.
    pub fn ca_cert_path(&self) -> Option<&Path> {
        self.ca_path.as_deref()
    }

    /// What a managed-identity app is given to reach the mock as Azure would: App Service's
    /// `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`, `MSI_ENDPOINT` and `MSI_SECRET` (their older
    /// names), and `AZURE_POD_IDENTITY_AUTHORITY_HOST` (azure-identity's way to the instance
    /// metadata service), all for `tenant`.
    pub fn managed_identity_env(&self, tenant: &str) -> Vec<(String, String)> {
        let endpoint = format!("{}/{tenant}/msi/token", self.idp.base_url);
        let secret = self.idp.identity_header.clone();
        vec![
            ("IDENTITY_ENDPOINT".into(), endpoint.clone()),
            ("IDENTITY_HEADER".into(), secret.clone()),
            ("MSI_ENDPOINT".into(), endpoint),
            ("MSI_SECRET".into(), secret),
            (
                "AZURE_POD_IDENTITY_AUTHORITY_HOST".into(),
                format!("{}/{tenant}", self.idp.base_url),
            ),
        ]
    }

    /// Device codes waiting for their user, as (tenant, user code, verification URI), oldest
    /// tenant name first.
    pub fn pending_device_codes(&self) -> Vec<(String, String, String)> {
        let mut v = Vec::new();
        for t in self.idp.tenant_names() {
            let Some(tenant) = self.idp.existing_tenant(&t) else {
                continue;
            };
            let st = state::lock(&tenant.state);
            for g in st.device_codes.values() {
                if g.status == state::DeviceStatus::Pending {
                    v.push((
                        t.clone(),
                        g.user_code.clone(),
                        format!("{}/{t}/devicelogin", self.idp.base_url),
                    ));
                }
            }
        }
        v
    }

    /// The admin API's bearer token.
    pub fn admin_token(&self) -> &str {
        &self.idp.admin_token
    }

    /// The confidential client's secret.
    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }

    /// A signed-in user's access token for the confidential app itself (`aud` =
    /// `api://{client_id}`), as a front end sends it to a middle tier: the incoming assertion
    /// of an on-behalf-of exchange. Minted in-process, so it is not journaled (the front end
    /// is not the client under test).
    pub fn user_assertion(&self, tenant: &str) -> Result<String, String> {
        let t = self.idp.tenant(tenant);
        let (config, keys) = {
            let st = t.state.lock().unwrap_or_else(|p| p.into_inner());
            (
                st.config.clone(),
                st.keys.clone().unwrap_or_else(|| self.idp.keys.clone()),
            )
        };
        let scope_strings = vec![format!(
            "api://{}/access_as_user",
            config::CONFIDENTIAL_CLIENT_ID
        )];
        let scopes = tokens::ResourceScopes::parse(&scope_strings).map_err(|e| e.to_string())?;
        let minted = tokens::mint(
            &self.idp,
            &config,
            &tokens::Request {
                keys: &keys,
                base: &self.idp.base_url,
                tenant,
                client_id: config::PUBLIC_CLIENT_ID,
                confidential: false,
                scopes: &scopes,
                scope_strings: &scope_strings,
                subject: tokens::Subject::User(&config.user, state::unix_now()),
                nonce: None,
                cae: false,
                client_info: false,
                app_roles: &[],
                claims_request: None,
                spa_refresh_expires_at: None,
            },
        );
        minted.body["access_token"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| "no access token minted".to_string())
    }

    /// What the ready file says.
    pub fn ready(&self) -> ReadyFile {
        let user = &self.idp.default_config.user;
        ReadyFile {
            base_url: self.idp.base_url.clone(),
            tenant: self.idp.default_tenant.clone(),
            authority: self.default_authority(),
            graph_url: self.graph_url(),
            ca_cert: self.ca_path.clone(),
            admin_url: format!("{}/_tokenstorm", self.idp.base_url),
            admin_token: self.idp.admin_token.clone(),
            clients: model::ready::ReadyClients {
                confidential: model::ready::ReadyConfidentialClient {
                    client_id: config::CONFIDENTIAL_CLIENT_ID.to_string(),
                    client_secret: self.client_secret.clone(),
                },
                public: model::ready::ReadyPublicClient {
                    client_id: config::PUBLIC_CLIENT_ID.to_string(),
                    redirect_uri: config::PUBLIC_REDIRECT_URI.to_string(),
                },
            },
            user: model::ready::ReadyUser {
                username: user.username.clone(),
                oid: user.oid.clone(),
            },
            proxy_url: self.proxy_url(),
        }
    }

    /// Writes the ready file atomically (temporary file, then rename; mode 0600, since it
    /// holds the client secret and admin token).
    pub fn write_ready_file(&self, path: &Path) -> Result<(), StartError> {
        let json = serde_json::to_vec_pretty(&self.ready()).map_err(|e| StartError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(e),
        })?;
        write_atomic(path, &json, 0o600)
    }

    /// Every request so far, in arrival order (entries appear once their response is done).
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.idp.journal(None, 0)
    }

    /// One tenant's requests (Graph and UserInfo calls count for the token's tenant).
    pub fn journal_for(&self, tenant: &str) -> Vec<JournalEntry> {
        self.idp.journal(Some(tenant), 0)
    }

    /// How many of a tenant's requests (all tenants': `None`) the journal does not hold: its
    /// cap on disk was reached (or the disk refused a write) before they were written.
    pub fn journal_dropped(&self, tenant: Option<&str>) -> u64 {
        self.idp.journal_store().dropped(tenant)
    }

    /// Where the journal streams to: one `TENANT.jsonl` per tenant.
    pub fn journal_dir(&self) -> Option<&Path> {
        self.idp.journal_store().dir()
    }

    /// Replaces a tenant's configuration (lifetimes, user, token shaping).
    pub fn configure_tenant(&self, tenant: &str, config: TenantConfig) {
        let t = self.idp.tenant(tenant);
        state::lock(&t.state).config = config;
    }

    /// Fires an event on a tenant now (as the admin API's `events/{name}` does); what it did.
    ///
    /// ```no_run
    /// # async fn demo(idp: tokenstorm_mock_idp::MockIdp) {
    /// use tokenstorm_mock_idp::Event;
    /// idp.fire("t1", &Event::CaeRevoke).expect("a valid tenant");
    /// idp.fire("t1", &"revoke-sessions".parse().expect("a known event")).expect("fired");
    /// # }
    /// ```
    pub fn fire(&self, tenant: &str, event: &Event) -> Result<serde_json::Value, FireError> {
        self.idp.fire(tenant, event)
    }

    /// Makes a tenant replay a scenario: faults, events and token shaping, with its clock
    /// starting at the tenant's next request (or [`MockIdp::start_scenario`]).
    pub fn load_scenario(&self, tenant: &str, scenario: model::scenario::Scenario) {
        self.idp.load_scenario(tenant, scenario);
    }

    /// Starts a tenant's scenario clock now.
    pub fn start_scenario(&self, tenant: &str) -> bool {
        self.idp.start_scenario(tenant)
    }

    /// Fires a scenario event by name now.
    pub fn fire_scenario_event(&self, tenant: &str, name: &str) -> Result<(), FireError> {
        self.idp.fire_scenario_event(tenant, name)
    }

    /// The scenario events that fired in a tenant.
    pub fn fired_events(&self, tenant: &str) -> Vec<FiredEvent> {
        self.idp.fired_events(tenant)
    }

    /// The mock's clock: what journal and fired-event times are measured on.
    pub fn clock(&self) -> Clock {
        Clock(self.idp.clone())
    }

    /// Calls `watcher` with each entry of `tenant`'s journal as it is appended (after the
    /// exchange finished), on the thread that finished it: it must be quick and never block
    /// (send it on a channel). A harness streams a run's requests this way.
    pub fn watch_journal(
        &self,
        tenant: &str,
        watcher: impl Fn(&JournalEntry) + Send + Sync + 'static,
    ) {
        self.idp.watch_journal(tenant, Arc::new(watcher));
    }

    /// The tenants that have been used so far (by a request, a configuration or a scenario).
    pub fn tenants(&self) -> Vec<String> {
        self.idp.tenant_names()
    }

    /// The whole HTTP surface as an axum `Router`, to call in-process (`tower::ServiceExt`)
    /// without a socket: what [`MockIdp::start`] serves.
    pub fn router(&self) -> axum::Router {
        routes::router(self.idp.clone())
    }

    /// Stops accepting, ends open connections, and waits for the accept loop.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for MockIdp {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// Writes a file atomically: a temporary file in the same directory, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), StartError> {
    use std::io::Write;
    let err = |source| StartError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".tokenstorm-")
        .tempfile_in(dir)
        .map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode)).map_err(err)?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

//! Shared server state: the key set, the app registrations, the journal, and each tenant's
//! state (sessions, codes, refresh tokens, device codes, revocations).
//!
//! **Invariant:** locks are never held across an `.await`.

use crate::config::{AppRegistration, TenantConfig};
use crate::error::OAuthError;
use crate::event::{Event, FireError};
use crate::keys::KeySet;
use crate::store::JournalStore;
use model::{Fingerprint, JournalEntry};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::time::Instant;

/// Locks a mutex, recovering from poisoning (a panicked handler must not wedge the server).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Seconds since the Unix epoch, on tokio's clock (virtual time in a paused runtime: see
/// [`model::clock`]).
pub fn unix_now() -> u64 {
    model::clock::unix_now()
}

/// The whole server's state.
pub struct Idp {
    /// `https://127.0.0.1:PORT`.
    pub base_url: String,
    /// The signing keys (tenants that rotated have their own).
    pub keys: Arc<KeySet>,
    /// The scenario every tenant replays unless given its own (`--scenario`).
    pub default_scenario: Option<model::scenario::Scenario>,
    /// App registrations.
    pub apps: Vec<AppRegistration>,
    /// The admin API's bearer token.
    pub admin_token: String,
    /// The default tenant id.
    pub default_tenant: String,
    /// Configuration for tenants not configured explicitly.
    pub default_config: TenantConfig,
    /// Whether the server speaks TLS (cookies get `Secure`).
    pub tls: bool,
    /// Answering as Entra's real host names: any client id is registered on first use.
    pub impersonate: bool,
    /// How long a client may take to send a request head.
    pub head_timeout: std::time::Duration,
    /// The secret App Service's identity endpoint expects in `X-IDENTITY-HEADER` (the app gets
    /// it in `IDENTITY_HEADER`).
    pub identity_header: String,
    /// Apps registered on first use (when impersonating), by client id.
    first_use: Mutex<HashMap<String, AppRegistration>>,
    started: Instant,
    /// The last time [`Idp::now_us`] gave.
    last_us: std::sync::atomic::AtomicU64,
    /// The next request's sequence number; taken with the arrival time under one lock
    /// ([`Idp::arrive`]), so that sequence order is arrival order.
    seq: Mutex<u64>,
    journal: JournalStore,
    /// Who is told of each finished entry of a tenant ([`Idp::watch_journal`]).
    watchers: std::sync::RwLock<HashMap<String, Vec<JournalWatcher>>>,
    tenants: Mutex<HashMap<String, Arc<Tenant>>>,
    opaque: Mutex<HashMap<Fingerprint, (String, OpaqueClaims)>>,
    /// OpenID discovery documents as served, by host and tenant (they depend on nothing else).
    pub(crate) discovery_bodies: crate::bodies::Bodies,
}

/// Told of each finished journal entry of a tenant.
pub type JournalWatcher = Arc<dyn Fn(&JournalEntry) + Send + Sync>;

/// The claims behind an opaque access token.
pub type OpaqueClaims = serde_json::Map<String, serde_json::Value>;

impl Idp {
    /// New state.
    pub fn new(
        base_url: String,
        keys: KeySet,
        apps: Vec<AppRegistration>,
        admin_token: String,
        default_tenant: String,
        default_config: TenantConfig,
        tls: bool,
    ) -> Self {
        Idp {
            base_url,
            keys: Arc::new(keys),
            default_scenario: None,
            apps,
            admin_token,
            default_tenant,
            default_config,
            tls,
            impersonate: false,
            head_timeout: crate::config::HEADER_READ_TIMEOUT,
            identity_header: crate::keys::random_text(24),
            first_use: Mutex::new(HashMap::new()),
            started: Instant::now(),
            last_us: std::sync::atomic::AtomicU64::new(0),
            seq: Mutex::new(0),
            journal: JournalStore::in_memory(),
            watchers: Default::default(),
            tenants: Mutex::new(HashMap::new()),
            opaque: Mutex::new(HashMap::new()),
            discovery_bodies: Default::default(),
        }
    }

    /// Remembers what an opaque access token stands for (the resource looks it up).
    pub fn remember_opaque(&self, token: &str, tenant: &str, claims: OpaqueClaims) {
        lock(&self.opaque).insert(Fingerprint::of(token), (tenant.to_string(), claims));
    }

    /// The tenant and claims of an opaque access token the mock issued.
    pub fn lookup_opaque(&self, token: &str) -> Option<(String, OpaqueClaims)> {
        lock(&self.opaque).get(&Fingerprint::of(token)).cloned()
    }

    /// Microseconds since the server started, strictly increasing: two readings never give
    /// the same time (the later one is moved up a microsecond if need be). Every time the
    /// journal and the transcript hold is read here, so their order is the order things
    /// happened in, even on tokio's paused clock, where a request, its answer and the next
    /// request can all come at the same virtual instant (a token issued at t answers a request
    /// stamped after t, never the request that asked for it, nor one sent alongside).
    pub fn now_us(&self) -> u64 {
        let t = self.started.elapsed().as_micros() as u64;
        let mut last = self.last_us.load(std::sync::atomic::Ordering::Relaxed);
        loop {
            let next = t.max(last + 1);
            match self.last_us.compare_exchange_weak(
                last,
                next,
                std::sync::atomic::Ordering::Relaxed,
                std::sync::atomic::Ordering::Relaxed,
            ) {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }

    /// A request's sequence number and arrival time (microseconds since start), taken
    /// together: a later number never has an earlier time, so the journal in sequence order is
    /// in arrival order, which the rules rely on.
    pub fn arrive(&self) -> (u64, u64) {
        let mut seq = lock(&self.seq);
        let s = *seq;
        *seq += 1;
        (s, self.now_us())
    }

    /// Streams the journal to `store` from now on (set before the server starts).
    pub fn stream_journal(&mut self, store: JournalStore) {
        self.journal = store;
    }

    /// Where the journal is kept.
    pub fn journal_store(&self) -> &JournalStore {
        &self.journal
    }

    /// Appends a finished entry to the journal, and tells its tenant's watchers.
    pub fn record(&self, entry: JournalEntry) {
        self.journal.record(&entry);
        if let Some(tenant) = entry.tenant.as_deref() {
            let watchers = self.watchers.read().unwrap_or_else(|p| p.into_inner());
            for w in watchers.get(tenant).into_iter().flatten() {
                w(&entry);
            }
        }
    }

    /// Calls `watcher` with each entry of `tenant`'s journal as it is appended, on the thread
    /// that finished the exchange: it must be quick and never block.
    pub fn watch_journal(&self, tenant: &str, watcher: JournalWatcher) {
        self.watchers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(tenant.to_string())
            .or_default()
            .push(watcher);
    }

    /// The journal so far, in arrival order; `tenant` filters. `since` is a cursor: the number
    /// of entries (across all tenants) already read, as returned by [`Idp::journal_len`].
    /// Entries are appended as exchanges finish, so a cursor never skips a slow request.
    /// [`JournalStore::read`] also says how many entries a read misses.
    pub fn journal(&self, tenant: Option<&str>, since: usize) -> Vec<JournalEntry> {
        self.journal.read(tenant, since).entries
    }

    /// How many entries the journal holds (the cursor for the next read).
    pub fn journal_len(&self) -> usize {
        self.journal.len()
    }

    /// The app registration for a client id.
    pub fn app(&self, client_id: &str) -> Option<AppRegistration> {
        self.apps
            .iter()
            .find(|a| a.client_id == client_id)
            .cloned()
            .or_else(|| lock(&self.first_use).get(client_id).cloned())
    }

    /// The app registration for a client id; when impersonating, an unknown client id is
    /// registered on first use (and recorded in the log): a public client until it presents a
    /// credential, which is then its credential for good; each redirect URI it uses is
    /// registered (on both the public-client and single-page-app platforms).
    pub fn app_on_first_use(
        &self,
        client_id: &str,
        redirect_uri: Option<&str>,
        credential: crate::config::Credential<'_>,
    ) -> Option<AppRegistration> {
        if let Some(a) = self.apps.iter().find(|a| a.client_id == client_id) {
            return Some(a.clone());
        }
        let mut apps = lock(&self.first_use);
        if !self.impersonate || !crate::params::plausible_client_id(client_id) {
            return apps.get(client_id).cloned();
        }
        let app = apps.entry(client_id.to_string()).or_insert_with(|| {
            tracing::info!(client_id, "registered an app on first use");
            AppRegistration {
                client_id: client_id.to_string(),
                secret: None,
                redirect_uris: vec![],
                app_roles: vec![],
                spa_redirect_uris: vec![],
                certificate: false,
                certificate_thumbprints: vec![],
                first_use: true,
            }
        });
        if let Some(r) = redirect_uri.filter(|r| !app.redirect_matches(r)) {
            tracing::info!(
                client_id,
                redirect_uri = r,
                "registered a redirect URI on first use"
            );
            app.redirect_uris.push(r.to_string());
            app.spa_redirect_uris.push(r.to_string());
        }
        if app.secret.is_none() && !app.certificate {
            match credential {
                crate::config::Credential::Secret(s) => {
                    tracing::info!(client_id, "the app authenticates with a secret from now on");
                    app.secret = Some(s.to_string());
                }
                crate::config::Credential::Assertion(_) => {
                    tracing::info!(
                        client_id,
                        "the app authenticates with a certificate from now on"
                    );
                    app.certificate = true;
                }
                crate::config::Credential::None => {}
            }
        }
        Some(app.clone())
    }

    /// The state of a tenant, created on first use with the default configuration (and the
    /// default scenario, when there is one).
    pub fn tenant(&self, name: &str) -> Arc<Tenant> {
        let mut t = lock(&self.tenants);
        t.entry(name.to_string())
            .or_insert_with(|| {
                let tenant = Tenant::new(name, self.default_config.clone());
                if let Some(s) = &self.default_scenario {
                    let mut st = lock(&tenant.state);
                    st.config = crate::scenario::config_for(s, &self.default_config);
                    st.scenario = Some(crate::scenario::Runtime::new(s.clone()));
                }
                Arc::new(tenant)
            })
            .clone()
    }

    /// The keys a tenant signs with.
    pub fn keys_for(&self, tenant: &str) -> Arc<KeySet> {
        self.existing_tenant(tenant)
            .and_then(|t| lock(&t.state).keys.clone())
            .unwrap_or_else(|| self.keys.clone())
    }

    /// Gives a tenant a new signing key; the previous one stays published.
    pub fn rotate_tenant_keys(&self, tenant: &str) -> Result<String, String> {
        let current = self.keys_for(tenant);
        let forked = current.fork();
        let kid = forked.rotate(2)?;
        let t = self.tenant(tenant);
        lock(&t.state).keys = Some(Arc::new(forked));
        Ok(kid)
    }

    /// The tenant if it exists.
    pub fn existing_tenant(&self, name: &str) -> Option<Arc<Tenant>> {
        lock(&self.tenants).get(name).cloned()
    }

    /// Names of tenants that have state.
    pub fn tenant_names(&self) -> Vec<String> {
        let mut v: Vec<String> = lock(&self.tenants).keys().cloned().collect();
        v.sort();
        v
    }

    /// The issuer of a tenant: `{base}/{tenant}/v2.0`.
    pub fn issuer(&self, tenant: &str) -> String {
        format!("{}/{}/v2.0", self.base_url, tenant)
    }

    /// The Graph base URL.
    pub fn graph_url(&self) -> String {
        format!("{}/graph/v1.0", self.base_url)
    }
}

impl Idp {
    /// Makes a tenant replay a scenario (its token shaping replaces the tenant's configuration).
    pub fn load_scenario(&self, tenant: &str, s: model::scenario::Scenario) {
        let t = self.tenant(tenant);
        let mut st = lock(&t.state);
        st.config = crate::scenario::config_for(&s, &self.default_config);
        st.scenario = Some(crate::scenario::Runtime::new(s));
        // A step-up the previous scenario imposed is not this one's.
        st.step_up = None;
    }

    /// Starts a tenant's scenario clock now (otherwise its first request starts it).
    pub fn start_scenario(&self, tenant: &str) -> bool {
        let Some(t) = self.existing_tenant(tenant) else {
            return false;
        };
        let now = self.now_us();
        let mut st = lock(&t.state);
        match st.scenario.as_mut() {
            Some(rt) => {
                rt.start(now);
                true
            }
            None => false,
        }
    }

    /// Fires a scenario event by name now (a step's `fire`).
    pub fn fire_scenario_event(&self, tenant: &str, name: &str) -> Result<(), FireError> {
        let t = self
            .existing_tenant(tenant)
            .ok_or_else(|| FireError::NoScenario(tenant.to_string()))?;
        let now = self.now_us();
        let rotate = {
            let mut st = lock(&t.state);
            st.advance_scenario(now);
            let Some(rt) = st.scenario.as_mut() else {
                return Err(FireError::NoScenario(tenant.to_string()));
            };
            if !rt.scenario.events.iter().any(|e| e.name.value == name) {
                return Err(FireError::NotInScenario(name.to_string()));
            }
            let due = rt
                .fire_named(name, now, now)
                .ok_or_else(|| FireError::AlreadyFired(name.to_string()))?;
            if let Some(e) = due.event {
                st.apply(&e, due.unix_at);
            }
            std::mem::take(&mut st.rotate_keys)
        };
        if rotate {
            self.rotate_tenant_keys(tenant).map_err(FireError::Keys)?;
        }
        Ok(())
    }

    /// The scenario events that fired in a tenant, in order.
    pub fn fired_events(&self, tenant: &str) -> Vec<crate::scenario::FiredEvent> {
        self.existing_tenant(tenant)
            .and_then(|t| lock(&t.state).scenario.as_ref().map(|r| r.fired.clone()))
            .unwrap_or_default()
    }

    /// Fires an event on a tenant now; what it did (the admin API's answer).
    pub fn fire(&self, tenant: &str, event: &Event) -> Result<serde_json::Value, FireError> {
        if !crate::params::valid_tenant(tenant) {
            return Err(FireError::InvalidTenant(tenant.to_string()));
        }
        let t = self.tenant(tenant);
        let (done, rotate) = {
            let mut st = lock(&t.state);
            let done = st.apply(event, unix_now());
            (done, std::mem::take(&mut st.rotate_keys))
        };
        if rotate {
            let kid = self.rotate_tenant_keys(tenant).map_err(FireError::Keys)?;
            return Ok(serde_json::json!({ "kid": kid }));
        }
        Ok(done)
    }
}

/// One tenant: its configuration and mutable state.
pub struct Tenant {
    /// The tenant path segment (also the `tid` claim).
    pub name: String,
    /// Mutable state.
    pub state: Mutex<TenantState>,
}

impl Tenant {
    fn new(name: &str, config: TenantConfig) -> Self {
        Tenant {
            name: name.to_string(),
            state: Mutex::new(TenantState {
                config,
                ..TenantState::default()
            }),
        }
    }
}

/// An SSO session (the browser's cookie).
#[derive(Debug, Clone)]
pub struct Session {
    /// Unix time of sign-in.
    pub auth_time: u64,
}

/// An issued authorization code.
#[derive(Debug, Clone)]
pub struct AuthCode {
    /// Who asked.
    pub client_id: String,
    /// The exact redirect URI of the authorize request.
    pub redirect_uri: String,
    /// Scopes asked for.
    pub scopes: Vec<String>,
    /// PKCE challenge and method.
    pub challenge: Option<(String, String)>,
    /// The authorize `nonce`.
    pub nonce: Option<String>,
    /// The `claims` request of the authorize request.
    pub claims: Option<serde_json::Value>,
    /// Unix time issued.
    pub issued_at: u64,
    /// Unix time of the sign-in it came from.
    pub auth_time: u64,
    /// Already redeemed.
    pub redeemed: bool,
}

/// What a refresh token grants.
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    /// The client it was issued to.
    pub client_id: String,
    /// Scopes it may be redeemed for.
    pub scopes: Vec<String>,
    /// Unix time issued.
    pub issued_at: u64,
    /// Unix expiry.
    pub expires_at: u64,
    /// Revoked (by rotation or an event).
    pub revoked: bool,
    /// Unix time of the original sign-in.
    pub auth_time: u64,
    /// Issued to a single-page app (redeemed cross-origin): a fixed lifetime, redeemable only
    /// cross-origin.
    pub spa: bool,
}

/// A device-code grant in progress.
#[derive(Debug, Clone)]
pub struct DeviceGrant {
    /// The client.
    pub client_id: String,
    /// Scopes asked for.
    pub scopes: Vec<String>,
    /// The code the user types.
    pub user_code: String,
    /// Unix expiry.
    pub expires_at: u64,
    /// Current polling interval (seconds).
    pub interval_s: u64,
    /// Monotonic time (µs) of the last poll.
    pub last_poll_us: Option<u64>,
    /// Where the user is.
    pub status: DeviceStatus,
}

/// The user's side of a device-code grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    /// Not yet approved.
    Pending,
    /// Approved (Unix time).
    Approved(u64),
    /// The user declined.
    Denied,
    /// Tokens were issued; the code is spent.
    Redeemed,
}

/// A tenant's mutable state.
#[derive(Default)]
pub struct TenantState {
    /// Behaviour and token shaping.
    pub config: TenantConfig,
    /// SSO sessions by cookie value.
    pub sessions: HashMap<String, Session>,
    /// Authorization codes by code.
    pub codes: HashMap<String, AuthCode>,
    /// Refresh tokens by fingerprint.
    pub refresh_tokens: HashMap<Fingerprint, RefreshGrant>,
    /// Device grants by device code.
    pub device_codes: HashMap<String, DeviceGrant>,
    /// CAE: access tokens of CAE-capable clients issued before this Unix second are rejected
    /// at the resource with a claims challenge, and so are those of [`Self::cae_revoked_utis`].
    pub cae_revoked_before: Option<u64>,
    /// The CAE tokens issued in the revocation's own second, before it (by `uti`): `iat` has
    /// one-second granularity, and a token issued a moment after the revocation is valid.
    pub cae_revoked_utis: std::collections::HashSet<String>,
    /// The CAE access tokens issued in the current Unix second (the second, their `uti`s).
    pub recent_cae_utis: (u64, Vec<String>),
    /// Counts of forced prompts seen (`login`, `consent`, `select_account`).
    pub forced_prompts: u64,
    /// The scenario this tenant replays.
    pub scenario: Option<crate::scenario::Runtime>,
    /// This tenant's own signing keys, after a rotation.
    pub keys: Option<Arc<KeySet>>,
    /// A rotation is due (set by an event under the lock, done after it).
    pub rotate_keys: bool,
    /// A step-up (multi-factor authentication for a Conditional Access policy) the user owes.
    /// While it is set, every silent request for the user is refused with
    /// `interaction_required` and its claims challenge; an interactive sign-in clears it.
    pub step_up: Option<StepUp>,
}

impl TenantState {
    /// CAE: the resource revokes the CAE tokens issued before Unix second `unix_at` and those
    /// issued in that second before now.
    pub fn cae_revoke(&mut self, unix_at: u64) {
        self.cae_revoked_before = Some(unix_at);
        self.cae_revoked_utis = if self.recent_cae_utis.0 == unix_at {
            self.recent_cae_utis.1.iter().cloned().collect()
        } else {
            Default::default()
        };
    }

    /// A CAE access token was issued now (Unix second `iat`).
    pub fn issued_cae_token(&mut self, iat: u64, uti: &str) {
        if self.recent_cae_utis.0 != iat {
            self.recent_cae_utis = (iat, Vec::new());
        }
        self.recent_cae_utis.1.push(uti.to_string());
    }

    /// Whether the resource rejects a CAE token issued at `iat` (its `uti`).
    pub fn cae_revoked(&self, iat: u64, uti: &str) -> bool {
        self.cae_revoked_before
            .is_some_and(|r| iat < r || (iat == r && self.cae_revoked_utis.contains(uti)))
    }

    /// The user signed in interactively (and so did whatever multi-factor authentication was
    /// asked): a pending step-up is satisfied, and the faults that imposed it are spent.
    /// Returns the step-up that was pending.
    pub fn satisfy_step_up(&mut self) -> Option<StepUp> {
        if let Some(rt) = self.scenario.as_mut() {
            rt.step_up_satisfied();
        }
        self.step_up.take()
    }

    /// Applies an event to the tenant's world: the one place events take effect, whether a
    /// scenario or the admin API fires them. Returns what it did, as the admin API answers. A
    /// key rotation is only noted (`rotate_keys`): the key set is the server's to change, once
    /// this tenant's lock is released.
    pub fn apply(&mut self, event: &Event, unix_at: u64) -> serde_json::Value {
        use serde_json::json;
        match event {
            Event::RevokeSessions => {
                let sessions = self.sessions.len();
                self.sessions.clear();
                let refresh = self.revoke_refresh_tokens();
                json!({"sessions_revoked": sessions, "refresh_tokens_revoked": refresh})
            }
            Event::RevokeRefreshTokens => {
                json!({"refresh_tokens_revoked": self.revoke_refresh_tokens()})
            }
            Event::CaeRevoke => {
                // Tokens issued up to this very moment are revoked; those issued a moment later,
                // in the same second, are not (the tenant remembers which tokens that second
                // had issued).
                self.cae_revoke(unix_at);
                json!({"cae_revoked_before": unix_at})
            }
            Event::RotateKeys => {
                self.rotate_keys = true;
                json!({"rotate_keys": true})
            }
            Event::SetGroups(n) => {
                self.config.user.groups = crate::scenario::groups(*n);
                json!({"groups": n})
            }
            Event::SetRoles(roles) => {
                self.config.user.roles = roles.clone();
                json!({"roles": roles})
            }
            Event::DisableUser => {
                self.config.user.disabled = true;
                json!({"disabled": true})
            }
            Event::EnableUser => {
                self.config.user.disabled = false;
                json!({"disabled": false})
            }
        }
    }

    /// Revokes every refresh token not revoked yet; how many.
    fn revoke_refresh_tokens(&mut self) -> usize {
        let mut n = 0;
        for g in self.refresh_tokens.values_mut().filter(|g| !g.revoked) {
            g.revoked = true;
            n += 1;
        }
        n
    }

    /// Starts the tenant's scenario clock (if it had not started) and applies the scenario's
    /// events that are due by `now_us`.
    pub fn advance_scenario(&mut self, now_us: u64) {
        let Some(rt) = self.scenario.as_mut() else {
            return;
        };
        rt.start(now_us);
        for due in rt.advance(now_us) {
            if let Some(e) = due.event {
                self.apply(&e, due.unix_at);
            }
        }
    }

    /// The refusal a silent request gets while a step-up is pending.
    pub fn step_up_required(&self) -> Result<(), OAuthError> {
        match &self.step_up {
            Some(s) => Err(s.error()),
            None => Ok(()),
        }
    }
}

/// A pending step-up: what the `interaction_required` fault that imposed it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepUp {
    /// The label of the fault that imposed it.
    pub fault: String,
    /// The AADSTS code (Entra's 50076 or 50079).
    pub aadsts: u32,
    /// The message, without its `AADSTSnnnn: ` prefix.
    pub description: String,
    /// Entra's `suberror` (`basic_action`, ...).
    pub suberror: Option<String>,
    /// The claims challenge the client must send back.
    pub claims: Option<String>,
}

impl StepUp {
    /// The default message for a step-up, as Entra words AADSTS50076.
    pub const DEFAULT_DESCRIPTION: &'static str = "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access this resource.";

    /// Entra's `interaction_required` error for a silent request.
    pub fn error(&self) -> OAuthError {
        let mut e = OAuthError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "interaction_required",
            self.aadsts,
            self.description.clone(),
        );
        e.suberror = self.suberror.clone();
        e.claims = self.claims.clone();
        e
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::TenantState;

    /// On a paused clock every reading comes at the same instant, yet each is later than the
    /// one before (a request, its answer and the next request stay in order).
    #[tokio::test(start_paused = true)]
    async fn journal_time_never_repeats_even_on_a_paused_clock() {
        let idp = super::Idp::new(
            "https://127.0.0.1:1".into(),
            crate::keys::KeySet::generate().unwrap(),
            vec![],
            "admin".into(),
            "t".into(),
            Default::default(),
            true,
        );
        let times: Vec<u64> = (0..1000).map(|_| idp.now_us()).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
        // And it still follows the clock when the clock moves.
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        assert!(idp.now_us() >= 2_000_000);
    }

    #[test]
    fn cae_revocation_is_exact_within_its_second() {
        let mut st = TenantState::default();
        st.issued_cae_token(99, "older");
        st.issued_cae_token(100, "before");
        st.cae_revoke(100);
        st.issued_cae_token(100, "after");
        assert!(st.cae_revoked(99, "older"));
        assert!(st.cae_revoked(100, "before"));
        assert!(!st.cae_revoked(100, "after"));
        assert!(!st.cae_revoked(101, "later"));
    }
}

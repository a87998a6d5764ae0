//! The client: cache, single flight, politeness per endpoint, fallback to a still-valid
//! token, CAE, and the resource calls.

use crate::backoff::{parse_retry_after, Gate};
use crate::cache::{key, now_ms, Cache, Entry};
use crate::error::Error;
use crate::flow::{Flow, Interaction};
use crate::persist::Store;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Every request gives up after this long (a stalled server must not hang the app).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How to reach the identity provider.
#[derive(Debug, Clone)]
pub struct Config {
    /// `https://host/<tenant>`.
    pub authority: String,
    /// The app's client id.
    pub client_id: String,
    /// Its secret (confidential client).
    pub client_secret: String,
    /// A CA to trust (PEM) instead of the system's.
    pub ca_pem: Option<String>,
    /// Where to persist the encrypted cache.
    pub state_dir: Option<PathBuf>,
    /// How users sign in (client credentials: no user).
    pub flow: crate::flow::Flow,
    /// The Graph base URL (`.../v1.0`), for overage queries.
    pub graph_url: String,
}

/// Ways to break the client on purpose, one rule at a time (the harness's tests prove each
/// rule catches its breach). Only the `zoo` feature's binary lets a user turn them on.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quirks {
    /// Come back before Retry-After elapses.
    pub ignore_retry_after: bool,
    /// Retry failures at once.
    pub no_backoff: bool,
    /// Never serve from the cache.
    pub no_cache: bool,
    /// Let concurrent needs each make their request.
    pub no_single_flight: bool,
    /// Do not declare the cp1 capability.
    pub no_cp1: bool,
    /// Keep nothing across restarts.
    pub no_persist: bool,
    /// Also write the cache as plain JSON, readable by all.
    pub plaintext_cache: bool,
    /// Force a prompt at interactive sign-in.
    pub forced_prompt: bool,
    /// Never use the refresh token.
    pub no_refresh_token: bool,
    /// Go interactive without trying `prompt=none`.
    pub no_prompt_none: bool,
    /// Ignore `refresh_in`.
    pub ignore_refresh_in: bool,
    /// Fail when renewal fails, though the old token is valid.
    pub no_fallback: bool,
    /// Ask UserInfo for whoami.
    pub userinfo: bool,
    /// Drop the claims an `interaction_required` refusal names (sign in without them).
    pub drop_step_up_claims: bool,
    /// Keep polling a device code at the same interval after `slow_down`.
    pub ignore_slow_down: bool,
    /// Ask Graph for memberships for whoami.
    pub directory: bool,
    /// Ignore a groups overage.
    pub no_overage: bool,
    /// Ignore CAE claims challenges.
    pub no_challenge: bool,
    /// Decode the access token (and fail on an opaque one).
    pub decode_access_token: bool,
    /// Poll device codes every second and ignore slow_down.
    pub fast_poll: bool,
}

#[cfg(feature = "zoo")]
impl Quirks {
    /// Quirks by name, comma-separated, as `--zoo` takes them (`no-cache,no-backoff`).
    pub fn parse(names: &str) -> Result<Quirks, String> {
        let mut q = Quirks::default();
        for name in names.split(',').filter(|n| !n.is_empty()) {
            match name {
                "ignore-retry-after" => q.ignore_retry_after = true,
                "no-backoff" => q.no_backoff = true,
                "no-cache" => q.no_cache = true,
                "no-single-flight" => q.no_single_flight = true,
                "no-cp1" => q.no_cp1 = true,
                "no-persist" => q.no_persist = true,
                "plaintext-cache" => q.plaintext_cache = true,
                "forced-prompt" => q.forced_prompt = true,
                "no-refresh-token" => q.no_refresh_token = true,
                "no-prompt-none" => q.no_prompt_none = true,
                "ignore-refresh-in" => q.ignore_refresh_in = true,
                "no-fallback" => q.no_fallback = true,
                "userinfo" => q.userinfo = true,
                "directory" => q.directory = true,
                "no-overage" => q.no_overage = true,
                "no-challenge" => q.no_challenge = true,
                "decode-access-token" => q.decode_access_token = true,
                "fast-poll" => q.fast_poll = true,
                "drop-step-up-claims" => q.drop_step_up_claims = true,
                "ignore-slow-down" => q.ignore_slow_down = true,
                other => return Err(format!("unknown quirk '{other}'")),
            }
        }
        Ok(q)
    }
}

/// An API's answer.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// The body, as JSON when it was.
    pub body: Value,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Merges JSON objects (the challenge's claims into the `cp1` declaration).
fn merge(base: &mut Value, extra: &Value) {
    match (base, extra) {
        (Value::Object(b), Value::Object(e)) => {
            for (k, v) in e {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, e) => *b = e.clone(),
    }
}

/// The claims of a `WWW-Authenticate: Bearer ... error="insufficient_claims", claims="<b64>"`.
pub fn challenge_claims(www_authenticate: &str) -> Option<Value> {
    use base64::Engine as _;
    if !www_authenticate.contains("insufficient_claims") {
        return None;
    }
    let start = www_authenticate.find("claims=\"")? + 8;
    let b64 = www_authenticate[start..].split('"').next()?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .or_else(|_| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(b64.trim_end_matches('='))
        })
        .ok()?;
    serde_json::from_slice(&raw).ok()
}

/// A resilient token client.
pub struct Client {
    cfg: Config,
    quirks: Quirks,
    http: reqwest::Client,
    cache: Mutex<Cache>,
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    token_gate: Mutex<Gate>,
    api_gate: Mutex<Gate>,
    store: Option<Store>,
    /// Claims the identity provider's last refusal asked a sign-in to satisfy.
    step_up: Mutex<Option<Value>>,
}

impl Client {
    /// A client; loads the persisted cache when there is a state directory.
    pub fn new(cfg: Config) -> Result<Client, Error> {
        Self::build(cfg, Quirks::default())
    }

    /// A client broken on purpose (the harness's zoo of broken clients; the `zoo` feature).
    #[cfg(feature = "zoo")]
    pub fn with_quirks(cfg: Config, quirks: Quirks) -> Result<Client, Error> {
        Self::build(cfg, quirks)
    }

    fn build(cfg: Config, quirks: Quirks) -> Result<Client, Error> {
        let mut b = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .http1_only();
        if let Some(pem) = &cfg.ca_pem {
            let ca = reqwest::Certificate::from_pem(pem.as_bytes())
                .map_err(|e| Error::Local(e.to_string()))?;
            b = b.tls_certs_only([ca]);
        }
        let http = b.build().map_err(|e| Error::Local(e.to_string()))?;
        let store = match &cfg.state_dir {
            Some(_) if quirks.no_persist => None,
            Some(d) => Some(Store::open(d)?),
            None => None,
        };
        // A cache written for another authority or client is not ours to serve.
        let cache = store
            .as_ref()
            .map(Store::load)
            .filter(|c| c.authority == cfg.authority && c.client_id == cfg.client_id)
            .unwrap_or_else(|| Cache::for_client(&cfg.authority, &cfg.client_id));
        let gate = Gate {
            ignore_retry_after: quirks.ignore_retry_after,
            no_backoff: quirks.no_backoff,
            ..Gate::default()
        };
        Ok(Client {
            cfg,
            quirks,
            http,
            cache: Mutex::new(cache),
            flights: Mutex::default(),
            token_gate: Mutex::new(gate.clone()),
            api_gate: Mutex::new(gate),
            store,
            step_up: Mutex::new(None),
        })
    }

    fn flight(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.flights)
            .entry(key.to_string())
            .or_default()
            .clone()
    }

    /// A token for `scopes`: from the cache while fresh; else renewed, unless the endpoint
    /// asked us to wait, in which case a still-valid cached token is served. Client
    /// credentials need no interaction.
    pub async fn acquire(&self, scopes: &[String]) -> Result<String, Error> {
        self.acquire_inner(scopes, None, None, None).await
    }

    /// On-behalf-of (a middle tier): a token for `scopes` for the user whose token
    /// (`assertion`) the caller received. Cached per assertion (by its SHA-256, never the
    /// token itself), with the same renewal, throttling and fallback as every other token.
    pub async fn acquire_on_behalf_of(
        &self,
        assertion: &str,
        scopes: &[String],
    ) -> Result<String, Error> {
        self.acquire_inner(scopes, None, None, Some(assertion))
            .await
    }

    /// As [`Client::acquire`], with someone to show the user a browser or a device code when
    /// a sign-in is needed (user flows).
    pub async fn acquire_with(
        &self,
        scopes: &[String],
        ui: Option<&dyn Interaction>,
    ) -> Result<String, Error> {
        let token = self.acquire_inner(scopes, None, ui, None).await?;
        if self.quirks.decode_access_token && crate::flow::id_token_claims(&token).is_none() {
            return Err(Error::Local("cannot decode the access token".into()));
        }
        Ok(token)
    }

    pub(crate) fn quirks(&self) -> Quirks {
        self.quirks
    }

    pub(crate) fn authority(&self) -> &str {
        &self.cfg.authority
    }

    pub(crate) fn client_id(&self) -> &str {
        &self.cfg.client_id
    }

    pub(crate) fn graph_url(&self) -> &str {
        &self.cfg.graph_url
    }

    /// The token endpoint's last answer was usable.
    pub(crate) fn gate_success(&self) {
        lock(&self.token_gate).success();
    }

    pub(crate) fn flow(&self) -> Flow {
        self.cfg.flow.clone()
    }

    /// The signed-in account's ID-token claims and its overage groups, if resolved.
    pub(crate) fn account(&self) -> (Option<Value>, Option<Vec<String>>) {
        let c = lock(&self.cache);
        (c.id_claims.clone(), c.overage_groups.clone())
    }

    pub(crate) fn remember_groups(&self, groups: Vec<String>) -> Result<(), Error> {
        let snapshot = {
            let mut c = lock(&self.cache);
            c.overage_groups = Some(groups);
            c.clone()
        };
        self.save(&snapshot)
    }

    fn save(&self, c: &Cache) -> Result<(), Error> {
        if let (true, Some(dir)) = (self.quirks.plaintext_cache, &self.cfg.state_dir) {
            let path = dir.join("cache.json");
            let _ = std::fs::write(&path, serde_json::to_vec(c).unwrap_or_default());
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644));
            }
        }
        match &self.store {
            Some(s) => s.save(c),
            None => Ok(()),
        }
    }

    async fn acquire_inner(
        &self,
        scopes: &[String],
        challenge: Option<&Value>,
        ui: Option<&dyn Interaction>,
        assertion: Option<&str>,
    ) -> Result<String, Error> {
        // An on-behalf-of token belongs to the user of the assertion, keyed by its hash.
        let obo_account = assertion.map(|a| {
            let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, a.as_bytes());
            let hex: String = d.as_ref()[..16]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            format!("obo:{hex}")
        });
        let account_of = |c: &Cache| obo_account.clone().or_else(|| c.account());
        let k = format!("{}|{}", obo_account.as_deref().unwrap_or(""), key(scopes));
        let asked_at = now_ms();
        // Concurrent needs for the same token share one network call: whoever waited for the
        // one in flight takes its result, even if that token is already due for renewal.
        let flight = self.flight(&k);
        let _one = if self.quirks.no_single_flight {
            // Make the breach deterministic: every concurrent need finds the cache empty.
            tokio::time::sleep(Duration::from_millis(100)).await;
            None
        } else {
            Some(flight.lock().await)
        };
        let now = now_ms();
        if challenge.is_none() && !self.quirks.no_cache {
            let c = lock(&self.cache);
            if let Some(e) = c
                .valid(account_of(&c).as_deref(), scopes, now)
                .filter(|e| e.received_at_ms >= asked_at)
            {
                return Ok(e.access_token.clone());
            }
        }
        let (fresh, still_valid, refresh_token) = {
            let c = lock(&self.cache);
            let account = account_of(&c);
            (
                c.fresh(account.as_deref(), scopes, now).cloned(),
                c.valid(account.as_deref(), scopes, now).cloned(),
                c.refresh_token.clone(),
            )
        };
        if challenge.is_none() && !self.quirks.no_cache {
            if let Some(e) = fresh {
                return Ok(e.access_token);
            }
        }
        let still_valid = still_valid.filter(|_| challenge.is_none());
        let wait = lock(&self.token_gate).wait(Instant::now());
        if !wait.is_zero() {
            return match still_valid {
                Some(e) => Ok(e.access_token),
                None => Err(Error::Waiting(wait)),
            };
        }
        let mut claims = if self.quirks.no_cp1 {
            json!({})
        } else {
            json!({"access_token": {"xms_cc": {"values": ["cp1"]}}})
        };
        if let Some(c) = challenge {
            merge(&mut claims, c);
        }
        let result = match (&self.cfg.flow, assertion) {
            (_, Some(assertion)) => {
                self.token_request(&[
                    (
                        "grant_type",
                        "urn:ietf:params:oauth:grant-type:jwt-bearer".to_string(),
                    ),
                    ("assertion", assertion.to_string()),
                    ("requested_token_use", "on_behalf_of".to_string()),
                    ("scope", scopes.join(" ")),
                    ("claims", claims.to_string()),
                ])
                .await
            }
            (Flow::ClientCredentials | Flow::OnBehalfOf, None) => {
                self.token_request(&[
                    ("grant_type", "client_credentials".to_string()),
                    ("scope", scopes.join(" ")),
                    ("claims", claims.to_string()),
                ])
                .await
            }
            _ => self.user_token(scopes, &claims, refresh_token, ui).await,
        };
        // An on-behalf-of answer's ID token (if any) is the user's, not a sign-in of ours.
        let v_is_obo = assertion.is_some();
        match result {
            Ok(v) => {
                let Some(entry) = entry_of(&v, !self.quirks.ignore_refresh_in) else {
                    return Err(Error::Transient("unusable token response".into()));
                };
                let token = entry.access_token.clone();
                let snapshot = {
                    let mut c = lock(&self.cache);
                    if let Some(rt) = v
                        .get("refresh_token")
                        .and_then(Value::as_str)
                        .filter(|_| !v_is_obo)
                    {
                        c.refresh_token = Some(rt.to_string());
                    }
                    if let Some(claims) = v
                        .get("id_token")
                        .and_then(Value::as_str)
                        .filter(|_| !v_is_obo)
                        .and_then(crate::flow::id_token_claims)
                    {
                        // A new sign-in: an overage is resolved again, once.
                        c.id_claims = Some(claims);
                        c.overage_groups = None;
                    }
                    // Stored for the account the answer signed in (none for an app token).
                    let account = account_of(&c);
                    c.insert(account.as_deref(), scopes, entry);
                    c.prune(now_ms());
                    c.clone()
                };
                self.save(&snapshot)?;
                Ok(token)
            }
            Err(e) => match still_valid {
                Some(v) if !self.quirks.no_fallback => Ok(v.access_token),
                _ => Err(e),
            },
        }
    }

    /// Refresh token first; when it is refused, a sign-in (`prompt=none`, then interactive).
    async fn user_token(
        &self,
        scopes: &[String],
        claims: &Value,
        refresh_token: Option<String>,
        ui: Option<&dyn Interaction>,
    ) -> Result<Value, Error> {
        let scope = crate::flow::user_scope(scopes);
        let refresh_token = refresh_token.filter(|_| !self.quirks.no_refresh_token);
        if let Some(rt) = refresh_token {
            match self
                .token_request(&[
                    ("grant_type", "refresh_token".to_string()),
                    ("refresh_token", rt),
                    ("scope", scope),
                    ("client_info", "1".to_string()),
                    ("claims", claims.to_string()),
                ])
                .await
            {
                Ok(v) => return Ok(v),
                Err(Error::Refused { .. }) => {
                    // The refresh token is no good: forget it, sign in again.
                    lock(&self.cache).refresh_token = None;
                }
                Err(e) => return Err(e),
            }
        }
        match ui {
            Some(ui) => {
                let mut claims = claims.clone();
                if let Some(extra) = lock(&self.step_up).take() {
                    merge(&mut claims, &extra);
                }
                self.sign_in(scopes, &claims, ui).await
            }
            None => Err(Error::Refused {
                error: "interaction_required".into(),
                description: "a sign-in is needed and nobody can show one".into(),
            }),
        }
    }

    /// POSTs a form to `{authority}/oauth2/v2.0/{endpoint}` with the client's credentials,
    /// through the token endpoint's gate.
    pub(crate) async fn post_form(
        &self,
        endpoint: &str,
        form: &[(&str, String)],
    ) -> Result<Value, Error> {
        let mut all: Vec<(&str, String)> = vec![("client_id", self.cfg.client_id.clone())];
        if !self.cfg.client_secret.is_empty() {
            all.push(("client_secret", self.cfg.client_secret.clone()));
        }
        all.extend(form.iter().cloned());
        let url = format!("{}/oauth2/v2.0/{endpoint}", self.cfg.authority);
        let resp = match self.http.post(&url).form(&all).send().await {
            Ok(r) => r,
            Err(e) => {
                lock(&self.token_gate).failure(Instant::now());
                return Err(Error::Transient(format!("{endpoint} request failed: {e}")));
            }
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                parse_retry_after(v, resp.headers().get("date").and_then(|d| d.to_str().ok()))
            });
        let body = resp.bytes().await;
        let now = Instant::now();
        if status == 429 || status >= 500 {
            let mut g = lock(&self.token_gate);
            match retry_after {
                Some(w) => g.retry_after(now, w),
                None => g.failure(now),
            }
            return Err(Error::Transient(format!(
                "the {endpoint} endpoint answered {status}"
            )));
        }
        let parsed: Option<Value> = body.ok().and_then(|b| serde_json::from_slice(&b).ok());
        if !(200..300).contains(&status) {
            let v = parsed.unwrap_or(Value::Null);
            // interaction_required may name claims (a Conditional Access step-up) that the
            // sign-in must ask for, as Entra expects.
            if let Some(c) = v["claims"]
                .as_str()
                .and_then(|s| serde_json::from_str::<Value>(s).ok())
                .filter(|_| !self.quirks.drop_step_up_claims)
            {
                *lock(&self.step_up) = Some(c);
            }
            return Err(Error::Refused {
                error: v["error"].as_str().unwrap_or("unknown").to_string(),
                description: v["error_description"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            });
        }
        match parsed {
            // Success is declared by the caller, once it knows the answer is usable.
            Some(v @ Value::Object(_)) => Ok(v),
            _ => {
                // A 200 we cannot read (malformed, truncated) is a failed attempt like a 5xx.
                lock(&self.token_gate).failure(now);
                Err(Error::Transient(format!(
                    "the {endpoint} endpoint answered 200 with an unusable body"
                )))
            }
        }
    }

    /// A token request: like [`Client::post_form`] to `token`, and a success must carry an
    /// access token (a 200 without one is a failed attempt).
    pub(crate) async fn token_request(&self, form: &[(&str, String)]) -> Result<Value, Error> {
        let v = self.post_form("token", form).await?;
        if entry_of(&v, true).is_some() {
            lock(&self.token_gate).success();
        } else {
            lock(&self.token_gate).failure(Instant::now());
            return Err(Error::Transient(
                "the token endpoint answered 200 without a usable access token".into(),
            ));
        }
        Ok(v)
    }

    /// Calls the API with a token for `scopes`, honouring the API's throttling and answering a
    /// CAE claims challenge once.
    pub async fn call_api(
        &self,
        method: &str,
        url: &str,
        scopes: &[String],
        ui: Option<&dyn Interaction>,
    ) -> Result<ApiResponse, Error> {
        let wait = lock(&self.api_gate).wait(Instant::now());
        if !wait.is_zero() {
            return Err(Error::Waiting(wait));
        }
        let token = self.acquire_with(scopes, ui).await?;
        let first = self.send_api(method, url, &token, None).await?;
        if first.response.status == 401 && !self.quirks.no_challenge {
            if let Some(claims) = first.challenge.as_deref().and_then(challenge_claims) {
                let fresh = self.acquire_inner(scopes, Some(&claims), ui, None).await?;
                let again = self.send_api(method, url, &fresh, None).await?;
                return Ok(again.response);
            }
        }
        Ok(first.response)
    }

    /// One API call with a given token (no challenge handling), through the API's gate.
    pub(crate) async fn call_api_with_token(
        &self,
        method: &str,
        url: &str,
        token: &str,
        body: Option<Value>,
    ) -> Result<ApiResponse, Error> {
        let wait = lock(&self.api_gate).wait(Instant::now());
        if !wait.is_zero() {
            return Err(Error::Waiting(wait));
        }
        Ok(self.send_api(method, url, token, body).await?.response)
    }

    async fn send_api(
        &self,
        method: &str,
        url: &str,
        token: &str,
        body: Option<Value>,
    ) -> Result<Sent, Error> {
        let m = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|e| Error::Local(e.to_string()))?;
        let mut req = self.http.request(m, url).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                lock(&self.api_gate).failure(Instant::now());
                return Err(Error::Transient(format!("API call failed: {e}")));
            }
        };
        let status = resp.status().as_u16();
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                parse_retry_after(v, resp.headers().get("date").and_then(|d| d.to_str().ok()))
            });
        let body = resp
            .bytes()
            .await
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        let now = Instant::now();
        {
            let mut g = lock(&self.api_gate);
            match (status, retry_after) {
                (429 | 503, Some(w)) => g.retry_after(now, w),
                (429 | 503, None) => g.failure(now),
                (s, _) if s >= 500 => g.failure(now),
                _ => g.success(),
            }
        }
        Ok(Sent {
            response: ApiResponse { status, body },
            challenge,
        })
    }
}

/// The cache entry of a token response.
fn entry_of(v: &Value, honour_refresh_in: bool) -> Option<Entry> {
    let token = v.get("access_token")?.as_str()?.to_string();
    let num = |k: &str| {
        v.get(k)
            .and_then(|x| x.as_u64().or_else(|| x.as_str()?.parse().ok()))
    };
    Some(Entry::new(
        token,
        now_ms(),
        num("expires_in")?,
        num("refresh_in").filter(|_| honour_refresh_in),
    ))
}

struct Sent {
    response: ApiResponse,
    challenge: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_claims_are_decoded_and_merged() {
        let h = "Bearer realm=\"\", error=\"insufficient_claims\", claims=\"eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwgInZhbHVlIjoiMTcwMDAwMDAwMCJ9fX0=\"";
        let c = challenge_claims(h).expect("claims");
        assert_eq!(c["access_token"]["nbf"]["value"], "1700000000");
        let mut base = json!({"access_token": {"xms_cc": {"values": ["cp1"]}}});
        merge(&mut base, &c);
        assert_eq!(base["access_token"]["xms_cc"]["values"][0], "cp1");
        assert_eq!(base["access_token"]["nbf"]["essential"], true);
        assert!(challenge_claims("Bearer realm=\"\"").is_none());
    }
}

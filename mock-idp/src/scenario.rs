//! Replaying a scenario in one tenant: its token shaping becomes the tenant's configuration,
//! its clock starts at the tenant's first request (or when started through the admin API), its
//! timed events fire when due, and its faults are matched against each request.
//!
//! Events are applied lazily, when the next request arrives: only requests observe state, so
//! this is indistinguishable for a client, and each event is recorded at its scheduled time.

use crate::config::{Group, OverageStyle, TenantConfig};
use crate::event::Event;
use model::scenario::{CallRange, Fault, FaultEndpoint, Scenario};
use model::{Endpoint, GrantType};
use std::collections::HashMap;

pub use model::FiredEvent;

/// A scenario event that fired: what it does to the tenant's world (`None`: an outage, which
/// the scenario's faults answer), and the Unix second at which it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// What to apply to the tenant.
    pub event: Option<Event>,
    /// When it happened (its scheduled time, though applied at the next request).
    pub unix_at: u64,
}

/// The scenario state of one tenant.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// The scenario.
    pub scenario: Scenario,
    /// When the scenario's clock started (µs from server start).
    pub started_us: Option<u64>,
    /// Requests per endpoint so far (for `calls`).
    calls: HashMap<Endpoint, u64>,
    /// Events that fired.
    pub fired: Vec<FiredEvent>,
    /// Outage windows (endpoints, from, to), µs from server start.
    outages: Vec<(Vec<FaultEndpoint>, u64, u64)>,
    /// Per-fault random state (for `probability`).
    rng: Vec<u64>,
    /// Per fault: it imposed a step-up (answered a user's request with
    /// `interaction_required`) that is not yet satisfied.
    step_up_imposed: Vec<bool>,
    /// Per fault: a step-up was satisfied after it imposed one, so it no longer applies.
    step_up_spent: Vec<bool>,
}

/// Generated group ids: stable, GUID-shaped.
pub fn groups(n: usize) -> Vec<Group> {
    (0..n)
        .map(|i| Group {
            id: model::directory::group_id(i),
            display_name: model::directory::group_name(i),
        })
        .collect()
}

/// The tenant configuration a scenario's token shaping asks for.
pub fn config_for(s: &Scenario, base: &TenantConfig) -> TenantConfig {
    let t = &s.tokens;
    let mut c = base.clone();
    if let Some(d) = t.access_token_lifetime {
        c.access_token_lifetime_s = d.secs_ceil();
    }
    c.refresh_in_s = t.refresh_in.map(|d| d.secs_ceil());
    if let Some(d) = t.refresh_token_lifetime {
        c.refresh_token_lifetime_s = d.secs_ceil();
    }
    if let Some(d) = t.spa_refresh_token_lifetime {
        c.spa_refresh_token_lifetime_s = d.secs_ceil();
    }
    c.cae_access_token_lifetime_s = t.cae_lifetime.map(|d| d.secs_ceil());
    c.opaque_access_token_audiences = t.opaque_for.clone();
    if let Some(n) = t.groups {
        c.user.groups = groups(n);
    }
    // Roles are the user's in user flows, the app's under client credentials.
    if s.flow.value == model::scenario::Flow::ClientCredentials {
        c.app_roles = t.roles.clone();
    } else {
        c.user.roles = t.roles.clone();
    }
    if let Some(o) = t.overage {
        c.overage_style = match o {
            model::scenario::Overage::ClaimSources => OverageStyle::ClaimSources,
            model::scenario::Overage::Hasgroups => OverageStyle::Hasgroups,
        };
    }
    c.extra_access_token_claims = t.extra_access_token_claims.clone().into_iter().collect();
    c.extra_id_token_claims = t.extra_id_token_claims.clone().into_iter().collect();
    if let Some(d) = t.device_interval {
        c.device_interval_s = d.secs_ceil().max(1);
    }
    if let Some(d) = t.device_code_lifetime {
        c.device_code_lifetime_s = d.secs_ceil();
    }
    c
}

/// What a request looks like to fault selection.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    /// Token requests: the grant.
    pub grant: Option<GrantType>,
    /// Requested scopes.
    pub scopes: Vec<String>,
    /// The client id.
    pub client_id: Option<String>,
    /// Graph: the path under `/graph/v1.0`.
    pub graph_path: Option<String>,
}

/// The decision for one request.
#[derive(Debug, Clone)]
pub enum Decision {
    /// No fault: serve normally.
    Pass,
    /// Apply this fault (its index in the scenario, label and definition).
    Fault(usize, String, Box<Fault>),
    /// An outage event: 503 without Retry-After.
    Outage(String),
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Runtime {
    /// A runtime for a scenario, not yet started.
    pub fn new(scenario: Scenario) -> Self {
        let rng = scenario
            .faults
            .iter()
            .enumerate()
            .map(|(i, f)| f.seed.unwrap_or(0x5EED_0000 + i as u64))
            .collect();
        let n = scenario.faults.len();
        Runtime {
            scenario,
            started_us: None,
            calls: HashMap::new(),
            fired: Vec::new(),
            outages: Vec::new(),
            rng,
            step_up_imposed: vec![false; n],
            step_up_spent: vec![false; n],
        }
    }

    /// Starts the clock (once).
    pub fn start(&mut self, now_us: u64) {
        if self.started_us.is_none() {
            self.started_us = Some(now_us);
        }
    }

    fn elapsed_us(&self, now_us: u64) -> u64 {
        now_us.saturating_sub(self.started_us.unwrap_or(now_us))
    }

    /// Whether the named event has fired.
    pub fn has_fired(&self, name: &str) -> bool {
        self.fired.iter().any(|f| f.name == name)
    }

    /// Fires the timed events that are due (in scenario order): what each does to the tenant's
    /// world, for the caller to apply (`TenantState::advance_scenario`). Outages start here.
    pub fn advance(&mut self, now_us: u64) -> Vec<Due> {
        let Some(start) = self.started_us else {
            return Vec::new();
        };
        let due: Vec<(String, u64)> = self
            .scenario
            .events
            .iter()
            .filter_map(|e| {
                let at = e.at?;
                let at_us = start + at.0.as_micros() as u64;
                (at_us <= now_us && !self.has_fired(&e.name.value))
                    .then(|| (e.name.value.clone(), at_us))
            })
            .collect();
        due.into_iter()
            .filter_map(|(name, at_us)| self.fire_named(&name, at_us, now_us))
            .collect()
    }

    /// Fires the named event at `at_us` (its scheduled or actual time) and records it; an
    /// outage starts here, anything else is returned for the caller to apply. `None` for an
    /// unknown name or one already fired.
    pub fn fire_named(&mut self, name: &str, at_us: u64, now_us: u64) -> Option<Due> {
        if self.has_fired(name) {
            return None;
        }
        let ev = self
            .scenario
            .events
            .iter()
            .find(|e| e.name.value == name)?
            .value
            .clone();
        // The Unix time at which the event happened (it may be applied a little later).
        let ago_s = now_us.saturating_sub(at_us) / 1_000_000;
        let unix_at = model::clock::unix_now().saturating_sub(ago_s);
        let event = Event::of_scenario(&ev);
        if event.is_none() {
            let endpoints = if ev.endpoints.is_empty() {
                vec![FaultEndpoint::Token]
            } else {
                ev.endpoints.clone()
            };
            let len = ev.duration.map(|d| d.0.as_micros() as u64).unwrap_or(0);
            self.outages.push((endpoints, at_us, at_us + len));
        }
        self.fired.push(FiredEvent {
            name: name.to_string(),
            action: serde_json::to_value(ev.action)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            at_us,
        });
        Some(Due { event, unix_at })
    }

    /// Fault `index` imposed a step-up on the user.
    pub fn step_up_imposed(&mut self, index: usize) {
        if let Some(x) = self.step_up_imposed.get_mut(index) {
            *x = true;
        }
    }

    /// The user satisfied the pending step-up: every fault that imposed one is spent.
    pub fn step_up_satisfied(&mut self) {
        for (imposed, spent) in self.step_up_imposed.iter_mut().zip(&mut self.step_up_spent) {
            if *imposed {
                *imposed = false;
                *spent = true;
            }
        }
    }

    /// Counts the request and decides whether a fault applies.
    pub fn decide(&mut self, endpoint: Endpoint, probe: &Probe, now_us: u64) -> Decision {
        let n = {
            let c = self.calls.entry(endpoint).or_insert(0);
            *c += 1;
            *c
        };
        let elapsed = self.elapsed_us(now_us);
        for (eps, from, to) in &self.outages {
            if (*from..*to).contains(&now_us) && eps.iter().any(|e| e.endpoint() == endpoint) {
                return Decision::Outage("outage".to_string());
            }
        }
        for i in 0..self.scenario.faults.len() {
            let f = &self.scenario.faults[i].value;
            if f.endpoint.value.endpoint() != endpoint {
                continue;
            }
            // A step-up fault applies only until the user satisfied the step-up it imposed.
            if self.step_up_spent.get(i).copied().unwrap_or(false) {
                continue;
            }
            if let Some(p) = &f.path {
                if !probe
                    .graph_path
                    .as_deref()
                    .is_some_and(|g| g.starts_with(p.as_str()))
                {
                    continue;
                }
            }
            if let Some(c) = &f.calls {
                match CallRange::parse(&c.value) {
                    Ok(r) if r.contains(n) => {}
                    _ => continue,
                }
            }
            if f.after.is_some_and(|a| elapsed < a.0.as_micros() as u64) {
                continue;
            }
            if f.until
                .as_ref()
                .is_some_and(|u| elapsed >= u.value.0.as_micros() as u64)
            {
                continue;
            }
            if let Some(g) = f.grant {
                if !probe.grant.as_ref().is_some_and(|pg| g.matches(pg)) {
                    continue;
                }
            }
            if let Some(s) = &f.scope {
                if !probe.scopes.iter().any(|x| x.contains(s.as_str())) {
                    continue;
                }
            }
            if let Some(cl) = &f.client {
                if probe.client_id.as_deref() != Some(cl.as_str()) {
                    continue;
                }
            }
            if let Some(ev) = &f.after_event {
                if !self.has_fired(&ev.value) {
                    continue;
                }
            }
            if let Some(p) = f.probability.as_ref().map(|p| p.value) {
                let r = splitmix(&mut self.rng[i]);
                if (r as f64 / u64::MAX as f64) >= p {
                    continue;
                }
            }
            let label = f.name.clone().unwrap_or_else(|| format!("fault-{}", i + 1));
            return Decision::Fault(i, label, Box::new(f.clone()));
        }
        Decision::Pass
    }
}

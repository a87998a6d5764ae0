//! Reading and checking scenarios: YAML errors and cross-checks alike name
//! `file:line:column`, what was found and what was expected.

use super::{At, CallRange, EventAction, FaultEndpoint, Feature, Flow, Scenario};
use crate::rules::{self, CATALOG};
use std::fmt;
use std::path::Path;

/// One problem in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file (as given).
    pub file: String,
    /// Line, from 1 (0: the whole file).
    pub line: u64,
    /// Column, from 1.
    pub column: u64,
    /// What was found and what was expected.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file,
            self.line.max(1),
            self.column.max(1),
            self.message
        )
    }
}

/// Every problem found in a file (or in the files loaded together).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioErrors(pub Vec<ScenarioError>);

/// How many problems `Display` shows before summing up the rest (`{:#}` shows them all).
pub const SHOWN_ERRORS: usize = 10;

impl fmt::Display for ScenarioErrors {
    /// One problem a line: the first [`SHOWN_ERRORS`], then a count of the rest; the alternate
    /// form (`{:#}`, what `scenarios validate` prints) shows every one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = if f.alternate() {
            self.0.len()
        } else {
            SHOWN_ERRORS
        };
        for (i, e) in self.0.iter().take(shown).enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        if self.0.len() > shown {
            let files: std::collections::BTreeSet<&str> =
                self.0.iter().map(|e| e.file.as_str()).collect();
            write!(
                f,
                "\n... and {} more problem(s) ({} in all, in {} file(s)): `tokenstorm scenarios validate` lists every one",
                self.0.len() - shown,
                self.0.len(),
                files.len()
            )?;
        }
        Ok(())
    }
}

impl ScenarioError {
    fn from_yaml(file: &str, e: crate::yaml::YamlError) -> Self {
        ScenarioError {
            file: file.to_string(),
            line: e.line,
            column: e.column,
            message: e.message,
        }
    }
}

/// Reads and checks a scenario file. Files over [`crate::yaml::MAX_FILE_BYTES`] are refused
/// without being read, and YAML is parsed within [`crate::yaml`]'s limits.
pub fn parse_file(path: &Path) -> Result<Scenario, ScenarioErrors> {
    let file = path.display().to_string();
    let text = crate::yaml::read_file(path)
        .map_err(|e| ScenarioErrors(vec![ScenarioError::from_yaml(&file, e)]))?;
    parse(&text, &file)
}

/// Parses and checks scenario text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioErrors> {
    let scenario: Scenario = crate::yaml::from_str(text)
        .map_err(|e| ScenarioErrors(vec![ScenarioError::from_yaml(file, e)]))?;
    let errors = check(&scenario, file);
    if errors.is_empty() {
        Ok(scenario)
    } else {
        Err(ScenarioErrors(errors))
    }
}

/// The JSON Schema of the format (for editors' YAML support).
pub fn schema() -> serde_json::Value {
    let s = schemars::schema_for!(Scenario);
    serde_json::to_value(s).unwrap_or_default()
}

struct Checker<'a> {
    file: &'a str,
    errors: Vec<ScenarioError>,
}

impl Checker<'_> {
    fn at<T>(&mut self, at: &At<T>, message: impl Into<String>) {
        self.errors.push(ScenarioError {
            file: self.file.to_string(),
            line: at.line,
            column: at.column,
            message: message.into(),
        });
    }
}

/// What a rule needs from a scenario to be exercised at all.
fn rule_needs(s: &Scenario, id: &str) -> Option<String> {
    let flow = s.flow.value;
    let has = |op: &str| s.has_step(op);
    let feature = |f: Feature| s.features.iter().any(|x| x.value == f);
    let fault = |pred: &dyn Fn(&super::Fault) -> bool| s.faults.iter().any(|f| pred(&f.value));
    let token_fault = |pred: &dyn Fn(&super::Respond) -> bool| {
        fault(&|f| matches!(f.endpoint.value, FaultEndpoint::Token) && pred(&f.respond))
    };
    let event = |a: EventAction| s.events.iter().any(|e| e.action == a);
    match id {
        "cache.persist" if !has("restart") => Some("a `restart` step".into()),
        "cache.protected" if !feature(Feature::Persist) => Some("the `persist` feature".into()),
        "silent.order" | "silent.prompt-none" if !matches!(flow, Flow::AuthCode) => {
            Some("the auth_code flow".into())
        }
        "silent.prompt-none"
            if !(event(EventAction::RevokeRefreshTokens)
                || (feature(Feature::Spa) && s.tokens.spa_refresh_token_lifetime.is_some())
                || fault(&|f| {
                    f.endpoint.value == FaultEndpoint::Token
                        && f.grant == Some(super::GrantSel::RefreshToken)
                        && f.respond
                            .error
                            .as_deref()
                            .is_some_and(|e| e != "interaction_required")
                })) =>
        {
            Some("a refresh token the IdP refuses while the SSO session lives (a revoke_refresh_tokens event, a refresh_token fault with an `error` other than interaction_required, which asks for an interactive sign-in, or the `spa` feature with a short `spa_refresh_token_lifetime`)".into())
        }
        "throttle.retry-after"
            if !fault(&|f| {
                f.endpoint.value != FaultEndpoint::Graph && f.respond.retry_after.is_some()
            }) =>
        {
            Some("a fault with `retry_after` on an identity-provider endpoint".into())
        }
        "backoff.5xx"
            if !fault(&|f| {
                f.endpoint.value != FaultEndpoint::Graph
                    && f.respond.retry_after.is_none()
                    && (f.respond.status.unwrap_or(0) >= 500
                        || f.respond.mangle == Some(super::Mangle::GatewayHtml)
                        || (f.respond.status.is_none()
                            && f.respond.error.is_none()
                            && f.respond.mangle.is_none()
                            && f.respond.connection.is_none()
                            && f.respond.stall.is_none()
                            && !f.respond.pass_through))
            }) && !event(EventAction::Outage) =>
        {
            Some("a 5xx fault without `retry_after` (or an outage event)".into())
        }
        "backoff.timeout" if !fault(&|f| f.respond.stall.is_some()) => {
            Some("a fault with `stall`".into())
        }
        "refresh.proactive" if s.tokens.refresh_in.is_none() => {
            Some("`tokens.refresh_in`".into())
        }
        "refresh.outage-tolerant"
            if !token_fault(&|r| !r.pass_through || r.stall.is_some())
                && !event(EventAction::Outage) =>
        {
            Some("a token fault or an outage that makes renewal fail".into())
        }
        "claims.id-token-over-userinfo" | "claims.roles-in-token" | "claims.correct"
            if !has("whoami") || !flow.is_user() =>
        {
            Some("a user flow with a `whoami` step".into())
        }
        "claims.groups-overage"
            if !has("whoami") || s.tokens.groups.unwrap_or(0) <= 200 =>
        {
            Some("a `whoami` step and `tokens.groups` over 200".into())
        }
        "cae.claims-challenge" if !has("call_api") || !event(EventAction::CaeRevoke) => {
            Some("a `call_api` step and a `cae_revoke` event".into())
        }
        "api.retry-after"
            if !has("call_api") || !fault(&|f| f.endpoint.value == FaultEndpoint::Graph) =>
        {
            Some("a `call_api` step and a Graph fault".into())
        }
        "tokens.opaque" if s.tokens.opaque_for.is_empty() => {
            Some("`tokens.opaque_for`".into())
        }
        "concurrency.single-flight"
            if !s.steps.iter().any(|st| {
                st.acquire_token.is_some() && st.concurrency.unwrap_or(1) > 1
            }) =>
        {
            Some("an `acquire_token` step with `concurrency` above 1".into())
        }
        "robust.malformed-response"
            if !token_fault(&|r| r.mangle.is_some() || r.connection.is_some()) =>
        {
            Some("a token fault with `mangle` or `connection`".into())
        }
        "device.polling" if !matches!(flow, Flow::DeviceCode) => Some("the device_code flow".into()),
        _ => None,
    }
}

fn check(s: &Scenario, file: &str) -> Vec<ScenarioError> {
    let mut c = Checker {
        file,
        errors: Vec::new(),
    };
    let name = &s.name.value;
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        || name.starts_with('-')
        || name.len() > 64
    {
        c.at(
            &s.name,
            format!("name '{name}' must be 1-64 lowercase letters, digits and '-' (it names the journal file)"),
        );
    }
    if s.rules.is_empty() {
        c.at(
            &s.name,
            "`rules` is empty: name the rules this scenario exercises",
        );
    }
    let mut seen_rules = Vec::new();
    for r in &s.rules {
        let id = r.value.id();
        if rules::rule(id).is_none() {
            let known: Vec<&str> = CATALOG.iter().map(|r| r.id.as_str()).collect();
            let hint = known
                .iter()
                .map(|k| (edit_distance(k, id), *k))
                .min()
                .filter(|(d, _)| *d <= 3)
                .map(|(_, k)| format!(" (did you mean '{k}'?)"))
                .unwrap_or_default();
            c.at(
                r,
                format!(
                    "unknown rule '{id}'{hint}; known rules: {}",
                    known.join(", ")
                ),
            );
            continue;
        }
        if seen_rules.contains(&id) {
            c.at(r, format!("rule '{id}' is listed twice"));
        }
        seen_rules.push(id);
        if let Some(need) = rule_needs(s, id) {
            c.at(
                r,
                format!("rule '{id}' cannot be exercised by this scenario: it needs {need}"),
            );
        }
    }

    // Steps: exactly one operation; features declared.
    if s.steps.is_empty() {
        c.at(
            &s.name,
            "`steps` is empty: a scenario needs at least one step",
        );
    }
    let declared = s.feature_set();
    for st in &s.steps {
        let ops = st.value.ops();
        match ops.len() {
            0 => c.at(st, "a step needs one operation: acquire_token, call_api, whoami, wait, restart, clear_sso or fire"),
            1 => {}
            _ => c.at(st, format!("a step has one operation, found {}", ops.join(" and "))),
        }
        let needs = match ops.first().copied() {
            Some("whoami") => Some(Feature::Whoami),
            Some("call_api") => Some(Feature::CallApi),
            Some("restart") => Some(Feature::Persist),
            _ => None,
        };
        if let Some(f) = needs {
            if !declared.contains(&f) {
                c.at(
                    st,
                    format!(
                        "step '{}' needs the `{}` feature: add it to `features`",
                        ops[0],
                        f.as_str()
                    ),
                );
            }
        }
        let command = st.acquire_token.is_some() || st.call_api.is_some() || st.whoami.is_some();
        if !command
            && (st.repeat.is_some()
                || st.concurrency.is_some()
                || st.expect.is_some()
                || st.deadline.is_some())
        {
            c.at(st, "`repeat`, `concurrency`, `expect` and `deadline` apply to acquire_token, call_api and whoami steps only");
        }
        if st
            .deadline
            .is_some_and(|d| d.0 < std::time::Duration::from_millis(100))
        {
            c.at(
                st,
                "`deadline` under 100ms leaves a client no time to answer",
            );
        }
        if st.whoami.is_some() && !s.flow.is_user() {
            c.at(
                st,
                "`whoami` applies to user flows; this scenario's flow is client_credentials",
            );
        }
        if let Some(r) = st.repeat {
            if r.count.is_none() && r.for_.is_none() {
                c.at(st, "`repeat` needs `count` or `for`");
            }
            // `count` is bounded while reading; `for` over `every` is bounded the same.
            if let (None, Some(f)) = (r.count, r.for_) {
                let times = f.0.as_secs_f64() / r.every.0.as_secs_f64().max(1e-9);
                if times > super::bounds::MAX_REPEAT as f64 {
                    c.at(
                        st,
                        format!(
                            "`repeat` for {f} every {} is over {} repeats: repeat less often or for less time",
                            r.every,
                            super::bounds::MAX_REPEAT
                        ),
                    );
                }
            }
        }
        if let Some(api) = &st.call_api {
            if !api.path.starts_with('/') {
                c.at(
                    st,
                    format!(
                        "call_api path '{}' must start with '/' (it is under the Graph URL)",
                        api.path
                    ),
                );
            }
        }
        if let Some(ev) = &st.fire {
            if !s.events.iter().any(|e| e.name.value == ev.value) {
                c.at(ev, format!("`fire` names unknown event '{}'", ev.value));
            }
        }
    }

    // Events: unique names, parameters that fit the action.
    let mut names: Vec<&str> = Vec::new();
    for e in &s.events {
        if names.contains(&e.name.value.as_str()) {
            c.at(
                &e.name,
                format!("event name '{}' is used twice", e.name.value),
            );
        }
        names.push(&e.name.value);
        let fired_by_step = s
            .steps
            .iter()
            .any(|st| st.fire.as_ref().is_some_and(|f| f.value == e.name.value));
        if e.at.is_none() && !fired_by_step {
            c.at(
                &e.name,
                format!("event '{}' has no `at` and no step fires it", e.name.value),
            );
        }
        match e.action {
            EventAction::SetGroups if e.groups.is_none() => {
                c.at(&e.name, "`set_groups` needs `groups: N`")
            }
            EventAction::SetRoles if e.roles.is_none() => {
                c.at(&e.name, "`set_roles` needs `roles: [...]`")
            }
            EventAction::Outage if e.duration.is_none() => {
                c.at(&e.name, "`outage` needs `duration`")
            }
            EventAction::CaeRevoke if !declared.contains(&Feature::Cae) => c.at(
                &e.name,
                "a `cae_revoke` event needs the `cae` feature: add it to `features`",
            ),
            _ => {}
        }
    }

    // Faults: endpoints the flow calls, ranges, references.
    let mut fault_names: Vec<&str> = Vec::new();
    for (i, f) in s.faults.iter().enumerate() {
        if let Some(n) = &f.name {
            if fault_names.contains(&n.as_str()) {
                c.at(f, format!("fault name '{n}' is used twice"));
            }
            fault_names.push(n);
        }
        let label = f.name.clone().unwrap_or_else(|| format!("fault-{}", i + 1));
        let flow = s.flow.value;
        let unreachable = match f.endpoint.value {
            FaultEndpoint::Authorize => !matches!(flow, Flow::AuthCode),
            FaultEndpoint::Devicecode => !matches!(flow, Flow::DeviceCode),
            FaultEndpoint::Graph => !s.has_step("call_api") && !s.has_step("whoami"),
            FaultEndpoint::Userinfo => !s.has_step("whoami"),
            _ => false,
        };
        if unreachable {
            c.at(
                &f.endpoint,
                format!(
                    "{label}: a fault on `{}` never fires: the {} flow{} never calls it",
                    serde_json::to_value(f.endpoint.value)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    flow.as_str(),
                    if matches!(
                        f.endpoint.value,
                        FaultEndpoint::Graph | FaultEndpoint::Userinfo
                    ) {
                        " with these steps"
                    } else {
                        ""
                    }
                ),
            );
        }
        if f.path.is_some() && f.endpoint.value != FaultEndpoint::Graph {
            c.at(f, format!("{label}: `path` applies to graph faults only"));
        }
        if f.grant.is_some() && f.endpoint.value != FaultEndpoint::Token {
            c.at(f, format!("{label}: `grant` applies to token faults only"));
        }
        if let Some(calls) = &f.calls {
            if let Err(e) = CallRange::parse(&calls.value) {
                c.at(calls, e);
            }
        }
        if let Some(u) = &f.until {
            match f.after {
                Some(a) if u.value <= a => c.at(
                    u,
                    format!("{label}: `until` ({}) must be after `after` ({a})", u.value),
                ),
                None if u.value.0.is_zero() => c.at(
                    u,
                    format!("{label}: `until` is 0s, so the fault never applies"),
                ),
                _ => {}
            }
        }
        if let Some(p) = &f.probability {
            if !(0.0..=1.0).contains(&p.value) {
                c.at(
                    p,
                    format!("{label}: probability {} must be between 0 and 1", p.value),
                );
            }
        }
        if let Some(ev) = &f.after_event {
            if !s.events.iter().any(|e| e.name.value == ev.value) {
                c.at(
                    ev,
                    format!("{label}: `after_event` names unknown event '{}'", ev.value),
                );
            }
        }
        let r = &f.respond;
        let exclusive = [
            r.connection.is_some(),
            r.mangle.is_some(),
            r.error.is_some() || r.body.is_some(),
            r.pass_through,
        ];
        if exclusive.iter().filter(|x| **x).count() > 1 {
            c.at(f, format!("{label}: choose one of `connection`, `mangle`, `error`/`body` and `pass_through`"));
        }
        if r.stall == Some(super::Stall::UntilDisconnect)
            && (r.dribble.is_some() || r.delay.is_some())
        {
            c.at(f, format!("{label}: `stall: until_disconnect` never answers, so `delay`/`dribble` do nothing"));
        }
    }
    c.errors.sort_by_key(|e| (e.line, e.column));
    c.errors
}

/// Levenshtein distance, for "did you mean" hints.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

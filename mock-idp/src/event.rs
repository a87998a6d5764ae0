//! Events: what happens to a tenant's world (its sessions end, a signing key rotates, the user
//! is disabled), from a scenario's timeline or from the admin API and [`crate::MockIdp::fire`].
//! Each is applied in one place, `TenantState::apply`, whoever fires it.

use std::str::FromStr;

/// Something that happens to a tenant's world.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Ends SSO sessions and revokes refresh tokens.
    RevokeSessions,
    /// Revokes refresh tokens.
    RevokeRefreshTokens,
    /// Continuous access evaluation: the resource answers the CAE tokens issued before now with
    /// an `insufficient_claims` challenge.
    CaeRevoke,
    /// A new signing key (the previous one stays published).
    RotateKeys,
    /// The user's groups become this many (a groups overage past the token's limit).
    SetGroups(usize),
    /// The user's app roles.
    SetRoles(Vec<String>),
    /// Disables the user: every grant for them fails.
    DisableUser,
    /// Enables the user again.
    EnableUser,
}

/// The events that take no parameter, by their admin API name.
const NAMED: [(&str, Event); 6] = [
    ("revoke-sessions", Event::RevokeSessions),
    ("revoke-refresh-tokens", Event::RevokeRefreshTokens),
    ("cae-revoke", Event::CaeRevoke),
    ("rotate-keys", Event::RotateKeys),
    ("disable-user", Event::DisableUser),
    ("enable-user", Event::EnableUser),
];

impl Event {
    /// Its name (the admin API's `POST /_tokenstorm/tenants/{t}/events/{name}`).
    pub fn name(&self) -> &'static str {
        match self {
            Event::RevokeSessions => "revoke-sessions",
            Event::RevokeRefreshTokens => "revoke-refresh-tokens",
            Event::CaeRevoke => "cae-revoke",
            Event::RotateKeys => "rotate-keys",
            Event::SetGroups(_) => "set-groups",
            Event::SetRoles(_) => "set-roles",
            Event::DisableUser => "disable-user",
            Event::EnableUser => "enable-user",
        }
    }

    /// What a scenario's event does to the tenant's world; `None` for an outage, which is the
    /// scenario's own (its faults answer it).
    pub(crate) fn of_scenario(ev: &model::scenario::Event) -> Option<Event> {
        use model::scenario::EventAction as A;
        Some(match ev.action {
            A::RevokeSessions => Event::RevokeSessions,
            A::RevokeRefreshTokens => Event::RevokeRefreshTokens,
            A::CaeRevoke => Event::CaeRevoke,
            A::RotateKeys => Event::RotateKeys,
            A::SetGroups => Event::SetGroups(ev.groups.unwrap_or(0)),
            A::SetRoles => Event::SetRoles(ev.roles.clone().unwrap_or_default()),
            A::DisableUser => Event::DisableUser,
            A::EnableUser => Event::EnableUser,
            A::Outage => return None,
        })
    }
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An event by the name the admin API takes: those without a parameter, in kebab case (the
/// scenario format's snake case is accepted too).
impl FromStr for Event {
    type Err = FireError;
    fn from_str(s: &str) -> Result<Event, FireError> {
        let kebab = s.replace('_', "-");
        NAMED
            .iter()
            .find(|(n, _)| *n == kebab)
            .map(|(_, e)| e.clone())
            .ok_or_else(|| FireError::UnknownEvent(s.to_string()))
    }
}

/// Why an event could not fire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FireError {
    /// The tenant name is not one the mock serves.
    #[error("invalid tenant '{0}'")]
    InvalidTenant(String),
    /// No such event.
    #[error("unknown event '{0}'; known: revoke-sessions, revoke-refresh-tokens, cae-revoke, rotate-keys, disable-user, enable-user")]
    UnknownEvent(String),
    /// The tenant replays no scenario (for a scenario's event).
    #[error("tenant '{0}' replays no scenario")]
    NoScenario(String),
    /// The tenant's scenario has no event of that name.
    #[error("the scenario has no event '{0}'")]
    NotInScenario(String),
    /// The scenario's event fired already (each fires once).
    #[error("event '{0}' has already fired")]
    AlreadyFired(String),
    /// A new signing key could not be made.
    #[error("cannot rotate the signing keys: {0}")]
    Keys(String),
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for (name, e) in NAMED {
            assert_eq!(name.parse::<Event>(), Ok(e.clone()));
            assert_eq!(e.name(), name);
            assert_eq!(name.replace('-', "_").parse::<Event>(), Ok(e));
        }
        assert_eq!(
            "set-groups".parse::<Event>(),
            Err(FireError::UnknownEvent("set-groups".into()))
        );
        assert!("nope"
            .parse::<Event>()
            .unwrap_err()
            .to_string()
            .contains("known: revoke-sessions"));
    }
}

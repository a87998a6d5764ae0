//! The directory the mock identity provider serves: its default user and the groups it
//! generates. Shared, so that rules know what the identity provider issued (whoami's expected
//! answer) without asking the mock.

/// The default user's `preferred_username`.
pub const USERNAME: &str = "adele.vance@contoso.test";
/// The default user's object id.
pub const OID: &str = "5d2e9c41-7a3b-4f86-b1e0-2c4d6a8f9b13";
/// The default user's display name.
pub const NAME: &str = "Adele Vance";
/// The default user's given name.
pub const GIVEN_NAME: &str = "Adele";
/// The default user's surname.
pub const FAMILY_NAME: &str = "Vance";

/// The object id of the `i`-th generated group: stable and GUID-shaped.
pub fn group_id(i: usize) -> String {
    format!("6a1f0000-0000-4000-8000-{i:012}")
}

/// The display name of the `i`-th generated group.
pub fn group_name(i: usize) -> String {
    format!("tokenstorm group {i}")
}

/// The ids of the first `n` generated groups (a user in `n` groups is in these).
pub fn group_ids(n: usize) -> Vec<String> {
    (0..n).map(group_id).collect()
}

//! Scopes as Entra reads them: which resource a scope is for and which permission it names, so
//! that rules can tell whether a token answers what was asked.

use std::collections::BTreeSet;

/// OIDC scopes that name no resource.
pub const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "offline_access", "email"];

/// Microsoft Graph's resource URI.
pub const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";

/// Microsoft Graph's application id (a scope may name the resource by it).
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// Splits a resource scope into its resource and permission: `https://graph.microsoft.com/User.Read`
/// → (`https://graph.microsoft.com`, `User.Read`); `api://app/.default` → (`api://app`,
/// `.default`); a bare `User.Read` is Graph's.
pub fn split(s: &str) -> (String, String) {
    if let Some(i) = s.find("://") {
        if let Some(j) = s[i + 3..].rfind('/') {
            let cut = i + 3 + j;
            return (s[..cut].to_string(), s[cut + 1..].to_string());
        }
        return (s.to_string(), ".default".to_string());
    }
    if let Some((res, perm)) = s.split_once('/') {
        let res = if res == GRAPH_APP_ID {
            GRAPH_RESOURCE.to_string()
        } else {
            res.to_string()
        };
        return (res, perm.to_string());
    }
    (GRAPH_RESOURCE.to_string(), s.to_string())
}

/// What a list of scopes asks of one resource, OIDC scopes aside.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ask {
    /// The resources named (one for a valid request; Graph when none is named).
    pub resources: BTreeSet<String>,
    /// The permission names, lower-cased (scopes are case-insensitive in Entra).
    pub permissions: BTreeSet<String>,
}

impl Ask {
    /// Reads a list of scopes.
    pub fn of(scopes: &[String]) -> Ask {
        let mut resources = BTreeSet::new();
        let mut permissions = BTreeSet::new();
        for s in scopes
            .iter()
            .flat_map(|s| s.split_whitespace())
            .filter(|s| !OIDC_SCOPES.contains(s))
        {
            let (r, p) = split(s);
            resources.insert(r.to_ascii_lowercase().trim_end_matches('/').to_string());
            permissions.insert(p.to_ascii_lowercase());
        }
        if resources.is_empty() {
            resources.insert(GRAPH_RESOURCE.to_string());
        }
        Ask {
            resources,
            permissions,
        }
    }

    /// Whether a token issued for `self` answers `asked`: the same resource, and every
    /// permission asked is among those the token was issued for (`.default` asks for the
    /// resource's consented permissions, which any token for the resource carries).
    pub fn covers(&self, asked: &Ask) -> bool {
        self.resources == asked.resources
            && asked
                .permissions
                .iter()
                .all(|p| p == ".default" || self.permissions.contains(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(s: &str) -> Ask {
        Ask::of(&s.split(' ').map(str::to_string).collect::<Vec<_>>())
    }

    #[test]
    fn splits_like_entra() {
        assert_eq!(
            split("https://graph.microsoft.com/User.Read"),
            (GRAPH_RESOURCE.into(), "User.Read".into())
        );
        assert_eq!(
            split("api://app/.default"),
            ("api://app".into(), ".default".into())
        );
        assert_eq!(
            split("Mail.Read"),
            (GRAPH_RESOURCE.into(), "Mail.Read".into())
        );
        assert_eq!(
            split("00000003-0000-0000-c000-000000000000/User.Read"),
            (GRAPH_RESOURCE.into(), "User.Read".into())
        );
    }

    #[test]
    fn a_token_covers_a_subset_of_its_scopes_on_its_resource() {
        let t = ask(
            "https://graph.microsoft.com/User.Read https://graph.microsoft.com/Mail.Read openid",
        );
        assert!(t.covers(&ask("https://graph.microsoft.com/user.read")));
        assert!(t.covers(&ask("User.Read Mail.Read")));
        assert!(!t.covers(&ask("https://graph.microsoft.com/Files.Read")));
        assert!(!t.covers(&ask("api://other/User.Read")));
        assert!(ask("api://other/.default").covers(&ask("api://other/.default")));
        assert!(!ask("api://other/.default").covers(&ask("https://graph.microsoft.com/.default")));
    }
}

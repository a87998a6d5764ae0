//! Rules about what the client asks for beyond tokens: forced prompts, UserInfo, directory
//! calls, and the CAE capability.

use super::{about, describe, Finding, Input};
use model::Endpoint;

/// `silent.no-forced-prompt`: no `prompt=login` or `prompt=consent` (or `select_account`).
pub fn no_forced_prompt(input: &Input<'_>) -> Finding {
    let authz: Vec<_> = input
        .client_requests()
        .filter(|e| e.endpoint == Endpoint::Authorize)
        .collect();
    if authz.is_empty() {
        return Finding::na("the client never signed a user in");
    }
    let forced: Vec<_> = authz
        .iter()
        .filter(|e| {
            matches!(
                e.prompt.as_deref(),
                Some("login" | "consent" | "select_account")
            )
        })
        .map(|e| {
            about(
                e,
                format!(
                    "{} with prompt={}",
                    describe(e),
                    e.prompt.as_deref().unwrap_or_default()
                ),
            )
        })
        .collect();
    if forced.is_empty() {
        Finding::pass("no sign-in forced a prompt")
    } else {
        Finding::fail("forced-prompt", "the client forced a prompt", forced)
    }
}

fn whoami_asked(input: &Input<'_>) -> bool {
    input.scenario.flow.is_user() && input.commands("whoami").next().is_some()
}

/// `claims.id-token-over-userinfo`: no UserInfo call when the ID token has what whoami needs.
pub fn no_userinfo(input: &Input<'_>) -> Finding {
    // Observed apps send no whoami: a UserInfo call after the app got an ID token (which holds
    // the name, username and object ID UserInfo answers) is the avoidable call.
    let first_id_token = input
        .client_requests()
        .find(|e| e.issued.iter().any(|t| t.kind == model::TokenKind::Id))
        .map(|e| e.arrived_us);
    if input.observed {
        if first_id_token.is_none() {
            return Finding::na("the app got no ID token");
        }
    } else if !whoami_asked(input) {
        return Finding::na("whoami was never asked");
    }
    let calls: Vec<_> = input
        .client_requests()
        .filter(|e| e.endpoint == Endpoint::Userinfo)
        .filter(|e| !input.observed || first_id_token.is_some_and(|t| e.arrived_us > t))
        .map(|e| {
            about(
                e,
                format!("UserInfo call at {}", model::verdict::secs(e.arrived_us)),
            )
        })
        .collect();
    if calls.is_empty() {
        Finding::pass("whoami was answered without UserInfo")
    } else {
        Finding::fail(
            "userinfo-call",
            "the client called UserInfo although the ID token has the claims",
            calls,
        )
    }
}

/// A Graph request that reads directory membership or role assignments, directly or inside a
/// JSON batch (`$batch`).
pub fn reads_directory(e: &model::JournalEntry) -> bool {
    e.endpoint == Endpoint::Graph
        && (is_directory_call(&e.path) || e.batch_paths.iter().any(|p| is_directory_call(p)))
}

/// Graph paths that read directory membership or role assignments.
pub fn is_directory_call(path: &str) -> bool {
    [
        "memberOf",
        "transitiveMemberOf",
        "getMemberObjects",
        "getMemberGroups",
        "checkMemberGroups",
        "appRoleAssignments",
    ]
    .iter()
    .any(|p| path.contains(p))
}

/// `claims.roles-in-token`: no directory call for whoami when roles and groups are in the
/// token (no overage).
pub fn roles_in_token(input: &Input<'_>) -> Finding {
    if !whoami_asked(input) {
        return Finding::na("whoami was never asked");
    }
    if input.scenario.tokens.groups.unwrap_or(0) > 200 {
        return Finding::na("the groups are in overage: a Graph call is expected");
    }
    let calls: Vec<_> = input
        .client_requests()
        .filter(|e| reads_directory(e))
        .map(|e| about(e, format!("{} {}", describe(e), e.path)))
        .collect();
    if calls.is_empty() {
        Finding::pass("roles and groups came from the token")
    } else {
        Finding::fail(
            "directory-call",
            "the client asked Graph for what the token already said",
            calls,
        )
    }
}

/// `cae.capable`: every token request declares the `cp1` capability.
pub fn cae_capable(input: &Input<'_>) -> Finding {
    let reqs: Vec<_> = input
        .client_requests()
        .filter(|e| e.endpoint == Endpoint::Token)
        .collect();
    if reqs.is_empty() {
        return Finding::na("the client made no token request");
    }
    let missing: Vec<_> = reqs
        .iter()
        .filter(|e| !e.client_capabilities.iter().any(|c| c == "cp1"))
        .map(|e| about(e, format!("{} without xms_cc cp1 in `claims`", describe(e))))
        .collect();
    if missing.is_empty() {
        Finding::pass("every token request declared cp1")
    } else {
        Finding::fail(
            "no-cp1",
            "the client did not declare the cp1 capability, so it gets no long-lived CAE tokens",
            missing,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use model::transcript::{TranscriptEntry, TranscriptEvent};
    use model::verdict::Status;
    use model::Endpoint;

    fn user_scenario(rule: &str, extra: &str) -> model::scenario::Scenario {
        let text = format!("name: t\nsummary: t\nflow: auth_code\nfeatures: [whoami]\nrules: [{rule}]\nsteps: [{{whoami: {{}}}}]\n{extra}");
        serde_saphyr::from_str(&text).unwrap()
    }
    fn whoami() -> Vec<TranscriptEntry> {
        vec![TranscriptEntry {
            at_us: 1,
            event: TranscriptEvent::Command {
                id: 1,
                op: "whoami".into(),
                args: serde_json::Value::Null,
                step: 0,
                deadline_ms: 1000,
            },
        }]
    }
    fn status(
        s: &model::scenario::Scenario,
        rule: &str,
        j: &[model::JournalEntry],
        t: &[TranscriptEntry],
    ) -> Status {
        judged(rule, s, j, t, &[], &[]).0
    }

    #[test]
    fn forced_prompts() {
        let s = user_scenario("silent.no-forced-prompt", "");
        let mut a = entry(1, 1.0, Endpoint::Authorize, 302);
        assert_eq!(
            status(&s, "silent.no-forced-prompt", std::slice::from_ref(&a), &[]),
            Status::Pass
        );
        a.prompt = Some("login".into());
        assert_eq!(
            status(&s, "silent.no-forced-prompt", &[a], &[]),
            Status::Fail
        );
        assert_eq!(
            status(&s, "silent.no-forced-prompt", &[], &[]),
            Status::NotApplicable
        );
    }

    #[test]
    fn userinfo_and_directory_calls() {
        let s = user_scenario("claims.id-token-over-userinfo", "");
        assert_eq!(
            status(&s, "claims.id-token-over-userinfo", &[], &whoami()),
            Status::Pass
        );
        assert_eq!(
            status(
                &s,
                "claims.id-token-over-userinfo",
                &[entry(1, 1.0, Endpoint::Userinfo, 200)],
                &whoami()
            ),
            Status::Fail
        );
        assert_eq!(
            status(&s, "claims.id-token-over-userinfo", &[], &[]),
            Status::NotApplicable
        );

        let s = user_scenario("claims.roles-in-token", "");
        let mut g = entry(1, 1.0, Endpoint::Graph, 200);
        g.path = "/graph/v1.0/me/memberOf".into();
        assert_eq!(
            status(&s, "claims.roles-in-token", &[g.clone()], &whoami()),
            Status::Fail
        );
        let mut me = g.clone();
        me.path = "/graph/v1.0/me".into();
        assert_eq!(
            status(&s, "claims.roles-in-token", &[me], &whoami()),
            Status::Pass
        );
        let over = user_scenario("claims.roles-in-token", "tokens: { groups: 250 }\n");
        assert_eq!(
            status(&over, "claims.roles-in-token", &[g], &whoami()),
            Status::NotApplicable
        );
    }

    #[test]
    fn cae_capability() {
        let s = scenario("[cae.capable]", "");
        let mut t = entry(1, 1.0, Endpoint::Token, 200);
        assert_eq!(
            status(&s, "cae.capable", std::slice::from_ref(&t), &[]),
            Status::Fail
        );
        t.client_capabilities = vec!["cp1".into()];
        assert_eq!(status(&s, "cae.capable", &[t], &[]), Status::Pass);
        assert_eq!(status(&s, "cae.capable", &[], &[]), Status::NotApplicable);
    }
}

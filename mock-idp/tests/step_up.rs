//! Step-up (multi-factor authentication for a Conditional Access policy) is tenant state: a
//! scripted `interaction_required` imposes it; every silent path refuses while it is pending,
//! whatever claims the request carries; an interactive sign-in satisfies it, and the fault
//! that imposed it no longer applies.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::Value;
use tokenstorm_mock_idp::MockIdp;

const CHALLENGE: &str = r#"{"access_token":{"capolids":{"essential":true,"values":["c1a2b3d4-0000-4000-8000-000000000001"]}}}"#;

fn scenario(calls: Option<&str>) -> model::scenario::Scenario {
    let calls = calls
        .map(|c| format!("calls: \"{c}\", "))
        .unwrap_or_default();
    let yaml = format!(
        "name: su\nsummary: s\nflow: auth_code\nfeatures: [call_api]\nrules: [client.liveness]\n\
         steps: [{{call_api: {{path: /me}}}}]\nfaults:\n\
         \x20 - {{ name: mfa, endpoint: token, grant: refresh_token, {calls}respond: {{ error: interaction_required, aadsts: 50079, suberror: basic_action, \
         description: \"Due to a configuration change made by your administrator, you must enroll in multi-factor authentication.\", claims: '{CHALLENGE}' }} }}\n"
    );
    model::scenario::parse(&yaml, "su.yaml").unwrap_or_else(|e| panic!("{e}"))
}

/// Signs in interactively: the SSO cookie and a refresh token.
async fn sign_in(http: &reqwest::Client, idp: &MockIdp, t: &str) -> (String, String) {
    let (_, loc, cookie) = authorize(http, idp, t, &[], None).await;
    let code = query_param(&loc.unwrap(), "code").unwrap();
    let tok: Value = token(
        http,
        idp,
        t,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &public_id(idp)),
            ("code", &code),
            ("redirect_uri", "http://localhost:8765/callback"),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    (
        cookie.unwrap(),
        tok["refresh_token"].as_str().unwrap().to_string(),
    )
}

async fn refresh(
    http: &reqwest::Client,
    idp: &MockIdp,
    t: &str,
    rt: &str,
    claims: Option<&str>,
) -> reqwest::Response {
    let pid = public_id(idp);
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("client_id", pid.as_str()),
        ("refresh_token", rt),
    ];
    if let Some(c) = claims {
        form.push(("claims", c));
    }
    token(http, idp, t, &form).await
}

async fn obo(http: &reqwest::Client, idp: &MockIdp, t: &str) -> reqwest::Response {
    let (id, secret) = confidential(idp);
    let assertion = idp.user_assertion(t).unwrap();
    token(
        http,
        idp,
        t,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("assertion", &assertion),
            ("requested_token_use", "on_behalf_of"),
            ("scope", "https://graph.microsoft.com/User.Read"),
        ],
    )
    .await
}

/// Asserts Entra's step-up refusal and returns its body.
async fn step_up_refusal(r: reqwest::Response) -> Value {
    let b = entra_error(r, 400, "interaction_required", 50079).await;
    assert_eq!(b["suberror"], "basic_action", "{b}");
    assert_eq!(b["claims"], CHALLENGE, "{b}");
    b
}

#[tokio::test]
async fn a_pending_step_up_refuses_every_silent_path_until_an_interactive_sign_in() {
    let idp = start().await;
    let http = client(&idp);
    let t = "su-once";
    let (cookie, rt) = sign_in(&http, &idp, t).await;
    // Only the first token request is faulted: the refusals after it are the tenant's state.
    idp.load_scenario(t, scenario(Some("1")));
    step_up_refusal(refresh(&http, &idp, t, &rt, None).await).await;
    // A refresh, with or without the challenge's claims.
    step_up_refusal(refresh(&http, &idp, t, &rt, None).await).await;
    step_up_refusal(refresh(&http, &idp, t, &rt, Some(CHALLENGE)).await).await;
    // prompt=none with the session, with or without the claims: an error redirect carrying
    // the challenge.
    for extra in [vec![], vec![("claims", CHALLENGE)]] {
        let mut q = vec![("prompt", "none")];
        q.extend(extra);
        let (s, loc, _) = authorize(&http, &idp, t, &q, Some(&cookie)).await;
        assert_eq!(s, 302);
        let loc = loc.unwrap();
        assert!(loc.starts_with("http://localhost:8765/callback?"), "{loc}");
        assert_eq!(
            query_param(&loc, "error").as_deref(),
            Some("interaction_required")
        );
        assert_eq!(query_param(&loc, "claims").as_deref(), Some(CHALLENGE));
        assert_eq!(
            query_param(&loc, "error_subcode").as_deref(),
            Some("basic_action")
        );
        assert_eq!(query_param(&loc, "state").as_deref(), Some("st-123"));
        assert!(query_param(&loc, "code").is_none());
    }
    // Without a session there is no user to step up: login_required, as before.
    let (_, loc, _) = authorize(&http, &idp, t, &[("prompt", "none")], None).await;
    assert_eq!(
        query_param(&loc.unwrap(), "error").as_deref(),
        Some("login_required")
    );
    // On-behalf-of for that user.
    step_up_refusal(obo(&http, &idp, t).await).await;
    // Client credentials have no user: unaffected.
    client_credentials(&http, &idp, t).await;

    // The journal: the first refusal is the fault's, the rest the tenant's.
    let j = idp.journal_for(t);
    let refusals: Vec<_> = j
        .iter()
        .filter(|e| e.error.as_deref() == Some("interaction_required"))
        .map(|e| e.fault.clone())
        .collect();
    assert_eq!(refusals.len(), 6, "{refusals:?}");
    assert_eq!(refusals[0].as_deref(), Some("mfa"));
    assert!(refusals[1..].iter().all(Option::is_none));

    // An interactive sign-in, without the claims: the user did MFA.
    let (_, loc, _) = authorize(&http, &idp, t, &[], Some(&cookie)).await;
    assert!(query_param(&loc.unwrap(), "code").is_some());
    // Silent paths work again.
    let r = refresh(&http, &idp, t, &rt, None).await;
    assert_eq!(r.status(), 200);
    let (_, loc, _) = authorize(&http, &idp, t, &[("prompt", "none")], Some(&cookie)).await;
    assert!(query_param(&loc.unwrap(), "code").is_some());
    assert_eq!(obo(&http, &idp, t).await.status(), 200);
}

#[tokio::test]
async fn once_satisfied_the_fault_does_not_impose_it_again() {
    let idp = start().await;
    let http = client(&idp);
    let t = "su-always";
    let (cookie, rt) = sign_in(&http, &idp, t).await;
    // The fault matches every refresh.
    idp.load_scenario(t, scenario(None));
    step_up_refusal(refresh(&http, &idp, t, &rt, None).await).await;
    // An interactive sign-in carrying the claims (a conformant client).
    let (_, loc, _) = authorize(&http, &idp, t, &[("claims", CHALLENGE)], Some(&cookie)).await;
    assert!(query_param(&loc.unwrap(), "code").is_some());
    for _ in 0..2 {
        let r = refresh(&http, &idp, t, &rt, None).await;
        assert_eq!(r.status(), 200);
    }
    let j = idp.journal_for(t);
    let faulted = j.iter().filter(|e| e.fault.is_some()).count();
    assert_eq!(faulted, 1, "the fault applied only before the step-up");
    // The interactive sign-in's entry shows the claims the client carried.
    let interactive = j
        .iter()
        .rev()
        .find(|e| e.endpoint == model::Endpoint::Authorize)
        .unwrap();
    assert_eq!(
        interactive.claims,
        Some(serde_json::from_str::<Value>(CHALLENGE).unwrap())
    );
}

#[tokio::test]
async fn approving_a_device_code_satisfies_the_step_up() {
    let idp = start().await;
    let http = client(&idp);
    let t = "su-device";
    let (_, rt) = sign_in(&http, &idp, t).await;
    idp.load_scenario(t, scenario(Some("1")));
    step_up_refusal(refresh(&http, &idp, t, &rt, None).await).await;
    step_up_refusal(refresh(&http, &idp, t, &rt, None).await).await;
    let dc: Value = http
        .post(format!("{}/oauth2/v2.0/devicecode", idp.authority(t)))
        .form(&[
            ("client_id", public_id(&idp).as_str()),
            ("scope", "User.Read"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let page = http
        .get(format!("{}/devicelogin", idp.authority(t)))
        .query(&[("user_code", dc["user_code"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(refresh(&http, &idp, t, &rt, None).await.status(), 200);
}

//! Managed identity: App Service's identity endpoint (its header checked) and the instance
//! metadata service (its `Metadata` header checked; reached at 169.254.169.254 through the
//! impersonation proxy), in their own answer shapes, journaled as token requests with the
//! `managed_identity` grant, and answered by a scenario's token-endpoint faults.
#![allow(clippy::unwrap_used)]

mod common;

use common::claims;
use model::{Endpoint, GrantType, TokenKind};
use serde_json::Value;
use tokenstorm_mock_idp::{MockIdp, Options};

fn env(idp: &MockIdp, tenant: &str, key: &str) -> String {
    idp.managed_identity_env(tenant)
        .into_iter()
        .find(|(k, _)| k == key)
        .unwrap()
        .1
}

#[tokio::test]
async fn app_service_and_imds_answer_in_their_shapes_and_are_journaled_as_token_requests() {
    let idp = MockIdp::start(Options::default().impersonate(true))
        .await
        .unwrap();
    let http = common::client(&idp);
    let endpoint = env(&idp, "mi", "IDENTITY_ENDPOINT");
    let header = env(&idp, "mi", "IDENTITY_HEADER");
    let ask = |h: Option<&str>| {
        let mut r = http.get(&endpoint).query(&[
            ("api-version", "2019-08-01"),
            ("resource", "https://graph.microsoft.com"),
        ]);
        if let Some(h) = h {
            r = r.header("X-IDENTITY-HEADER", h);
        }
        r.send()
    };
    assert_eq!(ask(None).await.unwrap().status(), 401);
    assert_eq!(ask(Some("wrong")).await.unwrap().status(), 401);
    let r = ask(Some(&header)).await.unwrap();
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    assert!(
        t["expires_on"].is_string(),
        "App Service writes expires_on as a string: {t}"
    );
    assert_eq!(t["resource"], "https://graph.microsoft.com");
    let c = claims(t["access_token"].as_str().unwrap());
    assert_eq!(c["aud"], "https://graph.microsoft.com");
    assert_eq!(c["tid"], "mi");
    assert_eq!(c["idtyp"], "app");

    // The instance metadata service, through the proxy at its link-local address.
    let imds = reqwest::Client::builder()
        .proxy(reqwest::Proxy::http(idp.proxy_url().unwrap()).unwrap())
        .build()
        .unwrap();
    let url = "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net";
    let r = imds.get(url).send().await.unwrap();
    assert_eq!(r.status(), 400, "no Metadata header");
    let r = imds
        .get(url)
        .header("Metadata", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    for k in ["expires_in", "expires_on", "not_before"] {
        assert!(t[k].is_string(), "IMDS writes {k} as a string: {t}");
    }
    assert_eq!(
        claims(t["access_token"].as_str().unwrap())["aud"],
        "https://vault.azure.net"
    );

    let mi: Vec<_> = idp
        .journal()
        .into_iter()
        .filter(|e| e.grant_type == Some(GrantType::ManagedIdentity))
        .collect();
    assert_eq!(mi.len(), 5, "{mi:?}");
    assert!(mi.iter().all(|e| e.endpoint == Endpoint::Token));
    let ok: Vec<_> = mi.iter().filter(|e| e.status == 200).collect();
    assert_eq!(ok.len(), 2);
    assert!(ok
        .iter()
        .all(|e| e.issued.iter().any(|t| t.kind == TokenKind::Access)));
    assert_eq!(
        ok[1].scopes,
        vec!["https://vault.azure.net/.default".to_string()]
    );
}

#[tokio::test]
async fn a_scenarios_token_faults_answer_managed_identity_requests() {
    let idp = common::start().await;
    let s = model::scenario::parse(
        "name: t\nsummary: t\nflow: client_credentials\nrules: [client.liveness]\nsteps: [{acquire_token: {}}]\nfaults:\n  - name: throttled\n    endpoint: token\n    calls: \"1\"\n    respond: {status: 429, retry_after: 7s}\n",
        "t.yaml",
    )
    .unwrap();
    idp.load_scenario("mi", s);
    let http = common::client(&idp);
    let ask = || {
        http.get(env(&idp, "mi", "IDENTITY_ENDPOINT"))
            .query(&[
                ("api-version", "2019-08-01"),
                ("resource", "https://graph.microsoft.com"),
            ])
            .header("X-IDENTITY-HEADER", env(&idp, "mi", "IDENTITY_HEADER"))
            .send()
    };
    let r = ask().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    assert_eq!(ask().await.unwrap().status(), 200);
    let j = idp.journal_for("mi");
    assert_eq!(j.len(), 2);
    assert!(
        j.iter()
            .all(|e| e.grant_type == Some(GrantType::ManagedIdentity)),
        "{j:?}"
    );
}

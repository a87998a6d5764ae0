//! Single-page apps, as Entra treats them: CORS for a browser's `fetch` (preflights answered
//! and never journaled), cross-origin code redemption only for SPA redirect URIs, SPA refresh
//! tokens with a fixed life that refreshing never extends and that only a cross-origin request
//! may redeem, and no cross-origin access to the admin API.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use model::Endpoint;
use serde_json::Value;
use tokenstorm_mock_idp::TenantConfig;

const ORIGIN: &str = "http://localhost:8765";
const SCOPES: &str = "https://graph.microsoft.com/User.Read openid profile offline_access";

/// A code for the public client, sent to `redirect_uri`.
async fn code(
    http: &reqwest::Client,
    idp: &tokenstorm_mock_idp::MockIdp,
    tenant: &str,
    redirect_uri: &str,
) -> (String, String) {
    let (verifier, challenge) = pkce();
    let (status, loc, _) = authorize(
        http,
        idp,
        tenant,
        &[
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("redirect_uri", redirect_uri),
        ],
        None,
    )
    .await;
    assert_eq!(status, 302, "{loc:?}");
    (query_param(&loc.unwrap(), "code").unwrap(), verifier)
}

async fn redeem(
    http: &reqwest::Client,
    idp: &tokenstorm_mock_idp::MockIdp,
    tenant: &str,
    form: &[(&str, &str)],
    origin: Option<&str>,
) -> reqwest::Response {
    let mut req = http
        .post(format!("{}/oauth2/v2.0/token", idp.authority(tenant)))
        .form(form);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    req.send().await.unwrap()
}

async fn spa_tokens(
    http: &reqwest::Client,
    idp: &tokenstorm_mock_idp::MockIdp,
    tenant: &str,
) -> (Value, reqwest::header::HeaderMap) {
    let (code, verifier) = code(http, idp, tenant, "http://localhost:8765/callback").await;
    let pid = public_id(idp);
    let r = redeem(
        http,
        idp,
        tenant,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &pid),
            ("code", &code),
            ("redirect_uri", "http://localhost:8765/callback"),
            ("code_verifier", &verifier),
            ("scope", SCOPES),
        ],
        Some(ORIGIN),
    )
    .await;
    assert_eq!(r.status(), 200);
    let headers = r.headers().clone();
    (r.json().await.unwrap(), headers)
}

#[tokio::test]
async fn preflights_are_answered_for_the_browser_and_never_journaled() {
    let idp = start().await;
    let http = client(&idp);
    for url in [
        format!("{}/oauth2/v2.0/token", idp.authority("spa")),
        format!("{}/me", idp.graph_url()),
    ] {
        let r = http
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", ORIGIN)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{url}");
        let h = r.headers();
        assert_eq!(h["access-control-allow-origin"], ORIGIN);
        assert!(h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST"));
        assert_eq!(
            h["access-control-allow-headers"],
            "authorization, content-type"
        );
    }
    assert!(
        idp.journal().is_empty(),
        "a preflight is the browser's, not the client's: {:?}",
        idp.journal()
    );
    // The admin API takes no cross-origin calls: no CORS headers, whatever the origin.
    let r = http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/_tokenstorm/journal", idp.base_url()),
        )
        .header("origin", ORIGIN)
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn cross_origin_answers_name_the_origin_and_expose_what_each_service_exposes() {
    let idp = start().await;
    let http = client(&idp);
    let (t, h) = spa_tokens(&http, &idp, "spa").await;
    assert_eq!(h["access-control-allow-origin"], ORIGIN);
    assert!(h["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .contains("Retry-After"));
    // Discovery too (MSAL.js fetches it from the page).
    let r = http
        .get(format!(
            "{}/v2.0/.well-known/openid-configuration",
            idp.authority("spa")
        ))
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], ORIGIN);
    // Graph: the CAE challenge header is readable, Retry-After is not (as Graph's own CORS).
    let r = http
        .get(format!("{}/me", idp.graph_url()))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let exposed = r.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(exposed.contains("WWW-Authenticate"), "{exposed}");
    assert!(!exposed.contains("Retry-After"), "{exposed}");
    // Without an Origin, no CORS headers at all.
    let r = http
        .get(format!(
            "{}/v2.0/.well-known/openid-configuration",
            idp.authority("spa")
        ))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn cross_origin_redemption_is_for_spa_redirect_uris_only() {
    let idp = start().await;
    let http = client(&idp);
    // `http://127.0.0.1/callback` is registered for the public client, not as an SPA.
    let (code, verifier) = code(&http, &idp, "spa", "http://127.0.0.1:9000/callback").await;
    let pid = public_id(&idp);
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", pid.as_str()),
        ("code", code.as_str()),
        ("redirect_uri", "http://127.0.0.1:9000/callback"),
        ("code_verifier", verifier.as_str()),
        ("scope", SCOPES),
    ];
    let r = redeem(&http, &idp, "spa", &form, Some("http://127.0.0.1:9000")).await;
    // The refusal is readable by the page that made it.
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://127.0.0.1:9000"
    );
    let body = entra_error(r, 400, "invalid_request", 9002326).await;
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("Request origin: 'http://127.0.0.1:9000'"));
    // The same code, redeemed server-side (no Origin), works: the refusal did not spend it.
    let r = redeem(&http, &idp, "spa", &form, None).await;
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["refresh_token_expires_in"], 90 * 24 * 3600);
    // An ordinary refresh token can't be redeemed cross-origin either.
    let r = redeem(
        &http,
        &idp,
        "spa",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &pid),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
        ],
        Some(ORIGIN),
    )
    .await;
    entra_error(r, 400, "invalid_request", 9002326).await;
}

#[tokio::test]
async fn spa_refresh_tokens_have_a_fixed_life_and_are_redeemed_cross_origin_only() {
    let idp = start().await;
    let http = client(&idp);
    idp.configure_tenant(
        "spa",
        TenantConfig {
            spa_refresh_token_lifetime_s: 3,
            ..TenantConfig::default()
        },
    );
    let (t, _) = spa_tokens(&http, &idp, "spa").await;
    assert_eq!(t["refresh_token_expires_in"], 3);
    let pid = public_id(&idp);
    let refresh = |rt: String, origin: Option<&'static str>| {
        let http = http.clone();
        let pid = pid.clone();
        let idp = &idp;
        async move {
            redeem(
                &http,
                idp,
                "spa",
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", &pid),
                    ("refresh_token", &rt),
                ],
                origin,
            )
            .await
        }
    };
    let rt = t["refresh_token"].as_str().unwrap().to_string();
    // Server-side redemption of an SPA refresh token is refused.
    entra_error(
        refresh(rt.clone(), None).await,
        400,
        "invalid_request",
        9002327,
    )
    .await;
    // Cross-origin it works, and the new refresh token keeps the first one's expiry.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = refresh(rt.clone(), Some(ORIGIN)).await;
    assert_eq!(r.status(), 200);
    let t2: Value = r.json().await.unwrap();
    let left = t2["refresh_token_expires_in"].as_u64().unwrap();
    assert!(
        left <= 2,
        "refreshing extended the SPA refresh token's life: {left} s left"
    );
    let rt2 = t2["refresh_token"].as_str().unwrap().to_string();
    // Once the fixed life is over, both are refused with AADSTS700084.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    for rt in [rt, rt2] {
        let body = entra_error(
            refresh(rt, Some(ORIGIN)).await,
            400,
            "invalid_grant",
            700084,
        )
        .await;
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("0.00:00:03"),
            "{body}"
        );
    }
    // The journal records each redemption with its Origin-free facts; nothing else.
    assert!(idp
        .journal()
        .iter()
        .all(|e| matches!(e.endpoint, Endpoint::Authorize | Endpoint::Token)));
}

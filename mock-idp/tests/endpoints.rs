//! The real server over TLS on port 0: every endpoint, every error path, and the journal
//! entries they leave.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use model::{Completion, Endpoint, GrantType, TokenKind};
use serde_json::{json, Value};
use tokenstorm_mock_idp::Event;

/// Signs the default user in through authorize + code redemption; returns the token response.
async fn user_tokens(
    http: &reqwest::Client,
    idp: &tokenstorm_mock_idp::MockIdp,
    tenant: &str,
    extra_token_params: &[(&str, &str)],
) -> Value {
    let (verifier, challenge) = pkce();
    let (status, loc, _) = authorize(
        http,
        idp,
        tenant,
        &[
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("client_info", "1"),
        ],
        None,
    )
    .await;
    assert_eq!(status, 302);
    let code = query_param(&loc.unwrap(), "code").unwrap();
    let pid = public_id(idp);
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", pid.as_str()),
        ("code", &code),
        ("redirect_uri", "http://localhost:8765/callback"),
        ("code_verifier", &verifier),
        (
            "scope",
            "https://graph.microsoft.com/User.Read openid profile offline_access",
        ),
        ("client_info", "1"),
    ];
    form.extend_from_slice(extra_token_params);
    let r = token(http, idp, tenant, &form).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn discovery_and_jwks_are_entra_shaped_and_verify_issued_tokens() {
    let idp = start().await;
    let http = client(&idp);
    let auth = idp.authority("contoso");
    let d: Value = http
        .get(format!("{auth}/v2.0/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], format!("{auth}/v2.0"));
    for (k, suffix) in [
        ("authorization_endpoint", "/oauth2/v2.0/authorize"),
        ("token_endpoint", "/oauth2/v2.0/token"),
        ("device_authorization_endpoint", "/oauth2/v2.0/devicecode"),
        ("end_session_endpoint", "/oauth2/v2.0/logout"),
        ("jwks_uri", "/discovery/v2.0/keys"),
    ] {
        assert_eq!(d[k], format!("{auth}{suffix}"), "{k}");
    }
    assert_eq!(
        d["userinfo_endpoint"],
        format!("{}/oidc/userinfo", idp.base_url())
    );
    let jwks: Value = http
        .get(d["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["use"], "sig");
    // A token's kid names a published key.
    let t = client_credentials(&http, &idp, "contoso").await;
    let at = t["access_token"].as_str().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            at.split('.').next().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], key["kid"]);
    // Instance discovery (MSAL Python's instance_discovery="<url>").
    let inst: Value = http
        .get(format!("{}/common/discovery/instance", idp.base_url()))
        .query(&[
            ("api-version", "1.1"),
            (
                "authorization_endpoint",
                &format!("{auth}/oauth2/v2.0/authorize"),
            ),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        inst["tenant_discovery_endpoint"],
        format!("{auth}/v2.0/.well-known/openid-configuration")
    );
}

#[tokio::test]
async fn tls_leaf_is_signed_by_the_ca_for_localhost_and_loopback_ips() {
    let idp = start().await;
    let http = client(&idp);
    let port = idp.addr().port();
    for host in ["localhost", "127.0.0.1"] {
        let r = http
            .get(format!("https://{host}:{port}/t/discovery/v2.0/keys"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{host}");
    }
    // A client that does not trust the generated CA is refused.
    let untrusting = reqwest::Client::builder()
        .tls_certs_only(Vec::<reqwest::Certificate>::new())
        .build()
        .unwrap();
    assert!(untrusting
        .get(format!("{}/t/discovery/v2.0/keys", idp.base_url()))
        .send()
        .await
        .is_err());
    // The CA file on disk is the one served.
    let on_disk = std::fs::read_to_string(idp.ca_cert_path().unwrap()).unwrap();
    assert_eq!(on_disk, idp.ca_cert_pem().unwrap());
}

#[tokio::test]
async fn refuses_non_loopback_without_allow_remote() {
    let err = tokenstorm_mock_idp::MockIdp::start(
        tokenstorm_mock_idp::Options::default().addr("0.0.0.0:0".parse().unwrap()),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("--allow-remote"), "{err}");
}

#[tokio::test]
async fn client_credentials_issue_app_tokens_and_journal_them() {
    let idp = start().await;
    let http = client(&idp);
    let t = client_credentials(&http, &idp, "cc").await;
    assert_eq!(t["token_type"], "Bearer");
    assert!(t["expires_in"].as_u64().unwrap() >= 3599);
    assert!(t.get("refresh_token").is_none());
    assert!(t.get("id_token").is_none());
    let c = claims(t["access_token"].as_str().unwrap());
    assert_eq!(c["aud"], "https://graph.microsoft.com");
    assert_eq!(c["tid"], "cc");
    assert_eq!(c["idtyp"], "app");
    assert_eq!(c["ver"], "2.0");
    assert_eq!(c["iss"], format!("{}/v2.0", idp.authority("cc")));
    for k in ["iat", "nbf", "exp", "oid", "sub", "azp", "uti"] {
        assert!(!c[k].is_null(), "{k}");
    }
    // Every token is unique.
    let t2 = client_credentials(&http, &idp, "cc").await;
    assert_ne!(t["access_token"], t2["access_token"]);
    let j = idp.journal_for("cc");
    assert_eq!(j.len(), 2);
    let e = &j[0];
    assert_eq!(e.endpoint, Endpoint::Token);
    assert_eq!(e.grant_type, Some(GrantType::ClientCredentials));
    assert_eq!(e.status, 200);
    assert_eq!(e.completion, Completion::Sent);
    assert!(e.finished_us.unwrap() >= e.arrived_us);
    let issued = e.issued_of(TokenKind::Access).unwrap();
    assert_eq!(issued.uti.as_deref(), c["uti"].as_str());
    assert_eq!(
        issued.fingerprint,
        model::Fingerprint::of(t["access_token"].as_str().unwrap())
    );
    // No full token anywhere in the journal.
    let text = serde_json::to_string(&j).unwrap();
    assert!(!text.contains(t["access_token"].as_str().unwrap()));
    // Other tenants have their own journals.
    assert!(idp.journal_for("other").is_empty());
}

#[tokio::test]
async fn client_secret_basic_is_accepted() {
    let idp = start().await;
    let http = client(&idp);
    let (id, secret) = confidential(&idp);
    let r = http
        .post(format!("{}/oauth2/v2.0/token", idp.authority("b")))
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .post(format!("{}/oauth2/v2.0/token", idp.authority("b")))
        .basic_auth(&id, Some("wrong"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    entra_error(r, 401, "invalid_client", 7000215).await;
}

#[tokio::test]
async fn token_endpoint_errors_are_entra_shaped() {
    let idp = start().await;
    let http = client(&idp);
    let (id, secret) = confidential(&idp);
    let url = format!("{}/oauth2/v2.0/token", idp.authority("err"));
    let cc = |extra: Vec<(&'static str, String)>| {
        let mut f: Vec<(&str, String)> = vec![
            ("grant_type", "client_credentials".into()),
            ("client_id", id.clone()),
            ("client_secret", secret.clone()),
            ("scope", "https://graph.microsoft.com/.default".into()),
        ];
        for (k, v) in extra {
            f.retain(|(kk, _)| *kk != k);
            if !v.is_empty() {
                f.push((k, v));
            }
        }
        f
    };
    // Wrong secret.
    let r = token(
        &http,
        &idp,
        "err",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", "nope"),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    entra_error(r, 401, "invalid_client", 7000215).await;
    // Missing secret.
    let r = http
        .post(&url)
        .form(&cc(vec![("client_secret", String::new())]))
        .send()
        .await
        .unwrap();
    entra_error(r, 401, "invalid_client", 7000218).await;
    // Unknown client.
    let r = http
        .post(&url)
        .form(&cc(vec![("client_id", "no-such-app".into())]))
        .send()
        .await
        .unwrap();
    entra_error(r, 400, "unauthorized_client", 700016).await;
    // Missing grant_type.
    let r = http
        .post(&url)
        .form(&cc(vec![("grant_type", String::new())]))
        .send()
        .await
        .unwrap();
    let b = entra_error(r, 400, "invalid_request", 900144).await;
    assert!(b["error_description"]
        .as_str()
        .unwrap()
        .contains("'grant_type'"));
    // Unknown grant.
    let r = http
        .post(&url)
        .form(&cc(vec![("grant_type", "password".into())]))
        .send()
        .await
        .unwrap();
    entra_error(r, 400, "unsupported_grant_type", 70003).await;
    // Client credentials without /.default.
    let r = http
        .post(&url)
        .form(&cc(vec![(
            "scope",
            "https://graph.microsoft.com/User.Read".into(),
        )]))
        .send()
        .await
        .unwrap();
    entra_error(r, 400, "invalid_scope", 1002012).await;
    // OIDC scopes beside /.default (MSAL for Go and Java add them): ignored, an app token only.
    let r = http
        .post(format!("{}/oauth2/v2.0/token", idp.authority("cc-oidc")))
        .form(&cc(vec![(
            "scope",
            "https://graph.microsoft.com/.default openid offline_access profile".into(),
        )]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    assert!(t["access_token"].is_string());
    assert!(
        t.get("refresh_token").is_none() && t.get("id_token").is_none(),
        "{t}"
    );
    // Two resources.
    let r = http
        .post(&url)
        .form(&cc(vec![(
            "scope",
            "api://a/.default https://graph.microsoft.com/.default".into(),
        )]))
        .send()
        .await
        .unwrap();
    entra_error(r, 400, "invalid_scope", 28000).await;
    // Duplicated parameter.
    let body = format!("grant_type=client_credentials&client_id={id}&client_secret={secret}&scope=x%2F.default&scope=y%2F.default");
    let r = http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let b = entra_error(r, 400, "invalid_request", 9000411).await;
    assert!(b["error_description"]
        .as_str()
        .unwrap()
        .contains("'scope' is duplicated"));
    // Wrong content type.
    let r = http
        .post(&url)
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    entra_error(r, 400, "invalid_request", 900144).await;
    // Oversized body.
    let big = format!(
        "grant_type=client_credentials&pad={}",
        "a".repeat(2 * 1024 * 1024)
    );
    let r = http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    entra_error(r, 413, "invalid_request", 90056).await;
    // Malformed claims.
    let r = http
        .post(&url)
        .form(&cc(vec![("claims", "{not json".into())]))
        .send()
        .await
        .unwrap();
    entra_error(r, 400, "invalid_request", 90014).await;
    // GET on the token endpoint.
    let r = http.get(&url).send().await.unwrap();
    entra_error(r, 405, "invalid_request", 900561).await;
    // Unknown path.
    let r = http
        .get(format!("{}/nope/nope", idp.base_url()))
        .send()
        .await
        .unwrap();
    entra_error(r, 404, "invalid_request", 900561).await;
    // The client's correlation id is echoed.
    let r = http
        .post(&url)
        .header("client-request-id", "corr-42")
        .form(&cc(vec![("client_secret", "bad".into())]))
        .send()
        .await
        .unwrap();
    let b = entra_error(r, 401, "invalid_client", 7000215).await;
    assert_eq!(b["correlation_id"], "corr-42");
    // Every refusal is journaled with its error.
    let j = idp.journal_for("err");
    assert!(
        j.iter()
            .all(|e| e.status >= 400 && e.error.is_some() && !e.error_codes.is_empty()),
        "{j:#?}"
    );
}

#[tokio::test]
async fn auth_code_with_pkce_and_refresh_rotation() {
    let idp = start().await;
    let http = client(&idp);
    let t = user_tokens(&http, &idp, "ac", &[]).await;
    for k in [
        "access_token",
        "refresh_token",
        "id_token",
        "client_info",
        "scope",
    ] {
        assert!(t[k].is_string(), "{k} in {t}");
    }
    assert_eq!(
        t["scope"],
        "https://graph.microsoft.com/User.Read openid profile offline_access"
    );
    let id = claims(t["id_token"].as_str().unwrap());
    let user = idp.ready().user;
    assert_eq!(id["nonce"], "n-456");
    assert_eq!(id["oid"], user.oid.as_str());
    assert_eq!(id["preferred_username"], user.username.as_str());
    assert_eq!(id["aud"], public_id(&idp));
    assert_eq!(id["tid"], "ac");
    assert!(id["name"].is_string());
    let ci: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            t["client_info"].as_str().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(ci, json!({"uid": user.oid, "utid": "ac"}));
    let at = claims(t["access_token"].as_str().unwrap());
    assert_eq!(at["scp"], "User.Read openid profile");
    assert_eq!(at["idtyp"], "user");
    assert_eq!(at["azpacr"], "0");

    // Refresh: a new RT each time; the old one stays valid (Entra does not revoke on rotation).
    let pid = public_id(&idp);
    let rt1 = t["refresh_token"].as_str().unwrap().to_string();
    let r = token(
        &http,
        &idp,
        "ac",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &pid),
            ("refresh_token", &rt1),
            (
                "scope",
                "https://graph.microsoft.com/User.Read offline_access",
            ),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    let t2: Value = r.json().await.unwrap();
    let rt2 = t2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2);
    assert_ne!(t["access_token"], t2["access_token"]);
    let r = token(
        &http,
        &idp,
        "ac",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &pid),
            ("refresh_token", &rt1),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    // With rotation revoking, the old one is refused.
    let mut cfg = tokenstorm_mock_idp::TenantConfig {
        revoke_rotated_refresh_tokens: true,
        ..Default::default()
    };
    idp.configure_tenant("ac", cfg.clone());
    let r = token(
        &http,
        &idp,
        "ac",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &pid),
            ("refresh_token", &rt2),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = token(
        &http,
        &idp,
        "ac",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &pid),
            ("refresh_token", &rt2),
        ],
    )
    .await;
    entra_error(r, 400, "invalid_grant", 50173).await;
    // Garbage RT.
    let r = token(
        &http,
        &idp,
        "ac",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &pid),
            ("refresh_token", "garbage"),
        ],
    )
    .await;
    entra_error(r, 400, "invalid_grant", 9002313).await;
    // Revocation event.
    let t3 = user_tokens(&http, &idp, "ac", &[]).await;
    idp.fire("ac", &Event::RevokeRefreshTokens).unwrap();
    let r = token(
        &http,
        &idp,
        "ac",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &pid),
            ("refresh_token", t3["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    entra_error(r, 400, "invalid_grant", 50173).await;
    // A disabled user cannot refresh.
    cfg.revoke_rotated_refresh_tokens = false;
    idp.configure_tenant("ac", cfg);
    let t4 = user_tokens(&http, &idp, "ac", &[]).await;
    idp.fire("ac", &Event::DisableUser).unwrap();
    let r = token(
        &http,
        &idp,
        "ac",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &pid),
            ("refresh_token", t4["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    entra_error(r, 400, "invalid_grant", 50057).await;
    // The journal records presented refresh tokens by fingerprint.
    let refreshes: Vec<_> = idp
        .journal_for("ac")
        .into_iter()
        .filter(|e| e.grant_type == Some(GrantType::RefreshToken))
        .collect();
    assert_eq!(
        refreshes[0].presented.as_ref().unwrap().fingerprint,
        model::Fingerprint::of(&rt1)
    );
}

#[tokio::test]
async fn auth_code_errors_pkce_reuse_redirect_and_expiry() {
    let idp = start().await;
    let http = client(&idp);
    let pid = public_id(&idp);
    let (verifier, challenge) = pkce();
    let get_code = || async {
        let (_, loc, _) = authorize(
            &http,
            &idp,
            "ace",
            &[
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
            None,
        )
        .await;
        query_param(&loc.unwrap(), "code").unwrap()
    };
    let redeem = |code: String, verifier: String, redirect: &'static str| {
        let http = http.clone();
        let pid = pid.clone();
        let url = format!("{}/oauth2/v2.0/token", idp.authority("ace"));
        async move {
            http.post(url)
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("client_id", &pid),
                    ("code", &code),
                    ("redirect_uri", redirect),
                    ("code_verifier", &verifier),
                    ("scope", "openid offline_access"),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    // Wrong verifier.
    let code = get_code().await;
    let r = redeem(
        code.clone(),
        "wrong-verifier-wrong-verifier-wrong-verifier".into(),
        "http://localhost:8765/callback",
    )
    .await;
    entra_error(r, 400, "invalid_grant", 501481).await;
    // Wrong redirect URI.
    let r = redeem(
        code.clone(),
        verifier.clone(),
        "http://localhost:8765/other",
    )
    .await;
    entra_error(r, 400, "invalid_grant", 500112).await;
    // Right: works once, then the code is spent.
    let r = redeem(
        code.clone(),
        verifier.clone(),
        "http://localhost:8765/callback",
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = redeem(
        code.clone(),
        verifier.clone(),
        "http://localhost:8765/callback",
    )
    .await;
    entra_error(r, 400, "invalid_grant", 54005).await;
    // Unknown code.
    let r = redeem(
        "nope".into(),
        verifier.clone(),
        "http://localhost:8765/callback",
    )
    .await;
    entra_error(r, 400, "invalid_grant", 70000).await;
    // Codes are short-lived.
    idp.configure_tenant(
        "ace",
        tokenstorm_mock_idp::TenantConfig {
            code_lifetime_s: 0,
            ..Default::default()
        },
    );
    let code = get_code().await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = redeem(code, verifier.clone(), "http://localhost:8765/callback").await;
    entra_error(r, 400, "invalid_grant", 70008).await;
}

#[tokio::test]
async fn authorize_prompt_semantics_sso_cookie_and_response_modes() {
    let idp = start().await;
    let http = client(&idp);
    // prompt=none without a session: redirect with login_required, state kept.
    let (s, loc, _) = authorize(&http, &idp, "p", &[("prompt", "none")], None).await;
    assert_eq!(s, 302);
    let loc = loc.unwrap();
    assert!(loc.starts_with("http://localhost:8765/callback?"), "{loc}");
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("login_required")
    );
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st-123"));
    // Interactive sign-in sets the SSO cookie, returns code, state and client_info.
    let (s, loc, cookie) = authorize(&http, &idp, "p", &[("client_info", "1")], None).await;
    assert_eq!(s, 302);
    let loc = loc.unwrap();
    assert!(query_param(&loc, "code").is_some());
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st-123"));
    assert!(query_param(&loc, "client_info").is_some());
    let cookie = cookie.expect("SSO cookie");
    // prompt=none with the session: a code.
    let (_, loc, _) = authorize(&http, &idp, "p", &[("prompt", "none")], Some(&cookie)).await;
    assert!(query_param(&loc.unwrap(), "code").is_some());
    // A step-up is the tenant's state, not the request's: claims naming a Conditional Access
    // policy, with nothing owed, are answered silently (tests/step_up.rs has the rest).
    let step_up = r#"{"access_token":{"capolids":{"essential":true,"values":["c1"]}}}"#;
    let (_, loc, _) = authorize(
        &http,
        &idp,
        "p",
        &[("prompt", "none"), ("claims", step_up)],
        Some(&cookie),
    )
    .await;
    assert!(query_param(&loc.unwrap(), "code").is_some());
    let (_, loc, _) = authorize(&http, &idp, "p", &[("claims", step_up)], Some(&cookie)).await;
    assert!(query_param(&loc.unwrap(), "code").is_some());
    // The session is the tenant's: another tenant says login_required.
    let (_, loc, _) = authorize(&http, &idp, "p2", &[("prompt", "none")], Some(&cookie)).await;
    assert_eq!(
        query_param(&loc.unwrap(), "error").as_deref(),
        Some("login_required")
    );
    // Forced prompts are recorded.
    let (_, loc, _) = authorize(&http, &idp, "p", &[("prompt", "login")], Some(&cookie)).await;
    assert!(query_param(&loc.unwrap(), "code").is_some());
    let (_, loc, _) = authorize(&http, &idp, "p", &[("prompt", "consent")], Some(&cookie)).await;
    assert!(query_param(&loc.unwrap(), "code").is_some());
    let prompts: Vec<_> = idp
        .journal_for("p")
        .iter()
        .filter_map(|e| e.prompt.clone())
        .collect();
    assert_eq!(prompts, vec!["none", "none", "none", "login", "consent"]);
    // Revoking sessions ends SSO.
    idp.fire("p", &Event::RevokeSessions).unwrap();
    let (_, loc, _) = authorize(&http, &idp, "p", &[("prompt", "none")], Some(&cookie)).await;
    assert_eq!(
        query_param(&loc.unwrap(), "error").as_deref(),
        Some("login_required")
    );
    // form_post: an auto-submitting form to the redirect URI.
    let pid = public_id(&idp);
    let r = http
        .get(format!("{}/oauth2/v2.0/authorize", idp.authority("p")))
        .query(&[
            ("client_id", pid.as_str()),
            ("response_type", "code"),
            ("redirect_uri", "http://localhost/callback"),
            ("scope", "openid"),
            ("state", "fp"),
            ("response_mode", "form_post"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("action=\"http://localhost/callback\""),
        "{html}"
    );
    assert!(
        html.contains("name=\"code\"") && html.contains("value=\"fp\""),
        "{html}"
    );
    // fragment mode.
    let (_, loc, _) = authorize(&http, &idp, "p", &[("response_mode", "fragment")], None).await;
    assert!(loc.unwrap().contains("/callback#code="));
    // POST to authorize works too.
    let r = http
        .post(format!("{}/oauth2/v2.0/authorize", idp.authority("p")))
        .form(&[
            ("client_id", pid.as_str()),
            ("response_type", "code"),
            ("redirect_uri", "http://localhost/callback"),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    // Journal Location headers never hold the code itself.
    for e in idp.journal_for("p") {
        if let Some(l) = e.response_header("location") {
            if let Some(c) = query_param(l, "code") {
                assert!(c.starts_with("sha256:"), "{l}");
            }
        }
    }
}

#[tokio::test]
async fn authorize_refuses_bad_clients_and_redirects() {
    let idp = start().await;
    let http = client(&idp);
    // Unregistered redirect: JSON error, no redirect.
    let r = http
        .get(format!("{}/oauth2/v2.0/authorize", idp.authority("ar")))
        .query(&[
            ("client_id", public_id(&idp).as_str()),
            ("response_type", "code"),
            ("redirect_uri", "https://evil.test/cb"),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap();
    entra_error(r, 400, "invalid_request", 50011).await;
    let (s, _, _) = authorize(&http, &idp, "ar", &[("client_id", "unknown-app")], None).await;
    assert_eq!(s, 400);
    // After the redirect is trusted, errors go back to it.
    let (s, loc, _) = authorize(&http, &idp, "ar", &[("prompt", "bogus")], None).await;
    assert_eq!(s, 302);
    assert_eq!(
        query_param(&loc.unwrap(), "error").as_deref(),
        Some("invalid_request")
    );
    let (_, loc, _) = authorize(&http, &idp, "ar", &[("response_type", "token")], None).await;
    assert_eq!(
        query_param(&loc.unwrap(), "error").as_deref(),
        Some("unsupported_response_type")
    );
    // A disabled user is denied.
    idp.fire("ar", &Event::DisableUser).unwrap();
    let (_, loc, _) = authorize(&http, &idp, "ar", &[], None).await;
    assert_eq!(
        query_param(&loc.unwrap(), "error").as_deref(),
        Some("access_denied")
    );
}

#[tokio::test]
async fn device_code_flow_pending_slow_down_approve_deny_expire() {
    let idp = start().await;
    let http = client(&idp);
    let pid = public_id(&idp);
    let start_flow = |tenant: &'static str| {
        let http = http.clone();
        let pid = pid.clone();
        let url = format!("{}/oauth2/v2.0/devicecode", idp.authority(tenant));
        async move {
            let r = http
                .post(url)
                .form(&[
                    ("client_id", pid.as_str()),
                    (
                        "scope",
                        "https://graph.microsoft.com/User.Read openid offline_access",
                    ),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let poll = |tenant: &'static str, dc: String, grant: &'static str| {
        let http = http.clone();
        let pid = pid.clone();
        let url = format!("{}/oauth2/v2.0/token", idp.authority(tenant));
        async move {
            http.post(url)
                .form(&[
                    ("grant_type", grant),
                    ("client_id", pid.as_str()),
                    ("device_code", &dc),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let d = start_flow("dev").await;
    for k in ["user_code", "device_code", "verification_uri", "message"] {
        assert!(d[k].is_string(), "{k}");
    }
    assert_eq!(d["interval"], 5);
    assert!(d["expires_in"].as_u64().unwrap() > 0);
    let dc = d["device_code"].as_str().unwrap().to_string();
    let r = poll(
        "dev",
        dc.clone(),
        "urn:ietf:params:oauth:grant-type:device_code",
    )
    .await;
    entra_error(r, 400, "authorization_pending", 70016).await;
    // Polling again at once is too fast.
    let r = poll("dev", dc.clone(), "device_code").await;
    entra_error(r, 400, "slow_down", 70016).await;
    // The user approves at the verification URI.
    let page = http
        .get(d["verification_uri"].as_str().unwrap())
        .query(&[("user_code", d["user_code"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    // Without interval enforcement, the next poll (short spelling) gets tokens.
    idp.configure_tenant(
        "dev",
        tokenstorm_mock_idp::TenantConfig {
            device_enforce_interval: false,
            ..Default::default()
        },
    );
    let r = poll("dev", dc.clone(), "device_code").await;
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    assert!(t["id_token"].is_string() && t["refresh_token"].is_string());
    let r = poll("dev", dc.clone(), "device_code").await;
    entra_error(r, 400, "invalid_grant", 54005).await;
    // Decline.
    let d = start_flow("dev").await;
    http.get(d["verification_uri"].as_str().unwrap())
        .query(&[
            ("user_code", d["user_code"].as_str().unwrap()),
            ("action", "deny"),
        ])
        .send()
        .await
        .unwrap();
    let r = poll(
        "dev",
        d["device_code"].as_str().unwrap().to_string(),
        "device_code",
    )
    .await;
    entra_error(r, 400, "access_denied", 65004).await;
    // Expiry.
    idp.configure_tenant(
        "dev2",
        tokenstorm_mock_idp::TenantConfig {
            device_code_lifetime_s: 0,
            ..Default::default()
        },
    );
    let d = start_flow("dev2").await;
    let r = poll(
        "dev2",
        d["device_code"].as_str().unwrap().to_string(),
        "device_code",
    )
    .await;
    entra_error(r, 400, "expired_token", 70019).await;
    // Both spellings are one grant in the journal.
    let grants: Vec<_> = idp
        .journal_for("dev")
        .iter()
        .filter_map(|e| e.grant_type.clone())
        .collect();
    assert!(grants.iter().all(|g| *g == GrantType::DeviceCode) && grants.len() >= 4);
}

#[tokio::test]
async fn on_behalf_of_exchanges_a_user_token_for_the_api() {
    let idp = start().await;
    let http = client(&idp);
    let (id, secret) = confidential(&idp);
    // The middle tier receives a user token whose audience is itself (api://{client_id}).
    let pid = public_id(&idp);
    let (_, loc, _) = authorize(
        &http,
        &idp,
        "obo",
        &[(
            "scope",
            &format!("api://{id}/access_as_user openid offline_access"),
        )],
        None,
    )
    .await;
    let code = query_param(&loc.unwrap(), "code").unwrap();
    let r = token(
        &http,
        &idp,
        "obo",
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &pid),
            ("code", &code),
            ("redirect_uri", "http://localhost:8765/callback"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    let user_token: Value = r.json().await.unwrap();
    let assertion = user_token["access_token"].as_str().unwrap();
    assert_eq!(claims(assertion)["aud"], format!("api://{id}"));
    let r = token(
        &http,
        &idp,
        "obo",
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("assertion", assertion),
            ("requested_token_use", "on_behalf_of"),
            (
                "scope",
                "https://graph.microsoft.com/User.Read offline_access",
            ),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    let at = claims(t["access_token"].as_str().unwrap());
    assert_eq!(at["aud"], "https://graph.microsoft.com");
    assert_eq!(at["oid"], idp.ready().user.oid.as_str());
    assert_eq!(at["azp"], id.as_str());
    // An app token, a wrong audience, or a forged assertion is refused.
    let app = client_credentials(&http, &idp, "obo").await;
    for bad in [app["access_token"].as_str().unwrap(), "a.b.c"] {
        let r = token(
            &http,
            &idp,
            "obo",
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("client_id", &id),
                ("client_secret", &secret),
                ("assertion", bad),
                ("requested_token_use", "on_behalf_of"),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await;
        entra_error(r, 400, "invalid_grant", 50013).await;
    }
}

#[tokio::test]
async fn graph_and_userinfo_validate_bearer_tokens() {
    let idp = start().await;
    let http = client(&idp);
    let graph = idp.graph_url();
    let t = user_tokens(&http, &idp, "g", &[]).await;
    let at = t["access_token"].as_str().unwrap();
    let me: Value = http
        .get(format!("{graph}/me"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], idp.ready().user.oid.as_str());
    assert_eq!(me["userPrincipalName"], idp.ready().user.username.as_str());
    let ui: Value = http
        .get(format!("{}/oidc/userinfo", idp.base_url()))
        .bearer_auth(at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ui["sub"], claims(at)["sub"]);
    assert!(ui["name"].is_string());
    // Missing, forged, expired or wrong-audience tokens: 401 with Graph's challenge.
    // A forged token: this token's header and claims with another token's signature.
    let other = client_credentials(&http, &idp, "g").await;
    let other_sig = other["access_token"]
        .as_str()
        .unwrap()
        .rsplit('.')
        .next()
        .unwrap()
        .to_string();
    let forged = format!("{}.{other_sig}", &at[..at.rfind('.').unwrap()]);
    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "Access token is empty."),
        (Some("not-a-jwt".into()), "IDX14100"),
        (Some(forged), "Invalid signature"),
    ];
    for (tok, msg) in cases {
        let mut req = http.get(format!("{graph}/me"));
        if let Some(t) = &tok {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401);
        let www = r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(www.starts_with("Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\""), "{www}");
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["error"]["code"], "InvalidAuthenticationToken");
        assert!(b["error"]["message"].as_str().unwrap().contains(msg), "{b}");
        assert!(b["error"]["innerError"]["request-id"].is_string());
    }
    // An expired token.
    idp.configure_tenant(
        "g2",
        tokenstorm_mock_idp::TenantConfig {
            access_token_lifetime_s: 0,
            ..Default::default()
        },
    );
    let expired = client_credentials(&http, &idp, "g2").await;
    let r = http
        .get(format!("{graph}/users/x"))
        .bearer_auth(expired["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("expired"));
    // A token for another audience.
    let (id, _) = confidential(&idp);
    let api = {
        let (cid, secret) = confidential(&idp);
        let r = token(
            &http,
            &idp,
            "g",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &cid),
                ("client_secret", &secret),
                ("scope", &format!("api://{id}/.default")),
            ],
        )
        .await;
        r.json::<Value>().await.unwrap()
    };
    let r = http
        .get(format!("{graph}/me"))
        .bearer_auth(api["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("Invalid audience"));
    // /me with an app token: Graph's 400.
    let app = client_credentials(&http, &idp, "g").await;
    let r = http
        .get(format!("{graph}/me"))
        .bearer_auth(app["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Unknown segment.
    let r = http
        .get(format!("{graph}/me/nothing"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "BadRequest"
    );
    // Graph calls are journaled under the token's tenant, with the presented token's uti.
    let j: Vec<_> = idp
        .journal_for("g")
        .into_iter()
        .filter(|e| e.endpoint == Endpoint::Graph && e.status == 200)
        .collect();
    assert_eq!(
        j[0].presented.as_ref().unwrap().uti.as_deref(),
        claims(at)["uti"].as_str()
    );
}

#[tokio::test]
async fn groups_roles_overage_and_graph_membership() {
    let idp = start().await;
    let http = client(&idp);
    let graph = idp.graph_url();
    let groups = |n: usize| -> Vec<tokenstorm_mock_idp::Group> {
        (0..n)
            .map(|i| tokenstorm_mock_idp::Group {
                id: format!("00000000-0000-4000-8000-{i:012}"),
                display_name: format!("group {i}"),
            })
            .collect()
    };
    let mut cfg = tokenstorm_mock_idp::TenantConfig::default();
    cfg.user.roles = vec!["Reader".into(), "Approver".into()];
    cfg.user.groups = groups(3);
    idp.configure_tenant("grp", cfg.clone());
    let t = user_tokens(&http, &idp, "grp", &[]).await;
    for tok in ["id_token", "access_token"] {
        let c = claims(t[tok].as_str().unwrap());
        assert_eq!(c["roles"], json!(["Reader", "Approver"]), "{tok}");
        assert_eq!(c["groups"].as_array().unwrap().len(), 3, "{tok}");
    }
    // Overage: 250 groups (over Entra's 200) become _claim_names/_claim_sources.
    cfg.user.groups = groups(250);
    cfg.graph_page_size = 100;
    idp.configure_tenant("grp", cfg.clone());
    let t = user_tokens(&http, &idp, "grp", &[]).await;
    let at = t["access_token"].as_str().unwrap();
    let c = claims(at);
    assert!(c.get("groups").is_none());
    assert_eq!(c["_claim_names"], json!({"groups": "src1"}));
    let endpoint = c["_claim_sources"]["src1"]["endpoint"].as_str().unwrap();
    assert_eq!(
        endpoint,
        format!("{graph}/users/{}/getMemberObjects", cfg.user.oid)
    );
    // The claim source answers with every group id.
    let ids: Value = http
        .post(endpoint)
        .bearer_auth(at)
        .json(&json!({"securityEnabledOnly": false}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ids["value"].as_array().unwrap().len(), 250);
    // memberOf pages with @odata.nextLink.
    let mut url = format!("{graph}/me/memberOf");
    let mut seen = 0;
    let mut pages = 0;
    loop {
        let p: Value = http
            .get(&url)
            .bearer_auth(at)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seen += p["value"].as_array().unwrap().len();
        pages += 1;
        match p["@odata.nextLink"].as_str() {
            Some(n) => url = n.to_string(),
            None => break,
        }
    }
    assert_eq!((seen, pages), (250, 3));
    let roles: Value = http
        .get(format!("{graph}/me/appRoleAssignments"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(roles["value"].as_array().unwrap().len(), 2);
    // Another user's id is not found; a bad body is a Graph 400.
    let r = http
        .post(format!("{graph}/users/someone-else/getMemberObjects"))
        .bearer_auth(at)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = http
        .post(format!("{graph}/me/getMemberObjects"))
        .bearer_auth(at)
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // hasgroups style.
    cfg.overage_style = tokenstorm_mock_idp::OverageStyle::Hasgroups;
    idp.configure_tenant("grp", cfg);
    let t = user_tokens(&http, &idp, "grp", &[]).await;
    assert_eq!(claims(t["id_token"].as_str().unwrap())["hasgroups"], true);
}

#[tokio::test]
async fn cae_cp1_is_echoed_and_revocation_yields_an_insufficient_claims_challenge() {
    let idp = start().await;
    let http = client(&idp);
    let graph = idp.graph_url();
    let cp1 = r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#;
    let t = user_tokens(&http, &idp, "cae", &[("claims", cp1)]).await;
    let at = t["access_token"].as_str().unwrap().to_string();
    assert_eq!(claims(&at)["xms_cc"], json!(["cp1"]));
    let e = idp
        .journal_for("cae")
        .into_iter()
        .find(|e| e.endpoint == Endpoint::Token)
        .unwrap();
    assert_eq!(e.client_capabilities, vec!["cp1"]);
    assert!(e.issued_of(TokenKind::Access).unwrap().cae);
    // Capabilities are read case-insensitively: MSAL.js documents `CP1`.
    let upper = user_tokens(
        &http,
        &idp,
        "cae-upper",
        &[(
            "claims",
            r#"{"access_token":{"xms_cc":{"values":["CP1"]}}}"#,
        )],
    )
    .await;
    assert_eq!(
        claims(upper["access_token"].as_str().unwrap())["xms_cc"],
        json!(["cp1"])
    );
    assert_eq!(
        http.get(format!("{graph}/me"))
            .bearer_auth(&at)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let fired = idp.fire("cae", &Event::CaeRevoke).unwrap();
    let r = http
        .get(format!("{graph}/me"))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let www = r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    let prefix = "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\", error=\"insufficient_claims\", claims=\"";
    assert!(www.starts_with(prefix) && www.ends_with('"'), "{www}");
    let b64 = &www[prefix.len()..www.len() - 1];
    let challenge: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).unwrap(),
    )
    .unwrap();
    assert_eq!(challenge["access_token"]["nbf"]["essential"], true);
    assert_eq!(
        challenge["access_token"]["nbf"]["value"],
        fired["cae_revoked_before"].to_string()
    );

    // A token issued after the revocation is accepted, with or without the challenge's claims
    // (Entra compares when the token was issued; the claims ask for exactly that), even within
    // the revocation's own second.
    let pid = public_id(&idp);
    let rt = t["refresh_token"].as_str().unwrap();
    let r = token(
        &http,
        &idp,
        "cae",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &pid),
            ("refresh_token", rt),
            ("claims", cp1),
        ],
    )
    .await;
    let plain: Value = r.json().await.unwrap();
    assert_eq!(
        http.get(format!("{graph}/me"))
            .bearer_auth(plain["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let mut merged = challenge.clone();
    merged["access_token"]["xms_cc"] = json!({"values": ["cp1"]});
    let r = token(
        &http,
        &idp,
        "cae",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &pid),
            ("refresh_token", rt),
            ("claims", &merged.to_string()),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    let fresh: Value = r.json().await.unwrap();
    assert_eq!(
        http.get(format!("{graph}/me"))
            .bearer_auth(fresh["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // A non-CAE client's token is not challenged (Entra gives those short lifetimes instead).
    let other = user_tokens(&http, &idp, "cae", &[]).await;
    assert_eq!(
        http.get(format!("{graph}/me"))
            .bearer_auth(other["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn token_shaping_lifetimes_refresh_in_opaque_and_cae_lifetime() {
    let idp = start().await;
    let http = client(&idp);
    idp.configure_tenant(
        "shape",
        tokenstorm_mock_idp::TenantConfig {
            access_token_lifetime_s: 305,
            refresh_in_s: Some(150),
            cae_access_token_lifetime_s: Some(28 * 3600),
            opaque_access_token_audiences: vec!["https://graph.microsoft.com".into()],
            ..Default::default()
        },
    );
    let t = user_tokens(&http, &idp, "shape", &[]).await;
    assert_eq!(t["expires_in"], 305);
    assert_eq!(t["refresh_in"], 150);
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(at.split('.').count(), 1, "opaque: not a JWT");
    // Graph still accepts the opaque token.
    let r = http
        .get(format!("{}/me", idp.graph_url()))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let e = idp
        .journal_for("shape")
        .into_iter()
        .find(|e| e.endpoint == Endpoint::Token)
        .unwrap();
    let issued = e.issued_of(TokenKind::Access).unwrap();
    assert!(issued.opaque);
    assert_eq!(issued.refresh_in, Some(150));
    // CAE tokens live longer.
    let t = user_tokens(
        &http,
        &idp,
        "shape",
        &[(
            "claims",
            r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#,
        )],
    )
    .await;
    assert_eq!(t["expires_in"], 28 * 3600);
}

#[tokio::test]
async fn admin_api_requires_its_token_and_serves_journal_and_config() {
    let idp = start().await;
    let http = client(&idp);
    let admin = format!("{}/_tokenstorm", idp.base_url());
    assert_eq!(
        http.get(format!("{admin}/health"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        http.get(format!("{admin}/health"))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        http.get(format!("{admin}/health"))
            .bearer_auth(idp.admin_token())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    client_credentials(&http, &idp, "adm").await;
    let j: Vec<model::JournalEntry> = http
        .get(format!("{admin}/journal?tenant=adm"))
        .bearer_auth(idp.admin_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(j.len(), 1);
    assert_eq!(j[0].grant_type, Some(GrantType::ClientCredentials));
    let lines = http
        .get(format!("{admin}/journal.jsonl?tenant=adm"))
        .bearer_auth(idp.admin_token())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(lines.lines().count(), 1);
    let _: model::JournalEntry = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    // Config round-trips; unknown fields are refused.
    let r = http
        .put(format!("{admin}/tenants/adm/config"))
        .bearer_auth(idp.admin_token())
        .json(&json!({"access_token_lifetime_s": 400}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        client_credentials(&http, &idp, "adm").await["expires_in"],
        400
    );
    let r = http
        .put(format!("{admin}/tenants/adm/config"))
        .bearer_auth(idp.admin_token())
        .json(&json!({"acess_token_lifetime": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("unknown field"));
    // Events.
    let r = http
        .post(format!("{admin}/tenants/adm/events/rotate-keys"))
        .bearer_auth(idp.admin_token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let jwks: Value = http
        .get(format!("{}/discovery/v2.0/keys", idp.authority("adm")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        jwks["keys"].as_array().unwrap().len(),
        2,
        "old key still published"
    );
    let r = http
        .post(format!("{admin}/tenants/adm/events/explode"))
        .bearer_auth(idp.admin_token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn a_client_that_disconnects_mid_response_is_journaled_as_such() {
    // A ~12 MB getMemberObjects answer (300k groups) read by a client with a tiny receive
    // buffer that closes after the first bytes: more than the kernel buffers can absorb.
    let idp = start().await;
    let http = client(&idp);
    let mut cfg = tokenstorm_mock_idp::TenantConfig::default();
    cfg.user.groups = (0..300_000)
        .map(|i| tokenstorm_mock_idp::Group {
            id: format!("00000000-0000-4000-8000-{i:012}"),
            display_name: String::new(),
        })
        .collect();
    let oid = cfg.user.oid.clone();
    idp.configure_tenant("big", cfg);
    let at = client_credentials(&http, &idp, "big").await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let tcp = sock.connect(idp.addr()).await.unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for c in pem_certs(idp.ca_cert_pem().unwrap()) {
        roots.add(c).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg));
    let mut tls = connector
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap();
    let req = format!(
        "POST /graph/v1.0/users/{oid}/getMemberObjects HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {at}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}"
    );
    tls.write_all(req.as_bytes()).await.unwrap();
    let mut buf = [0u8; 64];
    let n = tls.read(&mut buf).await.unwrap();
    assert!(n > 0);
    drop(tls);
    let mut entry = None;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        entry = idp
            .journal_for("big")
            .into_iter()
            .find(|e| e.endpoint == Endpoint::Graph);
        if entry.is_some() {
            break;
        }
    }
    let e = entry.expect("journaled");
    assert_eq!(e.status, 200);
    assert_eq!(e.completion, Completion::ClientDisconnected, "{e:?}");
    // A normal exchange is journaled as sent.
    let t = idp.journal_for("big");
    assert_eq!(t[0].completion, Completion::Sent);
}

fn pem_certs(pem: &str) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.unwrap())
        .collect()
}

#[tokio::test]
async fn review_findings_stay_fixed() {
    let idp = start().await;
    let http = client(&idp);
    let pid = public_id(&idp);
    // An open redirect through userinfo in a "loopback" URI is refused with JSON, no redirect.
    for evil in [
        "http://localhost:1@evil.test/callback",
        "http://localhost:abc/callback",
    ] {
        let r = http
            .get(format!("{}/oauth2/v2.0/authorize", idp.authority("rv")))
            .query(&[
                ("client_id", pid.as_str()),
                ("response_type", "code"),
                ("redirect_uri", evil),
                ("scope", "openid"),
            ])
            .send()
            .await
            .unwrap();
        assert!(r.headers().get("location").is_none(), "{evil}");
        entra_error(r, 400, "invalid_request", 50011).await;
    }
    // A client that came by `localhost` gets discovery and tokens in that name (msal-node
    // validates the issuer's host:port against its authority).
    let port = idp.addr().port();
    let auth = format!("https://localhost:{port}/rv");
    let d: Value = http
        .get(format!("{auth}/v2.0/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], format!("{auth}/v2.0"));
    assert_eq!(d["token_endpoint"], format!("{auth}/oauth2/v2.0/token"));
    let (id, secret) = confidential(&idp);
    let t: Value = http
        .post(format!("{auth}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        claims(t["access_token"].as_str().unwrap())["iss"],
        format!("{auth}/v2.0")
    );
    // An unknown Host falls back to the server's own base URL.
    let d: Value = http
        .get(format!(
            "{}/rv/v2.0/.well-known/openid-configuration",
            idp.base_url()
        ))
        .header("host", "evil.test")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], format!("{}/rv/v2.0", idp.base_url()));
    // HEAD is journaled as sent, not as a disconnect.
    let r = http
        .head(format!("{}/rv/discovery/v2.0/keys", idp.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let e = idp
        .journal_for("rv")
        .into_iter()
        .find(|e| e.method == "HEAD")
        .unwrap();
    assert_eq!(e.completion, Completion::Sent);
    // A huge $skiptoken with a valid token: an empty page, not a panic.
    let user = user_tokens(&http, &idp, "rv", &[]).await;
    let at = user["access_token"].as_str().unwrap();
    let r = http
        .get(format!(
            "{}/me/memberOf?$skiptoken=18446744073709551615",
            idp.graph_url()
        ))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["value"], json!([]));
    // Graph calls carry the caller's client id; a forged token lands in no tenant's journal.
    let e = idp
        .journal_for("rv")
        .into_iter()
        .rfind(|e| e.endpoint == Endpoint::Graph)
        .unwrap();
    assert_eq!(e.client_id.as_deref(), Some(pid.as_str()));
    let forged = {
        let parts: Vec<&str> = at.split('.').collect();
        format!("{}.{}.{}", parts[0], parts[1], "AAAA")
    };
    let before = idp.journal_for("rv").len();
    let r = http
        .get(format!("{}/me", idp.graph_url()))
        .bearer_auth(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(idp.journal_for("rv").len(), before);
    assert!(idp
        .journal()
        .iter()
        .any(|e| e.endpoint == Endpoint::Graph && e.tenant.is_none() && e.status == 401));
    // A `.default` user token still carries its consented permission.
    let (_, loc, _) = authorize(
        &http,
        &idp,
        "rv",
        &[(
            "scope",
            "https://graph.microsoft.com/.default openid profile",
        )],
        None,
    )
    .await;
    let code = query_param(&loc.unwrap(), "code").unwrap();
    let t: Value = token(
        &http,
        &idp,
        "rv",
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &pid),
            ("code", &code),
            ("redirect_uri", "http://localhost:8765/callback"),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        claims(t["access_token"].as_str().unwrap())["scp"],
        "User.Read openid profile"
    );
    // The admin journal's cursor.
    let admin = format!("{}/_tokenstorm", idp.base_url());
    let r = http
        .get(format!("{admin}/journal"))
        .bearer_auth(idp.admin_token())
        .send()
        .await
        .unwrap();
    let next: usize = r.headers()["x-tokenstorm-next-since"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let all: Vec<model::JournalEntry> = r.json().await.unwrap();
    assert!(next >= all.len());
    let later: Vec<model::JournalEntry> = http
        .get(format!("{admin}/journal?since={next}"))
        .bearer_auth(idp.admin_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        later.iter().all(|e| e.endpoint == Endpoint::Admin),
        "{later:?}"
    );
}

/// The journal streams to one file per tenant while only a window stays in memory: a tenant's
/// whole journal still comes back, a cursor that fell behind the window is told how much it
/// missed, and the files are the journal.
#[tokio::test]
async fn the_journal_streams_to_disk_and_a_small_window_loses_nothing() {
    let idp = tokenstorm_mock_idp::MockIdp::start(tokenstorm_mock_idp::Options::default().journal(
        tokenstorm_mock_idp::JournalLimits {
            window: 4,
            cap_bytes: u64::MAX,
        },
    ))
    .await
    .unwrap();
    let http = client(&idp);
    for i in 0..6 {
        for tenant in ["wa", "wb"] {
            let t = client_credentials(&http, &idp, tenant).await;
            assert!(t["access_token"].is_string(), "request {i}: {t}");
        }
    }
    let wa = idp.journal_for("wa");
    assert_eq!(wa.len(), 6, "{wa:?}");
    assert!(wa.windows(2).all(|p| p[0].seq < p[1].seq));
    assert!(wa
        .iter()
        .all(|e| e.grant_type == Some(GrantType::ClientCredentials) && e.status == 200));
    assert_eq!(idp.journal().len(), 12);
    // The files hold the same entries.
    let dir = idp.journal_dir().unwrap();
    let on_disk = std::fs::read_to_string(dir.join("wb.jsonl")).unwrap();
    assert_eq!(on_disk.lines().count(), 6);
    // A cursor read through the admin API: 12 entries so far, the window holds the last 4.
    let admin = format!("{}/_tokenstorm", idp.base_url());
    let r = http
        .get(format!("{admin}/journal?since=2"))
        .bearer_auth(idp.admin_token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-tokenstorm-journal-missed"], "6");
    let got: Vec<model::JournalEntry> = r.json().await.unwrap();
    assert_eq!(got.len(), 4, "{got:?}");
    // From the start, a tenant's journal is whole (read back from its file), and says nothing
    // is missing.
    let r = http
        .get(format!("{admin}/journal.jsonl?tenant=wa"))
        .bearer_auth(idp.admin_token())
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("x-tokenstorm-journal-missed").is_none());
    assert_eq!(r.text().await.unwrap().lines().count(), 6);
    assert_eq!(idp.journal_dropped(None), 0);
}

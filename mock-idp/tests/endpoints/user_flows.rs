//! The user flows: authorize, authorization code with PKCE, refresh rotation, device code, on-behalf-of.

use super::*;

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

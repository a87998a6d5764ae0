//! The token endpoint: app grants, client authentication, Entra-shaped errors, token shaping.

use super::*;

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

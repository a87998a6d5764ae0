//! The resource side: Graph and UserInfo, groups and roles, continuous access evaluation.

use super::*;

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

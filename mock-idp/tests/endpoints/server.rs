//! The server itself: TLS, discovery and JWKS, where it may listen.

use super::*;

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

//! Helpers shared by the integration tests: a started mock, an HTTPS client that trusts only
//! the mock's generated CA, and JWT payload decoding.
#![allow(dead_code, clippy::unwrap_used)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;
use tokenstorm_mock_idp::{MockIdp, Options};

pub async fn start() -> MockIdp {
    MockIdp::start(Options::default())
        .await
        .expect("mock starts")
}

/// A client that trusts only the mock's CA and never follows redirects.
pub fn client(idp: &MockIdp) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(idp.ca_cert_pem().expect("tls").as_bytes()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

pub fn confidential(idp: &MockIdp) -> (String, String) {
    let r = idp.ready();
    (
        r.clients.confidential.client_id,
        r.clients.confidential.client_secret,
    )
}

pub fn public_id(idp: &MockIdp) -> String {
    idp.ready().clients.public.client_id
}

/// Asserts Entra's error shape and returns the body.
pub async fn entra_error(resp: reqwest::Response, status: u16, error: &str, code: u32) -> Value {
    assert_eq!(resp.status().as_u16(), status, "status");
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("application/json"), "content-type {ct}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"][0], code, "{body}");
    let desc = body["error_description"].as_str().unwrap();
    assert!(desc.starts_with(&format!("AADSTS{code}: ")), "{desc}");
    for k in ["timestamp", "trace_id", "correlation_id", "error_uri"] {
        assert!(body[k].is_string(), "{k} missing in {body}");
    }
    body
}

/// POSTs a form to the tenant's token endpoint.
pub async fn token(
    http: &reqwest::Client,
    idp: &MockIdp,
    tenant: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    http.post(format!("{}/oauth2/v2.0/token", idp.authority(tenant)))
        .form(form)
        .send()
        .await
        .unwrap()
}

pub async fn client_credentials(http: &reqwest::Client, idp: &MockIdp, tenant: &str) -> Value {
    let (id, secret) = confidential(idp);
    let r = token(
        http,
        idp,
        tenant,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once(['?', '#'])?.1;
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub fn pkce() -> (String, String) {
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".to_string();
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    (verifier, URL_SAFE_NO_PAD.encode(d.as_ref()))
}

/// Runs the authorize step as a browser would (no redirects followed) and returns the
/// `Location` and the SSO cookie it set.
pub async fn authorize(
    http: &reqwest::Client,
    idp: &MockIdp,
    tenant: &str,
    extra: &[(&str, &str)],
    cookie: Option<&str>,
) -> (reqwest::StatusCode, Option<String>, Option<String>) {
    let mut q: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("redirect_uri", "http://localhost:8765/callback"),
        (
            "scope",
            "https://graph.microsoft.com/User.Read openid profile offline_access",
        ),
        ("state", "st-123"),
        ("nonce", "n-456"),
    ];
    let pid = public_id(idp);
    q.push(("client_id", &pid));
    // Extra parameters replace the defaults of the same name.
    q.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    q.extend_from_slice(extra);
    let mut req = http
        .get(format!("{}/oauth2/v2.0/authorize", idp.authority(tenant)))
        .query(&q);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    let cookie = r
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
    (status, location, cookie)
}

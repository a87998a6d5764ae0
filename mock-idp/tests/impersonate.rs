//! Impersonation: through the proxy, the mock answers as Entra's and Graph's real host names
//! with certificates for those names from the run's CA, in Entra's shapes (issuers, instance
//! discovery, the multi-tenant aliases); any other host is tunnelled or forwarded byte for
//! byte; an unknown client id is registered on first use and held to its first credential;
//! certificate credentials (client assertions) are accepted and checked.
#![allow(clippy::unwrap_used)]

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::{claims, entra_error};
use serde_json::{json, Value};
use tokenstorm_mock_idp::{MockIdp, Options};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn start() -> MockIdp {
    MockIdp::start(Options::default().impersonate(true))
        .await
        .unwrap()
}

/// A client that goes through the proxy and trusts only the run's CA.
fn via_proxy(idp: &MockIdp) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(idp.ca_cert_pem().unwrap().as_bytes()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .proxy(reqwest::Proxy::all(idp.proxy_url().unwrap()).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const APP: &str = "0f6b2a51-3c7e-4d5f-9a8b-1c2d3e4f5a6b";

async fn client_credentials(
    http: &reqwest::Client,
    host: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    http.post(format!("https://{host}/{TENANT}/oauth2/v2.0/token"))
        .form(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn entra_and_graph_answer_by_their_real_names() {
    let idp = start().await;
    let http = via_proxy(&idp);
    for host in [
        "login.microsoftonline.com",
        "login.microsoft.com",
        "login.windows.net",
        "sts.windows.net",
    ] {
        let d: Value = http
            .get(format!(
                "https://{host}/{TENANT}/v2.0/.well-known/openid-configuration"
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(d["issuer"], format!("https://{host}/{TENANT}/v2.0"));
        assert_eq!(
            d["token_endpoint"],
            format!("https://{host}/{TENANT}/oauth2/v2.0/token")
        );
        assert_eq!(d["msgraph_host"], "graph.microsoft.com");
    }
    // Multi-tenant authorities: the issuer is Entra's template.
    let d: Value = http
        .get(
            "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration",
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        d["issuer"],
        "https://login.microsoftonline.com/{tenantid}/v2.0"
    );
    // Instance discovery in Entra's shape.
    let i: Value = http
        .get("https://login.microsoftonline.com/common/discovery/instance")
        .query(&[
            ("api-version", "1.1"),
            (
                "authorization_endpoint",
                &format!("https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/authorize"),
            ),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        i["tenant_discovery_endpoint"],
        format!("https://login.microsoftonline.com/{TENANT}/v2.0/.well-known/openid-configuration")
    );
    let aliases = &i["metadata"][0]["aliases"];
    for h in [
        "login.microsoftonline.com",
        "login.windows.net",
        "login.microsoft.com",
        "sts.windows.net",
    ] {
        assert!(
            aliases.as_array().unwrap().iter().any(|a| a == h),
            "{h} in {aliases}"
        );
    }
    // An app id nobody registered gets a token on first use, issued as Entra would.
    let r = client_credentials(
        &http,
        "login.microsoftonline.com",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", APP),
            ("client_secret", "first-secret"),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    let at = t["access_token"].as_str().unwrap();
    let c = claims(at);
    assert_eq!(
        c["iss"],
        format!("https://sts.windows.net/{TENANT}/")
            .as_str()
            .replace(
                "https://sts.windows.net",
                "https://login.microsoftonline.com"
            )
            .trim_end_matches('/')
            .to_string()
            + "/v2.0"
    );
    assert_eq!(c["tid"], TENANT);
    assert_eq!(c["appid"].as_str().or(c["azp"].as_str()), Some(APP));
    // Graph by its own name and paths.
    let user = idp.ready().user;
    let r = http
        .get(format!(
            "https://graph.microsoft.com/v1.0/users/{}",
            user.oid
        ))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let u: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{u}");
    assert_eq!(u["id"], user.oid.as_str());
    // Graph's links name Graph's own root, over HTTP/2 (no Host header) too.
    assert_eq!(
        u["@odata.context"],
        "https://graph.microsoft.com/v1.0/$metadata#users/$entity"
    );
    // The journal names the tenant the app used.
    assert!(idp
        .journal()
        .iter()
        .any(|e| e.tenant.as_deref() == Some(TENANT)));
}

#[tokio::test]
async fn a_first_use_app_is_held_to_its_first_credential_and_assertions_are_checked() {
    let idp = start().await;
    let http = via_proxy(&idp);
    let host = "login.microsoftonline.com";
    let form = |secret: &'static str| {
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", APP),
            ("client_secret", secret),
            ("scope", "https://graph.microsoft.com/.default"),
        ]
    };
    assert_eq!(
        client_credentials(&http, host, &form("one")).await.status(),
        200
    );
    entra_error(
        client_credentials(&http, host, &form("two")).await,
        401,
        "invalid_client",
        7000215,
    )
    .await;

    // A certificate app: a client assertion whose iss and sub are the client id, current.
    let cert_app = "5d1c9e0a-7b3f-4a2e-8c6d-9e0f1a2b3c4d";
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let jwt = |c: Value| {
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT","x5t":"abc"}"#);
        let p = URL_SAFE_NO_PAD.encode(c.to_string());
        format!("{h}.{p}.c2lnbmF0dXJl")
    };
    let good = jwt(
        json!({"iss": cert_app, "sub": cert_app, "aud": format!("https://{host}/{TENANT}/oauth2/v2.0/token"), "exp": now + 600, "nbf": now - 10, "jti": "1"}),
    );
    let with = |assertion: &str| {
        vec![
            ("grant_type".to_string(), "client_credentials".to_string()),
            ("client_id".to_string(), cert_app.to_string()),
            (
                "client_assertion_type".to_string(),
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
            ),
            ("client_assertion".to_string(), assertion.to_string()),
            (
                "scope".to_string(),
                "https://graph.microsoft.com/.default".to_string(),
            ),
        ]
    };
    let post = |f: Vec<(String, String)>| {
        let http = http.clone();
        async move {
            http.post(format!("https://{host}/{TENANT}/oauth2/v2.0/token"))
                .form(&f)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(post(with(&good)).await.status(), 200);
    let expired = jwt(json!({"iss": cert_app, "sub": cert_app, "aud": "x", "exp": now - 10}));
    entra_error(post(with(&expired)).await, 401, "invalid_client", 700024).await;
    let someone_else = jwt(json!({"iss": "other", "sub": "other", "aud": "x", "exp": now + 600}));
    entra_error(
        post(with(&someone_else)).await,
        401,
        "invalid_client",
        700021,
    )
    .await;
    entra_error(post(with("not-a-jwt")).await, 401, "invalid_client", 50027).await;
    // Held to a certificate: a secret is refused.
    let mut secret = with(&good);
    secret.retain(|(k, _)| !k.starts_with("client_assertion"));
    secret.push(("client_secret".into(), "guess".into()));
    entra_error(post(secret).await, 401, "invalid_client", 7000215).await;
}

#[tokio::test]
async fn other_hosts_are_tunnelled_and_forwarded_unchanged() {
    let idp = start().await;
    // A raw TCP service: the tunnel carries arbitrary bytes both ways.
    let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let echo_addr = echo.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = echo.accept().await.unwrap();
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).await.unwrap();
        let mut reply = b"echo:".to_vec();
        reply.extend_from_slice(&buf[..n]);
        s.write_all(&reply).await.unwrap();
    });
    let proxy = idp.proxy_url().unwrap();
    let mut s = tokio::net::TcpStream::connect(proxy.trim_start_matches("http://"))
        .await
        .unwrap();
    s.write_all(format!("CONNECT {echo_addr} HTTP/1.1\r\nHost: {echo_addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
        head.push(b[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let payload = [0u8, 255, 1, 254, b'\n', 0x16, 0x03, 0x01];
    s.write_all(&payload).await.unwrap();
    let mut got = vec![0u8; 5 + payload.len()];
    s.read_exact(&mut got).await.unwrap();
    assert_eq!(&got[..5], b"echo:");
    assert_eq!(&got[5..], &payload);

    // Plain HTTP to another host is forwarded, origin-form, headers kept.
    let web = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let web_addr = web.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = web.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).await.unwrap();
        let req = String::from_utf8_lossy(&buf[..n]).to_string();
        let body = format!("saw: {}", req.lines().next().unwrap_or_default());
        let x = if req.to_ascii_lowercase().contains("x-app: 1") {
            "yes"
        } else {
            "no"
        };
        s.write_all(format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nx-header-kept: {x}\r\nconnection: close\r\n\r\n{body}", body.len()).as_bytes())
            .await
            .unwrap();
    });
    let http = reqwest::Client::builder()
        .proxy(reqwest::Proxy::http(&proxy).unwrap())
        .build()
        .unwrap();
    let r = http
        .get(format!("http://{web_addr}/api/things?x=1"))
        .header("x-app", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-header-kept"], "yes");
    assert_eq!(r.text().await.unwrap(), "saw: GET /api/things?x=1 HTTP/1.1");
    // Nothing of that reached the mock's journal.
    assert!(idp.journal().is_empty());

    // An unreachable host: a 502 the app can read.
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    let mut s = tokio::net::TcpStream::connect(proxy.trim_start_matches("http://"))
        .await
        .unwrap();
    s.write_all(format!("CONNECT {dead_addr} HTTP/1.1\r\nHost: {dead_addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut b = [0u8; 12];
    s.read_exact(&mut b).await.unwrap();
    assert_eq!(&b, b"HTTP/1.1 502");
}

#[tokio::test]
async fn without_impersonation_unknown_clients_are_refused_and_there_is_no_proxy() {
    let idp = common::start().await;
    assert!(idp.proxy_url().is_none());
    let http = common::client(&idp);
    let r = http
        .post(format!("{}/oauth2/v2.0/token", idp.authority(TENANT)))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", APP),
            ("client_secret", "x"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    entra_error(r, 400, "unauthorized_client", 700016).await;
}

#[tokio::test]
async fn apps_from_a_file_are_enforced_not_registered_on_first_use() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("apps.yaml");
    // SHA-1 thumbprint as Entra's portal shows it (hex), and the same as an assertion's x5t.
    let thumb_hex = "5a3f0c8d9e1b2a4c6d8e0f1a2b3c4d5e6f708192";
    let thumb_bytes: Vec<u8> = (0..20)
        .map(|i| u8::from_str_radix(&thumb_hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let x5t = URL_SAFE_NO_PAD.encode(&thumb_bytes);
    std::fs::write(
        &file,
        format!(
            "- client_id: {APP}\n  secret: the-real-secret\n- client_id: cert-app\n  certificate_thumbprints: [\"{}\"]\n- client_id: web-app\n  redirect_uris: [\"https://app.contoso.test/signin\"]\n",
            thumb_hex.to_uppercase()
        ),
    )
    .unwrap();
    let apps = tokenstorm_mock_idp::load_apps(&file).unwrap();
    let idp = MockIdp::start(Options::default().impersonate(true).apps(apps))
        .await
        .unwrap();
    let http = via_proxy(&idp);
    let host = "login.microsoftonline.com";
    let secret = |s: &'static str| {
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", APP),
            ("client_secret", s),
            ("scope", "https://graph.microsoft.com/.default"),
        ]
    };
    // Registered: the first secret presented does not become its secret.
    entra_error(
        client_credentials(&http, host, &secret("guess")).await,
        401,
        "invalid_client",
        7000215,
    )
    .await;
    assert_eq!(
        client_credentials(&http, host, &secret("the-real-secret"))
            .await
            .status(),
        200
    );
    // A certificate app: only an assertion naming a registered thumbprint.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let assertion = |x5t: &str| {
        let h =
            URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "typ": "JWT", "x5t": x5t}).to_string());
        let p = URL_SAFE_NO_PAD.encode(
            json!({"iss": "cert-app", "sub": "cert-app", "aud": "x", "exp": now + 600}).to_string(),
        );
        format!("{h}.{p}.c2ln")
    };
    let post = |a: String| {
        let http = http.clone();
        async move {
            http.post(format!("https://{host}/{TENANT}/oauth2/v2.0/token"))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", "cert-app"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", &a),
                    ("scope", "https://graph.microsoft.com/.default"),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(post(assertion(&x5t)).await.status(), 200);
    let other = URL_SAFE_NO_PAD.encode([7u8; 20]);
    entra_error(post(assertion(&other)).await, 401, "invalid_client", 700027).await;
    // Redirect URIs are the registered ones only.
    let r = http
        .get(format!("https://{host}/{TENANT}/oauth2/v2.0/authorize"))
        .query(&[
            ("client_id", "web-app"),
            ("response_type", "code"),
            ("redirect_uri", "https://evil.test/signin"),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap();
    entra_error(r, 400, "invalid_request", 50011).await;
    // A bad file is a clear error.
    std::fs::write(
        &file,
        "- client_id: x\n  secret: s\n  certificate_thumbprints: [ab]\n",
    )
    .unwrap();
    let e = tokenstorm_mock_idp::load_apps(&file).unwrap_err();
    assert!(
        e.contains("both a secret and certificate thumbprints"),
        "{e}"
    );
    std::fs::write(&file, "- clientid: x\n").unwrap();
    assert!(tokenstorm_mock_idp::load_apps(&file)
        .unwrap_err()
        .contains("apps.yaml"));
}

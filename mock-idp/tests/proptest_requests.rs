//! Random and malformed requests at every endpoint of the real server: never a panic (a
//! dropped connection), never an unscripted 5xx, and every error body in the JSON shape of the
//! surface that answered (Entra's OAuth shape, Graph's shape, or the admin API's).
#![allow(clippy::unwrap_used)]

#[path = "common/shape.rs"]
mod shape;

use proptest::prelude::*;
use serde_json::Value;
use std::sync::OnceLock;
use tokenstorm_mock_idp::{MockIdp, Options};

struct World {
    rt: tokio::runtime::Runtime,
    idp: MockIdp,
    http: reqwest::Client,
    /// A valid user access token, so Graph's handlers past validation are exercised too.
    user_token: String,
}

/// Signs the default user in (authorize, then code redemption) and returns the access token.
async fn sign_in(idp: &MockIdp, http: &reqwest::Client) -> String {
    let pid = idp.ready().clients.public.client_id;
    let r = http
        .get(format!("{}/oauth2/v2.0/authorize", idp.authority("pt")))
        .query(&[
            ("client_id", pid.as_str()),
            ("response_type", "code"),
            ("redirect_uri", "http://localhost/callback"),
            ("scope", "User.Read openid offline_access"),
        ])
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let code = form_urlencoded::parse(loc.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let t: Value = http
        .post(format!("{}/oauth2/v2.0/token", idp.authority("pt")))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", pid.as_str()),
            ("code", code.as_str()),
            ("redirect_uri", "http://localhost/callback"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    t["access_token"].as_str().unwrap().to_string()
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let idp = rt.block_on(MockIdp::start(Options::default())).unwrap();
        let ca = reqwest::Certificate::from_pem(idp.ca_cert_pem().unwrap().as_bytes()).unwrap();
        let http = reqwest::Client::builder()
            .tls_certs_only([ca])
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let user_token = rt.block_on(sign_in(&idp, &http));
        World {
            rt,
            idp,
            http,
            user_token,
        }
    })
}

const PATHS: &[&str] = &[
    "/{t}/v2.0/.well-known/openid-configuration",
    "/{t}/discovery/v2.0/keys",
    "/{t}/oauth2/v2.0/authorize",
    "/{t}/oauth2/v2.0/token",
    "/{t}/oauth2/v2.0/devicecode",
    "/{t}/oauth2/v2.0/logout",
    "/{t}/devicelogin",
    "/oidc/userinfo",
    "/graph/v1.0/me",
    "/graph/v1.0/me/memberOf",
    "/graph/v1.0/me/getMemberObjects",
    "/graph/v1.0/users/{t}/getMemberObjects",
    "/graph/v1.0/users/{t}",
    "/graph/v1.0/me/appRoleAssignments",
    "/graph/v1.0/{t}",
    "/_tokenstorm/journal",
    "/_tokenstorm/tenants/{t}/config",
    "/_tokenstorm/tenants/{t}/events/{t}",
    "/common/discovery/instance",
    "/{t}",
    "/{t}/{t}/{t}",
];

const PARAMS: &[&str] = &[
    "grant_type",
    "client_id",
    "client_secret",
    "scope",
    "code",
    "refresh_token",
    "device_code",
    "assertion",
    "requested_token_use",
    "redirect_uri",
    "code_verifier",
    "code_challenge",
    "code_challenge_method",
    "claims",
    "prompt",
    "response_type",
    "response_mode",
    "state",
    "nonce",
    "client_info",
    "user_code",
    "action",
    "authorization_endpoint",
    "$top",
    "$skiptoken",
    "post_logout_redirect_uri",
];

fn tenant() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9._-]{1,12}",
        Just("common".to_string()),
        "[%a-zA-Z0-9~!$&'()*+,;=:@]{1,20}",
        Just("%FF%FE".to_string()),
        Just("..".to_string()),
        "[a-z]{101,110}",
    ]
}

fn value(cid: String, secret: String) -> impl Strategy<Value = String> {
    prop_oneof![
        Just(cid),
        Just(secret),
        Just("client_credentials".to_string()),
        Just("authorization_code".to_string()),
        Just("refresh_token".to_string()),
        Just("device_code".to_string()),
        Just("urn:ietf:params:oauth:grant-type:jwt-bearer".to_string()),
        Just("https://graph.microsoft.com/.default".to_string()),
        Just("openid profile offline_access".to_string()),
        Just("http://localhost/callback".to_string()),
        Just("code".to_string()),
        Just("none".to_string()),
        Just("form_post".to_string()),
        Just(r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#.to_string()),
        Just("a.b.c".to_string()),
        ".{0,40}",
        "[0-9]{1,25}",
    ]
}

#[derive(Debug, Clone)]
struct Req {
    method: &'static str,
    path: String,
    query: Vec<(String, String)>,
    content_type: Option<&'static str>,
    auth: Option<String>,
    body: Vec<u8>,
}

fn request() -> impl Strategy<Value = Req> {
    let w = world();
    let ready = w.idp.ready();
    let cid = ready.clients.confidential.client_id.clone();
    let secret = ready.clients.confidential.client_secret.clone();
    let admin = ready.admin_token.clone();
    let user = w.user_token.clone();
    let pair = (
        proptest::sample::select(PARAMS),
        value(cid.clone(), secret.clone()),
    )
        .prop_map(|(k, v): (&str, String)| (k.to_string(), v))
        .boxed();
    let form =
        proptest::collection::vec(pair.clone(), 0..8).prop_map(|pairs: Vec<(String, String)>| {
            let mut s = form_urlencoded::Serializer::new(String::new());
            for (k, v) in pairs {
                s.append_pair(&k, &v);
            }
            s.finish().into_bytes()
        });
    let body = prop_oneof![
        form,
        proptest::collection::vec(any::<u8>(), 0..300),
        Just(br#"{"securityEnabledOnly": true}"#.to_vec()),
        Just(br#"{"access_token_lifetime_s": 1}"#.to_vec()),
    ];
    (
        prop_oneof![
            4 => Just("GET"),
            5 => Just("POST"),
            1 => proptest::sample::select(vec!["PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"]),
        ],
        proptest::sample::select(PATHS),
        proptest::collection::vec(tenant(), 3),
        proptest::collection::vec(pair, 0..5),
        proptest::option::of(proptest::sample::select(vec![
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=utf-8",
            "application/json",
            "text/plain",
            "multipart/form-data; boundary=x",
        ])),
        proptest::option::of(prop_oneof![
            1 => Just(format!("Bearer {admin}")),
            3 => Just(format!("Bearer {user}")),
            1 => Just("Bearer a.b.c".to_string()),
            1 => "Bearer [A-Za-z0-9._-]{0,60}",
            1 => "Basic [A-Za-z0-9+/=]{0,40}",
            1 => ".{0,30}",
        ]),
        body,
    )
        .prop_map(|(method, tpl, ts, query, content_type, auth, body)| {
            let mut path = tpl.to_string();
            for t in ts {
                path = path.replacen("{t}", &t, 1);
            }
            Req {
                method,
                path,
                query,
                content_type,
                auth,
                body,
            }
        })
}

fn check(req: &Req, status: u16, ct: &str, body: &[u8]) -> Result<(), TestCaseError> {
    shape::check(
        shape::Surface::of(&req.path),
        req.method == "HEAD",
        status,
        ct,
        body,
    )
    .map_err(|e| TestCaseError::fail(format!("{req:?} -> {e}")))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn no_panic_no_unscripted_5xx_always_json_errors(req in request()) {
        let w = world();
        let mut url = match reqwest::Url::parse(&format!("{}{}", w.idp.base_url(), req.path)) {
            Ok(u) => u,
            Err(_) => return Ok(()),
        };
        if !req.query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in &req.query {
                q.append_pair(k, v);
            }
        }
        let method = reqwest::Method::from_bytes(req.method.as_bytes()).unwrap();
        let mut rb = w.http.request(method, url).body(req.body.clone());
        if let Some(ct) = req.content_type {
            rb = rb.header("content-type", ct);
        }
        if let Some(a) = &req.auth {
            if let Ok(v) = reqwest::header::HeaderValue::from_str(a) {
                rb = rb.header("authorization", v);
            }
        }
        let (status, ct, body) = w.rt.block_on(async {
            let resp = rb.send().await.map_err(|e| format!("{e:?}"))?;
            let status = resp.status().as_u16();
            let ct = shape::content_type(resp.headers());
            let body = resp.bytes().await.map_err(|e| format!("{e:?}"))?;
            Ok::<_, String>((status, ct, body))
        }).map_err(|e| TestCaseError::fail(format!("{req:?}: connection failed (a panic?): {e}")))?;
        check(&req, status, &ct, &body)?;
    }
}

// ---- Request heads refused below the router --------------------------------------------------

/// Sends raw bytes on a plain connection and reads what comes back until the server closes.
async fn raw(idp: &MockIdp, bytes: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(idp.addr()).await.unwrap();
    // The server may answer (and close) before it has read everything.
    let _ = s.write_all(bytes).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn refusals(idp: &MockIdp) -> Vec<model::JournalEntry> {
    idp.journal()
        .into_iter()
        .filter(|e| e.completion == model::Completion::Refused)
        .collect()
}

#[tokio::test]
async fn heads_refused_below_the_router_get_their_status_and_are_journaled() {
    let idp = MockIdp::start(
        Options::default()
            .tls(false)
            .head_timeout(std::time::Duration::from_millis(600)),
    )
    .await
    .unwrap();
    // Too many header fields (the limit is 100).
    let mut many =
        String::from("GET /common/v2.0/.well-known/openid-configuration HTTP/1.1\r\nHost: x\r\n");
    for i in 0..150 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    assert!(raw(&idp, many.as_bytes()).await.starts_with("HTTP/1.1 431"));
    // One header larger than the head's 64 KiB.
    let big = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nCookie: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    assert!(raw(&idp, big.as_bytes()).await.starts_with("HTTP/1.1 431"));
    // Not HTTP at all.
    assert!(raw(&idp, b"\x16\x03\x01 garbage\r\n\r\n")
        .await
        .starts_with("HTTP/1.1 400"));
    // A head that trickles: closed once the head timeout passes, without an answer.
    let slow = tokio::spawn({
        let addr = idp.addr();
        async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let started = std::time::Instant::now();
            let _ = s.write_all(b"GET / HTTP/1.1\r\n").await;
            let mut buf = [0u8; 64];
            for _ in 0..40 {
                if s.write_all(b"X-Slow: 1\r\n").await.is_err() {
                    break;
                }
                let read =
                    tokio::time::timeout(std::time::Duration::from_millis(100), s.read(&mut buf))
                        .await;
                if let Ok(Ok(0) | Err(_)) = read {
                    break;
                }
            }
            started.elapsed()
        }
    });
    let held = slow.await.unwrap();
    assert!(
        held < std::time::Duration::from_secs(3),
        "a trickling head held its connection for {held:?}"
    );
    // Give the connection task a moment to journal its end.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let r = refusals(&idp);
    let statuses: Vec<u16> = r.iter().map(|e| e.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 431).count(), 2, "{r:?}");
    assert!(statuses.contains(&400), "{r:?}");
    assert!(statuses.contains(&408), "{r:?}");
    assert!(r.iter().all(|e| e.tenant.is_none() && e.error.is_some()));
    // The server still serves.
    let ok = raw(
        &idp,
        b"GET /common/v2.0/.well-known/openid-configuration HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
}

//! The fuzz job: every parser of the mock fed mutated requests through its whole HTTP stack
//! (journal, catch-panic, faults, routes), one target per parser:
//!
//! | target | what is mutated |
//! |---|---|
//! | `form` | token request bodies of every grant, and their content type |
//! | `query` | query strings of authorize, device login, discovery, instance discovery, Graph paging |
//! | `json` | JSON bodies: Graph's getMemberObjects and `$batch`, the admin API's config |
//! | `jwt` | JWT assertions: `client_assertion` and on-behalf-of's `assertion` |
//! | `bearer` | `Authorization` headers at Graph and UserInfo |
//! | `cookie` | the `ESTSAUTH` session cookie (and others) at authorize |
//! | `connect` | the impersonation proxy's request heads (`CONNECT host:port`), over loopback |
//!
//! Each case is a valid request (from a signed-in session: real codes, tokens and assertions)
//! with 0 to 4 random mutations: bytes flipped, inserted, deleted, duplicated, a run of a
//! byte, percent signs, invalid UTF-8, a value cut short, a field repeated. What must hold, for
//! every case: no panic anywhere (a panic hook counts them, spawned tasks included), no 5xx,
//! and every error in the JSON shape of the surface that answered (the proxy's own refusals
//! are plain text, as a proxy's are: it must answer with a status line).
//!
//! `cargo bench -p tokenstorm-mock-idp --bench fuzz` runs 1,000,000 cases per target (a few minutes per
//! target on two cores); `TOKENSTORM_FUZZ_CASES=N` and `TOKENSTORM_FUZZ_SEED=S` change the count
//! and the seed, `TOKENSTORM_FUZZ_TARGETS=form,jwt` the targets. The test command runs it in
//! test mode (`cargo test --benches`): 2,000 cases per target. A failing case is printed whole
//! with its seed, so it can be replayed.
#![allow(clippy::unwrap_used)]

#[path = "../tests/common/shape.rs"]
mod shape;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http_body_util::BodyExt;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokenstorm_mock_idp::{MockIdp, Options};
use tower::ServiceExt;

/// Panics anywhere in the process, spawned tasks included.
static PANICS: AtomicU64 = AtomicU64::new(0);
/// A fresh mock after this many cases, so the journal (kept whole in memory) stays small.
const CHUNK: u64 = 50_000;
const TENANT: &str = "fuzz";

/// One mutated request.
#[derive(Debug)]
struct Case {
    method: Method,
    uri: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

/// The valid material cases start from: a signed-in session's codes, tokens and assertions.
struct Seeds {
    confidential: (String, String),
    public: String,
    redirect: String,
    user_token: String,
    refresh_token: String,
    session_cookie: String,
    obo_assertion: String,
    admin_token: String,
}

// ---- Mutations ---------------------------------------------------------------------------------

const JUNK: &[&[u8]] = &[
    b"%",
    b"%zz",
    b"%FF",
    b"%00",
    b"&",
    b"=",
    b"+",
    b"\0",
    b"\xff\xfe",
    b"\xc3\x28",
    b"\xe2\x82",
    b"\"",
    b"\\",
    b"{",
    b"}",
    b"[",
    b"]",
    b".",
    b"..",
    b"\r\n",
    b" ",
    b";",
    b",",
    b":",
    b"=?",
    b"\xf0\x9f\x92\xa9",
    b"-1",
    b"1e999",
    b"99999999999999999999999",
    b"null",
    b"true",
    b"[]",
    b"{}",
];

fn mutate(rng: &mut StdRng, data: &mut Vec<u8>) {
    for _ in 0..rng.random_range(0..=4) {
        let len = data.len();
        match rng.random_range(0..9) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                data[i] ^= 1 << rng.random_range(0..8);
            }
            1 => {
                let i = rng.random_range(0..=len);
                data.insert(i, rng.random());
            }
            2 if len > 0 => {
                let i = rng.random_range(0..len);
                let n = rng.random_range(1..=(len - i).min(16));
                data.drain(i..i + n);
            }
            3 if len > 0 => {
                let i = rng.random_range(0..len);
                let n = rng.random_range(1..=(len - i).min(64));
                let piece = data[i..i + n].to_vec();
                let at = rng.random_range(0..=data.len());
                data.splice(at..at, piece);
            }
            4 => {
                let i = rng.random_range(0..=len);
                let byte = *[b'a', b'%', b'=', b'&', b'0', b'.', b'\xff']
                    .choose(rng)
                    .unwrap_or(&b'a');
                let n = *[16, 300, 5_000, 70_000].choose(rng).unwrap_or(&16);
                data.splice(i..i, std::iter::repeat_n(byte, n));
            }
            5 | 6 => {
                let i = rng.random_range(0..=len);
                let junk = JUNK.choose(rng).copied().unwrap_or(b"%");
                data.splice(i..i, junk.iter().copied());
            }
            7 if len > 0 => data.truncate(rng.random_range(0..len)),
            _ => {
                // A field repeated: the part up to a random `&` appended again.
                if let Some(amp) = data.iter().position(|b| *b == b'&') {
                    let piece = data[..amp + 1].to_vec();
                    data.extend_from_slice(&piece);
                }
            }
        }
    }
}

fn mutated(rng: &mut StdRng, s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    mutate(rng, &mut v);
    v
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

// ---- Targets -------------------------------------------------------------------------------------

fn token_uri() -> String {
    format!("/{TENANT}/oauth2/v2.0/token")
}

fn form_case(rng: &mut StdRng, s: &Seeds) -> Case {
    let (cid, secret) = (&s.confidential.0, &s.confidential.1);
    let graph = "https://graph.microsoft.com/.default";
    let bodies = [
        form(&[
            ("grant_type", "client_credentials"),
            ("client_id", cid),
            ("client_secret", secret),
            ("scope", graph),
        ]),
        form(&[
            ("grant_type", "refresh_token"),
            ("client_id", &s.public),
            ("refresh_token", &s.refresh_token),
            ("scope", "User.Read offline_access openid"),
        ]),
        form(&[
            ("grant_type", "authorization_code"),
            ("client_id", &s.public),
            ("code", "0.AAAAfuzzcode"),
            ("redirect_uri", &s.redirect),
            (
                "code_verifier",
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            ),
        ]),
        form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", &s.public),
            ("device_code", "fuzz-device-code"),
        ]),
        form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("client_id", cid),
            ("client_secret", secret),
            ("assertion", &s.obo_assertion),
            ("requested_token_use", "on_behalf_of"),
            ("scope", graph),
        ]),
        form(&[
            ("grant_type", "client_credentials"),
            ("client_id", cid),
            ("client_secret", secret),
            ("scope", graph),
            (
                "claims",
                r#"{"access_token":{"xms_cc":{"values":["cp1"]},"nbf":{"essential":true,"value":"1"}}}"#,
            ),
        ]),
    ];
    let body = bodies.choose(rng).cloned().unwrap_or_default();
    let ct = if rng.random_bool(0.9) {
        b"application/x-www-form-urlencoded".to_vec()
    } else {
        mutated(rng, "application/x-www-form-urlencoded; charset=utf-8")
    };
    Case {
        method: Method::POST,
        uri: token_uri(),
        headers: vec![("content-type".into(), ct)],
        body: mutated(rng, &body),
    }
}

fn query_case(rng: &mut StdRng, s: &Seeds) -> Case {
    let queries = [
        (
            format!("/{TENANT}/oauth2/v2.0/authorize"),
            form(&[
                ("client_id", &s.public),
                ("response_type", "code"),
                ("redirect_uri", &s.redirect),
                ("scope", "User.Read openid offline_access"),
                ("state", "st"),
                ("nonce", "n"),
                (
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                ),
                ("code_challenge_method", "S256"),
                ("response_mode", "query"),
                ("prompt", "select_account"),
                ("client_info", "1"),
            ]),
        ),
        (
            format!("/{TENANT}/devicelogin"),
            form(&[("user_code", "ABCD-EFGH"), ("action", "approve")]),
        ),
        (
            format!("/{TENANT}/v2.0/.well-known/openid-configuration"),
            form(&[("appid", &s.public)]),
        ),
        (
            "/common/discovery/instance".to_string(),
            form(&[
                ("api-version", "1.1"),
                (
                    "authorization_endpoint",
                    "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
                ),
            ]),
        ),
        (
            "/graph/v1.0/me/memberOf".to_string(),
            form(&[("$top", "5"), ("$skiptoken", "2"), ("$select", "id")]),
        ),
        (
            format!("/{TENANT}/oauth2/v2.0/logout"),
            form(&[("post_logout_redirect_uri", &s.redirect)]),
        ),
    ];
    let (path, query) = queries.choose(rng).cloned().unwrap_or_default();
    let q = mutated(rng, &query);
    // A URI holds no raw space, control or non-ASCII byte: those are percent-encoded here (a
    // raw one is refused by the HTTP layer, which the raw-head test covers).
    let q: String = q
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() && b != b'#' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let graph = path.starts_with("/graph/");
    Case {
        method: Method::GET,
        uri: format!("{path}?{q}"),
        headers: if graph {
            vec![(
                "authorization".into(),
                format!("Bearer {}", s.user_token).into_bytes(),
            )]
        } else {
            vec![]
        },
        body: vec![],
    }
}

fn json_case(rng: &mut StdRng, s: &Seeds) -> Case {
    let bearer = format!("Bearer {}", s.user_token).into_bytes();
    let admin = format!("Bearer {}", s.admin_token).into_bytes();
    let (method, uri, auth, body) = match rng.random_range(0..4) {
        0 => (
            Method::POST,
            "/graph/v1.0/me/getMemberObjects".to_string(),
            bearer,
            r#"{"securityEnabledOnly": true}"#.to_string(),
        ),
        1 => (
            Method::POST,
            "/graph/v1.0/$batch".to_string(),
            bearer,
            r#"{"requests":[{"id":"1","method":"GET","url":"/me"},{"id":"2","method":"GET","url":"/me/memberOf?$top=2","headers":{"ConsistencyLevel":"eventual"}},{"id":"3","method":"POST","url":"/me/getMemberObjects","body":{"securityEnabledOnly":false},"headers":{"Content-Type":"application/json"}}]}"#.to_string(),
        ),
        2 => (
            Method::POST,
            "/graph/v1.0/users/me/getMemberObjects".to_string(),
            bearer,
            r#"{"securityEnabledOnly": false}"#.to_string(),
        ),
        _ => (
            Method::PUT,
            format!("/_tokenstorm/tenants/{TENANT}/config"),
            admin,
            r#"{"access_token_lifetime_s": 3600, "refresh_in_s": 1800, "groups": 3, "roles": ["Reader"]}"#
                .to_string(),
        ),
    };
    Case {
        method,
        uri,
        headers: vec![
            ("authorization".into(), auth),
            ("content-type".into(), b"application/json".to_vec()),
        ],
        body: mutated(rng, &body),
    }
}

/// A JWT with each part mutated on its own (the JSON inside, or the compact text).
fn mutated_jwt(rng: &mut StdRng, jwt: &str) -> String {
    let mut parts: Vec<String> = jwt.split('.').map(str::to_string).collect();
    if rng.random_bool(0.5) && parts.len() == 3 {
        let i = rng.random_range(0..2);
        let mut json = URL_SAFE_NO_PAD.decode(&parts[i]).unwrap_or_default();
        mutate(rng, &mut json);
        parts[i] = URL_SAFE_NO_PAD.encode(json);
        parts.join(".")
    } else {
        String::from_utf8_lossy(&mutated(rng, jwt)).into_owned()
    }
}

fn jwt_case(rng: &mut StdRng, s: &Seeds) -> Case {
    let (cid, secret) = (&s.confidential.0, &s.confidential.1);
    let body = if rng.random_bool(0.5) {
        let assertion = mutated_jwt(rng, &s.obo_assertion);
        form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("client_id", cid),
            ("client_secret", secret),
            ("assertion", &assertion),
            ("requested_token_use", "on_behalf_of"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
    } else {
        // A certificate credential: the shape MSAL sends (x5t#S256 header, aud the token
        // endpoint), signed by nobody the mock knows.
        let header = URL_SAFE_NO_PAD
            .encode(br#"{"alg":"PS256","typ":"JWT","x5t#S256":"q3Vb3oVbZhhN0qEJNZbZ2rEG6W0"}"#);
        let payload = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"aud":"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token","iss":"{cid}","sub":"{cid}","jti":"j","nbf":1700000000,"exp":4102444800}}"#
        ));
        let jwt = format!("{header}.{payload}.c2lnbmF0dXJl");
        let assertion = mutated_jwt(rng, &jwt);
        form(&[
            ("grant_type", "client_credentials"),
            ("client_id", cid),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &assertion),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
    };
    Case {
        method: Method::POST,
        uri: token_uri(),
        headers: vec![(
            "content-type".into(),
            b"application/x-www-form-urlencoded".to_vec(),
        )],
        body: body.into_bytes(),
    }
}

fn bearer_case(rng: &mut StdRng, s: &Seeds) -> Case {
    let paths = [
        "/graph/v1.0/me",
        "/graph/v1.0/me/memberOf",
        "/graph/v1.0/me/appRoleAssignments",
        "/oidc/userinfo",
    ];
    let path = paths.choose(rng).copied().unwrap_or("/graph/v1.0/me");
    let value = match rng.random_range(0..4) {
        0 => mutated(rng, &format!("Bearer {}", s.user_token)),
        1 => format!("Bearer {}", mutated_jwt(rng, &s.user_token)).into_bytes(),
        2 => mutated(rng, &format!("bearer  {}", s.user_token)),
        _ => mutated(rng, "Basic dXNlcjpwYXNz"),
    };
    Case {
        method: Method::GET,
        uri: path.to_string(),
        headers: vec![("authorization".into(), value)],
        body: vec![],
    }
}

fn cookie_case(rng: &mut StdRng, s: &Seeds) -> Case {
    let query = form(&[
        ("client_id", &s.public),
        ("response_type", "code"),
        ("redirect_uri", &s.redirect),
        ("scope", "User.Read openid"),
        ("prompt", "none"),
    ]);
    let cookie = match rng.random_range(0..3) {
        0 => mutated(rng, &format!("ESTSAUTH={}", s.session_cookie)),
        1 => mutated(
            rng,
            &format!(
                "x=1; ESTSAUTH={}; ESTSAUTH=other; y=\"q\"",
                s.session_cookie
            ),
        ),
        _ => mutated(rng, "ESTSAUTH=; ESTSAUTHPERSISTENT=a; =b; ;;"),
    };
    Case {
        method: Method::GET,
        uri: format!("/{TENANT}/oauth2/v2.0/authorize?{query}"),
        headers: vec![("cookie".into(), cookie)],
        body: vec![],
    }
}

/// A proxy request head. Hosts come from a fixed list (the impersonated names, loopback, and
/// malformed ones) and mutations never touch them, so no case can make the proxy reach out
/// to a real host; the method, port, version and header lines are mutated.
fn connect_head(rng: &mut StdRng, mock_port: u16) -> Vec<u8> {
    const HOSTS: &[&str] = &[
        "login.microsoftonline.com",
        "LOGIN.MicrosoftOnline.COM",
        "login.microsoft.com",
        "login.windows.net",
        "sts.windows.net",
        "graph.microsoft.com",
        "127.0.0.1",
        "[::1]",
        "",
        "[::1",
        "::1",
        "[zz]",
        "a b",
    ];
    let host = HOSTS.choose(rng).copied().unwrap_or("127.0.0.1");
    let loopback = host == "127.0.0.1" || host == "[::1]";
    let port = if loopback {
        // A closed port (502) or the mock's own (a tunnel to it).
        if rng.random_bool(0.5) {
            "1".to_string()
        } else {
            mock_port.to_string()
        }
    } else {
        [
            "443",
            "80",
            "0",
            "65535",
            "65536",
            "",
            "-1",
            "443x",
            "99999999999999999999",
        ]
        .choose(rng)
        .copied()
        .unwrap_or("443")
        .to_string()
    };
    let mut port = port.into_bytes();
    mutate_within(rng, &mut port, b"0123456789-+x% \x00\xff");
    let mut method = b"CONNECT".to_vec();
    if rng.random_bool(0.2) {
        mutate_within(rng, &mut method, b"CONNECTGETPOSTconnect%\x00 \xff");
    }
    let mut version = b"HTTP/1.1".to_vec();
    if rng.random_bool(0.1) {
        mutate_within(rng, &mut version, b"HTP/0123456789.x ");
    }
    let mut head = method;
    head.push(b' ');
    head.extend_from_slice(host.as_bytes());
    head.push(b':');
    head.extend_from_slice(&port);
    head.push(b' ');
    head.extend_from_slice(&version);
    head.extend_from_slice(b"\r\nHost: ");
    head.extend_from_slice(host.as_bytes());
    head.extend_from_slice(b"\r\n");
    let mut extra = b"Proxy-Connection: keep-alive\r\nUser-Agent: fuzz\r\n".to_vec();
    mutate_within(
        rng,
        &mut extra,
        b"Proxy-Connection:keep-alive\r\n\x00\xff %",
    );
    head.extend_from_slice(&extra);
    // Whatever the mutations did to the header lines, the head ends (an unfinished head waits
    // for the head timeout, which the raw-head test covers).
    head.extend_from_slice(b"\r\n\r\n");
    head
}

/// Mutations that only ever write bytes of `alphabet` (no new host name can appear).
fn mutate_within(rng: &mut StdRng, data: &mut Vec<u8>, alphabet: &[u8]) {
    for _ in 0..rng.random_range(0..=3) {
        let len = data.len();
        let b = *alphabet.choose(rng).unwrap_or(&b'x');
        match rng.random_range(0..4) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                data[i] = b;
            }
            1 => {
                let i = rng.random_range(0..=len);
                data.insert(i, b);
            }
            2 if len > 0 => {
                data.remove(rng.random_range(0..len));
            }
            _ => {
                let i = rng.random_range(0..=len);
                data.splice(i..i, std::iter::repeat_n(b, rng.random_range(1..200)));
            }
        }
    }
}

// ---- Running -------------------------------------------------------------------------------------

/// Signs the default user in through the router and collects the seeds.
async fn seeds(idp: &MockIdp, app: &axum::Router) -> Seeds {
    let ready = idp.ready();
    let public = ready.clients.public.client_id.clone();
    let redirect = ready.clients.public.redirect_uri.clone();
    let q = form(&[
        ("client_id", &public),
        ("response_type", "code"),
        ("redirect_uri", &redirect),
        ("scope", "User.Read openid offline_access"),
    ]);
    let r = app
        .clone()
        .oneshot(
            Request::get(format!("/{TENANT}/oauth2/v2.0/authorize?{q}"))
                .header("host", "127.0.0.1")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let session_cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("ESTSAUTH="))
        .map(|c| c.split(';').next().unwrap_or_default().to_string())
        .unwrap_or_default();
    let code = form_urlencoded::parse(loc.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("client_id", &public),
        ("code", &code),
        ("redirect_uri", &redirect),
    ]);
    let r = app
        .clone()
        .oneshot(
            Request::post(token_uri())
                .header("host", "127.0.0.1")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    let t: serde_json::Value =
        serde_json::from_slice(&r.into_body().collect().await.unwrap().to_bytes()).unwrap();
    Seeds {
        confidential: (
            ready.clients.confidential.client_id.clone(),
            ready.clients.confidential.client_secret.clone(),
        ),
        public,
        redirect,
        user_token: t["access_token"].as_str().unwrap().to_string(),
        refresh_token: t["refresh_token"].as_str().unwrap().to_string(),
        session_cookie,
        obo_assertion: idp.user_assertion(TENANT).unwrap(),
        admin_token: ready.admin_token.clone(),
    }
}

/// Sends one case through the router; `Err` says what broke.
async fn send(app: &axum::Router, case: &Case) -> Result<(), String> {
    let mut b = Request::builder()
        .method(case.method.clone())
        .uri(case.uri.as_str())
        .header("host", "127.0.0.1");
    for (k, v) in &case.headers {
        // A header no client could send (a control byte) is refused by the HTTP layer before
        // the router: the raw-head test covers those.
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_bytes(v),
        ) else {
            continue;
        };
        b = b.header(name, value);
    }
    let Ok(req) = b.body(Body::from(case.body.clone())) else {
        // An unparseable URI never reaches the router either.
        return Ok(());
    };
    let Ok(resp) = app.clone().oneshot(req).await;
    let status = resp.status().as_u16();
    let ct = shape::content_type(resp.headers());
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("the body failed: {e}"))?
        .to_bytes();
    let path = case.uri.split('?').next().unwrap_or_default();
    shape::check(shape::Surface::of(path), false, status, &ct, &body)
}

/// Sends a proxy head over loopback and reads the status line.
async fn send_connect(proxy: std::net::SocketAddr, head: &[u8]) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(proxy)
        .await
        .map_err(|e| format!("cannot connect to the proxy: {e}"))?;
    let _ = s.write_all(head).await;
    let mut buf = vec![0u8; 64];
    let n = tokio::time::timeout(std::time::Duration::from_secs(15), s.read(&mut buf))
        .await
        .map_err(|_| "no answer within 15 s".to_string())?
        .unwrap_or(0);
    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
    // A head hyper can't parse gets its 400 or 431, a refused one the proxy's 400, a
    // tunnel 200, a closed loopback port 502, and a mutated method that made a plain request
    // to an impersonated host the mock's own answer (404 for `/`). Anything else, or a
    // connection closed without a word, is a fault.
    // HTTP/1.0 when the head asked for it.
    let status = line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| line.strip_prefix("HTTP/1.0 "))
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse::<u16>().ok());
    match status {
        Some(200 | 400 | 404 | 405 | 414 | 431 | 501 | 502 | 505) => Ok(()),
        _ => Err(format!("answered {line:?}")),
    }
}

type Gen = fn(&mut StdRng, &Seeds) -> Case;

const TARGETS: &[(&str, Option<Gen>)] = &[
    ("form", Some(form_case)),
    ("query", Some(query_case)),
    ("json", Some(json_case)),
    ("jwt", Some(jwt_case)),
    ("bearer", Some(bearer_case)),
    ("cookie", Some(cookie_case)),
    ("connect", None),
];

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` doesn't: a short run.
    let bench = std::env::args().any(|a| a == "--bench");
    let cases: u64 = std::env::var("TOKENSTORM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench { 1_000_000 } else { 2_000 });
    let seed: u64 = std::env::var("TOKENSTORM_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x70C3_57F0);
    let only = std::env::var("TOKENSTORM_FUZZ_TARGETS").ok();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default_hook(info);
    }));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("fuzz: {cases} cases per target, seed {seed}");
    let mut failures = 0u64;
    for (name, gen) in TARGETS {
        if only
            .as_deref()
            .is_some_and(|o| !o.split(',').any(|t| t == *name))
        {
            continue;
        }
        let started = Instant::now();
        let mut rng =
            StdRng::seed_from_u64(seed ^ name.len() as u64 ^ (name.as_bytes()[0] as u64) << 32);
        let mut done = 0u64;
        let mut failed = 0u64;
        while done < cases {
            let chunk = CHUNK.min(cases - done);
            let (n, f) = rt.block_on(async {
                let idp = MockIdp::start(Options::default().impersonate(gen.is_none()))
                    .await
                    .unwrap();
                let app = idp.router();
                let mut f = 0u64;
                match gen {
                    Some(gen) => {
                        let s = seeds(&idp, &app).await;
                        for i in 0..chunk {
                            let case = gen(&mut rng, &s);
                            if let Err(e) = send(&app, &case).await {
                                f += 1;
                                if f <= 5 {
                                    eprintln!(
                                        "fuzz {name} case {} (seed {seed}): {e}\n  {case:?}",
                                        done + i
                                    );
                                }
                            }
                        }
                    }
                    None => {
                        let proxy: std::net::SocketAddr = idp
                            .proxy_url()
                            .unwrap()
                            .trim_start_matches("http://")
                            .trim_end_matches('/')
                            .parse()
                            .unwrap();
                        let port = idp.addr().port();
                        for i in 0..chunk {
                            let head = connect_head(&mut rng, port);
                            if let Err(e) = send_connect(proxy, &head).await {
                                f += 1;
                                if f <= 5 {
                                    eprintln!(
                                        "fuzz {name} case {} (seed {seed}): {e}\n  {:?}",
                                        done + i,
                                        String::from_utf8_lossy(&head)
                                    );
                                }
                            }
                        }
                    }
                }
                idp.shutdown().await;
                (chunk, f)
            });
            done += n;
            failed += f;
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "fuzz {name:<8} {done:>9} cases  {failed} failed  {:.1} s  {:.0} cases/s",
            secs,
            done as f64 / secs
        );
        failures += failed;
    }
    let panics = PANICS.load(Ordering::SeqCst);
    println!("fuzz: {failures} failed cases, {panics} panics");
    assert_eq!(panics, 0, "the mock panicked");
    assert_eq!(failures, 0, "cases failed (printed above)");
}

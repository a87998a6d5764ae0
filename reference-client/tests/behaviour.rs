//! The reference client's behaviours against wiremock stubs of the token endpoint and an API.
//! Throttling and back-off run on tokio's paused clock: the client never sleeps (it serves a
//! cached token or answers `Waiting`), so a test pauses time once the stubs have answered and
//! advances it, and a 60 s Retry-After costs no wall time.
#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};
use std::time::Duration;
use tokenstorm_reference_client::{Client, Config, Error, Flow};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const GRAPH: &str = "https://graph.microsoft.com/.default";

fn scopes() -> Vec<String> {
    vec![GRAPH.to_string()]
}

fn config(server: &MockServer, state: Option<&std::path::Path>) -> Config {
    Config {
        authority: format!("{}/tenant", server.uri()),
        client_id: "app".into(),
        client_secret: "secret".into(),
        ca_pem: None,
        state_dir: state.map(std::path::Path::to_path_buf),
        flow: Flow::ClientCredentials,
        graph_url: format!("{}/v1.0", server.uri()),
    }
}

fn token(n: u32, expires_in: u64, refresh_in: Option<u64>) -> ResponseTemplate {
    let mut body = json!({
        "token_type": "Bearer",
        "access_token": format!("opaque-token-{n}"),
        "expires_in": expires_in,
    });
    if let Some(r) = refresh_in {
        body["refresh_in"] = json!(r);
    }
    ResponseTemplate::new(200).set_body_json(body)
}

fn throttled(status: u16, retry_after: Option<u64>) -> ResponseTemplate {
    let mut t = ResponseTemplate::new(status).set_body_json(json!({
        "error": "temporarily_unavailable",
        "error_description": "AADSTS50196: throttled",
    }));
    if let Some(s) = retry_after {
        t = t.insert_header("Retry-After", s.to_string().as_str());
    }
    t
}

/// Answers from a list in turn (the last one repeats).
struct Sequence(std::sync::Mutex<Vec<ResponseTemplate>>);

impl Sequence {
    fn new(v: Vec<ResponseTemplate>) -> Self {
        Sequence(std::sync::Mutex::new(v.into_iter().rev().collect()))
    }
}

impl Respond for Sequence {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let mut v = self.0.lock().unwrap();
        if v.len() > 1 {
            v.pop().unwrap()
        } else {
            v[0].clone()
        }
    }
}

async fn token_requests(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path().ends_with("/oauth2/v2.0/token"))
        .count()
}

async fn stub_token(server: &MockServer, responses: Vec<ResponseTemplate>) {
    Mock::given(method("POST"))
        .and(path("/tenant/oauth2/v2.0/token"))
        .respond_with(Sequence::new(responses))
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_cached_token_is_served_without_a_request_and_cp1_is_declared() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/tenant/oauth2/v2.0/token"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("xms_cc"))
        .respond_with(token(1, 3600, None))
        .expect(1)
        .mount(&server)
        .await;
    let c = Client::new(config(&server, None)).unwrap();
    for _ in 0..5 {
        assert_eq!(c.acquire(&scopes()).await.unwrap(), "opaque-token-1");
    }
    // Other scopes are another token.
    let other = vec!["api://other/.default".to_string()];
    Mock::given(method("POST"))
        .and(body_string_contains("api%3A%2F%2Fother"))
        .respond_with(token(2, 3600, None))
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(c.acquire(&other).await.unwrap(), "opaque-token-2");
    assert_eq!(c.acquire(&scopes()).await.unwrap(), "opaque-token-1");
}

#[tokio::test]
async fn concurrent_needs_share_one_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(token(1, 3600, None).set_delay(Duration::from_millis(300)))
        .expect(1)
        .mount(&server)
        .await;
    let c = std::sync::Arc::new(Client::new(config(&server, None)).unwrap());
    let all = (0..16).map(|_| {
        let c = c.clone();
        tokio::spawn(async move { c.acquire(&scopes()).await })
    });
    for r in futures_join(all).await {
        assert_eq!(r.unwrap(), "opaque-token-1");
    }
}

async fn futures_join<T: Send + 'static>(
    hs: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for h in hs {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn retry_after_is_honoured_on_a_paused_clock() {
    let server = MockServer::start().await;
    stub_token(
        &server,
        vec![throttled(429, Some(60)), token(1, 3600, None)],
    )
    .await;
    let c = Client::new(config(&server, None)).unwrap();
    let started = std::time::Instant::now();
    assert!(matches!(
        c.acquire(&scopes()).await,
        Err(Error::Transient(_))
    ));
    tokio::time::pause();
    for _ in 0..59 {
        tokio::time::advance(Duration::from_secs(1)).await;
        match c.acquire(&scopes()).await {
            Err(Error::Waiting(left)) => assert!(left <= Duration::from_secs(60)),
            other => panic!("asked again during Retry-After: {other:?}"),
        }
    }
    assert_eq!(token_requests(&server).await, 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    tokio::time::resume();
    assert_eq!(c.acquire(&scopes()).await.unwrap(), "opaque-token-1");
    assert_eq!(token_requests(&server).await, 2);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the wait cost wall time"
    );
}

#[tokio::test]
async fn five_xx_backs_off_exponentially_from_five_seconds() {
    let server = MockServer::start().await;
    stub_token(
        &server,
        vec![
            throttled(500, None),
            throttled(503, None),
            throttled(502, None),
            token(1, 3600, None),
        ],
    )
    .await;
    let c = Client::new(config(&server, None)).unwrap();
    // The k-th failure in a row blocks min(5·2^(k−1), 60) s.
    for (k, blocked) in [(1, 5u64), (2, 10), (3, 20)] {
        assert!(
            matches!(c.acquire(&scopes()).await, Err(Error::Transient(_))),
            "failure {k}"
        );
        tokio::time::pause();
        tokio::time::advance(Duration::from_secs(blocked) - Duration::from_millis(200)).await;
        assert!(
            matches!(c.acquire(&scopes()).await, Err(Error::Waiting(_))),
            "retried before {blocked} s after failure {k}"
        );
        assert_eq!(token_requests(&server).await, k);
        tokio::time::advance(Duration::from_millis(500)).await;
        tokio::time::resume();
    }
    assert_eq!(c.acquire(&scopes()).await.unwrap(), "opaque-token-1");
}

#[tokio::test]
async fn a_malformed_200_is_a_failed_attempt_with_back_off() {
    let server = MockServer::start().await;
    stub_token(
        &server,
        vec![
            ResponseTemplate::new(200).set_body_string("{\"access_tok"),
            ResponseTemplate::new(200).set_body_json(json!({"token_type": "Bearer"})),
            token(1, 3600, None),
        ],
    )
    .await;
    let c = Client::new(config(&server, None)).unwrap();
    assert!(matches!(
        c.acquire(&scopes()).await,
        Err(Error::Transient(_))
    ));
    assert!(matches!(c.acquire(&scopes()).await, Err(Error::Waiting(_))));
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(6)).await;
    tokio::time::resume();
    // No access token in a 200: also a failure, and the streak grows (10 s now).
    assert!(matches!(
        c.acquire(&scopes()).await,
        Err(Error::Transient(_))
    ));
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(6)).await;
    assert!(matches!(c.acquire(&scopes()).await, Err(Error::Waiting(_))));
    tokio::time::advance(Duration::from_secs(5)).await;
    tokio::time::resume();
    assert_eq!(c.acquire(&scopes()).await.unwrap(), "opaque-token-1");
    assert_eq!(token_requests(&server).await, 3);
}

#[tokio::test]
async fn refresh_in_renews_early_and_a_failed_renewal_serves_the_valid_token() {
    let server = MockServer::start().await;
    stub_token(
        &server,
        vec![
            // refresh_in 1 s: due for renewal after a second, valid for an hour.
            token(1, 3600, Some(1)),
            throttled(503, Some(30)),
            token(2, 3600, None),
        ],
    )
    .await;
    let c = Client::new(config(&server, None)).unwrap();
    assert_eq!(c.acquire(&scopes()).await.unwrap(), "opaque-token-1");
    assert_eq!(c.acquire(&scopes()).await.unwrap(), "opaque-token-1");
    assert_eq!(token_requests(&server).await, 1, "fresh: no renewal yet");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Due: renewal is tried, fails with 503, and the still-valid token is served.
    assert_eq!(c.acquire(&scopes()).await.unwrap(), "opaque-token-1");
    assert_eq!(token_requests(&server).await, 2);
    // While throttled, the old token keeps being served without asking.
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(20)).await;
    assert_eq!(c.acquire(&scopes()).await.unwrap(), "opaque-token-1");
    assert_eq!(token_requests(&server).await, 2);
    tokio::time::advance(Duration::from_secs(11)).await;
    tokio::time::resume();
    assert_eq!(c.acquire(&scopes()).await.unwrap(), "opaque-token-2");
}

/// An API that challenges the first call with CAE's insufficient_claims.
#[tokio::test]
async fn a_claims_challenge_gets_a_new_token_with_the_claims_and_one_retry() {
    use base64::Engine as _;
    let server = MockServer::start().await;
    let claims = json!({"access_token": {"nbf": {"essential": true, "value": "1700000000"}}});
    let b64 = base64::engine::general_purpose::STANDARD.encode(claims.to_string());
    stub_token(&server, vec![token(1, 3600, None), token(2, 3600, None)]).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/me"))
        .and(header("authorization", "Bearer opaque-token-1"))
        .respond_with(ResponseTemplate::new(401).insert_header(
            "WWW-Authenticate",
            format!("Bearer realm=\"\", error=\"insufficient_claims\", claims=\"{b64}\"").as_str(),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/me"))
        .and(header("authorization", "Bearer opaque-token-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "me"})))
        .expect(1)
        .mount(&server)
        .await;
    let c = Client::new(config(&server, None)).unwrap();
    let r = c
        .call_api("GET", &format!("{}/v1.0/me", server.uri()), &scopes(), None)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body["id"], "me");
    // The second token request carried the challenge's claims merged with cp1.
    let reqs = server.received_requests().await.unwrap();
    let second = reqs
        .iter()
        .filter(|r| r.url.path().ends_with("/token"))
        .nth(1)
        .unwrap();
    let form: Vec<(String, String)> = form_urlencoded_pairs(&second.body);
    let sent: Value =
        serde_json::from_str(&form.iter().find(|(k, _)| k == "claims").unwrap().1).unwrap();
    assert_eq!(sent["access_token"]["nbf"]["value"], "1700000000");
    assert_eq!(sent["access_token"]["xms_cc"]["values"][0], "cp1");
}

fn form_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

#[tokio::test]
async fn the_api_s_retry_after_is_honoured_too() {
    let server = MockServer::start().await;
    stub_token(&server, vec![token(1, 3600, None)]).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/me"))
        .respond_with(Sequence::new(vec![
            throttled(429, Some(30)),
            ResponseTemplate::new(200).set_body_json(json!({"id": "me"})),
        ]))
        .mount(&server)
        .await;
    let c = Client::new(config(&server, None)).unwrap();
    let url = format!("{}/v1.0/me", server.uri());
    assert_eq!(
        c.call_api("GET", &url, &scopes(), None)
            .await
            .unwrap()
            .status,
        429
    );
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(29)).await;
    assert!(matches!(
        c.call_api("GET", &url, &scopes(), None).await,
        Err(Error::Waiting(_))
    ));
    tokio::time::advance(Duration::from_secs(2)).await;
    tokio::time::resume();
    assert_eq!(
        c.call_api("GET", &url, &scopes(), None)
            .await
            .unwrap()
            .status,
        200
    );
}

#[tokio::test]
async fn a_restart_is_silent_and_the_cache_is_encrypted_and_owner_only() {
    let server = MockServer::start().await;
    stub_token(&server, vec![token(1, 3600, None), token(2, 3600, None)]).await;
    let dir = tempfile::tempdir().unwrap();
    {
        let c = Client::new(config(&server, Some(dir.path()))).unwrap();
        assert_eq!(c.acquire(&scopes()).await.unwrap(), "opaque-token-1");
    }
    let c = Client::new(config(&server, Some(dir.path()))).unwrap();
    assert_eq!(c.acquire(&scopes()).await.unwrap(), "opaque-token-1");
    assert_eq!(token_requests(&server).await, 1, "the restart asked again");
    for f in std::fs::read_dir(dir.path()).unwrap() {
        let f = f.unwrap();
        let bytes = std::fs::read(f.path()).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("opaque-token"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(f.metadata().unwrap().permissions().mode() & 0o077, 0);
        }
    }
    // Another client (or authority) does not get this cache's tokens.
    let mut other = config(&server, Some(dir.path()));
    other.client_id = "another-app".into();
    let c = Client::new(other).unwrap();
    assert_eq!(c.acquire(&scopes()).await.unwrap(), "opaque-token-2");
}

#[tokio::test]
async fn a_stalled_token_endpoint_times_out_and_backs_off() {
    let server = MockServer::start().await;
    stub_token(
        &server,
        vec![
            token(1, 3600, None).set_delay(Duration::from_secs(30)),
            token(2, 3600, None),
        ],
    )
    .await;
    let c = Client::new(config(&server, None)).unwrap();
    let t = std::time::Instant::now();
    assert!(matches!(
        c.acquire(&scopes()).await,
        Err(Error::Transient(_))
    ));
    let took = t.elapsed();
    assert!(
        took >= tokenstorm_reference_client::REQUEST_TIMEOUT && took < Duration::from_secs(20),
        "{took:?}"
    );
    assert!(matches!(c.acquire(&scopes()).await, Err(Error::Waiting(_))));
}

#[tokio::test]
async fn on_behalf_of_exchanges_each_assertion_once_and_caches_per_user() {
    let server = MockServer::start().await;
    for (user, n) in [("alice", 1), ("bob", 2)] {
        Mock::given(method("POST"))
            .and(body_string_contains(
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer",
            ))
            .and(body_string_contains("requested_token_use=on_behalf_of"))
            .and(body_string_contains(
                format!("assertion=incoming-token-of-{user}").as_str(),
            ))
            .respond_with(token(n, 3600, None))
            .expect(1)
            .mount(&server)
            .await;
    }
    let mut cfg = config(&server, None);
    cfg.flow = Flow::OnBehalfOf;
    let c = Client::new(cfg).unwrap();
    for _ in 0..3 {
        for (user, n) in [("alice", 1), ("bob", 2)] {
            let t = c
                .acquire_on_behalf_of(&format!("incoming-token-of-{user}"), &scopes())
                .await
                .unwrap();
            // Never another user's token.
            assert_eq!(t, format!("opaque-token-{n}"));
        }
    }
}

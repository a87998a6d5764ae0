//! Connections as clients use them, byte for byte: keep-alive across idle gaps (the mock parks an
//! HTTP/1.1 connection idle for a second without its HTTP buffers and takes it up again at the
//! next request; the gaps here are both shorter and longer),
//! pipelined requests, requests split across writes, `Connection: close` and HTTP/1.0, idle and
//! silent connections closed after the head timeout, a slow head after an idle gap, and HTTP/2
//! by ALPN and by prior knowledge.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};
use tokenstorm_mock_idp::{MockIdp, Options};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

const DISCOVERY: &str = "/common/v2.0/.well-known/openid-configuration";
const JWKS: &str = "/common/discovery/v2.0/keys";

async fn plain(head_timeout: Duration) -> MockIdp {
    MockIdp::start(Options::default().tls(false).head_timeout(head_timeout))
        .await
        .unwrap()
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")
}

/// One response read off the stream: its status, headers (lower-cased names) and body. Bytes
/// after it stay in `rest`.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

async fn response<S: AsyncRead + Unpin>(s: &mut S, rest: &mut Vec<u8>) -> Response {
    let deadline = Duration::from_secs(10);
    let end = loop {
        if let Some(i) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let mut buf = [0u8; 4096];
        let n = tokio::time::timeout(deadline, s.read(&mut buf))
            .await
            .expect("a response within 10 s")
            .unwrap();
        assert!(
            n > 0,
            "closed before a response head: {:?}",
            String::from_utf8_lossy(rest)
        );
        rest.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8(rest[..end].to_vec()).unwrap();
    rest.drain(..end + 4);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_ascii_lowercase(), v.trim().to_string())
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map(|(_, v)| v.parse().unwrap())
        .expect("content-length");
    while rest.len() < len {
        let mut buf = [0u8; 4096];
        let n = tokio::time::timeout(deadline, s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed in the middle of a body");
        rest.extend_from_slice(&buf[..n]);
    }
    let body = rest.drain(..len).collect();
    Response {
        status,
        headers,
        body,
    }
}

/// Reads until the server closes; how long that took. Panics on bytes.
async fn closed_within<S: AsyncRead + Unpin>(s: &mut S, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 64];
    match tokio::time::timeout(limit, s.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => started.elapsed(),
        Ok(Ok(n)) => panic!("unexpected bytes: {:?}", String::from_utf8_lossy(&buf[..n])),
        Err(_) => panic!("still open after {limit:?}"),
    }
}

fn requests_to(idp: &MockIdp, path: &str) -> usize {
    idp.journal().iter().filter(|e| e.path == path).count()
}

fn refusals(idp: &MockIdp) -> Vec<model::JournalEntry> {
    idp.journal()
        .into_iter()
        .filter(|e| e.completion == model::Completion::Refused)
        .collect()
}

async fn keep_alive_across_idle_gaps<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) {
    let mut rest = Vec::new();
    for (i, gap) in [0u64, 50, 1200, 0, 1100].into_iter().enumerate() {
        tokio::time::sleep(Duration::from_millis(gap)).await;
        let path = if i % 2 == 0 { DISCOVERY } else { JWKS };
        s.write_all(get(path).as_bytes()).await.unwrap();
        let r = response(s, &mut rest).await;
        assert_eq!(r.status, 200, "request {i}");
        assert_ne!(r.header("connection"), Some("close"), "request {i}");
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert!(v.is_object(), "request {i}: {v}");
    }
    assert!(rest.is_empty());
}

#[tokio::test]
async fn one_connection_serves_requests_across_idle_gaps() {
    let idp = plain(Duration::from_secs(5)).await;
    let mut s = TcpStream::connect(idp.addr()).await.unwrap();
    keep_alive_across_idle_gaps(&mut s).await;
    assert_eq!(requests_to(&idp, DISCOVERY), 3);
    assert_eq!(requests_to(&idp, JWKS), 2);
}

#[tokio::test]
async fn one_tls_connection_serves_requests_across_idle_gaps() {
    use tokio_rustls::rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
    let idp = MockIdp::start(Options::default()).await.unwrap();
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(idp.ca_cert_pem().unwrap().as_bytes()).unwrap())
        .unwrap();
    let mut config = tokio_rustls::rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = TcpStream::connect(idp.addr()).await.unwrap();
    let mut s = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    keep_alive_across_idle_gaps(&mut s).await;
    assert_eq!(requests_to(&idp, DISCOVERY) + requests_to(&idp, JWKS), 5);
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_even_when_one_is_split_across_an_idle_gap() {
    let idp = plain(Duration::from_secs(5)).await;
    let mut s = TcpStream::connect(idp.addr()).await.unwrap();
    let mut rest = Vec::new();
    // Two whole requests in one write.
    s.write_all(format!("{}{}", get(DISCOVERY), get(JWKS)).as_bytes())
        .await
        .unwrap();
    let a = response(&mut s, &mut rest).await;
    let b = response(&mut s, &mut rest).await;
    assert_eq!((a.status, b.status), (200, 200));
    assert!(String::from_utf8_lossy(&a.body).contains("issuer"));
    assert!(String::from_utf8_lossy(&b.body).contains("keys"));
    // A whole request and the first half of the next; the second half after an idle gap.
    let next = get(JWKS);
    let (first, second) = next.split_at(9);
    s.write_all(format!("{}{first}", get(DISCOVERY)).as_bytes())
        .await
        .unwrap();
    let c = response(&mut s, &mut rest).await;
    assert!(String::from_utf8_lossy(&c.body).contains("issuer"));
    tokio::time::sleep(Duration::from_millis(1300)).await;
    s.write_all(second.as_bytes()).await.unwrap();
    let d = response(&mut s, &mut rest).await;
    assert_eq!(d.status, 200);
    assert!(String::from_utf8_lossy(&d.body).contains("keys"));
    // A request whose head and body come in separate writes, after an idle gap.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let body = "grant_type=client_credentials&client_id=nobody&client_secret=x&scope=x";
    s.write_all(
        format!(
            "POST /common/oauth2/v2.0/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.write_all(body.as_bytes()).await.unwrap();
    let e = response(&mut s, &mut rest).await;
    assert!(
        (400..500).contains(&e.status),
        "{}",
        String::from_utf8_lossy(&e.body)
    );
    let v: serde_json::Value = serde_json::from_slice(&e.body).unwrap();
    assert!(v["error"].is_string(), "{v}");
    assert_eq!(requests_to(&idp, DISCOVERY), 2);
    assert_eq!(requests_to(&idp, JWKS), 2);
}

#[tokio::test]
async fn connection_close_and_http_1_0_end_the_connection_after_the_answer() {
    let idp = plain(Duration::from_secs(5)).await;
    for req in [
        format!("GET {DISCOVERY} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        format!("GET {DISCOVERY} HTTP/1.0\r\nHost: x\r\n\r\n"),
    ] {
        let mut s = TcpStream::connect(idp.addr()).await.unwrap();
        s.write_all(req.as_bytes()).await.unwrap();
        let mut rest = Vec::new();
        let r = response(&mut s, &mut rest).await;
        assert_eq!(r.status, 200, "{req}");
        closed_within(&mut s, Duration::from_secs(2)).await;
    }
}

#[tokio::test]
async fn an_idle_connection_is_closed_cleanly_after_the_head_timeout() {
    let idp = plain(Duration::from_millis(500)).await;
    // After a request.
    let mut s = TcpStream::connect(idp.addr()).await.unwrap();
    s.write_all(get(JWKS).as_bytes()).await.unwrap();
    let mut rest = Vec::new();
    assert_eq!(response(&mut s, &mut rest).await.status, 200);
    let held = closed_within(&mut s, Duration::from_secs(5)).await;
    assert!(held >= Duration::from_millis(400), "closed after {held:?}");
    // Before any request.
    let mut s = TcpStream::connect(idp.addr()).await.unwrap();
    let held = closed_within(&mut s, Duration::from_secs(5)).await;
    assert!(held >= Duration::from_millis(400), "closed after {held:?}");
    // Neither is a refused request.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(refusals(&idp).is_empty(), "{:?}", refusals(&idp));
}

#[tokio::test]
async fn a_slow_head_after_an_idle_gap_is_refused_and_journaled() {
    let idp = plain(Duration::from_millis(600)).await;
    let mut s = TcpStream::connect(idp.addr()).await.unwrap();
    let mut rest = Vec::new();
    s.write_all(get(JWKS).as_bytes()).await.unwrap();
    assert_eq!(response(&mut s, &mut rest).await.status, 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    s.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let mut buf = [0u8; 64];
    for _ in 0..40 {
        if s.write_all(b"X-Slow: 1\r\n").await.is_err() {
            break;
        }
        let read = tokio::time::timeout(Duration::from_millis(100), s.read(&mut buf)).await;
        if let Ok(Ok(0) | Err(_)) = read {
            break;
        }
    }
    let held = started.elapsed();
    assert!(
        held < Duration::from_secs(3),
        "a trickling head held its connection for {held:?}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = refusals(&idp);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].status, 408, "{r:?}");
}

#[tokio::test]
async fn http2_is_served_by_prior_knowledge_and_by_alpn() {
    use http_body_util::{BodyExt, Empty};
    // Prior knowledge on plain TCP.
    let idp = plain(Duration::from_secs(5)).await;
    let tcp = TcpStream::connect(idp.addr()).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    for path in [DISCOVERY, JWKS] {
        let req = hyper::Request::get(format!("http://{}{path}", idp.addr()))
            .body(Empty::<bytes::Bytes>::new())
            .unwrap();
        let resp = send.send_request(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.version(), hyper::Version::HTTP_2);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok());
    }
    // ALPN over TLS.
    let idp = MockIdp::start(Options::default()).await.unwrap();
    let ca = reqwest::Certificate::from_pem(idp.ca_cert_pem().unwrap().as_bytes()).unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let resp = http
        .get(format!("{}{JWKS}", idp.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.status(), 200);
}

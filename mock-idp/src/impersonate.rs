//! Impersonation: the mock answers for Microsoft Entra's and Graph's real host names, so an app
//! is judged with its configuration unchanged. The way in is an HTTP proxy on loopback (the app
//! gets `HTTPS_PROXY`): a `CONNECT` to an impersonated host is answered with the mock itself,
//! over TLS with a certificate for that name from the run's CA; a `CONNECT` to any other host is
//! tunnelled byte for byte, and a plain-HTTP request to another host is forwarded, so the app's
//! own APIs keep working. Graph's paths (`/v1.0/...`) are served by the mock's Graph
//! (`/graph/v1.0/...`, mapped by the router for a request naming Graph's host); the
//! managed-identity endpoint of the instance metadata service
//! (`http://169.254.169.254/metadata/identity/oauth2/token`) is the mock's too.
//!
//! The proxy listens on loopback only and refuses any other peer.

use crate::server::ConnControl;
use crate::state::Idp;
use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request, Response, StatusCode, Uri};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// Entra's authority hosts the mock answers for.
pub const AUTHORITY_HOSTS: &[&str] = &[
    "login.microsoftonline.com",
    "login.microsoft.com",
    "login.windows.net",
    "sts.windows.net",
];
/// Microsoft Graph's host.
pub const GRAPH_HOST: &str = "graph.microsoft.com";
/// The instance metadata service (managed identity on Azure VMs), reached over plain HTTP.
pub const IMDS_HOST: &str = "169.254.169.254";

/// Every TLS name the mock's certificate carries when impersonating.
pub fn tls_names() -> Vec<String> {
    AUTHORITY_HOSTS
        .iter()
        .chain([&GRAPH_HOST])
        .map(|h| h.to_string())
        .collect()
}

/// `host` (with an optional port) without its port, lower-cased.
fn bare(host: &str) -> String {
    let h = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    h.to_ascii_lowercase()
}

/// Whether the mock answers for `host` (a name, optionally with a port).
pub fn answers_for(host: &str) -> bool {
    let h = bare(host);
    AUTHORITY_HOSTS.contains(&h.as_str()) || h == GRAPH_HOST || h == IMDS_HOST
}

/// The base URL (`https://login.microsoftonline.com`) for a request whose `Host` names an
/// impersonated HTTPS host on the default port.
pub fn base_for_host(host: &str) -> Option<String> {
    let h = bare(host);
    let default_port = !host.contains(':') || host.ends_with(":443");
    (default_port && (AUTHORITY_HOSTS.contains(&h.as_str()) || h == GRAPH_HOST))
        .then(|| format!("https://{h}"))
}

/// How long a tunnel to another host may take to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send its proxy request head, or its TLS handshake.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves the proxy on `listener` until `shutdown` turns true: impersonated hosts by `app`
/// (over TLS by `tls`), every other host tunnelled or forwarded.
pub async fn serve(
    listener: TcpListener,
    tls: TlsAcceptor,
    app: Router,
    idp: Arc<Idp>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => break,
            r = listener.accept() => r,
        };
        let (stream, peer) = match accepted {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "proxy accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        if !peer.ip().is_loopback() {
            tracing::warn!(%peer, "proxy: refused a peer that is not on loopback");
            continue;
        }
        let _ = stream.set_nodelay(true);
        let proxy = Proxy {
            tls: tls.clone(),
            app: app.clone(),
            idp: idp.clone(),
            stop: shutdown.clone(),
            peer,
        };
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| proxy.clone().handle(req));
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .max_headers(crate::server::MAX_HEADERS)
                .max_buf_size(crate::server::MAX_HEAD_BYTES)
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades();
            tokio::select! {
                r = conn => if let Err(e) = r { tracing::debug!(%peer, error = %e, "proxy connection ended") },
                _ = stop.changed() => {}
            }
        });
    }
}

#[derive(Clone)]
struct Proxy {
    tls: TlsAcceptor,
    app: Router,
    idp: Arc<Idp>,
    stop: watch::Receiver<bool>,
    peer: SocketAddr,
}

type ProxyResult = Result<Response<Body>, std::convert::Infallible>;

fn refusal(status: StatusCode, message: String) -> Response<Body> {
    tracing::debug!(%status, %message, "proxy refusal");
    let mut r = Response::new(Body::from(format!("tokenstorm proxy: {message}\n")));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

impl Proxy {
    async fn handle(self, req: Request<Incoming>) -> ProxyResult {
        if req.method() == Method::CONNECT {
            return Ok(self.connect(req).await);
        }
        let Some(authority) = req.uri().authority().map(|a| a.to_string()) else {
            return Ok(refusal(
                StatusCode::BAD_REQUEST,
                "a proxy request names its target in absolute form (http://host/path)".into(),
            ));
        };
        if answers_for(&authority) {
            return Ok(self.serve_plain(req, &authority).await);
        }
        Ok(forward(req, &authority).await)
    }

    /// `CONNECT host:port`: the mock over TLS for an impersonated host, else a tunnel.
    async fn connect(self, req: Request<Incoming>) -> Response<Body> {
        let Some(target) = req.uri().authority().map(|a| a.to_string()) else {
            return refusal(StatusCode::BAD_REQUEST, "CONNECT needs host:port".into());
        };
        let host = bare(&target);
        let upgrade = hyper::upgrade::on(req);
        if answers_for(&target) && host != IMDS_HOST {
            tokio::spawn(async move {
                match upgrade.await {
                    Ok(u) => self.serve_tls(TokioIo::new(u)).await,
                    Err(e) => tracing::debug!(error = %e, "proxy: CONNECT upgrade failed"),
                }
            });
            return Response::new(Body::empty());
        }
        // Another host: tunnel it unchanged. The connection is made before answering, so a
        // host that can't be reached gets a 502 the client can read.
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&target)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(tunnel(upgrade, stream));
                Response::new(Body::empty())
            }
            Ok(Err(e)) => refusal(
                StatusCode::BAD_GATEWAY,
                format!("cannot reach {target}: {e}"),
            ),
            Err(_) => refusal(
                StatusCode::GATEWAY_TIMEOUT,
                format!("{target} did not answer"),
            ),
        }
    }

    /// Serves the mock over TLS on an upgraded CONNECT stream.
    async fn serve_tls<S>(self, io: S)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let stream = match tokio::time::timeout(HEAD_TIMEOUT, self.tls.accept(io)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "proxy: TLS handshake with the app failed");
                return;
            }
            Err(_) => return,
        };
        // The upgraded stream has no socket of its own to reset: a scripted reset closes it.
        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
        crate::server::serve_connection(
            Box::new(stream),
            h2,
            self.app,
            self.idp,
            self.stop,
            Arc::default(),
            self.peer,
        )
        .await;
    }

    /// A plain-HTTP request for an impersonated host (the instance metadata service).
    async fn serve_plain(self, req: Request<Incoming>, authority: &str) -> Response<Body> {
        let (mut parts, body) = req.into_parts();
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        parts.uri = path.parse().unwrap_or_else(|_| Uri::from_static("/"));
        if let Ok(h) = HeaderValue::from_str(authority) {
            parts.headers.insert(header::HOST, h);
        }
        parts.extensions.insert(Arc::new(ConnControl::default()));
        let req = Request::from_parts(parts, Body::new(body));
        match self.app.clone().oneshot(req).await {
            Ok(r) => r,
            Err(e) => match e {},
        }
    }
}

/// Forwards a plain-HTTP request to another host unchanged (origin-form, same headers).
async fn forward(req: Request<Incoming>, authority: &str) -> Response<Body> {
    let target = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&target)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            return refusal(
                StatusCode::BAD_GATEWAY,
                format!("cannot reach {target}: {e}"),
            )
        }
        Err(_) => {
            return refusal(
                StatusCode::GATEWAY_TIMEOUT,
                format!("{target} did not answer"),
            )
        }
    };
    let (mut sender, conn) = match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    {
        Ok(v) => v,
        Err(e) => return refusal(StatusCode::BAD_GATEWAY, format!("{target}: {e}")),
    };
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let (mut parts, body) = req.into_parts();
    parts.uri = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .unwrap_or_else(|_| Uri::from_static("/"));
    parts.headers.remove("proxy-connection");
    parts.headers.remove(header::PROXY_AUTHORIZATION);
    match sender.send_request(Request::from_parts(parts, body)).await {
        Ok(r) => r.map(Body::new),
        Err(e) => refusal(StatusCode::BAD_GATEWAY, format!("{target}: {e}")),
    }
}

/// Tunnels an upgraded CONNECT stream to `stream`, byte for byte.
async fn tunnel(upgrade: hyper::upgrade::OnUpgrade, mut stream: TcpStream) {
    let Ok(upgraded) = upgrade.await else {
        return;
    };
    let mut io = TokioIo::new(upgraded);
    let _ = tokio::io::copy_bidirectional(&mut io, &mut stream).await;
}

/// Where the proxy listens: the mock's loopback address family, port chosen by the system.
pub fn listen_addr(mock: SocketAddr) -> SocketAddr {
    SocketAddr::new(
        if mock.is_ipv6() {
            std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
        } else {
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
        },
        0,
    )
}

/// Graph's root as the client reached it: `https://graph.microsoft.com/v1.0` when impersonating
/// Graph, else the mock's `{base}/graph/v1.0`: links and `@odata.context` name it.
pub(crate) fn graph_root(base: &str) -> String {
    let host = base.strip_prefix("https://").unwrap_or_default();
    if host == GRAPH_HOST || AUTHORITY_HOSTS.contains(&host) {
        format!("https://{}/v1.0", GRAPH_HOST)
    } else {
        format!("{base}/graph/v1.0")
    }
}

//! The accept loop: plain TCP or TLS (h2 and HTTP/1.1 by ALPN), one task per connection, all
//! of them ended when the server shuts down.

use crate::state::Idp;
use axum::Router;
use bytes::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::sync::Notify;
use tokio_rustls::TlsAcceptor;

mod http1;

/// Lets a request end its own connection (a scripted `reset` or `close`): it is in every
/// request's extensions.
#[derive(Debug, Default)]
pub struct ConnControl {
    notify: Notify,
    reset: AtomicBool,
}

impl ConnControl {
    /// Ends the connection: with a TCP reset, or a plain close.
    pub fn abort(&self, reset: bool) {
        self.reset.store(reset, Ordering::SeqCst);
        self.notify.notify_one();
    }
}

/// How long a client may take to finish the TLS handshake.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// The most header fields a request head may carry (HTTP/1.1: beyond it, 431).
pub const MAX_HEADERS: usize = 100;

/// The most bytes a request head may take (HTTP/1.1: beyond it, 431; HTTP/2: the header list
/// size the mock announces).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// A client's TCP stream that closes with a reset (SO_LINGER zero, set just before the socket
/// closes) when a request of its connection asked for one through the [`ConnControl`]. It
/// needs no second descriptor per connection, so the mock holds as many connections as its
/// open-files limit allows.
pub(crate) struct Conn {
    stream: tokio::net::TcpStream,
    ctrl: Arc<ConnControl>,
}

impl Conn {
    pub(crate) fn new(stream: tokio::net::TcpStream, ctrl: Arc<ConnControl>) -> Conn {
        Conn { stream, ctrl }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if self.ctrl.reset.load(Ordering::SeqCst) {
            let _ = socket2::SockRef::from(&self.stream).set_linger(Some(Duration::ZERO));
        }
    }
}

impl tokio::io::AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Serves one connection (TLS already accepted where there is TLS; `h2` when its ALPN chose
/// HTTP/2) until it ends, the server stops, or a request asks for it to end (a scripted close or
/// reset). HTTP/2 is served by hyper's HTTP/2 connection, chosen by ALPN or by the client's
/// connection preface; HTTP/1.1 by [`http1::serve`], which holds no HTTP buffers while the
/// connection waits for its next request. Every request carries the connection's
/// [`ConnControl`]; request heads are held to [`MAX_HEADERS`], [`MAX_HEAD_BYTES`] and the head
/// timeout ([`HEADER_READ_TIMEOUT`](crate::config::HEADER_READ_TIMEOUT) by default, counted
/// from a request's first byte; a connection that sends nothing for that long is closed), and
/// one refused below the router is journaled ([`crate::journal::refused`]).
pub(crate) async fn serve_connection<I>(
    mut io: I,
    h2: bool,
    app: Router,
    idp: Arc<Idp>,
    mut stop: watch::Receiver<bool>,
    ctrl: Arc<ConnControl>,
    peer: SocketAddr,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let head_timeout = idp.head_timeout;
    let svc = http1::Service {
        app,
        ctrl: ctrl.clone(),
        phase: Arc::default(),
    };
    let served = async move {
        let prefix = if h2 {
            Bytes::new()
        } else {
            match sniff(&mut io, head_timeout).await {
                Sniffed::Nothing => return Ok(()),
                Sniffed::Http1(prefix) => {
                    let mut builder = hyper::server::conn::http1::Builder::new();
                    builder
                        .timer(TokioTimer::new())
                        .header_read_timeout(head_timeout)
                        .max_headers(MAX_HEADERS)
                        .max_buf_size(MAX_HEAD_BYTES.max(8192));
                    return http1::serve(
                        io,
                        prefix,
                        &builder,
                        svc,
                        head_timeout,
                        http1::PARK_AFTER,
                    )
                    .await;
                }
                Sniffed::Http2(prefix) => prefix,
            }
        };
        let io = http1::Prefixed::new(prefix, io, svc.phase.clone());
        Box::pin(
            hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .max_header_list_size(u32::try_from(MAX_HEAD_BYTES).unwrap_or(u32::MAX))
                .serve_connection(TokioIo::new(io), svc),
        )
        .await
    };
    tokio::select! {
        r = served => if let Err(e) = r {
            tracing::debug!(%peer, error = %e, "connection ended");
            if let Some((status, why)) = refusal(&e, head_timeout) {
                crate::journal::refused(&idp, status, &why);
            }
        },
        _ = stop.changed() => {}
        // The connection future, and with it the socket, is dropped: a [`Conn`] whose request
        // asked for a reset closes with one.
        _ = ctrl.notify.notified() => {}
    }
}

/// HTTP/2's connection preface, which a client that speaks HTTP/2 without ALPN sends first.
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What a connection's first bytes say it speaks, and the bytes read to tell.
enum Sniffed {
    Http1(Bytes),
    Http2(Bytes),
    /// The client closed, failed or sent nothing within the head timeout.
    Nothing,
}

/// Reads until the bytes are HTTP/2's preface or can no longer be one (for HTTP/1.1, the
/// first read), within `timeout`.
async fn sniff<I: tokio::io::AsyncRead + Unpin>(io: &mut I, timeout: Duration) -> Sniffed {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; H2_PREFACE.len()];
    let mut n = 0;
    let read = async {
        while n < buf.len() {
            match io.read(&mut buf[n..]).await {
                Ok(0) | Err(_) => return n > 0,
                Ok(got) => n += got,
            }
            if buf[..n] != H2_PREFACE[..n] {
                return true;
            }
        }
        true
    };
    let got = tokio::time::timeout(timeout, read).await.unwrap_or(false);
    match (got, n) {
        (false, _) | (_, 0) => Sniffed::Nothing,
        (true, n) if buf[..n] == H2_PREFACE[..] => Sniffed::Http2(Bytes::copy_from_slice(&buf)),
        (true, n) => Sniffed::Http1(Bytes::copy_from_slice(&buf[..n])),
    }
}

/// What HTTP answered a request head refused below the router, and why; `None` for a
/// connection that simply ended.
fn refusal(e: &(dyn std::error::Error + 'static), head_timeout: Duration) -> Option<(u16, String)> {
    let h = e.downcast_ref::<hyper::Error>()?;
    if h.is_parse_too_large() {
        Some((
            431,
            format!(
                "request head too large (more than {MAX_HEADERS} header fields or {} KiB)",
                MAX_HEAD_BYTES / 1024
            ),
        ))
    } else if h.is_parse() {
        Some((400, "malformed request head".to_string()))
    } else if h.is_timeout() {
        Some((
            408,
            format!(
                "request head not complete within {:.1} s",
                head_timeout.as_secs_f64()
            ),
        ))
    } else {
        None
    }
}

/// Serves `app` on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
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
                // Out of file descriptors and the like: back off briefly, keep serving.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let ctrl = Arc::new(ConnControl::default());
        let stream = Conn::new(stream, ctrl.clone());
        let (tls, app, idp, stop) = (tls.clone(), app.clone(), idp.clone(), shutdown.clone());
        tokio::spawn(async move {
            match tls {
                Some(acceptor) => {
                    // Boxed, like every large part of a connection's future, so that the task
                    // of a connection that waits for its next request is small.
                    match Box::pin(tokio::time::timeout(
                        HANDSHAKE_TIMEOUT,
                        acceptor.accept(stream),
                    ))
                    .await
                    {
                        Ok(Ok(s)) => {
                            let h2 = s.get_ref().1.alpn_protocol() == Some(b"h2");
                            serve_connection(Box::new(s), h2, app, idp, stop, ctrl, peer).await
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
                None => serve_connection(stream, false, app, idp, stop, ctrl, peer).await,
            }
        });
    }
}

//! The accept loop: plain TCP or TLS (h2 and HTTP/1.1 by ALPN), one task per connection, all
//! of them ended when the server shuts down.

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::sync::Notify;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

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

    /// Resolves when a request asked for its connection to end.
    pub(crate) async fn notified(&self) {
        self.notify.notified().await;
    }
}

/// How long a client may take to send a request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

fn abort(ctrl: &ConnControl, sock: Option<&socket2::Socket>) {
    if ctrl.reset.load(Ordering::SeqCst) {
        if let Some(s) = sock {
            let _ = s.set_linger(Some(Duration::ZERO));
        }
    }
}

/// Serves `app` on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
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
        // A second handle on the socket, so a scripted reset can set SO_LINGER to zero
        // after the connection (and its stream) has been handed to hyper.
        let sock = stream
            .as_fd()
            .try_clone_to_owned()
            .ok()
            .map(socket2::Socket::from);
        let ctrl = Arc::new(ConnControl::default());
        let app = app.clone().map_request({
            let ctrl = ctrl.clone();
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ctrl.clone());
                req
            }
        });
        let tls = tls.clone();
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let svc = TowerToHyperService::new(app);
            let mut builder = auto::Builder::new(TokioExecutor::new());
            // Idle or trickling request heads do not hold a connection forever.
            builder
                .http1()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT);
            match tls {
                Some(acceptor) => {
                    let stream = match tokio::time::timeout(
                        HANDSHAKE_TIMEOUT,
                        acceptor.accept(stream),
                    )
                    .await
                    {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    };
                    let conn = builder.serve_connection(TokioIo::new(stream), svc);
                    tokio::select! {
                        r = conn => if let Err(e) = r { tracing::debug!(%peer, error = %e, "connection ended") },
                        _ = stop.changed() => {}
                        _ = ctrl.notify.notified() => abort(&ctrl, sock.as_ref()),
                    }
                }
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), svc);
                    tokio::select! {
                        r = conn => if let Err(e) = r { tracing::debug!(%peer, error = %e, "connection ended") },
                        _ = stop.changed() => {}
                        _ = ctrl.notify.notified() => abort(&ctrl, sock.as_ref()),
                    }
                }
            }
            // The connection future is gone; closing the last handle closes the socket (with a
            // reset when SO_LINGER was set to zero).
            drop(sock);
        });
    }
}

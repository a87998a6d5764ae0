//! HTTP/1.1 connections that hold no HTTP state while they wait for their next request.
//!
//! hyper's HTTP/1 connection keeps a read buffer (16 KB once a request has gone through it), an
//! 8 KB buffer for response heads and its own state for as long as it lives, so an idle
//! keep-alive connection used to cost about 28 KB: 10,000 of them, 290 MB. Here a hyper
//! connection lives only while the connection is in use. Once a response has been written and
//! flushed and the client has sent nothing more for [`PARK_AFTER`], hyper is asked to close the idle
//! connection *without* shutting the socket down ([`Connection::graceful_shutdown`] on an idle
//! connection, then [`Connection::into_parts`]); the socket is kept ("parked") with only the
//! TLS session, and a new hyper connection is made when the next request's first byte arrives.
//!
//! What the client sees does not change: the same responses with the same headers (hyper is
//! only ever stopped between messages, when no response head is waiting to be written), the
//! same keep-alive, an idle connection closed cleanly after the head timeout as hyper closes
//! one, a request head held to the head timeout from its first byte. Bytes hyper had read and
//! not used (a pipelined request's beginning) are handed to the next connection first.
//! A connection is not parked when its latest request asked for it to close or was HTTP/1.0,
//! or when anything arrived after the response ended: hyper then keeps serving it as before.

use bytes::{Buf, Bytes, BytesMut};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1::{self, Connection};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// How long a connection stays idle between messages, with hyper's buffers, before it is
/// parked: a connection in steady use (a busy client sends its next request within this) keeps
/// its hyper connection, so parking costs nothing under load. With more than [`MANY`]
/// connections open, memory comes first: they are parked as soon as they are idle.
pub(super) const PARK_AFTER: Duration = Duration::from_secs(1);

/// How many open HTTP/1.1 connections make parking immediate.
const MANY: usize = 1000;

/// HTTP/1.1 connections open in this process (a count for [`MANY`]; every mock in a process
/// shares the memory it is about).
static OPEN: AtomicUsize = AtomicUsize::new(0);

/// Counts a connection as open while it lives.
struct Open;

impl Open {
    fn new() -> Open {
        OPEN.fetch_add(1, Relaxed);
        Open
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Relaxed);
    }
}

/// Where one connection is between requests. Everything that sets it runs in the connection's
/// task (hyper polls the service, the bodies and the socket from there), so it is read in a
/// consistent state right after hyper returns `Pending`.
#[derive(Debug, Default)]
pub(super) struct Phase {
    /// The latest request's body has been read to its end (hyper drains or closes a
    /// connection whose request body was not read; it is left to do so).
    consumed: AtomicBool,
    /// The latest request's response body has ended.
    answered: AtomicBool,
    /// Bytes arrived from the client after that.
    read_since: AtomicBool,
    /// Everything written to the client has been flushed.
    flushed: AtomicBool,
    /// hyper's latest read found nothing to read.
    waiting: AtomicBool,
    /// The latest request lets the connection stay open (HTTP/1.1 without `Connection: close`).
    keep: AtomicBool,
    /// How many times the connection has been parked.
    parks: AtomicUsize,
}

impl Phase {
    /// A request's head has been read and is going to the router.
    pub(super) fn begin<B>(&self, req: &hyper::Request<B>) {
        let close = req
            .headers()
            .get_all(hyper::header::CONNECTION)
            .iter()
            .any(|v| {
                v.to_str()
                    .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
            });
        self.keep
            .store(req.version() == hyper::Version::HTTP_11 && !close, Relaxed);
        self.answered.store(false, Relaxed);
        self.consumed.store(false, Relaxed);
    }

    /// A new hyper connection takes the stream up: it is not idle before it has answered.
    fn resume(&self) {
        self.answered.store(false, Relaxed);
    }

    fn consumed(&self) {
        self.consumed.store(true, Relaxed);
    }

    fn answered(&self) {
        self.read_since.store(false, Relaxed);
        self.answered.store(true, Relaxed);
    }

    /// Whether hyper is between messages with nothing to do: the request was read whole, the
    /// response ended and was flushed, nothing has arrived since, and hyper is waiting to read.
    fn idle(&self) -> bool {
        self.answered.load(Relaxed)
            && self.consumed.load(Relaxed)
            && self.keep.load(Relaxed)
            && self.flushed.load(Relaxed)
            && self.waiting.load(Relaxed)
            && !self.read_since.load(Relaxed)
    }
}

/// A body that tells the connection's [`Phase`] when it has ended: a request's, read to its end
/// ([`Phase::consumed`]), or a response's, sent whole ([`Phase::answered`]).
pub(super) struct Ends<B> {
    inner: B,
    phase: Arc<Phase>,
    ended: fn(&Phase),
}

impl<B> Ends<B> {
    fn request(inner: B, phase: Arc<Phase>) -> Self {
        Ends {
            inner,
            phase,
            ended: Phase::consumed,
        }
    }

    fn response(inner: B, phase: Arc<Phase>) -> Self {
        Ends {
            inner,
            phase,
            ended: Phase::answered,
        }
    }
}

impl<B: Body + Unpin> Body for Ends<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        match &r {
            Poll::Ready(None) => (self.ended)(&self.phase),
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => (self.ended)(&self.phase),
            _ => {}
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        let end = self.inner.is_end_stream();
        if end {
            (self.ended)(&self.phase);
        }
        end
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The client's stream as one hyper connection sees it: first the bytes an earlier connection
/// (or the wait for the first byte) had read, then the stream. It keeps the [`Phase`] up to date.
pub(super) struct Prefixed<I> {
    prefix: Bytes,
    io: I,
    phase: Arc<Phase>,
}

impl<I> Prefixed<I> {
    pub(super) fn new(prefix: Bytes, io: I, phase: Arc<Phase>) -> Self {
        Prefixed { prefix, io, phase }
    }

    /// Bytes written are not flushed yet.
    fn wrote(&self, r: &Poll<std::io::Result<usize>>) {
        if let Poll::Ready(Ok(n)) = r {
            if *n > 0 {
                self.phase.flushed.store(false, Relaxed);
            }
        }
    }

    /// The stream back, with what is left of the prefix.
    fn into_parts(self) -> (I, Bytes) {
        (self.io, self.prefix)
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Prefixed<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        match &r {
            Poll::Pending => self.phase.waiting.store(true, Relaxed),
            Poll::Ready(_) => {
                self.phase.waiting.store(false, Relaxed);
                if buf.filled().len() > before {
                    self.phase.read_since.store(true, Relaxed);
                }
            }
        }
        r
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Prefixed<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        self.wrote(&r);
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.wrote(&r);
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_flush(cx);
        if let Poll::Ready(Ok(())) = r {
            self.phase.flushed.store(true, Relaxed);
        }
        r
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Serves HTTP/1.1 on `io`, whose first bytes (read while telling HTTP/1 from HTTP/2) are
/// `prefix`, until the client closes, the head timeout passes with nothing to serve, or hyper
/// ends the connection (an error is returned for the caller to journal).
pub(super) async fn serve<I>(
    mut io: I,
    mut prefix: Bytes,
    builder: &http1::Builder,
    svc: Service,
    head_timeout: Duration,
    park_after: Duration,
) -> Result<(), hyper::Error>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let phase = svc.phase.clone();
    let _open = Open::new();
    // How long the connection idled before it was parked (hyper's head timer ran meanwhile).
    let mut idle_for = Duration::ZERO;
    loop {
        if prefix.is_empty() {
            // Parked: only the stream is held until the next request's first byte.
            let mut first = [0u8; 1];
            let wait = head_timeout.saturating_sub(idle_for);
            match tokio::time::timeout(wait, io.read(&mut first)).await {
                Ok(Ok(1)) => prefix = Bytes::copy_from_slice(&first),
                Ok(Err(_)) => return Ok(()),
                // The client closed, or it idled past the head timeout: closed cleanly, as hyper
                // closes an idle connection.
                Ok(Ok(_)) | Err(_) => {
                    let _ = io.shutdown().await;
                    return Ok(());
                }
            }
        }
        phase.resume();
        let stream = Prefixed::new(prefix, io, phase.clone());
        // Boxed, so that the connection's task is small while it is parked.
        let mut conn = Box::new(builder.serve_connection(TokioIo::new(stream), svc.clone()));
        let parked = match drive(&mut conn, &phase, park_after).await {
            Ok(idle_since) => idle_since,
            // hyper's head timer also runs while a connection idles between messages: that is
            // an idle connection to close, as hyper closes one, not a slow head to refuse.
            Err(e) if e.is_timeout() && phase.idle() => None,
            Err(e) => return Err(e),
        };
        let parts = conn.into_parts();
        let (inner, rest) = parts.io.into_inner().into_parts();
        io = inner;
        // Copied, so that hyper's read buffer is freed with the connection.
        prefix = if parts.read_buf.is_empty() {
            rest
        } else {
            let mut b = BytesMut::with_capacity(parts.read_buf.len() + rest.len());
            b.extend_from_slice(&parts.read_buf);
            b.extend_from_slice(&rest);
            b.freeze()
        };
        if let Some(since) = parked {
            phase.parks.fetch_add(1, Relaxed);
            idle_for = since.elapsed();
        } else {
            // The connection ended (the client closed it or asked to, or it idled past the head
            // timeout): what hyper would have done next is shut the stream down.
            let _ = io.shutdown().await;
            return Ok(());
        }
    }
}

/// Polls `conn` until it ends; asks it to close once it has been idle between messages for
/// `park_after` (at once with more than [`MANY`] connections open). Returns, when it ended
/// because of that (the stream is then to be kept), since when it was idle.
async fn drive<I>(
    conn: &mut Connection<TokioIo<Prefixed<I>>, Service>,
    phase: &Phase,
    park_after: Duration,
) -> Result<Option<tokio::time::Instant>, hyper::Error>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut asked = false;
    let mut idle: Option<Pin<Box<tokio::time::Sleep>>> = None;
    let mut idle_since = None;
    std::future::poll_fn(|cx| loop {
        if let Poll::Ready(r) = conn.poll_without_shutdown(cx) {
            return Poll::Ready(r.map(|()| idle_since));
        }
        if asked {
            return Poll::Pending;
        }
        if !phase.idle() {
            idle = None;
            return Poll::Pending;
        }
        let wait = if OPEN.load(Relaxed) > MANY {
            Duration::ZERO
        } else {
            park_after
        };
        let timer = idle.get_or_insert_with(|| Box::pin(tokio::time::sleep(wait)));
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        idle_since = Some(timer.deadline() - wait);
        asked = true;
        Pin::new(&mut *conn).graceful_shutdown();
    })
    .await
}

/// The router as a hyper service whose future is boxed (so the connection can be polled
/// without being pinned and taken apart afterwards), each request carrying the connection's
/// control and each response telling the [`Phase`] when it ends.
#[derive(Clone)]
pub(super) struct Service {
    pub(super) app: axum::Router,
    pub(super) ctrl: Arc<super::ConnControl>,
    pub(super) phase: Arc<Phase>,
}

type Answer = hyper::Response<Ends<axum::body::Body>>;

impl hyper::service::Service<hyper::Request<Incoming>> for Service {
    type Response = Answer;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Answer, Self::Error>> + Send>>;

    fn call(&self, req: hyper::Request<Incoming>) -> Self::Future {
        use tower::ServiceExt;
        self.phase.begin(&req);
        let (mut parts, inner) = req.into_parts();
        parts.extensions.insert(self.ctrl.clone());
        let body = Ends::request(inner, self.phase.clone());
        // A request without a body (most GETs) is read whole already.
        body.is_end_stream();
        let req = hyper::Request::from_parts(parts, body);
        let (app, phase) = (self.app.clone(), self.phase.clone());
        Box::pin(async move {
            let resp = app.oneshot(req).await?;
            Ok(resp.map(|b| Ends::response(b, phase)))
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::routing::{get, post};
    use tokio::io::DuplexStream;

    const PARK_TEST: Duration = Duration::from_millis(20);

    /// A connection served over an in-memory pipe, by a router that answers `/` and echoes a
    /// POSTed body's length (or, at `/unread`, answers without reading the body).
    fn start(head_timeout: Duration) -> (DuplexStream, Arc<Phase>) {
        let app = axum::Router::new()
            .route("/", get(|| async { "hello" }))
            .route(
                "/echo",
                post(|b: bytes::Bytes| async move { b.len().to_string() }),
            )
            .route("/unread", post(|| async { "not read" }));
        let svc = Service {
            app,
            ctrl: Arc::default(),
            phase: Arc::default(),
        };
        let phase = svc.phase.clone();
        let (client, server) = tokio::io::duplex(64 * 1024);
        tokio::spawn(async move {
            let mut builder = http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(head_timeout);
            serve(server, Bytes::new(), &builder, svc, head_timeout, PARK_TEST).await
        });
        (client, phase)
    }

    /// Reads one response with a Content-Length body; returns its head and body.
    async fn answer(s: &mut DuplexStream) -> (String, String) {
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .unwrap()
                    .parse()
                    .unwrap();
                if body.len() >= len {
                    return (head.to_string(), body.to_string());
                }
            }
        }
    }

    /// Waits (up to 5 s, for a loaded machine) until `n` connections were parked, then says
    /// how many were: parking happens once hyper has nothing left to do, after the answer.
    async fn parks_reach(phase: &Phase, n: usize) -> usize {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while phase.parks.load(Relaxed) < n && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Give a wrong extra park the time to show.
        tokio::time::sleep(Duration::from_millis(20)).await;
        phase.parks.load(Relaxed)
    }

    #[tokio::test]
    async fn an_answered_connection_is_parked_and_taken_up_again() {
        let (mut s, phase) = start(Duration::from_secs(5));
        for i in 0..3 {
            s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
                .await
                .unwrap();
            let (head, body) = answer(&mut s).await;
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            assert!(!head.contains("connection: close"), "{head}");
            assert_eq!(body, "hello");
            // Parked once hyper has nothing left to do.
            assert_eq!(parks_reach(&phase, i + 1).await, i + 1);
        }
        // A body read whole: parked too.
        s.write_all(b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\n")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        s.write_all(b"abcde").await.unwrap();
        let (head, body) = answer(&mut s).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(body, "5");
        assert_eq!(parks_reach(&phase, 4).await, 4);
    }

    #[tokio::test]
    async fn a_connection_is_not_parked_where_hyper_must_decide() {
        // A request body the router did not read: hyper drains it or closes, as without parking.
        let (mut s, phase) = start(Duration::from_secs(5));
        s.write_all(b"POST /unread HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\n")
            .await
            .unwrap();
        let (head, body) = answer(&mut s).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(body, "not read");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(phase.parks.load(Relaxed), 0);
        // The body comes late: hyper drains it or has closed the connection; either way it is
        // never read as a new request.
        let _ = s.write_all(b"abcde").await;
        let _ = s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await;
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut rest)).await;
        let rest = String::from_utf8_lossy(&rest);
        assert!(!rest.contains("400"), "{rest}");
        // `Connection: close`: answered and closed, never parked.
        let (mut s, phase) = start(Duration::from_secs(5));
        s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut all = Vec::new();
        tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut all))
            .await
            .unwrap()
            .unwrap();
        assert!(String::from_utf8_lossy(&all).ends_with("hello"));
        assert_eq!(phase.parks.load(Relaxed), 0);
    }

    #[tokio::test]
    async fn a_parked_connection_closes_cleanly_after_the_head_timeout() {
        let (mut s, phase) = start(Duration::from_millis(300));
        s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        answer(&mut s).await;
        let started = std::time::Instant::now();
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut rest))
            .await
            .unwrap()
            .unwrap();
        assert!(rest.is_empty());
        assert!(started.elapsed() >= Duration::from_millis(250));
        assert_eq!(phase.parks.load(Relaxed), 1);
    }
}

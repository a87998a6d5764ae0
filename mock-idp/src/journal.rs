//! The journal layer: every request gets a [`Record`] that handlers fill in (grant, client,
//! scopes, tokens), and the response body is wrapped so the entry is written when the response
//! has been fully sent, or when the client disconnected first.

use crate::error::{ErrorSummary, CORRELATION_ID};
use crate::state::{lock, Idp};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};
use model::{Completion, Endpoint, JournalEntry};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// The request-scoped part of a journal entry, shared between the layer and the handler.
#[derive(Clone)]
pub struct Record(Arc<Mutex<JournalEntry>>);

impl Record {
    /// Edits the entry.
    pub fn update(&self, f: impl FnOnce(&mut JournalEntry)) {
        f(&mut lock(&self.0));
    }

    /// Reads the entry as it stands (without copying what `f` does not take).
    pub fn read<R>(&self, f: impl FnOnce(&JournalEntry) -> R) -> R {
        f(&lock(&self.0))
    }

    /// The entry, copied only if another holder of the record is still alive.
    fn into_entry(self) -> JournalEntry {
        match Arc::try_unwrap(self.0) {
            Ok(m) => m.into_inner().unwrap_or_else(|p| p.into_inner()),
            Err(shared) => lock(&shared).clone(),
        }
    }

    /// A record that is never appended to the journal: an inner request of a Graph JSON batch,
    /// served by the handlers like any request (the batch's own entry lists its path).
    pub fn detached(method: &str, path: &str, arrived_us: u64) -> Record {
        let (endpoint, tenant) = classify(path);
        Record(Arc::new(Mutex::new(blank_entry(
            u64::MAX,
            tenant,
            arrived_us,
            method.to_string(),
            path.to_string(),
            endpoint,
            "HTTP/1.1".to_string(),
        ))))
    }
}

/// Journals a request refused below the router (see [`Completion::Refused`]): `status` is what
/// HTTP answered (408 when the connection was closed for a head not sent in time), `why` says
/// which limit it broke.
pub fn refused(idp: &Idp, status: u16, why: &str) {
    let (seq, now) = idp.arrive();
    let mut e = blank_entry(
        seq,
        None,
        now,
        String::new(),
        String::new(),
        Endpoint::Unknown,
        "HTTP/1.1".to_string(),
    );
    e.finished_us = Some(now);
    e.completion = Completion::Refused;
    e.status = status;
    e.error = Some(why.to_string());
    idp.record(e);
}

/// An entry with only what is known when the request head arrives.
pub(crate) fn blank_entry(
    seq: u64,
    tenant: Option<String>,
    arrived_us: u64,
    method: String,
    path: String,
    endpoint: Endpoint,
    http_version: String,
) -> JournalEntry {
    JournalEntry {
        seq,
        tenant,
        arrived_us,
        finished_us: None,
        completion: Completion::ClientDisconnected,
        method,
        path,
        endpoint,
        http_version,
        grant_type: None,
        client_id: None,
        scopes: vec![],
        prompt: None,
        claims: None,
        client_capabilities: vec![],
        client_request_id: None,
        client_sku: None,
        presented: None,
        status: 0,
        response_headers: vec![],
        error: None,
        error_codes: vec![],
        issued: vec![],
        fault: None,
        batch_paths: vec![],
    }
}

/// Classifies a path into an endpoint and a tenant segment.
pub fn classify(path: &str) -> (Endpoint, Option<String>) {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segs.as_slice() {
        ["_tokenstorm", ..] => (Endpoint::Admin, None),
        ["graph", ..] => (Endpoint::Graph, None),
        ["oidc", "userinfo"] => (Endpoint::Userinfo, None),
        ["common", "discovery", "instance"] => (Endpoint::InstanceDiscovery, None),
        [t, "v2.0", ".well-known", "openid-configuration"]
        | [t, ".well-known", "openid-configuration"] => (Endpoint::Discovery, Some(t.to_string())),
        [t, "discovery", "v2.0", "keys"] | [t, "discovery", "keys"] => {
            (Endpoint::Keys, Some(t.to_string()))
        }
        [t, "oauth2", "v2.0", "authorize"] => (Endpoint::Authorize, Some(t.to_string())),
        [t, "oauth2", "v2.0", "token"] => (Endpoint::Token, Some(t.to_string())),
        [t, "oauth2", "v2.0", "devicecode"] => (Endpoint::Devicecode, Some(t.to_string())),
        [t, "oauth2", "v2.0", "logout"] => (Endpoint::Logout, Some(t.to_string())),
        [t, "devicelogin"] => (Endpoint::DeviceLogin, Some(t.to_string())),
        // Managed identity: the instance metadata service's path (the default tenant's, or a
        // tenant's under AZURE_POD_IDENTITY_AUTHORITY_HOST) and App Service's identity endpoint.
        ["metadata", "identity", "oauth2", "token"] => (
            Endpoint::Token,
            Some(crate::config::DEFAULT_TENANT.to_string()),
        ),
        [t, "metadata", "identity", "oauth2", "token"] | [t, "msi", "token"] => {
            (Endpoint::Token, Some(t.to_string()))
        }
        _ => (Endpoint::Unknown, None),
    }
}

/// Headers worth keeping in the journal; others are dropped.
const KEPT_HEADERS: [&str; 7] = [
    "date",
    "retry-after",
    "www-authenticate",
    "content-type",
    "location",
    "x-ms-ags-diagnostic",
    "cache-control",
];

/// Redacts credentials in a redirect `Location` (codes, tokens) to fingerprints.
fn redact_location(loc: &str) -> String {
    let (base, query) = match loc.split_once(['?', '#']) {
        Some((b, q)) => (b, q),
        None => return loc.to_string(),
    };
    let sep = if loc[base.len()..].starts_with('#') {
        '#'
    } else {
        '?'
    };
    let pairs: Vec<String> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| {
            if matches!(k.as_ref(), "code" | "access_token" | "id_token") {
                format!("{k}={}", model::Fingerprint::of(&v))
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    format!("{base}{sep}{}", pairs.join("&"))
}

/// The journal middleware.
pub async fn layer(State(idp): State<Arc<Idp>>, mut req: Request, next: Next) -> Response {
    let (seq, arrived_us) = idp.arrive();
    let path = req.uri().path().to_string();
    let (endpoint, tenant) = classify(&path);
    let correlation = req
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| {
            req.uri().query().and_then(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "client-request-id")
                    .map(|(_, v)| v.into_owned())
            })
        });
    let sku = req
        .headers()
        .get("x-client-sku")
        .or_else(|| req.headers().get("user-agent"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut entry = blank_entry(
        seq,
        tenant,
        arrived_us,
        req.method().to_string(),
        path,
        endpoint,
        format!("{:?}", req.version()),
    );
    entry.client_request_id = correlation.clone();
    entry.client_sku = sku;
    let is_head = req.method() == axum::http::Method::HEAD;
    let record = Record(Arc::new(Mutex::new(entry)));
    req.extensions_mut().insert(record.clone());
    let mut guard = Guard {
        idp: idp.clone(),
        record: Some(record.clone()),
    };
    // A version-4 id from the thread's generator (`Uuid::new_v4` asks the kernel each time: a
    // system call on every request that names no correlation id).
    let correlation = correlation.unwrap_or_else(|| {
        uuid::Builder::from_random_bytes(rand::random())
            .into_uuid()
            .to_string()
    });
    let resp = CORRELATION_ID.scope(correlation, next.run(req)).await;

    let status = resp.status().as_u16();
    let headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .filter(|(k, _)| KEPT_HEADERS.contains(&k.as_str()))
        .map(|(k, v)| {
            let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
            let v = if k == "location" {
                redact_location(&v)
            } else {
                v
            };
            (k.as_str().to_string(), v)
        })
        .collect();
    let err = resp.extensions().get::<ErrorSummary>().cloned();
    record.update(|e| {
        e.status = status;
        e.response_headers = headers;
        if let Some(err) = err {
            e.error = Some(err.error);
            e.error_codes = err.codes;
        }
    });
    let (parts, body) = resp.into_parts();
    if is_head {
        // axum answers HEAD with the GET handler and swaps the body for an empty one outside
        // this layer: the exchange is done once the head is built.
        if let Some(r) = guard.record.take() {
            Guard {
                idp,
                record: Some(r),
            }
            .finish(Completion::Sent);
        }
        return Response::from_parts(parts, body);
    }
    let body = RecordingBody {
        inner: body,
        pending: None,
        guard: guard.record.take().map(|r| Guard {
            idp,
            record: Some(r),
        }),
    };
    Response::from_parts(parts, Body::new(body))
}

/// Writes the entry exactly once: on `finish`, or on drop as a disconnect.
struct Guard {
    idp: Arc<Idp>,
    record: Option<Record>,
}

impl Guard {
    fn finish(&mut self, completion: Completion) {
        if let Some(r) = self.record.take() {
            let now = self.idp.now_us();
            let mut entry = r.into_entry();
            entry.finished_us = Some(now);
            // A scripted abort (reset, close) stays an abort, whatever ended the future.
            if entry.completion != Completion::Aborted {
                entry.completion = completion;
            }
            self.idp.record(entry);
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.finish(Completion::ClientDisconnected);
    }
}

/// A response body that tells the journal when it has been sent. Large data frames are
/// re-framed into [`FRAME`]-sized pieces, so the end of the body is only reached once the
/// connection has taken (nearly) all of it: a client that stops reading is then journaled as
/// disconnected, not as served.
struct RecordingBody {
    inner: Body,
    pending: Option<Bytes>,
    guard: Option<Guard>,
}

/// The largest data frame handed to the connection at once.
const FRAME: usize = 16 * 1024;

impl http_body::Body for RecordingBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if let Some(mut rest) = this.pending.take() {
            if rest.len() > FRAME {
                let head = rest.split_to(FRAME);
                this.pending = Some(rest);
                return Poll::Ready(Some(Ok(Frame::data(head))));
            }
            return Poll::Ready(Some(Ok(Frame::data(rest))));
        }
        let res = Pin::new(&mut this.inner).poll_frame(cx);
        let res = match res {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(mut data) if data.len() > FRAME => {
                    let head = data.split_to(FRAME);
                    this.pending = Some(data);
                    Poll::Ready(Some(Ok(Frame::data(head))))
                }
                Ok(data) => Poll::Ready(Some(Ok(Frame::data(data)))),
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
            other => other,
        };
        match &res {
            Poll::Ready(None) => {
                if let Some(mut g) = this.guard.take() {
                    g.finish(Completion::Sent);
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(mut g) = this.guard.take() {
                    g.finish(Completion::Aborted);
                }
            }
            _ => {}
        }
        res
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let mut h = self.inner.size_hint();
        let extra = self.pending.as_ref().map_or(0, |p| p.len() as u64);
        h.set_lower(h.lower() + extra);
        if let Some(u) = h.upper() {
            h.set_upper(u + extra);
        }
        h
    }
}

impl Drop for RecordingBody {
    fn drop(&mut self) {
        if let Some(mut g) = self.guard.take() {
            // Hyper drops a body it knew was empty without polling it: that is a send.
            let c = if self.pending.is_none() && self.inner.is_end_stream() {
                Completion::Sent
            } else {
                Completion::ClientDisconnected
            };
            g.finish(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_entra_paths() {
        assert_eq!(
            classify("/t1/oauth2/v2.0/token"),
            (Endpoint::Token, Some("t1".into()))
        );
        assert_eq!(
            classify("/t1/v2.0/.well-known/openid-configuration").0,
            Endpoint::Discovery
        );
        assert_eq!(classify("/graph/v1.0/me").0, Endpoint::Graph);
        assert_eq!(classify("/oidc/userinfo").0, Endpoint::Userinfo);
        assert_eq!(classify("/nope").0, Endpoint::Unknown);
    }

    #[test]
    fn codes_in_locations_are_redacted() {
        let l = redact_location("http://localhost:1/cb?code=SECRETCODE123&state=abc");
        assert!(!l.contains("SECRETCODE123"), "{l}");
        assert!(l.contains("state=abc"));
        assert!(l.contains("code=sha256:"));
    }
}

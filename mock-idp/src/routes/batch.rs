//! Graph's JSON batching: `POST /graph/v1.0/$batch` with `{"requests":[{id, method, url,
//! headers?, body?, dependsOn?}]}` (at most 20) answers `{"responses":[{id, status, headers,
//! body}]}`. Each inner request goes through Graph's own handlers with the batch's bearer
//! token, so it is validated and answered exactly as if it were sent alone; its failure is its
//! own status, and the batch itself answers 200. A malformed batch is a 400.
//!
//! The journal keeps one entry, the batch's, with the inner requests' paths in
//! `batch_paths`. Scripted faults apply to the batch request (`path: /$batch`), not to the
//! requests inside it.

use super::graph::{router, validate};
use super::Ctx;
use crate::error::GraphError;
use crate::journal::Record;
use crate::params::{read_body, MAX_BODY};
use crate::state::Idp;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::Router;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// The most requests one batch may hold.
pub const BATCH_MAX: usize = 20;

/// One request inside a batch, checked.
struct Inner {
    id: String,
    method: Method,
    /// Path and query under `/graph/v1.0`, starting with `/`, safe for a URI.
    url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Option<Bytes>,
    depends_on: Vec<String>,
}

impl Inner {
    /// The path as the journal would record the request sent alone.
    fn journal_path(&self) -> String {
        let path = self.url.split('?').next().unwrap_or_default();
        format!("/graph/v1.0{path}")
    }
}

fn bad(message: impl Into<String>) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, "BadRequest", message)
}

/// `POST /graph/v1.0/$batch`.
pub async fn batch(
    State(idp): State<Arc<Idp>>,
    ctx: Ctx,
    req: Request,
) -> Result<Response, GraphError> {
    let (parts, body) = req.into_parts();
    // The batch's own token is checked first: a batch without valid credentials is refused
    // whole, as a single request would be.
    validate(&idp, &ctx, &parts.headers)?;
    let bytes = read_body(Body::new(body))
        .await
        .map_err(|_| bad("The request body is too large."))?;
    let requests = parse(&bytes)?;
    ctx.record.update(|e| {
        e.batch_paths = requests.iter().map(Inner::journal_path).collect();
    });
    let graph = Router::new()
        .nest("/graph/v1.0", router())
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(idp.clone());
    let mut statuses: HashMap<String, u16> = HashMap::new();
    let mut responses = Vec::with_capacity(requests.len());
    for r in &requests {
        let failed = r.depends_on.iter().find(|d| {
            statuses
                .get(&d.to_ascii_lowercase())
                .is_some_and(|s| !(200..300).contains(s))
        });
        let answer = match failed {
            Some(d) => failed_dependency(&r.id, d).await,
            None => run(&graph, &idp, &parts.headers, r).await,
        };
        let status = answer["status"].as_u64().unwrap_or(0) as u16;
        statuses.insert(r.id.to_ascii_lowercase(), status);
        responses.push(answer);
    }
    Ok(Json(json!({ "responses": responses })).into_response())
}

/// Checks the batch body: an object whose `requests` holds 1 to 20 requests, each with a
/// unique `id` (case-insensitive), a `method` and a `url`; `headers` an object of strings,
/// with a `Content-Type` when there is a `body`; `dependsOn` naming earlier requests.
fn parse(bytes: &[u8]) -> Result<Vec<Inner>, GraphError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|_| {
        bad("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
    })?;
    let list = v.get("requests").and_then(Value::as_array).ok_or_else(|| {
        bad("Invalid batch payload format: the body must be an object with a 'requests' array.")
    })?;
    if list.is_empty() {
        return Err(bad("Invalid batch payload format: 'requests' is empty."));
    }
    if list.len() > BATCH_MAX {
        return Err(bad(format!(
            "The batch holds {} requests; a JSON batch holds at most {BATCH_MAX}.",
            list.len()
        )));
    }
    let mut out: Vec<Inner> = Vec::with_capacity(list.len());
    for item in list {
        let o = item
            .as_object()
            .ok_or_else(|| bad("Invalid batch payload format: each request must be an object."))?;
        let id = o
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("Invalid batch payload format: each request needs a string 'id'."))?
            .to_string();
        if out.iter().any(|x| x.id.eq_ignore_ascii_case(&id)) {
            return Err(bad(format!(
                "Invalid batch payload format: the request id '{id}' is not unique in the batch."
            )));
        }
        let method = o
            .get("method")
            .and_then(Value::as_str)
            .and_then(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
            .ok_or_else(|| {
                bad(format!(
                    "Invalid batch payload format: request '{id}' needs an HTTP 'method'."
                ))
            })?;
        let url = o
            .get("url")
            .and_then(Value::as_str)
            .and_then(inner_url)
            .ok_or_else(|| bad(format!("Invalid batch payload format: request '{id}' needs a relative 'url' such as /me.")))?;
        let headers = headers(o, &id)?;
        let body = match o.get("body") {
            None | Some(Value::Null) => None,
            Some(b) => {
                if !headers.iter().any(|(k, _)| k == header::CONTENT_TYPE) {
                    return Err(bad(format!(
                        "Invalid batch payload format: request '{id}' has a body but no Content-Type header."
                    )));
                }
                Some(match b {
                    // A string body is base64 (an image, say); JSON is sent as JSON.
                    Value::String(s) => URL_SAFE
                        .decode(s)
                        .or_else(|_| URL_SAFE_NO_PAD.decode(s))
                        .or_else(|_| STANDARD.decode(s))
                        .map(Bytes::from)
                        .unwrap_or_else(|_| Bytes::from(s.clone().into_bytes())),
                    other => Bytes::from(other.to_string().into_bytes()),
                })
            }
        };
        let depends_on: Vec<String> = match o.get("dependsOn") {
            None | Some(Value::Null) => vec![],
            Some(Value::Array(a)) => a
                .iter()
                .map(|d| d.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad(format!("Invalid batch payload format: 'dependsOn' of request '{id}' must list request ids.")))?,
            Some(_) => {
                return Err(bad(format!(
                    "Invalid batch payload format: 'dependsOn' of request '{id}' must be an array."
                )))
            }
        };
        if let Some(d) = depends_on
            .iter()
            .find(|d| !out.iter().any(|x| x.id.eq_ignore_ascii_case(d)))
        {
            return Err(bad(format!(
                "Invalid batch payload format: request '{id}' depends on '{d}', which is not an earlier request of the batch."
            )));
        }
        out.push(Inner {
            id,
            method,
            url,
            headers,
            body,
            depends_on,
        });
    }
    Ok(out)
}

/// An inner request's `headers`: an object of string values. `Authorization` is the batch's,
/// never the inner request's.
fn headers(o: &Map<String, Value>, id: &str) -> Result<Vec<(HeaderName, HeaderValue)>, GraphError> {
    let invalid = || {
        bad(format!(
            "Invalid batch payload format: 'headers' of request '{id}' must be an object of strings."
        ))
    };
    let Some(h) = o.get("headers") else {
        return Ok(vec![]);
    };
    let h = h.as_object().ok_or_else(invalid)?;
    let mut out = Vec::with_capacity(h.len());
    for (k, v) in h {
        let v = v.as_str().ok_or_else(invalid)?;
        let name = HeaderName::try_from(k.as_str()).map_err(|_| invalid())?;
        let value = HeaderValue::from_str(v).map_err(|_| invalid())?;
        if name != header::AUTHORIZATION && name != header::HOST {
            out.push((name, value));
        }
    }
    Ok(out)
}

/// The part of an inner `url` under `/graph/v1.0`: `/me/memberOf`, `me/memberOf`,
/// `https://graph.microsoft.com/v1.0/me/memberOf` and the mock's own absolute links all name
/// `/me/memberOf`. Characters a URI can't hold (the spaces of a `$filter`) are
/// percent-encoded.
fn inner_url(url: &str) -> Option<String> {
    let url = url.trim();
    let rest = match url.find("://") {
        Some(i) => {
            let after = &url[i + 3..];
            &after[after.find('/')?..]
        }
        None => url,
    };
    let rest = ["/graph/v1.0", "/v1.0", "graph/v1.0", "v1.0"]
        .iter()
        .find_map(|prefix| {
            rest.strip_prefix(prefix)
                .filter(|r| r.is_empty() || r.starts_with(['/', '?']))
        })
        .unwrap_or(rest);
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    if rest.is_empty() || rest.starts_with('?') {
        return None;
    }
    let mut out = String::with_capacity(rest.len() + 1);
    out.push('/');
    for b in rest.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Some(out)
}

/// Runs one inner request through Graph's handlers with the batch's credentials.
async fn run(graph: &Router, idp: &Idp, outer: &HeaderMap, r: &Inner) -> Value {
    let path = r.journal_path();
    if path == "/graph/v1.0/$batch" {
        return error_answer(&r.id, bad("A batch can't hold another batch.")).await;
    }
    let mut b = Request::builder()
        .method(r.method.clone())
        .uri(format!("/graph/v1.0{}", r.url));
    for name in [header::AUTHORIZATION, header::HOST] {
        if let Some(v) = outer.get(&name) {
            b = b.header(name, v);
        }
    }
    for (k, v) in &r.headers {
        b = b.header(k, v);
    }
    let mut req = match b.body(Body::from(r.body.clone().unwrap_or_default())) {
        Ok(req) => req,
        Err(_) => return error_answer(&r.id, bad("The request's url is not a valid URI.")).await,
    };
    req.extensions_mut()
        .insert(Record::detached(r.method.as_str(), &path, idp.now_us()));
    let resp = match tower::ServiceExt::oneshot(graph.clone(), req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    };
    answer(&r.id, resp).await
}

/// An inner response as the batch reports it.
async fn answer(id: &str, resp: Response) -> Value {
    let status = resp.status().as_u16();
    let mut headers = Map::new();
    headers.insert("Cache-Control".into(), json!("no-cache"));
    for (name, shown) in [
        (header::CONTENT_TYPE, "Content-Type"),
        (header::WWW_AUTHENTICATE, "WWW-Authenticate"),
        (header::RETRY_AFTER, "Retry-After"),
        (header::LOCATION, "Location"),
    ] {
        if let Some(v) = resp.headers().get(&name).and_then(|v| v.to_str().ok()) {
            headers.insert(shown.into(), json!(v));
        }
    }
    let bytes = axum::body::to_bytes(resp.into_body(), MAX_BODY)
        .await
        .unwrap_or_default();
    let mut out = json!({ "id": id, "status": status, "headers": headers });
    if !bytes.is_empty() {
        out["body"] = serde_json::from_slice::<Value>(&bytes)
            .unwrap_or_else(|_| json!(STANDARD.encode(&bytes)));
    }
    out
}

/// An error the batch answers for an inner request, in Graph's shape.
async fn error_answer(id: &str, e: GraphError) -> Value {
    answer(id, e.into_response()).await
}

/// A request whose dependency failed is not run: 424.
async fn failed_dependency(id: &str, dependency: &str) -> Value {
    error_answer(
        id,
        GraphError::new(
            StatusCode::FAILED_DEPENDENCY,
            "FailedDependency",
            format!("The request depends on request '{dependency}', which failed."),
        ),
    )
    .await
}

/// An inner request with a method its path does not take, in Graph's words.
async fn method_not_allowed() -> Response {
    GraphError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Request_BadRequest",
        "Specified HTTP method is not allowed for the request target.",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_urls_are_relative_to_graph() {
        for u in [
            "/me/memberOf",
            "me/memberOf",
            "https://graph.microsoft.com/v1.0/me/memberOf",
            "https://127.0.0.1:4443/graph/v1.0/me/memberOf",
            "/v1.0/me/memberOf",
        ] {
            assert_eq!(inner_url(u).as_deref(), Some("/me/memberOf"), "{u}");
        }
        assert_eq!(
            inner_url("users?$filter=city eq null").as_deref(),
            Some("/users?$filter=city%20eq%20null")
        );
        assert_eq!(inner_url("").as_deref(), None);
        assert_eq!(inner_url("/v1.0").as_deref(), None);
        // A segment that merely starts like a version is a path, not a prefix.
        assert_eq!(inner_url("/v1.0x/me").as_deref(), Some("/v1.0x/me"));
    }

    #[test]
    fn malformed_batches_are_refused_whole() {
        let req = |s: &str| parse(s.as_bytes()).err().map(|e| e.message);
        assert!(req("[]").is_some());
        assert!(req(r#"{"requests":[]}"#).is_some());
        assert!(req(r#"{"requests":[{"id":"1","method":"GET"}]}"#).is_some());
        assert!(req(
            r#"{"requests":[{"id":"a","method":"GET","url":"/me"},{"id":"A","method":"GET","url":"/me"}]}"#
        )
        .is_some_and(|m| m.contains("unique")));
        assert!(req(
            r#"{"requests":[{"id":"1","method":"POST","url":"/me/getMemberGroups","body":{}}]}"#
        )
        .is_some_and(|m| m.contains("Content-Type")));
        assert!(req(r#"{"requests":[{"id":"1","method":"GET","url":"/me","dependsOn":["2"]},{"id":"2","method":"GET","url":"/me"}]}"#)
            .is_some_and(|m| m.contains("earlier")));
        let many: Vec<String> = (0..21)
            .map(|i| format!(r#"{{"id":"{i}","method":"GET","url":"/me"}}"#))
            .collect();
        assert!(req(&format!(r#"{{"requests":[{}]}}"#, many.join(",")))
            .is_some_and(|m| m.contains("at most 20")));
        let ok = parse(br#"{"requests":[{"id":"1","method":"get","url":"/me/memberOf?$top=5"}]}"#)
            .expect("a valid batch");
        assert_eq!(ok[0].method, Method::GET);
        assert_eq!(ok[0].journal_path(), "/graph/v1.0/me/memberOf");
    }
}

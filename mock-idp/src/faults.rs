//! The fault layer: for a tenant replaying a scenario, starts its clock, fires due events, and
//! answers matching requests with the scripted fault (a status and Entra's or Graph's error
//! body, a delay, a stall, a dribbled body, a broken body, a reset or closed connection).
//! Faults are scenario data, never errors: everything here is a deliberate response.

use crate::error::{GraphError, OAuthError};
use crate::journal::Record;
use crate::params::{Params, MAX_BODY};
use crate::request::Facts;
use crate::scenario::{Decision, Probe};
use crate::server::ConnControl;
use crate::state::{lock, Idp, StepUp};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use model::scenario::{ConnectionFault, Fault, Mangle, Respond, Stall};
use model::{Completion, Endpoint, GrantType};
use std::sync::Arc;
use std::time::Duration;

fn faultable(e: Endpoint) -> bool {
    matches!(
        e,
        Endpoint::Token
            | Endpoint::Authorize
            | Endpoint::Devicecode
            | Endpoint::Discovery
            | Endpoint::Keys
            | Endpoint::Userinfo
            | Endpoint::Graph
    )
}

/// The fault middleware.
pub async fn layer(State(idp): State<Arc<Idp>>, req: Request, next: Next) -> Response {
    let Some(record) = req.extensions().get::<Record>().cloned() else {
        return next.run(req).await;
    };
    let (endpoint, journaled_tenant) = record.read(|e| (e.endpoint, e.tenant.clone()));
    let bearer_endpoint = matches!(endpoint, Endpoint::Graph | Endpoint::Userinfo);
    // Graph and UserInfo requests belong to the tenant of a bearer token the mock issued.
    let bearer_facts = bearer_endpoint
        .then(|| crate::request::bearer(req.headers()))
        .flatten()
        .map(|token| {
            let verified = crate::request::verify_bearer(&idp, &token).ok();
            Facts::of_bearer(&token, verified.as_ref())
        });
    let tenant = match (journaled_tenant, &bearer_facts) {
        (Some(t), _) => t,
        (
            None,
            Some(Facts {
                tenant: Some(t), ..
            }),
        ) => t.clone(),
        _ => return next.run(req).await,
    };
    if !crate::params::valid_tenant(&tenant) {
        return next.run(req).await;
    }
    let t = idp.tenant(&tenant);
    if lock(&t.state).scenario.is_none() {
        return next.run(req).await;
    }

    // What the request says, for selection (and for the journal, should a fault answer it:
    // read as the route reads it, so the entry carries the same facts).
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return crate::params::read_body(Body::from(vec![0u8; MAX_BODY + 1]))
                .await
                .err()
                .map(IntoResponse::into_response)
                .unwrap_or_else(|| StatusCode::PAYLOAD_TOO_LARGE.into_response())
        }
    };
    let facts = match bearer_facts {
        Some(f) => f,
        None if crate::request::is_managed_identity(parts.uri.path()) => {
            crate::request::managed_identity_facts(&tenant, parts.uri.query())
        }
        None => {
            // Lenient where the route is strict (a duplicated parameter: the first wins), so
            // a request the route would refuse is still selected and journaled.
            let mut params = Params::default();
            for (k, v) in form_urlencoded::parse(&bytes).chain(form_urlencoded::parse(
                parts.uri.query().unwrap_or("").as_bytes(),
            )) {
                if params.get(&k).is_none() {
                    params.insert(&k, &v);
                }
            }
            Facts::of_form(&idp, &tenant, endpoint, &params, &parts.headers)
        }
    };
    let probe = Probe {
        grant: facts.grant.clone(),
        scopes: facts.scopes.clone(),
        client_id: facts.client_id.clone(),
        graph_path: (endpoint == Endpoint::Graph)
            .then(|| record.read(|e| e.path.trim_start_matches("/graph/v1.0").to_string())),
    };

    let now = idp.now_us();
    let decided = {
        let mut st = lock(&t.state);
        st.advance_scenario(now);
        match st.scenario.take() {
            None => None,
            Some(mut rt) => {
                let d = if faultable(endpoint) {
                    rt.decide(endpoint, &probe, now)
                } else {
                    Decision::Pass
                };
                if let Decision::Fault(index, label, fault) = &d {
                    if let Some(s) = step_up(endpoint, &probe, label, &fault.respond) {
                        tracing::info!(%tenant, fault = %label, "the user owes a step-up");
                        rt.step_up_imposed(*index);
                        st.step_up = Some(s);
                    }
                }
                st.scenario = Some(rt);
                Some((d, std::mem::take(&mut st.rotate_keys)))
            }
        }
    };
    let Some((decision, rotate)) = decided else {
        return next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
    };
    if rotate {
        if let Err(e) = idp.rotate_tenant_keys(&tenant) {
            tracing::warn!(%tenant, error = %e, "key rotation failed");
        }
    }
    let req = Request::from_parts(parts, Body::from(bytes));
    match decision {
        Decision::Pass => next.run(req).await,
        Decision::Outage(label) => {
            journal_facts(&record, &facts, &label, &tenant);
            let respond = Respond {
                status: Some(503),
                ..Respond::default()
            };
            error_response(endpoint, &respond)
        }
        Decision::Fault(_, label, fault) => {
            journal_facts(&record, &facts, &label, &tenant);
            apply(endpoint, &record, *fault, req, next).await
        }
    }
}

/// A faulted request never reaches its handler: record what it says here, read as the
/// handler reads it (and, for Graph and UserInfo, the tenant of its verified token).
fn journal_facts(record: &Record, facts: &Facts, label: &str, tenant: &str) {
    facts.record(record);
    record.update(|e| {
        e.fault = Some(label.to_string());
        if e.tenant.is_none() {
            e.tenant = Some(tenant.to_string());
        }
    });
}

/// The step-up a fault imposes: one that answers a user's request (authorize, or a token
/// request other than client credentials) with the generated `interaction_required` error.
/// The user then owes multi-factor authentication, which is tenant state: see
/// [`crate::state::TenantState::step_up`].
fn step_up(endpoint: Endpoint, probe: &Probe, label: &str, r: &Respond) -> Option<StepUp> {
    let user_request = match endpoint {
        Endpoint::Authorize => true,
        Endpoint::Token => matches!(
            probe.grant,
            Some(
                GrantType::AuthorizationCode
                    | GrantType::RefreshToken
                    | GrantType::DeviceCode
                    | GrantType::JwtBearer
            )
        ),
        _ => false,
    };
    let answers_the_error = r.error.as_deref() == Some("interaction_required")
        && r.body.is_none()
        && r.mangle.is_none()
        && r.connection.is_none()
        && !r.pass_through
        && r.stall != Some(Stall::UntilDisconnect);
    (user_request && answers_the_error).then(|| StepUp {
        fault: label.to_string(),
        aadsts: r.aadsts.unwrap_or(INTERACTION_REQUIRED_AADSTS),
        description: r
            .description
            .as_deref()
            .map(crate::error::strip_aadsts_prefix)
            .unwrap_or(StepUp::DEFAULT_DESCRIPTION)
            .to_string(),
        suberror: r.suberror.clone(),
        claims: r.claims.clone(),
    })
}

/// The code Entra sends with `interaction_required` when a scenario names none.
const INTERACTION_REQUIRED_AADSTS: u32 = 50076;

async fn apply(
    endpoint: Endpoint,
    record: &Record,
    fault: Fault,
    req: Request,
    next: Next,
) -> Response {
    let r = &fault.respond;
    if let Some(d) = r.delay {
        tokio::time::sleep(d.0).await;
    }
    match r.stall {
        // Never answer: the client's giving up drops this future, and the journal records
        // when it did.
        Some(Stall::UntilDisconnect) => std::future::pending::<()>().await,
        Some(Stall::For(d)) => tokio::time::sleep(d.0).await,
        None => {}
    }
    if let Some(c) = r.connection {
        record.update(|e| e.completion = Completion::Aborted);
        if let Some(ctrl) = req.extensions().get::<Arc<ConnControl>>() {
            ctrl.abort(c == ConnectionFault::Reset);
        }
        // The connection task drops the connection (and this future with it).
        std::future::pending::<()>().await;
    }
    let answers_normally = r.pass_through
        || (r.status.is_none()
            && r.error.is_none()
            && r.body.is_none()
            && r.mangle.is_none()
            && (r.delay.is_some() || r.stall.is_some() || r.dribble.is_some()));
    let mut resp = if answers_normally {
        next.run(req).await
    } else if let Some(m) = r.mangle {
        mangled(m, r.status)
    } else if let Some(body) = &r.body {
        let status = StatusCode::from_u16(r.status.unwrap_or(200)).unwrap_or(StatusCode::OK);
        (
            status,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            body.to_string(),
        )
            .into_response()
    } else {
        error_response(endpoint, r)
    };
    add_headers(&mut resp, r);
    match r.dribble {
        Some(d) => dribble(resp, d.bytes.max(1), d.every.0).await,
        None => resp,
    }
}

fn add_headers(resp: &mut Response, r: &Respond) {
    if let Some(ra) = r.retry_after {
        let v = if r.retry_after_http_date {
            let now = time::OffsetDateTime::now_utc();
            let fmt = time::macros::format_description!(
                "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
            );
            // The Date the date is relative to (hyper keeps a Date that is already set), so
            // clients and the journal can tell how long the wait is.
            if let Ok(d) = HeaderValue::from_str(&now.format(&fmt).unwrap_or_default()) {
                resp.headers_mut().insert(header::DATE, d);
            }
            // Rounded up to the second: the header can't name a fraction, and rounding down
            // would let a client waiting until the date come back sooner than asked.
            let at = now + ra.0;
            let at = match at.replace_nanosecond(0) {
                Ok(whole) if whole < at => whole + time::Duration::SECOND,
                _ => at,
            };
            at.format(&fmt).unwrap_or_default()
        } else {
            ra.secs_ceil().to_string()
        };
        if let Ok(v) = HeaderValue::from_str(&v) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    for (k, v) in &r.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::from_str(v)) {
            resp.headers_mut().insert(k, v);
        }
    }
}

/// The scripted error in the shape of the endpoint: Entra's for the identity provider,
/// Graph's for Graph and UserInfo.
fn error_response(endpoint: Endpoint, r: &Respond) -> Response {
    let status = r
        .status
        .unwrap_or(if r.error.is_some() { 400 } else { 503 });
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    if matches!(endpoint, Endpoint::Graph | Endpoint::Userinfo) {
        let (code, message) = match status.as_u16() {
            429 => (
                "TooManyRequests",
                "Too many requests from this client; retry later.",
            ),
            503 => (
                "serviceNotAvailable",
                "The service is temporarily unavailable.",
            ),
            502 | 504 => ("UnknownError", "The gateway did not get a timely answer."),
            401 => (
                "InvalidAuthenticationToken",
                "Access token validation failure.",
            ),
            s if s >= 500 => ("generalException", "An unexpected error occurred."),
            _ => ("BadRequest", "The request was refused."),
        };
        let code: &'static str = match &r.error {
            Some(e) => intern(e),
            None => code,
        };
        let mut e = GraphError::new(
            status,
            code,
            r.description.clone().unwrap_or_else(|| message.to_string()),
        );
        if status == StatusCode::UNAUTHORIZED {
            e.www_authenticate = Some(format!(
                "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"{}\"",
                crate::config::GRAPH_APP_ID
            ));
        }
        return e.into_response();
    }
    let (error, code, message): (&str, u32, &str) = match status.as_u16() {
        429 => (
            "temporarily_unavailable",
            50196,
            "The server terminated an operation because it encountered a client request loop. Please contact your app vendor.",
        ),
        500 => ("server_error", 90033, "A transient error has occurred. Please try again."),
        s if s >= 500 => (
            "temporarily_unavailable",
            90033,
            "A transient error has occurred. Please try again.",
        ),
        _ => ("invalid_request", 90014, "The request was refused by the scenario."),
    };
    let error: &'static str = match &r.error {
        Some(e) => intern(e),
        None => intern(error),
    };
    // An `error` without `aadsts` gets the code Entra sends with it.
    let known = match r.error.as_deref() {
        Some("authorization_pending" | "slow_down") => Some(70016),
        Some("expired_token") => Some(70019),
        Some("access_denied" | "authorization_declined") => Some(65004),
        Some("invalid_grant") => Some(70000),
        Some("interaction_required") => Some(INTERACTION_REQUIRED_AADSTS),
        Some("login_required") => Some(50058),
        Some("invalid_client") => Some(7000215),
        Some("temporarily_unavailable") => Some(50196),
        _ => None,
    };
    // The AADSTS prefix is added from the code: a description that repeats it loses it.
    let description = r
        .description
        .as_deref()
        .map(|d| crate::error::strip_aadsts_prefix(d).to_string());
    let mut e = OAuthError::new(
        status,
        error,
        r.aadsts.or(known).unwrap_or(code),
        description.unwrap_or_else(|| message.to_string()),
    );
    e.suberror = r.suberror.clone();
    e.claims = r.claims.clone();
    e.into_response()
}

/// Error codes are few and come from scenario files loaded once; interning them keeps
/// [`OAuthError`]'s `&'static str` without leaking per request.
fn intern(s: &str) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static SET: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut set = lock(SET.get_or_init(|| Mutex::new(HashSet::new())));
    if let Some(x) = set.get(s) {
        return x;
    }
    let leaked: &'static str = Box::leak(s.to_string().into_boxed_str());
    set.insert(leaked);
    leaked
}

const FAKE_TOKEN_BODY: &str = r#"{"token_type":"Bearer","scope":"https://graph.microsoft.com/.default","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2dyYXBoLm1pY3Jvc29mdC5jb20ifQ.c2lnbmF0dXJl"}"#;

fn mangled(m: Mangle, status: Option<u16>) -> Response {
    let status = |d: u16| StatusCode::from_u16(status.unwrap_or(d)).unwrap_or(StatusCode::OK);
    let json = "application/json; charset=utf-8";
    match m {
        Mangle::MalformedJson => (
            status(200),
            [(header::CONTENT_TYPE, json)],
            r#"{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ0eXAi"#,
        )
            .into_response(),
        Mangle::MissingAccessToken => (
            status(200),
            [(header::CONTENT_TYPE, json)],
            r#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599}"#,
        )
            .into_response(),
        Mangle::Truncated => {
            let full = FAKE_TOKEN_BODY.as_bytes();
            let half = Bytes::copy_from_slice(&full[..full.len() / 2]);
            // Half the body, a pause (so the head and that half are flushed to the client),
            // then an error: the connection closes short of the promised Content-Length.
            let stream = futures_util::stream::unfold(0u8, move |step| {
                let half = half.clone();
                async move {
                    match step {
                        0 => Some((Ok::<Bytes, std::io::Error>(half), 1)),
                        1 => {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            Some((Err(std::io::Error::other("truncated by the scenario")), 2))
                        }
                        _ => None,
                    }
                }
            });
            let mut resp = (status(200), Body::from_stream(stream)).into_response();
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(json));
            if let Ok(v) = HeaderValue::from_str(&full.len().to_string()) {
                resp.headers_mut().insert(header::CONTENT_LENGTH, v);
            }
            resp
        }
        Mangle::GatewayHtml => (
            status(502),
            [(header::CONTENT_TYPE, "text/html")],
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
        )
            .into_response(),
        Mangle::Empty => (status(200), [(header::CONTENT_TYPE, json)], "").into_response(),
    }
}

/// Sends a response's body `bytes` at a time, `every` apart.
async fn dribble(resp: Response, bytes: usize, every: Duration) -> Response {
    let (parts, body) = resp.into_parts();
    let Ok(all) = axum::body::to_bytes(body, MAX_BODY).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let stream = futures_util::stream::unfold((all, true), move |(mut rest, first)| async move {
        if rest.is_empty() {
            return None;
        }
        if !first {
            tokio::time::sleep(every).await;
        }
        let piece = rest.split_to(bytes.min(rest.len()));
        Some((Ok::<Bytes, std::io::Error>(piece), (rest, false)))
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

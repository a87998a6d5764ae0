//! Scenario replay against the real server, driven by a scripted HTTP client: the exact
//! responses of each fault kind, event timing, token shaping, per-tenant isolation, and
//! `mock-idp --scenario`.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use model::{Completion, Endpoint, GrantType};
use serde_json::Value;
use std::time::{Duration, Instant};

fn scenario(yaml: &str) -> model::scenario::Scenario {
    model::scenario::parse(yaml, "test.yaml").unwrap_or_else(|e| panic!("{e}"))
}

const CC_HEAD: &str = "name: t\nsummary: t\nflow: client_credentials\nrules: [client.liveness]\nsteps: [{acquire_token: {}}]\n";

fn cc(faults: &str) -> model::scenario::Scenario {
    scenario(&format!("{CC_HEAD}faults:\n{faults}"))
}

async fn cc_call(
    http: &reqwest::Client,
    idp: &tokenstorm_mock_idp::MockIdp,
    tenant: &str,
) -> reqwest::Result<reqwest::Response> {
    let (id, secret) = confidential(idp);
    http.post(format!("{}/oauth2/v2.0/token", idp.authority(tenant)))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
}

#[tokio::test]
async fn the_nth_call_gets_the_429_with_its_retry_after() {
    let idp = start().await;
    let http = client(&idp);
    idp.load_scenario("s429", cc("  - name: throttle\n    endpoint: token\n    calls: \"2..3\"\n    respond: { status: 429, retry_after: 3s }\n"));
    let mut statuses = vec![];
    for i in 1..=4 {
        let r = cc_call(&http, &idp, "s429").await.unwrap();
        statuses.push(r.status().as_u16());
        if i == 2 {
            assert_eq!(r.headers()["retry-after"], "3");
            let b = entra_error(r, 429, "temporarily_unavailable", 50196).await;
            assert!(b["error_description"]
                .as_str()
                .unwrap()
                .starts_with("AADSTS50196"));
        }
    }
    assert_eq!(statuses, vec![200, 429, 429, 200]);
    let j = idp.journal_for("s429");
    let faults: Vec<_> = j.iter().map(|e| e.fault.clone()).collect();
    assert_eq!(
        faults,
        vec![None, Some("throttle".into()), Some("throttle".into()), None]
    );
    // A faulted request is journaled with what it asked, though no handler saw it.
    assert_eq!(j[1].grant_type, Some(GrantType::ClientCredentials));
    assert_eq!(j[1].response_header("retry-after"), Some("3"));
    // Another tenant replaying nothing is untouched; the same scenario elsewhere counts apart.
    assert_eq!(cc_call(&http, &idp, "plain").await.unwrap().status(), 200);
    idp.load_scenario("s429b", cc("  - endpoint: token\n    calls: \"1\"\n    respond: { status: 429, retry_after: 3s }\n"));
    assert_eq!(cc_call(&http, &idp, "s429b").await.unwrap().status(), 429);
    // ...including the capabilities its `claims` declared (cae.capable judges every request).
    let (id, secret) = confidential(&idp);
    let r = http
        .post(format!("{}/oauth2/v2.0/token", idp.authority("s429c")))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
            ("scope", "https://graph.microsoft.com/.default"),
            (
                "claims",
                r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#,
            ),
        ]);
    idp.load_scenario("s429c", cc("  - endpoint: token\n    calls: \"1\"\n    respond: { status: 429, retry_after: 3s }\n"));
    assert_eq!(r.send().await.unwrap().status(), 429);
    assert_eq!(
        idp.journal_for("s429c")[0].client_capabilities,
        vec!["cp1".to_string()]
    );
}

#[tokio::test]
async fn retry_after_as_an_http_date() {
    let idp = start().await;
    let http = client(&idp);
    idp.load_scenario("date", cc("  - endpoint: token\n    respond: { status: 503, retry_after: 30s, retry_after_http_date: true }\n"));
    let before = std::time::SystemTime::now();
    let r = cc_call(&http, &idp, "date").await.unwrap();
    assert_eq!(r.status(), 503);
    let v = r.headers()["retry-after"].to_str().unwrap().to_string();
    assert!(v.ends_with(" GMT") && v.len() == 29, "{v}");
    // The date is never sooner than 30 s after the answer (rounded up, not down, to the second),
    // and the Date beside it is at most the answer's time.
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = time::PrimitiveDateTime::parse(&v, &fmt)
        .unwrap()
        .assume_utc();
    let date = time::PrimitiveDateTime::parse(r.headers()["date"].to_str().unwrap(), &fmt)
        .unwrap()
        .assume_utc();
    assert!(
        at >= time::OffsetDateTime::from(before) + time::Duration::seconds(30),
        "{v}"
    );
    assert!(date <= time::OffsetDateTime::now_utc(), "{date}");
    let apart = (at - date).whole_seconds();
    assert!(apart == 30 || apart == 31, "{apart}");
    entra_error(r, 503, "temporarily_unavailable", 90033).await;
}

#[tokio::test]
async fn a_stall_lasts_until_the_client_gives_up_and_the_journal_says_when() {
    let idp = start().await;
    idp.load_scenario("stall", cc("  - name: hang\n    endpoint: token\n    calls: \"1\"\n    respond: { stall: until_disconnect }\n"));
    let impatient = reqwest::Client::builder()
        .tls_certs_only([
            reqwest::Certificate::from_pem(idp.ca_cert_pem().unwrap().as_bytes()).unwrap(),
        ])
        .timeout(Duration::from_millis(700))
        .http1_only()
        .build()
        .unwrap();
    let t0 = Instant::now();
    let started_us = idp.clock().now_us();
    let err = cc_call(&impatient, &idp, "stall").await.unwrap_err();
    let gave_up_us = idp.clock().now_us();
    assert!(err.is_timeout(), "{err:?}");
    assert!(t0.elapsed() >= Duration::from_millis(650));
    // The next call is not stalled.
    let http = client(&idp);
    assert_eq!(cc_call(&http, &idp, "stall").await.unwrap().status(), 200);
    let mut e = None;
    for _ in 0..30 {
        e = idp
            .journal_for("stall")
            .into_iter()
            .find(|e| e.fault.is_some());
        if e.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let e = e.expect("the stalled request is journaled once the client leaves");
    assert_eq!(e.completion, Completion::ClientDisconnected);
    assert_eq!(e.status, 0, "no response was sent");
    // Held from its arrival until the client left: the client's 700 ms count from before its
    // connection and handshake, which a loaded machine can stretch, so the end is checked
    // against when the client gave up, not against a length.
    let finished = e.finished_us.unwrap();
    assert!(
        finished >= started_us + 650_000 && finished <= gave_up_us + 2_000_000,
        "finished at {finished} µs; the client started at {started_us} µs and gave up by {gave_up_us} µs"
    );
    assert!(finished > e.arrived_us);
}

#[tokio::test]
async fn a_timed_stall_then_answers() {
    let idp = start().await;
    let http = client(&idp);
    idp.load_scenario("slow", cc("  - endpoint: token\n    calls: \"1\"\n    respond: { stall: 800ms }\n  - endpoint: token\n    calls: \"2\"\n    respond: { delay: 400ms, status: 503 }\n"));
    let t0 = Instant::now();
    assert_eq!(cc_call(&http, &idp, "slow").await.unwrap().status(), 200);
    assert!(t0.elapsed() >= Duration::from_millis(780));
    let t0 = Instant::now();
    assert_eq!(cc_call(&http, &idp, "slow").await.unwrap().status(), 503);
    assert!(t0.elapsed() >= Duration::from_millis(380));
}

#[tokio::test]
async fn reset_and_close_break_the_connection_differently() {
    let idp = start().await;
    idp.load_scenario("conn", cc("  - name: rst\n    endpoint: token\n    calls: \"1\"\n    respond: { connection: reset }\n  - name: fin\n    endpoint: token\n    calls: \"2\"\n    respond: { connection: close }\n"));
    let fresh = || {
        reqwest::Client::builder()
            .tls_certs_only([
                reqwest::Certificate::from_pem(idp.ca_cert_pem().unwrap().as_bytes()).unwrap(),
            ])
            .http1_only()
            .build()
            .unwrap()
    };
    let chain = |e: &reqwest::Error| {
        let mut s = format!("{e:?}");
        let mut src = std::error::Error::source(e);
        while let Some(x) = src {
            s.push_str(&format!(" / {x}"));
            src = x.source();
        }
        s
    };
    let reset = cc_call(&fresh(), &idp, "conn").await.unwrap_err();
    let reset = chain(&reset);
    assert!(reset.to_lowercase().contains("reset"), "{reset}");
    let closed = cc_call(&fresh(), &idp, "conn").await.unwrap_err();
    let closed = chain(&closed);
    assert!(!closed.to_lowercase().contains("reset by peer"), "{closed}");
    assert!(
        closed.contains("closed")
            || closed.contains("eof")
            || closed.contains("EOF")
            || closed.contains("Incomplete"),
        "{closed}"
    );
    assert_eq!(cc_call(&fresh(), &idp, "conn").await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let j = idp.journal_for("conn");
    let aborted: Vec<_> = j
        .iter()
        .filter(|e| e.completion == Completion::Aborted)
        .map(|e| e.fault.clone().unwrap())
        .collect();
    assert_eq!(aborted, vec!["rst", "fin"]);
}

#[tokio::test]
async fn broken_bodies_are_exactly_broken() {
    let idp = start().await;
    // HTTP/1.1, as MSAL's HTTP stacks speak it: over HTTP/2 a truncated body is a stream reset.
    let http = reqwest::Client::builder()
        .tls_certs_only([
            reqwest::Certificate::from_pem(idp.ca_cert_pem().unwrap().as_bytes()).unwrap(),
        ])
        .http1_only()
        .build()
        .unwrap();
    idp.load_scenario("body", cc(concat!(
        "  - { endpoint: token, calls: \"1\", respond: { mangle: malformed_json } }\n",
        "  - { endpoint: token, calls: \"2\", respond: { mangle: missing_access_token } }\n",
        "  - { endpoint: token, calls: \"3\", respond: { mangle: gateway_html } }\n",
        "  - { endpoint: token, calls: \"4\", respond: { mangle: empty } }\n",
        "  - { endpoint: token, calls: \"5\", respond: { mangle: truncated } }\n",
        "  - { endpoint: token, calls: \"6\", respond: { error: invalid_grant, aadsts: 50173, suberror: basic_action } }\n",
        "  - { endpoint: token, calls: \"7\", respond: { error: interaction_required, aadsts: 50079, claims: '{\"access_token\":{\"capolids\":{\"essential\":true,\"values\":[\"c1\"]}}}' } }\n",
    )));
    let r = cc_call(&http, &idp, "body").await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
    let r: Value = cc_call(&http, &idp, "body")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(r.get("access_token").is_none() && r["expires_in"] == 3599);
    let r = cc_call(&http, &idp, "body").await.unwrap();
    assert_eq!(r.status(), 502);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("502 Bad Gateway"));
    let r = cc_call(&http, &idp, "body").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().is_empty());
    // Truncated: the head promises more than the connection delivers.
    let r = cc_call(&http, &idp, "body").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.is_err(), "the body must fail mid-way");
    let b = entra_error(
        cc_call(&http, &idp, "body").await.unwrap(),
        400,
        "invalid_grant",
        50173,
    )
    .await;
    assert_eq!(b["suberror"], "basic_action");
    let b = entra_error(
        cc_call(&http, &idp, "body").await.unwrap(),
        400,
        "interaction_required",
        50079,
    )
    .await;
    assert!(b["claims"].as_str().unwrap().contains("capolids"));
    assert_eq!(cc_call(&http, &idp, "body").await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_dribbled_body_arrives_slowly_and_whole() {
    let idp = start().await;
    let http = client(&idp);
    idp.load_scenario(
        "drip",
        cc("  - endpoint: token\n    respond: { dribble: { bytes: 200, every: 100ms } }\n"),
    );
    let t0 = Instant::now();
    let r = cc_call(&http, &idp, "drip").await.unwrap();
    let body: Value = r.json().await.unwrap();
    assert!(body["access_token"].is_string(), "a normal answer, slowly");
    // A token response is over 1 KB: at least five pauses of 100 ms.
    assert!(
        t0.elapsed() >= Duration::from_millis(480),
        "{:?}",
        t0.elapsed()
    );
}

#[tokio::test]
async fn selection_by_window_grant_scope_path_and_probability() {
    let idp = start().await;
    let http = client(&idp);
    let pid = public_id(&idp);
    let yaml = "name: sel\nsummary: s\nflow: auth_code\nfeatures: [call_api, whoami]\nrules: [client.liveness]\n\
        steps: [{call_api: {path: /me}}, {whoami: {}}]\n\
        events:\n  - { name: later, at: 400ms, do: set_roles, roles: [Late] }\n\
        faults:\n\
        \x20 - { name: only-refresh, endpoint: token, grant: refresh_token, respond: { status: 500 } }\n\
        \x20 - { name: members, endpoint: graph, path: /me/memberOf, respond: { status: 503, retry_after: 2s } }\n\
        \x20 - { name: window, endpoint: discovery, after: 300ms, until: 900ms, respond: { status: 504 } }\n\
        \x20 - { name: after-later, endpoint: keys, after_event: later, respond: { status: 502 } }\n";
    idp.load_scenario("sel", scenario(yaml));
    let disc = || {
        http.get(format!(
            "{}/v2.0/.well-known/openid-configuration",
            idp.authority("sel")
        ))
        .send()
    };
    let keys = || {
        http.get(format!("{}/discovery/v2.0/keys", idp.authority("sel")))
            .send()
    };
    assert_eq!(disc().await.unwrap().status(), 200, "before the window");
    assert_eq!(keys().await.unwrap().status(), 200, "before the event");
    // The authorization code grant is not the refresh grant: it works.
    let (_, loc, _) = authorize(&http, &idp, "sel", &[], None).await;
    let code = query_param(&loc.unwrap(), "code").unwrap();
    let t: Value = token(
        &http,
        &idp,
        "sel",
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &pid),
            ("code", &code),
            ("redirect_uri", "http://localhost:8765/callback"),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    let rt = t["refresh_token"].as_str().unwrap();
    let r = token(
        &http,
        &idp,
        "sel",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &pid),
            ("refresh_token", rt),
        ],
    )
    .await;
    entra_error(r, 500, "server_error", 90033).await;
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(
        http.get(format!("{}/me", idp.graph_url()))
            .bearer_auth(at)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = http
        .get(format!("{}/me/memberOf", idp.graph_url()))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "2");
    let b: Value = r.json().await.unwrap();
    assert_eq!(
        b["error"]["code"], "serviceNotAvailable",
        "Graph's shape on Graph"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(disc().await.unwrap().status(), 504, "inside the window");
    assert_eq!(keys().await.unwrap().status(), 502, "after the event");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(disc().await.unwrap().status(), 200, "after the window");

    // Seeded probability: the same seed gives the same pattern.
    let pattern = |tenant: &'static str| {
        let http = http.clone();
        let idp = &idp;
        async move {
            idp.load_scenario(tenant, cc("  - { endpoint: token, probability: 0.5, seed: 7, respond: { status: 503 } }\n"));
            let mut v = Vec::new();
            for _ in 0..16 {
                v.push(cc_call(&http, idp, tenant).await.unwrap().status().as_u16());
            }
            v
        }
    };
    let a = pattern("p1").await;
    let b = pattern("p2").await;
    assert_eq!(a, b);
    assert!(a.contains(&503) && a.contains(&200), "{a:?}");
}

#[tokio::test]
async fn events_fire_at_their_time() {
    let idp = start().await;
    let http = client(&idp);
    let pid = public_id(&idp);
    let yaml = "name: ev\nsummary: s\nflow: auth_code\nfeatures: [call_api, cae]\nrules: [client.liveness]\n\
        steps: [{call_api: {path: /me}}, {fire: disable}]\n\
        events:\n\
        \x20 - { name: revoke, at: 1s, do: revoke_refresh_tokens }\n\
        \x20 - { name: cae, at: 1s, do: cae_revoke }\n\
        \x20 - { name: rotate, at: 1s, do: rotate_keys }\n\
        \x20 - { name: disable, do: disable_user }\n\
        \x20 - { name: down, at: 1500ms, do: outage, duration: 500ms, endpoints: [token] }\n\
        tokens:\n  groups: 250\n";
    idp.load_scenario("ev", scenario(yaml));
    assert!(idp.start_scenario("ev"));
    let t0 = Instant::now();
    let cp1 = r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#;
    let (_, loc, _) = authorize(&http, &idp, "ev", &[], None).await;
    let code = query_param(&loc.unwrap(), "code").unwrap();
    let t: Value = token(
        &http,
        &idp,
        "ev",
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &pid),
            ("code", &code),
            ("redirect_uri", "http://localhost:8765/callback"),
            ("claims", cp1),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    // Token shaping: 250 groups are an overage.
    let c = claims(t["access_token"].as_str().unwrap());
    assert_eq!(c["_claim_names"]["groups"], "src1");
    let rt = t["refresh_token"].as_str().unwrap().to_string();
    let at = t["access_token"].as_str().unwrap().to_string();
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", pid.as_str()),
        ("refresh_token", rt.as_str()),
    ];
    let refresh = || token(&http, &idp, "ev", &form);
    assert_eq!(refresh().await.status(), 200, "before the revocation");
    assert_eq!(
        http.get(format!("{}/me", idp.graph_url()))
            .bearer_auth(&at)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(idp.fired_events("ev").len(), 0);
    tokio::time::sleep(Duration::from_millis(1100).saturating_sub(t0.elapsed())).await;
    entra_error(refresh().await, 400, "invalid_grant", 50173).await;
    // The CAE revocation: Entra's challenge for the old token.
    let r = http
        .get(format!("{}/me", idp.graph_url()))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("error=\"insufficient_claims\""));
    // Keys rotated for this tenant only: its JWKS has two keys, another tenant's one.
    let jwks = |t: &'static str| {
        let http = http.clone();
        let url = format!("{}/discovery/v2.0/keys", idp.authority(t));
        async move {
            http.get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()["keys"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(jwks("ev").await, 2);
    assert_eq!(jwks("elsewhere").await, 1);
    let fired = idp.fired_events("ev");
    let names: Vec<_> = fired.iter().map(|f| f.name.as_str()).collect();
    // The outage at 1.5 s has fired too when a loaded machine took that long to get here.
    assert_eq!(names[..3], ["revoke", "cae", "rotate"], "{names:?}");
    assert!(
        names.len() == 3 || (names[3..] == ["down"] && t0.elapsed() >= Duration::from_millis(1500)),
        "{names:?}"
    );
    // Recorded at their scheduled time, 1 s after the start, though applied later.
    assert!(fired[..3].windows(2).all(|w| w[0].at_us == w[1].at_us));
    // The outage window: 503 from 1.5 s to 2 s.
    tokio::time::sleep(Duration::from_millis(1600).saturating_sub(t0.elapsed())).await;
    let r = cc_call(&http, &idp, "ev").await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().get("retry-after").is_none());
    tokio::time::sleep(Duration::from_millis(2100).saturating_sub(t0.elapsed())).await;
    assert_eq!(cc_call(&http, &idp, "ev").await.unwrap().status(), 200);
    // Step-fired events.
    idp.fire_scenario_event("ev", "disable").unwrap();
    assert!(
        idp.fire_scenario_event("ev", "disable").is_err(),
        "an event fires once"
    );
    assert!(idp.fire_scenario_event("ev", "nope").is_err());
    let (_, loc, _) = authorize(&http, &idp, "ev", &[], None).await;
    assert_eq!(
        query_param(&loc.unwrap(), "error").as_deref(),
        Some("access_denied")
    );
    assert!(idp
        .journal_for("ev")
        .iter()
        .any(|e| e.endpoint == Endpoint::Token && e.fault.as_deref() == Some("outage")));
}

#[tokio::test]
async fn the_binary_replays_a_scenario_file_and_refuses_a_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.yaml");
    std::fs::write(&file, format!("{CC_HEAD}faults:\n  - {{ endpoint: token, calls: \"1\", respond: {{ status: 429, retry_after: 2s }} }}\n")).unwrap();
    let ready = dir.path().join("ready.json");
    let bin = env!("CARGO_BIN_EXE_mock-idp");
    let mut child = tokio::process::Command::new(bin)
        .args([
            "--scenario",
            file.to_str().unwrap(),
            "--ready-file",
            ready.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut waited = 0;
    while !ready.exists() {
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += 1;
        assert!(waited < 500, "no ready file");
    }
    let r: model::ReadyFile = serde_json::from_slice(&std::fs::read(&ready).unwrap()).unwrap();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(r.ca_cert.unwrap()).unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let call = |tenant: &str| {
        http.post(format!("{}/{tenant}/oauth2/v2.0/token", r.base_url))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", r.clients.confidential.client_id.as_str()),
                (
                    "client_secret",
                    r.clients.confidential.client_secret.as_str(),
                ),
                ("scope", "https://graph.microsoft.com/.default"),
            ])
            .send()
    };
    // Every tenant replays it, each with its own counters.
    assert_eq!(call("a").await.unwrap().status(), 429);
    assert_eq!(call("a").await.unwrap().status(), 200);
    assert_eq!(call("b").await.unwrap().status(), 429);
    child.kill().await.unwrap();

    std::fs::write(&file, "name: x\nsummary: x\nflow: client_credentials\nrules: [client.liveness]\nsteps: [{acquire_token: {}}]\nfaults:\n  - { endpoint: token, calls: \"0\", respond: { status: 500 } }\n").unwrap();
    let out = tokio::process::Command::new(bin)
        .args(["--scenario", file.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("s.yaml:7:") && err.contains("call range"),
        "{err}"
    );
}

#[tokio::test]
async fn review_fixes_for_faults_stay_fixed() {
    let idp = start().await;
    let http = client(&idp);
    let (id, secret) = confidential(&idp);
    // A client filter matches client_secret_basic requests too.
    idp.load_scenario(
        "basic",
        cc(&format!(
            "  - {{ endpoint: token, client: {id}, respond: {{ status: 503 }} }}\n"
        )),
    );
    let r = http
        .post(format!("{}/oauth2/v2.0/token", idp.authority("basic")))
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    // A faulted Graph call is journaled under its token's tenant, with Graph's 401 challenge.
    idp.load_scenario(
        "g401",
        scenario("name: g\nsummary: s\nflow: client_credentials\nfeatures: [call_api]\nrules: [client.liveness]\nsteps: [{call_api: {path: /users/x}}]\nfaults:\n  - { endpoint: graph, respond: { status: 401 } }\n"),
    );
    let at = cc_call(&http, &idp, "g401")
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = http
        .get(format!("{}/users/x", idp.graph_url()))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer realm=\"\""));
    let g = idp
        .journal_for("g401")
        .into_iter()
        .find(|e| e.endpoint == Endpoint::Graph)
        .expect("journaled under the tenant");
    assert_eq!(g.fault.as_deref(), Some("fault-1"));
    // An error without a code gets Entra's; a description repeating the prefix loses it.
    idp.load_scenario("codes", cc("  - { endpoint: token, calls: \"1\", respond: { error: slow_down } }\n  - { endpoint: token, calls: \"2\", respond: { error: invalid_grant, aadsts: 50079, description: \"AADSTS50079: Enroll in MFA.\" } }\n"));
    entra_error(
        cc_call(&http, &idp, "codes").await.unwrap(),
        400,
        "slow_down",
        70016,
    )
    .await;
    let b = entra_error(
        cc_call(&http, &idp, "codes").await.unwrap(),
        400,
        "invalid_grant",
        50079,
    )
    .await;
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS50079: Enroll in MFA."),
        "{b}"
    );
    // Scenario roles under client credentials are the app's.
    idp.load_scenario(
        "roles",
        scenario(&format!("{CC_HEAD}tokens:\n  roles: [Orders.Read]\n")),
    );
    let t: Value = cc_call(&http, &idp, "roles")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        claims(t["access_token"].as_str().unwrap())["roles"],
        serde_json::json!(["Orders.Read"])
    );
}

/// The journal facts rules read about a request (everything but timing, status and fault).
fn facts(e: &model::JournalEntry) -> serde_json::Value {
    serde_json::json!({
        "endpoint": e.endpoint,
        "tenant": e.tenant,
        "grant_type": e.grant_type,
        "client_id": e.client_id,
        "scopes": e.scopes,
        "prompt": e.prompt,
        "claims": e.claims,
        "client_capabilities": e.client_capabilities,
        "client_request_id": e.client_request_id,
        "client_sku": e.client_sku,
        "presented": e.presented,
    })
}

#[tokio::test]
async fn faulted_requests_carry_the_facts_answered_ones_do() {
    let idp = start().await;
    let http = client(&idp);
    let pid = public_id(&idp);
    let (cid, secret) = confidential(&idp);
    let t = "facts";
    // What the client holds before the scenario starts: a refresh token, an access token, a
    // fresh code, a device code, an SSO cookie, an assertion for on-behalf-of.
    let (_, loc, cookie) = authorize(&http, &idp, t, &[], None).await;
    let cookie = cookie.unwrap();
    let code = query_param(&loc.unwrap(), "code").unwrap();
    let tok: Value = token(
        &http,
        &idp,
        t,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &pid),
            ("code", &code),
            ("redirect_uri", "http://localhost:8765/callback"),
        ],
    )
    .await
    .json()
    .await
    .unwrap();
    let rt = tok["refresh_token"].as_str().unwrap().to_string();
    let at = tok["access_token"].as_str().unwrap().to_string();
    let (_, loc, _) = authorize(&http, &idp, t, &[("prompt", "none")], Some(&cookie)).await;
    let code = query_param(&loc.unwrap(), "code").unwrap();
    let dc: Value = http
        .post(format!("{}/oauth2/v2.0/devicecode", idp.authority(t)))
        .form(&[
            ("client_id", pid.as_str()),
            ("scope", "User.Read offline_access"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let device_code = dc["device_code"].as_str().unwrap().to_string();
    let assertion = idp.user_assertion(t).unwrap();

    // Every other token request, the first Graph and UserInfo calls and the first authorize
    // are faulted; each faulted request is then sent again and answered.
    let token_faults: String = (0..5)
        .map(|i| {
            format!(
                "  - {{ name: token-{}, endpoint: token, calls: \"{}\", respond: {{ error: slow_down, aadsts: 70016 }} }}\n",
                i,
                2 * i + 1
            )
        })
        .collect();
    idp.load_scenario(
        t,
        scenario(&format!(
            "name: f\nsummary: s\nflow: auth_code\nfeatures: [call_api, whoami]\nrules: [client.liveness]\n\
             steps: [{{call_api: {{path: /me}}}}, {{whoami: {{}}}}]\nfaults:\n{token_faults}\
             \x20 - {{ name: graph, endpoint: graph, calls: \"1\", respond: {{ status: 503 }} }}\n\
             \x20 - {{ name: userinfo, endpoint: userinfo, calls: \"1\", respond: {{ status: 429 }} }}\n\
             \x20 - {{ name: authorize, endpoint: authorize, calls: \"1\", respond: {{ connection: close }} }}\n"
        )),
    );
    let cp1 = r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#;
    let twice = |form: Vec<(&'static str, String)>, basic: bool| {
        let http = http.clone();
        let url = format!("{}/oauth2/v2.0/token", idp.authority(t));
        let (cid, secret) = (cid.clone(), secret.clone());
        async move {
            let mut statuses = vec![];
            for _ in 0..2 {
                let mut r = http.post(&url).form(&form);
                if basic {
                    r = r.basic_auth(&cid, Some(&secret));
                }
                statuses.push(r.send().await.unwrap().status().as_u16());
            }
            statuses
        }
    };
    let s = |x: &str| x.to_string();
    // The authorization code (the faulted request doesn't redeem it: the second one does).
    let st = twice(
        vec![
            ("grant_type", s("authorization_code")),
            ("client_id", pid.clone()),
            ("code", code.clone()),
            ("redirect_uri", s("http://localhost:8765/callback")),
        ],
        false,
    )
    .await;
    assert_eq!(st, vec![400, 200]);
    // The refresh token, with the library's own parameters and capabilities.
    let st = twice(
        vec![
            ("grant_type", s("refresh_token")),
            ("client_id", pid.clone()),
            ("refresh_token", rt.clone()),
            ("claims", s(cp1)),
            (
                "client-request-id",
                s("5b1b7a43-0000-4000-8000-000000000001"),
            ),
            ("x-client-SKU", s("MSAL.Python")),
        ],
        false,
    )
    .await;
    assert_eq!(st, vec![400, 200]);
    // A device-code poll answered with a scripted slow_down, then the real pending.
    let st = twice(
        vec![
            (
                "grant_type",
                s("urn:ietf:params:oauth:grant-type:device_code"),
            ),
            ("client_id", pid.clone()),
            ("device_code", device_code.clone()),
        ],
        false,
    )
    .await;
    assert_eq!(st, vec![400, 400]);
    // On-behalf-of: the assertion, with its uti.
    let st = twice(
        vec![
            (
                "grant_type",
                s("urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ),
            ("client_id", cid.clone()),
            ("client_secret", secret.clone()),
            ("assertion", assertion.clone()),
            ("requested_token_use", s("on_behalf_of")),
            ("scope", s("https://graph.microsoft.com/User.Read")),
        ],
        false,
    )
    .await;
    assert_eq!(st, vec![400, 200]);
    // client_secret_basic: the client id is the header's.
    let st = twice(
        vec![
            ("grant_type", s("client_credentials")),
            ("scope", s("https://graph.microsoft.com/.default")),
        ],
        true,
    )
    .await;
    assert_eq!(st, vec![400, 200]);
    // Graph and UserInfo: the bearer token, and its tenant and client.
    for url in [
        format!("{}/me", idp.graph_url()),
        format!("{}/oidc/userinfo", idp.base_url()),
    ] {
        let mut statuses = vec![];
        for _ in 0..2 {
            let r = http.get(&url).bearer_auth(&at).send().await.unwrap();
            statuses.push(r.status().as_u16());
        }
        assert_eq!(statuses[1], 200, "{url}: {statuses:?}");
        assert!(statuses[0] >= 429, "{url}: {statuses:?}");
    }
    // Authorize: prompt, claims, correlation id and library (the faulted one is cut off).
    for i in 0..2 {
        let r = http
            .get(format!("{}/oauth2/v2.0/authorize", idp.authority(t)))
            .query(&[
                ("client_id", pid.as_str()),
                ("response_type", "code"),
                ("redirect_uri", "http://localhost:8765/callback"),
                ("scope", "User.Read openid"),
                ("prompt", "none"),
                ("claims", cp1),
                ("client-request-id", "5b1b7a43-0000-4000-8000-000000000002"),
                ("x-client-SKU", "msal.js.node"),
            ])
            .header("cookie", &cookie)
            .send()
            .await;
        assert_eq!(r.is_err(), i == 0, "{r:?}");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    let j = idp.journal_for(t);
    let mut pairs = 0;
    for (i, e) in j.iter().enumerate() {
        if e.fault.is_none() {
            continue;
        }
        let answered = j[i + 1..]
            .iter()
            .find(|x| x.endpoint == e.endpoint && x.fault.is_none())
            .unwrap_or_else(|| panic!("no answered twin for {e:?}"));
        assert_eq!(facts(e), facts(answered), "fault {:?}", e.fault);
        pairs += 1;
    }
    assert_eq!(pairs, 8);
    // And the facts are there, not merely equal.
    let by_fault = |l: &str| j.iter().find(|e| e.fault.as_deref() == Some(l)).unwrap();
    let fp = |x: &str| model::Fingerprint::of(x);
    let p = |e: &model::JournalEntry| e.presented.clone().unwrap();
    assert_eq!(p(by_fault("token-0")).fingerprint, fp(&code));
    assert_eq!(p(by_fault("token-0")).kind, model::TokenKind::Code);
    let refresh = by_fault("token-1");
    assert_eq!(p(refresh).fingerprint, fp(&rt));
    assert_eq!(p(refresh).kind, model::TokenKind::Refresh);
    assert_eq!(refresh.client_capabilities, vec!["cp1".to_string()]);
    assert_eq!(refresh.client_sku.as_deref(), Some("MSAL.Python"));
    assert_eq!(
        refresh.client_request_id.as_deref(),
        Some("5b1b7a43-0000-4000-8000-000000000001")
    );
    assert_eq!(p(by_fault("token-2")).fingerprint, fp(&device_code));
    let obo = p(by_fault("token-3"));
    assert_eq!(obo.fingerprint, fp(&assertion));
    assert_eq!(obo.uti.as_deref(), claims(&assertion)["uti"].as_str());
    assert_eq!(by_fault("token-4").client_id.as_deref(), Some(cid.as_str()));
    for l in ["graph", "userinfo"] {
        let e = by_fault(l);
        assert_eq!(p(e).fingerprint, fp(&at));
        assert_eq!(p(e).uti.as_deref(), claims(&at)["uti"].as_str());
        assert_eq!(e.client_id.as_deref(), Some(pid.as_str()));
        assert_eq!(e.tenant.as_deref(), Some(t));
    }
    let a = by_fault("authorize");
    assert_eq!(a.prompt.as_deref(), Some("none"));
    assert_eq!(a.client_sku.as_deref(), Some("msal.js.node"));
    assert_eq!(a.client_capabilities, vec!["cp1".to_string()]);
    assert_eq!(a.completion, Completion::Aborted);
}

//! Judging scales: every observable rule over a 1,000,000-entry journal (a fleet's hour of
//! token requests, with throttling, outages and Graph calls mixed in), the way `observe`
//! judges a long run. The target is under 1 s (docs/performance.md). `TOKENSTORM_JUDGE_ENTRIES`
//! sets another size (the growth with size shows whether judging stays linear).
#![allow(clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use model::{JournalEntry, Outcome};
use tokenstorm::rules::{judge, Input};

/// A journal of `n` requests from a fleet, 10 ms apart: client-credentials token requests
/// (most answered with a token, one in 500 throttled with Retry-After: 2 and retried after it,
/// one in 700 a 503 retried after 5 s), Graph calls between them, and discovery now and then.
fn journal(n: usize) -> Vec<JournalEntry> {
    let token: JournalEntry = serde_json::from_value(serde_json::json!({
        "seq": 0, "tenant": "t", "arrived_us": 0, "finished_us": 0, "completion": "sent",
        "method": "POST", "path": "/t/oauth2/v2.0/token", "endpoint": "token",
        "http_version": "HTTP/1.1", "grant_type": "client_credentials", "client_id": "app",
        "scopes": ["https://graph.microsoft.com/.default"], "status": 200,
        "response_headers": [["content-type", "application/json"]]
    }))
    .unwrap();
    let graph: JournalEntry = serde_json::from_value(serde_json::json!({
        "seq": 0, "tenant": "t", "arrived_us": 0, "finished_us": 0, "completion": "sent",
        "method": "GET", "path": "/graph/v1.0/users/x", "endpoint": "graph",
        "http_version": "HTTP/1.1", "status": 200, "response_headers": []
    }))
    .unwrap();
    let discovery: JournalEntry = serde_json::from_value(serde_json::json!({
        "seq": 0, "tenant": "t", "arrived_us": 0, "finished_us": 0, "completion": "sent",
        "method": "GET", "path": "/t/v2.0/.well-known/openid-configuration",
        "endpoint": "discovery", "http_version": "HTTP/1.1", "status": 200,
        "response_headers": []
    }))
    .unwrap();
    let mut out = Vec::with_capacity(n);
    let mut at: u64 = 0;
    let mut i = 0usize;
    let mut tokens = 0usize;
    while out.len() < n {
        let mut e = match i % 10 {
            0..=2 => token.clone(),
            9 if i % 1000 == 9 => discovery.clone(),
            _ => graph.clone(),
        };
        if e.endpoint == model::Endpoint::Token {
            // A fleet of 3,000 instances (each its own client id) taking turns: each renews
            // its 400 s token every 100 s, once it is inside the 300 s renewal window, so the
            // cache rules follow every token from issue to renewal and find nothing needless.
            let instance = tokens % 3_000;
            tokens += 1;
            e.client_id = Some(format!("app-{instance}"));
            e.issued = vec![model::IssuedToken {
                kind: model::TokenKind::Access,
                fingerprint: model::Fingerprint::of(&format!("token-{i}")),
                uti: None,
                expires_in: Some(400),
                refresh_in: None,
                scopes: vec![],
                audience: None,
                cae: false,
                opaque: false,
            }];
            if i.is_multiple_of(500) {
                e.status = 429;
                e.error = Some("temporarily_unavailable".into());
                e.response_headers = vec![("retry-after".into(), "2".into())];
                e.issued.clear();
                at += 2_100_000;
            } else if i % 700 == 1 {
                e.status = 503;
                e.error = Some("temporarily_unavailable".into());
                e.issued.clear();
                at += 5_100_000;
            }
        }
        e.seq = out.len() as u64 + 1;
        e.arrived_us = at;
        e.finished_us = Some(at + 2_000);
        out.push(e);
        at += 10_000;
        i += 1;
    }
    out
}

fn bench(c: &mut Criterion) {
    let scenario = tokenstorm::library::builtin()
        .unwrap()
        .into_iter()
        .find(|l| l.scenario.name.value == "throttle-429-short")
        .unwrap()
        .scenario;
    // `cargo bench` measures the full million; the test command's single pass (`cargo test
    // --benches`) only checks that judging runs, on a smaller journal.
    let n = std::env::var("TOKENSTORM_JUDGE_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if std::env::args().any(|a| a == "--bench") {
            1_000_000
        } else {
            10_000
        });
    let entries = journal(n);
    let outcome = Outcome::Completed;
    let input = Input {
        scenario: &scenario,
        journal: &entries,
        transcript: &[],
        state_files: &[],
        outcome: &outcome,
        fired: &[],
        observed: true,
    };
    let mut g = c.benchmark_group("judge");
    g.sample_size(10);
    g.bench_function(format!("every observable rule, {n} requests"), |b| {
        b.iter(|| judge(&input))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

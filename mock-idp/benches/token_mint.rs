//! Minting and signing tokens: the cost that dominates the token endpoint.
//!
//! `cargo bench -p tokenstorm-mock-idp --bench token_mint`
#![allow(clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Map};
use std::hint::black_box;
use tokenstorm_mock_idp::bench_internals::Idp;
use tokenstorm_mock_idp::bench_internals::KeySet;
use tokenstorm_mock_idp::bench_internals::{default_apps, DEFAULT_TENANT};
use tokenstorm_mock_idp::bench_internals::{mint, Request, ResourceScopes, Subject};
use tokenstorm_mock_idp::TenantConfig;

fn bench(c: &mut Criterion) {
    let idp = Idp::new(
        "https://127.0.0.1:1".into(),
        KeySet::generate().unwrap(),
        default_apps("s".into()),
        "admin".into(),
        DEFAULT_TENANT.into(),
        TenantConfig::default(),
        true,
    );
    let mut g = c.benchmark_group("token");
    g.throughput(Throughput::Elements(1));

    let mut claims = Map::new();
    for (k, v) in [
        ("aud", json!("https://graph.microsoft.com")),
        ("iss", json!("https://127.0.0.1:1/t/v2.0")),
        ("iat", json!(1_800_000_000u64)),
        ("exp", json!(1_800_003_599u64)),
        ("tid", json!("t")),
        ("uti", json!("abcdefghijklmnop")),
    ] {
        claims.insert(k.into(), v);
    }
    g.bench_function("sign_rs256", |b| {
        b.iter(|| black_box(idp.keys.sign(black_box(&claims))))
    });

    let scope_strings = vec!["https://graph.microsoft.com/.default".to_string()];
    let scopes = ResourceScopes::parse(&scope_strings).unwrap();
    let config = TenantConfig::default();
    g.bench_function("mint_client_credentials", |b| {
        b.iter(|| {
            let m = mint(
                &idp,
                &config,
                &Request {
                    keys: &idp.keys,
                    base: "https://127.0.0.1:1",
                    tenant: "t",
                    client_id: "c",
                    confidential: true,
                    scopes: &scopes,
                    scope_strings: &scope_strings,
                    subject: Subject::App,
                    nonce: None,
                    cae: false,
                    client_info: false,
                    app_roles: &[],
                    claims_request: None,
                    spa_refresh_expires_at: None,
                },
            );
            black_box(m.body)
        })
    });

    let user_scopes = vec![
        "https://graph.microsoft.com/User.Read".to_string(),
        "openid".into(),
        "profile".into(),
        "offline_access".into(),
    ];
    let rs = ResourceScopes::parse(&user_scopes).unwrap();
    let user = TenantConfig::default().user;
    g.bench_function("mint_user_access_id_refresh", |b| {
        b.iter(|| {
            let m = mint(
                &idp,
                &config,
                &Request {
                    keys: &idp.keys,
                    base: "https://127.0.0.1:1",
                    tenant: "t",
                    client_id: "c",
                    confidential: false,
                    scopes: &rs,
                    scope_strings: &user_scopes,
                    subject: Subject::User(&user, 1_800_000_000),
                    nonce: Some("n"),
                    cae: true,
                    client_info: true,
                    app_roles: &[],
                    claims_request: None,
                    spa_refresh_expires_at: None,
                },
            );
            black_box(m.body)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! The cache's costs: a hit (lookup of a fresh token; target ≤ 1 µs), a hit through the
//! whole `Client::acquire` path, and the encrypted persistent cache's load and store with
//! 10 000 entries.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use std::hint::black_box;
use tokenstorm_reference_client::cache::{now_ms, Cache, Entry};
use tokenstorm_reference_client::persist::Store;

fn filled(n: usize) -> Cache {
    let mut c = Cache::for_client("https://login.example/tenant", "app");
    let now = now_ms();
    for i in 0..n {
        let scopes = vec![format!("api://resource-{i}/.default")];
        let account = format!("oid-{}.tid", i % 50);
        c.insert(
            Some(&account),
            &scopes,
            Entry::new(format!("token-{i}-{}", "x".repeat(1200)), now, 3600, None),
        );
    }
    c
}

fn bench(c: &mut Criterion) {
    let cache = filled(10_000);
    let scopes = vec!["api://resource-4242/.default".to_string()];
    let account = Some("oid-42.tid");
    let now = now_ms();
    assert!(cache.fresh(account, &scopes, now).is_some());
    c.bench_function("cache hit (lookup in 10k entries)", |b| {
        b.iter(|| black_box(cache.fresh(black_box(account), black_box(&scopes), now)))
    });

    // The full path of a cached acquire: single-flight lock, cache lookup, clock read.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("store");
    let mut seeded = Cache::for_client("https://127.0.0.1:9/tenant", "app");
    let graph = vec!["https://graph.microsoft.com/.default".to_string()];
    seeded.insert(
        None,
        &graph,
        Entry::new("cached-token".into(), now_ms(), 3600, None),
    );
    store.save(&seeded).expect("save");
    let client = tokenstorm_reference_client::Client::new(tokenstorm_reference_client::Config {
        authority: "https://127.0.0.1:9/tenant".into(),
        client_id: "app".into(),
        client_secret: "s".into(),
        ca_pem: None,
        state_dir: Some(dir.path().to_path_buf()),
        flow: tokenstorm_reference_client::Flow::ClientCredentials,
        graph_url: "https://127.0.0.1:9/v1.0".into(),
    })
    .expect("client");
    assert_eq!(
        rt.block_on(client.acquire(&graph)).expect("cached"),
        "cached-token"
    );
    c.bench_function("Client::acquire served from the cache", |b| {
        b.iter(|| rt.block_on(client.acquire(black_box(&graph))))
    });

    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("store");
    store.save(&cache).expect("save");
    let mut g = c.benchmark_group("persistent cache, 10k entries");
    g.sample_size(20);
    g.bench_function("store (encrypt + atomic replace)", |b| {
        b.iter_batched(|| cache.clone(), |c| store.save(&c), BatchSize::LargeInput)
    });
    g.bench_function("load (read + decrypt)", |b| {
        b.iter(|| black_box(store.load()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

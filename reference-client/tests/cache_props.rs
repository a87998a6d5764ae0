//! Property tests of the cache's invariants: whatever was stored and whenever it is asked, a
//! lookup never serves an expired token, nor a token stored for other scopes or another
//! account; and the encrypted store gives back exactly what it was given.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use std::collections::BTreeSet;
use tokenstorm_reference_client::cache::{Cache, Entry};

#[derive(Debug, Clone)]
struct Put {
    account: Option<u8>,
    scopes: Vec<u8>,
    at: u64,
    expires_in: u64,
    refresh_in: Option<u64>,
}

fn put() -> impl Strategy<Value = Put> {
    (
        proptest::option::of(0u8..4),
        proptest::collection::vec(0u8..5, 1..4),
        0u64..10_000,
        1u64..7_200,
        proptest::option::of(0u64..3_600),
    )
        .prop_map(|(account, scopes, at, expires_in, refresh_in)| Put {
            account,
            scopes,
            at,
            expires_in,
            refresh_in,
        })
}

fn scopes(v: &[u8]) -> Vec<String> {
    v.iter().map(|s| format!("api://r{s}/.default")).collect()
}

fn account(a: Option<u8>) -> Option<String> {
    a.map(|a| format!("oid-{a}.tid"))
}

/// The token text records who it was stored for, so a lookup can be checked.
fn token_for(p: &Put, i: usize) -> String {
    let set: BTreeSet<u8> = p.scopes.iter().copied().collect();
    format!("{:?}|{:?}|{i}", p.account, set)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn lookups_serve_only_valid_tokens_of_the_same_account_and_scopes(
        puts in proptest::collection::vec(put(), 1..40),
        asks in proptest::collection::vec((proptest::option::of(0u8..4), proptest::collection::vec(0u8..5, 1..4), 0u64..20_000), 1..40),
    ) {
        let mut c = Cache::for_client("a", "c");
        for (i, p) in puts.iter().enumerate() {
            let e = Entry::new(token_for(p, i), p.at * 1000, p.expires_in, p.refresh_in);
            c.insert(account(p.account).as_deref(), &scopes(&p.scopes), e);
        }
        for (a, s, at) in asks {
            let now = at * 1000;
            let set: BTreeSet<u8> = s.iter().copied().collect();
            for (kind, got) in [
                ("fresh", c.fresh(account(a).as_deref(), &scopes(&s), now)),
                ("valid", c.valid(account(a).as_deref(), &scopes(&s), now)),
            ] {
                if let Some(e) = got {
                    prop_assert!(now < e.expires_at_ms, "{kind}: served an expired token");
                    let who = format!("{:?}|{:?}|", a, set);
                    prop_assert!(e.access_token.starts_with(&who), "{kind}: {} served for {who}", e.access_token);
                    if kind == "fresh" {
                        prop_assert!(now < e.renew_at_ms);
                    }
                }
            }
            // The last token stored for exactly this key is the one served, while valid.
            let last = puts.iter().enumerate().rev().find(|(_, p)| {
                p.account == a && p.scopes.iter().copied().collect::<BTreeSet<u8>>() == set
            });
            if let Some((i, p)) = last {
                let valid = now < (p.at + p.expires_in) * 1000;
                let got = c.valid(account(a).as_deref(), &scopes(&s), now);
                prop_assert_eq!(got.map(|e| e.access_token.clone()), valid.then(|| token_for(p, i)));
            }
        }
    }

    #[test]
    fn the_encrypted_store_round_trips(puts in proptest::collection::vec(put(), 0..30)) {
        let dir = tempfile::tempdir().unwrap();
        let store = tokenstorm_reference_client::persist::Store::open(dir.path()).unwrap();
        let mut c = Cache::for_client("https://idp/t", "app");
        for (i, p) in puts.iter().enumerate() {
            c.insert(account(p.account).as_deref(), &scopes(&p.scopes), Entry::new(token_for(p, i), p.at, p.expires_in, p.refresh_in));
        }
        store.save(&c).unwrap();
        prop_assert_eq!(store.load(), c);
    }
}

#[test]
fn two_processes_opening_one_state_directory_agree_on_the_key() {
    // Threads stand in for processes: both race to create the key; both must end up with the
    // same one, so what one saves the other can read.
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..20 {
        let _ = std::fs::remove_file(dir.path().join("cache.key"));
        let stores: Vec<_> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        tokenstorm_reference_client::persist::Store::open(dir.path()).unwrap()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut c = Cache::for_client("a", "c");
        c.insert(
            None,
            &["s".to_string()],
            Entry::new("t".into(), 0, 3600, None),
        );
        stores[0].save(&c).unwrap();
        for s in &stores[1..] {
            assert_eq!(s.load(), c, "a store sealed with another key");
        }
    }
}

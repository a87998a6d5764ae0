//! Response bodies that depend only on a few strings (and, for the JWKS, on the keys): built
//! once per key and served from memory, not rebuilt for every request. A fleet reads discovery
//! and the JWKS far more often than anything changes them.

use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Mutex;

/// Built bodies by key, at most [`Bodies::MAX`] of them (past that the map starts again: keys
/// are per tenant and host, so only a fleet of thousands of tenants gets there).
#[derive(Debug, Default)]
pub(crate) struct Bodies {
    map: Mutex<HashMap<String, Bytes>>,
}

impl Bodies {
    const MAX: usize = 4096;

    /// The body for `key`, built by `build` the first time.
    pub(crate) fn get_or(&self, key: &str, build: impl FnOnce() -> Vec<u8>) -> Bytes {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = map.get(key) {
            return b.clone();
        }
        if map.len() >= Self::MAX {
            map.clear();
        }
        let b = Bytes::from(build());
        map.insert(key.to_string(), b.clone());
        b
    }

    /// Forgets every body (what they were built from changed).
    pub(crate) fn clear(&self) {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_once_per_key_until_cleared() {
        let bodies = Bodies::default();
        let mut built = 0;
        for _ in 0..3 {
            let b = bodies.get_or("a", || {
                built += 1;
                b"one".to_vec()
            });
            assert_eq!(&b[..], b"one");
        }
        assert_eq!(built, 1);
        assert_eq!(&bodies.get_or("b", || b"two".to_vec())[..], b"two");
        bodies.clear();
        assert_eq!(&bodies.get_or("a", || b"new".to_vec())[..], b"new");
    }

    #[test]
    fn stays_bounded() {
        let bodies = Bodies::default();
        for i in 0..Bodies::MAX + 10 {
            bodies.get_or(&i.to_string(), Vec::new);
        }
        let len = bodies.map.lock().unwrap_or_else(|p| p.into_inner()).len();
        assert!(len <= Bodies::MAX, "{len}");
    }
}

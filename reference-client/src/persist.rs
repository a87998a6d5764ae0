//! The persistent cache: AES-256-GCM with a random key kept in its own owner-only file, data
//! replaced atomically (temporary file, then rename), both files mode 0600.

use crate::cache::Cache;
use crate::error::Error;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where and how the cache is stored.
pub struct Store {
    data: PathBuf,
    key: LessSafeKey,
    rng: SystemRandom,
}

fn local(e: impl std::fmt::Display) -> Error {
    Error::Local(e.to_string())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("f"),
        std::process::id()
    ));
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(local)?;
        f.write_all(bytes).map_err(local)?;
        f.sync_all().map_err(local)?;
    }
    std::fs::rename(&tmp, path).map_err(local)
}

/// Creates the key file exclusively, so two processes starting on one state directory agree
/// on one key (the loser of the race reads the winner's) instead of each sealing the cache
/// with a key the other then overwrites.
fn create_key(path: &Path, rng: &SystemRandom) -> Result<Vec<u8>, Error> {
    let mut k = vec![0u8; 32];
    rng.fill(&mut k)
        .map_err(|_| Error::Local("no randomness".into()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tag = [0u8; 8];
    rng.fill(&mut tag)
        .map_err(|_| Error::Local("no randomness".into()))?;
    let tag: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = dir.join(format!(".cache.key.{tag}.tmp"));
    write_private(&tmp, &k)?;
    // hard_link fails if the key exists: publishing is atomic and never replaces a key.
    match std::fs::hard_link(&tmp, path) {
        Ok(()) => {
            let _ = std::fs::remove_file(&tmp);
            Ok(k)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let _ = std::fs::remove_file(&tmp);
            match std::fs::read(path) {
                Ok(existing) if existing.len() == 32 => Ok(existing),
                // A damaged key protects nothing: replace it (the cache is then unreadable
                // and starts empty, which is safe).
                _ => {
                    write_private(path, &k)?;
                    Ok(k)
                }
            }
        }
        Err(_) => {
            // No hard links on this filesystem: fall back to a plain atomic write.
            std::fs::rename(&tmp, path).map_err(local)?;
            Ok(k)
        }
    }
}

impl Store {
    /// Opens (or creates) the store in `dir`: `cache.key` and `cache.bin`.
    pub fn open(dir: &Path) -> Result<Store, Error> {
        std::fs::create_dir_all(dir).map_err(local)?;
        let key_path = dir.join("cache.key");
        let rng = SystemRandom::new();
        let key_bytes = match std::fs::read(&key_path) {
            Ok(k) if k.len() == 32 => k,
            _ => create_key(&key_path, &rng)?,
        };
        let key = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &key_bytes)
                .map_err(|_| Error::Local("bad key".into()))?,
        );
        Ok(Store {
            data: dir.join("cache.bin"),
            key,
            rng,
        })
    }

    /// Loads the cache (empty when there is none or it cannot be decrypted).
    pub fn load(&self) -> Cache {
        let Ok(bytes) = std::fs::read(&self.data) else {
            return Cache::default();
        };
        if bytes.len() < NONCE_LEN {
            return Cache::default();
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let Ok(nonce) = Nonce::try_assume_unique_for_key(nonce) else {
            return Cache::default();
        };
        let mut buf = sealed.to_vec();
        match self.key.open_in_place(nonce, Aad::empty(), &mut buf) {
            Ok(plain) => serde_json::from_slice(plain).unwrap_or_default(),
            Err(_) => Cache::default(),
        }
    }

    /// Saves the cache, encrypted, replacing the old file atomically.
    pub fn save(&self, cache: &Cache) -> Result<(), Error> {
        let mut plain = serde_json::to_vec(cache).map_err(local)?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| Error::Local("no randomness".into()))?;
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut plain,
            )
            .map_err(|_| Error::Local("encryption failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&plain);
        write_private(&self.data, &out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Entry;

    #[test]
    fn round_trips_encrypted_and_owner_only() {
        let dir = std::env::temp_dir().join(format!("rc-persist-{}", std::process::id()));
        let s = Store::open(&dir).expect("open");
        let mut c = Cache::default();
        c.entries.insert(
            "k".into(),
            Entry::new("secret-token-value-123456".into(), 0, 3600, None),
        );
        s.save(&c).expect("save");
        let raw = std::fs::read(dir.join("cache.bin")).expect("read");
        assert!(!String::from_utf8_lossy(&raw).contains("secret-token-value"));
        assert_eq!(Store::open(&dir).expect("reopen").load(), c);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for f in ["cache.bin", "cache.key"] {
                let mode = std::fs::metadata(dir.join(f))
                    .expect("meta")
                    .permissions()
                    .mode()
                    & 0o777;
                assert_eq!(mode, 0o600, "{f}");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

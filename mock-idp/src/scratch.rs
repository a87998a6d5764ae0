//! The mock's own temporary directory (its CA and journal when no state directory is given),
//! and the sweep of those a killed mock left behind.
//!
//! A mock that exits or is stopped (SIGTERM, Ctrl-C) removes its directory; one killed with
//! SIGKILL can't. Each directory holds an `owner.lock` file that its mock keeps locked for as
//! long as it runs. The kernel releases the lock when the process dies however it dies, so a
//! directory whose lock can be taken has no owner, and the next mock to start removes it. A lock
//! works across PID namespaces (containers sharing `/tmp`), where a PID check would not.

use std::fs::File;
use std::path::Path;
use std::time::Duration;

const PREFIX: &str = "tokenstorm-mock-";
const LOCK: &str = "owner.lock";
/// A directory this young may be one whose mock has not taken its lock yet.
const GRACE: Duration = Duration::from_secs(10);

/// A temporary directory, removed on drop, locked while this value lives.
#[derive(Debug)]
pub(crate) struct Scratch {
    // Declared first so it is closed before the directory is removed (Windows can't remove a
    // directory holding an open file).
    _lock: File,
    dir: tempfile::TempDir,
}

impl Scratch {
    /// Removes what killed mocks left in the temporary folder, then makes and locks a new
    /// directory there.
    pub(crate) fn create() -> std::io::Result<Scratch> {
        let dir = tempfile::Builder::new().prefix(PREFIX).tempdir()?;
        let lock = File::create(dir.path().join(LOCK))?;
        lock.try_lock().map_err(std::io::Error::other)?;
        // Our own directory names the owner the others must have; ours is locked, so kept.
        if let Ok(ours) = std::fs::metadata(dir.path()) {
            sweep(&std::env::temp_dir(), &ours);
        }
        Ok(Scratch { _lock: lock, dir })
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Removes each of our mocks' directories in `tmp` (owned as `ours` is) whose lock no live
/// process holds. Best effort: what can't be read or removed is left as it is.
fn sweep(tmp: &Path, ours: &std::fs::Metadata) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(PREFIX) {
            continue;
        }
        let dir = entry.path();
        if abandoned(&dir, ours) {
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => {
                    tracing::debug!(dir = %dir.display(), "removed a killed mock's directory")
                }
                Err(e) => {
                    tracing::debug!(dir = %dir.display(), error = %e, "could not remove a killed mock's directory")
                }
            }
        }
    }
}

fn abandoned(dir: &Path, ours: &std::fs::Metadata) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return false;
    };
    if !meta.is_dir() || !same_owner(&meta, ours) {
        return false;
    }
    // No lock file: a directory from a version without one, or not ours; leave it.
    let Ok(lock) = File::open(dir.join(LOCK)) else {
        return false;
    };
    let old = lock
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age >= GRACE);
    // The lock is released when `lock` is dropped, before the directory goes.
    old && lock.try_lock().is_ok()
}

#[cfg(unix)]
fn same_owner(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.uid() == b.uid()
}

#[cfg(not(unix))]
fn same_owner(_a: &std::fs::Metadata, _b: &std::fs::Metadata) -> bool {
    // The temporary folder is the user's own.
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aged(dir: &Path) {
        let old = std::time::SystemTime::now() - Duration::from_secs(60);
        let f = File::options()
            .write(true)
            .open(dir.join(LOCK))
            .expect("lock file");
        f.set_modified(old).expect("set mtime");
    }

    #[test]
    fn a_dead_mocks_directory_is_swept_and_a_live_ones_is_kept() {
        let tmp = tempfile::tempdir().expect("tmp");
        // A killed mock's: the lock file is there and no one holds it.
        let dead = tmp.path().join(format!("{PREFIX}dead"));
        std::fs::create_dir(&dead).expect("dir");
        std::fs::write(dead.join(LOCK), b"").expect("lock");
        std::fs::create_dir(dead.join("journal")).expect("journal");
        aged(&dead);
        // A live mock's: held.
        let live = tmp.path().join(format!("{PREFIX}live"));
        std::fs::create_dir(&live).expect("dir");
        let held = File::create(live.join(LOCK)).expect("lock");
        held.try_lock().expect("lock taken");
        aged(&live);
        // Just made, not locked yet.
        let young = tmp.path().join(format!("{PREFIX}young"));
        std::fs::create_dir(&young).expect("dir");
        std::fs::write(young.join(LOCK), b"").expect("lock");
        // Without a lock file, and not ours by name.
        let unlocked = tmp.path().join(format!("{PREFIX}nolock"));
        std::fs::create_dir(&unlocked).expect("dir");
        let other = tmp.path().join("other-dead");
        std::fs::create_dir(&other).expect("dir");
        std::fs::write(other.join(LOCK), b"").expect("lock");
        aged(&other);

        sweep(tmp.path(), &std::fs::metadata(tmp.path()).expect("meta"));

        assert!(!dead.exists(), "the dead mock's directory stays");
        assert!(live.join(LOCK).exists(), "a live mock's directory went");
        assert!(young.exists(), "a directory inside the grace period went");
        assert!(unlocked.exists() && other.exists());
        drop(held);
    }

    #[test]
    fn a_scratch_directory_is_locked_while_it_lives_and_removed_on_drop() {
        let s = Scratch::create().expect("scratch");
        let p = s.path().to_path_buf();
        let again = File::open(p.join(LOCK)).expect("lock file");
        assert!(again.try_lock().is_err(), "the lock is not held");
        drop(again);
        drop(s);
        assert!(!p.exists());
    }
}

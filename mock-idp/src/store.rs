//! Where the journal lives: every entry is appended, as it finishes, to its tenant's JSONL file
//! (`TENANT.jsonl` in the journal directory, written by one background thread), and the most
//! recent entries are also kept in memory, already serialized, to answer cursors and small
//! tenants without reading the disk. Memory therefore stays bounded however long the mock
//! runs; the disk is bounded by a cap, past which entries are counted but not written (and
//! every read says how many were lost).
//!
//! Without a directory ([`JournalStore::in_memory`], for benches and embedding) every entry
//! stays in memory, as before the journal was streamed.

use model::JournalEntry;
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};

/// How the journal is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalLimits {
    /// How many of the latest entries (all tenants) stay in memory.
    pub window: usize,
    /// How many bytes of journal the directory may hold; past it, entries are counted as
    /// dropped instead of written.
    pub cap_bytes: u64,
}

impl Default for JournalLimits {
    fn default() -> Self {
        JournalLimits {
            window: 20_000,
            cap_bytes: 4 << 30,
        }
    }
}

/// One entry as the window keeps it.
struct Kept {
    tenant: Option<Arc<str>>,
    line: Arc<str>,
}

/// The in-memory part.
#[derive(Default)]
struct Window {
    entries: VecDeque<Kept>,
    /// Entries recorded so far (all tenants): the cursor of the next read.
    total: usize,
    /// Entries that left the window, all tenants and by tenant (`""`: no tenant).
    evicted: usize,
    evicted_by_tenant: HashMap<Arc<str>, usize>,
    tenants: HashMap<String, Arc<str>>,
}

/// What the writer thread is asked to do.
enum Job {
    Append { tenant: Arc<str>, line: Arc<str> },
    Flush(SyncSender<()>),
}

/// What a read found.
#[derive(Debug, Default)]
pub struct Read {
    /// The entries, in `seq` order.
    pub entries: Vec<JournalEntry>,
    /// Entries past the cursor that could not be served: they left the in-memory window (a
    /// cursor read that fell behind; for one tenant, an upper bound), or were never written
    /// because the cap was reached.
    pub missed: u64,
}

/// The journal's storage. See the module documentation.
pub struct JournalStore {
    limits: JournalLimits,
    window: Mutex<Window>,
    disk: Option<Disk>,
}

struct Disk {
    dir: PathBuf,
    jobs: SyncSender<Job>,
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What the writer thread and readers share.
#[derive(Default)]
struct Shared {
    written: AtomicU64,
    dropped: AtomicU64,
    dropped_by_tenant: Mutex<HashMap<Arc<str>, u64>>,
    warned: AtomicBool,
}

/// Open files the writer keeps at most (the least recently written are closed first).
const OPEN_FILES: usize = 64;
/// Entries waiting for the writer at most; past it, recording waits (back-pressure, never
/// loss).
const QUEUE: usize = 65_536;
/// How long the writer waits, idle, before flushing what it buffered.
const IDLE_FLUSH: std::time::Duration = std::time::Duration::from_millis(200);
/// How long the writer pauses after taking what was queued, so that entries come in batches.
const BATCH_PAUSE: std::time::Duration = std::time::Duration::from_millis(2);

impl JournalStore {
    /// Every entry in memory, nothing on disk.
    pub fn in_memory() -> JournalStore {
        JournalStore {
            limits: JournalLimits {
                window: usize::MAX,
                cap_bytes: 0,
            },
            window: Mutex::default(),
            disk: None,
        }
    }

    /// Entries streamed to `dir` (created, private to this user), the latest `limits.window`
    /// kept in memory too. Journal files a previous start left in `dir` are removed: a journal
    /// is one start's.
    pub fn on_disk(dir: &Path, limits: JournalLimits) -> std::io::Result<JournalStore> {
        create_private_dir(dir)?;
        for e in std::fs::read_dir(dir)?.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "jsonl") {
                std::fs::remove_file(&p)?;
            }
        }
        let (jobs, rx) = sync_channel(QUEUE);
        let shared = Arc::new(Shared::default());
        let thread = {
            let dir = dir.to_path_buf();
            let shared = shared.clone();
            let cap = limits.cap_bytes;
            std::thread::Builder::new()
                .name("tokenstorm-journal".into())
                .spawn(move || write_loop(&dir, &rx, &shared, cap))?
        };
        Ok(JournalStore {
            limits,
            window: Mutex::default(),
            disk: Some(Disk {
                dir: dir.to_path_buf(),
                jobs,
                shared,
                thread: Some(thread),
            }),
        })
    }

    /// The directory the tenants' files are in, if the journal is on disk.
    pub fn dir(&self) -> Option<&Path> {
        self.disk.as_ref().map(|d| d.dir.as_path())
    }

    /// Appends a finished entry.
    pub fn record(&self, entry: &JournalEntry) {
        let line: Arc<str> = match serde_json::to_string(entry) {
            Ok(l) => l.into(),
            // A journal entry is plain data: it always serializes.
            Err(_) => return,
        };
        let tenant_key = entry.tenant.as_deref().unwrap_or("");
        let tenant = {
            let mut w = lock(&self.window);
            let tenant: Arc<str> = match w.tenants.get(tenant_key) {
                Some(t) => t.clone(),
                None => {
                    let t: Arc<str> = tenant_key.into();
                    w.tenants.insert(tenant_key.to_string(), t.clone());
                    t
                }
            };
            w.entries.push_back(Kept {
                tenant: entry.tenant.is_some().then(|| tenant.clone()),
                line: line.clone(),
            });
            w.total += 1;
            while w.entries.len() > self.limits.window {
                if let Some(old) = w.entries.pop_front() {
                    w.evicted += 1;
                    let key = old.tenant.unwrap_or_else(|| "".into());
                    *w.evicted_by_tenant.entry(key).or_default() += 1;
                }
            }
            tenant
        };
        if let Some(d) = &self.disk {
            // The writer only stops when the store is dropped.
            let _ = d.jobs.send(Job::Append { tenant, line });
        }
    }

    /// Entries recorded so far (all tenants): the cursor for the next read.
    pub fn len(&self) -> usize {
        lock(&self.window).total
    }

    /// Whether nothing was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries the cap kept off the disk: all of them, or `tenant`'s.
    pub fn dropped(&self, tenant: Option<&str>) -> u64 {
        let Some(d) = &self.disk else { return 0 };
        match tenant {
            None => d.shared.dropped.load(Ordering::Relaxed),
            Some(t) => lock(&d.shared.dropped_by_tenant)
                .get(t)
                .copied()
                .unwrap_or(0),
        }
    }

    /// The entries after cursor `since` (a count of entries, all tenants, as returned by
    /// [`JournalStore::len`]), of `tenant` or of all, in `seq` order. A read from the start
    /// (`since` 0) is complete, from the disk when the window no longer holds it; a later
    /// cursor that fell behind the window gets what the window holds, and `missed` says how
    /// many entries it lost.
    pub fn read(&self, tenant: Option<&str>, since: usize) -> Read {
        let (in_window, behind) = {
            let w = lock(&self.window);
            let key = tenant.unwrap_or("");
            let evicted = match tenant {
                None => w.evicted,
                Some(_) => w.evicted_by_tenant.get(key).copied().unwrap_or(0),
            };
            if since == 0 && evicted > 0 && self.disk.is_some() {
                (None, 0)
            } else {
                let skip = since.saturating_sub(w.evicted);
                // Entries past the cursor that left the window: all tenants' count, or at most
                // the tenant's own evicted entries.
                let behind = match tenant {
                    _ if since >= w.evicted => 0,
                    None => w.evicted - since,
                    Some(_) => evicted.min(w.evicted - since),
                };
                let lines: Vec<Arc<str>> = w
                    .entries
                    .iter()
                    .skip(skip)
                    .filter(|k| tenant.is_none() || k.tenant.as_deref() == tenant)
                    .map(|k| k.line.clone())
                    .collect();
                (Some(lines), behind as u64)
            }
        };
        let mut read = match in_window {
            Some(lines) => Read {
                entries: lines
                    .iter()
                    .filter_map(|l| serde_json::from_str(l).ok())
                    .collect(),
                missed: behind,
            },
            None => self.read_disk(tenant),
        };
        read.missed += self.dropped(tenant);
        read.entries.sort_by_key(|e| e.seq);
        read
    }

    /// A tenant's whole journal (or every tenant's) from the disk.
    fn read_disk(&self, tenant: Option<&str>) -> Read {
        let Some(d) = &self.disk else {
            return Read::default();
        };
        let (tx, rx) = sync_channel(1);
        if d.jobs.send(Job::Flush(tx)).is_ok() {
            let _ = rx.recv();
        }
        let files: Vec<PathBuf> = match tenant {
            Some(t) => vec![d.dir.join(file_name(t))],
            None => std::fs::read_dir(&d.dir)
                .map(|rd| {
                    rd.flatten()
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                        .collect()
                })
                .unwrap_or_default(),
        };
        let mut entries = Vec::new();
        for f in files {
            let Ok(file) = File::open(&f) else { continue };
            for line in BufReader::new(file).lines().map_while(Result::ok) {
                if let Ok(e) = serde_json::from_str::<JournalEntry>(&line) {
                    entries.push(e);
                }
            }
        }
        Read { entries, missed: 0 }
    }
}

impl Drop for JournalStore {
    fn drop(&mut self) {
        if let Some(mut d) = self.disk.take() {
            // Closing the queue ends the writer once it has written everything.
            let (tx, _) = sync_channel(1);
            drop(std::mem::replace(&mut d.jobs, tx));
            if let Some(t) = d.thread.take() {
                let _ = t.join();
            }
        }
    }
}

/// `TENANT.jsonl`, or `_.jsonl` for requests that named no tenant. Tenant names are
/// validated before they are journaled (letters, digits, `-`, `_`, `.`); anything else is
/// replaced, so no name leaves the directory.
fn file_name(tenant: &str) -> String {
    if tenant.is_empty() {
        return "_.jsonl".to_string();
    }
    let safe: String = tenant
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.jsonl")
}

fn write_loop(dir: &Path, jobs: &Receiver<Job>, shared: &Shared, cap: u64) {
    let mut w = Writer {
        dir,
        shared,
        cap,
        open: HashMap::new(),
        order: VecDeque::new(),
        dirty: false,
    };
    loop {
        let job = match jobs.recv_timeout(IDLE_FLUSH) {
            Ok(job) => job,
            // Idle: what is buffered goes to the files, so a reader of the files sees it.
            Err(RecvTimeoutError::Timeout) => {
                if std::mem::take(&mut w.dirty) {
                    w.flush_all();
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        w.handle(job);
        // The jobs that came meanwhile, then a pause: a sender wakes the writer only when it
        // waits in `recv`, so a writer that takes the queue in batches costs a busy request
        // path no wake-up (one per entry was a context switch per request).
        while let Ok(job) = jobs.try_recv() {
            w.handle(job);
        }
        std::thread::sleep(BATCH_PAUSE);
    }
    // What was queued before the store was dropped.
    while let Ok(job) = jobs.try_recv() {
        w.handle(job);
    }
    w.flush_all();
}

/// The writer thread's files.
struct Writer<'a> {
    dir: &'a Path,
    shared: &'a Shared,
    cap: u64,
    open: HashMap<Arc<str>, BufWriter<File>>,
    /// The open files, least recently opened first.
    order: VecDeque<Arc<str>>,
    /// Whether something was written since the last flush.
    dirty: bool,
}

impl Writer<'_> {
    fn flush_all(&mut self) {
        for f in self.open.values_mut() {
            let _ = f.flush();
        }
    }

    fn handle(&mut self, job: Job) {
        match job {
            Job::Flush(done) => {
                self.flush_all();
                let _ = done.send(());
            }
            Job::Append { tenant, line } => self.append(tenant, &line),
        }
    }

    fn append(&mut self, tenant: Arc<str>, line: &str) {
        let size = line.len() as u64 + 1;
        let written = self.shared.written.load(Ordering::Relaxed);
        let ok = written + size <= self.cap && {
            if !self.open.contains_key(&tenant) {
                if self.open.len() >= OPEN_FILES {
                    if let Some(old) = self.order.pop_front() {
                        if let Some(mut f) = self.open.remove(&old) {
                            let _ = f.flush();
                        }
                    }
                }
                if let Ok(f) = open_append(&self.dir.join(file_name(&tenant))) {
                    self.open
                        .insert(tenant.clone(), BufWriter::with_capacity(16 * 1024, f));
                    self.order.push_back(tenant.clone());
                }
            }
            match self.open.get_mut(&tenant) {
                Some(f) => f
                    .write_all(line.as_bytes())
                    .and_then(|()| f.write_all(b"\n"))
                    .is_ok(),
                None => false,
            }
        };
        if ok {
            self.dirty = true;
            self.shared.written.fetch_add(size, Ordering::Relaxed);
            return;
        }
        self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        *lock(&self.shared.dropped_by_tenant)
            .entry(tenant)
            .or_default() += 1;
        if !self.shared.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                dir = %self.dir.display(),
                cap_bytes = self.cap,
                written_bytes = written,
                "the journal reached its cap on disk (or the disk refused a write): \
                 later entries are counted as dropped, not written; every journal read \
                 says how many it misses"
            );
        }
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)?;
    // It may have existed: the journal's directory is private whoever made it.
    #[cfg(unix)]
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::Endpoint;

    fn entry(seq: u64, tenant: Option<&str>) -> JournalEntry {
        crate::journal::blank_entry(
            seq,
            tenant.map(str::to_string),
            seq * 10,
            "POST".into(),
            "/t/oauth2/v2.0/token".into(),
            Endpoint::Token,
            "HTTP/1.1".into(),
        )
    }

    fn seqs(r: &Read) -> Vec<u64> {
        r.entries.iter().map(|e| e.seq).collect()
    }

    /// Ten entries of two tenants (and one of none), finishing out of arrival order, through
    /// a window of three.
    fn filled(dir: &Path, limits: JournalLimits) -> JournalStore {
        let s = JournalStore::on_disk(dir, limits).expect("store");
        for seq in [1, 0, 2, 3, 5, 4, 6, 7, 8, 9] {
            let tenant = match seq {
                9 => None,
                _ if seq % 2 == 0 => Some("a"),
                _ => Some("b"),
            };
            s.record(&entry(seq, tenant));
        }
        s
    }

    #[test]
    fn a_read_from_the_start_is_whole_once_the_window_has_moved_on() {
        let dir = tempfile::tempdir().expect("dir");
        let s = filled(
            dir.path(),
            JournalLimits {
                window: 3,
                cap_bytes: u64::MAX,
            },
        );
        assert_eq!(s.len(), 10);
        let a = s.read(Some("a"), 0);
        assert_eq!(seqs(&a), [0, 2, 4, 6, 8]);
        assert_eq!(a.missed, 0);
        assert_eq!(seqs(&s.read(Some("b"), 0)), [1, 3, 5, 7]);
        let all = s.read(None, 0);
        assert_eq!(seqs(&all), (0..10).collect::<Vec<u64>>());
        // The whole entry comes back, not just its number.
        assert_eq!(all.entries[3], entry(3, Some("b")));
        // One file per tenant, private to this user.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode(dir.path()), 0o700);
            assert_eq!(mode(&dir.path().join("a.jsonl")), 0o600);
            assert_eq!(mode(&dir.path().join("_.jsonl")), 0o600);
        }
    }

    #[test]
    fn a_cursor_reads_the_window_and_says_what_it_missed() {
        let dir = tempfile::tempdir().expect("dir");
        let s = filled(
            dir.path(),
            JournalLimits {
                window: 3,
                cap_bytes: u64::MAX,
            },
        );
        // Entries 8..10 of the finish order are in the window: seq 7, 8, 9.
        let r = s.read(None, 5);
        assert_eq!(seqs(&r), [7, 8, 9]);
        assert_eq!(r.missed, 2);
        let r = s.read(None, 7);
        assert_eq!(seqs(&r), [7, 8, 9]);
        assert_eq!(r.missed, 0);
        assert_eq!(seqs(&s.read(None, 9)), [9]);
        assert!(s.read(None, 10).entries.is_empty());
        // One tenant's cursor: at most what that tenant lost.
        let b = s.read(Some("b"), 5);
        assert_eq!(seqs(&b), [7]);
        assert_eq!(b.missed, 2);
    }

    #[test]
    fn past_the_cap_entries_are_counted_not_written_and_reads_say_so() {
        let dir = tempfile::tempdir().expect("dir");
        let one = serde_json::to_string(&entry(0, Some("a")))
            .expect("json")
            .len() as u64
            + 1;
        let s = filled(
            dir.path(),
            JournalLimits {
                window: 2,
                cap_bytes: one * 4,
            },
        );
        let all = s.read(None, 0);
        assert_eq!(all.entries.len(), 4, "{:?}", seqs(&all));
        assert_eq!(all.missed, 6);
        assert_eq!(s.dropped(None), 6);
        assert_eq!(
            s.dropped(Some("a")) + s.dropped(Some("b")) + s.dropped(Some("")),
            6
        );
        let written: u64 = std::fs::read_dir(dir.path())
            .expect("dir")
            .flatten()
            .map(|e| e.metadata().expect("meta").len())
            .sum();
        assert!(written <= one * 4, "{written} bytes on disk");
    }

    #[test]
    fn a_new_start_begins_a_new_journal_and_memory_alone_keeps_everything() {
        let dir = tempfile::tempdir().expect("dir");
        drop(filled(dir.path(), JournalLimits::default()));
        let s = JournalStore::on_disk(
            dir.path(),
            JournalLimits {
                window: 1,
                cap_bytes: u64::MAX,
            },
        )
        .expect("store");
        s.record(&entry(0, Some("a")));
        s.record(&entry(1, Some("a")));
        assert_eq!(seqs(&s.read(Some("a"), 0)), [0, 1]);
        assert_eq!(seqs(&s.read(None, 0)), [0, 1]);

        let m = JournalStore::in_memory();
        for seq in 0..1000 {
            m.record(&entry(seq, Some("a")));
        }
        assert_eq!(m.read(Some("a"), 0).entries.len(), 1000);
        assert_eq!(m.read(None, 990).entries.len(), 10);
        assert_eq!(m.dir(), None);
    }
}

//! What a client left in its state directory, as `cache.protected` judges it: each file's mode
//! (a symbolic link judged by its target), whether it may hold a secret, and which tokens the
//! mock issued can be read out of it without a key: in the clear, or merely encoded (base64,
//! hex, gzip or zlib, nested). Tokens are matched by fingerprint against the journal, so no
//! token is ever held here.

use model::{Fingerprint, JournalEntry};
use std::collections::HashSet;
use std::io::Read as _;
use std::path::Path;

pub use model::StateFile;

/// How much decoded data one file may expand to (a zip bomb stops here).
const MAX_DECODED: u64 = 16 << 20;

/// Candidate tokens in `bytes`: runs of the token alphabet, and the same inside what decodes
/// from them (base64, hex, gzip, zlib), down to `depth` layers.
fn candidates(bytes: &[u8], depth: u8, out: &mut Vec<String>) {
    use base64::Engine as _;
    let text = String::from_utf8_lossy(bytes);
    let is_tok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    for run in text.split(|c: char| !is_tok(c)).filter(|r| r.len() >= 20) {
        out.push(run.to_string());
    }
    if depth == 0 {
        return;
    }
    if let Some(inflated) = inflate(bytes) {
        candidates(&inflated, depth - 1, out);
    }
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_');
    for run in text.split(|c: char| !is_b64(c)).filter(|r| r.len() >= 40) {
        let trimmed = run.trim_end_matches('=');
        if trimmed.len() % 2 == 0 && trimmed.bytes().all(|b| b.is_ascii_hexdigit()) {
            if let Some(raw) = hex(trimmed) {
                candidates(&raw, depth - 1, out);
            }
        }
        let decoded = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(trimmed)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(trimmed));
        if let Ok(raw) = decoded {
            candidates(&raw, depth - 1, out);
        }
    }
}

fn hex(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The data of a gzip or zlib stream, bounded.
fn inflate(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let read = match bytes {
        [0x1f, 0x8b, ..] => flate2::read::GzDecoder::new(bytes)
            .take(MAX_DECODED)
            .read_to_end(&mut out),
        [0x78, 0x01 | 0x5e | 0x9c | 0xda, ..] => flate2::read::ZlibDecoder::new(bytes)
            .take(MAX_DECODED)
            .read_to_end(&mut out),
        _ => return None,
    };
    read.ok().filter(|n| *n > 0).map(|_| out)
}

/// Whether content reads as plain text (what a lock file, a log or a config holds).
fn plain_text(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    // A long unbroken base64 or hex run is an encoded blob, not prose; a URL's host and path
    // are not (a log of requests), though its query or fragment may be.
    let text = without_url_paths(text);
    !text
        .split(|c: char| c.is_whitespace() || matches!(c, '"' | ',' | ':' | '{' | '}' | '[' | ']'))
        .any(|w| w.len() >= 64)
        && !text.chars().any(|c| c.is_control() && !c.is_whitespace())
}

/// `text` with the authority and path of each URL (what follows `://` up to a query, a
/// fragment, a quote or a space) taken out.
fn without_url_paths(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("://") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 3..];
        let end = after
            .find(|c: char| c.is_whitespace() || matches!(c, '?' | '#' | '"' | '\'' | '<' | '>'))
            .unwrap_or(after.len());
        out.push(' ');
        rest = &after[end..];
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// Snapshot of the state directory.
pub fn snapshot_state(dir: &Path, journal: &[JournalEntry]) -> Vec<StateFile> {
    let issued: HashSet<Fingerprint> = journal
        .iter()
        .flat_map(|e| e.issued.iter())
        .filter(|t| t.kind != model::TokenKind::Code)
        .map(|t| t.fingerprint.clone())
        .collect();
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(link) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if link.is_dir() {
                stack.push(p);
                continue;
            }
            // A FIFO, socket or device is no cache file; opening a FIFO would block for ever.
            if !link.is_file() && !link.file_type().is_symlink() {
                continue;
            }
            let rel = p.strip_prefix(dir).unwrap_or(&p).display().to_string();
            // A symbolic link is judged by what it points at.
            let (meta, path) = if link.file_type().is_symlink() {
                let target = std::fs::read_link(&p)
                    .map(|t| t.display().to_string())
                    .unwrap_or_default();
                match std::fs::metadata(&p) {
                    Ok(m) if m.is_file() => (m, format!("{rel} -> {target}")),
                    _ => continue, // dangling, or a directory elsewhere
                }
            } else {
                (link, rel)
            };
            #[cfg(unix)]
            let mode = {
                use std::os::unix::fs::PermissionsExt;
                meta.permissions().mode() & 0o7777
            };
            #[cfg(not(unix))]
            let mode = 0o600;
            let mut bytes = Vec::new();
            if let Ok(f) = std::fs::File::open(&p) {
                let _ = f.take(MAX_DECODED).read_to_end(&mut bytes);
            }
            let mut found = Vec::new();
            candidates(&bytes, 4, &mut found);
            let mut plaintext_tokens: Vec<Fingerprint> = found
                .iter()
                .map(|c| Fingerprint::of(c))
                .filter(|f| issued.contains(f))
                .collect();
            plaintext_tokens.sort();
            plaintext_tokens.dedup();
            let may_hold_secret = !plaintext_tokens.is_empty() || !plain_text(&bytes);
            out.push(StateFile {
                path,
                mode,
                len: meta.len(),
                plaintext_tokens,
                may_hold_secret,
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn journal_with(token: &str) -> Vec<JournalEntry> {
        let line = format!(
            r#"{{"seq":1,"arrived_us":1,"completion":"sent","method":"POST","path":"/t","endpoint":"token","http_version":"HTTP/1.1","status":200,"issued":[{{"kind":"access","fingerprint":"{}"}}]}}"#,
            Fingerprint::of(token)
        );
        vec![serde_json::from_str(&line).expect("entry")]
    }

    #[test]
    fn encoded_tokens_are_found_and_plain_files_hold_no_secret() {
        use base64::Engine as _;
        let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
        let j = journal_with(token);
        let dir = tempfile::tempdir().expect("dir");
        let cache = format!(r#"{{"at":"{token}"}}"#);
        let hexed: String = cache.bytes().map(|b| format!("{b:02x}")).collect();
        std::fs::write(dir.path().join("hex.txt"), &hexed).expect("write");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(cache.as_bytes()).expect("gzip");
        std::fs::write(dir.path().join("cache.gz"), gz.finish().expect("gzip")).expect("write");
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(cache.as_bytes()).expect("zlib");
        let nested = base64::engine::general_purpose::STANDARD
            .encode(base64::engine::general_purpose::STANDARD.encode(z.finish().expect("zlib")));
        std::fs::write(dir.path().join("nested.b64"), nested).expect("write");
        std::fs::write(dir.path().join("app.lock"), "pid 1234\n").expect("write");
        // A request log: long URLs, no secret; and one whose query carries a long random value.
        std::fs::write(
            dir.path().join("requests.log"),
            "2026-12-01T15:10:00Z GET https://127.0.0.1:54321/cache-protected-file-a86d1c/v2.0/.well-known/openid-configuration\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("query.log"),
            "GET https://127.0.0.1:54321/cb?code=0AbCdEfGhIjKlMnOpQrStUvWxYz0123456789aBcDeFgHiJkLmNoPqRsTuVwXyZ01\n",
        )
        .expect("write");
        std::fs::write(dir.path().join("sealed.bin"), [0u8, 200, 13, 7, 99, 250]).expect("write");
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.path().join("hex.txt"), dir.path().join("link"))
            .expect("symlink");
        let files = snapshot_state(dir.path(), &j);
        let by = |name: &str| {
            files
                .iter()
                .find(|f| f.path.starts_with(name))
                .unwrap_or_else(|| panic!("{name} missing: {files:?}"))
        };
        for name in ["hex.txt", "cache.gz", "nested.b64"] {
            assert_eq!(by(name).plaintext_tokens.len(), 1, "{name}");
        }
        assert!(!by("app.lock").may_hold_secret);
        assert!(!by("requests.log").may_hold_secret);
        assert!(by("query.log").may_hold_secret);
        assert!(by("sealed.bin").may_hold_secret && by("sealed.bin").plaintext_tokens.is_empty());
        #[cfg(unix)]
        {
            let l = by("link");
            assert!(l.path.contains("->") && l.plaintext_tokens.len() == 1);
        }
    }
}

//! Embeds the built-in scenario library (`scenarios/**/*.yaml`) in the binary, so an installed
//! `tokenstorm` has it, and generates one test per file. Also embeds the adapters
//! (`adapters/<name>/`: drivers, pins, install scripts) so that
//! `tokenstorm run --client msal-python` works from an installed binary.
//!
//! Both folders live at the workspace root; the package reaches them through the symbolic links
//! `harness/scenarios` and `harness/adapters`, which `cargo package` follows, so a published
//! crate carries them as its own files. A checkout without symbolic links (Git on Windows by
//! default) has a text file there instead, and the build reads the workspace root.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
}

fn main() {
    // `tokenstorm --version` names the commit it was built from, so CI logs show what ran.
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown commit".into());
    let git =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join("../.git");
    if let Ok(head) = std::fs::read_to_string(git.join("HEAD")) {
        println!("cargo:rerun-if-changed={}", git.join("HEAD").display());
        if let Some(r) = head.trim().strip_prefix("ref: ") {
            println!("cargo:rerun-if-changed={}", git.join(r).display());
        }
    }
    println!(
        "cargo:rustc-env=TOKENSTORM_LONG_VERSION={} ({commit})",
        std::env::var("CARGO_PKG_VERSION").unwrap_or_default()
    );
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = inside(&manifest, "scenarios");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    let mut lib = String::from("/// (path under `scenarios/`, text) of every built-in scenario.\npub static LIBRARY: &[(&str, &str)] = &[\n");
    let mut tests = String::new();
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let rel = f
            .strip_prefix(&root)
            .unwrap_or(f)
            .to_string_lossy()
            .replace('\\', "/");
        let abs = f.canonicalize().unwrap_or_else(|_| f.clone());
        let _ = writeln!(
            lib,
            "    ({rel:?}, include_str!({:?})),",
            abs.to_string_lossy()
        );
        let ident: String = rel
            .trim_end_matches(".yaml")
            .trim_end_matches(".yml")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let _ = writeln!(
            tests,
            "#[test]\nfn builtin_{ident}() {{\n    super::check_builtin({rel:?});\n}}\n"
        );
    }
    lib.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    let _ = std::fs::write(
        out.join("adapters.rs"),
        adapters(&inside(&manifest, "adapters")),
    );
    let _ = std::fs::write(out.join("library.rs"), lib);
    let _ = std::fs::write(out.join("library_tests.rs"), tests);
}

/// `name` inside the package (a published crate, or the symbolic link in a checkout), else at
/// the workspace root.
fn inside(manifest: &Path, name: &str) -> PathBuf {
    let own = manifest.join(name);
    if own.is_dir() {
        own
    } else {
        manifest.join("..").join(name)
    }
}

/// `(adapter, path inside it, bytes)` of every adapter file worth shipping: sources, pins and
/// scripts; installed dependencies and caches left out.
fn adapters(root: &Path) -> String {
    println!("cargo:rerun-if-changed={}", root.display());
    let mut out = String::from(
        "/// (adapter, path inside its folder, contents) of every embedded adapter file.\npub static ADAPTER_FILES: &[(&str, &str, &[u8])] = &[\n",
    );
    let Ok(rd) = std::fs::read_dir(root) else {
        out.push_str("];\n");
        return out;
    };
    let mut dirs: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files = Vec::new();
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                let fname = e.file_name().to_string_lossy().into_owned();
                if ["node_modules", "venv", ".venv", "__pycache__", "target"]
                    .contains(&fname.as_str())
                    || fname.starts_with('.')
                {
                    continue;
                }
                if p.is_dir() {
                    stack.push(p);
                } else {
                    files.push(p);
                }
            }
        }
        files.sort();
        for f in files {
            println!("cargo:rerun-if-changed={}", f.display());
            let rel = f
                .strip_prefix(&dir)
                .unwrap_or(&f)
                .to_string_lossy()
                .replace('\\', "/");
            let abs = f.canonicalize().unwrap_or_else(|_| f.clone());
            let _ = writeln!(
                out,
                "    ({name:?}, {rel:?}, include_bytes!({:?})),",
                abs.to_string_lossy()
            );
        }
    }
    out.push_str("];\n");
    out
}

//! Embeds the built-in scenario library (`scenarios/**/*.yaml` at the workspace root) in the
//! binary, so an installed `tokenstorm` has it, and generates one test per file.

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
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest.join("..").join("scenarios");
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
    let _ = std::fs::write(out.join("library.rs"), lib);
    let _ = std::fs::write(out.join("library_tests.rs"), tests);
}

//! `cargo package --workspace` packages every crate (publishable names, versions on the
//! workspace's path dependencies, licence, readme), and the `tokenstorm` crate carries the
//! built-in scenarios and the adapters as its own files, so `cargo install tokenstorm` has
//! them. Verification (building each crate from its package) is the release workflow's: it
//! rebuilds the dependency tree once per crate, which here would take a quarter of an hour.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

#[test]
fn every_crate_packages_and_tokenstorm_carries_its_scenarios_and_adapters() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = tempfile::tempdir().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let o = Command::new(cargo)
        .args([
            "package",
            "--workspace",
            "--no-verify",
            "--locked",
            "--allow-dirty",
        ])
        .arg("--target-dir")
        .arg(target.path())
        .current_dir(&root)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "cargo package:\n{log}");
    assert!(!log.contains("warning:"), "cargo package warned:\n{log}");
    let packages = target.path().join("package");
    for name in [
        "tokenstorm-model",
        "tokenstorm-mock-idp",
        "tokenstorm-reports",
        "tokenstorm-reference-client",
        "tokenstorm",
    ] {
        assert!(
            packages.join(format!("{name}-0.1.0.crate")).is_file(),
            "{name} was not packaged:\n{log}"
        );
    }
    let out = tempfile::tempdir().unwrap();
    let o = Command::new("tar")
        .arg("-xzf")
        .arg(packages.join("tokenstorm-0.1.0.crate"))
        .arg("-C")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(o.status.success());
    let crate_dir = out.path().join("tokenstorm-0.1.0");
    // Real folders in the package (the checkout's symbolic links, followed), with every
    // scenario of the built-in library and every adapter.
    let scenarios = crate_dir.join("scenarios");
    assert!(scenarios.is_dir() && !scenarios.is_symlink());
    let mut yaml = 0;
    let mut stack = vec![scenarios];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                yaml += 1;
            }
        }
    }
    assert_eq!(yaml, tokenstorm::library::builtin().unwrap().len());
    for adapter in tokenstorm::adapters::names() {
        assert!(
            crate_dir.join("adapters").join(adapter).is_dir(),
            "the package lacks adapters/{adapter}"
        );
    }
    for f in ["LICENSE-MIT", "LICENSE-APACHE", "README.md", "build.rs"] {
        assert!(crate_dir.join(f).is_file(), "the package lacks {f}");
    }
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("name = \"tokenstorm\""));
    assert!(manifest.contains("license = \"MIT OR Apache-2.0\""));
}

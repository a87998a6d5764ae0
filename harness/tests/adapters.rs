//! The adapters over real MSAL libraries (`adapters/msal-python`, `adapters/msal-node`) run the
//! whole built-in library through `tokenstorm run --client NAME`, installed on first use as a
//! user gets them, and every verdict is compared with the checked-in expectation: the
//! adapter's `expected-failures.yaml`, each entry with the library behaviour that explains it.
//! A new fail, a fail that went away (a stale entry), a crash or a protocol error fails the
//! test: verdicts may not change in either direction unnoticed.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// One adapter at a time: each runs 59 scenarios at once, and two at once on a small CI
/// machine would measure the machine more than the library.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn judge(adapter: &str) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let out = tempfile::tempdir().unwrap();
    let expected = root()
        .join("adapters")
        .join(adapter)
        .join("expected-failures.yaml");
    let o = Command::new(env!("CARGO_BIN_EXE_tokenstorm"))
        .args(["run", "--client", adapter, "--expected-failures"])
        .arg(&expected)
        .arg("--out")
        .arg(out.path())
        // The same cache folder the install script and a user's first run use.
        .env("TOKENSTORM_ADAPTERS_DIR", root().join("target/adapters"))
        .current_dir(root())
        .output()
        .unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap_or_default())
            .unwrap_or_else(|_| {
                panic!(
                    "{adapter}: no report.json: {}",
                    String::from_utf8_lossy(&o.stderr)
                )
            });
    let md = std::fs::read_to_string(out.path().join("report.md")).unwrap_or_default();
    let s = &report["summary"];
    assert_eq!(
        s["errors"], 0,
        "{adapter}: an adapter crashed or hung\n{md}"
    );
    assert_eq!(
        report["stale_expected_failures"]
            .as_array()
            .map_or(0, Vec::len),
        0,
        "{adapter}: a verdict improved: remove its entry from {}\n{md}",
        expected.display()
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{adapter}: a verdict changed (a fail nobody expected)\n{md}"
    );
    // The library ran for real: every scenario with the adapter's flows was applicable, and
    // the requests came from the real library (its SKU in the journal).
    assert!(s["passed"].as_u64().unwrap() > 20, "{adapter}: {s}");
    let sku = if adapter == "msal-python" {
        "MSAL.Python"
    } else {
        "msal.js.node"
    };
    let journal =
        std::fs::read_to_string(out.path().join("journal/cache-reuse-app-token.jsonl")).unwrap();
    assert!(journal.contains(sku), "{adapter}: no request carried {sku}");
}

#[test]
fn msal_python_verdicts_match_its_expectations() {
    judge("msal-python");
}

#[test]
fn msal_node_verdicts_match_its_expectations() {
    judge("msal-node");
}

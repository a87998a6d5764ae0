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

/// Observe mode on real MSAL: a plain script (no driver protocol) judged by the journal-only
/// rules. MSAL Python retries a malformed 200 at the app's next call (it throttles only
/// 429/5xx/400 responses), serves repeated needs from its cache, and was not given cp1.
#[test]
fn a_plain_msal_script_is_judged_in_observe_mode() {
    let install = Command::new("bash")
        .arg(root().join("adapters/msal-python/install.sh"))
        .arg(root().join("target/adapters/msal-python"))
        .output()
        .unwrap();
    assert!(
        install.status.success(),
        "{}",
        String::from_utf8_lossy(&install.stderr)
    );
    let python = String::from_utf8_lossy(&install.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("python=").map(str::to_string))
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_tokenstorm"))
        .args([
            "observe",
            "--quiet",
            "--scenario",
            "outage-malformed-json",
            "--out",
        ])
        .arg(out.path())
        .arg("--")
        .arg(&python)
        .arg(root().join("adapters/observe/msal_plain.py"))
        .arg("12")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(r["mode"], "observe");
    let status = |id: &str| {
        r["scenarios"][0]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["rule"] == id)
            .map(|v| v["status"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(status("robust.malformed-response"), "fail");
    assert_eq!(status("cache.reuse"), "pass");
    assert_eq!(status("cae.capable"), "fail");
    assert_eq!(status("client.liveness"), "pass");
    let journal =
        std::fs::read_to_string(out.path().join("journal/outage-malformed-json.jsonl")).unwrap();
    assert!(journal.contains("MSAL.Python"));
}

//! The driver protocol's documentation is enough to write a client: `tests/clients/from_the_doc.py`
//! was written from `docs/driver-protocol.md` alone (its messages and environment, nothing of
//! the harness's code), and `tokenstorm run` judges it like any client. This test checks that
//! what it relies on is what the document says, and that it passes the client-credentials
//! scenarios a correct cache-and-back-off app passes.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

#[test]
fn everything_the_driver_relies_on_is_in_the_document() {
    let doc = std::fs::read_to_string(root().join("docs/driver-protocol.md")).unwrap();
    let driver =
        std::fs::read_to_string(root().join("harness/tests/clients/from_the_doc.py")).unwrap();
    // The messages it reads and writes, and the variables it reads, as the document writes them.
    for (in_driver, in_doc) in [
        (
            "\"type\": \"hello\", \"protocol\": 1",
            "{\"type\":\"hello\",\"protocol\":1",
        ),
        ("\"flows\"", "\"flows\":["),
        ("\"features\"", "\"features\":["),
        (
            "\"type\": \"result\"",
            "{\"type\":\"result\",\"id\":1,\"ok\":true",
        ),
        ("\"access_token\": tok", "\"access_token\":\"...\""),
        ("\"error\"", "\"ok\":false,\"error\""),
        (
            "\"command\"",
            "{\"type\":\"command\",\"id\":1,\"op\":\"acquire_token\"",
        ),
        ("\"scopes\"", "\"scopes\":["),
        (
            "\"call_api\"",
            "\"op\":\"call_api\",\"method\":\"GET\",\"url\"",
        ),
        ("\"shutdown\"", "\"op\":\"shutdown\""),
        ("TOKENSTORM_AUTHORITY", "`TOKENSTORM_AUTHORITY`"),
        ("/oauth2/v2.0/token", "`oauth2/v2.0/token`"),
        ("TOKENSTORM_CLIENT_ID", "`TOKENSTORM_CLIENT_ID`"),
        ("TOKENSTORM_CLIENT_SECRET", "`TOKENSTORM_CLIENT_SECRET`"),
        ("TOKENSTORM_CA_BUNDLE", "`TOKENSTORM_CA_BUNDLE`"),
        ("TOKENSTORM_SCOPES", "`TOKENSTORM_SCOPES`"),
    ] {
        assert!(
            driver.contains(in_driver),
            "the driver no longer uses {in_driver}"
        );
        assert!(
            doc.contains(in_doc),
            "docs/driver-protocol.md does not say {in_doc}"
        );
    }
}

#[test]
fn a_driver_written_from_the_document_alone_is_judged_and_passes() {
    let out = tempfile::tempdir().unwrap();
    let driver = root().join("harness/tests/clients/from_the_doc.py");
    let mut args = vec![
        "run".to_string(),
        "--client-cmd".into(),
        format!("python3 {}", driver.display()),
        "--out".into(),
        out.path().display().to_string(),
    ];
    for s in [
        "cache-reuse-app-token",
        "cache-per-scope-app",
        "throttle-429-short",
        "throttle-503-retry-after",
        "graph-503-no-retry-after",
        "tokens-opaque-app",
    ] {
        args.extend(["--scenarios".to_string(), s.to_string()]);
    }
    let o = Command::new(env!("CARGO_BIN_EXE_tokenstorm"))
        .args(&args)
        .output()
        .unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    let md = std::fs::read_to_string(out.path().join("report.md")).unwrap_or_default();
    assert_eq!(o.status.code(), Some(0), "{md}");
    let scenarios = report["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 6);
    for sc in scenarios {
        // Judged (not skipped as not applicable, not an error): every rule pass or n/a.
        assert_eq!(sc["verdict"], "pass", "{}: {md}", sc["name"]);
        assert!(sc["requests"].as_u64().unwrap() > 0, "{}", sc["name"]);
        assert!(sc["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["status"] == "pass"));
    }
}

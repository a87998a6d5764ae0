//! `--impersonate` as a user runs it: apps of several runtimes, told nothing about tokenstorm,
//! reach Entra by its real name through the proxy and trust the run's CA by the variables
//! tokenstorm sets (curl, Python, a JVM), or reach the managed-identity endpoint (Node); and
//! `run --impersonate` drives the reference client at Entra's and Graph's real names with the
//! same verdicts.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn tokenstorm(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tokenstorm"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn journal(out: &Path) -> Vec<serde_json::Value> {
    let dir = out.join("journal");
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".jsonl") && !name.ends_with(".transcript.jsonl") {
            for line in std::fs::read_to_string(e.path()).unwrap().lines() {
                v.push(serde_json::from_str(line).unwrap());
            }
        }
    }
    v
}

#[test]
fn every_runtime_reaches_entra_by_its_real_name_and_trusts_the_run() {
    let out = tempfile::tempdir().unwrap();
    let app = root().join("harness/tests/clients/impersonation/fetch.sh");
    let o = tokenstorm(&[
        "observe",
        "--impersonate",
        "--timeout",
        "90s",
        "--out",
        out.path().to_str().unwrap(),
        "--",
        "bash",
        app.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    // Java, Python, Node and curl are on every machine this project's CI runs on.
    let want = [
        "app| curl 200",
        "app| python 200",
        "app| node 200",
        "app| java 200",
    ];
    for w in &want {
        assert!(stderr.contains(w), "no {w:?} in:\n{stderr}");
    }
    // Each request reached the mock, under the tenant the app named.
    let j = journal(out.path());
    let discovery = j
        .iter()
        .filter(|e| e["endpoint"] == "discovery")
        .filter(|e| e["tenant"] == "72f988bf-86f1-41af-91ab-2d7cd011db47")
        .count();
    assert_eq!(discovery, want.len() - 1, "{j:#?}");
    assert!(j
        .iter()
        .any(|e| e["grant_type"] == "managed_identity" && e["status"] == 200));
}

#[test]
fn run_impersonate_judges_the_reference_client_at_entras_names() {
    let out = tempfile::tempdir().unwrap();
    let o = tokenstorm(&[
        "run",
        "--impersonate",
        "--filter",
        "cache-per-scope",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The sign-in went to Entra's real name (the harness's browser went through the proxy too).
    let transcript: String = std::fs::read_dir(out.path().join("journal"))
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .ends_with(".transcript.jsonl")
        })
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    assert!(
        transcript.contains("https://login.microsoftonline.com/"),
        "{transcript}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    assert!(
        report["summary"]["passed"].as_u64().unwrap() >= 2,
        "{report}"
    );
}

/// azure-identity, as pinned by its adapter (installed here as a user's first run would).
fn azure_identity_python() -> std::path::PathBuf {
    let dest = root().join("target/adapters/azure-identity-python");
    let o = Command::new("bash")
        .arg(root().join("adapters/azure-identity-python/install.sh"))
        .arg(&dest)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    dest.join("venv/bin/python")
}

fn verdict<'a>(report: &'a serde_json::Value, rule: &str) -> &'a serde_json::Value {
    report["scenarios"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule} verdict: {report}"))
}

/// A daemon on azure-identity, unmodified and with real-looking tenant and client ids and no
/// authority host, is judged through impersonation: its requests reach the mock under its own
/// tenant, and Retry-After is judged; the same daemon as a managed identity too.
#[test]
fn an_unmodified_azure_identity_daemon_is_judged() {
    let python = azure_identity_python();
    let app = root().join("harness/tests/clients/unmodified/daemon.py");
    let run = |mode: &str, out: &Path| {
        let o = Command::new(env!("CARGO_BIN_EXE_tokenstorm"))
            .args([
                "observe",
                "--impersonate",
                "--quiet",
                "--scenario",
                "throttle-429-short",
                "--timeout",
                "60s",
                "--out",
            ])
            .arg(out)
            .arg("--")
            .arg(&python)
            .arg(&app)
            .arg(mode)
            .env("AZURE_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47")
            .env("AZURE_CLIENT_ID", "0f6b2a51-3c7e-4d5f-9a8b-1c2d3e4f5a6b")
            .env("AZURE_CLIENT_SECRET", "a-secret-the-app-was-given")
            .env_remove("AZURE_AUTHORITY_HOST")
            .current_dir(root())
            .output()
            .unwrap();
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap_or_default())
                .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&o.stderr)));
        report
    };
    let dir = tempfile::tempdir().unwrap();
    let (secret, mi) = std::thread::scope(|s| {
        let a = s.spawn(|| run("secret", &dir.path().join("secret")));
        let b = s.spawn(|| run("mi", &dir.path().join("mi")));
        (a.join().unwrap(), b.join().unwrap())
    });
    // Client secret: the token requests went to the app's own tenant, throttled twice, and
    // azure-core slept Retry-After out.
    let j = journal(&dir.path().join("secret"));
    let tokens: Vec<_> = j
        .iter()
        .filter(|e| e["endpoint"] == "token")
        .filter(|e| e["tenant"] == "72f988bf-86f1-41af-91ab-2d7cd011db47")
        .collect();
    assert!(
        tokens.iter().filter(|e| e["status"] == 429).count() >= 2,
        "{j:#?}"
    );
    assert!(tokens.iter().any(|e| e["status"] == 200), "{j:#?}");
    assert_eq!(verdict(&secret, "throttle.retry-after")["status"], "pass");
    // Managed identity: App Service's endpoint, the same faults, the same rule.
    let j = journal(&dir.path().join("mi"));
    assert!(
        j.iter()
            .any(|e| e["grant_type"] == "managed_identity" && e["status"] == 200),
        "{j:#?}"
    );
    assert!(j.iter().any(|e| e["status"] == 429), "{j:#?}");
    assert_eq!(verdict(&mi, "throttle.retry-after")["status"], "pass");
}

/// @azure/identity for JavaScript, as pinned by its adapter (installed here as a user's first
/// run would); returns its `node_modules`.
fn azure_identity_js() -> std::path::PathBuf {
    let dest = root().join("target/adapters/azure-identity-js");
    let o = Command::new("bash")
        .arg(root().join("adapters/azure-identity-js/install.sh"))
        .arg(&dest)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    dest.join("node_modules")
}

/// A Node daemon on @azure/identity, unmodified (EnvironmentCredential from the usual three
/// variables, real-looking ids, no authority host), is judged by `observe --impersonate`: its
/// token requests reach the mock at Entra's name under its own tenant, from msal-node under
/// @azure/identity, and azure-core's retry policy sleeps Retry-After out.
#[test]
fn an_unmodified_node_azure_identity_daemon_is_judged_by_observe_impersonate() {
    let node_modules = azure_identity_js();
    let dir = tempfile::tempdir().unwrap();
    // The app's own folder, its dependencies beside it as `npm install` would leave them (an
    // ES module resolves bare imports from the node_modules folders above it, not NODE_PATH).
    std::os::unix::fs::symlink(&node_modules, dir.path().join("node_modules")).unwrap();
    std::fs::write(
        dir.path().join("app.mjs"),
        r#"// A daemon as teams write it: EnvironmentCredential, a Graph token every second.
import { EnvironmentCredential } from "@azure/identity";

const credential = new EnvironmentCredential();
for (let i = 0; i < 5; i++) {
  try {
    await credential.getToken("https://graph.microsoft.com/.default");
    console.log("got a token");
  } catch (e) {
    console.log("no token:", e.name); // the app logs and carries on
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
}
"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_tokenstorm"))
        .args([
            "observe",
            "--impersonate",
            "--quiet",
            "--scenario",
            "throttle-429-short",
            "--timeout",
            "60s",
            "--out",
        ])
        .arg(&out)
        .args(["--", "node", "app.mjs"])
        .env("AZURE_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47")
        .env("AZURE_CLIENT_ID", "0f6b2a51-3c7e-4d5f-9a8b-1c2d3e4f5a6b")
        .env("AZURE_CLIENT_SECRET", "a-secret-the-app-was-given")
        .env_remove("AZURE_AUTHORITY_HOST")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap_or_default())
            .unwrap_or_else(|_| panic!("{stderr}"));
    // The token requests went to the app's own tenant at Entra's name, sent by msal-node
    // (its x-client-SKU: msal.js.node) under @azure/identity, throttled twice, then a token.
    let j = journal(&out);
    let tokens: Vec<_> = j
        .iter()
        .filter(|e| e["endpoint"] == "token")
        .filter(|e| e["tenant"] == "72f988bf-86f1-41af-91ab-2d7cd011db47")
        .filter(|e| e["grant_type"] == "client_credentials")
        .collect();
    assert!(
        tokens.iter().all(|e| e["client_sku"] == "msal.js.node"),
        "{j:#?}"
    );
    assert!(
        tokens.iter().filter(|e| e["status"] == 429).count() >= 2,
        "{j:#?}"
    );
    assert!(tokens.iter().any(|e| e["status"] == 200), "{j:#?}");
    // azure-core's throttlingRetryStrategy slept Retry-After out inside the first getToken.
    assert_eq!(
        verdict(&report, "throttle.retry-after")["status"],
        "pass",
        "{report}"
    );
}

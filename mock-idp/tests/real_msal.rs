//! Unmodified MSAL for Python (1.39.0) and MSAL for Node (7.2.3), installed from their
//! registries by `scripts/install-real-clients.sh`, run against the real mock over TLS: client
//! credentials (second call from their cache), auth code + PKCE done headlessly, silent from
//! cache, forced silent refresh, device code, and the `cp1` capability with a claims challenge.
//! Their answers are checked, and so is what reached the mock, from its journal.
#![allow(clippy::unwrap_used)]

use model::{Endpoint, GrantType, JournalEntry, TokenKind};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokenstorm_mock_idp::{MockIdp, Options};
use tokio::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Installs (or finds, when cached) the pinned libraries; returns (python, node_modules).
async fn install() -> (PathBuf, PathBuf) {
    let out = Command::new("bash")
        .arg(repo().join("scripts/install-real-clients.sh"))
        .output()
        .await
        .expect("run install-real-clients.sh");
    assert!(
        out.status.success(),
        "install-real-clients.sh failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let get = |k: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("no {k}= line in {stdout}"))
    };
    (get("python"), get("node_modules"))
}

/// Runs a check script; returns its JSON lines by flow.
async fn run(mut cmd: Command, what: &str) -> HashMap<String, Value> {
    cmd.kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(180), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{what} timed out"))
        .unwrap_or_else(|e| panic!("{what} did not start: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    let mut flows = HashMap::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{what}: non-JSON line {line:?}: {e}"));
        assert_eq!(v["ok"], true, "{what}: {v}\nstderr:\n{stderr}");
        flows.insert(v["flow"].as_str().unwrap().to_string(), v);
    }
    for f in ["cc", "authcode", "device", "cp1"] {
        assert!(flows.contains_key(f), "{what}: flow {f} missing:\n{stdout}");
    }
    flows
}

fn tokens(j: &[JournalEntry], grant: GrantType) -> Vec<&JournalEntry> {
    j.iter()
        .filter(|e| e.endpoint == Endpoint::Token && e.grant_type.as_ref() == Some(&grant))
        .collect()
}

/// What every library must have sent, judged from the mock's journal.
fn check_journal(idp: &MockIdp, prefix: &str, flows: &HashMap<String, Value>) {
    // Client credentials: the second call came from MSAL's cache, so one token request.
    let j = idp.journal_for(&format!("{prefix}-cc"));
    let cc = tokens(&j, GrantType::ClientCredentials);
    assert_eq!(cc.len(), 1, "{prefix}-cc: {j:#?}");
    assert_eq!(cc[0].status, 200);
    assert_eq!(flows["cc"]["same_token"], true);

    // Auth code: one authorize (PKCE), one redemption, one forced refresh; silent used the cache.
    let j = idp.journal_for(&format!("{prefix}-authcode"));
    let authz: Vec<_> = j
        .iter()
        .filter(|e| e.endpoint == Endpoint::Authorize)
        .collect();
    assert_eq!(authz.len(), 1, "{prefix}-authcode: {j:#?}");
    assert_eq!(authz[0].status, 302);
    let codes = tokens(&j, GrantType::AuthorizationCode);
    assert_eq!(codes.len(), 1);
    assert_eq!(codes[0].status, 200);
    assert!(codes[0].issued_of(TokenKind::Id).is_some());
    let refreshes = tokens(&j, GrantType::RefreshToken);
    assert_eq!(refreshes.len(), 1, "forced refresh only: {j:#?}");
    assert_eq!(refreshes[0].status, 200);
    // The refresh presented the refresh token the redemption issued.
    assert_eq!(
        refreshes[0].presented.as_ref().unwrap().fingerprint,
        codes[0].issued_of(TokenKind::Refresh).unwrap().fingerprint
    );
    let f = &flows["authcode"];
    assert_eq!(f["silent_same"], true);
    assert_eq!(f["forced_new"], true);
    assert_eq!(f["location_had_client_info"], true);
    assert_eq!(f["id_token_oid"], idp.ready().user.oid.as_str());
    assert_eq!(f["username"], idp.ready().user.username.as_str());

    // Device code: started, approved by the user, redeemed.
    let j = idp.journal_for(&format!("{prefix}-device"));
    assert_eq!(
        j.iter()
            .filter(|e| e.endpoint == Endpoint::Devicecode)
            .count(),
        1
    );
    let polls = tokens(&j, GrantType::DeviceCode);
    assert!(polls.iter().any(|e| e.status == 200), "{j:#?}");
    assert_eq!(flows["device"]["has_access_token"], true);

    // cp1: declared on every token request, echoed in the token; the challenge bypassed the
    // cache and its claims reached the mock merged with xms_cc.
    let j = idp.journal_for(&format!("{prefix}-cp1"));
    let cc = tokens(&j, GrantType::ClientCredentials);
    assert_eq!(cc.len(), 2, "{prefix}-cp1: {j:#?}");
    for e in &cc {
        assert_eq!(e.client_capabilities, vec!["cp1"]);
        assert!(e.issued_of(TokenKind::Access).unwrap().cae);
    }
    let claims = cc[1].claims.as_ref().unwrap();
    assert_eq!(claims["access_token"]["nbf"]["essential"], true, "{claims}");
    assert_eq!(flows["cp1"]["xms_cc"], serde_json::json!(["cp1"]));
    assert_eq!(flows["cp1"]["challenge_new_token"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmodified_msal_python_and_node_work_against_the_mock() {
    let (python, node_modules) = install().await;
    let idp = MockIdp::start(Options::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready.json");
    idp.write_ready_file(&ready).unwrap();
    let scripts = repo().join("scripts/real-clients");

    let mut py = Command::new(&python);
    py.arg(scripts.join("msal_check.py")).arg(&ready);
    let mut node = Command::new("node");
    node.arg(scripts.join("msal_check.mjs"))
        .arg(&ready)
        .env("TOKENSTORM_NODE_MODULES", &node_modules);
    let (py_flows, node_flows) = tokio::join!(run(py, "msal-python"), run(node, "msal-node"));

    assert_eq!(py_flows["cc"]["second_source"], "cache");
    assert_eq!(py_flows["authcode"]["silent_source"], "cache");
    assert_eq!(node_flows["cc"]["second_from_cache"], true);
    assert_eq!(node_flows["authcode"]["silent_from_cache"], true);
    check_journal(&idp, "py", &py_flows);
    check_journal(&idp, "node", &node_flows);

    // The libraries identify themselves where msal-wire.md says: Python in headers, Node in
    // the form body; both end up in the journal.
    let sku = |t: &str| {
        idp.journal_for(t)
            .into_iter()
            .find(|e| e.endpoint == Endpoint::Token)
            .and_then(|e| e.client_sku)
            .unwrap_or_default()
    };
    assert_eq!(sku("py-cc"), "MSAL.Python");
    assert_eq!(sku("node-cc"), "msal.js.node");
}

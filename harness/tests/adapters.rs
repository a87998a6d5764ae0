//! The adapters over real MSAL libraries (`adapters/msal-python`, `adapters/msal-node`,
//! `adapters/msal-go`, `adapters/msal-browser`, `adapters/msal-java`, and azure-identity for
//! Python and JavaScript over them) run the whole built-in
//! library through `tokenstorm run --client NAME` (with the adapter's own `adapter.json`
//! defaults), installed on first use as a user gets them, and every verdict is compared with the
//! checked-in expectation: the adapter's `expected-failures.yaml`, each entry with the library
//! behaviour that explains it.
//! A new fail, a fail that went away (a stale entry), a crash or a protocol error fails the
//! test: verdicts may not change in either direction unnoticed.
#![allow(clippy::unwrap_used)]

#[path = "common/verdict_table.rs"]
mod verdict_table;
use std::path::Path;
use std::process::Command;
use verdict_table::verdict_table;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// Adapters whose drivers are light (a Python, Node or Go process per scenario: msal-python,
/// msal-node, msal-go, azure-identity-python, azure-identity-js; idle most of the time, waiting
/// on the scenario's clock) run side by side, which keeps the suite's wall time down; a heavy
/// one (a browser or a JVM per scenario) runs alone, since two at once on a small CI machine
/// would measure the machine more than the library.
static MACHINE: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// The adapter's turn on the machine: a heavy one (a browser or a JVM per scenario) alone, the
/// others side by side. Held until the returned guard drops.
enum Turn {
    Alone(#[allow(dead_code)] std::sync::RwLockWriteGuard<'static, ()>),
    Shared(#[allow(dead_code)] std::sync::RwLockReadGuard<'static, ()>),
}

fn machine_turn(adapter: &str) -> Turn {
    if matches!(adapter, "msal-browser" | "msal-java") {
        Turn::Alone(MACHINE.write().unwrap_or_else(|p| p.into_inner()))
    } else {
        Turn::Shared(MACHINE.read().unwrap_or_else(|p| p.into_inner()))
    }
}

fn judge(adapter: &str) {
    judge_mode(adapter, None);
}

/// One adapter over the whole library; `mode` names another way of running it: the driver
/// gets `TOKENSTORM_<ADAPTER>_MODE`-style variables from the pair (name, value) and the
/// expectations are `expected-failures-<value>.yaml` and `verdicts-<value>.txt`.
fn judge_mode(adapter: &str, mode: Option<(&str, &str)>) {
    let _turn = machine_turn(adapter);
    let suffix = mode.map(|(_, v)| format!("-{}", v.replace('_', "-")));
    let suffix = suffix.as_deref().unwrap_or("");
    // Kept after the run (replaced by the next): when a verdict that depends on timing takes
    // its other state, its journals and transcript are the evidence to judge the rule by.
    let out = root().join(format!("target/adapter-reports/{adapter}{suffix}"));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let expected = root()
        .join("adapters")
        .join(adapter)
        .join(format!("expected-failures{suffix}.yaml"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokenstorm"));
    if let Some((k, v)) = mode {
        cmd.env(k, v);
    }
    let o = cmd
        .args(["run", "--client", adapter, "--expected-failures"])
        .arg(&expected)
        .arg("--out")
        .arg(&out)
        // The same cache folder the install script and a user's first run use.
        .env("TOKENSTORM_ADAPTERS_DIR", root().join("target/adapters"))
        .current_dir(root())
        .output()
        .unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap_or_default())
            .unwrap_or_else(|_| {
                panic!(
                    "{adapter}: no report.json: {}",
                    String::from_utf8_lossy(&o.stderr)
                )
            });
    let md = std::fs::read_to_string(out.join("report.md")).unwrap_or_default();
    let s = &report["summary"];
    assert_eq!(
        s["errors"], 0,
        "{adapter}: an adapter crashed or hung\n{md}"
    );
    // The entries first: a CI log cut short still names them.
    let stale: Vec<String> = report["stale_expected_failures"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| format!("{} / {} / {}", e["scenario"], e["rule"], e["cause"]))
        .collect();
    assert!(
        stale.is_empty(),
        "{adapter}: a verdict improved: remove these entries from {} (or mark them unstable): {}\n{md}",
        expected.display(),
        stale.join("; ")
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{adapter}: a verdict changed (a fail nobody expected)\n{md}"
    );
    // The whole verdict table, scenario by rule, against the checked-in one: a verdict that
    // turns not applicable, a pass that becomes a fail for an accepted cause, a scenario that
    // stops running, all show. Rows an `unstable` entry covers may be a pass or a fail for the
    // entry's cause.
    let table = verdict_table(&report);
    let path = root()
        .join("adapters")
        .join(adapter)
        .join(format!("verdicts{suffix}.txt"));
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    if std::env::var_os("TOKENSTORM_BLESS").is_some() {
        std::fs::write(&path, merge_tables(&want, &table)).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    let unstable = unstable_rows(&expected);
    let differ: Vec<String> = pair_rows(&want, &table)
        .into_iter()
        .filter(|(w, g)| !same_row(w, g, &unstable))
        .map(|(w, g)| format!("  expected {w:?}\n  got      {g:?}"))
        .collect();
    assert!(
        differ.is_empty(),
        "{adapter}: the verdict table differs from {} (TOKENSTORM_BLESS=1 adds the new states \
         after a reviewed change):\n{}\n{md}",
        path.display(),
        differ.join("\n")
    );
    // The library ran for real: every scenario with the adapter's flows was applicable, and
    // the requests came from the real library (its SKU in the journal).
    // (A managed identity has one flow: fewer scenarios apply.)
    let least = if mode.is_some() { 15 } else { 20 };
    assert!(s["passed"].as_u64().unwrap() > least, "{adapter}: {s}");
    let sku = match adapter {
        "msal-python" => "MSAL.Python",
        "msal-node" => "msal.js.node",
        "msal-go" => "MSAL.Go",
        "msal-java" => "MSAL.Java",
        "msal-browser" => "msal.js.browser",
        // azure-identity's own requests (discovery) name it; its token requests are MSAL's.
        "azure-identity-python" => "azsdk-python-identity",
        // @azure/identity's user agent; msal-node's token requests carry msal.js.node as their
        // SKU, but its device-code requests (no x-client-SKU) name it.
        "azure-identity-js" => "azsdk-js-identity",
        other => panic!("no SKU known for {other}"),
    };
    // Every journal of the run, whichever flows the adapter has.
    let journal: String = std::fs::read_dir(out.join("journal"))
        .unwrap()
        .flatten()
        .filter(|e| {
            !e.file_name()
                .to_string_lossy()
                .ends_with(".transcript.jsonl")
        })
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(journal.contains(sku), "{adapter}: no request carried {sku}");
}

/// `scenario rule`: a row's key.
fn row_id(r: &str) -> String {
    r.split(' ').take(2).collect::<Vec<_>>().join(" ")
}

/// A row's states: `status causes`, alternatives separated by ` | ` (states seen in earlier runs
/// of a verdict that depends on timing).
fn row_states(r: &str) -> Vec<String> {
    let rest: String = r.splitn(3, ' ').nth(2).unwrap_or_default().to_string();
    rest.split(" | ").map(|s| s.trim().to_string()).collect()
}

/// The checked-in table with this run's states added.
fn merge_tables(want: &str, got: &str) -> String {
    let mut rows: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for r in want
        .lines()
        .chain(got.lines())
        .filter(|l| !l.trim().is_empty())
    {
        let states = rows.entry(row_id(r)).or_default();
        for st in row_states(r) {
            if !states.contains(&st) {
                states.push(st);
            }
        }
    }
    rows.into_iter()
        .map(|(id, mut st)| {
            st.sort();
            format!("{id} {}\n", st.join(" | "))
        })
        .collect()
}

/// (scenario, rule, cause) of the expected-failures file's unstable entries.
fn unstable_rows(expected: &Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(expected).unwrap();
    let entries: Vec<serde_json::Value> = serde_saphyr::from_str(&text).unwrap();
    entries
        .iter()
        .filter(|e| e["unstable"] == true)
        .map(|e| {
            (
                e["scenario"].as_str().unwrap().to_string(),
                // An `inconclusive` entry names no rule or cause.
                e["rule"].as_str().unwrap_or_default().to_string(),
                e["cause"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// A row matches when this run's state is one the table lists, or when unstable entries cover
/// it and a listed state: a pass, or a fail for causes the unstable entries of that scenario and
/// rule name.
fn same_row(want: &str, got: &str, unstable: &[(String, String, String)]) -> bool {
    if row_id(want) != row_id(got) || want.ends_with("(missing)") || got.ends_with("(missing)") {
        return false;
    }
    let id = row_id(want);
    let (scenario, rule) = id.split_once(' ').unwrap_or_default();
    let got_state = row_states(got).pop().unwrap_or_default();
    let wanted = row_states(want);
    if wanted.contains(&got_state) {
        return true;
    }
    // A rule that found nothing to judge in this run (its situation didn't arise: a client that
    // started slowly on a busy machine missed a fault window) says nothing either way. Whole
    // scenarios turning not applicable (a flow or feature lost) are compared strictly, by their
    // `outcome` rows.
    if rule != "outcome" && got_state == "not_applicable -" {
        return true;
    }
    let covered = |state: &str| {
        let (status, causes) = state.split_once(' ').unwrap_or((state, "-"));
        status == "pass"
            || status == "fail"
                && causes.split(',').all(|c| {
                    unstable
                        .iter()
                        .any(|(s, r, u)| s == scenario && r == rule && u == c)
                })
    };
    covered(&got_state) && wanted.iter().any(|w| covered(w))
}

/// Pairs the rows of the two tables by scenario and rule, so a missing or extra row shows.
fn pair_rows(want: &str, got: &str) -> Vec<(String, String)> {
    let lines = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect()
    };
    let (want, got) = (lines(want), lines(got));
    let mut out = Vec::new();
    for w in &want {
        let g = got
            .iter()
            .find(|g| row_id(g) == row_id(w))
            .cloned()
            .unwrap_or_else(|| format!("{} (missing)", row_id(w)));
        out.push((w.clone(), g));
    }
    for g in got
        .iter()
        .filter(|g| !want.iter().any(|w| row_id(w) == row_id(g)))
    {
        out.push((format!("{} (missing)", row_id(g)), g.clone()));
    }
    out
}

/// Every entry of every expected-failures file names a fail its verdict table has seen: an entry
/// whose rule only ever passes or finds nothing to judge (which the run itself can't call out of
/// date) is a reason nobody can check. An unstable entry needs its fail in the table too, once.
#[test]
fn every_expected_failure_is_a_fail_its_verdict_table_records() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for dir in std::fs::read_dir(root().join("adapters"))
        .unwrap()
        .flatten()
    {
        if !dir.path().is_dir() {
            continue;
        }
        for file in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let name = file.file_name().to_string_lossy().to_string();
            let Some(mode) = name
                .strip_prefix("expected-failures")
                .and_then(|m| m.strip_suffix(".yaml"))
            else {
                continue;
            };
            let table = std::fs::read_to_string(dir.path().join(format!("verdicts{mode}.txt")))
                .unwrap_or_default();
            let text = std::fs::read_to_string(file.path()).unwrap();
            let entries: Vec<serde_json::Value> = serde_saphyr::from_str(&text).unwrap();
            for e in entries
                .iter()
                .filter(|e| e["inconclusive"] != true && e["unstable"] != true)
            {
                let (scenario, rule, cause) = (
                    e["scenario"].as_str().unwrap(),
                    e["rule"].as_str().unwrap(),
                    e["cause"].as_str().unwrap(),
                );
                checked += 1;
                let row = table
                    .lines()
                    .find(|r| row_id(r) == format!("{scenario} {rule}"));
                let seen = row.is_some_and(|r| {
                    row_states(r).iter().any(|st| {
                        st.split_once(' ').is_some_and(|(status, causes)| {
                            status == "fail" && causes.split(',').any(|c| c == cause)
                        })
                    })
                });
                if !seen {
                    problems.push(format!(
                        "{}/{name}: {scenario} / {rule} / {cause}: the table has {:?}",
                        dir.file_name().to_string_lossy(),
                        row.unwrap_or("no row")
                    ));
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} entries found");
    assert!(
        problems.is_empty(),
        "entries for fails no verdict table records (remove them, or bless the table):\n{}",
        problems.join("\n")
    );
}

#[test]
fn msal_python_verdicts_match_its_expectations() {
    judge("msal-python");
}

#[test]
fn msal_node_verdicts_match_its_expectations() {
    judge("msal-node");
}

#[test]
fn msal_go_verdicts_match_its_expectations() {
    judge("msal-go");
}

#[test]
fn msal_browser_verdicts_match_its_expectations() {
    judge("msal-browser");
}

#[test]
fn msal_java_verdicts_match_its_expectations() {
    judge("msal-java");
}

/// azure-identity for Python, run at Entra's real names with its defaults (its adapter.json
/// asks for impersonation).
#[test]
fn azure_identity_python_verdicts_match_its_expectations() {
    judge("azure-identity-python");
}

/// azure-identity's `ManagedIdentityCredential` with its defaults (the App Service endpoint the
/// run gives in `IDENTITY_ENDPOINT`/`IDENTITY_HEADER`), judged over the library like any client.
#[test]
fn azure_identity_python_as_a_managed_identity_verdicts_match_its_expectations() {
    judge_mode(
        "azure-identity-python",
        Some(("TOKENSTORM_AZURE_CREDENTIAL", "managed_identity")),
    );
}

/// @azure/identity for JavaScript, run at Entra's real names with its defaults (its adapter.json
/// asks for impersonation).
#[test]
fn azure_identity_js_verdicts_match_its_expectations() {
    judge("azure-identity-js");
}

/// @azure/identity's `ManagedIdentityCredential` with its defaults (msal-node's App Service
/// source, at the endpoint the run gives in `IDENTITY_ENDPOINT`/`IDENTITY_HEADER`), judged over
/// the library like any client.
#[test]
fn azure_identity_js_as_a_managed_identity_verdicts_match_its_expectations() {
    judge_mode(
        "azure-identity-js",
        Some(("TOKENSTORM_AZURE_CREDENTIAL", "managed_identity")),
    );
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

/// An adapter with its library's defaults, at Entra's and Graph's real names
/// (`--impersonate`): a few scenarios of each kind (cache, throttling, a sign-in, a claims
/// challenge) give the verdicts of the checked-in table (the run at the mock's own address).
fn judge_impersonated(adapter: &str, scenarios: &[&str]) {
    let _turn = machine_turn(adapter);
    let out = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokenstorm"));
    cmd.args(["run", "--impersonate", "--client", adapter, "--out"])
        .arg(out.path())
        .env("TOKENSTORM_ADAPTERS_DIR", root().join("target/adapters"))
        .current_dir(root());
    for s in scenarios {
        let origin = tokenstorm::library::builtin()
            .unwrap()
            .into_iter()
            .find(|l| l.scenario.name.value == *s)
            .unwrap_or_else(|| panic!("no built-in scenario {s}"))
            .origin;
        let file = origin.trim_start_matches("builtin:");
        cmd.arg("--scenarios")
            .arg(root().join("scenarios").join(file));
    }
    let o = cmd.output().unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap_or_default())
            .unwrap_or_else(|_| panic!("{adapter}: {}", String::from_utf8_lossy(&o.stderr)));
    assert_eq!(report["summary"]["errors"], 0, "{report}");
    assert_eq!(
        report["scenarios"].as_array().unwrap().len(),
        scenarios.len()
    );
    let got = verdict_table(&report);
    let want = std::fs::read_to_string(root().join("adapters").join(adapter).join("verdicts.txt"))
        .unwrap();
    let unstable = unstable_rows(
        &root()
            .join("adapters")
            .join(adapter)
            .join("expected-failures.yaml"),
    );
    let want: String = want
        .lines()
        .filter(|l| scenarios.iter().any(|s| l.starts_with(&format!("{s} "))))
        .map(|l| format!("{l}\n"))
        .collect();
    let differ: Vec<String> = pair_rows(&want, &got)
        .into_iter()
        .filter(|(w, g)| !same_row(w, g, &unstable))
        .map(|(w, g)| format!("  expected {w:?}\n  got      {g:?}"))
        .collect();
    assert!(
        differ.is_empty(),
        "{adapter} at Entra's real names judges otherwise than at the mock's address:\n{}",
        differ.join("\n")
    );
    // It reached the mock only by those names: every sign-in URL the harness's browser was
    // asked to open names login.microsoftonline.com.
    for e in std::fs::read_dir(out.path().join("journal"))
        .unwrap()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".transcript.jsonl") {
            continue;
        }
        let t = std::fs::read_to_string(e.path()).unwrap_or_default();
        if let Some(line) = t.lines().find(|l| l.contains("https://127.0.0.1:")) {
            panic!("{adapter} was told the mock's own address, in {name}: {line}");
        }
    }
}

#[test]
fn msal_python_with_its_defaults_at_entras_real_names() {
    judge_impersonated(
        "msal-python",
        &[
            "cache-reuse-app-token",
            "throttle-429-short",
            "silent-revoked-rt-prompt-none",
            "cae-revocation-challenge",
        ],
    );
}

#[test]
fn msal_go_with_its_defaults_at_entras_real_names() {
    judge_impersonated(
        "msal-go",
        &[
            "cache-reuse-app-token",
            "throttle-429-short",
            "silent-revoked-rt-prompt-none",
            "cae-revocation-challenge",
        ],
    );
}

/// msal-node has no proxy setting since v5 (it sends with the global `fetch`): its driver, like
/// a Node 20 app behind a proxy, routes `fetch` through undici's `EnvHttpProxyAgent`; msal-node
/// itself keeps its defaults (no `knownAuthorities`).
#[test]
fn msal_node_with_its_defaults_at_entras_real_names() {
    judge_impersonated(
        "msal-node",
        &[
            "cache-reuse-app-token",
            "throttle-429-short",
            "silent-revoked-rt-prompt-none",
            "cae-revocation-challenge",
        ],
    );
}

/// msal4j with its defaults (instance discovery on, no metadata given): the JVM reaches Entra's
/// names through the proxy and trusts the run by the `JAVA_TOOL_OPTIONS` tokenstorm sets.
#[test]
fn msal_java_with_its_defaults_at_entras_real_names() {
    judge_impersonated(
        "msal-java",
        &[
            "cache-reuse-app-token",
            "throttle-429-short",
            "silent-revoked-rt-prompt-none",
            "cae-revocation-challenge",
        ],
    );
}

/// MSAL.js in Chromium with its defaults (no `knownAuthorities`: it runs instance discovery at
/// login.microsoftonline.com): Chromium reaches Entra's and Graph's names through the proxy
/// (`--proxy-server`) and trusts only the run's leaf key. The scenarios are the user-token
/// ones, since MSAL.js has no app-only flow.
#[test]
fn msal_browser_with_its_defaults_at_entras_real_names() {
    judge_impersonated(
        "msal-browser",
        &[
            "cache-reuse-user-token",
            "throttle-429-refresh-user",
            "silent-revoked-rt-prompt-none",
            "cae-revocation-challenge",
        ],
    );
}

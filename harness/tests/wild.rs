//! The verdicts themselves under test, with a client written apart from the reference client
//! (`tests/clients/wild.py`): each wrong behaviour fails the rule it breaks, for the cause it
//! breaks, with evidence; the conformant mode (an MSAL-like 300 s expiry buffer, so short tokens
//! are renewed at every need) passes every rule of the same scenarios.
#![allow(clippy::unwrap_used)]

use mock_idp::{MockIdp, Options};
use model::verdict::{Status, Verdict};
use tokenstorm::rules::{judge, Input};
use tokenstorm::runner::{run_scenario, ClientCommand, Outcome, RunOptions};

fn builtin(name: &str) -> model::scenario::Scenario {
    tokenstorm::library::builtin()
        .unwrap()
        .into_iter()
        .find(|l| l.scenario.name.value == name)
        .unwrap_or_else(|| panic!("no built-in scenario {name}"))
        .scenario
}

async fn run(idp: &MockIdp, mode: &str, scenario: &str) -> (Outcome, Vec<Verdict>) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/wild.py");
    let client = ClientCommand {
        program: "python3".into(),
        args: vec![script.into(), mode.into()],
    };
    let opts = RunOptions {
        shutdown_grace: std::time::Duration::from_secs(3),
        ..RunOptions::default()
    };
    let r = run_scenario(idp, &builtin(scenario), &client, &opts).await;
    let v = judge(&Input::of(&r, false));
    (r.outcome, v)
}

/// (mode, scenario, rule, cause that must be among the fail's causes)
const BREACHES: &[(&str, &str, &str, &str)] = &[
    (
        "refuses",
        "throttle-429-short",
        "client.outcome",
        "no-recovery",
    ),
    (
        "refuses",
        "cache-reuse-app-token",
        "client.outcome",
        "expected-ok",
    ),
    (
        "breaker",
        "throttle-429-short",
        "client.outcome",
        "no-recovery",
    ),
    (
        "breaker",
        "throttle-503-retry-after",
        "client.outcome",
        "no-recovery",
    ),
    (
        "breaker",
        "outage-malformed-json",
        "client.outcome",
        "no-recovery",
    ),
    (
        "breaker",
        "outage-connection-reset",
        "client.outcome",
        "no-recovery",
    ),
    (
        "single-slot",
        "cache-per-scope-app",
        "client.outcome",
        "wrong-scopes",
    ),
    (
        "tokenless",
        "outage-missing-access-token",
        "client.outcome",
        "token-less-success",
    ),
    (
        "no-timeout",
        "outage-token-stall",
        "backoff.timeout",
        "no-timeout",
    ),
    (
        "slow-shutdown",
        "cache-reuse-app-token",
        "client.liveness",
        "killed-at-shutdown",
    ),
    (
        "crash-at-exit",
        "cache-reuse-app-token",
        "client.liveness",
        "crash",
    ),
    (
        "spa-interactive",
        "silent-spa-refresh-token-expiry",
        "silent.prompt-none",
        "interactive-without-prompt-none",
    ),
    (
        "spa-gives-up",
        "silent-spa-third-party-cookies",
        "client.outcome",
        "expected-ok",
    ),
];

/// What the evidence of a mode's failure must say: which signal ended the client, who sent
/// it, and what the client wrote last.
const EVIDENCE: &[(&str, &[&str])] = &[
    ("slow-shutdown", &["the harness sent SIGTERM"]),
    (
        "crash-at-exit",
        &[
            "signal 6 (SIGABRT), which the harness did not send",
            "stderr: FATAL ERROR: simulated crash in teardown",
        ],
    ),
];

/// (conformant mode, scenario) it must pass outright: throttling, a malformed answer, short
/// user tokens renewed at every need, and a burst as the buffer meets it; a single-page app
/// whose refresh token runs out, with and without third-party cookies.
const CONFORMANT: &[(&str, &str)] = &[
    ("msal-buffer", "throttle-429-short"),
    ("msal-buffer", "outage-malformed-json"),
    ("msal-buffer", "silent-expired-at-refresh"),
    ("msal-buffer", "concurrency-renewal-burst"),
    ("msal-buffer", "cache-per-scope-app"),
    ("spa", "silent-spa-refresh-token-expiry"),
    ("spa", "silent-spa-third-party-cookies"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_wrong_behaviour_fails_for_its_cause_and_the_conformant_client_passes() {
    let idp = MockIdp::start(Options::default()).await.unwrap();
    let breaches = BREACHES.iter().map(|(mode, scenario, rule, cause)| {
        let idp = &idp;
        async move { (mode, scenario, rule, cause, run(idp, mode, scenario).await) }
    });
    let good = CONFORMANT.iter().map(|(mode, scenario)| {
        let idp = &idp;
        async move { (mode, scenario, run(idp, mode, scenario).await) }
    });
    let (breaches, good) = tokio::join!(
        futures_util::future::join_all(breaches),
        futures_util::future::join_all(good)
    );
    let mut wrong = Vec::new();
    for (mode, scenario, rule, cause, (outcome, verdicts)) in breaches {
        if !matches!(outcome, Outcome::Completed) {
            wrong.push(format!("{mode} in {scenario}: the run ended {outcome:?}"));
            continue;
        }
        match verdicts.iter().find(|v| v.rule == *rule) {
            Some(v)
                if v.status == Status::Fail
                    && v.causes.iter().any(|c| c == cause)
                    && !v.evidence.is_empty() =>
            {
                let said: Vec<&str> = v.evidence.iter().map(|e| e.what.as_str()).collect();
                for (_, needles) in EVIDENCE.iter().filter(|(m, _)| m == mode) {
                    for n in needles.iter().filter(|n| !said.iter().any(|w| w.contains(*n))) {
                        wrong.push(format!("{mode} in {scenario}: no evidence says {n:?}: {said:?}"));
                    }
                }
            }
            other => wrong.push(format!(
                "{mode} in {scenario}: expected {rule} to fail for {cause} with evidence, got {other:?}"
            )),
        }
    }
    for (mode, scenario, (outcome, verdicts)) in good {
        if !matches!(outcome, Outcome::Completed) {
            wrong.push(format!("{mode} in {scenario}: the run ended {outcome:?}"));
        }
        for v in verdicts
            .iter()
            .filter(|v| !matches!(v.status, Status::Pass | Status::NotApplicable))
        {
            wrong.push(format!(
                "{mode} in {scenario}: {} {:?} {:?}: {:?}",
                v.rule, v.status, v.causes, v.evidence
            ));
        }
        // Something was judged: a pass that means something.
        assert!(
            verdicts
                .iter()
                .any(|v| v.status == Status::Pass && !model::rules::is_guard(&v.rule)),
            "{mode} in {scenario}: no behaviour rule passed: {verdicts:?}"
        );
        // A single-page app's silent sign-in is judged, not skipped.
        if *mode == "spa" {
            assert!(
                verdicts
                    .iter()
                    .any(|v| v.rule == "silent.prompt-none" && v.status == Status::Pass),
                "{mode} in {scenario}: silent.prompt-none not judged: {verdicts:?}"
            );
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

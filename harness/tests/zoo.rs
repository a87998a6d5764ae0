//! The zoo: the reference client broken on purpose, one behaviour at a time, run through the
//! real harness against the real mock. Each breach is caught by the rule it breaks, with
//! evidence, while the unbroken client passes the same rule in the same scenario.
#![allow(clippy::unwrap_used)]

use mock_idp::{MockIdp, Options};
use model::verdict::Status;
use tokenstorm::rules::{judge, Input};
use tokenstorm::runner::{run_scenario, ClientCommand, Outcome, RunOptions};

#[path = "common/zoo_cases.rs"]
mod zoo_cases;

fn reference_client() -> String {
    // target/<profile>/deps/zoo-<hash> -> target/<profile>/reference-client
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("reference-client");
    assert!(
        bin.is_file(),
        "build the workspace first: {} is missing",
        bin.display()
    );
    bin.display().to_string()
}

fn builtin(name: &str) -> model::scenario::Scenario {
    tokenstorm::library::builtin()
        .unwrap()
        .into_iter()
        .find(|l| l.scenario.name.value == name)
        .unwrap()
        .scenario
}

async fn verdict(
    idp: &MockIdp,
    scenario: &str,
    quirk: Option<&str>,
    rule: &str,
) -> (Status, Vec<String>) {
    let s = builtin(scenario);
    let client = ClientCommand {
        program: reference_client(),
        args: quirk
            .map(|q| vec!["--zoo".to_string(), q.to_string()])
            .unwrap_or_default(),
    };
    let run = run_scenario(idp, &s, &client, &RunOptions::default()).await;
    assert!(
        matches!(run.outcome, Outcome::Completed),
        "{scenario} {quirk:?}: {:?}",
        run.outcome
    );
    let v = judge(&Input::of(&run, false));
    let v = v
        .into_iter()
        .find(|v| v.rule == rule)
        .unwrap_or_else(|| panic!("{scenario} does not judge {rule}"));
    (v.status, v.evidence.into_iter().map(|e| e.what).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_behaviour_is_caught_by_its_rule() {
    let idp = MockIdp::start(Options::default()).await.unwrap();
    let cases = zoo_cases::CASES;
    let runs = cases.iter().map(|(quirk, scenario, rule)| {
        let idp = &idp;
        async move {
            let ((broken, evidence), (good, _)) = tokio::join!(
                verdict(idp, scenario, Some(quirk), rule),
                verdict(idp, scenario, None, rule)
            );
            (quirk, scenario, rule, broken, evidence, good)
        }
    });
    let results = futures_util::future::join_all(runs).await;
    let mut wrong = Vec::new();
    for (quirk, scenario, rule, broken, evidence, good) in results {
        if broken != Status::Fail || evidence.is_empty() {
            wrong.push(format!(
                "{quirk} in {scenario}: {rule} gave {broken:?}, expected a fail with evidence"
            ));
        }
        if good != Status::Pass {
            wrong.push(format!(
                "the unbroken client in {scenario}: {rule} gave {good:?}, expected a pass"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

//! Whole scenarios run against real client processes and the real mock: the steps' commands,
//! repeats, restarts, applicability, crashes, and what is collected for judging.
#![allow(clippy::unwrap_used)]

use mock_idp::{MockIdp, Options};
use model::transcript::TranscriptEvent;
use model::verdict::Status;
use model::Endpoint;
use tokenstorm::library;
use tokenstorm::rules::{judge, Input};
use tokenstorm::runner::{run_scenario, ClientCommand, Outcome, RunOptions, ScenarioRun};

fn scripted(mode: &str) -> ClientCommand {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/scripted.py");
    ClientCommand {
        program: "python3".into(),
        args: vec![script.display().to_string(), mode.into()],
    }
}

fn verdicts(run: &ScenarioRun) -> Vec<(String, Status)> {
    judge(&Input::of(run, false))
        .into_iter()
        .map(|v| (v.rule, v.status))
        .collect()
}

fn builtin(name: &str) -> model::scenario::Scenario {
    library::builtin()
        .unwrap()
        .into_iter()
        .find(|l| l.scenario.name.value == name)
        .unwrap_or_else(|| panic!("no built-in {name}"))
        .scenario
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_builtin_scenario_runs_to_the_end_and_everything_is_collected() {
    let idp = MockIdp::start(Options::default()).await.unwrap();
    let s = builtin("cache-restart-app-token");
    let run = run_scenario(&idp, &s, &scripted("good"), &RunOptions::default()).await;
    assert_eq!(run.outcome, Outcome::Completed, "{:?}", run.transcript);
    assert_eq!(run.hello.as_ref().unwrap().client, "scripted-good");
    // Three incarnations (two restarts); the persisted token served all six acquisitions.
    let starts = run
        .transcript
        .iter()
        .filter(|e| matches!(e.event, TranscriptEvent::Started { .. }))
        .count();
    assert_eq!(starts, 3);
    let results = run
        .transcript
        .iter()
        .filter(|e| matches!(e.event, TranscriptEvent::Result { ok: true, .. }))
        .count();
    assert!(
        results >= 5 + 3,
        "5 acquisitions and 3 shutdowns answered: {results}"
    );
    let tokens = run
        .journal
        .iter()
        .filter(|e| e.endpoint == Endpoint::Token)
        .count();
    assert_eq!(tokens, 1, "{:#?}", run.journal);
    // The repeat honoured `every: 1s`: three commands of step 2 at least 2 s apart end to end.
    let step2: Vec<u64> = run
        .transcript
        .iter()
        .filter_map(|e| match e.event {
            TranscriptEvent::Command { step: 2, .. } => Some(e.at_us),
            _ => None,
        })
        .collect();
    assert_eq!(step2.len(), 3);
    assert!(step2[2] - step2[0] >= 1_900_000, "{step2:?}");
    // The state directory: the client's plain-text cache, world-readable, holding the token.
    let f = run
        .state_files
        .iter()
        .find(|f| f.path == "cache.json")
        .expect("cache.json");
    assert_eq!(f.mode, 0o644);
    assert_eq!(f.plaintext_tokens.len(), 1);
    assert_eq!(
        &f.plaintext_tokens[0],
        &run.journal
            .iter()
            .find_map(|e| e.issued.first())
            .unwrap()
            .fingerprint
    );
    // Judged: the scripted client persists and reuses its token, and stays live.
    let v = verdicts(&run);
    assert!(v.contains(&("cache.persist".into(), Status::Pass)), "{v:?}");
    assert!(v.contains(&("cache.reuse".into(), Status::Pass)), "{v:?}");
    assert!(
        v.contains(&("client.liveness".into(), Status::Pass)),
        "{v:?}"
    );
    // The tenant is the scenario's own.
    assert!(run.tenant.starts_with("cache-restart-app-token-"));
    assert!(run
        .journal
        .iter()
        .all(|e| e.tenant.as_deref() == Some(run.tenant.as_str())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_for_another_flow_is_not_applicable() {
    let idp = MockIdp::start(Options::default()).await.unwrap();
    let s = builtin("claims-whoami-id-token");
    let run = run_scenario(&idp, &s, &scripted("good"), &RunOptions::default()).await;
    match &run.outcome {
        Outcome::NotApplicable { reason } => assert!(reason.contains("auth_code"), "{reason}"),
        o => panic!("{o:?}"),
    }
    assert!(
        run.journal.iter().all(|e| e.endpoint != Endpoint::Token),
        "nothing was asked of the IdP"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_client_ends_its_scenario_with_its_stderr() {
    let idp = MockIdp::start(Options::default()).await.unwrap();
    let s = builtin("cache-reuse-app-token");
    let run = run_scenario(&idp, &s, &scripted("crash"), &RunOptions::default()).await;
    match &run.outcome {
        Outcome::ClientFailed {
            reason,
            stderr_tail,
        } => {
            assert!(reason.contains("exited"), "{reason}");
            assert!(
                stderr_tail.iter().any(|l| l.contains("simulated crash")),
                "{stderr_tail:?}"
            );
        }
        o => panic!("{o:?}"),
    }
    assert!(run.duration < std::time::Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_scenario_replays_its_faults_for_the_client() {
    let idp = MockIdp::start(Options::default()).await.unwrap();
    let s = builtin("throttle-429-short");
    let run = run_scenario(&idp, &s, &scripted("good"), &RunOptions::default()).await;
    assert_eq!(run.outcome, Outcome::Completed);
    let throttled: Vec<_> = run.journal.iter().filter(|e| e.status == 429).collect();
    assert!(!throttled.is_empty(), "{:#?}", run.journal);
    assert!(throttled
        .iter()
        .all(|e| e.response_header("retry-after").is_some() && e.fault.is_some()));
}

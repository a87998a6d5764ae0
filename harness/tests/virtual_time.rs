//! Virtual time: the whole built-in library against the reference client in-process, on tokio's
//! paused clock, gives the verdicts of the same client run as a process on the real clock.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use tokenstorm::inproc::InProcess;
use tokenstorm::report::Report;
use tokenstorm::run::{execute, Plan};
use tokenstorm::runner::ClientCommand;

#[path = "common/verdict_table.rs"]
mod verdict_table;
#[path = "common/zoo_cases.rs"]
mod zoo_cases;
use verdict_table::verdict_table;

/// The reference client, made in-process from the driver protocol's environment.
fn reference_in_process() -> InProcess {
    InProcess::new("reference-client", |env| {
        let (config, scopes) =
            reference_client::driven::config_from(|k| env.get(k)).map_err(|e| e.to_string())?;
        let client = reference_client::Client::new(config).map_err(|e| e.to_string())?;
        Ok(Arc::new(reference_client::driven::Driver::new(client, scopes)) as _)
    })
}

/// The report's verdict table, a row per verdict (as `adapters/NAME/verdicts.txt`).
fn table(r: &Report) -> Vec<String> {
    verdict_table(&serde_json::to_value(r).unwrap())
        .lines()
        .map(str::to_string)
        .collect()
}

/// The library on the real clock, the reference client's binary as a process (what
/// `tokenstorm run` does with no client given).
fn real_time(out: &Path) -> Report {
    let program = Path::new(env!("CARGO_BIN_EXE_tokenstorm")).with_file_name("reference-client");
    let scenarios = tokenstorm::library::builtin().unwrap();
    tokenstorm::run::prepare_out(out).unwrap();
    let plan = Plan {
        client: ClientCommand {
            program: program.display().to_string(),
            args: vec![],
        },
        jobs: scenarios.len(),
        library: scenarios
            .iter()
            .map(|l| l.scenario.name.value.clone())
            .collect(),
        scenarios,
        out: out.to_path_buf(),
        strict: false,
        expected: vec![],
        shard: None,
        baseline: None,
        impersonate: false,
        apps: vec![],
        in_process: None,
    };
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(execute(
            plan,
            tokenstorm::events::Reporters::new(vec![]),
            std::future::pending(),
        ))
        .unwrap()
}

#[test]
fn the_library_on_virtual_time_judges_as_on_real_time() {
    let dir = tempfile::tempdir().unwrap();
    // TOKENSTORM_KEEP_OUT=DIR keeps both runs' reports there, to read a difference.
    let base = std::env::var_os("TOKENSTORM_KEEP_OUT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().to_path_buf());
    let (real_out, virtual_out) = (base.join("real"), base.join("virtual"));
    let real = std::thread::spawn(move || real_time(&real_out));

    // One thread, the clock paused: it moves only when every task waits on a timer.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let scenarios = tokenstorm::library::builtin().unwrap();
    let n = scenarios.len();
    let virt = rt
        .block_on(tokenstorm::inproc::run(
            reference_in_process(),
            scenarios,
            &virtual_out,
        ))
        .unwrap();
    let real = real.join().unwrap();

    let (v, r) = (table(&virt), table(&real));
    let differ: Vec<String> = r
        .iter()
        .filter(|row| !v.contains(row))
        .map(|row| format!("  real only:    {row}"))
        .chain(
            v.iter()
                .filter(|row| !r.contains(row))
                .map(|row| format!("  virtual only: {row}")),
        )
        .collect();
    assert!(
        differ.is_empty(),
        "virtual time judges otherwise than real time:\n{}",
        differ.join("\n")
    );
    assert_eq!(virt.scenarios.len(), n);
    assert_eq!(virt.summary.failed, 0, "{:?}", virt.summary);
    assert_eq!(virt.summary.errors, 0, "{:?}", virt.summary);
    assert!(
        virt.client.contains("in-process:reference-client"),
        "{}",
        virt.client
    );
    // Journals and transcripts are written as for a process run.
    assert!(virtual_out
        .join("journal/throttle-429-short.transcript.jsonl")
        .is_file());
    assert!(virtual_out.join("report.json").is_file());
}

/// The reference client in-process with one of the zoo's deliberate breakages.
fn broken_in_process(quirk: &'static str) -> InProcess {
    InProcess::new(format!("reference-client --zoo {quirk}"), move |env| {
        let (config, scopes) =
            reference_client::driven::config_from(|k| env.get(k)).map_err(|e| e.to_string())?;
        let client = reference_client::Client::with_quirks(config, zoo_cases::quirks(quirk))
            .map_err(|e| e.to_string())?;
        Ok(Arc::new(reference_client::driven::Driver::new(client, scopes)) as _)
    })
}

/// Virtual time hides no breakage: each of the zoo's broken behaviours (tests/zoo.rs), run
/// in-process on the paused clock, is caught by its rule with evidence, as on the real clock.
#[test]
fn on_virtual_time_each_broken_behaviour_is_still_caught() {
    use model::verdict::Status;
    use tokenstorm::rules::{judge, Input};
    use tokenstorm::runner::{run_scenario, Outcome, RunOptions};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let library = tokenstorm::library::builtin().unwrap();
    let scenario = |name: &str| {
        library
            .iter()
            .find(|l| l.scenario.name.value == name)
            .unwrap()
            .scenario
            .clone()
    };
    let wrong: Vec<String> = rt.block_on(async {
        let idp = mock_idp::MockIdp::start(mock_idp::Options::default())
            .await
            .unwrap();
        let runs = zoo_cases::CASES.iter().map(|&(quirk, name, rule)| {
            let (idp, s) = (&idp, scenario(name));
            async move {
                let client = broken_in_process(quirk);
                let opts = RunOptions {
                    in_process: Some(client.clone()),
                    ..RunOptions::default()
                };
                let run = run_scenario(idp, &s, &client.command(), &opts).await;
                let v = judge(&Input::of(&run, false))
                    .into_iter()
                    .find(|v| v.rule == rule)
                    .unwrap_or_else(|| panic!("{name} does not judge {rule}"));
                let completed = matches!(run.outcome, Outcome::Completed);
                (quirk, name, rule, completed, v.status, v.evidence.len())
            }
        });
        futures_util::future::join_all(runs)
            .await
            .into_iter()
            .filter(|(.., completed, status, evidence)| {
                !*completed || *status != Status::Fail || *evidence == 0
            })
            .map(|(quirk, name, rule, completed, status, evidence)| {
                format!("{quirk} in {name}: {rule} gave {status:?} with {evidence} evidence (completed: {completed})")
            })
            .collect()
    });
    assert!(wrong.is_empty(), "on virtual time:\n{}", wrong.join("\n"));
}

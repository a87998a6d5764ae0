//! The run's reports: the types and renderings live in the `reports` crate (re-exported
//! here); this module turns a judged [`ScenarioRun`] into its [`ScenarioReport`].

use crate::runner::ScenarioRun;
use model::verdict::Verdict;
pub use reports::*;

/// A run's report, summarized: everything but the shard, the stale expected failures and the
/// baseline, which the caller adds when it has them.
pub fn new_report(
    mode: Mode,
    client: &crate::runner::ClientCommand,
    started: std::time::Instant,
    strict: bool,
    interrupted: bool,
    scenarios: Vec<ScenarioReport>,
) -> Report {
    let started_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs().saturating_sub(started.elapsed().as_secs()))
        .unwrap_or(0);
    let mut r = Report {
        schema_version: SCHEMA_VERSION,
        tokenstorm_version: env!("CARGO_PKG_VERSION").to_string(),
        mode,
        started_unix,
        duration_ms: started.elapsed().as_millis() as u64,
        client: shell_words::join(
            std::iter::once(client.program.as_str()).chain(client.args.iter().map(String::as_str)),
        ),
        strict,
        interrupted,
        shard: None,
        summary: Summary::default(),
        scenarios,
        stale_expected_failures: Vec::new(),
        baseline: None,
    };
    r.summarize();
    r
}

/// The report of a judged scenario run.
pub fn scenario_report(run: &ScenarioRun, rules: Vec<Verdict>, strict: bool) -> ScenarioReport {
    let verdict = scenario_verdict(&run.outcome, &rules, strict).to_string();
    ScenarioReport {
        name: run.scenario.name.value.clone(),
        summary: run.scenario.summary.clone(),
        tags: run.scenario.tags.clone(),
        flow: run.scenario.flow.as_str().to_string(),
        tenant: run.tenant.clone(),
        hello: run.hello.clone(),
        outcome: run.outcome.clone(),
        verdict,
        duration_ms: run.duration.as_millis() as u64,
        rules,
        journal: format!("journal/{}.jsonl", run.scenario.name.value),
        requests: run.journal.len(),
        expected_inconclusive: None,
    }
}

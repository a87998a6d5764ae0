//! The run's reports: the types and renderings live in the `reports` crate (re-exported
//! here); this module turns a judged [`ScenarioRun`] into its [`ScenarioReport`].

use crate::runner::ScenarioRun;
use model::verdict::Verdict;
pub use reports::*;

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
    }
}

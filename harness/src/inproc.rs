//! In-process clients: a client written in Rust judged inside the harness's own process, on the
//! harness's tokio runtime, by the same runner, rules and reports as a client process.
//!
//! The client implements [`model::driver::Driven`] (the reference client does, as
//! `reference_client::driven::Driver`); [`InProcess`] says how to make one from the driver
//! protocol's environment (`TOKENSTORM_AUTHORITY`, `TOKENSTORM_CLIENT_ID`, ...: every start,
//! restarts included, makes a fresh one, as a new process would be). The harness then speaks
//! the protocol to it over in-memory pipes, so the transcript, deadlines and verdicts are
//! exactly those of a process run.
//!
//! Nothing then waits on another process or on the operating system's clock: the mock, the
//! runner and the client all keep time with tokio, and the wall clock they read
//! ([`model::clock`]) follows it. On tokio's paused clock (`#[tokio::test(start_paused =
//! true)]`) a scenario's minutes of back-off, token lifetimes and waits pass as soon as
//! everything is idle: the whole built-in library runs in seconds, with the verdicts of a
//! real-time run.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::sync::Arc;
//! // In a test: #[tokio::test(start_paused = true)]
//! let client = tokenstorm::inproc::InProcess::new("my-client", |env| {
//!     let (config, scopes) = reference_client::driven::config_from(|k| env.get(k))
//!         .map_err(|e| e.to_string())?;
//!     let client = reference_client::Client::new(config).map_err(|e| e.to_string())?;
//!     Ok(Arc::new(reference_client::driven::Driver::new(client, scopes)) as _)
//! });
//! let scenarios = tokenstorm::library::builtin().expect("the built-in library parses");
//! let out = std::path::Path::new("target/tokenstorm-inproc");
//! let report = tokenstorm::inproc::run(client, scenarios, out).await?;
//! assert_eq!(report.summary.failed, 0);
//! # Ok(()) }
//! ```

use crate::events::Reporters;
use crate::library::Loaded;
use crate::report::Report;
use crate::run::{execute, Plan};
use std::path::Path;

pub use crate::client::{Environment, InProcess};

/// Runs `scenarios` against the in-process `client`, all at once, as `tokenstorm run` would
/// (one mock, each scenario in its own tenant), and writes the reports and journals to `out`
/// (made if missing; an earlier run's reports there are replaced). Returns the report.
pub async fn run(client: InProcess, scenarios: Vec<Loaded>, out: &Path) -> std::io::Result<Report> {
    crate::run::prepare_out(out).map_err(std::io::Error::other)?;
    let library = scenarios
        .iter()
        .map(|l| l.scenario.name.value.clone())
        .collect();
    let plan = Plan {
        client: client.command(),
        jobs: scenarios.len().max(1),
        scenarios,
        out: out.to_path_buf(),
        strict: false,
        expected: vec![],
        shard: None,
        library,
        baseline: None,
        impersonate: false,
        apps: vec![],
        in_process: Some(client),
    };
    execute(plan, Reporters::new(vec![]), std::future::pending()).await
}

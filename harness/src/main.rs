//! `tokenstorm`: the harness CLI (`tokenstorm --help`, README.md): `run`, `observe`, `scenarios
//! list|validate|schema`, `serve` and `rules`.

use model::exit;
use tokenstorm::library;

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Prove that a client's sign-in code survives a bad day at the identity provider.
#[derive(Debug, Parser)]
#[command(name = "tokenstorm", version = env!("TOKENSTORM_LONG_VERSION"), about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run scenarios against a client and judge it.
    #[command(after_help = "Examples:
  tokenstorm run                                        # the built-in library, the reference client
  tokenstorm run --client-cmd \"python3 my_driver.py\"   # your client, speaking the driver protocol
  tokenstorm run --client msal-python --filter throttle # a real library, the throttling scenarios
  tokenstorm run --scenarios throttle-429-short --scenarios my-scenarios/
  tokenstorm run --shard 1/4 --out shard-1              # a quarter of the library (merge with `report merge`)
  tokenstorm run --message-format json > events.jsonl   # the run's events as JSON lines (docs/run-events.md)

Exit codes: 0 passed, 1 failed (or stale expected failures, or a regression against --baseline),
2 bad input (nothing was run), 130 interrupted (the partial report is written).")]
    Run(RunArgs),
    /// List, check, or describe scenarios.
    #[command(after_help = "Examples:
  tokenstorm scenarios list --filter outage
  tokenstorm scenarios list --json | jq -r '.[].name'
  tokenstorm scenarios validate my-scenarios/
  tokenstorm scenarios schema > scenario.schema.json")]
    Scenarios {
        #[command(subcommand)]
        command: ScenariosCommand,
    },
    /// The mock identity provider alone, for local development (same flags as `mock-idp`).
    #[command(after_help = "Examples:
  tokenstorm serve --ready-file ready.json                       # a good day, until Ctrl-C
  tokenstorm serve --scenario throttle-429-short                 # a built-in scenario's faults
  tokenstorm serve --scenario my.yaml --impersonate              # as login.microsoftonline.com too

`--scenario` takes a file or a built-in scenario's name (`tokenstorm scenarios list`).")]
    Serve(mock_idp::cli::ServeArgs),
    /// The rule catalog: IDs, levels and the guidance each comes from.
    #[command(
        after_help = "Examples:\n  tokenstorm rules\n  tokenstorm rules --json | jq '.[] | select(.level == \"MUST\") | .id'"
    )]
    Rules {
        /// One JSON array on stdout: every rule with its level, guidance, what it judges, kind,
        /// whether observe mode judges it, and its causes.
        #[arg(long)]
        json: bool,
    },
    /// Judge an app that can't be driven: run CMD against the mock (with a scenario's faults)
    /// and judge what the journal alone can show.
    #[command(after_help = "Examples:
  tokenstorm observe --scenario throttle-429-short -- python3 my_daemon.py
  tokenstorm observe --impersonate --timeout 90s -- node app.js   # the app unmodified, at Entra's names
  tokenstorm observe --scenario my.yaml --app apps.yaml -- ./my-service

Exit codes as for `run`.")]
    Observe(ObserveArgs),
    /// Render a report.json in another format, or merge shard reports.
    #[command(after_help = "Examples:
  tokenstorm report render --from tokenstorm-report/report.json --format md
  tokenstorm report merge shard-*/report.json --out tokenstorm-report")]
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Compare two report.json files: new fails, fixed, unchanged (exit 1 on a regression).
    #[command(after_help = "Example:
  tokenstorm diff main-report/report.json tokenstorm-report/report.json >> \"$GITHUB_STEP_SUMMARY\"")]
    Diff {
        /// The baseline report.json.
        base: PathBuf,
        /// The report.json to judge against it.
        head: PathBuf,
    },
    /// The reference client on stdin and stdout, speaking the driver protocol: the client `run`
    /// starts by default, so an installed `tokenstorm` needs no second binary.
    #[command(hide = true)]
    ReferenceClient,
}

#[derive(Debug, Subcommand)]
enum ReportCommand {
    /// Render report.json as md, junit, html or json (on stdout, or into --out).
    Render {
        /// The report.json (journals for the HTML timeline are read beside it).
        #[arg(long)]
        from: PathBuf,
        /// md, junit, html or json.
        #[arg(long, value_parser = ["md", "junit", "html", "json"])]
        format: String,
        /// Write here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Join the reports of `run --shard K/N` into one report folder (every format).
    Merge {
        /// The shards' report.json files.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// Where the merged reports go (journals are copied beside them).
        #[arg(long, default_value = "tokenstorm-report")]
        out: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct ObserveArgs {
    /// A scenario file, or the name of a built-in scenario, whose faults and events the mock
    /// plays (default: none: a good day).
    #[arg(long)]
    scenario: Option<String>,
    /// The flow whose app registration the environment names: client_credentials, auth_code,
    /// device_code or obo (default: the scenario's, else client_credentials).
    #[arg(long)]
    flow: Option<String>,
    /// Stop the app after this long (it is not a crash), e.g. 90s or 5m.
    #[arg(long, default_value = "300s")]
    timeout: String,
    /// Where reports go.
    #[arg(long, default_value = "tokenstorm-report")]
    out: PathBuf,
    /// SHOULD rules fail the run too.
    #[arg(long)]
    strict: bool,
    /// Don't pass the app's output through to stderr.
    #[arg(long)]
    quiet: bool,
    /// Answer as Entra (login.microsoftonline.com, ...) and Graph (graph.microsoft.com) by
    /// their real names, through a proxy on loopback the app finds in HTTPS_PROXY, so the app
    /// runs with its configuration unchanged (docs/impersonation.md).
    #[arg(long)]
    impersonate: bool,
    /// App registrations to enforce: a YAML list of `client_id` with `secret` or
    /// `certificate_thumbprints`, `redirect_uris`, `spa_redirect_uris` (the real client ids your
    /// app uses; unknown ones are registered on first use when impersonating).
    #[arg(long)]
    app: Option<PathBuf>,
    /// The app: CMD ARGS (after `--`).
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The built-in client to run: `reference`, or an adapter over a real library
    /// (`msal-python`, `msal-node`, `msal-java`, `msal-go`, `msal-browser`,
    /// `azure-identity-python`, `azure-identity-js`; installed, pinned, on first use).
    #[arg(long, default_value = "reference", conflicts_with = "client_cmd")]
    client: String,
    /// Any client speaking the driver protocol: "CMD ARGS".
    #[arg(long)]
    client_cmd: Option<String>,
    /// Scenario files, folders or built-in scenarios' names, repeatable (default: the built-in
    /// library).
    #[arg(long = "scenarios")]
    scenarios: Vec<PathBuf>,
    /// Only scenarios whose name or a tag contains this.
    #[arg(long)]
    filter: Option<String>,
    /// Scenarios run at once (default: all of them).
    #[arg(long)]
    jobs: Option<usize>,
    /// Run the K-th of N slices (K/N).
    #[arg(long)]
    shard: Option<String>,
    /// Where reports go.
    #[arg(long, default_value = "tokenstorm-report")]
    out: PathBuf,
    /// Known, accepted failures: a YAML list of {scenario, rule, cause, reason} (docs/rules.md).
    #[arg(long)]
    expected_failures: Option<PathBuf>,
    /// Compare with an earlier report.json: new fails (a regression exits 1, even where the
    /// expected-failures file accepts it), fixed, unchanged, new and removed scenarios.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// SHOULD rules fail the run too.
    #[arg(long)]
    strict: bool,
    /// Answer as Entra (login.microsoftonline.com, ...) and Graph (graph.microsoft.com) by
    /// their real names through a proxy on loopback: the client is given those URLs, the
    /// proxy (HTTPS_PROXY) and a CA bundle with the run's CA (docs/impersonation.md).
    #[arg(long)]
    impersonate: bool,
    /// App registrations to enforce (as for `observe --app`).
    #[arg(long)]
    app: Option<PathBuf>,
    /// `json`: also write the run's events to stdout, one JSON object per line (run_started,
    /// scenario_started, verdict, scenario_finished, run_finished; docs/run-events.md). The
    /// progress stays on stderr.
    #[arg(long, value_enum, default_value_t = MessageFormat::Human)]
    message_format: MessageFormat,
    /// Colour the verdicts in the progress: `auto` (on a terminal, unless NO_COLOR is set),
    /// `always` or `never`.
    #[arg(long, value_enum, default_value_t = tokenstorm::progress::ColorChoice::Auto)]
    color: tokenstorm::progress::ColorChoice,
}

/// What `run` writes to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum MessageFormat {
    /// Nothing: the progress and the summary go to stderr.
    Human,
    /// The run's events as JSON lines.
    Json,
}

#[derive(Debug, Subcommand)]
enum ScenariosCommand {
    /// List scenarios: name, flow, tags, rules, expected duration.
    List {
        /// Scenario files, folders or built-in scenarios' names (default: the built-in library).
        #[arg(long = "scenarios")]
        scenarios: Vec<PathBuf>,
        /// Only scenarios whose name or a tag contains this.
        #[arg(long)]
        filter: Option<String>,
        /// One JSON array on stdout: name, origin, summary, flow, tags, rules and expected
        /// duration of each scenario.
        #[arg(long)]
        json: bool,
    },
    /// Check scenario files or folders; errors name file:line:column (exit 2 on any).
    Validate {
        /// Files, folders or built-in scenarios' names.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the scenario format (for editors' YAML support).
    Schema,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TOKENSTORM_LOG")
                // rustls warns of every peer that ends a connection abruptly (a JVM closing its
                // pool, a client killed at the end of a scenario): not the user's concern.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,rustls=error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run(args).await,
        Command::Observe(args) => observe(args).await,
        Command::Report { command } => report_command(command),
        Command::Diff { base, head } => {
            let (b, h) = match (reports::load(&base), reports::load(&head)) {
                (Ok(b), Ok(h)) => (b, h),
                (Err(e), _) | (_, Err(e)) => {
                    eprintln!("tokenstorm: {e}");
                    return ExitCode::from(exit::USAGE);
                }
            };
            let d = reports::diff::diff(&b, &h);
            print!("{}", reports::markdown::diff(&d));
            ExitCode::from(if d.regressed() {
                exit::FAILED
            } else {
                exit::PASSED
            })
        }
        Command::Scenarios { command } => scenarios(command),
        Command::Serve(args) => serve(args).await,
        Command::ReferenceClient => reference_client_serve().await,
        Command::Rules { json: true } => print_json(&*model::rules::CATALOG),
        Command::Rules { json: false } => {
            println!("{:<32} {:<6} GUIDANCE", "ID", "LEVEL");
            for r in model::rules::CATALOG.iter() {
                println!("{:<32} {:<6} {}", r.id.as_str(), r.level, r.guidance);
            }
            ExitCode::SUCCESS
        }
    }
}

/// `tokenstorm serve`: `mock-idp`'s flags, with `--scenario` read as every command reads it (a
/// file or a built-in scenario's name).
async fn serve(args: mock_idp::cli::ServeArgs) -> ExitCode {
    let scenario = match &args.scenario {
        None => None,
        Some(arg) => match library::one(arg) {
            Ok(l) => Some(l.scenario),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(exit::USAGE);
            }
        },
    };
    match mock_idp::cli::serve_scenario(args, scenario).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tokenstorm: error: {e}");
            ExitCode::from(exit::USAGE)
        }
    }
}

/// Prints a value as pretty JSON on stdout (`--json`).
fn print_json<T: serde::Serialize + ?Sized>(value: &T) -> ExitCode {
    match serde_json::to_string_pretty(value) {
        Ok(s) => {
            println!("{s}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tokenstorm: {e}");
            ExitCode::FAILURE
        }
    }
}

fn scenarios(cmd: ScenariosCommand) -> ExitCode {
    match cmd {
        ScenariosCommand::Schema => print_json(&model::scenario::schema()),
        ScenariosCommand::Validate { paths } => match library::load(&paths) {
            Ok(all) => {
                for l in &all {
                    println!("ok  {}  ({})", l.scenario.name.value, l.origin);
                }
                println!("{} scenario(s) valid", all.len());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e:#}");
                eprintln!("{} problem(s)", e.0.len());
                ExitCode::from(exit::USAGE)
            }
        },
        ScenariosCommand::List {
            scenarios,
            filter,
            json,
        } => {
            let loaded = if scenarios.is_empty() {
                library::builtin()
            } else {
                library::load(&scenarios)
            };
            let all = match loaded {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(exit::USAGE);
                }
            };
            let shown: Vec<_> = all
                .iter()
                .filter(|l| match &filter {
                    None => true,
                    Some(f) => {
                        l.scenario.name.value.contains(f.as_str())
                            || l.scenario.tags.iter().any(|t| t.contains(f.as_str()))
                    }
                })
                .collect();
            if json {
                let rows: Vec<serde_json::Value> = shown
                    .iter()
                    .map(|l| {
                        let s = &l.scenario;
                        serde_json::json!({
                            "name": s.name.value,
                            "origin": l.origin,
                            "summary": s.summary,
                            "flow": s.flow.as_str(),
                            "tags": s.tags,
                            "rules": s.rules.iter().map(|r| r.value.id()).collect::<Vec<_>>(),
                            "expected_duration_s": s.expected_duration().as_secs_f64(),
                        })
                    })
                    .collect();
                return print_json(&rows);
            }
            println!(
                "{:<36} {:<18} {:>6}  {:<28} RULES",
                "NAME", "FLOW", "~TIME", "TAGS"
            );
            for l in &shown {
                let s = &l.scenario;
                let rules: Vec<&str> = s.rules.iter().map(|r| r.value.id()).collect();
                println!(
                    "{:<36} {:<18} {:>5}s  {:<28} {}",
                    s.name.value,
                    s.flow.as_str(),
                    s.expected_duration().as_secs(),
                    s.tags.join(","),
                    rules.join(" ")
                );
            }
            let longest = shown
                .iter()
                .map(|l| l.scenario.expected_duration())
                .max()
                .unwrap_or_default();
            println!(
                "{} scenario(s); the longest takes about {} s",
                shown.len(),
                longest.as_secs()
            );
            ExitCode::SUCCESS
        }
    }
}

/// The `--app FILE` registrations, or the exit code of a bad file.
fn apps(path: Option<&Path>) -> Result<Vec<mock_idp::AppRegistration>, ExitCode> {
    match path {
        None => Ok(vec![]),
        Some(p) => mock_idp::load_apps(p).map_err(|e| {
            eprintln!("tokenstorm: --app: {e}");
            ExitCode::from(exit::USAGE)
        }),
    }
}

async fn run(args: RunArgs) -> ExitCode {
    // Listening from the start: a signal during the preparations still ends in a report.
    let interrupt = match tokenstorm::run::interrupt_signals() {
        Ok(i) => i,
        Err(e) => {
            eprintln!("tokenstorm: cannot listen for signals: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let apps = match apps(args.app.as_deref()) {
        Ok(a) => a,
        Err(code) => return code,
    };
    // What a built-in adapter asks of the run (its adapter.json), unless the flags say otherwise.
    let mut defaults = tokenstorm::adapters::RunDefaults::default();
    let client_cmd = match (&args.client_cmd, args.client.as_str()) {
        (Some(c), _) => c.clone(),
        (None, "reference") => match std::env::current_exe() {
            Ok(p) => format!(
                "{} reference-client",
                shell_words::quote(&p.display().to_string())
            ),
            Err(e) => {
                eprintln!("tokenstorm: cannot find its own binary to start the reference client ({e}); use --client-cmd \"CMD ARGS\"");
                return ExitCode::from(exit::USAGE);
            }
        },
        (None, other) => match tokenstorm::adapters::prepare(other) {
            Ok(p) => {
                defaults = p.defaults;
                shell_words::join(std::iter::once(p.command.program).chain(p.command.args))
            }
            Err(e) => {
                eprintln!("tokenstorm: {e}");
                return ExitCode::from(exit::USAGE);
            }
        },
    };
    let plan = match tokenstorm::run::plan(&tokenstorm::run::Flags {
        client_cmd: &client_cmd,
        scenarios: &args.scenarios,
        filter: args.filter.as_deref(),
        shard: args.shard.as_deref(),
        jobs: args.jobs.or(defaults.jobs),
        out: args.out.clone(),
        strict: args.strict,
        expected_failures: args.expected_failures.as_deref(),
        baseline: args.baseline.as_deref(),
    }) {
        Ok(p) => tokenstorm::run::Plan {
            impersonate: args.impersonate || defaults.impersonate,
            apps,
            ..p
        },
        Err(e) => {
            eprintln!("tokenstorm: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    if which(&plan.client.program).is_none() {
        eprintln!(
            "tokenstorm: client command not found: {}",
            plan.client.program
        );
        return ExitCode::from(exit::USAGE);
    }
    eprintln!(
        "tokenstorm: {} scenario(s), {} at a time, client `{client_cmd}`",
        plan.scenarios.len(),
        plan.jobs
    );
    let out = plan.out.clone();
    let progress = tokenstorm::progress::Progress::new(args.color);
    let ticker = progress.spawn_ticker();
    let mut reporters: Vec<std::sync::Arc<dyn tokenstorm::events::Reporter>> = vec![progress];
    if args.message_format == MessageFormat::Json {
        reporters.push(std::sync::Arc::new(tokenstorm::events::JsonLines::new(
            std::io::stdout(),
        )));
    }
    let result = tokenstorm::run::execute(
        plan,
        tokenstorm::events::Reporters::new(reporters),
        interrupt,
    )
    .await;
    ticker.abort();
    match result {
        Ok(r) => {
            let s = &r.summary;
            for e in &r.stale_expected_failures {
                eprintln!(
                    "tokenstorm: expected failure no longer fails: {} / {} / cause {} ({})",
                    e.scenario, e.rule, e.cause, e.reason
                );
            }
            eprint!("{}", tokenstorm::progress::summary_table(&r));
            eprintln!(
                "tokenstorm: {} passed, {} failed, {} warned, {} inconclusive, {} not applicable, {} errors in {:.1} s{}",
                s.passed, s.failed, s.warned, s.inconclusive, s.not_applicable, s.errors,
                r.duration_ms as f64 / 1000.0,
                if r.interrupted { " (interrupted: partial report)" } else { "" }
            );
            eprintln!("tokenstorm: reports in {}", out.display());
            ExitCode::from(r.exit_code())
        }
        Err(e) => {
            eprintln!("tokenstorm: error: {e}");
            ExitCode::from(exit::USAGE)
        }
    }
}

fn report_command(command: ReportCommand) -> ExitCode {
    match command {
        ReportCommand::Render { from, format, out } => {
            let r = match reports::load(&from) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("tokenstorm: {e}");
                    return ExitCode::from(exit::USAGE);
                }
            };
            let text = match format.as_str() {
                "md" => reports::markdown::render(&r, reports::markdown::GITHUB_SUMMARY_LIMIT),
                "junit" => reports::junit::render(&r),
                "html" => {
                    let dir = from.parent().unwrap_or(std::path::Path::new("."));
                    reports::html::render(&r, &reports::html::Journals::from_dir(dir, &r))
                }
                _ => match serde_json::to_string_pretty(&r) {
                    Ok(s) => s + "\n",
                    Err(e) => {
                        eprintln!("tokenstorm: {e}");
                        return ExitCode::from(exit::USAGE);
                    }
                },
            };
            match out {
                None => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Some(p) => match reports::write_atomic(&p, text.as_bytes()) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("tokenstorm: {}: {e}", p.display());
                        ExitCode::from(exit::USAGE)
                    }
                },
            }
        }
        ReportCommand::Merge {
            reports: paths,
            out,
        } => {
            let mut parts = Vec::new();
            for p in &paths {
                match reports::load(p) {
                    Ok(r) => parts.push(r),
                    Err(e) => {
                        eprintln!("tokenstorm: {e}");
                        return ExitCode::from(exit::USAGE);
                    }
                }
            }
            let merged = match reports::merge::merge(&parts) {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("tokenstorm: cannot merge: {e}");
                    return ExitCode::from(exit::USAGE);
                }
            };
            // The journals travel with the merged report, so its timelines have them.
            for (p, part) in paths.iter().zip(&parts) {
                let dir = p.parent().unwrap_or(std::path::Path::new("."));
                for sc in &part.scenarios {
                    let transcript =
                        sc.journal.trim_end_matches(".jsonl").to_string() + ".transcript.jsonl";
                    for rel in [sc.journal.as_str(), transcript.as_str()] {
                        if let Ok(bytes) = std::fs::read(dir.join(rel)) {
                            if let Err(e) = reports::write_atomic(&out.join(rel), &bytes) {
                                eprintln!("tokenstorm: {}: {e}", out.join(rel).display());
                                return ExitCode::from(exit::USAGE);
                            }
                        }
                    }
                }
            }
            if let Err(e) = reports::write_all(&out, &merged) {
                eprintln!("tokenstorm: {}: {e}", out.display());
                return ExitCode::from(exit::USAGE);
            }
            eprint!("{}", tokenstorm::progress::summary_table(&merged));
            eprintln!(
                "tokenstorm: merged {} report(s), {} scenario(s), into {}",
                parts.len(),
                merged.scenarios.len(),
                out.display()
            );
            ExitCode::from(merged.exit_code())
        }
    }
}

async fn observe(args: ObserveArgs) -> ExitCode {
    let interrupt = match tokenstorm::run::interrupt_signals() {
        Ok(i) => i,
        Err(e) => {
            eprintln!("tokenstorm: cannot listen for signals: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let apps = match apps(args.app.as_deref()) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let usage = |msg: String| {
        eprintln!("tokenstorm: {msg}");
        ExitCode::from(exit::USAGE)
    };
    let timeout = match model::scenario::duration::parse(&args.timeout) {
        Ok(t) => t,
        Err(e) => return usage(format!("--timeout '{}': {e}", args.timeout)),
    };
    let flow = match args.flow.as_deref() {
        None => None,
        Some(f) => match serde_json::from_value::<model::scenario::Flow>(serde_json::json!(f)) {
            Ok(f) => Some(f),
            Err(_) => {
                return usage(format!(
                    "--flow '{f}': expected client_credentials, auth_code, device_code or obo"
                ))
            }
        },
    };
    let scenario = match args.scenario.as_deref() {
        None => None,
        Some(arg) => match library::one(Path::new(arg)) {
            Ok(l) => Some(l.scenario),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(exit::USAGE);
            }
        },
    };
    let Some((program, rest)) = args.command.split_first() else {
        return usage("observe needs a command after `--`".into());
    };
    if which(program).is_none() {
        return usage(format!("command not found: {program}"));
    }
    let plan = tokenstorm::observe::ObservePlan {
        command: tokenstorm::runner::ClientCommand {
            program: program.clone(),
            args: rest.to_vec(),
        },
        scenario,
        flow,
        timeout,
        out: args.out.clone(),
        strict: args.strict,
        echo: !args.quiet,
        impersonate: args.impersonate,
        apps,
    };
    match tokenstorm::observe::observe(plan, interrupt).await {
        Ok(r) => {
            if let Some(sc) = r.scenarios.first() {
                for v in &sc.rules {
                    if v.status == model::verdict::Status::NotApplicable {
                        continue;
                    }
                    eprintln!(
                        "  {:<6} {:<30} {}",
                        format!("{:?}", v.status).to_uppercase(),
                        v.rule,
                        v.summary
                    );
                }
            }
            let s = &r.summary;
            eprintln!(
                "tokenstorm: observed {} ({} requests): {} in {:.1} s{}",
                r.client,
                r.scenarios.first().map_or(0, |s| s.requests),
                if s.failed > 0 || s.errors > 0 {
                    "failed"
                } else if s.inconclusive > 0 {
                    "inconclusive (nothing was judged)"
                } else if s.warned > 0 {
                    "warned"
                } else {
                    "passed"
                },
                r.duration_ms as f64 / 1000.0,
                if r.interrupted {
                    " (interrupted: partial report)"
                } else {
                    ""
                }
            );
            if r.scenarios.first().is_some_and(|s| s.requests == 0) {
                eprintln!(
                    "tokenstorm: the app never reached the mock, so nothing could be judged. Check that it \
                     signs in at $TOKENSTORM_AUTHORITY (its authority or instance discovery may \
                     point at the real Entra ID), trusts the CA in $TOKENSTORM_CA_BUNDLE, and \
                     doesn't send 127.0.0.1 through a proxy (NO_PROXY)."
                );
            }
            eprintln!("tokenstorm: reports in {}", args.out.display());
            ExitCode::from(r.exit_code())
        }
        Err(e) => {
            eprintln!("tokenstorm: error: {e}");
            ExitCode::from(exit::USAGE)
        }
    }
}

/// `tokenstorm reference-client`: the reference client's driver (the `reference-client`
/// binary's code) on stdin and stdout, until the harness says `shutdown` or closes stdin.
async fn reference_client_serve() -> ExitCode {
    let served = async {
        let (config, scopes) = reference_client::driven::config_from(|k| std::env::var(k).ok())?;
        let client = reference_client::Client::new(config)?;
        let driver = reference_client::driven::Driver::new(client, scopes);
        model::driver::serve(
            std::sync::Arc::new(driver),
            tokio::io::stdin(),
            tokio::io::stdout(),
        )
        .await?;
        anyhow::Ok(())
    };
    match served.await {
        Ok(()) => ExitCode::from(exit::PASSED),
        Err(e) => {
            eprintln!("tokenstorm reference-client: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether a program can be started (a path, or a name on PATH).
fn which(program: &str) -> Option<PathBuf> {
    let p = std::path::Path::new(program);
    if p.components().count() > 1 {
        return p.exists().then(|| p.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|c| c.is_file())
    })
}

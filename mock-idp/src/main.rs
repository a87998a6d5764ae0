//! `mock-idp`: the mock identity provider alone, for local development and scripts
//! (`../shared/cli.md`). Binds loopback, writes the ready file once it accepts connections,
//! and serves until Ctrl-C or SIGTERM.

use anyhow::Context as _;
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;

/// An Entra-faithful identity provider and mock Microsoft Graph over HTTPS.
#[derive(Debug, Parser)]
#[command(name = "mock-idp", version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Write the ready file (base URL, CA, clients, admin token) here once listening.
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// Serve plain HTTP (real MSAL libraries refuse non-https authorities).
    #[arg(long)]
    no_tls: bool,
    /// Allow binding a non-loopback address.
    #[arg(long)]
    allow_remote: bool,
    /// Directory for the generated CA certificate (default: a temporary directory).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Replay this scenario's faults, events and token shaping in every tenant.
    #[arg(long)]
    scenario: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TOKENSTORM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mock-idp: error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let scenario = match &args.scenario {
        Some(path) => match model::scenario::parse_file(path) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        },
        None => None,
    };
    let idp = mock_idp::MockIdp::start(mock_idp::Options {
        scenario,
        addr: args.addr,
        tls: !args.no_tls,
        allow_remote: args.allow_remote,
        state_dir: args.state_dir,
        ..Default::default()
    })
    .await
    .context("starting the mock identity provider")?;
    if let Some(path) = &args.ready_file {
        idp.write_ready_file(path)
            .with_context(|| format!("writing the ready file {}", path.display()))?;
    }
    let ready = idp.ready();
    println!("mock-idp listening on {}", ready.base_url);
    println!("  authority  {}", ready.authority);
    println!("  graph      {}", ready.graph_url);
    if let Some(ca) = &ready.ca_cert {
        println!("  ca_cert    {}", ca.display());
    }
    if let Some(path) = &args.ready_file {
        println!(
            "  ready file {} (clients, secret, admin token)",
            path.display()
        );
    }
    wait_for_signal().await;
    tracing::info!("shutting down");
    idp.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

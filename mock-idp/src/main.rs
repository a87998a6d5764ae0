//! `mock-idp`: the mock identity provider alone, for local development and scripts
//! (`mock-idp --help`). Binds loopback, writes the ready file once it accepts connections,
//! and serves until Ctrl-C or SIGTERM.

use clap::Parser;

/// An Entra-faithful identity provider and mock Microsoft Graph over HTTPS.
#[derive(Debug, Parser)]
#[command(name = "mock-idp", version, about)]
struct Args {
    #[command(flatten)]
    serve: tokenstorm_mock_idp::cli::ServeArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TOKENSTORM_LOG")
                // rustls warns of every peer that ends a connection abruptly (a JVM closing its
                // pool, a client killed at the end of a scenario): not the user's concern.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rustls=error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            match e.downcast_ref::<tokenstorm_mock_idp::cli::ServeError>() {
                Some(tokenstorm_mock_idp::cli::ServeError::Scenario(errors)) => {
                    eprintln!("{errors}")
                }
                _ => eprintln!("mock-idp: error: {e:#}"),
            }
            std::process::ExitCode::from(model::exit::USAGE)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    Ok(tokenstorm_mock_idp::cli::serve(args.serve).await?)
}

//! The serving command shared by `mock-idp` and `tokenstorm serve`: the flags of
//! `mock-idp --help`, the ready file, and a clean stop on Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Flags of `mock-idp` and `tokenstorm serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: SocketAddr,
    /// Write the ready file (base URL, CA, clients, admin token) here once listening.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
    /// Serve plain HTTP (real MSAL libraries refuse non-https authorities).
    #[arg(long)]
    pub no_tls: bool,
    /// Allow binding a non-loopback address.
    #[arg(long)]
    pub allow_remote: bool,
    /// Directory for the generated CA certificate and the journal, `journal/TENANT.jsonl`
    /// (default: a temporary directory, removed at exit).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// How many of the latest journal entries (all tenants) stay in memory for cursor reads;
    /// older ones are read back from the journal's files.
    #[arg(long, default_value_t = crate::store::JournalLimits::default().window, value_name = "ENTRIES")]
    pub journal_window: usize,
    /// The most the journal's files may hold, in bytes (suffixes K, M, G): past it, entries are
    /// counted, not written, and every journal read says how many it misses.
    #[arg(long, default_value = "4G", value_parser = parse_size, value_name = "BYTES")]
    pub journal_cap: u64,
    /// A scenario file whose faults, events and token shaping every tenant replays
    /// (`tokenstorm serve` also takes a built-in scenario's name).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Also answer as Entra (login.microsoftonline.com, ...) and Graph (graph.microsoft.com) by
    /// their real names, through a proxy on loopback: point an app's HTTPS_PROXY at it and make
    /// it trust the CA (docs/impersonation.md).
    #[arg(long)]
    pub impersonate: bool,
    /// App registrations to enforce (YAML list of client_id, secret or certificate_thumbprints,
    /// redirect_uris, spa_redirect_uris): the real client ids your app uses.
    #[arg(long)]
    pub app: Option<PathBuf>,
}

/// `4096`, `512K`, `64M`, `4G` (powers of 1024).
fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&t[..i], t[i..].trim()),
        None => (t, ""),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size: give bytes, or a number with K, M or G"))?;
    let shift = match unit.to_ascii_uppercase().trim_end_matches(['B', 'I']) {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        _ => return Err(format!("`{text}`: the unit must be K, M or G")),
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// Why serving stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The scenario file is invalid.
    #[error("{0}")]
    Scenario(#[from] model::scenario::ScenarioErrors),
    /// The server could not start.
    #[error("starting the mock identity provider: {0}")]
    Start(crate::StartError),
    /// The `--app` file is invalid.
    #[error("--app: {0}")]
    Apps(String),
    /// The ready file could not be written.
    #[error("writing the ready file: {0}")]
    ReadyFile(crate::StartError),
}

/// Serves until Ctrl-C or SIGTERM; `--scenario` names a file.
pub async fn serve(args: ServeArgs) -> Result<(), ServeError> {
    let scenario = match &args.scenario {
        Some(path) => Some(model::scenario::parse_file(path)?),
        None => None,
    };
    serve_scenario(args, scenario).await
}

/// Serves until Ctrl-C or SIGTERM, replaying `scenario` (which the caller read from
/// `args.scenario` its own way: `tokenstorm serve` also takes a built-in scenario's name).
pub async fn serve_scenario(
    args: ServeArgs,
    scenario: Option<model::scenario::Scenario>,
) -> Result<(), ServeError> {
    let apps = match &args.app {
        Some(path) => crate::config::load_apps(path).map_err(ServeError::Apps)?,
        None => vec![],
    };
    let scenario_name = scenario.as_ref().map(|s| s.name.value.clone());
    let idp = crate::MockIdp::start(crate::Options {
        addr: args.addr,
        tls: !args.no_tls,
        allow_remote: args.allow_remote,
        state_dir: args.state_dir,
        scenario,
        impersonate: args.impersonate,
        apps,
        journal: crate::store::JournalLimits {
            window: args.journal_window,
            cap_bytes: args.journal_cap,
        },
        ..Default::default()
    })
    .await
    .map_err(ServeError::Start)?;
    if let Some(path) = &args.ready_file {
        idp.write_ready_file(path).map_err(ServeError::ReadyFile)?;
    }
    let ready = idp.ready();
    println!("mock-idp listening on {}", ready.base_url);
    println!("  authority  {}", ready.authority);
    println!("  graph      {}", ready.graph_url);
    if let Some(ca) = &ready.ca_cert {
        println!("  ca_cert    {}", ca.display());
    }
    if let Some(dir) = idp.journal_dir() {
        println!("  journal    {}/TENANT.jsonl", dir.display());
    }
    if let Some(proxy) = &ready.proxy_url {
        println!("  proxy      {proxy} (login.microsoftonline.com, graph.microsoft.com, ...: set HTTPS_PROXY and trust ca_cert)");
    }
    if let Some(path) = &args.ready_file {
        println!(
            "  ready file {} (clients, secret, admin token)",
            path.display()
        );
    }
    if let Some(name) = &scenario_name {
        println!("  scenario   {name} (replayed in every tenant)");
    }
    wait_for_signal().await;
    tracing::info!("shutting down");
    idp.shutdown().await;
    Ok(())
}

/// Waits for Ctrl-C or SIGTERM (shared by `mock-idp` and `tokenstorm`).
pub async fn wait_for_signal() {
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

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_read_with_and_without_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("512K"), Ok(512 << 10));
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("4GiB"), Ok(4 << 30));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("3T").is_err());
        assert!(parse_size("99999999999999G").is_err());
    }
}

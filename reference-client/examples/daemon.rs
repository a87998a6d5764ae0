//! A daemon that polls Microsoft Graph every few seconds with an app token, the way a service
//! should: one client for the process, tokens from the (encrypted, persisted) cache, the
//! client's own throttling answers respected instead of retried in a loop.
//!
//! Against tokenstorm's mock (`tokenstorm serve --ready-file ready.json`, then point these at
//! the ready file's values):
//!
//! ```sh
//! AUTHORITY=https://127.0.0.1:PORT/my-tenant CLIENT_ID=... CLIENT_SECRET=... CA_PEM=ca.pem \
//!   GRAPH_URL=https://127.0.0.1:PORT/graph/v1.0 STATE_DIR=/tmp/daemon-state \
//!   cargo run -p tokenstorm-reference-client --example daemon -- 5
//! ```
//!
//! or under `tokenstorm observe -- cargo run -p tokenstorm-reference-client --example daemon`, which sets
//! the `TOKENSTORM_*` variables this example also reads.

use std::time::Duration;
use tokenstorm_reference_client::{Client, Config, Error, Flow};

fn var(names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| std::env::var(n).ok())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rounds: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let authority = var(&["AUTHORITY", "TOKENSTORM_AUTHORITY"])
        .ok_or_else(|| anyhow::anyhow!("set AUTHORITY (or run under tokenstorm observe)"))?;
    let ca_pem = match var(&["CA_PEM", "TOKENSTORM_CA_BUNDLE"]) {
        Some(p) => Some(std::fs::read_to_string(p)?),
        None => None,
    };
    let graph_url = var(&["GRAPH_URL", "TOKENSTORM_GRAPH_URL"])
        .unwrap_or_else(|| "https://graph.microsoft.com/v1.0".into());
    let client = Client::new(Config {
        authority,
        client_id: var(&["CLIENT_ID", "TOKENSTORM_CLIENT_ID"]).unwrap_or_default(),
        client_secret: var(&["CLIENT_SECRET", "TOKENSTORM_CLIENT_SECRET"]).unwrap_or_default(),
        ca_pem,
        state_dir: var(&["STATE_DIR", "TOKENSTORM_STATE_DIR"]).map(Into::into),
        flow: Flow::ClientCredentials,
        graph_url: graph_url.clone(),
    })?;
    let scopes = ["https://graph.microsoft.com/.default".to_string()];
    for round in 1..=rounds {
        match client
            .call_api("GET", &format!("{graph_url}/users"), &scopes, None)
            .await
        {
            Ok(r) => println!("round {round}: Graph answered {}", r.status),
            // The client says how long to wait; a service waits (or does other work).
            Err(Error::Waiting(d)) => println!("round {round}: throttled, {d:?} to wait"),
            Err(e) => println!("round {round}: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(())
}

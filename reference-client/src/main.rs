//! `reference-client`: the reference client behind the driver protocol
//! (`docs/driver-protocol.md`, version 1), on stdin and stdout. The protocol is served by
//! `model::driver::serve` over [`tokenstorm_reference_client::driven::Driver`], the same code the
//! harness's in-process runs use. Commands run concurrently; answers are written as they
//! complete.

use std::sync::Arc;
use tokenstorm_reference_client::{Client, Config};

/// `--zoo QUIRK[,QUIRK]` in a build without the `zoo` feature: refused.
#[cfg(not(feature = "zoo"))]
fn client(config: Config) -> anyhow::Result<Client> {
    if std::env::args().any(|a| a == "--zoo") {
        anyhow::bail!(
            "--zoo needs a build with the `zoo` feature (it breaks the client on purpose)"
        );
    }
    Ok(Client::new(config)?)
}

/// `--zoo QUIRK[,QUIRK]`: deliberate breakage, only in builds with the `zoo` feature.
#[cfg(feature = "zoo")]
fn client(config: Config) -> anyhow::Result<Client> {
    Ok(Client::with_quirks(config, quirks()?)?)
}

#[cfg(feature = "zoo")]
fn quirks() -> anyhow::Result<tokenstorm_reference_client::Quirks> {
    let args: Vec<String> = std::env::args().collect();
    let names = match args.iter().position(|a| a == "--zoo") {
        Some(i) => args.get(i + 1).map(String::as_str).unwrap_or(""),
        None => "",
    };
    tokenstorm_reference_client::Quirks::parse(names).map_err(anyhow::Error::msg)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (config, default_scopes) =
        tokenstorm_reference_client::driven::config_from(|k| std::env::var(k).ok())?;
    let driver = tokenstorm_reference_client::driven::Driver::new(client(config)?, default_scopes);
    model::driver::serve(Arc::new(driver), tokio::io::stdin(), tokio::io::stdout()).await?;
    Ok(())
}

//! `reference-client`: the reference client behind the driver protocol
//! (`docs/driver-protocol.md`, version 1), on stdin and stdout. The protocol is served by
//! `model::driver::serve` over [`reference_client::driven::Driver`], the same code the
//! harness's in-process runs use. Commands run concurrently; answers are written as they
//! complete.

use reference_client::{Client, Config};
use std::sync::Arc;

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
fn quirks() -> anyhow::Result<reference_client::Quirks> {
    let args: Vec<String> = std::env::args().collect();
    let mut q = reference_client::Quirks::default();
    let Some(i) = args.iter().position(|a| a == "--zoo") else {
        return Ok(q);
    };
    for name in args.get(i + 1).map(String::as_str).unwrap_or("").split(',') {
        match name {
            "ignore-retry-after" => q.ignore_retry_after = true,
            "no-backoff" => q.no_backoff = true,
            "no-cache" => q.no_cache = true,
            "no-single-flight" => q.no_single_flight = true,
            "no-cp1" => q.no_cp1 = true,
            "no-persist" => q.no_persist = true,
            "plaintext-cache" => q.plaintext_cache = true,
            "forced-prompt" => q.forced_prompt = true,
            "no-refresh-token" => q.no_refresh_token = true,
            "no-prompt-none" => q.no_prompt_none = true,
            "ignore-refresh-in" => q.ignore_refresh_in = true,
            "no-fallback" => q.no_fallback = true,
            "userinfo" => q.userinfo = true,
            "directory" => q.directory = true,
            "no-overage" => q.no_overage = true,
            "no-challenge" => q.no_challenge = true,
            "decode-access-token" => q.decode_access_token = true,
            "fast-poll" => q.fast_poll = true,
            "drop-step-up-claims" => q.drop_step_up_claims = true,
            "ignore-slow-down" => q.ignore_slow_down = true,
            other => anyhow::bail!("unknown quirk '{other}'"),
        }
    }
    Ok(q)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (config, default_scopes) =
        reference_client::driven::config_from(|k| std::env::var(k).ok())?;
    let driver = reference_client::driven::Driver::new(client(config)?, default_scopes);
    model::driver::serve(Arc::new(driver), tokio::io::stdin(), tokio::io::stdout()).await?;
    Ok(())
}

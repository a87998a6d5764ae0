//! `reference-client`: the reference client behind the driver protocol
//! (`shared/driver-protocol.md`, version 1). Commands run concurrently; answers are written as
//! they complete.

use reference_client::{Client, Config, Error};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

fn error_answer(id: u64, e: &Error) -> Value {
    let kind = match e {
        Error::Waiting(_) => "temporarily_unavailable",
        Error::Refused { error, .. } => error.as_str(),
        Error::Transient(_) => "transient",
        Error::Local(_) => "local",
    };
    json!({"type": "result", "id": id, "ok": false, "error": kind, "description": e.to_string()})
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let authority = env("TOKENSTORM_AUTHORITY")
        .ok_or_else(|| anyhow::anyhow!("TOKENSTORM_AUTHORITY is not set"))?;
    let ca_pem = match env("TOKENSTORM_CA_BUNDLE") {
        Some(p) => Some(std::fs::read_to_string(p)?),
        None => None,
    };
    let default_scopes: Vec<String> = env("TOKENSTORM_SCOPES")
        .unwrap_or_else(|| "https://graph.microsoft.com/.default".into())
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let client = Arc::new(Client::new(Config {
        authority,
        client_id: env("TOKENSTORM_CLIENT_ID").unwrap_or_default(),
        client_secret: env("TOKENSTORM_CLIENT_SECRET").unwrap_or_default(),
        ca_pem,
        state_dir: env("TOKENSTORM_STATE_DIR").map(Into::into),
    })?);

    let (tx, mut rx) = mpsc::unbounded_channel::<(Value, bool)>();
    let writer = tokio::spawn(async move {
        let mut out = tokio::io::stdout();
        while let Some((v, last)) = rx.recv().await {
            let mut line = v.to_string();
            line.push('\n');
            let _ = out.write_all(line.as_bytes()).await;
            let _ = out.flush().await;
            if last {
                break;
            }
        }
    });
    let hello = json!({
        "type": "hello", "protocol": 1, "client": "tokenstorm-reference-client",
        "version": env!("CARGO_PKG_VERSION"),
        "flows": ["client_credentials"], "features": ["persist", "call_api", "cae"],
    });
    let _ = tx.send((hello, false));

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            eprintln!("reference-client: ignoring a line that is not JSON");
            continue;
        };
        if msg["type"] != "command" {
            continue;
        }
        let id = msg["id"].as_u64().unwrap_or(0);
        let op = msg["op"].as_str().unwrap_or_default().to_string();
        if op == "shutdown" {
            // The cache is persisted on every change; nothing is pending.
            let _ = tx.send((json!({"type": "result", "id": id, "ok": true}), true));
            break;
        }
        let client = client.clone();
        let tx = tx.clone();
        let scopes = default_scopes.clone();
        tokio::spawn(async move {
            let answer = match op.as_str() {
                "acquire_token" => {
                    let asked: Vec<String> = msg["scopes"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|s| s.as_str().map(str::to_string))
                                .collect()
                        })
                        .filter(|v: &Vec<String>| !v.is_empty())
                        .unwrap_or(scopes);
                    match client.acquire(&asked).await {
                        Ok(t) => json!({"type": "result", "id": id, "ok": true, "access_token": t}),
                        Err(e) => error_answer(id, &e),
                    }
                }
                "call_api" => {
                    let method = msg["method"].as_str().unwrap_or("GET");
                    let url = msg["url"].as_str().unwrap_or_default();
                    match client.call_api(method, url, &scopes).await {
                        Ok(r) => {
                            json!({"type": "result", "id": id, "ok": (200..300).contains(&r.status), "status": r.status, "body": r.body})
                        }
                        Err(e) => error_answer(id, &e),
                    }
                }
                other => {
                    json!({"type": "result", "id": id, "ok": false, "error": "unsupported", "description": format!("this client does not support {other}")})
                }
            };
            let _ = tx.send((answer, false));
        });
    }
    drop(tx);
    let _ = writer.await;
    Ok(())
}

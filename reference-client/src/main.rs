//! `reference-client`: the reference client behind the driver protocol
//! (`docs/driver-protocol.md`, version 1). Commands run concurrently; answers are written as
//! they complete.

use model::protocol::{self, Answer, Browse, DeviceCode, Frame, FromClient, Hello, Op, ToClient};
use reference_client::{Boxed, Client, Config, Error, Flow, Interaction};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

fn error_answer(id: u64, e: &Error) -> FromClient {
    let kind = match e {
        Error::Waiting(_) => "temporarily_unavailable",
        Error::Refused { error, .. } => error.as_str(),
        Error::Transient(_) => "transient",
        Error::Local(_) => "local",
    };
    FromClient::Result(Answer::failed(id, kind, &e.to_string()))
}

type Waiting = Arc<Mutex<HashMap<u64, tokio::sync::oneshot::Sender<Result<String, String>>>>>;

/// The harness shows the browser and the device code: `browse` and `device_code` messages
/// carrying the id of the command they serve.
struct DriverUi {
    id: u64,
    out: mpsc::UnboundedSender<(FromClient, bool)>,
    waiting: Waiting,
}

impl Interaction for DriverUi {
    fn browse(&self, url: String) -> Boxed<'_, Result<String, String>> {
        Box::pin(async move {
            let (tx, rx) = tokio::sync::oneshot::channel();
            self.waiting
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(self.id, tx);
            let _ = self.out.send((
                FromClient::Browse(Browse {
                    id: self.id,
                    url,
                    frame: Frame::Top,
                }),
                false,
            ));
            rx.await
                .unwrap_or_else(|_| Err("the harness never answered".into()))
        })
    }

    fn device_code(&self, user_code: String, verification_uri: String) -> Boxed<'_, ()> {
        Box::pin(async move {
            let _ = self.out.send((
                FromClient::DeviceCode(DeviceCode {
                    id: self.id,
                    user_code,
                    verification_uri,
                }),
                false,
            ));
        })
    }
}

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
    let client = Arc::new(client(Config {
        authority,
        client_id: env("TOKENSTORM_CLIENT_ID").unwrap_or_default(),
        client_secret: env("TOKENSTORM_CLIENT_SECRET").unwrap_or_default(),
        ca_pem,
        state_dir: env("TOKENSTORM_STATE_DIR").map(Into::into),
        flow: match env("TOKENSTORM_FLOW").as_deref() {
            Some("auth_code") => Flow::AuthCode {
                redirect_uri: env("TOKENSTORM_REDIRECT_URI")
                    .unwrap_or_else(|| "http://localhost/callback".into()),
            },
            Some("device_code") => Flow::DeviceCode,
            Some("obo") => Flow::OnBehalfOf,
            _ => Flow::ClientCredentials,
        },
        graph_url: env("TOKENSTORM_GRAPH_URL").unwrap_or_default(),
    })?);
    let waiting: Waiting = Arc::default();

    let (tx, mut rx) = mpsc::unbounded_channel::<(FromClient, bool)>();
    let writer = tokio::spawn(async move {
        let mut out = tokio::io::stdout();
        while let Some((message, last)) = rx.recv().await {
            let line = protocol::line(&message);
            let _ = out.write_all(line.as_bytes()).await;
            let _ = out.flush().await;
            if last {
                break;
            }
        }
    });
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let hello = FromClient::Hello(Hello {
        protocol: protocol::VERSION,
        client: "tokenstorm-reference-client".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        flows: strings(&["client_credentials", "auth_code", "device_code", "obo"]),
        features: strings(&["persist", "call_api", "cae", "whoami"]),
    });
    let _ = tx.send((hello, false));

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let command = match serde_json::from_str::<ToClient>(&line) {
            Ok(ToClient::Browsed(b)) => {
                let answer = match b.url {
                    Some(u) => Ok(u),
                    None => Err(b
                        .error
                        .unwrap_or_else(|| "the browser could not finish".into())),
                };
                if let Some(tx) = waiting
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&b.id)
                {
                    let _ = tx.send(answer);
                }
                continue;
            }
            Ok(ToClient::Command(c)) => c,
            Err(e) => {
                eprintln!("reference-client: ignoring a line that is no protocol message: {e}");
                continue;
            }
        };
        let id = command.id;
        if command.op == Op::Shutdown {
            // The cache is persisted on every change; nothing is pending.
            let _ = tx.send((FromClient::Result(Answer::new(id, true, json!({}))), true));
            break;
        }
        let client = client.clone();
        let tx = tx.clone();
        let scopes = default_scopes.clone();
        let ui = DriverUi {
            id,
            out: tx.clone(),
            waiting: waiting.clone(),
        };
        tokio::spawn(async move {
            let answer = match command.op {
                Op::AcquireToken {
                    scopes: asked,
                    assertion,
                } => {
                    let asked = if asked.is_empty() { scopes } else { asked };
                    let got = match assertion {
                        Some(a) => client.acquire_on_behalf_of(&a, &asked).await,
                        None => client.acquire_with(&asked, Some(&ui)).await,
                    };
                    match got {
                        Ok(t) => {
                            FromClient::Result(Answer::new(id, true, json!({"access_token": t})))
                        }
                        Err(e) => error_answer(id, &e),
                    }
                }
                Op::CallApi { method, url } => {
                    match client.call_api(&method, &url, &scopes, Some(&ui)).await {
                        Ok(r) => FromClient::Result(Answer::new(
                            id,
                            (200..300).contains(&r.status),
                            json!({"status": r.status, "body": r.body}),
                        )),
                        Err(e) => error_answer(id, &e),
                    }
                }
                Op::Whoami => match client.whoami(&scopes, Some(&ui)).await {
                    Ok(w) => FromClient::Result(Answer::new(
                        id,
                        true,
                        json!({
                            "name": w.name, "username": w.username, "oid": w.oid,
                            "roles": w.roles, "groups": w.groups,
                        }),
                    )),
                    Err(e) => error_answer(id, &e),
                },
                other => FromClient::Result(Answer::failed(
                    id,
                    "unsupported",
                    &format!("this client does not support {}", other.name()),
                )),
            };
            let _ = tx.send((answer, false));
        });
    }
    drop(tx);
    let _ = writer.await;
    Ok(())
}

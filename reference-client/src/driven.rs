//! The reference client behind the driver protocol: [`Driver`] implements
//! [`model::driver::Driven`], so the same code answers the harness from a process (the
//! `reference-client` binary serves its stdin and stdout) or in-process (the harness's
//! `inproc` runs, on tokio's paused clock in tests).

use crate::{Boxed, Client, Config, Error, Flow, Interaction};
use model::driver::{BoxFuture, Driven, Ui};
use model::protocol::{self, Answer, Frame, Hello, Op};
use serde_json::json;
use std::sync::Arc;

/// The harness's browser and device-code screen, as the client's [`Interaction`].
impl Interaction for Ui {
    fn browse(&self, url: String) -> Boxed<'_, Result<String, String>> {
        Box::pin(Ui::browse(self, url, Frame::Top))
    }

    fn device_code(&self, user_code: String, verification_uri: String) -> Boxed<'_, ()> {
        Box::pin(async move { Ui::device_code(self, user_code, verification_uri) })
    }
}

/// The driver protocol's environment read into a [`Config`] and the default scopes: `get`
/// looks a variable up (`TOKENSTORM_AUTHORITY`, `TOKENSTORM_CLIENT_ID`, ...; empty counts as
/// unset). `TOKENSTORM_CA_BUNDLE` names a file, read here.
pub fn config_from(get: impl Fn(&str) -> Option<String>) -> Result<(Config, Vec<String>), Error> {
    let get = |k: &str| get(k).filter(|v| !v.is_empty());
    let authority = get("TOKENSTORM_AUTHORITY")
        .ok_or_else(|| Error::Local("TOKENSTORM_AUTHORITY is not set".into()))?;
    let ca_pem = match get("TOKENSTORM_CA_BUNDLE") {
        Some(p) => Some(
            std::fs::read_to_string(&p)
                .map_err(|e| Error::Local(format!("TOKENSTORM_CA_BUNDLE {p}: {e}")))?,
        ),
        None => None,
    };
    let scopes = get("TOKENSTORM_SCOPES")
        .unwrap_or_else(|| "https://graph.microsoft.com/.default".into())
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let config = Config {
        authority,
        client_id: get("TOKENSTORM_CLIENT_ID").unwrap_or_default(),
        client_secret: get("TOKENSTORM_CLIENT_SECRET").unwrap_or_default(),
        ca_pem,
        state_dir: get("TOKENSTORM_STATE_DIR").map(Into::into),
        flow: match get("TOKENSTORM_FLOW").as_deref() {
            Some("auth_code") => Flow::AuthCode {
                redirect_uri: get("TOKENSTORM_REDIRECT_URI")
                    .unwrap_or_else(|| "http://localhost/callback".into()),
            },
            Some("device_code") => Flow::DeviceCode,
            Some("obo") => Flow::OnBehalfOf,
            _ => Flow::ClientCredentials,
        },
        graph_url: get("TOKENSTORM_GRAPH_URL").unwrap_or_default(),
    };
    Ok((config, scopes))
}

/// The reference client, driven: each command is one call on the [`Client`].
pub struct Driver {
    client: Client,
    default_scopes: Vec<String>,
}

impl Driver {
    /// Drives `client`; commands without scopes ask for `default_scopes`.
    pub fn new(client: Client, default_scopes: Vec<String>) -> Driver {
        Driver {
            client,
            default_scopes,
        }
    }
}

fn error_answer(id: u64, e: &Error) -> Answer {
    let kind = match e {
        Error::Waiting(_) => "temporarily_unavailable",
        Error::Refused { error, .. } => error.as_str(),
        Error::Transient(_) => "transient",
        Error::Local(_) => "local",
    };
    Answer::failed(id, kind, &e.to_string())
}

impl Driven for Driver {
    fn hello(&self) -> Hello {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Hello {
            protocol: protocol::VERSION,
            client: "tokenstorm-reference-client".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            flows: strings(&["client_credentials", "auth_code", "device_code", "obo"]),
            features: strings(&["persist", "call_api", "cae", "whoami"]),
        }
    }

    fn run(self: Arc<Self>, id: u64, op: Op, ui: Ui) -> BoxFuture<'static, Answer> {
        Box::pin(async move {
            let scopes = &self.default_scopes;
            match op {
                Op::AcquireToken {
                    scopes: asked,
                    assertion,
                } => {
                    let asked = if asked.is_empty() {
                        scopes.clone()
                    } else {
                        asked
                    };
                    let got = match assertion {
                        Some(a) => self.client.acquire_on_behalf_of(&a, &asked).await,
                        None => self.client.acquire_with(&asked, Some(&ui)).await,
                    };
                    match got {
                        Ok(t) => Answer::new(id, true, json!({ "access_token": t })),
                        Err(e) => error_answer(id, &e),
                    }
                }
                Op::CallApi { method, url } => {
                    match self.client.call_api(&method, &url, scopes, Some(&ui)).await {
                        Ok(r) => Answer::new(
                            id,
                            (200..300).contains(&r.status),
                            json!({ "status": r.status, "body": r.body }),
                        ),
                        Err(e) => error_answer(id, &e),
                    }
                }
                Op::Whoami => match self.client.whoami(scopes, Some(&ui)).await {
                    Ok(w) => Answer::new(
                        id,
                        true,
                        json!({
                            "name": w.name, "username": w.username, "oid": w.oid,
                            "roles": w.roles, "groups": w.groups,
                        }),
                    ),
                    Err(e) => error_answer(id, &e),
                },
                other => Answer::failed(
                    id,
                    "unsupported",
                    &format!("this client does not support {}", other.name()),
                ),
            }
        })
    }
    // shutdown: the cache is persisted on every change; nothing is pending.
}

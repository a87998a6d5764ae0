//! The client's side of the driver protocol, for clients written in Rust: implement [`Driven`]
//! and [`serve`] speaks the protocol for you over any pair of pipes. A driver binary serves its
//! stdin and stdout; the harness's in-process runs (`tokenstorm::inproc`) serve in-memory pipes
//! on the harness's own runtime, which is what lets a whole scenario library run on tokio's
//! paused clock.
//!
//! [`serve`] answers `shutdown` itself (after [`Driven::shutdown`]), runs every other command
//! concurrently (commands may overlap, as the protocol allows), routes `browsed` answers to the
//! [`Ui`] that asked, and ends when the harness closes the pipe or after answering `shutdown`.
//! Dropping the future it returns cancels every command still running, as killing a process
//! would.

use crate::protocol::{self, Answer, Browse, DeviceCode, Frame, FromClient, Hello, Op, ToClient};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};

/// A boxed future, as [`Driven`]'s methods return them.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A client the driver protocol can drive.
pub trait Driven: Send + Sync + 'static {
    /// The hello: the client's name and version, its flows and features.
    fn hello(&self) -> Hello;

    /// Runs one command and answers it (`Answer::new(id, ..)` or `Answer::failed(id, ..)`).
    /// Never called for `shutdown`. `ui` shows the harness a browser URL or a device code on
    /// behalf of this command.
    fn run(self: Arc<Self>, id: u64, op: Op, ui: Ui) -> BoxFuture<'static, Answer>;

    /// Called on `shutdown`, before its answer: persist what must survive a restart. The
    /// default does nothing (a client that persists on every change has nothing left).
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

type Waiting = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<String, String>>>>>;

/// The harness as the user's browser and device-code screen, for one command.
#[derive(Clone)]
pub struct Ui {
    id: u64,
    out: mpsc::UnboundedSender<(FromClient, bool)>,
    waiting: Waiting,
}

impl std::fmt::Debug for Ui {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ui").field("id", &self.id).finish()
    }
}

impl Ui {
    /// The id of the command this UI serves.
    pub fn command_id(&self) -> u64 {
        self.id
    }

    /// Has the harness's browser load `url` (in the top window or an iframe); the URL where
    /// it ended (the redirect URI with its query), or why it could not finish (the user
    /// closed the window, an error page).
    pub async fn browse(&self, url: String, frame: Frame) -> Result<String, String> {
        let (tx, rx) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(self.id, tx);
        let _ = self.out.send((
            FromClient::Browse(Browse {
                id: self.id,
                url,
                frame,
            }),
            false,
        ));
        rx.await
            .unwrap_or_else(|_| Err("the harness never answered".into()))
    }

    /// Shows the user a device code (the harness enters it; nothing comes back).
    pub fn device_code(&self, user_code: String, verification_uri: String) {
        let _ = self.out.send((
            FromClient::DeviceCode(DeviceCode {
                id: self.id,
                user_code,
                verification_uri,
            }),
            false,
        ));
    }
}

/// Speaks the driver protocol for `client`: its hello first, then commands read from `input`
/// answered on `output`, until `shutdown` is answered or `input` ends. Lines that are no
/// protocol message are skipped (and named on stderr).
pub async fn serve<D, R, W>(client: Arc<D>, input: R, output: W) -> std::io::Result<()>
where
    D: Driven + ?Sized,
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let waiting: Waiting = Arc::default();
    let (tx, mut rx) = mpsc::unbounded_channel::<(FromClient, bool)>();
    let mut writer = tokio::spawn(async move {
        let mut out = output;
        while let Some((message, last)) = rx.recv().await {
            out.write_all(protocol::line(&message).as_bytes()).await?;
            out.flush().await?;
            if last {
                break;
            }
        }
        Ok::<(), std::io::Error>(())
    });
    // Aborted on drop: the writer must not outlive a cancelled serve.
    struct AbortOnDrop(tokio::task::AbortHandle);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let _writer_guard = AbortOnDrop(writer.abort_handle());
    let _ = tx.send((FromClient::Hello(client.hello()), false));

    // Commands run here; dropping the set (serve cancelled) aborts them.
    let mut commands = tokio::task::JoinSet::new();
    let mut lines = BufReader::new(input).lines();
    let mut shut_down = false;
    loop {
        let line = tokio::select! {
            l = lines.next_line() => l?,
            Some(_) = commands.join_next(), if !commands.is_empty() => continue,
        };
        let Some(line) = line else { break };
        let command = match serde_json::from_str::<ToClient>(&line) {
            Ok(ToClient::Browsed(b)) => {
                let answer = match b.url {
                    Some(u) => Ok(u),
                    None => Err(b
                        .error
                        .unwrap_or_else(|| "the browser could not finish".into())),
                };
                let waiter = waiting
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&b.id);
                if let Some(w) = waiter {
                    let _ = w.send(answer);
                }
                continue;
            }
            Ok(ToClient::Command(c)) => c,
            Err(e) => {
                eprintln!("ignoring a line that is no driver-protocol message: {e}");
                continue;
            }
        };
        let id = command.id;
        if command.op == Op::Shutdown {
            client.shutdown().await;
            let _ = tx.send((
                FromClient::Result(Answer::new(id, true, serde_json::json!({}))),
                true,
            ));
            shut_down = true;
            break;
        }
        let ui = Ui {
            id,
            out: tx.clone(),
            waiting: waiting.clone(),
        };
        let answer = client.clone().run(id, command.op, ui);
        let tx = tx.clone();
        commands.spawn(async move {
            let answer = answer.await;
            let _ = tx.send((FromClient::Result(answer), false));
        });
    }
    drop(tx);
    if shut_down {
        // The client is exiting: what still runs ends with it.
        commands.shutdown().await;
    } else {
        // The harness closed the pipe: nothing will answer a browse any more; the commands
        // finish, and the writer ends once their answers are written (their tasks hold the
        // channel's other ends).
        waiting.lock().unwrap_or_else(|p| p.into_inner()).clear();
        while commands.join_next().await.is_some() {}
    }
    match (&mut writer).await {
        Ok(r) => r,
        Err(e) => Err(std::io::Error::other(e)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    struct Echo;

    impl Driven for Echo {
        fn hello(&self) -> Hello {
            Hello {
                protocol: protocol::VERSION,
                client: "echo".into(),
                version: "1".into(),
                flows: vec!["auth_code".into()],
                features: vec![],
            }
        }

        fn run(self: Arc<Self>, id: u64, op: Op, ui: Ui) -> BoxFuture<'static, Answer> {
            Box::pin(async move {
                match op {
                    Op::AcquireToken { .. } => {
                        match ui.browse("https://idp/authorize".into(), Frame::Top).await {
                            Ok(url) => Answer::new(id, true, json!({ "ended": url })),
                            Err(e) => Answer::failed(id, "cancelled", &e),
                        }
                    }
                    Op::Whoami => {
                        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                        Answer::new(id, true, json!({}))
                    }
                    _ => Answer::failed(id, "unsupported", ""),
                }
            })
        }
    }

    async fn next(
        lines: &mut tokio::io::Lines<BufReader<tokio::io::ReadHalf<tokio::io::DuplexStream>>>,
    ) -> Value {
        serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap()
    }

    /// A browse is answered by `browsed`, commands overlap, and `shutdown` ends the serve
    /// while a command still waits (it is cancelled with it).
    #[tokio::test(start_paused = true)]
    async fn serves_commands_browses_and_shutdown() {
        let (harness, client) = tokio::io::duplex(4096);
        let (cr, cw) = tokio::io::split(client);
        let served = tokio::spawn(serve(Arc::new(Echo), cr, cw));
        let (hr, mut hw) = tokio::io::split(harness);
        let mut lines = BufReader::new(hr).lines();
        assert_eq!(next(&mut lines).await["type"], "hello");
        hw.write_all(b"{\"type\":\"command\",\"id\":1,\"op\":\"whoami\"}\nnot json\n{\"type\":\"command\",\"id\":2,\"op\":\"acquire_token\"}\n")
            .await
            .unwrap();
        let browse = next(&mut lines).await;
        assert_eq!(browse["type"], "browse");
        assert_eq!(browse["id"], 2);
        hw.write_all(b"{\"type\":\"browsed\",\"id\":2,\"url\":\"http://localhost/cb?code=x\"}\n")
            .await
            .unwrap();
        let answer = next(&mut lines).await;
        assert_eq!(answer["id"], 2);
        assert_eq!(answer["ok"], true);
        assert_eq!(answer["ended"], "http://localhost/cb?code=x");
        hw.write_all(b"{\"type\":\"command\",\"id\":3,\"op\":\"shutdown\"}\n")
            .await
            .unwrap();
        let bye = next(&mut lines).await;
        assert_eq!(
            (bye["id"].clone(), bye["ok"].clone()),
            (json!(3), json!(true))
        );
        served.await.unwrap().unwrap();
        // Nothing more: whoami (id 1) was cancelled, never answered.
        assert!(lines.next_line().await.unwrap().is_none());
    }

    /// A closed window comes back as the browse's error.
    #[tokio::test]
    async fn a_browse_error_reaches_the_command() {
        let (harness, client) = tokio::io::duplex(4096);
        let (cr, cw) = tokio::io::split(client);
        let served = tokio::spawn(serve(Arc::new(Echo), cr, cw));
        let (hr, mut hw) = tokio::io::split(harness);
        let mut lines = BufReader::new(hr).lines();
        next(&mut lines).await;
        hw.write_all(b"{\"type\":\"command\",\"id\":7,\"op\":\"acquire_token\"}\n")
            .await
            .unwrap();
        next(&mut lines).await;
        hw.write_all(b"{\"type\":\"browsed\",\"id\":7,\"error\":\"the user closed the window\"}\n")
            .await
            .unwrap();
        let answer = next(&mut lines).await;
        assert_eq!(answer["ok"], false);
        assert_eq!(answer["description"], "the user closed the window");
        // The harness closes the pipe: the serve ends.
        hw.shutdown().await.unwrap();
        served.await.unwrap().unwrap();
    }
}

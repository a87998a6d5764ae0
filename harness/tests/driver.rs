//! The driver protocol against real client processes (a scripted Python client in several
//! behaviours) and the real mock over TLS: hello, commands and answers, deadlines, crashes,
//! garbage on stdout, and no process left behind.
#![allow(clippy::unwrap_used)]

use mock_idp::{MockIdp, Options};
use model::protocol::Op;
use model::transcript::TranscriptEvent;
use std::sync::Arc;
use std::time::Duration;
use tokenstorm::browser::Browser;
use tokenstorm::driver::{Client, DriverError, Launch, Transcript};

struct World {
    idp: MockIdp,
    transcript: Transcript,
    browser: Arc<Browser>,
    dir: tempfile::TempDir,
}

async fn world() -> World {
    let idp = MockIdp::start(Options::default()).await.unwrap();
    let state = idp.clock();
    let transcript = Transcript::new(Arc::new(move || state.now_us()));
    let browser = Arc::new(
        Browser::new(idp.base_url(), idp.ca_cert_pem(), None, Default::default()).unwrap(),
    );
    World {
        idp,
        transcript,
        browser,
        dir: tempfile::tempdir().unwrap(),
    }
}

fn launch(w: &World, tenant: &str, mode: &str) -> Launch {
    let r = w.idp.ready();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/scripted.py");
    let ca = r.ca_cert.clone().unwrap().display().to_string();
    Launch {
        program: "python3".into(),
        args: vec![script.display().to_string(), mode.into()],
        env: vec![
            ("TOKENSTORM_AUTHORITY".into(), w.idp.authority(tenant)),
            (
                "TOKENSTORM_CLIENT_ID".into(),
                r.clients.confidential.client_id.clone(),
            ),
            (
                "TOKENSTORM_CLIENT_SECRET".into(),
                r.clients.confidential.client_secret.clone(),
            ),
            (
                "TOKENSTORM_SCOPES".into(),
                "https://graph.microsoft.com/.default".into(),
            ),
            ("TOKENSTORM_FLOW".into(), "client_credentials".into()),
            ("TOKENSTORM_GRAPH_URL".into(), w.idp.graph_url()),
            ("TOKENSTORM_CA_BUNDLE".into(), ca),
            (
                "TOKENSTORM_STATE_DIR".into(),
                w.dir.path().display().to_string(),
            ),
        ],
        cwd: None,
        in_process: None,
    }
}

async fn start(
    w: &World,
    tenant: &str,
    mode: &str,
) -> Result<Client, (DriverError, Option<Client>)> {
    Client::start(
        &launch(w, tenant, mode),
        w.transcript.clone(),
        w.browser.clone(),
        1,
        Duration::from_secs(10),
    )
    .await
}

/// An `acquire_token` with the client's default scopes.
fn acquire() -> Op {
    Op::AcquireToken {
        scopes: vec![],
        assertion: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_client_is_driven_and_its_transcript_is_redacted() {
    let w = world().await;
    let c = start(&w, "good", "good").await.map_err(|e| e.0).unwrap();
    assert_eq!(c.hello().unwrap().client, "scripted-good");
    assert_eq!(c.hello().unwrap().flows, vec!["client_credentials"]);
    let a = c
        .command(
            1,
            &Op::AcquireToken {
                scopes: vec!["https://graph.microsoft.com/.default".into()],
                assertion: None,
            },
            0,
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    let b = c
        .command(2, &acquire(), 1, Duration::from_secs(20))
        .await
        .unwrap();
    assert!(a.ok);
    assert_eq!(
        a.fields["access_token"], b.fields["access_token"],
        "served from its cache"
    );
    let oid = w.idp.ready().user.oid;
    let api = c
        .command(
            3,
            &Op::CallApi {
                method: "GET".into(),
                url: format!("{}/users/{oid}", w.idp.graph_url()),
            },
            2,
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    assert_eq!(api.fields["status"], 200);
    assert_eq!(c.shutdown(4, Duration::from_secs(5)).await, Some(0));
    // What reached the mock: one token request, one Graph call.
    let j = w.idp.journal_for("good");
    assert_eq!(
        j.iter()
            .filter(|e| e.endpoint == model::Endpoint::Token)
            .count(),
        1
    );
    assert_eq!(
        j.iter()
            .filter(|e| e.endpoint == model::Endpoint::Graph)
            .count(),
        1
    );
    // The transcript: started, hello, commands and results in order, an expected exit.
    let t = w.transcript.entries();
    assert!(matches!(
        t[0].event,
        TranscriptEvent::Started { incarnation: 1, .. }
    ));
    assert!(matches!(t[1].event, TranscriptEvent::Hello(_)));
    assert!(
        t.windows(2).all(|p| p[0].at_us <= p[1].at_us),
        "times are monotonic"
    );
    assert!(matches!(
        t.last().unwrap().event,
        TranscriptEvent::Exited {
            code: Some(0),
            expected: true,
            ..
        }
    ));
    let text = serde_json::to_string(&t).unwrap();
    assert!(
        !text.contains(a.fields["access_token"].as_str().unwrap()),
        "no token in the transcript"
    );
    // Transcript and journal share a clock: the token request lies between command 1 and its result.
    let sent = t
        .iter()
        .find_map(|e| matches!(e.event, TranscriptEvent::Command { id: 1, .. }).then_some(e.at_us))
        .unwrap();
    let answered = t
        .iter()
        .find_map(|e| matches!(e.event, TranscriptEvent::Result { id: 1, .. }).then_some(e.at_us))
        .unwrap();
    let tok = j
        .iter()
        .find(|e| e.endpoint == model::Endpoint::Token)
        .unwrap();
    assert!(
        sent <= tok.arrived_us && tok.finished_us.unwrap() <= answered,
        "{sent} {} {answered}",
        tok.arrived_us
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_client_is_reported_with_its_stderr() {
    let w = world().await;
    let c = start(&w, "crash", "crash").await.map_err(|e| e.0).unwrap();
    let err = c
        .command(1, &acquire(), 0, Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(matches!(err, DriverError::Exited { id: 1, .. }), "{err:?}");
    assert!(
        c.stderr_tail()
            .iter()
            .any(|l| l.contains("Traceback: simulated crash")),
        "{:?}",
        c.stderr_tail()
    );
    c.kill(false).await;
    match &w.transcript.entries().last().unwrap().event {
        TranscriptEvent::Exited {
            code,
            signal,
            expected,
            stderr_tail,
        } => {
            assert_eq!(*code, Some(3));
            assert_eq!(*signal, None);
            assert!(!expected);
            assert!(stderr_tail.iter().any(|l| l.contains("Traceback")));
        }
        e => panic!("{e:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_client_times_out_and_its_whole_process_group_is_killed() {
    let w = world().await;
    let c = start(&w, "spawn", "spawner")
        .await
        .map_err(|e| e.0)
        .unwrap();
    let t0 = std::time::Instant::now();
    let err = c
        .command(1, &acquire(), 0, Duration::from_millis(800))
        .await
        .unwrap_err();
    assert!(matches!(err, DriverError::Timeout { id: 1, .. }), "{err:?}");
    assert!(t0.elapsed() < Duration::from_secs(3));
    let pid = c.pid().unwrap();
    let grandchild: u32 = c
        .stderr_tail()
        .iter()
        .find_map(|l| {
            l.strip_prefix("grandchild=")
                .map(|p| p.trim().parse().unwrap())
        })
        .expect("the spawner names its grandchild");
    assert!(std::path::Path::new(&format!("/proc/{grandchild}")).exists());
    c.kill(false).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for p in [pid, grandchild] {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        // Gone, or a zombie awaiting its reaper: not running.
        assert!(
            stat.is_empty() || stat.contains(") Z "),
            "process {p} survived: {stat}"
        );
    }
    assert!(w.transcript.entries().iter().any(|e| matches!(
        e.event,
        TranscriptEvent::Timeout {
            id: 1,
            deadline_ms: 800
        }
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_stdout_is_a_protocol_error_with_the_line_as_evidence() {
    let w = world().await;
    let c = start(&w, "garbage", "garbage")
        .await
        .map_err(|e| e.0)
        .unwrap();
    let a = c
        .command(1, &acquire(), 0, Duration::from_secs(20))
        .await
        .unwrap();
    assert!(a.ok);
    c.shutdown(2, Duration::from_secs(5)).await;
    let errors: Vec<_> = w
        .transcript
        .entries()
        .into_iter()
        .filter_map(|e| match e.event {
            TranscriptEvent::ProtocolError { line, .. } => Some(line),
            _ => None,
        })
        .collect();
    assert_eq!(errors, vec!["this is not a protocol line"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_says_hello_is_refused_within_the_deadline() {
    let w = world().await;
    let t0 = std::time::Instant::now();
    let launch = launch(&w, "nohello", "nohello");
    let (err, client) = Client::start(
        &launch,
        w.transcript.clone(),
        w.browser.clone(),
        1,
        Duration::from_millis(1500),
    )
    .await
    .err()
    .unwrap();
    assert!(matches!(err, DriverError::NoHello(_)), "{err:?}");
    assert!(t0.elapsed() < Duration::from_secs(4));
    let client = client.unwrap();
    let pid = client.pid().unwrap();
    client.kill(false).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(stat.is_empty() || stat.contains(") Z "), "{stat}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_exits_unasked_fails_the_next_command() {
    let w = world().await;
    let mut c = start(&w, "exitmid", "exitmid")
        .await
        .map_err(|e| e.0)
        .unwrap();
    assert!(
        c.command(1, &acquire(), 0, Duration::from_secs(20))
            .await
            .unwrap()
            .ok
    );
    assert_eq!(c.wait_exit(Duration::from_secs(5)).await, Some(Some(0)));
    let err = c
        .command(2, &acquire(), 1, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(err, DriverError::Exited { id: 2, .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_program_is_a_spawn_error() {
    let w = world().await;
    let mut l = launch(&w, "x", "good");
    l.program = "/no/such/program".into();
    let (err, _) = Client::start(
        &l,
        w.transcript.clone(),
        w.browser.clone(),
        1,
        Duration::from_secs(1),
    )
    .await
    .err()
    .unwrap();
    assert!(matches!(err, DriverError::Spawn { .. }), "{err:?}");
}

/// A throttled sign-in page: the browser's error names the status and the Retry-After, all a
/// user (or a client reading the `browsed` error) can learn of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_sign_in_page_names_its_retry_after() {
    use tokenstorm::driver::{Frame, UserAgent};
    let w = world().await;
    let s: model::scenario::Scenario = serde_saphyr::from_str(
        "name: t\nsummary: t\nflow: auth_code\nrules: [client.liveness]\nsteps: [{acquire_token: {}}]\nfaults:\n  - endpoint: authorize\n    respond: { status: 429, retry_after: 20s }\n",
    )
    .unwrap();
    w.idp.load_scenario("throttled-page", s);
    let url = format!(
        "{}/throttled-page/oauth2/v2.0/authorize?client_id=x&response_type=code&scope=openid",
        w.idp.base_url()
    );
    let err = w.browser.browse(url, Frame::Top).await.unwrap_err();
    assert!(
        err.contains("429") && err.contains("(Retry-After: 20)"),
        "{err}"
    );
}

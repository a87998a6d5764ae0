//! The `tokenstorm` binary's scenario tooling and `serve`, run as a user runs them.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

fn tokenstorm(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tokenstorm"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .unwrap()
}

#[test]
fn validate_accepts_the_library_and_names_file_line_column_otherwise() {
    let ok = tokenstorm(&["scenarios", "validate", "scenarios"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("scenario(s) valid"));

    let bad = tokenstorm(&[
        "scenarios",
        "validate",
        "model/tests/broken/misspelled-rule.yaml",
        "model/tests/broken/until-before-after.yaml",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("model/tests/broken/misspelled-rule.yaml:5:9: unknown rule 'cache.resue' (did you mean 'cache.reuse'?)"), "{err}");
    assert!(
        err.contains("model/tests/broken/until-before-after.yaml:10:12:"),
        "{err}"
    );
    assert!(err.contains("2 problem(s)"), "{err}");

    let missing = tokenstorm(&["scenarios", "validate", "no/such/file.yaml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no/such/file.yaml"));
}

#[test]
fn list_shows_the_builtin_library_and_filters() {
    let out = tokenstorm(&["scenarios", "list"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let rows = text
        .lines()
        .filter(|l| l.contains("client.liveness"))
        .count();
    assert!(rows >= 30, "{text}");
    assert!(text.contains("the longest takes about"));
    let out = tokenstorm(&["scenarios", "list", "--filter", "cae"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .skip(1)
            .filter(|l| l.contains("client.liveness"))
            .all(|l| l.contains("cae")),
        "{text}"
    );
}

#[test]
fn schema_prints_the_checked_in_schema() {
    let out = tokenstorm(&["scenarios", "schema"]);
    assert!(out.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/scenario.schema.json");
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert_eq!(printed, on_disk);
}

#[test]
fn rules_lists_the_catalog() {
    let out = tokenstorm(&["rules"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for r in model::rules::CATALOG.iter() {
        assert!(text.contains(r.id.as_str()), "{} missing", r.id);
    }
    assert!(text.contains("SHOULD") && text.contains("MUST"));
}

/// docs/cli.md is the CLI reference, made of every command's `--help` (clap's own text, with
/// its examples): a flag added or changed without the reference shows here.
/// `TOKENSTORM_BLESS=1` rewrites it.
#[test]
fn the_cli_reference_is_every_commands_help() {
    let commands: &[&[&str]] = &[
        &[],
        &["run"],
        &["observe"],
        &["serve"],
        &["scenarios"],
        &["scenarios", "list"],
        &["scenarios", "validate"],
        &["scenarios", "schema"],
        &["rules"],
        &["report"],
        &["report", "render"],
        &["report", "merge"],
        &["diff"],
    ];
    let mut doc = String::from(
        "# The `tokenstorm` command line\n\n\
         This reference is every command's `--help`, as `tokenstorm` prints it (a test keeps the two\n\
         equal). Exit codes, for every command that judges: 0 passed, 1 failed (a MUST rule failed,\n\
         a SHOULD rule too with `--strict`, a scenario errored or judged nothing, an expected\n\
         failure no longer fails, or a regression against `--baseline`), 2 bad input (nothing was\n\
         run), 130 interrupted (the partial report is written). Wherever a command takes a\n\
         scenario, a file, a folder or a built-in scenario's name will do.\n",
    );
    for c in commands {
        let mut args: Vec<&str> = c.to_vec();
        args.push("--help");
        let out = tokenstorm(&args);
        assert!(out.status.success(), "{args:?}");
        let title = if c.is_empty() {
            "tokenstorm".to_string()
        } else {
            format!("tokenstorm {}", c.join(" "))
        };
        doc.push_str(&format!(
            "\n## `{title}`\n\n```text\n{}```\n",
            String::from_utf8_lossy(&out.stdout).replace(env!("CARGO_PKG_VERSION"), "VERSION")
        ));
    }
    // `run --client` names every built-in adapter.
    let run_help = String::from_utf8_lossy(&tokenstorm(&["run", "--help"]).stdout).to_string();
    let adapters = Path::new(env!("CARGO_MANIFEST_DIR")).join("../adapters");
    for a in std::fs::read_dir(adapters).unwrap().flatten() {
        if a.path().join("install.sh").exists() {
            let name = a.file_name().to_string_lossy().to_string();
            assert!(
                run_help.contains(&format!("`{name}`")),
                "run --help misses {name}"
            );
        }
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/cli.md");
    if std::env::var_os("TOKENSTORM_BLESS").is_some() {
        std::fs::write(&path, &doc).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        want == doc,
        "docs/cli.md differs from the commands' --help (TOKENSTORM_BLESS=1 cargo test -p tokenstorm \
         --test cli -- the_cli_reference rewrites it)"
    );
}

#[test]
fn rules_and_scenarios_list_speak_json() {
    let out = tokenstorm(&["rules", "--json"]);
    assert!(out.status.success());
    let rules: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rules.len(), model::rules::CATALOG.len());
    let retry = rules
        .iter()
        .find(|r| r["id"] == "throttle.retry-after")
        .unwrap();
    assert_eq!(retry["level"], "MUST");
    assert!(retry["causes"].as_array().is_some_and(|c| !c.is_empty()));
    let out = tokenstorm(&["scenarios", "list", "--json", "--filter", "throttle-429"]);
    assert!(out.status.success());
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let short = list
        .iter()
        .find(|s| s["name"] == "throttle-429-short")
        .unwrap();
    assert_eq!(short["flow"], "client_credentials");
    assert!(short["rules"]
        .as_array()
        .unwrap()
        .contains(&"throttle.retry-after".into()));
    assert!(short["expected_duration_s"].as_f64().unwrap() > 10.0);
    assert!(list
        .iter()
        .all(|s| s["name"].as_str().unwrap().contains("throttle-429")
            || s["tags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t.as_str().unwrap().contains("throttle-429"))));
}

/// A built-in scenario's name works wherever a path does; a name that is neither is refused
/// with the argument named.
#[test]
fn scenario_arguments_take_built_in_names() {
    let out = tokenstorm(&[
        "scenarios",
        "validate",
        "throttle-429-short",
        "scenarios/cache",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("ok  throttle-429-short  (builtin:"), "{text}");
    let out = tokenstorm(&["scenarios", "validate", "no-such-scenario"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no-such-scenario") && err.contains("no built-in scenario of that name"),
        "{err}"
    );
    let out = tokenstorm(&["serve", "--scenario", "scenarios/cache"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("where one is wanted"));
}

#[test]
fn serve_refuses_an_invalid_scenario_with_exit_2() {
    let out = tokenstorm(&[
        "serve",
        "--scenario",
        "model/tests/broken/call-range-from-zero.yaml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("call-range-from-zero.yaml:8:12:"));
}

/// One CLI grammar: `serve --scenario` takes a built-in scenario's name as `observe` and `run`
/// do, and the mock then plays it (the built-in throttle-429-short answers the first token
/// request 429 with Retry-After 3).
#[test]
fn serve_takes_a_built_in_scenario_by_name_and_plays_it() {
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokenstorm"))
        .args(["serve", "--scenario", "throttle-429-short", "--ready-file"])
        .arg(&ready)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !ready.exists()
        && started.elapsed() < std::time::Duration::from_secs(30)
        && child.try_wait().unwrap().is_none()
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // The ready file is written atomically: once it exists it is whole.
    let r: Option<model::ReadyFile> = std::fs::read_to_string(&ready)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let curl = r.as_ref().map(|r| {
        let c = &r.clients.confidential;
        Command::new("curl")
            .args(["-sS", "--noproxy", "*", "-o", "/dev/null"])
            .args(["-w", "%{http_code} %header{retry-after}", "--cacert"])
            .arg(r.ca_cert.as_ref().unwrap())
            .arg("-d")
            .arg(format!(
                "grant_type=client_credentials&client_id={}&client_secret={}\
                 &scope=https%3A%2F%2Fgraph.microsoft.com%2F.default",
                c.client_id, c.client_secret
            ))
            .arg(format!("{}/oauth2/v2.0/token", r.authority))
            .output()
            .unwrap()
    });
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        r.is_some(),
        "no ready file: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("scenario   throttle-429-short"), "{stdout}");
    let curl = curl.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&curl.stdout),
        "429 3",
        "{}",
        String::from_utf8_lossy(&curl.stderr)
    );
}

/// Starts `tokenstorm serve` with a ready file and returns it with the ready file's contents.
fn serve_ready(dir: &Path, name: &str) -> (std::process::Child, model::ReadyFile) {
    let ready = dir.join(name);
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokenstorm"))
        .args(["serve", "--ready-file"])
        .arg(&ready)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !ready.exists() && started.elapsed() < std::time::Duration::from_secs(30) {
        assert!(child.try_wait().unwrap().is_none(), "serve exited early");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let r = serde_json::from_str(&std::fs::read_to_string(&ready).unwrap()).unwrap();
    (child, r)
}

/// A mock killed with SIGKILL can't remove its temporary directory (its CA and journal); the
/// next mock to start removes it, because no process holds its lock any more. A mock stopped
/// with SIGTERM removes its own, and one running keeps its own while another starts.
#[test]
fn a_killed_mocks_directory_is_removed_by_the_next_mock() {
    let dir = tempfile::tempdir().unwrap();
    let scratch_of = |r: &model::ReadyFile| {
        Path::new(r.ca_cert.as_ref().expect("serve has TLS by default"))
            .parent()
            .unwrap()
            .to_path_buf()
    };
    let (mut killed, r) = serve_ready(dir.path(), "killed.json");
    let left = scratch_of(&r);
    let (running, r) = serve_ready(dir.path(), "running.json");
    let kept = scratch_of(&r);
    killed.kill().unwrap();
    killed.wait().unwrap();
    assert!(
        left.join("ca.pem").exists(),
        "SIGKILL left nothing to sweep"
    );
    // Past the grace a just-made directory gets before its lock is taken.
    for d in [&left, &kept] {
        std::fs::File::options()
            .write(true)
            .open(d.join("owner.lock"))
            .unwrap()
            .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60))
            .unwrap();
    }
    let (next, r) = serve_ready(dir.path(), "next.json");
    let own = scratch_of(&r);
    assert!(!left.exists(), "the killed mock's {left:?} is still there");
    assert!(
        kept.join("ca.pem").exists(),
        "a running mock's directory went"
    );
    for (mut child, d) in [(running, kept), (next, own)] {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        child.wait().unwrap();
        assert!(!d.exists(), "SIGTERM left {d:?}");
    }
}

fn holds_a_jwt(text: &str) -> bool {
    text.match_indices("eyJ").any(|(i, _)| {
        text[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_' || *c == '.')
            .count()
            > 24
    })
}

fn scripted() -> String {
    format!(
        "python3 {}/tests/clients/scripted.py good",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn run_judges_a_client_and_writes_every_report() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    let r = tokenstorm(&[
        "run",
        "--client-cmd",
        &scripted(),
        "--filter",
        "throttle-429-short",
        "--out",
        o,
    ]);
    // The scripted client ignores Retry-After: a MUST rule fails, exit 1.
    assert_eq!(
        r.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["summary"]["failed"], 1);
    let sc = &report["scenarios"][0];
    assert_eq!(sc["name"], "throttle-429-short");
    let ra = sc["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["rule"] == "throttle.retry-after")
        .unwrap();
    assert_eq!(ra["status"], "fail");
    assert!(!ra["evidence"].as_array().unwrap().is_empty());
    let md = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(
        md.contains("### FAIL `throttle-429-short`") && md.contains("early"),
        "{md}"
    );
    let junit = std::fs::read_to_string(out.path().join("junit.xml")).unwrap();
    // The rule's testcase holds a failure.
    let case = junit
        .split("<testcase ")
        .find(|c| c.starts_with("name=\"throttle-429-short::throttle.retry-after\""))
        .unwrap_or_default();
    assert!(
        case.split("</testcase>")
            .next()
            .unwrap_or_default()
            .contains("<failure"),
        "{junit}"
    );
    let journal =
        std::fs::read_to_string(out.path().join("journal/throttle-429-short.jsonl")).unwrap();
    assert!(journal
        .lines()
        .all(|l| serde_json::from_str::<model::JournalEntry>(l).is_ok()));
    // No token in any report file: no JWT-shaped run longer than a redaction's 6 characters.
    for f in [
        "report.json",
        "report.md",
        "junit.xml",
        "journal/throttle-429-short.jsonl",
        "journal/throttle-429-short.transcript.jsonl",
    ] {
        let text = std::fs::read_to_string(out.path().join(f)).unwrap();
        assert!(!holds_a_jwt(&text), "{f} holds a token");
    }
}

/// `--message-format json`: stdout is the run's events, one per line, in order, each a
/// `RunEvent`, agreeing with the report; the human progress stays on stderr.
#[test]
fn run_streams_its_events_as_json_lines() {
    use tokenstorm::events::RunEvent;
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    let r = tokenstorm(&[
        "run",
        "--client-cmd",
        &scripted(),
        "--scenarios",
        "throttle-429-short",
        "--scenarios",
        "cache-reuse-app-token",
        "--message-format",
        "json",
        "--out",
        o,
    ]);
    assert_eq!(r.status.code(), Some(1));
    let stdout = String::from_utf8(r.stdout).unwrap();
    let events: Vec<RunEvent> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(matches!(
        events.first(),
        Some(RunEvent::RunStarted { scenarios: 2, .. })
    ));
    let report: reports::Report =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    match events.last() {
        Some(RunEvent::RunFinished {
            summary,
            exit_code: 1,
            interrupted: false,
            ..
        }) => assert_eq!(summary, &report.summary),
        other => panic!("{other:?}"),
    }
    for sc in &report.scenarios {
        let at = |f: &dyn Fn(&RunEvent) -> bool| events.iter().position(f);
        let started =
            at(&|e| matches!(e, RunEvent::ScenarioStarted { scenario } if *scenario == sc.name));
        let finished = at(&|e| {
            matches!(e, RunEvent::ScenarioFinished { scenario, verdict, .. }
                if *scenario == sc.name && *verdict == sc.verdict)
        });
        let (Some(started), Some(finished)) = (started, finished) else {
            panic!("{} has no start or end: {stdout}", sc.name)
        };
        assert!(started < finished);
        // Every rule's verdict, between the two.
        for v in &sc.rules {
            let i = at(&|e| {
                matches!(e, RunEvent::Verdict { scenario, rule, status, .. }
                    if *scenario == sc.name && *rule == v.rule && *status == v.status)
            })
            .unwrap_or_else(|| panic!("no verdict event for {} {}", sc.name, v.rule));
            assert!(started < i && i < finished);
        }
        // Each command sent and answered, and each request journaled, as it happened: the
        // same ones the journal and the transcript hold, before the verdicts.
        let first_verdict =
            at(&|e| matches!(e, RunEvent::Verdict { scenario, .. } if *scenario == sc.name))
                .unwrap();
        let journal = std::fs::read_to_string(
            out.path()
                .join("journal")
                .join(format!("{}.jsonl", sc.name)),
        )
        .unwrap();
        let seqs: Vec<u64> = journal
            .lines()
            .map(|l| serde_json::from_str::<model::JournalEntry>(l).unwrap().seq)
            .collect();
        let streamed: Vec<u64> = events
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match e {
                RunEvent::RequestJournaled { scenario, seq, .. } if *scenario == sc.name => {
                    assert!(
                        started < i && i < first_verdict,
                        "request {seq} out of order"
                    );
                    Some(*seq)
                }
                _ => None,
            })
            .collect();
        // (A request cut when the client was stopped may be journaled after the journal was
        // read for the report, so the stream may hold more than the file.)
        assert!(!seqs.is_empty());
        for seq in &seqs {
            assert!(
                streamed.contains(seq),
                "{}: request {seq} was not streamed",
                sc.name
            );
        }
        let sent: Vec<u64> = events
            .iter()
            .filter_map(|e| match e {
                RunEvent::CommandSent { scenario, id, .. } if *scenario == sc.name => Some(*id),
                _ => None,
            })
            .collect();
        assert!(!sent.is_empty(), "{}: no command_sent", sc.name);
        for id in &sent {
            let sent_at = at(&|e| matches!(e, RunEvent::CommandSent { scenario, id: i, .. } if *scenario == sc.name && i == id)).unwrap();
            if let Some(answered) = at(
                &|e| matches!(e, RunEvent::CommandAnswered { scenario, id: i, .. } if *scenario == sc.name && i == id),
            ) {
                assert!(sent_at < answered && answered < first_verdict);
            }
        }
    }
    // The human progress is on stderr, not mixed into the events.
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(stderr.contains("throttle-429-short"), "{stderr}");
}

/// The progress under a pseudo-terminal (util-linux `script`): a live status line, the failing
/// scenario's label in colour unless NO_COLOR says no; in a log, plain lines without a single
/// escape sequence.
#[test]
fn the_progress_is_live_and_coloured_on_a_terminal_and_plain_in_a_log() {
    let outs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let args = |out: &tempfile::TempDir| -> Vec<String> {
        [
            "run",
            "--client-cmd",
            &scripted(),
            "--scenarios",
            "throttle-429-short",
            "--out",
            out.path().to_str().unwrap(),
        ]
        .map(str::to_string)
        .to_vec()
    };
    let on_tty = |out: &tempfile::TempDir, no_color: bool| {
        let cmd = shell_words::join(
            std::iter::once(env!("CARGO_BIN_EXE_tokenstorm").to_string()).chain(args(out)),
        );
        let mut c = Command::new("script");
        c.args(["-q", "-e", "-c", &cmd, "/dev/null"])
            .env("TERM", "xterm-256color")
            .env("COLUMNS", "100")
            .env_remove("NO_COLOR");
        if no_color {
            c.env("NO_COLOR", "1");
        }
        let r = c.output().expect("script (util-linux) runs");
        assert_eq!(r.status.code(), Some(1), "{r:?}");
        String::from_utf8_lossy(&r.stdout).into_owned()
    };
    // The three runs at once: each waits out the scenario's throttling.
    let (coloured, plain_tty, log) = std::thread::scope(|s| {
        let coloured = s.spawn(|| on_tty(&outs[0], false));
        let plain_tty = s.spawn(|| on_tty(&outs[1], true));
        let a = args(&outs[2]);
        let log = tokenstorm(&a.iter().map(String::as_str).collect::<Vec<_>>());
        (coloured.join().unwrap(), plain_tty.join().unwrap(), log)
    });
    assert!(coloured.contains("\x1b[1;31mFAIL "), "{coloured:?}");
    assert!(coloured.contains("done ·"), "no status line: {coloured:?}");
    assert!(
        plain_tty.contains("FAIL  throttle-429-short"),
        "{plain_tty:?}"
    );
    assert!(!plain_tty.contains("\x1b[1;31m"), "{plain_tty:?}");
    let stderr = String::from_utf8_lossy(&log.stderr);
    assert!(
        stderr.contains("[  1/1] FAIL  throttle-429-short"),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\x1b'),
        "an escape sequence in a log: {stderr:?}"
    );
}

#[test]
fn run_refuses_bad_input_with_exit_2() {
    for args in [
        vec!["run", "--client-cmd", "/no/such/client"],
        vec!["run", "--client-cmd", "python3 x.py", "--shard", "3/2"],
        vec![
            "run",
            "--client-cmd",
            "python3 x.py",
            "--filter",
            "no-scenario-is-called-this",
        ],
        vec![
            "run",
            "--client-cmd",
            "python3 x.py",
            "--scenarios",
            "model/tests/broken/misspelled-rule.yaml",
        ],
        vec!["run", "--client", "nonesuch"],
    ] {
        let r = tokenstorm(&args);
        assert_eq!(
            r.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
    }
}

#[test]
fn an_interrupted_run_exits_130_with_a_partial_report() {
    let out = tempfile::tempdir().unwrap();
    // A tag only this test's clients carry, to look for survivors.
    let tag = format!("interrupt-{}", std::process::id());
    let cmd = format!("{} {tag}", scripted());
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokenstorm"))
        .args([
            "run",
            "--client-cmd",
            &cmd,
            "--filter",
            "throttle",
            "--out",
            out.path().to_str().unwrap(),
        ])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Long enough for the not-applicable scenarios to finish, not for the throttle ones.
    std::thread::sleep(std::time::Duration::from_secs(4));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(report["interrupted"], true);
    let n = report["scenarios"].as_array().unwrap().len();
    assert!(n < 8, "partial: {n} of 8 judged");
    // No client survives the harness.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            std::fs::read(e.path().join("cmdline"))
                .ok()
                .map(|c| (e.file_name(), c))
        })
        .filter(|(_, c)| String::from_utf8_lossy(c).contains(&tag))
        .map(|(pid, c)| {
            format!(
                "{pid:?}: {}",
                String::from_utf8_lossy(&c).replace('\0', " ")
            )
        })
        .collect();
    assert!(left.is_empty(), "orphans: {left:?}");
}

#[test]
fn the_reference_client_passes_the_client_credentials_library() {
    // `tokenstorm run` with no client: the reference client installed beside it. The
    // scenarios of flows it does not declare are not applicable, never failed.
    let out = tempfile::tempdir().unwrap();
    let r = tokenstorm(&[
        "run",
        "--filter",
        "throttle",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(0), "{stderr}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    assert!(report["client"]
        .as_str()
        .unwrap()
        .contains("reference-client"));
    assert_eq!(report["summary"]["failed"], 0);
    assert!(
        report["summary"]["passed"].as_u64().unwrap() >= 5,
        "{}",
        report["summary"]
    );
    for sc in report["scenarios"].as_array().unwrap() {
        for v in sc["rules"].as_array().unwrap() {
            assert_ne!(v["status"], "fail", "{} {}", sc["name"], v);
        }
    }
}

#[test]
fn expected_failures_accept_known_fails_and_report_stale_entries() {
    let dir = tempfile::tempdir().unwrap();
    let accept = dir.path().join("accept.yaml");
    std::fs::write(&accept, "- scenario: throttle-429-short\n  rule: throttle.retry-after\n  cause: early-retry\n  reason: the scripted client retries at once, on purpose\n").unwrap();
    let stale = dir.path().join("stale.yaml");
    std::fs::write(&stale, "- scenario: throttle-429-short\n  rule: throttle.retry-after\n  cause: early-retry\n  reason: accepted\n- scenario: throttle-429-short\n  rule: client.liveness\n  cause: exit-code\n  reason: it never failed\n").unwrap();
    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        "- scenario: x\n  rule: throttle.retry-after\n  reasn: typo\n",
    )
    .unwrap();
    let run = |file: &std::path::Path, out: &std::path::Path| {
        tokenstorm(&[
            "run",
            "--client-cmd",
            &scripted(),
            "--filter",
            "throttle-429-short",
            "--expected-failures",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    // Accepted: the run passes, and the fail is still in the reports with its reason.
    let out = dir.path().join("a");
    let r = run(&accept, &out);
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let v = report["scenarios"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["rule"] == "throttle.retry-after")
        .unwrap()
        .clone();
    assert_eq!(v["status"], "fail");
    assert!(v["expected"].as_str().unwrap().contains("on purpose"));
    assert!(std::fs::read_to_string(out.join("junit.xml"))
        .unwrap()
        .contains("accepted as early-retry: the scripted client"));
    assert!(std::fs::read_to_string(out.join("report.md"))
        .unwrap()
        .contains(
            "**Accepted failures** (the expected-failures file accepts these; they still fail)"
        ));
    // An entry that no longer fails is reported and fails the run.
    let out = dir.path().join("s");
    let r = run(&stale, &out);
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr)
        .contains("expected failure no longer fails: throttle-429-short / client.liveness"));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(
        report["stale_expected_failures"][0]["rule"],
        "client.liveness"
    );
    // A malformed file is an input error naming file:line:column.
    let r = run(&broken, &dir.path().join("b"));
    assert_eq!(r.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("broken.yaml:3:"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
}

fn observe(mode: &str, attempts: &str, out: &Path) -> (Option<i32>, serde_json::Value, String) {
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/observed_app.py");
    let o = tokenstorm(&[
        "observe",
        "--quiet",
        "--scenario",
        "throttle-429-short",
        "--timeout",
        "60s",
        "--out",
        out.to_str().unwrap(),
        "--",
        "python3",
        app.to_str().unwrap(),
        mode,
        attempts,
    ]);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    (
        o.status.code(),
        report,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn rule<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["scenarios"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["rule"] == id)
        .unwrap_or_else(|| panic!("no verdict for {id}: {report}"))
}

#[test]
fn observe_judges_an_undriven_app_from_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let (n, p, c) = (
        dir.path().join("naive"),
        dir.path().join("polite"),
        dir.path().join("crash"),
    );
    // Three apps at once: the scenario waits in real time.
    let (naive, (polite, crash)) = std::thread::scope(|s| {
        let a = s.spawn(|| observe("naive", "6", &n));
        let b = s.spawn(|| observe("polite", "12", &p));
        let c = s.spawn(|| observe("crash", "6", &c));
        (a.join().unwrap(), (b.join().unwrap(), c.join().unwrap()))
    });

    // The naive app hammers through the 429s and ignores its cache.
    let (code, r, err) = naive;
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(r["mode"], "observe");
    let t = rule(&r, "throttle.retry-after");
    assert_eq!(t["status"], "fail", "{t}");
    assert!(t["evidence"].as_array().unwrap().len() >= 2, "{t}");
    assert_eq!(rule(&r, "cache.reuse")["status"], "fail");
    assert_eq!(rule(&r, "client.liveness")["status"], "pass");
    // Rules that need the driver protocol are not judged at all.
    assert!(r["scenarios"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v["rule"] != "refresh.outage-tolerant" && v["rule"] != "claims.correct"));
    assert!(dir
        .path()
        .join("naive/journal/throttle-429-short.jsonl")
        .is_file());

    // The polite app waits out Retry-After and keeps its token: only the cp1 SHOULD warns.
    let (code, r, err) = polite;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(rule(&r, "throttle.retry-after")["status"], "pass");
    assert_eq!(rule(&r, "cache.reuse")["status"], "pass");
    assert_eq!(rule(&r, "cae.capable")["status"], "fail");
    assert_eq!(r["scenarios"][0]["verdict"], "warn");

    // A crash is a liveness fail carrying the app's last output.
    let (code, r, err) = crash;
    assert_eq!(code, Some(1), "{err}");
    let l = rule(&r, "client.liveness");
    assert_eq!(l["status"], "fail");
    let ev = l["evidence"].to_string();
    assert!(
        ev.contains("exited with code 3") && ev.contains("Traceback: boom"),
        "{ev}"
    );
}

#[test]
fn a_token_a_crashing_client_printed_reaches_no_report() {
    let dir = tempfile::tempdir().unwrap();
    let leak = dir.path().join("leaked-token");
    let out = dir.path().join("out");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/scripted.py");
    let cmd = format!(
        "env LEAK_FILE={} python3 {} leak",
        leak.display(),
        script.display()
    );
    let o = tokenstorm(&[
        "run",
        "--client-cmd",
        &cmd,
        "--filter",
        "cache-reuse-app-token",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let token = std::fs::read_to_string(&leak).unwrap();
    assert!(token.len() > 100, "the client got no token: {token:?}");
    let mut files = vec![];
    let mut stack = vec![out.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                files.push(e.path());
            }
        }
    }
    assert!(files.len() >= 6, "{files:?}");
    let mut stderr_seen = false;
    for f in &files {
        let text = String::from_utf8_lossy(&std::fs::read(f).unwrap()).to_string();
        assert!(!text.contains(&token), "{} holds the token", f.display());
        // Not even a long piece of it.
        assert!(
            !text.contains(&token[10..70]),
            "{} holds part of the token",
            f.display()
        );
        stderr_seen |= text.contains("crashed after logging the token");
    }
    assert!(stderr_seen, "the client's stderr reached no report");
    assert!(!String::from_utf8_lossy(&o.stderr).contains(&token));
}

#[test]
fn observing_an_app_that_never_reaches_the_mock_is_inconclusive_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let o = tokenstorm(&[
        "observe",
        "--scenario",
        "throttle-429-short",
        "--out",
        dir.path().to_str().unwrap(),
        "--",
        "sleep",
        "2",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("never reached the mock") && err.contains("TOKENSTORM_AUTHORITY"),
        "{err}"
    );
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(r["scenarios"][0]["verdict"], "inconclusive");
    assert_eq!(r["summary"]["inconclusive"], 1);
    assert!(std::fs::read_to_string(dir.path().join("junit.xml"))
        .unwrap()
        .contains("throttle-429-short::inconclusive"));
}

#[test]
fn observe_refuses_bad_input_with_exit_2() {
    let o = tokenstorm(&["observe", "--scenario", "no-such-scenario", "--", "true"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no-such-scenario"));
    let o = tokenstorm(&["observe", "--", "/no/such/app"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("command not found"));
    let o = tokenstorm(&["observe", "--timeout", "soon", "--", "true"]);
    assert_eq!(o.status.code(), Some(2));
}

fn report_json(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap()
}

#[test]
fn baseline_regressions_fail_the_run_and_shards_merge_into_one_report() {
    let dir = tempfile::tempdir().unwrap();
    let accept = dir.path().join("accept.yaml");
    std::fs::write(&accept, "- scenario: throttle-429-short\n  rule: throttle.retry-after\n  cause: early-retry\n  reason: the scripted client retries at once, on purpose\n- scenario: throttle-429-long\n  rule: throttle.retry-after\n  cause: early-retry\n  reason: the same\n").unwrap();
    let out = |n: &str| dir.path().join(n);
    let cmd = scripted();
    let run = |filter: &str, extra: &[&str], o: &Path| {
        let mut args = vec![
            "run",
            "--client-cmd",
            &cmd,
            "--filter",
            filter,
            "--expected-failures",
            accept.to_str().unwrap(),
            "--out",
            o.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        tokenstorm(&args)
    };
    // Two shards (the filter picks the client-credentials 429 scenarios and some the scripted
    // client can't run), at once.
    let (s1, s2) = std::thread::scope(|s| {
        let a = s.spawn(|| run("throttle-429", &["--shard", "1/2"], &out("s1")));
        let b = s.spawn(|| run("throttle-429", &["--shard", "2/2"], &out("s2")));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(
        s1.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&s1.stderr)
    );
    assert_eq!(
        s2.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&s2.stderr)
    );
    let (r1, r2) = (report_json(&out("s1")), report_json(&out("s2")));
    assert_eq!(r1["shard"], "1/2");
    let m = tokenstorm(&[
        "report",
        "merge",
        out("s1").join("report.json").to_str().unwrap(),
        out("s2").join("report.json").to_str().unwrap(),
        "--out",
        out("merged").to_str().unwrap(),
    ]);
    assert_eq!(
        m.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&m.stderr)
    );
    let merged = report_json(&out("merged"));
    let n = |r: &serde_json::Value| r["scenarios"].as_array().unwrap().len();
    assert_eq!(n(&merged), n(&r1) + n(&r2));
    assert!(merged.get("shard").is_none());
    for f in [
        "report.md",
        "junit.xml",
        "report.html",
        "journal/throttle-429-short.jsonl",
    ] {
        assert!(out("merged").join(f).is_file(), "{f}");
    }
    // A missing shard is refused.
    let m = tokenstorm(&[
        "report",
        "merge",
        out("s1").join("report.json").to_str().unwrap(),
        "--out",
        out("half").to_str().unwrap(),
    ]);
    assert_eq!(m.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&m.stderr).contains("2/2 missing"));

    // A baseline where the accepted rule passed: the same run now regresses and exits 1,
    // although the expected-failures file accepts the fail.
    let mut base = merged.clone();
    for sc in base["scenarios"].as_array_mut().unwrap() {
        let name = sc["name"].clone();
        for v in sc["rules"].as_array_mut().unwrap() {
            if name == "throttle-429-short" && v["rule"] == "throttle.retry-after" {
                v["status"] = "pass".into();
            }
        }
    }
    let base_path = dir.path().join("base.json");
    std::fs::write(&base_path, serde_json::to_vec(&base).unwrap()).unwrap();
    let merged_json = out("merged").join("report.json");
    let d = tokenstorm(&[
        "diff",
        base_path.to_str().unwrap(),
        merged_json.to_str().unwrap(),
    ]);
    assert_eq!(d.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&d.stdout)
        .contains("| throttle-429-short | `throttle.retry-after` | pass | fail |"));
    let d = tokenstorm(&[
        "diff",
        merged_json.to_str().unwrap(),
        merged_json.to_str().unwrap(),
    ]);
    assert_eq!(d.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&d.stdout).contains("**No regression**"));

    let r = run(
        "throttle-429-short",
        &["--baseline", base_path.to_str().unwrap()],
        &out("b"),
    );
    assert_eq!(
        r.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let rep = report_json(&out("b"));
    assert_eq!(
        rep["baseline"]["new_fails"][0]["rule"],
        "throttle.retry-after"
    );
    // Scenarios filtered away are not "removed".
    assert_eq!(
        rep["baseline"]["removed_scenarios"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert!(std::fs::read_to_string(out("b").join("report.md"))
        .unwrap()
        .starts_with("# ❌ tokenstorm: regressed"));

    // render: every format from the report.json.
    for (f, needle) in [
        ("md", "# "),
        ("junit", "<testsuites"),
        ("html", "<svg class=\"tl\""),
        ("json", "\"schema_version\""),
    ] {
        let o = tokenstorm(&[
            "report",
            "render",
            "--from",
            merged_json.to_str().unwrap(),
            "--format",
            f,
        ]);
        assert!(o.status.success());
        assert!(String::from_utf8_lossy(&o.stdout).contains(needle), "{f}");
    }
    let o = tokenstorm(&[
        "report",
        "render",
        "--from",
        "/no/such.json",
        "--format",
        "md",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

/// The hosts-file way (docs/impersonation.md): no proxy; Entra's and Graph's names resolve to
/// loopback and the mock itself listens on 443. Run in a network namespace of its own
/// (`unshare -rn`: its own loopback, where binding 443 needs no privilege on the machine), with
/// curl resolving the real names to 127.0.0.1 as an /etc/hosts line would: the certificate
/// verifies for each name against the run's CA, discovery and tokens name
/// login.microsoftonline.com, and a request naming graph.microsoft.com is served by the mock's
/// Graph with Graph's own paths.
#[test]
fn the_hosts_file_way_serves_entra_and_graph_on_443_without_a_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        r#"set -eu
ip link set lo up
"{bin}" serve --impersonate --addr 127.0.0.1:443 --ready-file "{d}/ready.json" >/dev/null 2>"{d}/serve.err" &
trap 'kill $! 2>/dev/null' EXIT
for _ in $(seq 100); do [ -s "{d}/ready.json" ] && break; sleep 0.1; done
ca=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ca_cert"])' "{d}/ready.json")
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["clients"]["confidential"]["client_id"])' "{d}/ready.json")
secret=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["clients"]["confidential"]["client_secret"])' "{d}/ready.json")
c() {{ curl -sS --fail-with-body -w "%{{stderr}}%{{url}} %{{http_code}}\\n" --cacert "$ca" --noproxy '*' \
  --resolve login.microsoftonline.com:443:127.0.0.1 --resolve login.windows.net:443:127.0.0.1 \
  --resolve graph.microsoft.com:443:127.0.0.1 "$@"; }}
c https://login.windows.net/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration > "{d}/discovery.json"
c https://login.microsoftonline.com/common/discovery/instance -G \
  --data-urlencode api-version=1.1 \
  --data-urlencode authorization_endpoint=https://login.microsoftonline.com/common/oauth2/v2.0/authorize > "{d}/instance.json"
c https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token \
  -d grant_type=client_credentials -d client_id="$id" --data-urlencode client_secret="$secret" \
  --data-urlencode scope=https://graph.microsoft.com/.default > "{d}/token.json"
token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["access_token"])' "{d}/token.json")
oid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["user"]["oid"])' "{d}/ready.json")
c -H "Authorization: Bearer $token" "https://graph.microsoft.com/v1.0/users/$oid" > "{d}/graph.json"
"#,
        bin = env!("CARGO_BIN_EXE_tokenstorm"),
        d = dir.path().display()
    );
    let o = Command::new("unshare")
        .args(["-rn", "bash", "-c", &script])
        .output()
        .expect("unshare (util-linux) runs the test in a network namespace of its own");
    let serve_err = std::fs::read_to_string(dir.path().join("serve.err")).unwrap_or_default();
    assert!(
        o.status.success(),
        "{}\n{}\nserve: {serve_err}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let read = |f: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.path().join(f)).unwrap()).unwrap()
    };
    let d = read("discovery.json");
    let issuer = d["issuer"].as_str().unwrap();
    assert!(
        issuer.starts_with("https://login.windows.net/") && issuer.ends_with("/v2.0"),
        "{d}"
    );
    assert_eq!(d["msgraph_host"], "graph.microsoft.com");
    let i = read("instance.json");
    assert!(
        i["tenant_discovery_endpoint"]
            .as_str()
            .unwrap()
            .starts_with("https://login.microsoftonline.com/common/"),
        "{i}"
    );
    // The access token names Entra's issuer and Graph's audience.
    let t = read("token.json");
    let payload = t["access_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap();
    use base64::Engine as _;
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert!(
        claims["iss"]
            .as_str()
            .unwrap()
            .starts_with("https://sts.windows.net/")
            || claims["iss"]
                .as_str()
                .unwrap()
                .starts_with("https://login.microsoftonline.com/"),
        "{claims}"
    );
    let g = read("graph.json");
    assert!(
        g["@odata.context"]
            .as_str()
            .unwrap()
            .starts_with("https://graph.microsoft.com/v1.0/"),
        "{g}"
    );
}

// ---------------------------------------------------------------------------------------------
// Hostile scenario files (issue 15): each is refused with exit 2 and a message naming
// file:line:column, in bounded time, by `scenarios validate`, by `run` before anything runs,
// and by `serve` before it listens. Figures on a 2-core machine, debug build: each file is
// refused in under 0.3 s and 30 MB; 10,000 valid files validate in about 7 s and 10,000
// broken ones in about 3 s. The time bounds below are generous on purpose.
// ---------------------------------------------------------------------------------------------

/// Runs tokenstorm, killing it after `limit` (a hang must fail the test, not block it).
fn tokenstorm_within(args: &[&str], limit: std::time::Duration) -> (Option<i32>, String, String) {
    let out_dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokenstorm"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .stdout(std::fs::File::create(out_dir.path().join("out")).unwrap())
        .stderr(std::fs::File::create(out_dir.path().join("err")).unwrap())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("tokenstorm {args:?} still running after {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let read = |n: &str| {
        String::from_utf8_lossy(&std::fs::read(out_dir.path().join(n)).unwrap()).to_string()
    };
    (status.code(), read("out"), read("err"))
}

const HOSTILE_BASE: &str = "name: hostile
summary: A scenario made hostile.
flow: client_credentials
rules: [throttle.retry-after, client.liveness]
faults:
  - endpoint: token
    calls: \"1\"
    respond: { status: 429, retry_after: 3s }
steps:
  - acquire_token: {}
    repeat: { count: 3, every: 1s }
    expect: either
";

/// Hostile files and what each must be refused with (after `FILE:`).
fn hostile_files(dir: &Path) -> Vec<(std::path::PathBuf, &'static str)> {
    let mut files = Vec::new();
    let mut put = |name: &str, bytes: Vec<u8>, says: &'static str| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        files.push((p, says));
    };
    let mut bomb = String::from("tokens:\n  extra_access_token_claims:\n    a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        bomb.push_str(&format!(
            "    a{i}: &a{i} [{}]\n",
            vec![format!("*a{}", i - 1); 9].join(", ")
        ));
    }
    put(
        "alias-bomb.yaml",
        format!("{HOSTILE_BASE}{bomb}").into_bytes(),
        "19:34: too much YAML once aliases are expanded (an alias bomb?)",
    );
    put(
        "deep.yaml",
        HOSTILE_BASE
            .replace(
                "retry_after: 3s }",
                &format!(
                    "retry_after: 3s, body: {}{} }}",
                    "[".repeat(10_000),
                    "]".repeat(10_000)
                ),
            )
            .into_bytes(),
        "8:83: nested deeper than 32 levels",
    );
    let swap = |from: &str, to: &str| HOSTILE_BASE.replace(from, to).into_bytes();
    put(
        "count.yaml",
        swap("count: 3", "count: 99999999999999999999"),
        "11:22: `repeat.count` is too large: it must be a whole number from 1 to 100000",
    );
    put(
        "inf.yaml",
        swap("count: 3", "count: 1e400"),
        "11:22: `1e400` is not a finite number",
    );
    put(
        "long.yaml",
        swap("count: 3", "for: 99999999999h"),
        "11:20: '99999999999h' is too long: a duration is at most 365d",
    );
    put(
        "negative.yaml",
        swap("every: 1s", "every: -5s"),
        "11:32: '-5s' is negative",
    );
    put(
        "zero.yaml",
        swap("every: 1s", "every: 0s"),
        "11:32: `repeat.every` is zero: it must be longer than 0",
    );
    put(
        "groups.yaml",
        format!("{HOSTILE_BASE}tokens: {{ groups: 99999999999999 }}\n").into_bytes(),
        "13:19: `groups` is 99999999999999: it must be a whole number from 0 to 10000",
    );
    put(
        "lifetime.yaml",
        format!("{HOSTILE_BASE}tokens: {{ access_token_lifetime: 0s }}\n").into_bytes(),
        "13:34: `access_token_lifetime` is zero",
    );
    let latin1 = swap("made hostile", "made hostile\u{1}")
        .into_iter()
        .map(|b| if b == 1 { 0xE9 } else { b })
        .collect();
    put(
        "latin1.yaml",
        latin1,
        "2:33: the file is not UTF-8 text: byte 0xE9 at offset 46 is not valid UTF-8",
    );
    let big = dir.join("big.yaml");
    // Sparse: 100 MB that is neither written nor read.
    std::fs::File::create(&big)
        .unwrap()
        .set_len(100 * 1024 * 1024)
        .unwrap();
    files.push((
        big,
        "1:1: the file is 104857600 bytes: files are limited to 1 MiB (1048576 bytes)",
    ));
    files
}

#[test]
fn hostile_scenario_files_are_refused_with_exit_2_in_bounded_time() {
    let dir = tempfile::tempdir().unwrap();
    let limit = std::time::Duration::from_secs(10);
    for (file, says) in hostile_files(dir.path()) {
        let f = file.to_str().unwrap();
        let expected = format!("{f}:{says}");
        let (code, _, err) = tokenstorm_within(&["scenarios", "validate", f], limit);
        assert_eq!(code, Some(2), "validate {f}: {err}");
        assert!(
            err.contains(&expected),
            "validate {f}: expected {expected:?} in\n{err}"
        );
        assert!(err.contains("1 problem(s)"), "{err}");

        let out = dir.path().join("report");
        let (code, _, err) = tokenstorm_within(
            &[
                "run",
                "--client-cmd",
                "true",
                "--scenarios",
                f,
                "--out",
                out.to_str().unwrap(),
            ],
            limit,
        );
        assert_eq!(code, Some(2), "run {f}: {err}");
        assert!(
            err.contains(&expected),
            "run {f}: expected {expected:?} in\n{err}"
        );
        assert!(
            !out.exists(),
            "run {f} wrote a report: it must refuse before running"
        );

        let (code, stdout, err) = tokenstorm_within(
            &[
                "serve",
                "--scenario",
                f,
                "--state-dir",
                dir.path().join("state").to_str().unwrap(),
            ],
            limit,
        );
        assert_eq!(code, Some(2), "serve {f}: {err}");
        assert!(
            err.contains(&expected),
            "serve {f}: expected {expected:?} in\n{err}"
        );
        assert!(!stdout.contains("listening"), "serve {f} started: {stdout}");
    }
}

#[test]
fn a_folder_of_ten_thousand_scenarios_loads_in_bounded_time() {
    let dir = tempfile::tempdir().unwrap();
    let (good, bad) = (dir.path().join("good"), dir.path().join("bad"));
    std::fs::create_dir_all(&good).unwrap();
    std::fs::create_dir_all(&bad).unwrap();
    for i in 0..10_000 {
        let name = format!("s{i:05}");
        let text = HOSTILE_BASE.replace("name: hostile", &format!("name: {name}"));
        std::fs::write(good.join(format!("{name}.yaml")), &text).unwrap();
        std::fs::write(
            bad.join(format!("{name}.yaml")),
            text.replace("client_credentials", "implicit"),
        )
        .unwrap();
    }
    // A link back up the tree is not followed round and round.
    #[cfg(unix)]
    std::os::unix::fs::symlink(".", good.join("loop")).unwrap();
    let limit = std::time::Duration::from_secs(120);

    let (code, out, err) =
        tokenstorm_within(&["scenarios", "validate", good.to_str().unwrap()], limit);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.ends_with("10000 scenario(s) valid\n"),
        "{}",
        &out[out.len().saturating_sub(200)..]
    );

    // validate lists every broken file...
    let (code, _, err) =
        tokenstorm_within(&["scenarios", "validate", bad.to_str().unwrap()], limit);
    assert_eq!(code, Some(2));
    assert_eq!(
        err.lines()
            .filter(|l| l.contains("unknown variant `implicit`"))
            .count(),
        10_000
    );
    assert!(
        err.ends_with("10000 problem(s)\n"),
        "{}",
        &err[err.len().saturating_sub(200)..]
    );

    // ...while run shows the first ten and counts the rest.
    let out = dir.path().join("report");
    let (code, _, err) = tokenstorm_within(
        &[
            "run",
            "--client-cmd",
            "true",
            "--scenarios",
            bad.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        limit,
    );
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(
        err.lines()
            .filter(|l| l.contains("unknown variant `implicit`"))
            .count(),
        10,
        "{err}"
    );
    assert!(err.contains("... and 9990 more problem(s) (10000 in all, in 10000 file(s)): `tokenstorm scenarios validate` lists every one"), "{err}");
    assert!(!out.exists());
}
// --- end of hostile scenario files ---

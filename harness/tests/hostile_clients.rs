//! Hostile clients and faults in tokenstorm itself, with the real binary and real processes:
//! each hostile client (tests/clients/hostile.py) gets its verdict with evidence in bounded
//! time and leaves no process behind; SIGINT and SIGTERM at several points of a run exit 130
//! with a report that says interrupted; an unwritable --out is refused before any client
//! starts; a second run into the same --out holds nothing of the first.
//!
//! Every client's command line carries a marker unique to its test; survivors are looked for
//! in /proc by it (forks carry their parent's command line).
#![allow(clippy::unwrap_used)]
#![cfg(target_os = "linux")]

use serde_json::Value;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn marker(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("hostile-{what}-{}-{nanos:x}", std::process::id())
}

/// A one-step scenario with a short deadline.
fn scenario(dir: &Path, name: &str, deadline: &str) -> PathBuf {
    scenario_with(dir, name, deadline, "")
}

/// A one-step scenario with a short deadline and more to the step (`extra`: YAML lines).
fn scenario_with(dir: &Path, name: &str, deadline: &str, extra: &str) -> PathBuf {
    let p = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &p,
        format!(
            "name: {name}\nsummary: One token, with a {deadline} deadline.\nflow: client_credentials\nrules: [client.liveness]\nsteps:\n  - acquire_token: {{}}\n    deadline: {deadline}\n{extra}"
        ),
    )
    .unwrap();
    p
}

struct Run {
    code: Option<i32>,
    report: Value,
    stderr: String,
    elapsed: Duration,
    out: tempfile::TempDir,
}

impl Run {
    fn scenario(&self) -> &Value {
        &self.report["scenarios"][0]
    }

    fn rule(&self, id: &str) -> &Value {
        self.scenario()["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["rule"] == id)
            .unwrap_or_else(|| panic!("no {id} in {}", self.report))
    }

    fn evidence(&self, id: &str) -> Vec<String> {
        self.rule(id)["evidence"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["what"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn tokenstorm_run(client_cmd: &str, scenarios: &[&Path]) -> Run {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec![
        "run".to_string(),
        "--client-cmd".into(),
        client_cmd.into(),
        "--out".into(),
        out.path().display().to_string(),
    ];
    for s in scenarios {
        args.push("--scenarios".into());
        args.push(s.display().to_string());
    }
    let t0 = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_tokenstorm"))
        .args(&args)
        .current_dir(root())
        .output()
        .unwrap();
    let elapsed = t0.elapsed();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    let report = std::fs::read(out.path().join("report.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| panic!("no report.json; stderr: {stderr}"));
    Run {
        code: o.status.code(),
        report,
        stderr,
        elapsed,
        out,
    }
}

fn hostile(mode: &str, mark: &str) -> String {
    format!(
        "python3 {}/tests/clients/hostile.py {mode} {mark}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Runs a hostile client through a one-step scenario.
fn run_hostile(mode: &str, deadline: &str) -> (Run, String) {
    let dir = tempfile::tempdir().unwrap();
    let mark = marker(mode);
    let s = scenario(dir.path(), &format!("hostile-{mode}"), deadline);
    (tokenstorm_run(&hostile(mode, &mark), &[&s]), mark)
}

/// Processes (not zombies) whose command line holds `mark`, after giving the kills a moment.
fn survivors(mark: &str) -> Vec<String> {
    let find = || -> Vec<String> {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
            .filter_map(|e| {
                let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
                let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
                (cmd.contains(mark) && !stat.contains(") Z "))
                    .then(|| format!("{:?}: {cmd}", e.file_name()))
            })
            .collect()
    };
    for _ in 0..20 {
        if find().is_empty() {
            return vec![];
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    find()
}

fn assert_no_survivors(mark: &str) {
    let left = survivors(mark);
    assert!(left.is_empty(), "processes left behind: {left:?}");
}

#[test]
fn megabytes_of_stdout_without_a_newline_break_the_protocol_at_1_mib() {
    let (r, mark) = run_hostile("bigline", "30s");
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let outcome = &r.scenario()["outcome"];
    assert_eq!(outcome["kind"], "client_failed", "{outcome}");
    let reason = outcome["reason"].as_str().unwrap();
    assert!(
        reason.contains("broke the driver protocol")
            && reason.contains("longer than 1048576 bytes"),
        "{reason}"
    );
    assert_eq!(r.rule("client.liveness")["status"], "fail");
    let ev = r.evidence("client.liveness");
    assert!(
        ev.iter()
            .any(|e| e == &format!("stderr: flooding stdout {mark}")),
        "{ev:?}"
    );
    // The line's start is shown, bounded.
    assert!(
        ev.iter()
            .any(|e| e.contains("without a newline") && e.contains("xxxx") && e.len() < 1000),
        "{ev:?}"
    );
    // Not the 30 s deadline: the harness stopped at the limit.
    assert!(r.elapsed < Duration::from_secs(15), "{:?}", r.elapsed);
    assert_no_survivors(&mark);
}

#[test]
fn binary_junk_on_stdout_is_recorded_bounded_and_the_deadline_holds() {
    let (r, mark) = run_hostile("junk", "3s");
    let outcome = &r.scenario()["outcome"];
    assert_eq!(outcome["kind"], "client_failed", "{outcome}");
    assert!(
        outcome["reason"]
            .as_str()
            .unwrap()
            .contains("no answer to command 1 (acquire_token) within 3s"),
        "{outcome}"
    );
    let ev = r.evidence("client.liveness");
    assert!(
        ev.iter()
            .any(|e| e == &format!("stderr: junk on stdout {mark}")),
        "{ev:?}"
    );
    assert!(
        ev.iter()
            .any(|e| e.starts_with("stdout line is not a JSON object")),
        "{ev:?}"
    );
    // 8 MiB of junk: 20 lines recorded, the rest counted.
    let transcript =
        std::fs::read_to_string(r.out.path().join("journal/hostile-junk.transcript.jsonl"))
            .unwrap();
    let errors: Vec<Value> = transcript
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["kind"] == "protocol_error")
        .collect();
    assert!(
        (2..=21).contains(&errors.len()),
        "{} protocol errors recorded",
        errors.len()
    );
    assert!(
        transcript.len() < 64 * 1024,
        "transcript of {} bytes",
        transcript.len()
    );
    if errors.len() == 21 {
        assert!(
            errors[20]["message"]
                .as_str()
                .unwrap()
                .contains("more stdout lines were not JSON objects"),
            "{}",
            errors[20]
        );
    }
    assert!(r.elapsed < Duration::from_secs(15), "{:?}", r.elapsed);
    assert_no_survivors(&mark);
}

#[test]
fn a_stderr_flood_is_read_to_the_end_and_kept_bounded_as_evidence() {
    let (r, mark) = run_hostile("stderr", "30s");
    let outcome = &r.scenario()["outcome"];
    assert_eq!(outcome["kind"], "client_failed", "{outcome}");
    assert!(
        outcome["reason"]
            .as_str()
            .unwrap()
            .contains("exited before answering command 1"),
        "{outcome}"
    );
    let tail: Vec<&str> = outcome["stderr_tail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    // The 16 MiB line was cut, the line after it read: the pipe was drained, not abandoned.
    assert!(
        tail.iter().any(|l| l.contains("more bytes not kept")),
        "{tail:?}"
    );
    assert_eq!(tail.last(), Some(&format!("last words {mark}").as_str()));
    assert!(tail.iter().all(|l| l.len() <= 2048 + 64), "a line too long");
    assert!(
        r.evidence("client.liveness")
            .iter()
            .any(|e| e == &format!("stderr: last words {mark}")),
        "{:?}",
        r.evidence("client.liveness")
    );
    assert_no_survivors(&mark);
}

fn left_a_child_behind(mode: &str) {
    // The deadline is long: the client's exit must end the wait, not the deadline, though a
    // child of it holds stdout open.
    let (r, mark) = run_hostile(mode, "30s");
    let outcome = &r.scenario()["outcome"];
    assert_eq!(outcome["kind"], "client_failed", "{outcome}");
    assert!(
        outcome["reason"]
            .as_str()
            .unwrap()
            .contains("exited before answering command 1"),
        "{outcome}"
    );
    assert!(
        r.evidence("client.liveness")
            .iter()
            .any(|e| e == &format!("stderr: leaving a child behind {mark}")),
        "{:?}",
        r.evidence("client.liveness")
    );
    assert!(r.elapsed < Duration::from_secs(10), "{:?}", r.elapsed);
    assert_no_survivors(&mark);
}

#[test]
fn a_grandchild_holding_the_pipes_neither_holds_the_run_nor_survives_it() {
    left_a_child_behind("grandchild");
}

#[test]
fn a_grandchild_that_left_the_process_group_is_killed_too() {
    left_a_child_behind("setsid");
}

#[test]
fn a_client_ignoring_shutdown_and_sigterm_is_killed_after_the_grace() {
    let (r, mark) = run_hostile("sigterm", "5s");
    assert_eq!(r.scenario()["outcome"]["kind"], "completed");
    assert_eq!(r.rule("client.liveness")["status"], "fail");
    let ev = r.evidence("client.liveness");
    assert!(
        ev.iter()
            .any(|e| e.contains("shutdown (command 2) not done within 10000 ms")),
        "{ev:?}"
    );
    assert!(
        ev.iter()
            .any(|e| e == "the client did not exit after shutdown and was killed"),
        "{ev:?}"
    );
    // The shutdown grace (10 s) and SIGTERM's (2 s), once each: twice would be 24 s or more
    // (the rest is the client's start and the step, seconds on a loaded machine).
    let took = r.scenario()["duration_ms"].as_u64().unwrap();
    assert!((10_000..22_000).contains(&took), "{took} ms");
    assert_no_survivors(&mark);
}

#[test]
fn fifos_and_links_in_the_state_directory_do_not_hang_the_snapshot() {
    let (r, mark) = run_hostile("files", "5s");
    assert_eq!(
        r.scenario()["outcome"]["kind"],
        "completed",
        "{}",
        r.scenario()
    );
    assert_eq!(r.rule("client.liveness")["status"], "pass");
    assert!(r.elapsed < Duration::from_secs(10), "{:?}", r.elapsed);
    // The harness does not sandbox the client: what it wrote beside its state directory is
    // there (and this test's to remove).
    let outside = std::env::temp_dir().join(format!("outside-{mark}"));
    assert!(outside.exists(), "{}", outside.display());
    std::fs::remove_file(outside).unwrap();
    assert_no_survivors(&mark);
}

#[test]
fn hundreds_of_open_connections_do_not_hold_the_run() {
    let (r, mark) = run_hostile("conns", "10s");
    assert_eq!(
        r.scenario()["outcome"]["kind"],
        "completed",
        "{}",
        r.scenario()
    );
    assert_eq!(r.rule("client.liveness")["status"], "pass");
    assert!(r.elapsed < Duration::from_secs(10), "{:?}", r.elapsed);
    assert_no_survivors(&mark);
}

#[test]
fn a_client_that_never_reads_its_stdin_cannot_block_the_harness_past_the_deadline() {
    // 1000 commands at once: more than a pipe holds, so the harness's writes block.
    let dir = tempfile::tempdir().unwrap();
    let mark = marker("deaf");
    let s = scenario_with(dir.path(), "hostile-deaf", "3s", "    concurrency: 1000\n");
    let r = tokenstorm_run(&hostile("deaf", &mark), &[&s]);
    let outcome = &r.scenario()["outcome"];
    assert_eq!(outcome["kind"], "client_failed", "{outcome}");
    assert!(
        outcome["reason"].as_str().unwrap().contains("within 3s"),
        "{outcome}"
    );
    assert!(
        r.evidence("client.liveness")
            .iter()
            .any(|e| e == &format!("stderr: not listening {mark}")),
        "{:?}",
        r.evidence("client.liveness")
    );
    // The scenario ended at its 3 s deadline (plus the kill), not when the pipe drained; the
    // whole run (the mock's start included, seconds on a loaded machine) is only a hang guard.
    let took = r.scenario()["duration_ms"].as_u64().unwrap();
    assert!(took < 8_000, "{took} ms");
    assert!(r.elapsed < Duration::from_secs(30), "{:?}", r.elapsed);
    assert_no_survivors(&mark);
}

/// Starts a run and signals it `delay` after it announced its plan (the mock not started yet);
/// returns its exit code, its report and the marker of its clients.
fn signalled_run(delay: Duration, sig: nix::sys::signal::Signal) -> (Option<i32>, Value, String) {
    let out = tempfile::tempdir().unwrap();
    let mark = marker("signal");
    let client = format!(
        "python3 {}/tests/clients/scripted.py good {mark}",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokenstorm"))
        .args([
            "run",
            "--client-cmd",
            &client,
            "--scenarios",
            "scenarios/cache/cache-restart-app-token.yaml",
            "--out",
            out.path().to_str().unwrap(),
        ])
        .current_dir(root())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("scenario(s),") {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the run announces its plan");
    std::thread::sleep(delay);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
    let status = child.wait().unwrap();
    let text = reader.join().unwrap();
    let report: Value = std::fs::read(out.path().join("report.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| panic!("{delay:?} {sig}: no report.json; stderr: {text}"));
    (status.code(), report, mark)
}

#[test]
fn sigint_and_sigterm_at_any_point_exit_130_with_an_interrupted_report_and_no_child_left() {
    use nix::sys::signal::Signal;
    // Before the mock starts, around the client's start and hello, mid-scenario (the
    // scenario's restart comes after about 1 s, it ends after about 3 s).
    let points = [
        (0, Signal::SIGINT),
        (150, Signal::SIGTERM),
        (400, Signal::SIGINT),
        (800, Signal::SIGINT),
        (1300, Signal::SIGTERM),
        (1700, Signal::SIGINT),
    ];
    for (ms, sig) in points {
        let (code, report, mark) = signalled_run(Duration::from_millis(ms), sig);
        assert_eq!(code, Some(130), "{ms} ms {sig}: {report}");
        assert_eq!(report["interrupted"], true, "{ms} ms {sig}");
        assert!(
            report["scenarios"].as_array().unwrap().len() <= 1,
            "{report}"
        );
        let left = survivors(&mark);
        assert!(left.is_empty(), "{ms} ms {sig}: left behind {left:?}");
    }
}

#[test]
fn an_unwritable_out_is_refused_with_exit_2_before_any_client_starts() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "in the way").unwrap();
    let readonly = dir.path().join("read-only");
    std::fs::create_dir(&readonly).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&readonly, std::fs::Permissions::from_mode(0o555)).unwrap();
    }
    // root writes through permissions: /proc refuses anyone.
    let writable_anyway = tempfile::tempfile_in(&readonly).is_ok();
    let mut outs = vec![file.clone(), file.join("reports")];
    outs.push(if writable_anyway {
        PathBuf::from("/proc/self/tokenstorm-report")
    } else {
        readonly.join("reports")
    });
    let started = dir.path().join("client-started");
    let client = format!("sh -c 'touch {}'", started.display());
    let s = scenario(dir.path(), "never-runs", "5s");
    for out in outs {
        let o = Command::new(env!("CARGO_BIN_EXE_tokenstorm"))
            .args(["run", "--client-cmd", &client, "--scenarios"])
            .arg(&s)
            .arg("--out")
            .arg(&out)
            .current_dir(root())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{}: {err}", out.display());
        assert!(
            err.contains(&format!("--out {}", out.display())),
            "{}: {err}",
            out.display()
        );
        assert!(!err.contains("scenario(s),"), "the run started: {err}");
        assert!(!started.exists(), "a client started for {}", out.display());
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "in the way");
}

/// A full disk: `--out` on a 32 KiB tmpfs (mounted in a user and mount namespace of the test's
/// own, `unshare -rm`, so no privilege is needed) can't take the 64 KiB probe, and the run
/// stops before any client starts, naming the folder and the reason.
#[test]
fn a_full_out_is_refused_with_exit_2_before_any_client_starts() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let started = dir.path().join("client-started");
    let client = format!("sh -c 'touch {}'", started.display());
    let s = scenario(dir.path(), "never-runs", "5s");
    let script = format!(
        "mount -t tmpfs -o size=32k tmpfs {mnt} && exec {bin} run --client-cmd \"{client}\" \
         --scenarios {s} --out {mnt}/reports",
        mnt = mnt.display(),
        bin = env!("CARGO_BIN_EXE_tokenstorm"),
        s = s.display(),
    );
    let o = Command::new("unshare")
        .args(["-rm", "sh", "-c", &script])
        .current_dir(root())
        .output()
        .expect(
            "unshare (util-linux) mounts the small file system in a namespace of the test's own",
        );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--out") && err.contains("/small/reports"),
        "{err}"
    );
    assert!(err.contains("No space left on device"), "{err}");
    assert!(!err.contains("scenario(s),"), "the run started: {err}");
    assert!(!started.exists(), "a client started");
}

#[test]
fn a_second_run_into_the_same_out_holds_nothing_of_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let a = scenario(dir.path(), "short-a", "10s");
    let b = scenario(dir.path(), "short-b", "10s");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "the user's").unwrap();
    let client = format!(
        "python3 {}/tests/clients/scripted.py good {}",
        env!("CARGO_MANIFEST_DIR"),
        marker("twice")
    );
    let run = |scenarios: &[&Path]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokenstorm"));
        cmd.args(["run", "--client-cmd", &client, "--out"])
            .arg(&out)
            .current_dir(root());
        for s in scenarios {
            cmd.arg("--scenarios").arg(s);
        }
        let o = cmd.output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    run(&[&a, &b]);
    assert!(out.join("journal/short-b.jsonl").exists());
    run(&[&a]);
    let mut journal: Vec<String> = std::fs::read_dir(out.join("journal"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    journal.sort();
    assert_eq!(journal, ["short-a.jsonl", "short-a.transcript.jsonl"]);
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let names: Vec<&str> = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["short-a"]);
    for f in ["report.md", "junit.xml", "report.html"] {
        let text = std::fs::read_to_string(out.join(f)).unwrap();
        assert!(!text.contains("short-b"), "{f} mentions the first run");
    }
    // Only what a run writes is cleared.
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "the user's"
    );
    let mut top: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(
        top,
        [
            "journal",
            "junit.xml",
            "notes.txt",
            "report.html",
            "report.json",
            "report.md"
        ]
    );
}

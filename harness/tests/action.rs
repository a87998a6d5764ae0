//! The GitHub Action's scripts (`ci/action/*.sh`, run by `action.yml`) on this machine, with
//! GitHub's files (`GITHUB_OUTPUT`, `GITHUB_PATH`, `GITHUB_STEP_SUMMARY`) as temporary files:
//! what to install, a release installed from a local folder with its checksum enforced, and a
//! scenario run with its verdict, summary and outputs. Also the linters over the workflows and
//! the Dockerfile (`scripts/install-ci-tools.sh`: actionlint, hadolint, pinned).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// The `key=value` lines GitHub would read from a step's output file.
fn outputs(file: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

struct Step {
    dir: tempfile::TempDir,
}

impl Step {
    fn new() -> Step {
        Step {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    /// Runs `ci/action/SCRIPT` as the action would, with `env` on top of GitHub's variables.
    fn run(&self, script: &str, env: &[(&str, &str)], path: Option<&str>) -> Output {
        let mut cmd = Command::new("bash");
        cmd.arg(root().join("ci/action").join(script))
            .current_dir(self.dir.path())
            .env("GITHUB_ACTION_PATH", root())
            .env("GITHUB_OUTPUT", self.file("output"))
            .env("GITHUB_PATH", self.file("path"))
            .env("GITHUB_STEP_SUMMARY", self.file("summary.md"))
            .env("RUNNER_OS", "Linux")
            .env(
                "RUNNER_ARCH",
                if cfg!(target_arch = "aarch64") {
                    "ARM64"
                } else {
                    "X64"
                },
            )
            .env_remove("TOKENSTORM_RELEASES_URL");
        if let Some(p) = path {
            cmd.env("PATH", p);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_release_tag_is_installed_and_anything_else_is_built_from_source() {
    for (input, action_ref, kind, tag) in [
        ("", "v0.1.0", "release", Some("v0.1.0")),
        ("v1.2.3-rc.1", "main", "release", Some("v1.2.3-rc.1")),
        ("", "main", "source", None),
        ("", "3f2a9c0d1e", "source", None),
        ("", "", "source", None),
    ] {
        let step = Step::new();
        let o = step.run(
            "pin.sh",
            &[("INPUT_VERSION", input), ("ACTION_REF", action_ref)],
            None,
        );
        assert!(o.status.success(), "{}", text(&o));
        let out = outputs(&step.file("output"));
        assert_eq!(out["kind"], kind, "{input:?} {action_ref:?}");
        assert_eq!(out.get("tag").map(String::as_str), tag);
        if kind == "source" {
            let key = &out["source-key"];
            assert!(
                key.len() == 16 && key.chars().all(|c| c.is_ascii_hexdigit()),
                "{key}"
            );
        }
    }
}

/// A release folder as GitHub serves it: the archive for this machine and its `.sha256`.
fn release(dir: &Path, tag: &str, corrupt: bool) -> String {
    let triple = if cfg!(target_arch = "aarch64") {
        "aarch64-unknown-linux-gnu"
    } else {
        "x86_64-unknown-linux-gnu"
    };
    let name = format!("tokenstorm-{tag}-{triple}");
    let stage = dir.join("stage").join(&name);
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_tokenstorm"), stage.join("tokenstorm")).unwrap();
    let assets = dir.join("releases").join(tag);
    std::fs::create_dir_all(&assets).unwrap();
    let archive = assets.join(format!("{name}.tar.gz"));
    let o = Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(dir.join("stage"))
        .arg(&name)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let sum = Command::new("sha256sum").arg(&archive).output().unwrap();
    let mut hash = String::from_utf8_lossy(&sum.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    if corrupt {
        hash = hash.replace(&hash[..1], if hash.starts_with('0') { "1" } else { "0" });
    }
    std::fs::write(
        assets.join(format!("{name}.tar.gz.sha256")),
        format!("{hash}  {name}.tar.gz\n"),
    )
    .unwrap();
    format!("file://{}", dir.join("releases").display())
}

#[test]
fn a_release_is_installed_on_the_path_after_its_checksum_is_checked() {
    let step = Step::new();
    let url = release(step.dir.path(), "v9.9.9", false);
    let install = step.file("install");
    let o = step.run(
        "install.sh",
        &[
            ("KIND", "release"),
            ("TAG", "v9.9.9"),
            ("TOKENSTORM_RELEASES_URL", &url),
            ("INSTALL_ROOT", install.to_str().unwrap()),
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    let bin = install.join("bin");
    assert!(bin.join("tokenstorm").is_file());
    assert_eq!(
        std::fs::read_to_string(step.file("path")).unwrap().trim(),
        bin.to_str().unwrap()
    );
    let out = outputs(&step.file("output"));
    assert!(out["version"].starts_with("tokenstorm "), "{out:?}");
}

#[test]
fn a_release_whose_checksum_does_not_match_is_not_installed() {
    let step = Step::new();
    let url = release(step.dir.path(), "v9.9.9", true);
    let install = step.file("install");
    let o = step.run(
        "install.sh",
        &[
            ("KIND", "release"),
            ("TAG", "v9.9.9"),
            ("TOKENSTORM_RELEASES_URL", &url),
            ("INSTALL_ROOT", install.to_str().unwrap()),
        ],
        None,
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("does not match its SHA-256"),
        "{}",
        text(&o)
    );
    assert!(!install.join("bin/tokenstorm").exists());
    assert!(!step.file("path").exists(), "nothing put on the PATH");
}

#[test]
fn a_missing_release_falls_back_to_a_source_build_which_needs_rust() {
    let step = Step::new();
    let empty = step.file("no-releases");
    std::fs::create_dir_all(&empty).unwrap();
    let install = step.file("install");
    // A PATH with the shell's tools and curl but no cargo: the fallback says what it needs.
    let tools = step.file("tools");
    std::fs::create_dir_all(&tools).unwrap();
    for t in [
        "bash",
        "curl",
        "mkdir",
        "mktemp",
        "cut",
        "sha256sum",
        "cat",
        "rm",
        "uname",
        "find",
    ] {
        if let Ok(p) = which(t) {
            std::os::unix::fs::symlink(p, tools.join(t)).unwrap();
        }
    }
    let o = step.run(
        "install.sh",
        &[
            ("KIND", "release"),
            ("TAG", "v9.9.9"),
            (
                "TOKENSTORM_RELEASES_URL",
                &format!("file://{}", empty.display()),
            ),
            ("INSTALL_ROOT", install.to_str().unwrap()),
        ],
        Some(tools.to_str().unwrap()),
    );
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("no release archive"), "{t}");
    assert!(t.contains("building from source needs Rust"), "{t}");
}

fn which(t: &str) -> Result<PathBuf, ()> {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join(t))
        .find(|p| p.is_file())
        .ok_or(())
}

/// PATH with the built `tokenstorm` first, as the install step leaves it.
fn path_with_tokenstorm() -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_tokenstorm"))
        .parent()
        .unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn the_run_step_judges_writes_the_summary_and_gives_the_exit_code() {
    let step = Step::new();
    let path = path_with_tokenstorm();
    let o = step.run(
        "run.sh",
        &[
            ("INPUT_SCENARIOS", "throttle-429-short"),
            ("INPUT_OUT", "report"),
            ("INPUT_EXPECTED_FAILURES", "none.yaml"),
            ("INPUT_BASELINE", "tokenstorm-baseline/report.json"),
        ],
        Some(&path),
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("no baseline at"), "{t}");
    assert_eq!(outputs(&step.file("output"))["exit-code"], "0");
    let summary = std::fs::read_to_string(step.file("summary.md")).unwrap();
    let report = std::fs::read_to_string(step.file("report/report.md")).unwrap();
    assert_eq!(summary, report);
    assert!(report.contains("throttle-429-short"));
}

#[test]
fn a_failed_verdict_fails_the_step_after_the_reports_unless_told_not_to() {
    for (fail_on_verdict, succeeds) in [("true", false), ("false", true)] {
        let step = Step::new();
        let path = path_with_tokenstorm();
        // A client that dies at once: a crash, exit 1, with a report.
        let o = step.run(
            "run.sh",
            &[
                ("INPUT_CLIENT_CMD", "sh -c 'exit 3'"),
                ("INPUT_SCENARIOS", "throttle-429-short"),
                ("INPUT_FAIL_ON_VERDICT", fail_on_verdict),
                ("INPUT_ARGS", "--strict"),
            ],
            Some(&path),
        );
        let t = text(&o);
        assert_eq!(o.status.success(), succeeds, "{t}");
        assert!(t.contains("::error::tokenstorm: a rule failed"), "{t}");
        assert!(t.contains("--strict"), "the extra args were passed: {t}");
        assert_eq!(outputs(&step.file("output"))["exit-code"], "1");
        assert!(step.file("tokenstorm-report/report.json").is_file());
        assert!(std::fs::read_to_string(step.file("summary.md"))
            .unwrap()
            .contains("throttle-429-short"));
    }
}

/// The pinned linters (installed once under target/ci-tools).
fn tools() -> HashMap<String, String> {
    let o = Command::new("bash")
        .arg(root().join("scripts/install-ci-tools.sh"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn actionlint_finds_nothing_in_the_workflows() {
    let t = tools();
    let mut files = vec![
        root().join("ci/github-actions.yml"),
        root().join("ci/github-actions-sharded.yml"),
    ];
    for e in std::fs::read_dir(root().join(".github/workflows")).unwrap() {
        files.push(e.unwrap().path());
    }
    assert!(files.len() >= 4, "{files:?}");
    let o = Command::new(&t["actionlint"])
        .arg("-no-color")
        .args(&files)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(o.status.success(), "actionlint:\n{}", text(&o));
    // And it does find a broken workflow: the check can fail.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope.nope }}\n        if: always(\n",
    )
    .unwrap();
    let o = Command::new(&t["actionlint"])
        .arg("-no-color")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!o.status.success());
}

#[test]
fn the_dockerfile_builds_in_one_stage_and_runs_unprivileged_in_another() {
    let t = tools();
    let o = Command::new(&t["hadolint"])
        .arg("Dockerfile")
        .current_dir(root())
        .output()
        .unwrap();
    assert!(o.status.success(), "hadolint:\n{}", text(&o));
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let froms: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "{froms:?}");
    assert!(froms[0].contains(" AS build"), "{}", froms[0]);
    for f in &froms {
        let image = f.split_whitespace().nth(1).unwrap();
        assert!(
            image.contains(':') && !image.ends_with(":latest"),
            "{image}: pin the base image"
        );
    }
    let last_stage = &text[text.rfind("\nFROM ").unwrap()..];
    assert!(last_stage.contains("COPY --from=build"));
    assert!(last_stage.contains("\nUSER 10001"), "an unprivileged user");
    assert!(last_stage.contains("ENTRYPOINT [\"tokenstorm\"]"));
    assert!(text.contains("cargo build --release --locked -p tokenstorm"));
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l.trim() == "target/"));
}

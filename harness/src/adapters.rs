//! Built-in adapters: `tokenstorm run --client msal-python` (or `msal-node`, `msal-java`,
//! `msal-go`) puts a real library under test with one command. The adapters' files (driver,
//! pinned dependency list, install script) are embedded in the binary; on first use they are written to a cache
//! folder and the adapter's `install.sh` installs its pinned dependencies there (idempotent:
//! a warm install does nothing).
//!
//! The cache folder: `$TOKENSTORM_ADAPTERS_DIR/<name>` if set; else `target/adapters/<name>`
//! when this binary was built in a cargo `target/` folder; else
//! `$XDG_CACHE_HOME/tokenstorm/adapters/<name>` (`~/.cache/...`).

use crate::runner::ClientCommand;
use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/adapters.rs"));

/// Why an adapter could not be made ready.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// No adapter of that name.
    #[error("unknown client '{name}'; the built-in clients are: reference, {known}; or use --client-cmd \"CMD ARGS\"")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The names this build has.
        known: String,
    },
    /// Writing its files failed.
    #[error("cannot write the {name} adapter to {dir}: {source}")]
    Io {
        /// The adapter.
        name: String,
        /// Where.
        dir: String,
        /// Why.
        source: std::io::Error,
    },
    /// Its install script failed.
    #[error(
        "installing the {name} adapter failed ({status}); run `bash {script} {dir}` to see why"
    )]
    Install {
        /// The adapter.
        name: String,
        /// The script.
        script: String,
        /// Its folder.
        dir: String,
        /// The exit status.
        status: String,
    },
}

/// What an adapter asks of a run unless the command line says otherwise: its optional
/// `adapter.json` beside the install script.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunDefaults {
    /// Judge it through impersonation: it uses its library with default settings, so it reaches
    /// Entra and Graph by their real names (`--impersonate`).
    pub impersonate: bool,
    /// At most this many scenarios at once (`--jobs`): a real browser per scenario is heavy.
    pub jobs: Option<usize>,
}

/// An adapter made ready: how to start it, and what it asks of the run.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The command.
    pub command: ClientCommand,
    /// Its defaults.
    pub defaults: RunDefaults,
}

/// The adapters this build embeds.
pub fn names() -> Vec<&'static str> {
    let mut v: Vec<&str> = ADAPTER_FILES
        .iter()
        .filter(|(_, path, _)| *path == "install.sh")
        .map(|(name, _, _)| *name)
        .collect();
    v.dedup();
    v
}

/// The cache folder for adapters.
pub fn cache_root() -> PathBuf {
    if let Some(d) = std::env::var_os("TOKENSTORM_ADAPTERS_DIR") {
        return PathBuf::from(d);
    }
    if let Some(target) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(Path::to_path_buf))
        .filter(|t| t.file_name().is_some_and(|n| n == "target"))
    {
        return target.join("adapters");
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("tokenstorm").join("adapters")
}

/// How an adapter is started once installed in `dir`: `node driver.mjs`, the adapter's own
/// virtualenv's `python driver.py`, or, for adapters that build a program (MSAL for Java, Go),
/// `bash run.sh`, which `exec`s it.
fn command(dir: &Path) -> ClientCommand {
    let file = |f: &str| dir.join(f).display().to_string();
    if dir.join("driver.mjs").is_file() {
        ClientCommand {
            program: "node".into(),
            args: vec![file("driver.mjs")],
        }
    } else if dir.join("driver.py").is_file() {
        ClientCommand {
            program: dir
                .join("venv")
                .join("bin")
                .join("python")
                .display()
                .to_string(),
            args: vec![file("driver.py")],
        }
    } else {
        ClientCommand {
            program: "bash".into(),
            args: vec![file("run.sh")],
        }
    }
}

/// Writes the adapter's files into `dir` (only those that differ, so a warm start touches
/// nothing).
pub fn materialize(name: &str, dir: &Path) -> Result<(), AdapterError> {
    let io = |source| AdapterError::Io {
        name: name.to_string(),
        dir: dir.display().to_string(),
        source,
    };
    for (_, rel, bytes) in ADAPTER_FILES.iter().filter(|(n, _, _)| *n == name) {
        let path = dir.join(rel);
        if std::fs::read(&path).is_ok_and(|b| b == *bytes) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        crate::report::write_atomic(&path, bytes).map_err(io)?;
        #[cfg(unix)]
        if rel.ends_with(".sh") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
        }
    }
    Ok(())
}

/// Makes the named adapter ready (files written, pinned dependencies installed) and returns
/// how to start it. The install script's progress goes to stderr.
pub fn prepare(name: &str) -> Result<Prepared, AdapterError> {
    if !names().contains(&name) {
        return Err(AdapterError::Unknown {
            name: name.to_string(),
            known: names().join(", "),
        });
    }
    let dir = cache_root().join(name);
    materialize(name, &dir)?;
    let script = dir.join("install.sh");
    let status = std::process::Command::new("bash")
        .arg(&script)
        .arg(&dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|source| AdapterError::Io {
            name: name.to_string(),
            dir: dir.display().to_string(),
            source,
        })?;
    if !status.success() {
        return Err(AdapterError::Install {
            name: name.to_string(),
            script: script.display().to_string(),
            dir: dir.display().to_string(),
            status: status.to_string(),
        });
    }
    let defaults = match std::fs::read(dir.join("adapter.json")) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| AdapterError::Io {
            name: name.to_string(),
            dir: dir.display().to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("adapter.json: {e}"),
            ),
        })?,
        Err(_) => RunDefaults::default(),
    };
    Ok(Prepared {
        command: command(&dir),
        defaults,
    })
}

//! The built-in scenario library, embedded at build time from `scenarios/`, and loading
//! scenarios from files and folders.

use model::scenario::{self, Scenario, ScenarioError, ScenarioErrors};
use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/library.rs"));

/// The line every built-in file starts with, so editors complete and check it.
#[cfg(test)]
const SCHEMA_LINE: &str = "# yaml-language-server: $schema=../scenario.schema.json";

/// A scenario and where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// `builtin:cache/x.yaml` or a file path.
    pub origin: String,
    /// The scenario.
    pub scenario: Scenario,
}

/// Every built-in scenario (they are checked by the test suite, so this does not fail).
pub fn builtin() -> Result<Vec<Loaded>, ScenarioErrors> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (path, text) in LIBRARY {
        let origin = format!("builtin:{path}");
        match scenario::parse(text, &origin) {
            Ok(s) => out.push(Loaded {
                origin,
                scenario: s,
            }),
            Err(e) => errors.extend(e.0),
        }
    }
    finish(out, errors)
}

fn yaml_files(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    walk(path, out, &mut std::collections::HashSet::new())
}

/// Collects `*.yaml` and `*.yml` files under `path`. Each folder is read once, so a symbolic
/// link back up the tree does not loop, and only regular files are collected from folders (a
/// FIFO would block the read).
fn walk(
    path: &Path,
    out: &mut Vec<PathBuf>,
    seen: &mut std::collections::HashSet<PathBuf>,
) -> std::io::Result<()> {
    if path.is_dir() {
        if !seen.insert(std::fs::canonicalize(path)?) {
            return Ok(());
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out, seen)?;
            } else if p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                out.push(p);
            }
        }
        Ok(())
    } else {
        std::fs::metadata(path)?;
        out.push(path.to_path_buf());
        Ok(())
    }
}

/// Loads scenario files and folders (recursively, `*.yaml` and `*.yml`) and built-in
/// scenarios by name (an argument that is no file or folder but a built-in scenario's name);
/// every problem in every file is reported, and names must be unique across them. Every
/// command that takes scenarios reads its arguments through this, so a name works wherever a
/// path does.
pub fn load(paths: &[PathBuf]) -> Result<Vec<Loaded>, ScenarioErrors> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut out = Vec::new();
    let mut library: Option<Vec<Loaded>> = None;
    for p in paths {
        if !p.exists() {
            if let Some(name) = p.to_str().filter(|n| is_name(n)) {
                let all = library.get_or_insert_with(|| builtin().unwrap_or_default());
                if let Some(l) = all.iter().find(|l| l.scenario.name.value == name) {
                    out.push(l.clone());
                    continue;
                }
                errors.push(ScenarioError {
                    file: name.to_string(),
                    line: 0,
                    column: 0,
                    message: "no such file or folder, and no built-in scenario of that name \
                              (see `tokenstorm scenarios list`)"
                        .into(),
                });
                continue;
            }
        }
        if let Err(e) = yaml_files(p, &mut files) {
            errors.push(ScenarioError {
                file: p.display().to_string(),
                line: 0,
                column: 0,
                message: format!("cannot read: {e}"),
            });
        }
    }
    for f in files {
        match scenario::parse_file(&f) {
            Ok(s) => out.push(Loaded {
                origin: f.display().to_string(),
                scenario: s,
            }),
            Err(e) => errors.extend(e.0),
        }
    }
    finish(out, errors)
}

/// One scenario, by file or built-in name (`observe --scenario`, `serve --scenario`): a folder
/// or a file holding no scenario is an error.
pub fn one(arg: &Path) -> Result<Loaded, ScenarioErrors> {
    let mut all = load(&[arg.to_path_buf()])?;
    if all.len() == 1 {
        if let Some(l) = all.pop() {
            return Ok(l);
        }
    }
    Err(ScenarioErrors(vec![ScenarioError {
        file: arg.display().to_string(),
        line: 0,
        column: 0,
        message: format!(
            "names {} scenarios where one is wanted (give a file or a built-in scenario's name)",
            all.len()
        ),
    }]))
}

/// Whether an argument can be a scenario's name rather than a path: a built-in name is made of
/// lowercase letters, digits and `-`.
fn is_name(arg: &str) -> bool {
    !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn finish(out: Vec<Loaded>, mut errors: Vec<ScenarioError>) -> Result<Vec<Loaded>, ScenarioErrors> {
    // The first file to use each name (a map: a folder may hold thousands of files).
    let mut first: std::collections::HashMap<&str, &Loaded> = std::collections::HashMap::new();
    for a in &out {
        let b = *first.entry(a.scenario.name.value.as_str()).or_insert(a);
        if !std::ptr::eq(a, b) {
            errors.push(ScenarioError {
                file: a.origin.clone(),
                line: a.scenario.name.line,
                column: a.scenario.name.column,
                message: format!(
                    "scenario name '{}' is also used by {}",
                    a.scenario.name.value, b.origin
                ),
            });
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ScenarioErrors(errors))
    }
}

#[cfg(test)]
fn check_builtin(path: &str) {
    let (_, text) = LIBRARY
        .iter()
        .find(|(p, _)| *p == path)
        .unwrap_or_else(|| panic!("{path} is not embedded"));
    assert!(
        text.starts_with(SCHEMA_LINE),
        "{path} must start with `{SCHEMA_LINE}`"
    );
    let s = match scenario::parse(text, path) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let file_name = path.rsplit('/').next().unwrap_or(path);
    assert_eq!(
        file_name.trim_end_matches(".yaml"),
        s.name.value,
        "{path}: the file is named after the scenario"
    );
    // The scenario must survive a round trip through YAML.
    let yaml = serde_saphyr::to_string(&s).unwrap_or_else(|e| panic!("{path}: {e}"));
    let back =
        scenario::parse(&yaml, path).unwrap_or_else(|e| panic!("{path} round trip: {e}\n{yaml}"));
    assert_eq!(back, s, "{path}: round trip");
}

#[cfg(test)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/library_tests.rs"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_is_big_enough_and_covers_every_rule() {
        let all = builtin().unwrap_or_else(|e| panic!("{e}"));
        assert!(all.len() >= 30, "only {} built-in scenarios", all.len());
        // client.outcome judges every driven run, listed or not.
        for r in model::rules::CATALOG
            .iter()
            .filter(|r| r.id != model::rules::RuleId::ClientOutcome)
        {
            assert!(
                all.iter().any(|l| l
                    .scenario
                    .rules
                    .iter()
                    .any(|x| x.value.id() == r.id.as_str())),
                "no built-in scenario exercises {}",
                r.id
            );
        }
    }
}

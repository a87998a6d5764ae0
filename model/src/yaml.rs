//! Reading YAML the user wrote (scenarios, app registrations, expected failures) within fixed
//! limits, so a hostile file (an alias bomb, deep nesting, a huge or binary file) is refused
//! quickly, in bounded memory, with a message that says which limit it broke and where.

use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{Budget, Options};
use std::io::Read;
use std::path::Path;

/// The largest file read: 1 MiB. The biggest built-in scenario is under 2 KiB.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// The deepest nesting of lists and maps (a scenario needs about 6, plus free-form JSON).
pub const MAX_DEPTH: usize = 32;
/// The most YAML nodes (scalars, lists, maps) in a file, each alias counted every time it is
/// used.
pub const MAX_NODES: usize = 50_000;
/// The most aliases (`*name`) in a file.
pub const MAX_ALIASES: usize = 1_000;
/// The most events replayed through aliases (what an alias bomb multiplies).
pub const MAX_ALIAS_REPLAY: usize = 50_000;
/// The most scalar text, in bytes, aliases expanded.
pub const MAX_SCALAR_BYTES: usize = 4 * 1024 * 1024;

/// A file that could not be read as text, or YAML that broke a limit or did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    /// Line, from 1 (0: the whole file).
    pub line: u64,
    /// Column, from 1 (0: the whole file).
    pub column: u64,
    /// What was wrong and, for a limit, what the limit is.
    pub message: String,
}

impl YamlError {
    fn whole(message: String) -> Self {
        YamlError {
            line: 0,
            column: 0,
            message,
        }
    }
}

/// The parser options for user-written YAML: the budget above, duplicate keys refused.
pub fn options() -> Options {
    let mut b = Budget::default();
    b.max_reader_input_bytes = Some(MAX_FILE_BYTES as usize);
    b.max_depth = MAX_DEPTH;
    b.flow_nesting_limit = MAX_DEPTH;
    b.max_nodes = MAX_NODES;
    b.max_events = 2 * MAX_NODES;
    b.max_aliases = MAX_ALIASES;
    b.max_anchors = MAX_ALIASES;
    b.max_documents = 1;
    b.max_total_scalar_bytes = MAX_SCALAR_BYTES;
    b.max_recorded_anchor_events = MAX_ALIAS_REPLAY;
    b.max_recorded_anchor_bytes = MAX_SCALAR_BYTES;
    b.max_merge_keys = MAX_ALIASES;
    let mut o = Options::default();
    o.budget = Some(b);
    o.alias_limits.max_total_replayed_events = MAX_ALIAS_REPLAY;
    o.alias_limits.max_replay_stack_depth = MAX_DEPTH;
    o
}

/// Reads a file as UTF-8 text, refusing one over [`MAX_FILE_BYTES`] without reading it all
/// (the size is checked before reading, and the read stops after the limit for files that do
/// not know their size).
pub fn read_file(path: &Path) -> Result<String, YamlError> {
    let cannot = |e: std::io::Error| YamlError::whole(format!("cannot read the file: {e}"));
    let file = std::fs::File::open(path).map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    if meta.is_dir() {
        return Err(YamlError::whole("is a directory, not a file".into()));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(YamlError::whole(format!(
            "the file is over {} bytes: files are limited to 1 MiB ({} bytes)",
            MAX_FILE_BYTES, MAX_FILE_BYTES
        )));
    }
    text(bytes)
}

fn too_large(len: u64) -> YamlError {
    YamlError::whole(format!(
        "the file is {len} bytes: files are limited to 1 MiB ({MAX_FILE_BYTES} bytes)"
    ))
}

/// Checks text given in memory (an HTTP body) against [`MAX_FILE_BYTES`].
pub fn check_size(text: &str) -> Result<(), YamlError> {
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(text.len() as u64));
    }
    Ok(())
}

/// UTF-8 text, or where the first byte that is not.
pub fn text(bytes: Vec<u8>) -> Result<String, YamlError> {
    String::from_utf8(bytes).map_err(|e| {
        let good = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let before = &bytes[..good];
        let line = before.iter().filter(|b| **b == b'\n').count() as u64 + 1;
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        // `before` is valid UTF-8, so counting chars from the line's start is exact.
        let column = String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count() as u64
            + 1;
        let byte = bytes.get(good).copied().unwrap_or(0);
        YamlError {
            line,
            column,
            message: format!(
                "the file is not UTF-8 text: byte 0x{byte:02X} at offset {good} is not valid UTF-8"
            ),
        }
    })
}

/// Parses YAML text into `T` with [`options`]; the error names where and, for a limit, which.
pub fn from_str<'de, T: serde::Deserialize<'de>>(text: &'de str) -> Result<T, YamlError> {
    check_size(text)?;
    serde_saphyr::from_str_with_options(text, options()).map_err(|e| describe(&e))
}

/// The position and a one-line message for a parse error, without the library's own position
/// suffix and snippet.
pub fn describe(e: &serde_saphyr::Error) -> YamlError {
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    if let Some(message) = limit_message(e) {
        return YamlError {
            line,
            column,
            message,
        };
    }
    let rendered = e.without_snippet().to_string();
    let first = rendered.lines().next().unwrap_or("invalid YAML").trim();
    // The library appends " at line N, column M"; the position is already in front.
    let mut message = match first.rfind(" at line ") {
        Some(i) if first[i..].contains(", column ") => first[..i].to_string(),
        _ => first.to_string(),
    };
    // Advice meant for the library's users, not for the file's authors.
    if let Some(i) = message.find(", set DuplicateKeyPolicy") {
        message.truncate(i);
        message.push_str(" (each key may appear once)");
    }
    // An overflowing literal (`1e400`) where a number was inferred.
    if let Some(rest) = message.strip_prefix("non-finite float `") {
        if let Some(end) = rest.find('`') {
            message = format!("`{}` is not a finite number", &rest[..end]);
        }
    }
    if message == "recursion limit exceeded" {
        message =
            format!("nested deeper than {MAX_DEPTH} levels (lists and maps inside each other)");
    }
    YamlError {
        line,
        column,
        message,
    }
}

/// A clear message for a broken limit, naming the limit.
fn limit_message(e: &serde_saphyr::Error) -> Option<String> {
    use serde_saphyr::Error as E;
    let mut root = e;
    while let E::AliasError { error, .. } | E::WithSnippet { error, .. } = root {
        root = error;
    }
    let bomb = || {
        format!(
            "too much YAML once aliases are expanded (an alias bomb?): at most {MAX_ALIASES} aliases, {MAX_ALIAS_REPLAY} nodes replayed through them and {MAX_NODES} nodes in all"
        )
    };
    Some(match root {
        E::Budget { breach, .. } => match breach {
            BudgetBreach::Depth { .. } => {
                format!("nested deeper than {MAX_DEPTH} levels (lists and maps inside each other)")
            }
            BudgetBreach::Nodes { .. } | BudgetBreach::Events { .. } => format!(
                "more than {MAX_NODES} YAML nodes (values, lists and maps; an alias counts each time it is used)"
            ),
            BudgetBreach::Documents { .. } => {
                "more than one YAML document (`---`): write one per file".to_string()
            }
            BudgetBreach::ScalarBytes { .. } | BudgetBreach::RecordedAnchorBytes { .. } => format!(
                "more than {MAX_SCALAR_BYTES} bytes of text in values, aliases expanded"
            ),
            BudgetBreach::InputBytes { .. } => format!(
                "the file is over {MAX_FILE_BYTES} bytes: files are limited to 1 MiB"
            ),
            BudgetBreach::Aliases { .. }
            | BudgetBreach::Anchors { .. }
            | BudgetBreach::AliasAnchorRatio { .. }
            | BudgetBreach::RecordedAnchorEvents { .. }
            | BudgetBreach::MergeKeys { .. } => bomb(),
            other => format!("the YAML breaks a parser limit: {other:?}"),
        },
        E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. }
        | E::AliasReplayCounterOverflow { .. } => bomb(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_utf8_names_line_column_and_byte() {
        let e = text(b"a: 1\nbb: x\xffy\n".to_vec()).err();
        let e = e.unwrap_or_else(|| panic!("accepted"));
        assert_eq!((e.line, e.column), (2, 6));
        assert!(e.message.contains("0xFF"), "{}", e.message);
    }

    #[test]
    fn too_large_text_is_refused_before_parsing() {
        let big = "#".repeat(MAX_FILE_BYTES as usize + 1);
        let e = from_str::<serde_json::Value>(&big).err();
        let e = e.unwrap_or_else(|| panic!("accepted"));
        assert!(e.message.contains("limited to 1 MiB"), "{}", e.message);
    }
}

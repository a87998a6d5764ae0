//! Deliberately broken scenarios and the exact errors they must produce (snapshots in
//! `tests/broken/NAME.expected`). To accept a changed message after checking it:
//! `TOKENSTORM_BLESS=1 cargo test -p tokenstorm-model --test broken`.
#![allow(clippy::unwrap_used)]

use std::path::Path;

#[test]
fn each_broken_scenario_gives_its_error() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 12, "only {} broken scenarios", files.len());
    let bless = std::env::var_os("TOKENSTORM_BLESS").is_some();
    let mut mismatches = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(f).unwrap();
        let shown = format!("broken/{name}");
        let err = match tokenstorm_model::scenario::parse(&text, &shown) {
            Ok(_) => panic!("{shown} parsed, but it is meant to be broken"),
            Err(e) => format!("{e}\n"),
        };
        for line in err.lines() {
            assert!(
                line.starts_with(&format!("{shown}:")),
                "no file:line:column in {line:?}"
            );
        }
        let expected_path = f.with_extension("expected");
        if bless {
            std::fs::write(&expected_path, &err).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != err {
            mismatches.push(format!(
                "{shown}\n  expected: {expected:?}\n  got:      {err:?}"
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

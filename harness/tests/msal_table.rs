//! `docs/msal-verdicts.md` holds one table across every library an adapter judges: for each rule,
//! which libraries pass and which fail (and why), and every verdict scenario by rule. Both are
//! made from the adapters' checked-in verdict tables (`adapters/*/verdicts.txt`, which
//! `tests/adapters.rs` compares with real runs), so the page can't drift from what the libraries
//! do. `TOKENSTORM_BLESS=1` rewrites the page's generated part.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

const BEGIN: &str = "<!-- generated from adapters/*/verdicts.txt by harness/tests/msal_table.rs: do not edit by hand -->";
const END: &str = "<!-- end of generated tables -->";

/// (scenario, rule) -> the states a run may show (`pass`, `fail early-retry`, ...).
type Table = BTreeMap<(String, String), Vec<String>>;

fn load(adapter: &str) -> Table {
    let text = std::fs::read_to_string(root().join("adapters").join(adapter).join("verdicts.txt"))
        .unwrap_or_default();
    let mut t = Table::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut words = line.splitn(3, ' ');
        let (Some(scenario), Some(rule), Some(rest)) = (words.next(), words.next(), words.next())
        else {
            continue;
        };
        let states = rest
            .split(" | ")
            .map(|s| {
                let mut p = s.splitn(2, ' ');
                let status = p.next().unwrap_or_default();
                match p.next().filter(|c| *c != "-") {
                    Some(causes) => format!("{status} {causes}"),
                    None => status.to_string(),
                }
            })
            .collect();
        t.insert((scenario.to_string(), rule.to_string()), states);
    }
    t
}

fn adapters() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join("adapters"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("verdicts.txt").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A cell: `pass`, `fail (early-retry)`, `n/a`, or the states a run may show, `/`-separated.
fn cell(states: Option<&Vec<String>>) -> String {
    let Some(states) = states else {
        return "".into();
    };
    let short: Vec<String> = states
        .iter()
        .map(|s| {
            let (status, causes) = s.split_once(' ').unwrap_or((s, ""));
            let status = match status {
                "not_applicable" => "n/a",
                "completed" => "ran",
                other => other,
            };
            if causes.is_empty() {
                status.to_string()
            } else {
                format!("{status} ({})", causes.replace(',', ", "))
            }
        })
        .collect();
    short.join(" / ")
}

fn generate() -> String {
    let names = adapters();
    let tables: Vec<Table> = names.iter().map(|a| load(a)).collect();
    let mut out = String::new();
    out.push_str(BEGIN);
    out.push_str("\n\n### By rule\n\nFor each rule, in how many scenarios it failed (or warned) for each library, and why; `pass` where every judged scenario passed. A rule that a run may or may not fail (timing) counts as failing.\n\n");
    out.push_str(&format!("| rule | {} |\n", names.join(" | ")));
    out.push_str(&format!("|---|{}\n", "---|".repeat(names.len())));
    let rules: BTreeSet<String> = tables
        .iter()
        .flat_map(|t| t.keys().map(|(_, r)| r.clone()))
        .filter(|r| r != "outcome")
        .collect();
    for rule in &rules {
        let mut row = format!("| `{rule}` |");
        for t in &tables {
            let judged: Vec<&Vec<String>> = t
                .iter()
                .filter(|((_, r), _)| r == rule)
                .map(|(_, s)| s)
                .filter(|s| s.iter().any(|x| !x.starts_with("not_applicable")))
                .collect();
            let bad: Vec<&Vec<String>> = judged
                .iter()
                .copied()
                .filter(|s| {
                    s.iter()
                        .any(|x| x.starts_with("fail") || x.starts_with("warn"))
                })
                .collect();
            let mut causes: BTreeSet<String> = BTreeSet::new();
            for s in &bad {
                for x in s.iter() {
                    if let Some((_, c)) = x.split_once(' ') {
                        causes.extend(c.split(',').map(str::to_string));
                    }
                }
            }
            let text = if judged.is_empty() {
                "n/a".to_string()
            } else if bad.is_empty() {
                "pass".to_string()
            } else {
                let word = if bad.iter().all(|s| s.iter().all(|x| !x.starts_with("fail"))) {
                    "warn"
                } else {
                    "fail"
                };
                format!(
                    "{word} {}/{} ({})",
                    bad.len(),
                    judged.len(),
                    causes.into_iter().collect::<Vec<_>>().join(", ")
                )
            };
            row.push_str(&format!(" {text} |"));
        }
        out.push_str(&row);
        out.push('\n');
    }
    out.push_str("\n### Scenario by rule\n\nEvery verdict of every library (`ran` rows are the scenario's outcome; a cell with `/` lists the states a run may show).\n\n");
    out.push_str(&format!("| scenario | rule | {} |\n", names.join(" | ")));
    out.push_str(&format!("|---|---|{}\n", "---|".repeat(names.len())));
    let keys: BTreeSet<(String, String)> = tables.iter().flat_map(|t| t.keys().cloned()).collect();
    for (scenario, rule) in keys {
        let mut row = format!("| {scenario} | {rule} |");
        for t in &tables {
            row.push_str(&format!(
                " {} |",
                cell(t.get(&(scenario.clone(), rule.clone())))
            ));
        }
        out.push_str(&row);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(END);
    out
}

#[test]
fn the_cross_library_table_is_made_from_the_adapters_verdict_tables() {
    let path = root().join("docs/msal-verdicts.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let want = generate();
    let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!(
            "{} has no generated section (markers {BEGIN} ... {END})",
            path.display()
        );
    };
    let current = &doc[b..e + END.len()];
    if current != want {
        if std::env::var_os("TOKENSTORM_BLESS").is_some() {
            let new = format!("{}{}{}", &doc[..b], want, &doc[e + END.len()..]);
            std::fs::write(&path, new).unwrap();
            return;
        }
        panic!(
            "docs/msal-verdicts.md's tables differ from adapters/*/verdicts.txt: rerun with TOKENSTORM_BLESS=1 and review the diff"
        );
    }
    // Every adapter with a verdict table is a column.
    for a in adapters() {
        assert!(want.contains(&format!(" {a} |")), "{a} missing");
    }
}

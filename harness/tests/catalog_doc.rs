//! `docs/rules.md` is the catalog's contract: every rule of the registry has its section with
//! its level, in the summary table and as a heading, and every cause the rule can fail for is
//! explained in that section.
#![allow(clippy::unwrap_used)]

#[test]
fn docs_rules_md_covers_every_rule_and_cause() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/rules.md")).unwrap();
    let mut missing = Vec::new();
    for r in model::rules::CATALOG.iter() {
        let id = r.id.as_str();
        let heading = format!("### `{id}`");
        let Some(start) = doc.find(&heading) else {
            missing.push(format!("no section {heading}"));
            continue;
        };
        let rest = &doc[start + heading.len()..];
        let section = &rest[..rest
            .find("\n### ")
            .or(rest.find("\n## "))
            .unwrap_or(rest.len())];
        let level = r.level.to_string();
        if !section.contains(&level) {
            missing.push(format!("{id}: its section doesn't say {level}"));
        }
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{id}` |")))
            .unwrap_or_default();
        if !row.contains(&format!("| {level} |")) {
            missing.push(format!("{id}: no summary row with level {level}"));
        }
        for c in r.causes {
            if !section.contains(&format!("`{c}`")) {
                missing.push(format!("{id}: cause `{c}` is not explained"));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

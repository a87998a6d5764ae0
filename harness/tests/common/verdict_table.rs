//! A report's verdicts as a table, one row per verdict: what the adapters' `verdicts.txt`
//! files hold and what `virtual_time.rs` compares.

/// `scenario rule status causes`, one line per verdict, sorted: the table checked in as
/// `adapters/NAME/verdicts.txt`.
pub fn verdict_table(report: &serde_json::Value) -> String {
    let mut rows = Vec::new();
    for sc in report["scenarios"].as_array().unwrap() {
        rows.push(format!(
            "{} outcome {} -",
            sc["name"].as_str().unwrap(),
            sc["outcome"]["kind"].as_str().unwrap()
        ));
        for v in sc["rules"].as_array().unwrap() {
            // In a fixed order: a verdict's causes come in the order they were found.
            let mut causes: Vec<&str> = v["causes"]
                .as_array()
                .map(|a| a.iter().filter_map(|c| c.as_str()).collect())
                .unwrap_or_default();
            causes.sort_unstable();
            rows.push(format!(
                "{} {} {} {}",
                sc["name"].as_str().unwrap(),
                v["rule"].as_str().unwrap(),
                v["status"].as_str().unwrap(),
                if causes.is_empty() {
                    "-".to_string()
                } else {
                    causes.join(",")
                }
            ));
        }
    }
    rows.sort();
    rows.join("\n") + "\n"
}

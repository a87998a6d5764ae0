//! Validates scenario files (a stand-in for `tokenstorm scenarios validate` until the CLI
//! lands): `cargo run -p model --example probe -- FILE...`; `--schema` prints the JSON Schema.
fn main() {
    let mut failed = false;
    for f in std::env::args().skip(1) {
        if f == "--schema" {
            println!(
                "{}",
                serde_json::to_string_pretty(&model::scenario::schema()).unwrap_or_default()
            );
            continue;
        }
        match model::scenario::parse_file(std::path::Path::new(&f)) {
            Ok(s) => println!(
                "{f}: ok ({} steps, about {:?})",
                s.steps.len(),
                s.expected_duration()
            ),
            Err(e) => {
                failed = true;
                eprintln!("{e}");
            }
        }
    }
    std::process::exit(i32::from(failed) * 2);
}

//! Hostile scenario files: each is refused with a clear message at file:line:column, quickly
//! and in bounded memory (issue 15). The small ones live in `tests/broken/` with their exact
//! errors; these need a file on disk (size, encoding) or a sweep over every field.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

const BASE: &str = "name: hostile
summary: A scenario made hostile one field at a time.
flow: device_code
features: [whoami]
rules: [throttle.retry-after, client.liveness]
tokens: { TOKENS }
faults:
  - endpoint: token
    calls: \"1\"
    respond: { status: 429, retry_after: 3s, RESPOND }
events:
  - { name: down, do: outage, EVENT }
steps:
  - acquire_token: {}
    repeat: { REPEAT }
    expect: either
    STEP
  - whoami: {}
";

/// The base scenario with its placeholders filled (`""` leaves a place empty).
fn scenario(tokens: &str, respond: &str, event: &str, repeat: &str, step: &str) -> String {
    BASE.replace("TOKENS", tokens)
        .replace("RESPOND", respond)
        .replace(
            "EVENT",
            if event.is_empty() {
                "at: 5s, duration: 2s"
            } else {
                event
            },
        )
        .replace(
            "REPEAT",
            if repeat.is_empty() {
                "count: 3, every: 1s"
            } else {
                repeat
            },
        )
        .replace("    STEP\n", &step_line(step))
}

fn step_line(step: &str) -> String {
    if step.is_empty() {
        String::new()
    } else {
        format!("    {step}\n")
    }
}

fn error_of(text: &str) -> String {
    match tokenstorm_model::scenario::parse(text, "h.yaml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tokenstorm-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn the_base_scenario_is_valid() {
    let text = scenario("", "", "", "", "");
    if let Err(e) = tokenstorm_model::scenario::parse(&text, "h.yaml") {
        panic!("{e}\n{text}");
    }
}

#[test]
fn a_100_mb_file_is_refused_by_its_size_without_being_read() {
    let path = temp("big.yaml");
    let f = std::fs::File::create(&path).unwrap();
    // Sparse: no 100 MB is written, and none must be read.
    f.set_len(100 * 1024 * 1024).unwrap();
    let started = Instant::now();
    let e = tokenstorm_model::scenario::parse_file(&path)
        .unwrap_err()
        .to_string();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        e.ends_with("1:1: the file is 104857600 bytes: files are limited to 1 MiB (1048576 bytes)"),
        "{e}"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn text_over_the_cap_is_refused_too() {
    // The admin API hands text, not a file.
    let text = format!("{}#{}\n", scenario("", "", "", "", ""), "x".repeat(1 << 20));
    let e = error_of(&text);
    assert!(e.contains("files are limited to 1 MiB"), "{e}");
}

#[test]
fn a_file_that_is_not_utf8_names_the_first_bad_byte() {
    let path = temp("latin1.yaml");
    let text = scenario("", "", "", "", "").replace("one field", "one f\u{e9}ld");
    let latin1: Vec<u8> = text
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap())
        .collect();
    std::fs::write(&path, latin1).unwrap();
    let e = tokenstorm_model::scenario::parse_file(&path)
        .unwrap_err()
        .to_string();
    assert!(
        e.ends_with(":2:39: the file is not UTF-8 text: byte 0xE9 at offset 52 is not valid UTF-8"),
        "{e}"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn an_alias_bomb_is_refused_quickly() {
    let mut claims = String::from(
        "extra_access_token_claims: { a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]",
    );
    for i in 1..10 {
        claims.push_str(&format!(
            ", a{i}: &a{i} [{}]",
            vec![format!("*a{}", i - 1); 9].join(", ")
        ));
    }
    claims.push_str(" }");
    let started = Instant::now();
    let e = error_of(&scenario(&claims, "", "", "", ""));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(e.contains("an alias bomb?"), "{e}");
    assert!(e.starts_with("h.yaml:6:"), "{e}");
}

#[test]
fn deep_nesting_is_refused() {
    for deep in [
        format!("body: {}{}", "[".repeat(10_000), "]".repeat(10_000)),
        format!("body: {}1{}", "{a: ".repeat(10_000), "}".repeat(10_000)),
    ] {
        let e = error_of(&scenario("", &deep, "", "", ""));
        assert!(e.contains("nested deeper than 32 levels"), "{e}");
        assert!(e.starts_with("h.yaml:10:"), "{e}");
    }
}

/// Every duration where zero means nothing, written as zero.
#[test]
fn zero_is_refused_where_a_duration_must_be_positive() {
    let tokens = [
        "access_token_lifetime",
        "refresh_in",
        "refresh_token_lifetime",
        "spa_refresh_token_lifetime",
        "cae_lifetime",
        "device_interval",
        "device_code_lifetime",
    ];
    for field in tokens {
        let e = error_of(&scenario(&format!("{field}: 0s"), "", "", "", ""));
        assert!(
            e.starts_with("h.yaml:6:")
                && e.contains(&format!("`{field}` is zero: it must be longer than 0")),
            "{field}: {e}"
        );
    }
    let cases = [
        (
            scenario("", "", "", "for: 0s, every: 1s", ""),
            "`repeat.for` is zero",
        ),
        (
            scenario("", "", "", "count: 2, every: 0ms", ""),
            "`repeat.every` is zero",
        ),
        (
            scenario("", "dribble: { bytes: 1, every: 0s }", "", "", ""),
            "`dribble.every` is zero",
        ),
        (scenario("", "stall: 0s", "", "", ""), "`stall` is zero"),
        (
            scenario("", "", "at: 5s, duration: 0s", "", ""),
            "`duration` is zero",
        ),
    ];
    for (text, says) in cases {
        let e = error_of(&text);
        assert!(e.contains(says), "{says}: {e}");
    }
    // An `until` of 0s (no `after`) never applies.
    let e = error_of(
        &BASE
            .replace("calls: \"1\"", "until: 0s")
            .replace("TOKENS", "")
            .replace("RESPOND", "")
            .replace("EVENT", "at: 1s, duration: 1s")
            .replace("REPEAT", "count: 1, every: 1s")
            .replace("    STEP\n", ""),
    );
    assert!(
        e.contains("`until` is 0s, so the fault never applies"),
        "{e}"
    );
    // Zero is meaningful here: an immediate Retry-After, a start at once, no delay.
    let ok = scenario("", "delay: 0s", "at: 0s, duration: 1s", "", "")
        .replace("retry_after: 3s", "retry_after: 0s");
    if let Err(e) = tokenstorm_model::scenario::parse(&ok, "h.yaml") {
        panic!("{e}");
    }
}

/// Every duration field, over the maximum; every bounded number, past its type.
#[test]
fn huge_durations_and_numbers_name_the_maximum() {
    let durations = [
        scenario("access_token_lifetime: 99999999999h", "", "", "", ""),
        scenario("cae_lifetime: 366d", "", "", "", ""),
        scenario("", "delay: 1e400s", "", "", ""),
        scenario("", "", "", "for: 99999999999h, every: 1s", ""),
        scenario("", "", "", "", "deadline: 400d"),
        scenario("", "", "at: 99999999999h, duration: 1s", "", ""),
    ];
    for text in durations {
        let e = error_of(&text);
        assert!(e.contains("at most 365d"), "{e}");
    }
    let numbers = [
        (
            scenario("groups: 99999999999999", "", "", "", ""),
            "`groups` is 99999999999999: it must be a whole number from 0 to 10000",
        ),
        (
            scenario("", "", "", "count: 99999999999999999999, every: 1s", ""),
            "`repeat.count` is too large: it must be a whole number from 1 to 100000",
        ),
        (
            scenario("", "", "", "count: 0, every: 1s", ""),
            "`repeat.count` is 0: it must be a whole number from 1 to 100000",
        ),
        (
            scenario("", "", "", "count: -3, every: 1s", ""),
            "`repeat.count` is -3: it must be a whole number from 1 to 100000",
        ),
        (
            scenario("", "", "", "count: 2.5, every: 1s", ""),
            "`repeat.count` is 2.5: it must be a whole number from 1 to 100000",
        ),
        (
            scenario("", "", "", "", "concurrency: 4000000000"),
            "`concurrency` is 4000000000: it must be a whole number from 1 to 1000",
        ),
        (
            scenario("", "", "", "", "concurrency: 0"),
            "`concurrency` is 0: it must be a whole number from 1 to 1000",
        ),
        (
            scenario("", "aadsts: 99999999999", "", "", ""),
            "`aadsts` is 99999999999: it must be a whole number from 0 to 4294967295",
        ),
        (
            scenario("", "dribble: { bytes: 0, every: 1s }", "", "", ""),
            "`dribble.bytes` is 0: it must be a whole number from 1 to 1048576",
        ),
        (
            scenario("", "", "", "count: 1e400, every: 1s", ""),
            "`1e400` is not a finite number",
        ),
    ];
    for (text, says) in numbers {
        let e = error_of(&text);
        assert!(e.contains(says), "{says}: {e}");
    }
    let e = error_of(
        &scenario("", "", "", "", "").replace("status: 429", "status: 99999999999999999999"),
    );
    assert!(
        e.contains("`status` is too large: it must be a whole number from 100 to 599"),
        "{e}"
    );
    let e = error_of(
        &scenario("", "", "at: 1s, groups: 10001", "", "").replace("do: outage", "do: set_groups"),
    );
    assert!(e.contains("`groups` is 10001"), "{e}");
    // `for` over `every` is bounded like `count`.
    let e = error_of(&scenario("", "", "", "for: 365d, every: 1ms", ""));
    assert!(e.contains("is over 100000 repeats"), "{e}");
}

#[test]
fn many_problems_are_summed_up_after_the_first_ten() {
    let errors = tokenstorm_model::scenario::ScenarioErrors(
        (1..=25)
            .map(|i| tokenstorm_model::scenario::ScenarioError {
                file: format!("f{i}.yaml"),
                line: 1,
                column: 1,
                message: "bad".into(),
            })
            .collect(),
    );
    let short = errors.to_string();
    assert_eq!(short.lines().count(), 11, "{short}");
    assert!(short.ends_with("... and 15 more problem(s) (25 in all, in 25 file(s)): `tokenstorm scenarios validate` lists every one"), "{short}");
    assert_eq!(format!("{errors:#}").lines().count(), 25);
}

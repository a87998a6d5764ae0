//! The exit codes of `tokenstorm` and `mock-idp`: a public contract (CI reads them; README.md,
//! "Exit codes").

/// Every judged rule passed, or its fail is accepted by the expected-failures file.
pub const PASSED: u8 = 0;
/// A MUST rule failed (a SHOULD rule too with `--strict`), a scenario errored or judged
/// nothing, an expected failure no longer fails, or `--baseline` found a regression.
pub const FAILED: u8 = 1;
/// Nothing was run: bad flags, an unreadable or invalid scenario, `--app` or expected-failures
/// file, an unwritable `--out`, a client command that can't be found, or the mock couldn't start.
pub const USAGE: u8 = 2;
/// SIGINT or SIGTERM ended the run; the partial report was written (`interrupted: true`).
pub const INTERRUPTED: u8 = 130;

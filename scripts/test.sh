#!/usr/bin/env bash
# The test command (README, .ci/run): installs the pinned real clients (MSAL for Python and
# Node, cached under target/real-clients, a no-op once installed), the pinned JUnit consumers
# (target/report-tools) and, if missing, Debian's chromium; then runs every test of the
# workspace: unit, integration (real server over TLS, real MSAL processes), property tests,
# each bench once in test mode, examples' tests, and doc tests. Ends with one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
# These turn snapshot and baseline comparisons into rewrites that pass: the test command never
# honours them (bless by hand: TOKENSTORM_BLESS=1 cargo test ..., INSTA_UPDATE=always ...).
unset INSTA_UPDATE INSTA_FORCE_PASS TOKENSTORM_BLESS
bash scripts/install-real-clients.sh >/dev/null
bash scripts/install-report-tools.sh >/dev/null
bash scripts/install-ci-tools.sh >/dev/null
# The HTML report is checked in headless Chromium (Debian's package; installed once).
if [ -z "${TOKENSTORM_CHROMIUM:-}" ] && ! [ -x /usr/bin/chromium ]; then
    echo "scripts/test.sh: installing Debian's chromium for the HTML report test" >&2
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2 ||
        { $SUDO apt-get update -q >&2 && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2; }
fi
# Every cargo command below selects the whole workspace with its dev-dependencies, so each
# resolves the same features and the dependency tree is compiled once: a command with fewer
# packages (`-p tokenstorm`) or without dev-dependencies (`cargo build --bins`) resolves other
# features for tokio, hyper, syn and the crates above them, and builds them all again. The
# binaries the tests run (tokenstorm, mock-idp, reference-client: each package has integration
# tests, so `--no-run` builds them) come from that one build; the reference client's `zoo`
# feature, which lets the tests break it on purpose, comes from the harness's dev-dependency.
log=$(mktemp)
adapters_log=$(mktemp)
trap 'rm -f "$log" "$adapters_log"' EXIT
# Every test binary is built first; then the adapters' test (each real library over the whole
# built-in library: minutes of mostly idle waiting on scenario clocks) runs beside the rest of
# the suite instead of after it, with a thread per test so its light adapters run side by side
# (tests/adapters.rs keeps the heavy ones, a browser or a JVM per scenario, alone).
ADAPTER_TESTS=(--skip _verdicts_match_its_expectations --skip _with_its_defaults_at_entras_real_names --skip a_plain_msal_script_is_judged_in_observe_mode)
set +e
cargo test --workspace --locked --all-targets --no-run 2>&1 | tail -n 3
built=${PIPESTATUS[0]}
if [ "$built" -ne 0 ]; then
    echo "scripts/test.sh: the tests did not build" >&2
    exit "$built"
fi
cargo test --workspace --locked --test adapters -- --test-threads 16 >"$adapters_log" 2>&1 &
adapters_pid=$!
(
    # Every part runs, whatever an earlier one found. Benches run once in test mode; criterion
    # takes no --skip, so they run on their own.
    st=0
    cargo test --workspace --locked --doc || st=1
    cargo test --workspace --locked --lib --bins --tests --examples --no-fail-fast -- "${ADAPTER_TESTS[@]}" || st=1
    cargo test --workspace --locked --benches --no-fail-fast || st=1
    exit "$st"
) 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
wait "$adapters_pid"
adapters_status=$?
cat "$adapters_log"
cat "$adapters_log" >>"$log"
set -e
if [ "$status" -eq 0 ]; then status=$adapters_status; fi
passed=$(grep -E '^test result:' "$log" | grep -Eo '[0-9]+ passed' | awk '{s += $1} END {print s + 0}')
failed=$(grep -E '^test result:' "$log" | grep -Eo '[0-9]+ failed' | awk '{s += $1} END {print s + 0}')
echo "tests: $passed passed, $failed failed"
if [ "$status" -eq 0 ] && [ "$passed" -eq 0 ]; then
    echo "scripts/test.sh: no test ran" >&2
    exit 1
fi
exit "$status"

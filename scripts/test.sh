#!/usr/bin/env bash
# The test command (README, .ci/run): installs the pinned real clients (MSAL for Python and
# Node, cached under target/real-clients, a no-op once installed), then runs every test of the
# workspace: unit, integration (real server over TLS, real MSAL processes), property tests,
# doc tests, and each bench once in test mode.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-real-clients.sh >/dev/null
cargo test --workspace --locked --all-targets
cargo test --workspace --locked --doc

#!/usr/bin/env bash
# cargo deny over the dependency graph (deny.toml): licences, bans and sources always; RustSec
# advisories when the advisory database (on GitHub) can be fetched, and otherwise a line that
# says the check was skipped. Installs the pinned cargo-deny into target/tools once (a source
# build from crates.io: a few minutes on a clean clone, nothing afterwards).
#
# `scripts/deny.sh --install` only installs (.ci/run starts it early, at low priority).
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=0.20.2
ROOT="$PWD/target/tools"
BIN="$ROOT/bin/cargo-deny"
log() { printf 'scripts/deny.sh: %s\n' "$*" >&2; }

mkdir -p "$ROOT"
exec 9>"$ROOT/.deny.lock"
flock 9
if ! [ -x "$BIN" ] || [ "$("$BIN" --version 2>/dev/null)" != "cargo-deny $VERSION" ]; then
    log "installing cargo-deny $VERSION into $ROOT (once)"
    cargo install --quiet --locked --root "$ROOT" "cargo-deny@$VERSION" >&2
fi
flock -u 9
if [ "${1:-}" = --install ]; then exit 0; fi

"$BIN" --version
"$BIN" check --hide-inclusion-graph licenses bans sources
dbs="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs"
if "$BIN" fetch db >/dev/null 2>&1; then
    "$BIN" --offline check --hide-inclusion-graph advisories
elif [ -n "$(find "$dbs" -mindepth 2 -maxdepth 2 -name crates -type d 2>/dev/null)" ]; then
    log "the RustSec advisory database can't be fetched from here: checking against the copy fetched before (it may lack the latest advisories)"
    "$BIN" --offline check --hide-inclusion-graph advisories
else
    log "the RustSec advisory database (github.com/rustsec/advisory-db) can't be fetched from here: advisories skipped (the daily advisories job of .github/workflows/ci.yml checks them)"
fi

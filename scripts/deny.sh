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
# cargo-deny's fetch can report success without reaching GitHub when a copy exists, so the
# copy's age is what says whether it is current.
"$BIN" fetch db >/dev/null 2>&1 || true
newest=0
for d in "$dbs"/*/; do
    t=$(git -C "$d" log -1 --format=%ct 2>/dev/null || echo 0)
    if [ "$t" -gt "$newest" ]; then newest=$t; fi
done
if [ "$newest" -eq 0 ]; then
    log "the RustSec advisory database (github.com/rustsec/advisory-db) can't be fetched from here and there is no copy: advisories skipped (the daily advisories job of .github/workflows/ci.yml checks them)"
    exit 0
fi
age_days=$(( ($(date +%s) - newest) / 86400 ))
if [ "$age_days" -gt 2 ]; then
    log "the advisory database's newest advisory commit is $age_days days old ($(date -u -d "@$newest" +%Y-%m-%d 2>/dev/null || echo "$newest")): it could not be refreshed from here, so advisories published since are not checked (the daily advisories job of .github/workflows/ci.yml checks them)"
fi
"$BIN" --offline check --hide-inclusion-graph advisories

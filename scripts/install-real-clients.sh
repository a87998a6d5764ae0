#!/usr/bin/env bash
# Install the pinned, unmodified real MSAL libraries that tokenstorm's real-client
# tests run against the mock:
#   - MSAL for Python: a venv at $DIR/python  (adapters/msal-python/requirements.txt)
#   - MSAL for Node:   $DIR/node/node_modules (adapters/msal-node/package.json + package-lock.json)
# where DIR = ${TOKENSTORM_CLIENTS_DIR:-<repo>/target/real-clients}.
#
# Idempotent: a stamp file holds a hash of the pinned inputs; when it matches (and the
# installs are present) the script does nothing. Safe to run concurrently (flock on
# $DIR/.install.lock). Needs network access to PyPI and the npm registry on a cold run.
#
# stdout carries exactly two lines, for scripts to parse:
#   python=$DIR/python/bin/python
#   node_modules=$DIR/node/node_modules
# All progress and pip/npm output go to stderr.
#
# Environment:
#   TOKENSTORM_CLIENTS_DIR   cache dir (default <repo>/target/real-clients)
#   TOKENSTORM_PYTHON        interpreter used to create the venv (default python3; needs >= 3.8)
#   TOKENSTORM_FORCE_INSTALL=1  reinstall even if the stamp matches
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd -- "$SCRIPT_DIR/.." && pwd)
SRC="$SCRIPT_DIR/real-clients"
DIR="${TOKENSTORM_CLIENTS_DIR:-$REPO/target/real-clients}"
PY_BOOT="${TOKENSTORM_PYTHON:-python3}"

# One set of pins: the adapters' (adapters/msal-python, adapters/msal-node).
REQS="$REPO/adapters/msal-python/requirements.txt"
PKG="$REPO/adapters/msal-node/package.json"
LOCK="$REPO/adapters/msal-node/package-lock.json"
STAMP="$DIR/.installed.stamp"

log() { printf 'install-real-clients: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

sha256() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum "$@"
    else shasum -a 256 "$@"; fi
}

# The stamp covers the pinned inputs and this script's own install logic.
# Paths are left out so that moving the repo does not force a reinstall.
want_stamp() {
    local f
    for f in "$REQS" "$PKG" "$LOCK" "${BASH_SOURCE[0]}"; do
        [ -f "$f" ] || die "missing $f"
        sha256 <"$f" | cut -d' ' -f1
    done | sha256 | cut -d' ' -f1
}

installed_ok() {
    [ -f "$STAMP" ] \
        && [ "$(cat "$STAMP")" = "$WANT" ] \
        && [ -x "$DIR/python/bin/python" ] \
        && [ -f "$DIR/node/node_modules/@azure/msal-node/package.json" ]
}

report() {
    printf 'python=%s\n' "$DIR/python/bin/python"
    printf 'node_modules=%s\n' "$DIR/node/node_modules"
}

mkdir -p "$DIR"
DIR=$(cd -- "$DIR" && pwd)   # absolute, so the printed paths are usable from anywhere
STAMP="$DIR/.installed.stamp"
WANT=$(want_stamp)

# Fast path, without the lock: the stamp is removed before any install starts and is
# written (atomically) only after a complete one, so a match means a finished install.
if [ "${TOKENSTORM_FORCE_INSTALL:-0}" != 1 ] && installed_ok; then
    report
    exit 0
fi

# Slow path: one installer at a time.
LOCKFILE="$DIR/.install.lock"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$LOCKFILE"
    if ! flock -n 9; then
        log "another install is running; waiting for $LOCKFILE"
        flock -w 1800 9 || die "timed out waiting for $LOCKFILE"
    fi
else
    # No flock (e.g. macOS): a mkdir lock, removed on exit.
    until mkdir "$LOCKFILE.d" 2>/dev/null; do sleep 1; done
    trap 'rmdir "$LOCKFILE.d" 2>/dev/null || true' EXIT
fi

# Someone else may have finished the install while we waited.
if [ "${TOKENSTORM_FORCE_INSTALL:-0}" != 1 ] && installed_ok; then
    report
    exit 0
fi

rm -f "$STAMP"
start=$(date +%s)

# ---- Python ---------------------------------------------------------------------
command -v "$PY_BOOT" >/dev/null 2>&1 || die "$PY_BOOT not found (set TOKENSTORM_PYTHON)"
log "creating venv $DIR/python with $("$PY_BOOT" --version 2>&1)"
rm -rf "$DIR/python"
"$PY_BOOT" -m venv "$DIR/python" >&2
VPY="$DIR/python/bin/python"
log "pip install -r $REQS"
# --no-deps: requirements.txt is the complete pinned closure; `pip check` proves it.
"$VPY" -m pip install --no-input --disable-pip-version-check --no-deps -r "$REQS" >&2
"$VPY" -m pip check --disable-pip-version-check >&2 || die "pinned Python requirements are inconsistent"
"$VPY" -c 'import msal, sys; assert msal.__version__ == "1.39.0", msal.__version__' \
    || die "msal import check failed"

# ---- Node -----------------------------------------------------------------------
command -v node >/dev/null 2>&1 || die "node not found"
command -v npm >/dev/null 2>&1 || die "npm not found"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "@azure/msal-node 7 needs Node >= 20 (found $(node --version))"
log "npm ci in $DIR/node"
mkdir -p "$DIR/node"
cp "$PKG" "$LOCK" "$DIR/node/"
(cd "$DIR/node" && npm ci --no-audit --no-fund --ignore-scripts >&2)
node -e '
  const v = require(process.argv[1]).version;
  if (v !== "7.2.3") { console.error("msal-node version " + v); process.exit(1); }
' "$DIR/node/node_modules/@azure/msal-node/package.json" || die "msal-node check failed"

# ---- Stamp ----------------------------------------------------------------------
printf '%s\n' "$WANT" >"$STAMP.tmp.$$"
mv -f "$STAMP.tmp.$$" "$STAMP"
log "done in $(( $(date +%s) - start ))s"
report

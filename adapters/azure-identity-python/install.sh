#!/usr/bin/env bash
# Install the azure-identity-python adapter's pinned dependencies (requirements.txt beside this
# script: azure-identity, azure-core, msal and their closure) into DEST/venv, and copy the driver
# to DEST when DEST is not this folder. `tokenstorm run --client azure-identity-python` runs it
# on first use (DEST is its cache folder, where this folder is copied); from the repository it
# installs into <repo>/target/adapters/azure-identity-python and the harness (or you) runs
# `DEST/venv/bin/python DEST/driver.py`.
#
#   install.sh [DEST]      DEST defaults to <repo>/target/adapters/azure-identity-python when
#                          this script is in the repository, else to the folder this script is in
#
# Idempotent (a stamp in DEST holds the hash of the pins and this script; the driver files in
# DEST are refreshed whenever they differ, so a driver edit needs no reinstall and a warm run
# does nothing), safe to run concurrently (flock on DEST/.install.lock), pinned (pip --no-deps
# over the full closure, then pip check). Progress goes to stderr; stdout carries one line:
# python=<venv python>. TOKENSTORM_PYTHON picks the interpreter for the venv (default python3).
set -euo pipefail
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
if [ -f "$HERE/../../Cargo.toml" ]; then DEFAULT="$HERE/../../target/adapters/azure-identity-python"; else DEFAULT="$HERE"; fi
DEST=${1:-$DEFAULT}
mkdir -p "$DEST"
DEST=$(cd -- "$DEST" && pwd)
REQS="$HERE/requirements.txt"
log() { printf 'azure-identity-python adapter: %s\n' "$*" >&2; }
sha256() { if command -v sha256sum >/dev/null 2>&1; then sha256sum; else shasum -a 256; fi; }

FILES=(driver.py requirements.txt install.sh adapter.json README.md expected-failures.yaml expected-failures-managed-identity.yaml)
# The driver (and its papers) go to DEST when run from the repository, whenever they differ,
# each replaced atomically.
if [ "$HERE" != "$DEST" ]; then
    for f in "${FILES[@]}"; do
        [ -f "$HERE/$f" ] || continue
        cmp -s "$HERE/$f" "$DEST/$f" 2>/dev/null || { cp "$HERE/$f" "$DEST/$f.tmp.$$" && mv -f "$DEST/$f.tmp.$$" "$DEST/$f"; }
    done
fi
WANT=$(cat "$REQS" "${BASH_SOURCE[0]}" | sha256 | cut -d' ' -f1)
STAMP="$DEST/.installed.stamp"
ready() { [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$DEST/venv/bin/python" ]; }
done_() { printf 'python=%s\n' "$DEST/venv/bin/python"; exit 0; }
# Fast path, no lock: the stamp is removed before an install starts and written (atomically)
# only after a complete one.
ready && done_
if command -v flock >/dev/null 2>&1; then
    exec 9>"$DEST/.install.lock"
    flock 9
else  # no flock (macOS): a mkdir lock
    until mkdir "$DEST/.install.lock.d" 2>/dev/null; do sleep 1; done
    trap 'rmdir "$DEST/.install.lock.d" 2>/dev/null || true' EXIT
fi
ready && done_  # someone else finished while we waited
rm -f "$STAMP"
log "installing pinned azure-identity into $DEST/venv (once)"
rm -rf "$DEST/venv"
"${TOKENSTORM_PYTHON:-python3}" -m venv "$DEST/venv" >&2
"$DEST/venv/bin/python" -m pip install --quiet --no-input --disable-pip-version-check --no-deps -r "$REQS" >&2
"$DEST/venv/bin/python" -m pip check --disable-pip-version-check >&2
"$DEST/venv/bin/python" - <<'PY'
from importlib.metadata import version
want = {"azure-identity": "1.27.0", "azure-core": "1.41.0", "msal": "1.39.0"}
got = {name: version(name) for name in want}
assert got == want, got
PY
printf '%s\n' "$WANT" >"$STAMP.tmp.$$"
mv -f "$STAMP.tmp.$$" "$STAMP"
log "installed"
done_

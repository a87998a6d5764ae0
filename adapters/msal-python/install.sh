#!/usr/bin/env bash
# Install the msal-python adapter's pinned dependencies (requirements.txt beside this script)
# into DEST/venv. `tokenstorm run --client msal-python` runs it on first use (DEST is its cache
# folder, where this script and the driver are copied); it also works from the repository.
#
#   install.sh [DEST]      DEST defaults to <repo>/target/adapters/msal-python when this script
#                          is in the repository, else to the folder this script is in
#
# Idempotent (a stamp in DEST holds the hash of the pins and this script; a warm run does
# nothing), safe to run concurrently (flock on DEST/.install.lock), pinned (pip --no-deps over
# the full closure, then pip check). Progress goes to stderr; stdout carries one line:
# python=<venv python>. TOKENSTORM_PYTHON picks the interpreter for the venv (default python3).
set -euo pipefail
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
if [ -f "$HERE/../../Cargo.toml" ]; then DEFAULT="$HERE/../../target/adapters/msal-python"; else DEFAULT="$HERE"; fi
DEST=${1:-$DEFAULT}
mkdir -p "$DEST"
DEST=$(cd -- "$DEST" && pwd)
REQS="$HERE/requirements.txt"
log() { printf 'msal-python adapter: %s\n' "$*" >&2; }
sha256() { if command -v sha256sum >/dev/null 2>&1; then sha256sum; else shasum -a 256; fi; }

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
log "installing pinned msal into $DEST/venv (once)"
rm -rf "$DEST/venv"
"${TOKENSTORM_PYTHON:-python3}" -m venv "$DEST/venv" >&2
"$DEST/venv/bin/python" -m pip install --quiet --no-input --disable-pip-version-check --no-deps -r "$REQS" >&2
"$DEST/venv/bin/python" -m pip check --disable-pip-version-check >&2
"$DEST/venv/bin/python" -c 'import msal; assert msal.__version__ == "1.39.0", msal.__version__'
printf '%s\n' "$WANT" >"$STAMP.tmp.$$"
mv -f "$STAMP.tmp.$$" "$STAMP"
log "installed"
done_

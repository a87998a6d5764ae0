#!/usr/bin/env bash
# Install the msal-python adapter's pinned dependencies (requirements.txt beside this script)
# into DEST/venv. `tokenstorm run --client msal-python` runs it on first use (DEST is its cache
# folder, where this script and the driver are copied); it also works from the repository.
#
#   install.sh [DEST]      DEST defaults to <repo>/target/adapters/msal-python
#
# Idempotent (a stamp in DEST holds the hash of the pins and this script; a warm run does
# nothing), safe to run concurrently (flock), pinned (pip --no-deps over the full closure,
# then pip check). Progress goes to stderr; stdout carries one line: python=<venv python>.
set -euo pipefail
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
DEST=${1:-$HERE/../../target/adapters/msal-python}
mkdir -p "$DEST"
DEST=$(cd -- "$DEST" && pwd)
REQS="$HERE/requirements.txt"
log() { printf 'msal-python adapter: %s\n' "$*" >&2; }

WANT=$(cat "$REQS" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)
STAMP="$DEST/.installed.stamp"
ready() { [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$DEST/venv/bin/python" ]; }
if ready; then
    printf 'python=%s\n' "$DEST/venv/bin/python"
    exit 0
fi
exec 9>"$DEST/.install.lock"
flock 9
if ready; then
    printf 'python=%s\n' "$DEST/venv/bin/python"
    exit 0
fi
rm -f "$STAMP"
log "installing pinned msal into $DEST/venv (once)"
rm -rf "$DEST/venv"
"${TOKENSTORM_PYTHON:-python3}" -m venv "$DEST/venv" >&2
"$DEST/venv/bin/python" -m pip install --quiet --no-input --disable-pip-version-check --no-deps -r "$REQS" >&2
"$DEST/venv/bin/python" -m pip check --disable-pip-version-check >&2
"$DEST/venv/bin/python" -c 'import msal; assert msal.__version__ == "1.39.0", msal.__version__'
printf '%s\n' "$WANT" >"$STAMP.tmp.$$"
mv -f "$STAMP.tmp.$$" "$STAMP"
printf 'python=%s\n' "$DEST/venv/bin/python"

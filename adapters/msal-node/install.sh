#!/usr/bin/env bash
# Install the msal-node adapter's pinned dependencies (package.json + package-lock.json beside
# this script) into DEST/node_modules. `tokenstorm run --client msal-node` runs it on first use
# (DEST is its cache folder, where this script and the driver are copied); it also works from
# the repository.
#
#   install.sh [DEST]      DEST defaults to <repo>/target/adapters/msal-node
#
# Idempotent (a stamp in DEST holds the hash of the pins and this script), safe to run
# concurrently (flock), pinned (npm ci from the lock file, no install scripts). Progress goes
# to stderr; stdout carries one line: node_modules=<path>.
set -euo pipefail
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
DEST=${1:-$HERE/../../target/adapters/msal-node}
mkdir -p "$DEST"
DEST=$(cd -- "$DEST" && pwd)
log() { printf 'msal-node adapter: %s\n' "$*" >&2; }
command -v node >/dev/null 2>&1 || { log "node (>= 20) is needed"; exit 1; }

WANT=$(cat "$HERE/package.json" "$HERE/package-lock.json" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)
STAMP="$DEST/.installed.stamp"
ready() { [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -f "$DEST/node_modules/@azure/msal-node/package.json" ]; }
if ready; then
    printf 'node_modules=%s\n' "$DEST/node_modules"
    exit 0
fi
exec 9>"$DEST/.install.lock"
flock 9
if ready; then
    printf 'node_modules=%s\n' "$DEST/node_modules"
    exit 0
fi
rm -f "$STAMP"
log "installing pinned @azure/msal-node into $DEST (once)"
if [ "$HERE" != "$DEST" ]; then
    cp "$HERE/package.json" "$HERE/package-lock.json" "$DEST/"
fi
(cd "$DEST" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2)
node -e 'const v = require(process.argv[1]).version; if (v !== "7.2.3") { console.error("msal-node " + v); process.exit(1); }' \
    "$DEST/node_modules/@azure/msal-node/package.json"
printf '%s\n' "$WANT" >"$STAMP.tmp.$$"
mv -f "$STAMP.tmp.$$" "$STAMP"
printf 'node_modules=%s\n' "$DEST/node_modules"

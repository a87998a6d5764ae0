#!/usr/bin/env bash
# Install the msal-node adapter's pinned dependencies (package.json + package-lock.json beside
# this script) into DEST/node_modules. `tokenstorm run --client msal-node` runs it on first use
# (DEST is its cache folder, where this script and the driver are copied); it also works from
# the repository (driver.mjs then finds DEST/node_modules by itself when DEST is the default).
#
#   install.sh [DEST]      DEST defaults to <repo>/target/adapters/msal-node when this script
#                          is in the repository, else to the folder this script is in
#
# Idempotent (a stamp in DEST holds the hash of the pins and this script; a warm run does
# nothing), safe to run concurrently (flock on DEST/.install.lock), pinned (npm ci from the
# lock file, no install scripts). Progress goes to stderr; stdout carries one line:
# node_modules=<path>.
set -euo pipefail
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
if [ -f "$HERE/../../Cargo.toml" ]; then DEFAULT="$HERE/../../target/adapters/msal-node"; else DEFAULT="$HERE"; fi
DEST=${1:-$DEFAULT}
mkdir -p "$DEST"
DEST=$(cd -- "$DEST" && pwd)
log() { printf 'msal-node adapter: %s\n' "$*" >&2; }
sha256() { if command -v sha256sum >/dev/null 2>&1; then sha256sum; else shasum -a 256; fi; }

WANT=$(cat "$HERE/package.json" "$HERE/package-lock.json" "${BASH_SOURCE[0]}" | sha256 | cut -d' ' -f1)
STAMP="$DEST/.installed.stamp"
ready() { [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -f "$DEST/node_modules/@azure/msal-node/package.json" ]; }
done_() { printf 'node_modules=%s\n' "$DEST/node_modules"; exit 0; }
# Fast path, no lock: the stamp is removed before an install starts and written (atomically)
# only after a complete one.
ready && done_
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { log "node (>= 20) and npm are needed"; exit 1; }
[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] || { log "@azure/msal-node 7 needs node >= 20, found $(node --version)"; exit 1; }
if command -v flock >/dev/null 2>&1; then
    exec 9>"$DEST/.install.lock"
    flock 9
else  # no flock (macOS): a mkdir lock
    until mkdir "$DEST/.install.lock.d" 2>/dev/null; do sleep 1; done
    trap 'rmdir "$DEST/.install.lock.d" 2>/dev/null || true' EXIT
fi
ready && done_  # someone else finished while we waited
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
log "installed"
done_

#!/usr/bin/env bash
# Install the azure-identity-js adapter's pinned dependencies (package.json + package-lock.json
# beside this script: @azure/identity, @azure/core-client, @azure/core-rest-pipeline and their
# closure, msal-node among it) into DEST/node_modules, and copy the driver (and its papers) to
# DEST when DEST is not this folder. `tokenstorm run --client azure-identity-js` runs it on first
# use (DEST is its cache folder, where this folder is copied); from the repository it installs
# into <repo>/target/adapters/azure-identity-js and the harness (or you) runs
# `node DEST/driver.mjs`.
#
#   install.sh [DEST]      DEST defaults to <repo>/target/adapters/azure-identity-js when this
#                          script is in the repository, else to the folder this script is in
#
# Idempotent (a stamp in DEST holds the hash of the pins and this script; the driver files in
# DEST are refreshed whenever they differ, so a driver edit needs no reinstall and a warm run
# does nothing), safe to run concurrently (flock on DEST/.install.lock), pinned (npm ci from the
# lock file, no install scripts). Progress goes to stderr; stdout carries one line:
# node_modules=<path>.
set -euo pipefail
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
if [ -f "$HERE/../../Cargo.toml" ]; then DEFAULT="$HERE/../../target/adapters/azure-identity-js"; else DEFAULT="$HERE"; fi
DEST=${1:-$DEFAULT}
mkdir -p "$DEST"
DEST=$(cd -- "$DEST" && pwd)
log() { printf 'azure-identity-js adapter: %s\n' "$*" >&2; }
sha256() { if command -v sha256sum >/dev/null 2>&1; then sha256sum; else shasum -a 256; fi; }

FILES=(driver.mjs browser.sh package.json package-lock.json install.sh adapter.json README.md expected-failures.yaml expected-failures-managed-identity.yaml)
# The driver (and its papers) go to DEST when run from the repository, whenever they differ,
# each replaced atomically.
if [ "$HERE" != "$DEST" ]; then
    for f in "${FILES[@]}"; do
        [ -f "$HERE/$f" ] || continue
        cmp -s "$HERE/$f" "$DEST/$f" 2>/dev/null || { cp "$HERE/$f" "$DEST/$f.tmp.$$" && mv -f "$DEST/$f.tmp.$$" "$DEST/$f"; }
    done
fi
WANT=$(cat "$HERE/package.json" "$HERE/package-lock.json" "${BASH_SOURCE[0]}" | sha256 | cut -d' ' -f1)
STAMP="$DEST/.installed.stamp"
ready() { [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -f "$DEST/node_modules/@azure/identity/package.json" ]; }
done_() { printf 'node_modules=%s\n' "$DEST/node_modules"; exit 0; }
# Fast path, no lock: the stamp is removed before an install starts and written (atomically)
# only after a complete one.
ready && done_
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { log "node (>= 20) and npm are needed"; exit 1; }
[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] || { log "@azure/identity 4 needs node >= 20, found $(node --version)"; exit 1; }
if command -v flock >/dev/null 2>&1; then
    exec 9>"$DEST/.install.lock"
    flock 9
else  # no flock (macOS): a mkdir lock
    until mkdir "$DEST/.install.lock.d" 2>/dev/null; do sleep 1; done
    trap 'rmdir "$DEST/.install.lock.d" 2>/dev/null || true' EXIT
fi
ready && done_  # someone else finished while we waited
rm -f "$STAMP"
log "installing pinned @azure/identity into $DEST (once)"
(cd "$DEST" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2)
node -e '
const [id, core, msal] = process.argv.slice(1).map((f) => require(f).version);
if (id !== "4.14.1" || core !== "1.25.1" || msal !== "7.2.3") {
  console.error("@azure/identity " + id + ", @azure/core-rest-pipeline " + core + ", @azure/msal-node " + msal);
  process.exit(1);
}' \
    "$DEST/node_modules/@azure/identity/package.json" \
    "$DEST/node_modules/@azure/core-rest-pipeline/package.json" \
    "$DEST/node_modules/@azure/msal-node/package.json"
printf '%s\n' "$WANT" >"$STAMP.tmp.$$"
mv -f "$STAMP.tmp.$$" "$STAMP"
log "installed"
done_

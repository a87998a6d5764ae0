#!/usr/bin/env bash
# Install the msal-browser adapter's pinned dependencies (package.json + package-lock.json beside
# this script: @azure/msal-browser and playwright-core) into DEST/node_modules, and copy the
# driver and its page to DEST when DEST is not this folder. `tokenstorm run --client msal-browser`
# runs it on first use (DEST is its cache folder, where this folder is copied); from the
# repository it installs into <repo>/target/adapters/msal-browser and the harness (or you) runs
# `node DEST/driver.mjs`.
#
#   install.sh [DEST]      DEST defaults to <repo>/target/adapters/msal-browser when this script
#                          is in the repository, else to the folder this script is in
#
# Idempotent (a stamp in DEST holds the hash of the pins and this script; a warm run only
# refreshes the driver and page files in DEST that differ), safe to run concurrently (flock on DEST/.install.lock), pinned
# (npm ci from the lock file, no install scripts: playwright-core downloads no browser, the
# driver uses Debian's Chromium, /usr/bin/chromium or $TOKENSTORM_CHROMIUM). Progress goes to
# stderr; stdout carries one line: node_modules=<path>.
set -euo pipefail
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
if [ -f "$HERE/../../Cargo.toml" ]; then DEFAULT="$HERE/../../target/adapters/msal-browser"; else DEFAULT="$HERE"; fi
DEST=${1:-$DEFAULT}
mkdir -p "$DEST"
DEST=$(cd -- "$DEST" && pwd)
log() { printf 'msal-browser adapter: %s\n' "$*" >&2; }
sha256() { if command -v sha256sum >/dev/null 2>&1; then sha256sum; else shasum -a 256; fi; }

FILES=(package.json package-lock.json install.sh driver.mjs page/index.html page/app.js page/callback.html README.md expected-failures.yaml)
WANT=$(cat "$HERE/package.json" "$HERE/package-lock.json" "${BASH_SOURCE[0]}" | sha256 | cut -d' ' -f1)
# The driver and its page go to DEST (when run from the repository) whenever they differ, each
# replaced atomically, so a driver edit needs no reinstall.
if [ "$HERE" != "$DEST" ]; then
    mkdir -p "$DEST/page"
    for f in "${FILES[@]}"; do
        cmp -s "$HERE/$f" "$DEST/$f" 2>/dev/null || { cp "$HERE/$f" "$DEST/$f.tmp.$$" && mv -f "$DEST/$f.tmp.$$" "$DEST/$f"; }
    done
fi
STAMP="$DEST/.installed.stamp"
ready() {
    [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] \
        && [ -f "$DEST/node_modules/@azure/msal-browser/package.json" ] \
        && [ -f "$DEST/node_modules/playwright-core/package.json" ]
}
done_() { printf 'node_modules=%s\n' "$DEST/node_modules"; exit 0; }
# Fast path, no lock: the stamp is removed before an install starts and written (atomically)
# only after a complete one.
ready && done_
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { log "node (>= 20) and npm are needed"; exit 1; }
[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] || { log "playwright-core needs node >= 20, found $(node --version)"; exit 1; }
CHROMIUM=${TOKENSTORM_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || log "warning: no Chromium at $CHROMIUM (apt-get install chromium, or set TOKENSTORM_CHROMIUM); the driver needs one to run"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$DEST/.install.lock"
    flock 9
else  # no flock (macOS): a mkdir lock
    until mkdir "$DEST/.install.lock.d" 2>/dev/null; do sleep 1; done
    trap 'rmdir "$DEST/.install.lock.d" 2>/dev/null || true' EXIT
fi
ready && done_  # someone else finished while we waited
rm -f "$STAMP"
log "installing pinned @azure/msal-browser and playwright-core into $DEST (once)"
(cd "$DEST" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2)
node -e '
const [b, p] = process.argv.slice(1).map((f) => require(f).version);
if (b !== "5.30.0" || p !== "1.65.1") { console.error("msal-browser " + b + ", playwright-core " + p); process.exit(1); }' \
    "$DEST/node_modules/@azure/msal-browser/package.json" "$DEST/node_modules/playwright-core/package.json"
printf '%s\n' "$WANT" >"$STAMP.tmp.$$"
mv -f "$STAMP.tmp.$$" "$STAMP"
log "installed"
done_

#!/usr/bin/env bash
# Build the msal-go adapter's driver (main.go + go.mod/go.sum beside this script, pinning
# github.com/AzureAD/microsoft-authentication-library-for-go v1.10.1) into DEST/driver.
# `tokenstorm run --client msal-go` runs it on first use (DEST is its cache folder, where this
# script and the sources are copied) and then starts `bash DEST/run.sh`; it also works from the
# repository.
#
#   install.sh [DEST]      DEST defaults to <repo>/target/adapters/msal-go when this script
#                          is in the repository, else to the folder this script is in
#
# Idempotent (a stamp in DEST holds the hash of go.mod, go.sum, the sources, run.sh and this
# script; a warm run does nothing), safe to run concurrently (flock on DEST/.install.lock),
# pinned (go.sum, -mod=readonly: the build fails rather than resolve anything else). Modules
# and build cache live under DEST (DEST/gomodcache, DEST/gocache), fetched through GOPROXY as
# the environment sets it. Progress goes to stderr; stdout carries one line: driver=<path>.
set -euo pipefail
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
if [ -f "$HERE/../../Cargo.toml" ]; then DEFAULT="$HERE/../../target/adapters/msal-go"; else DEFAULT="$HERE"; fi
DEST=${1:-$DEFAULT}
mkdir -p "$DEST"
DEST=$(cd -- "$DEST" && pwd)
log() { printf 'msal-go adapter: %s\n' "$*" >&2; }
sha256() { if command -v sha256sum >/dev/null 2>&1; then sha256sum; else shasum -a 256; fi; }
MIN_GO=1.22 # go.mod's `go` line
MSAL_VERSION=v1.10.1

SOURCES=(go.mod go.sum main.go run.sh)
WANT=$( (cd "$HERE" && cat "${SOURCES[@]}") | cat - "${BASH_SOURCE[0]}" | sha256 | cut -d' ' -f1)
STAMP="$DEST/.installed.stamp"
ready() { [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$DEST/driver" ]; }
done_() { printf 'driver=%s\n' "$DEST/driver"; exit 0; }
# Fast path, no lock: the stamp is removed before an install starts and written (atomically)
# only after a complete one.
ready && done_
command -v go >/dev/null 2>&1 || { log "Go ($MIN_GO or newer) is needed to build the driver: 'go' is not on PATH"; exit 1; }
GOV=$(GOTOOLCHAIN=local go env GOVERSION 2>/dev/null || true)
GOV=${GOV#go}
ver_ge() { # ver_ge A B: A >= B, for dotted versions (go1.26.8 -> 1.26.8; 1.22rc1 -> 1.22)
    local a b i
    IFS=. read -r -a a <<<"${1%%[!0-9.]*}"
    IFS=. read -r -a b <<<"$2"
    for i in 0 1 2; do
        [ "${a[i]:-0}" -gt "${b[i]:-0}" ] && return 0
        [ "${a[i]:-0}" -lt "${b[i]:-0}" ] && return 1
    done
    return 0
}
[ -n "$GOV" ] && ver_ge "$GOV" "$MIN_GO" || { log "msal-go's adapter needs Go >= $MIN_GO, found '${GOV:-an unknown version}' ($(command -v go))"; exit 1; }
if command -v flock >/dev/null 2>&1; then
    exec 9>"$DEST/.install.lock"
    flock 9
else  # no flock (macOS): a mkdir lock
    until mkdir "$DEST/.install.lock.d" 2>/dev/null; do sleep 1; done
    trap 'rmdir "$DEST/.install.lock.d" 2>/dev/null || true' EXIT
fi
ready && done_  # someone else finished while we waited
rm -f "$STAMP"
log "building the driver over msal-go $MSAL_VERSION with go $GOV into $DEST (once)"
if [ "$HERE" != "$DEST" ]; then
    (cd "$HERE" && cp "${SOURCES[@]}" "$DEST/")
fi
# Only this build's settings: modules and build cache under DEST, no toolchain download, no
# workspace, no GOFLAGS from the environment; -modcacherw keeps DEST removable with rm -rf, and
# -buildvcs=false keeps git out of it (DEST may or may not be inside a checkout).
(
    cd "$DEST"
    export GOMODCACHE="$DEST/gomodcache" GOCACHE="$DEST/gocache" GOFLAGS= GOWORK=off \
        GOTOOLCHAIN=local CGO_ENABLED=0
    go build -trimpath -mod=readonly -modcacherw -buildvcs=false -o "$DEST/driver.tmp.$$" . >&2
    got=$(go version -m "$DEST/driver.tmp.$$" | awk '$1 == "dep" && $2 == "github.com/AzureAD/microsoft-authentication-library-for-go" { print $3 }')
    [ "$got" = "$MSAL_VERSION" ] || { log "the driver links msal-go '$got', not $MSAL_VERSION"; rm -f "$DEST/driver.tmp.$$"; exit 1; }
    mv -f "$DEST/driver.tmp.$$" "$DEST/driver"
)
printf '%s\n' "$WANT" >"$STAMP.tmp.$$"
mv -f "$STAMP.tmp.$$" "$STAMP"
log "installed"
done_

#!/usr/bin/env bash
# Install the pinned linters the tests run over the repository's CI files into
# ${TOKENSTORM_CI_TOOLS_DIR:-<repo>/target/ci-tools}: actionlint (GitHub workflows; built from
# the Go module proxy) and hadolint (the Dockerfile; from PyPI).
#
# Idempotent (a stamp holds the hash of the pins and this script; a warm run does nothing) and
# safe to run concurrently (flock). stdout carries exactly two lines: actionlint=PATH and
# hadolint=PATH.
set -euo pipefail
SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd -- "$SCRIPT_DIR/.." && pwd)
REQS="$SCRIPT_DIR/ci-tools/requirements.txt"
ACTIONLINT=github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
DIR="${TOKENSTORM_CI_TOOLS_DIR:-$REPO/target/ci-tools}"
STAMP="$DIR/.installed.stamp"
log() { printf 'install-ci-tools: %s\n' "$*" >&2; }
out() { printf 'actionlint=%s\nhadolint=%s\n' "$DIR/bin/actionlint" "$DIR/venv/bin/hadolint"; }

mkdir -p "$DIR"
WANT=$(cat "$REQS" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)
exec 9>"$DIR/.install.lock"
flock 9
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$DIR/bin/actionlint" ] && [ -x "$DIR/venv/bin/hadolint" ]; then
    out
    exit 0
fi
log "installing actionlint and hadolint into $DIR"
rm -rf "$DIR/venv" "$DIR/bin"
GOBIN="$DIR/bin" GOMODCACHE="$DIR/gomod" GOCACHE="$DIR/gocache" GOFLAGS=-modcacherw \
    go install "$ACTIONLINT" >&2
"${TOKENSTORM_PYTHON:-python3}" -m venv "$DIR/venv" >&2
"$DIR/venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$REQS" >&2
printf '%s\n' "$WANT" >"$STAMP"
out

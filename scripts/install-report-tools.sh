#!/usr/bin/env bash
# Install the pinned Python tools the reports' tests use to read junit.xml as CI tools do
# (junitparser, and xmlschema to check it against docs/junit.xsd) into a venv at
# ${TOKENSTORM_REPORT_TOOLS_DIR:-<repo>/target/report-tools}.
#
# Idempotent (a stamp holds the hash of the pins and this script; a warm run does nothing) and
# safe to run concurrently (flock). stdout carries exactly one line: python=<venv python>.
set -euo pipefail
SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd -- "$SCRIPT_DIR/.." && pwd)
REQS="$SCRIPT_DIR/report-tools/requirements.txt"
DIR="${TOKENSTORM_REPORT_TOOLS_DIR:-$REPO/target/report-tools}"
STAMP="$DIR/.installed.stamp"
log() { printf 'install-report-tools: %s\n' "$*" >&2; }

mkdir -p "$DIR"
WANT=$(cat "$REQS" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)
exec 9>"$DIR/.install.lock"
flock 9
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$DIR/venv/bin/python" ]; then
    printf 'python=%s\n' "$DIR/venv/bin/python"
    exit 0
fi
log "installing pinned junit consumers into $DIR"
rm -rf "$DIR/venv"
"${TOKENSTORM_PYTHON:-python3}" -m venv "$DIR/venv" >&2
"$DIR/venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$REQS" >&2
"$DIR/venv/bin/pip" check >&2
printf '%s\n' "$WANT" >"$STAMP"
printf 'python=%s\n' "$DIR/venv/bin/python"

#!/usr/bin/env bash
# Starts the msal-go driver that install.sh built beside this script (DEST/driver). tokenstorm
# runs installed adapters that have no driver.py or driver.mjs as `bash DEST/run.sh`.
[ -x "$(dirname "$0")/driver" ] || {
    echo "msal-go: no driver beside $0: run install.sh first (adapters/msal-go/install.sh builds target/adapters/msal-go/driver)" >&2
    exit 1
}
exec "$(dirname "$0")/driver"

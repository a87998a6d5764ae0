#!/usr/bin/env bash
# The project's load benchmark: tokenstorm's mock against oauth2-mock-server (pinned in
# bench/package.json), both on loopback, measured in the same run with wrk, plus this machine's
# RSA-2048 signing limit (openssl speed). Prints one Markdown table (docs/performance.md holds
# the latest). Installs what it needs once (wrk from Debian's packages, the npm pin under
# target/bench); nothing listens beyond 127.0.0.1.
#
#   bench/run.sh [SECONDS]      each load runs SECONDS (default 10), wrk -t2 -c32
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
DIR=target/bench
source bench/lib.sh

install_wrk
if ! [ -f "$DIR/node_modules/oauth2-mock-server/package.json" ]; then
    log "installing oauth2-mock-server (bench/package-lock.json)"
    cp bench/package.json bench/package-lock.json "$DIR/"
    (cd "$DIR" && npm ci --ignore-scripts --no-audit --no-fund >&2)
fi
cp bench/oauth2-mock-server.mjs "$DIR/"
build_tokenstorm

# tokenstorm over TLS and over plain HTTP.
start_tokenstorm "$DIR/tls.json"
start_tokenstorm "$DIR/plain.json" --no-tls
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
node "$DIR/oauth2-mock-server.mjs" "$port" >"$DIR/oms.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q ready "$DIR/oms.out" 2>/dev/null && break; sleep 0.1; done
OMS="http://127.0.0.1:$port"

# Requests per second of one load.
rps() { # $1: url, $2: form body for a POST (or empty)
    local out
    if [ -n "$2" ]; then
        out=$(BODY="$2" wrk -t2 -c32 -d"${SECS}s" -s bench/post-form.lua "$1")
    else
        out=$(wrk -t2 -c32 -d"${SECS}s" "$1")
    fi
    if grep -q "Non-2xx" <<<"$out"; then log "non-2xx answers from $1"; fi
    awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out"
}

declare -A ts
for mode in tls plain; do
    r="$DIR/$mode.json"
    auth=$(field "$r" 'r["authority"]')
    base=$(field "$r" 'r["base_url"]')
    tenant=$(field "$r" 'r["tenant"]')
    form=$(cc_form "$r")
    log "tokenstorm ($mode): token, JWKS, discovery"
    ts[$mode,token]=$(rps "$auth/oauth2/v2.0/token" "$form")
    ts[$mode,jwks]=$(rps "$base/$tenant/discovery/v2.0/keys" "")
    ts[$mode,discovery]=$(rps "$auth/v2.0/.well-known/openid-configuration" "")
done
log "oauth2-mock-server: token, JWKS, discovery"
oms_token=$(rps "$OMS/token" "grant_type=client_credentials&scope=api")
oms_jwks=$(rps "$OMS/jwks" "")
oms_discovery=$(rps "$OMS/.well-known/openid-configuration" "")
log "openssl speed rsa2048 (both cores)"
sign=$(openssl speed -multi 2 -seconds 5 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print int($6)}' | tail -1)

ratio() { python3 -c 'import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f"{a/b:.2f}x" if b else "-")' "$1" "$2"; }
echo "| figure (req/s, wrk -t2 -c32 -d${SECS}s) | oauth2-mock-server 9.3.0 (http) | tokenstorm (http) | tokenstorm (TLS) | http ratio |"
echo "|---|---|---|---|---|"
echo "| token, client credentials, RS256 | $oms_token | ${ts[plain,token]} | ${ts[tls,token]} | $(ratio "${ts[plain,token]}" "$oms_token") |"
echo "| JWKS | $oms_jwks | ${ts[plain,jwks]} | ${ts[tls,jwks]} | $(ratio "${ts[plain,jwks]}" "$oms_jwks") |"
echo "| discovery | $oms_discovery | ${ts[plain,discovery]} | ${ts[tls,discovery]} | $(ratio "${ts[plain,discovery]}" "$oms_discovery") |"
echo
echo "RSA-2048 signatures/s on both cores (openssl speed -multi 2): $sign; tokenstorm's token endpoint over TLS at $(python3 -c 'import sys; print(f"{100*float(sys.argv[1])/float(sys.argv[2]):.0f} %")' "${ts[tls,token]}" "$sign") of it."

#!/usr/bin/env bash
# The project's load benchmark: tokenstorm's mock against oauth2-mock-server (pinned in
# bench/package.json), both on loopback, measured in the same run with wrk, plus this machine's
# RSA-2048 signing limit (openssl speed). Prints two Markdown tables (docs/performance.md holds
# the latest). Installs what it needs once (wrk from Debian's packages, the npm pin under
# target/bench); nothing listens beyond 127.0.0.1.
#
#   bench/run.sh [SECONDS] [ROUNDS]
#
# Each load runs SECONDS (default 10), ROUNDS times (default 3), the servers taking turns within
# a round so that a machine whose speed drifts (a shared host) slows both alike; each figure is
# the median of its rounds.
#
# 1. Shared cores: the servers as they run by default, loaded by `wrk -t2 -c32` on the same two
#    cores (the load generator competes with the server it loads).
# 2. One core each (where taskset and two CPUs exist): every server pinned to CPU 0, `wrk -t1
#    -c32` pinned to CPU 1, so the figure is the server's own work per core, not what wrk can
#    ask for. oauth2-mock-server is one Node.js process; tokenstorm gets the same one core.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
ROUNDS=${2:-3}
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

# Starts oauth2-mock-server (under the command prefix in $@, if any); its base URL goes to
# $oms_url.
start_oms() {
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    rm -f "$DIR/oms.out"
    "$@" node "$DIR/oauth2-mock-server.mjs" "$port" >"$DIR/oms.out" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do grep -q ready "$DIR/oms.out" 2>/dev/null && break; sleep 0.1; done
    oms_url="http://127.0.0.1:$port"
}

# Requests per second of one load: rps WRK_PREFIX URL FORM (FORM empty: a GET).
rps() {
    local prefix=$1 url=$2 form=$3 out
    if [ -n "$form" ]; then
        out=$(BODY="$form" $prefix -d"${SECS}s" -s bench/post-form.lua "$url")
    else
        out=$($prefix -d"${SECS}s" "$url")
    fi
    if grep -q "Non-2xx" <<<"$out"; then log "non-2xx answers from $url"; fi
    awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out"
}

median() { python3 -c 'import statistics,sys; print(round(statistics.median(float(x) for x in sys.argv[1:])))' "$@"; }
ratio() { python3 -c 'import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f"{a/b:.2f}x" if b else "-")' "$1" "$2"; }

# The loads of each server: name, URL, form.
declare -A url form
loads() { # $1: a key for the server, $2: its ready file (tokenstorm) or base URL (oauth2-mock-server)
    local k=$1
    if [[ $2 == http:* ]]; then
        url[$k,token]="$2/token"; form[$k,token]="grant_type=client_credentials&scope=api"
        url[$k,jwks]="$2/jwks"; form[$k,jwks]=""
        url[$k,discovery]="$2/.well-known/openid-configuration"; form[$k,discovery]=""
        return
    fi
    local auth base tenant
    auth=$(field "$2" 'r["authority"]')
    base=$(field "$2" 'r["base_url"]')
    tenant=$(field "$2" 'r["tenant"]')
    url[$k,token]="$auth/oauth2/v2.0/token"; form[$k,token]=$(cc_form "$2")
    url[$k,jwks]="$base/$tenant/discovery/v2.0/keys"; form[$k,jwks]=""
    url[$k,discovery]="$auth/v2.0/.well-known/openid-configuration"; form[$k,discovery]=""
}

# ROUNDS rounds of every load on every server in $1 (space-separated keys), with wrk as $2;
# the medians go to fig[KEY,LOAD].
declare -A fig
measure() {
    local servers=$1 prefix=$2 load k
    declare -A seen=()
    for round in $(seq "$ROUNDS"); do
        for load in token jwks discovery; do
            for k in $servers; do
                log "round $round/$ROUNDS: $k $load"
                seen[$k,$load]+=" $(rps "$prefix" "${url[$k,$load]}" "${form[$k,$load]}")"
            done
        done
    done
    for k in $servers; do
        for load in token jwks discovery; do
            # shellcheck disable=SC2086
            fig[$k,$load]=$(median ${seen[$k,$load]})
        done
    done
}

# 1. Shared cores.
start_tokenstorm "$DIR/tls.json"
start_tokenstorm "$DIR/plain.json" --no-tls
loads tls "$DIR/tls.json"
loads plain "$DIR/plain.json"
start_oms
loads oms "$oms_url"
measure "oms plain tls" "wrk -t2 -c32"
cleanup; pids=()

# 2. One core each.
pinned=""
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
    pinned=1
    rm -f "$DIR/p-plain.json"
    taskset -c 0 target/release/tokenstorm serve --ready-file "$DIR/p-plain.json" --no-tls >/dev/null 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do [ -s "$DIR/p-plain.json" ] && break; sleep 0.1; done
    loads pplain "$DIR/p-plain.json"
    start_oms taskset -c 0
loads poms "$oms_url"
    measure "poms pplain" "taskset -c 1 wrk -t1 -c32"
    cleanup; pids=()
else
    log "no taskset or fewer than two CPUs: the one-core table is skipped"
fi

log "openssl speed rsa2048"
sign2=$(openssl speed -multi 2 -seconds 5 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print int($6)}' | tail -1)
sign1=$(openssl speed -seconds 5 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print int($6)}' | tail -1)
label() { case $1 in token) echo "token, client credentials, RS256" ;; jwks) echo JWKS ;; *) echo "$1" ;; esac; }
pct() { python3 -c 'import sys; print(f"{100*float(sys.argv[1])/float(sys.argv[2]):.0f} %")' "$1" "$2"; }

echo "Shared cores (req/s, \`wrk -t2 -c32 -d${SECS}s\`, median of $ROUNDS rounds):"
echo
echo "| load | oauth2-mock-server 9.3.0 (http) | tokenstorm (http) | tokenstorm (TLS) | http ratio |"
echo "|---|---|---|---|---|"
for load in token jwks discovery; do
    echo "| $(label "$load") | ${fig[oms,$load]} | ${fig[plain,$load]} | ${fig[tls,$load]} | $(ratio "${fig[plain,$load]}" "${fig[oms,$load]}") |"
done
echo
if [ -n "$pinned" ]; then
    echo "One core each (req/s; each server pinned to CPU 0, \`wrk -t1 -c32 -d${SECS}s\` pinned to CPU 1, median of $ROUNDS rounds):"
    echo
    echo "| load | oauth2-mock-server 9.3.0 (http) | tokenstorm (http) | ratio |"
    echo "|---|---|---|---|"
    for load in token jwks discovery; do
        echo "| $(label "$load") | ${fig[poms,$load]} | ${fig[pplain,$load]} | $(ratio "${fig[pplain,$load]}" "${fig[poms,$load]}") |"
    done
    echo
fi
echo "RSA-2048 signatures/s (openssl speed): $sign2 on both cores, $sign1 on one."
echo "Shared cores: tokenstorm's token endpoint over TLS at $(pct "${fig[tls,token]}" "$sign2") of the two-core limit; oauth2-mock-server at $(pct "${fig[oms,token]}" "$sign2") of it, so no server that signs each token can be more than $(ratio "$sign2" "${fig[oms,token]}") as fast here."
if [ -n "$pinned" ]; then
    echo "One core each: tokenstorm's token endpoint at $(pct "${fig[pplain,token]}" "$sign1") of the one-core limit, oauth2-mock-server at $(pct "${fig[poms,token]}" "$sign1")."
fi

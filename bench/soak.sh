#!/usr/bin/env bash
# Memory under load: the mock's resident memory (RSS) while wrk holds CONNECTIONS keep-alive
# TLS connections open on the JWKS, then during SOAK seconds of mixed load (client-credentials
# tokens, discovery, JWKS and Graph, over 50 tenants, with the throttling and server errors of
# bench/soak-faults.yaml). RSS is sampled every 10 s; growth is measured from the end of the
# warm-up (the first fifth of the soak, at least 60 s) to the end. Prints a Markdown table
# (docs/performance.md holds the latest) and keeps the samples in target/bench/soak-rss.tsv.
# Loopback only; bounded in time (SOAK + about 60 s) and in connections.
#
#   bench/soak.sh [SOAK_SECONDS] [CONNECTIONS]      defaults: 1800 and 10000
set -euo pipefail
cd "$(dirname "$0")/.."
SOAK=${1:-1800}
CONNS=${2:-10000}
DIR=target/bench
source bench/lib.sh

install_wrk
build_tokenstorm
# wrk and the mock (two processes) each need a descriptor per connection, and a few more.
ulimit -n $((CONNS + 1024)) || { log "cannot raise the open-files limit to $((CONNS + 1024)) (hard limit: $(ulimit -Hn))"; exit 1; }

ready="$DIR/soak.json"
state="$DIR/soak-state"
rm -rf "$state"
start_tokenstorm "$ready" --state-dir "$state" --scenario bench/soak-faults.yaml
pid=${pids[-1]}
base=$(field "$ready" 'r["base_url"]')
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$pid/status"; }
mb() { python3 -c 'import sys; print(f"{int(sys.argv[1])/1024:.0f}")' "$1"; }
idle=$(rss_kb)

ca=$(field "$ready" 'r["ca_cert"]')

# 1. Connections. First CONNS idle keep-alive TLS connections, each after one request
#    (bench/hold.py); then wrk keeps CONNS connections busy on the JWKS for 30 s. RSS is read
#    while they are open.
log "holding $CONNS idle connections"
python3 bench/hold.py "$base" "$ca" /soak-0/discovery/v2.0/keys "$CONNS" 120 >"$DIR/soak-hold.out" &
hold_pid=$!
for _ in $(seq 120); do grep -q holding "$DIR/soak-hold.out" 2>/dev/null && break; sleep 1; done
idle_held=$(rss_kb)
idle_open=$(sed -n 's/^holding \([0-9]*\).*/\1/p' "$DIR/soak-hold.out")
kill "$hold_pid" 2>/dev/null || true
wait "$hold_pid" 2>/dev/null || true
sleep 5
log "keeping $CONNS connections busy for 30 s"
wrk -t2 -c"$CONNS" -d30s --timeout 20s "$base/soak-0/discovery/v2.0/keys" >"$DIR/soak-conns.out" 2>&1 &
wrk_pid=$!
sleep 25
open=$(ss -Htn state established "( sport = :${base##*:} )" | wc -l)
held=$(rss_kb)
wait "$wrk_pid" || true
conn_rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$DIR/soak-conns.out")
conn_errors=$(grep -E "Socket errors" "$DIR/soak-conns.out" | sed 's/^ *//' || true)
peak=$(hwm_kb)
sleep 5
after_conns=$(rss_kb)

# 2. The soak, on a fresh mock (the connections' peak stays in its heap): 64 connections of
#    mixed load, RSS every 10 s.
kill "$pid"
rm -rf "$state"
start_tokenstorm "$ready" --state-dir "$state" --scenario bench/soak-faults.yaml
pid=${pids[-1]}
base=$(field "$ready" 'r["base_url"]')
ca=$(field "$ready" 'r["ca_cert"]')
soak_idle=$(rss_kb)
form=$(cc_form "$ready")
token=$(curl -s --cacert "$ca" -d "$form" "$base/soak-graph/oauth2/v2.0/token" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
# The tenant's user, whom an app token may read.
oid=$(field "$ready" 'r["user"]["oid"]')
log "mixed load for $SOAK s (GET /graph/v1.0/users/$oid among the requests)"
samples="$DIR/soak-rss.tsv"
printf 'seconds\trss_kb\n' >"$samples"
FORM="$form" GRAPH_TOKEN="$token" GRAPH_PATH="/graph/v1.0/users/$oid" TENANTS=50 \
    wrk -t2 -c64 -d"${SOAK}s" --timeout 20s -s bench/mixed.lua "$base" >"$DIR/soak-mixed.out" 2>&1 &
wrk_pid=$!
start=$SECONDS
while kill -0 "$wrk_pid" 2>/dev/null; do
    printf '%s\t%s\n' $((SECONDS - start)) "$(rss_kb)" >>"$samples"
    sleep 10
done
wait "$wrk_pid" || true
mixed_rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$DIR/soak-mixed.out")
mixed_total=$(awk '/requests in/ {print $1}' "$DIR/soak-mixed.out")
non2xx=$(awk '/Non-2xx/ {print $NF}' "$DIR/soak-mixed.out")
journal_mb=$(du -sm "$state/journal" | cut -f1)
mixed_errors=$(grep -E "Socket errors" "$DIR/soak-mixed.out" | sed 's/^ *//' || true)
# From the journal: every answer not 2xx that no fault scripted (an unscripted 5xx is a bug).
log "reading the journal for unscripted errors"
journaled=$(cat "$state"/journal/*.jsonl | wc -l)
scripted=$(cat "$state"/journal/*.jsonl | grep -c '"fault":' || true)
unscripted_5xx=$(cat "$state"/journal/*.jsonl | grep '"status":5' | grep -vc '"fault":' || true)
unscripted_other=$(cat "$state"/journal/*.jsonl | grep -v '"status":2' | grep -v '"status":5' | grep -vc '"fault":' || true)
warm=$((SOAK / 5 < 60 ? 60 : SOAK / 5))
read -r at_warm at_end growth < <(python3 - "$samples" "$warm" <<'PY'
import sys
rows = [tuple(map(int, l.split("\t"))) for l in open(sys.argv[1]).read().split("\n")[1:] if l]
warm = int(sys.argv[2])
after = [r for s, r in rows if s >= warm]
w, e = after[0], rows[-1][1]
print(w, e, f"{100 * (e - w) / w:+.1f}")
PY
)

echo "| figure | value | target |"
echo "|---|---|---|"
echo "| idle RSS | $(mb "$idle") MB | |"
echo "| $CONNS idle keep-alive TLS connections held, each after one request (bench/hold.py: ${idle_open:-0} open) | $(mb "$idle_held") MB RSS | ≤ 150 MB |"
echo "| $CONNS busy keep-alive TLS connections (wrk -t2 -c$CONNS on the JWKS, $open established at the sample) | $(mb "$held") MB RSS, $(mb "$peak") MB peak | |"
echo "| their throughput | $conn_rps req/s ${conn_errors:+($conn_errors)} | |"
echo "| RSS 5 s after they closed | $(mb "$after_conns") MB | |"
echo "| mixed load, $SOAK s (wrk -t2 -c64): requests, answers not 2xx (faults) | $mixed_total at $mixed_rps req/s, ${non2xx:-0} not 2xx | |"
echo "| RSS of a fresh mock before → at the end of the warm-up (${warm} s) → at the end | $(mb "$soak_idle") MB → $(mb "$at_warm") MB → $(mb "$at_end") MB ($growth %) | ≤ +5 % after the warm-up |"
echo "| mixed load: connection errors, timeouts (wrk) | ${mixed_errors:-none} | none |"
echo "| journal: entries, answered by a fault, unscripted 5xx, other unscripted non-2xx | $journaled, $scripted, $unscripted_5xx, $unscripted_other | 0 unscripted 5xx |"
echo "| journal on disk | $journal_mb MB | |"

# Shared by the load scripts in bench/ (sourced, not run): wrk from Debian's packages, a
# release tokenstorm serving on loopback, and reading its ready file. Everything they start is
# stopped on exit.
BENCH_DIR=target/bench
mkdir -p "$BENCH_DIR"
log() { printf 'bench: %s\n' "$*" >&2; }

install_wrk() {
    command -v wrk >/dev/null 2>&1 && return 0
    log "installing wrk (Debian's package)"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >&2 ||
        { $sudo apt-get update -q >&2 && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >&2; }
}

build_tokenstorm() {
    log "building tokenstorm (release)"
    cargo build --release --locked --bin tokenstorm >&2
}

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# Starts `tokenstorm serve` writing its ready file to $1 (extra flags after it); its pid is
# the last of $pids.
start_tokenstorm() {
    local ready=$1; shift
    rm -f "$ready"
    target/release/tokenstorm serve --ready-file "$ready" "$@" >/dev/null 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do [ -s "$ready" ] && return 0; sleep 0.1; done
    log "tokenstorm did not start"; exit 1
}

# A field of a JSON file: field FILE 'r["base_url"]'.
field() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"r": r}))' "$1" "$2"; }

# The client-credentials form for the confidential client of ready file $1.
cc_form() {
    local id secret
    id=$(field "$1" 'r["clients"]["confidential"]["client_id"]')
    secret=$(field "$1" 'r["clients"]["confidential"]["client_secret"]')
    printf 'grant_type=client_credentials&client_id=%s&client_secret=%s&scope=https%%3A%%2F%%2Fgraph.microsoft.com%%2F.default' \
        "$id" "$(python3 -c 'import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1], safe=""))' "$secret")"
}

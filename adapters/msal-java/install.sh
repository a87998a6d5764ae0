#!/usr/bin/env bash
# Build the msal-java adapter (pom.xml + src/ beside this script: the driver over the pinned
# com.microsoft.azure:msal4j) into DEST/lib: the driver jar and its runtime dependencies, so that
# DEST/run.sh starts it with a plain `java -cp 'lib/*'`. `tokenstorm run --client msal-java` runs
# it on first use (DEST is its cache folder, where this script, the sources and run.sh are
# copied); it also works from the repository.
#
#   install.sh [DEST]      DEST defaults to <repo>/target/adapters/msal-java when this script
#                          is in the repository, else to the folder this script is in
#
# Idempotent (a stamp in DEST holds the hash of the pins, the sources, run.sh, this script and
# the java it was built for; a warm run does nothing), safe to run concurrently (flock on
# DEST/.install.lock), pinned (every dependency and build plugin version is fixed in pom.xml).
# Maven Central is needed once: downloads are cached in DEST/m2 (-Dmaven.repo.local), never in
# ~/.m2. Then a short training run of the driver records a class-data-sharing archive
# (DEST/app.jsa) that run.sh uses to start faster. Progress goes to stderr; stdout carries one
# line: run=<DEST/run.sh>.
set -euo pipefail
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
SELF="$HERE/$(basename -- "${BASH_SOURCE[0]}")"
if [ -f "$HERE/../../Cargo.toml" ]; then DEFAULT="$HERE/../../target/adapters/msal-java"; else DEFAULT="$HERE"; fi
DEST=${1:-$DEFAULT}
mkdir -p "$DEST"
DEST=$(cd -- "$DEST" && pwd)
MSAL4J=1.26.1
log() { printf 'msal-java adapter: %s\n' "$*" >&2; }
sha256() { if command -v sha256sum >/dev/null 2>&1; then sha256sum; else shasum -a 256; fi; }

JAVA=$(command -v java || true)
# What the build depends on: the pins (pom.xml), the sources, run.sh, this script, and which
# java runs it (a new JVM needs a new class-data-sharing archive).
WANT=$(
    cd "$HERE"
    {
        cat pom.xml run.sh "$SELF"
        find src -type f | LC_ALL=C sort | while IFS= read -r f; do printf '%s\n' "$f"; cat "$f"; done
        if [ -n "$JAVA" ]; then readlink -f "$JAVA"; fi
    } | sha256 | cut -d' ' -f1
)
STAMP="$DEST/.installed.stamp"
ready() {
    [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -f "$DEST/run.sh" ] \
        && [ -f "$DEST/lib/msal-java-driver.jar" ]
}
done_() { printf 'run=%s\n' "$DEST/run.sh"; exit 0; }
# Fast path, no lock: the stamp is removed before an install starts and written (atomically)
# only after a complete one.
ready && done_
[ -n "$JAVA" ] || { log "java (>= 17) is needed: install a JDK 17 or newer (Debian: apt-get install openjdk-17-jdk-headless)"; exit 1; }
command -v javac >/dev/null 2>&1 || { log "javac is needed to build the driver: install a JDK 17 or newer, not only a JRE"; exit 1; }
command -v mvn >/dev/null 2>&1 || { log "mvn (Apache Maven 3.6 or newer) is needed to build the driver (Debian: apt-get install maven)"; exit 1; }
JAVA_MAJOR=$(java -version 2>&1 | sed -n 's/.* version "\([0-9]*\).*/\1/p' | head -n1)
[ "${JAVA_MAJOR:-0}" -ge 17 ] || { log "msal-java needs java >= 17, found: $(java -version 2>&1 | head -n1)"; exit 1; }
if command -v flock >/dev/null 2>&1; then
    exec 9>"$DEST/.install.lock"
    flock 9
else  # no flock (macOS): a mkdir lock
    until mkdir "$DEST/.install.lock.d" 2>/dev/null; do sleep 1; done
    UNLOCK="$DEST/.install.lock.d"
fi
ready && done_  # someone else finished while we waited
rm -f "$STAMP"
WORK=
SPID=
cleanup() {
    [ -z "$SPID" ] || { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; } || true
    [ -z "$WORK" ] || rm -rf "$WORK"
    [ -z "${UNLOCK:-}" ] || rmdir "$UNLOCK" 2>/dev/null || true
}
trap cleanup EXIT
log "building the driver over pinned msal4j $MSAL4J into $DEST (once; Maven Central the first time)"
if [ "$HERE" != "$DEST" ]; then
    rm -rf "$DEST/src"
    cp -R "$HERE/src" "$DEST/src"
    cp "$HERE/pom.xml" "$HERE/run.sh" "$DEST/"
fi
rm -rf "$DEST/lib" "$DEST/app.jsa"
# (Debian's Maven 3.8 prints colour codes even in batch mode: filtered out.)
(cd "$DEST" && mvn -B -q --no-transfer-progress -Dstyle.color=never \
    -Dmaven.repo.local="$DEST/m2" package 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2)
rm -rf "$DEST/target"  # lib/ has what run.sh needs
JAR="$DEST/lib/msal-java-driver.jar"
[ -f "$JAR" ] || { log "the build did not produce $JAR"; exit 1; }

# Class-data sharing: run the driver a few times (client credentials, auth code, device code)
# through hello, a token request, a sign-in the "user" cancels, and shutdown, with the JVM
# listing the classes it loads; then dump those classes into DEST/app.jsa, which run.sh maps
# instead of parsing and verifying them again in each of the ~60 drivers a run starts at once.
# The client-credentials run talks TLS to a throwaway `openssl s_server` on loopback (so the
# handshake's few hundred classes are archived too; it answers no token, and nothing is kept);
# without openssl, and for the other runs, the token request goes to a closed port and fails at
# once. Optional: without the archive run.sh just starts slower. The first run also checks that
# the jar says hello with the pinned msal4j.
log "recording the class-data-sharing archive"
WORK=$(mktemp -d)
JVM_FLAGS=(-XX:TieredStopAtLevel=1 -XX:CICompilerCount=1 -XX:+UseSerialGC -Xss512k)
TLS_AUTHORITY=https://127.0.0.1:9/training
SPID=
if command -v openssl >/dev/null 2>&1 && (
    cd "$WORK"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=training-ca -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign -keyout ca.key -out ca.pem \
    && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 \
        -keyout leaf.key -out leaf.csr \
    && printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >leaf.ext \
    && openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile leaf.ext -out leaf.pem
) >/dev/null 2>&1; then
    (cd "$WORK" && exec openssl s_server -accept 127.0.0.1:0 -naccept 8 -cert leaf.pem -key leaf.key \
        -www >s_server.out 2>&1) &
    SPID=$!
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        PORT=$(sed -n 's/^ACCEPT .*:\([0-9][0-9]*\)$/\1/p' "$WORK/s_server.out" 2>/dev/null | head -n1)
        [ -z "$PORT" ] || { TLS_AUTHORITY="https://127.0.0.1:$PORT/training"; break; }
        sleep 0.5
    done
else
    keytool -genkeypair -alias training -keyalg EC -dname CN=training -validity 2 \
        -keystore "$WORK/ca.p12" -storepass training -storetype PKCS12 >/dev/null 2>&1 \
        && keytool -exportcert -rfc -alias training -keystore "$WORK/ca.p12" -storepass training \
            >"$WORK/ca.pem" 2>/dev/null || : >"$WORK/ca.pem"
fi
train() {  # train FLOW AUTHORITY: one scripted driver run, its class list in $WORK/FLOW.lst
    mkdir -p "$WORK/state-$1"
    {
        printf '%s\n' '{"type":"command","id":1,"op":"acquire_token","scopes":["https://graph.microsoft.com/.default"]}'
        sleep 3
        printf '%s\n' '{"type":"browsed","id":1,"error":"the user closed the window"}'
        sleep 1
        printf '%s\n' '{"type":"command","id":2,"op":"shutdown"}'
    } | (cd "$WORK" && TOKENSTORM_AUTHORITY="$2" TOKENSTORM_CLIENT_ID=training \
        TOKENSTORM_CLIENT_SECRET=training TOKENSTORM_FLOW="$1" TOKENSTORM_STATE_DIR="$WORK/state-$1" \
        TOKENSTORM_REDIRECT_URI=http://localhost:9/callback TOKENSTORM_CA_BUNDLE="$WORK/ca.pem" \
        java "${JVM_FLAGS[@]}" -XX:DumpLoadedClassList="$WORK/$1.lst" -XX:ErrorFile="$WORK/hs_err_%p.log" \
            -cp "$JAR" tokenstorm.Driver 2>/dev/null)
}
train client_credentials "$TLS_AUTHORITY" >"$WORK/client_credentials.out" || true
[ -z "$SPID" ] || { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; SPID=; } || true
HELLO=$(head -n1 "$WORK/client_credentials.out")
case "$HELLO" in
    *'"client":"msal-java","version":"'"$MSAL4J"'"'*) ;;
    *) log "the driver did not say hello with msal4j $MSAL4J: $HELLO"; exit 1 ;;
esac
train auth_code https://127.0.0.1:9/training >/dev/null || true
train device_code https://127.0.0.1:9/training >/dev/null || true
cat "$WORK"/*.lst 2>/dev/null | awk '!seen[$0]++' >"$WORK/classes.lst"
if ! (cd "$WORK" && java -Xshare:dump -XX:SharedClassListFile="$WORK/classes.lst" \
        -XX:SharedArchiveFile="$DEST/app.jsa" -XX:+UseSerialGC -XX:ErrorFile="$WORK/hs_err_%p.log" \
        -cp "$JAR" >"$WORK/dump.log" 2>&1); then
    log "no class-data-sharing archive (the dump failed: $(tail -n1 "$WORK/dump.log")); run.sh starts without one"
    rm -f "$DEST/app.jsa"
fi
chmod +x "$DEST/run.sh" 2>/dev/null || true
printf '%s\n' "$WANT" >"$STAMP.tmp.$$"
mv -f "$STAMP.tmp.$$" "$STAMP"
log "installed"
done_

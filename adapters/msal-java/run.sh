#!/usr/bin/env bash
# Start the msal-java driver installed in this folder (install.sh built lib/msal-java-driver.jar
# and app.jsa here). The harness runs it as `bash DEST/run.sh`, one process per scenario, often
# ~60 at once on a 2-core machine, so the JVM is tuned for a short, light start (the driver does
# little work and a lot of waiting): C1 only, one compiler thread, the serial collector, small
# thread stacks, and the class-data-sharing archive install.sh recorded from training runs
# (classes mapped ready-made instead of parsed and verified). A missing archive is skipped; one
# that no longer matches the JVM or the jar is ignored by the JVM (it then just starts slower).
HERE=$(cd -- "$(dirname -- "$0")" && pwd)
CDS=()
if [ -f "$HERE/app.jsa" ]; then
    CDS=(-XX:SharedArchiveFile="$HERE/app.jsa" -Xlog:cds=off -Xlog:cds+dynamic=off)
fi
exec java -XX:TieredStopAtLevel=1 -XX:CICompilerCount=1 -XX:+UseSerialGC -Xss512k \
    "${CDS[@]}" -cp "$HERE/lib/msal-java-driver.jar" tokenstorm.Driver "$@"

#!/usr/bin/env bash
# An app of several runtimes, none told about tokenstorm: each reaches Entra by its real name
# (curl, Python's standard library, a JVM) or the managed-identity endpoint (Node, which reads
# no proxy variable), trusting only what the environment says. Prints "<runtime> <status>".
set -u
T=72f988bf-86f1-41af-91ab-2d7cd011db47
export U="https://login.microsoftonline.com/$T/v2.0/.well-known/openid-configuration"
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
curl -sS -o /dev/null -w "curl %{http_code}\n" "$U" || echo "curl failed"
python3 -c 'import os, urllib.request; print("python", urllib.request.urlopen(os.environ["U"]).status)' || echo "python failed"
java "$HERE/Fetch.java" 2>/dev/null || echo "java failed"
node -e '
const https = require("https");
const u = process.env.IDENTITY_ENDPOINT + "?api-version=2019-08-01&resource=https%3A%2F%2Fgraph.microsoft.com";
https.get(u, { headers: { "X-IDENTITY-HEADER": process.env.IDENTITY_HEADER } }, (r) => {
  console.log("node", r.statusCode); r.resume();
}).on("error", (e) => console.log("node failed", e.code));
'

"""An app for observe-mode tests: no driver protocol, just the environment.

Modes (argv[1]):
  naive   asks for a client-credentials token every second, ignoring Retry-After and its cache
  polite  keeps its token until it expires and honours Retry-After (seconds) on 429/5xx
  crash   asks once, then exits 3 with a traceback-like line on stderr
Each mode makes about `argv[2]` attempts (default 6) one second apart, printing short status
lines (never a token).
"""
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

mode = sys.argv[1]
attempts = int(sys.argv[2]) if len(sys.argv) > 2 else 6
ctx = ssl.create_default_context(cafile=os.environ["TOKENSTORM_CA_BUNDLE"])
url = os.environ["TOKENSTORM_AUTHORITY"] + "/oauth2/v2.0/token"
body = urllib.parse.urlencode({
    "grant_type": "client_credentials",
    "client_id": os.environ["TOKENSTORM_CLIENT_ID"],
    "client_secret": os.environ.get("TOKENSTORM_CLIENT_SECRET", ""),
    "scope": os.environ["TOKENSTORM_SCOPES"],
}).encode()


def token_request():
    req = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status, json.load(r), {}
    except urllib.error.HTTPError as e:
        return e.code, None, dict(e.headers)


token_expires = 0.0
not_before = 0.0
for i in range(attempts):
    now = time.monotonic()
    if mode == "polite" and (now < token_expires or now < not_before):
        print(f"attempt {i}: served from cache or waiting", flush=True)
    else:
        status, doc, headers = token_request()
        print(f"attempt {i}: {status}", flush=True)
        if mode == "crash":
            print("Traceback: boom while handling the token response", file=sys.stderr, flush=True)
            sys.exit(3)
        if status == 200:
            token_expires = time.monotonic() + int(doc["expires_in"]) - 300
        elif "Retry-After" in headers or "retry-after" in headers:
            ra = headers.get("Retry-After") or headers.get("retry-after")
            not_before = time.monotonic() + float(ra)
    time.sleep(1)

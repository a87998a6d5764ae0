#!/usr/bin/env python3
"""A scripted client speaking the driver protocol (version 1), standard library only.

Modes (argv[1]):
  good     client credentials with an in-memory cache (renews in the last 300 s), call_api
  crash    says hello, then exits 3 at the first command, with a message on stderr
  hang     says hello, then never answers
  garbage  prints a non-JSON line on stdout, then behaves as `good`
  nohello  never says hello
  exitmid  answers the first command, then exits 0 unasked
  spawner  starts a grandchild that sleeps, then hangs (to prove the process group is killed)
  leak     gets a token, writes it to $LEAK_FILE (for the test to look for) and to stderr in
           every shape a careless app prints one, then crashes
"""
import json, os, ssl, subprocess, sys, time, urllib.request, urllib.parse, urllib.error

MODE = sys.argv[1] if len(sys.argv) > 1 else "good"
CTX = ssl.create_default_context(cafile=os.environ.get("TOKENSTORM_CA_BUNDLE"))


def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def token_request():
    body = urllib.parse.urlencode({
        "grant_type": "client_credentials",
        "client_id": os.environ["TOKENSTORM_CLIENT_ID"],
        "client_secret": os.environ["TOKENSTORM_CLIENT_SECRET"],
        "scope": os.environ.get("TOKENSTORM_SCOPES", "https://graph.microsoft.com/.default"),
    }).encode()
    url = os.environ["TOKENSTORM_AUTHORITY"] + "/oauth2/v2.0/token"
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, context=CTX, timeout=10) as r:
        return json.loads(r.read())


# The cache persists in the state directory, in plain text with default permissions: a
# deliberately unprotected cache (what cache.protected catches).
CACHE_FILE = os.path.join(os.environ.get("TOKENSTORM_STATE_DIR", "."), "cache.json")
cache = {}
if os.path.exists(CACHE_FILE):
    with open(CACHE_FILE) as f:
        cache = json.load(f)


def acquire():
    now = time.time()
    if cache and now < cache["expires_at"] - 300:
        return cache["access_token"]
    t = token_request()
    cache.update(access_token=t["access_token"], expires_at=now + int(t["expires_in"]))
    with open(CACHE_FILE, "w") as f:
        json.dump(cache, f)
    os.chmod(CACHE_FILE, 0o644)
    return t["access_token"]


if MODE == "nohello":
    time.sleep(60)
    sys.exit(0)
if MODE == "garbage":
    print("this is not a protocol line", flush=True)
send({"type": "hello", "protocol": 1, "client": "scripted-" + MODE, "version": "0.1",
      "flows": ["client_credentials"], "features": ["call_api", "persist"]})
if MODE == "spawner":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    print("grandchild=%d" % child.pid, file=sys.stderr, flush=True)

answered = 0
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("type") != "command":
        continue
    cid, op = msg["id"], msg["op"]
    print("command %s %s" % (cid, op), file=sys.stderr, flush=True)
    if MODE == "crash":
        print("Traceback: simulated crash in acquire_token", file=sys.stderr, flush=True)
        sys.exit(3)
    if MODE == "leak":
        t = token_request()
        at = t["access_token"]
        with open(os.environ["LEAK_FILE"], "w") as f:
            f.write(at)
        for shape in ['{"access_token":"%s","token_type":"Bearer"}' % at,
                      "token=%s" % at,
                      "https://app.example/cb#access_token=%s&state=1" % at,
                      "Authorization: Bearer %s" % at,
                      "{'access_token': '%s'}" % at,
                      "raw %s" % at]:
            print(shape, file=sys.stderr, flush=True)
        print("Traceback: crashed after logging the token", file=sys.stderr, flush=True)
        sys.exit(3)
    if MODE in ("hang", "spawner"):
        continue
    if op == "shutdown":
        send({"type": "result", "id": cid, "ok": True})
        sys.exit(0)
    try:
        if op == "acquire_token":
            send({"type": "result", "id": cid, "ok": True, "access_token": acquire()})
        elif op == "call_api":
            req = urllib.request.Request(msg["url"], method=msg.get("method", "GET"),
                                         headers={"Authorization": "Bearer " + acquire()})
            try:
                with urllib.request.urlopen(req, context=CTX, timeout=10) as r:
                    send({"type": "result", "id": cid, "ok": True, "status": r.status, "body": json.loads(r.read())})
            except urllib.error.HTTPError as e:
                send({"type": "result", "id": cid, "ok": False, "status": e.code, "error": "http"})
        else:
            send({"type": "result", "id": cid, "ok": False, "error": "unsupported", "description": op})
    except Exception as e:  # a failed attempt is an answer, not a crash
        send({"type": "result", "id": cid, "ok": False, "error": type(e).__name__, "description": str(e)})
    answered += 1
    if MODE == "exitmid" and answered == 1:
        sys.exit(0)

"""A driver written from docs/driver-protocol.md alone (harness/tests/protocol_doc.rs): a
client-credentials app with an in-memory token cache that honours Retry-After and backs off
from 5 s after a 5xx, speaking only the documented messages and reading only the documented
environment. Nothing here comes from the harness's or the reference client's code."""
import json, os, ssl, sys, threading, time, urllib.error, urllib.parse, urllib.request

AUTHORITY = os.environ["TOKENSTORM_AUTHORITY"]
CLIENT_ID = os.environ["TOKENSTORM_CLIENT_ID"]
SECRET = os.environ.get("TOKENSTORM_CLIENT_SECRET", "")
CTX = ssl.create_default_context(cafile=os.environ["TOKENSTORM_CA_BUNDLE"])
out_lock = threading.Lock()
state_lock = threading.Lock()
cache = {}  # scopes -> (token, renew_at)
not_before = [0.0]  # no token request before this time (Retry-After, back-off)
backoff = [0.0]
api_not_before = [0.0]  # no API call before this time (Retry-After, back-off)
api_backoff = [0.0]


def send(msg):
    with out_lock:
        sys.stdout.write(json.dumps(msg) + "\n")
        sys.stdout.flush()


def wait_s(headers, status):
    ra = headers.get("Retry-After") if headers else None
    if ra and ra.strip().isdigit():
        return float(ra)
    if status >= 500 or status == 429:
        backoff[0] = min(max(5.0, backoff[0] * 2), 60.0)
        return backoff[0]
    return 0.0


def token(scopes):
    key = " ".join(scopes)
    with state_lock:
        hit = cache.get(key)
        if hit and time.time() < hit[1]:
            return hit[0], None
        if time.time() < not_before[0]:
            return None, "waiting before asking again"
        body = urllib.parse.urlencode({
            "grant_type": "client_credentials", "client_id": CLIENT_ID,
            "client_secret": SECRET, "scope": key,
        }).encode()
        req = urllib.request.Request(AUTHORITY + "/oauth2/v2.0/token", data=body)
        try:
            with urllib.request.urlopen(req, context=CTX, timeout=10) as r:
                t = json.load(r)
        except urllib.error.HTTPError as e:
            not_before[0] = time.time() + wait_s(e.headers, e.code)
            return None, f"HTTP {e.code}"
        except Exception as e:  # a cut connection, a timeout, a body that is not JSON
            not_before[0] = time.time() + wait_s(None, 500)
            return None, str(e)
        if "access_token" not in t:
            not_before[0] = time.time() + wait_s(None, 500)
            return None, "no access_token in the answer"
        backoff[0] = 0.0
        life = float(t.get("expires_in", 3600))
        renew = float(t.get("refresh_in", life - 300 if life > 600 else life / 2))
        cache[key] = (t["access_token"], time.time() + renew)
        return t["access_token"], None


def handle(cmd):
    op, cid = cmd.get("op"), cmd.get("id")
    scopes = cmd.get("scopes") or os.environ.get("TOKENSTORM_SCOPES", "").split()
    if op == "acquire_token":
        tok, err = token(scopes)
        if tok:
            send({"type": "result", "id": cid, "ok": True, "access_token": tok})
        else:
            send({"type": "result", "id": cid, "ok": False, "error": "unavailable", "description": err})
    elif op == "call_api":
        tok, err = token(["https://graph.microsoft.com/.default"])
        if not tok:
            send({"type": "result", "id": cid, "ok": False, "error": "unavailable", "description": err})
            return
        if time.time() < api_not_before[0]:
            send({"type": "result", "id": cid, "ok": False, "error": "throttled", "description": "waiting for Retry-After"})
            return
        req = urllib.request.Request(cmd["url"], method=cmd.get("method", "GET"),
                                     headers={"Authorization": "Bearer " + tok})
        try:
            with urllib.request.urlopen(req, context=CTX, timeout=10) as r:
                api_backoff[0] = 0.0
                send({"type": "result", "id": cid, "ok": True, "status": r.status, "body": json.load(r)})
        except urllib.error.HTTPError as e:
            if e.code == 429 or e.code >= 500:
                ra = e.headers.get("Retry-After", "")
                if ra.strip().isdigit():
                    wait = float(ra)
                else:
                    api_backoff[0] = min(max(5.0, api_backoff[0] * 2), 60.0)
                    wait = api_backoff[0]
                api_not_before[0] = time.time() + wait
            send({"type": "result", "id": cid, "ok": False, "status": e.code})
        except Exception as e:
            send({"type": "result", "id": cid, "ok": False, "error": str(e)})
    elif op == "shutdown":
        send({"type": "result", "id": cid, "ok": True})
        sys.exit(0)
    else:
        send({"type": "result", "id": cid, "ok": False, "error": "unsupported op " + str(op)})


send({"type": "hello", "protocol": 1, "client": "from-the-doc", "version": "1",
      "flows": ["client_credentials"], "features": ["call_api"]})
for line in sys.stdin:
    if not line.strip():
        continue
    msg = json.loads(line)
    if msg.get("type") != "command":
        continue
    if msg.get("op") == "shutdown":
        handle(msg)
    threading.Thread(target=handle, args=(msg,), daemon=True).start()

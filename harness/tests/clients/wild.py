#!/usr/bin/env python3
"""A client written apart from the reference client, to test the verdicts themselves: each mode
is a way real clients get things right or wrong. Driver protocol version 1, standard library
only; client credentials and auth code (PKCE, through the harness's browser).

Modes (argv[1]):
  msal-buffer    conformant, the MSAL way: a token counts as expired 300 s before it does (so
                 short-lived tokens are renewed at every need), Retry-After honoured, 5 s
                 exponential back-off (to 60 s) after 5xx, malformed answers and timeouts,
                 10 s request timeout, refresh token before any sign-in
  refuses        answers every command with an error and never sends a request
  breaker        conformant until its first failed request; then every command fails the same
                 way, for ever (a circuit breaker that never closes)
  single-slot    one cache slot whatever the scopes: a token for one API handed out for another
  tokenless      a 200 without a readable access token is answered as a success, with no token
  no-timeout     no request timeout: a stalled request hangs the command
  slow-shutdown  conformant, but takes 40 s to exit after shutdown
  crash-at-exit  conformant, but aborts (SIGABRT, after a fatal-error line on stderr) once it
                 has answered shutdown, as a runtime that crashes in its teardown does
  spa            conformant single-page app, the MSAL.js way: redeems codes and refresh tokens
                 cross-origin (an Origin header), treats the refresh token as spent 300 s
                 before refresh_token_expires_in says, then signs in with prompt=none in a
                 hidden iframe, and falls back to one interactive sign-in on login_required
  spa-interactive  as spa, but goes interactive as soon as the refresh token is spent
  spa-gives-up   as spa, but fails the command when the iframe's prompt=none is refused
Tokens never reach stderr.
"""
import base64, hashlib, http.client, json, os, secrets, ssl, sys, threading, time
import urllib.error, urllib.parse, urllib.request

MODE = sys.argv[1] if len(sys.argv) > 1 else "msal-buffer"
CTX = ssl.create_default_context(cafile=os.environ.get("TOKENSTORM_CA_BUNDLE"))
AUTHORITY = os.environ["TOKENSTORM_AUTHORITY"]
FLOW = os.environ.get("TOKENSTORM_FLOW", "client_credentials")
TIMEOUT = None if MODE == "no-timeout" else 10
SPA = MODE.startswith("spa")
ORIGIN = "http://localhost:8765"  # the page's origin; its redirect URI is ORIGIN + /callback
BUFFER = 300
out_lock = threading.Lock()


def send(obj):
    with out_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


class Refused(Exception):
    pass


class Gate:
    """When the token endpoint may be asked again."""

    def __init__(self):
        self.not_before = 0.0
        self.failures = 0

    def check(self):
        if time.monotonic() < self.not_before:
            raise Refused("backing_off")

    def failed(self, retry_after=None):
        self.failures += 1
        wait = retry_after if retry_after is not None else min(5 * 2 ** (self.failures - 1), 60)
        self.not_before = time.monotonic() + wait

    def ok(self):
        self.failures = 0


gate = Gate()
broken = None  # breaker mode: the first failure, for ever
cache = {}  # scope key -> (token, expires_at)
refresh_token = None
rt_expires_at = float("inf")  # spa: when the refresh token runs out (refresh_token_expires_in)
lock = threading.Lock()


def key(scopes):
    if MODE == "single-slot":
        return "the-one-slot"
    return " ".join(sorted(s for s in scopes if s not in ("openid", "profile", "offline_access")))


def post(form):
    body = urllib.parse.urlencode(form).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if SPA:
        headers["Origin"] = ORIGIN
    req = urllib.request.Request(AUTHORITY + "/oauth2/v2.0/token", data=body, headers=headers)
    try:
        with urllib.request.urlopen(req, context=CTX, timeout=TIMEOUT) as r:
            raw = r.read()
    except urllib.error.HTTPError as e:
        ra = e.headers.get("Retry-After")
        if e.code == 429 or e.code >= 500:
            gate.failed(float(ra) if ra and ra.isdigit() else None)
            raise Refused(f"http_{e.code}")
        try:
            err = json.loads(e.read()).get("error", f"http_{e.code}")
        except ValueError:
            err = f"http_{e.code}"
        raise Refused(err)
    except (urllib.error.URLError, OSError, TimeoutError, http.client.HTTPException) as e:
        gate.failed()
        raise Refused(type(e).__name__)
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or "access_token" not in doc:
        if MODE == "tokenless":
            return {}
        gate.failed()
        raise Refused("malformed_answer")
    gate.ok()
    return doc


def browse(cmd_id, scopes, silent=False):
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect = ORIGIN + "/callback" if SPA else os.environ["TOKENSTORM_REDIRECT_URI"]
    params = {
        "client_id": os.environ["TOKENSTORM_CLIENT_ID"], "response_type": "code",
        "redirect_uri": redirect, "scope": " ".join(scopes + ["openid", "offline_access"]),
        "state": secrets.token_urlsafe(8), "code_challenge": challenge,
        "code_challenge_method": "S256"}
    if silent:
        params["prompt"] = "none"
    q = urllib.parse.urlencode(params)
    message = {"type": "browse", "id": cmd_id, "url": f"{AUTHORITY}/oauth2/v2.0/authorize?{q}"}
    if SPA:
        message["frame"] = "iframe" if silent else "top"
    answer = ask(cmd_id, message)
    if "error" in answer:
        raise Refused("user_cancelled")
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(answer["url"]).query))
    if "code" not in params:
        raise Refused(params.get("error", "no_code"))
    return post({"grant_type": "authorization_code", "client_id": os.environ["TOKENSTORM_CLIENT_ID"],
                 "code": params["code"], "redirect_uri": redirect, "code_verifier": verifier,
                 "scope": " ".join(scopes + ["openid", "offline_access"])})


waiting = {}


def ask(cmd_id, message):
    ev = threading.Event()
    waiting[cmd_id] = (ev, [])
    send(message)
    ev.wait()
    return waiting.pop(cmd_id)[1][0]


def acquire(cmd_id, scopes):
    global broken, refresh_token, rt_expires_at
    if MODE == "refuses":
        raise Refused("refused")
    if broken:
        raise Refused(broken)
    with lock:
        k = key(scopes)
        hit = cache.get(k)
        if hit and time.time() < hit[1] - BUFFER:
            return hit[0]
        try:
            gate.check()
            if FLOW == "client_credentials":
                doc = post({"grant_type": "client_credentials",
                            "client_id": os.environ["TOKENSTORM_CLIENT_ID"],
                            "client_secret": os.environ.get("TOKENSTORM_CLIENT_SECRET", ""),
                            "scope": " ".join(scopes)})
            else:
                doc = None
                if refresh_token and SPA and time.time() >= rt_expires_at - BUFFER:
                    refresh_token = None  # spent, as MSAL.js counts it
                if refresh_token:
                    try:
                        doc = post({"grant_type": "refresh_token", "refresh_token": refresh_token,
                                    "client_id": os.environ["TOKENSTORM_CLIENT_ID"],
                                    "scope": " ".join(scopes + ["openid", "offline_access"])})
                    except Refused as e:
                        if str(e) not in ("invalid_grant", "interaction_required"):
                            raise
                        refresh_token = None
                if doc is None and SPA and MODE != "spa-interactive" and cache:
                    # Signed in before: try the SSO session silently first.
                    try:
                        doc = browse(cmd_id, scopes, silent=True)
                    except Refused as e:
                        if MODE == "spa-gives-up" or str(e) not in (
                                "login_required", "interaction_required", "consent_required"):
                            raise
                if doc is None:
                    doc = browse(cmd_id, scopes)
        except Refused as e:
            if MODE == "breaker":
                broken = str(e)
            # A valid token outlives a failed renewal.
            if hit and time.time() < hit[1]:
                return hit[0]
            raise
        if not doc:
            return None  # tokenless: a "success" with nothing in it
        refresh_token = doc.get("refresh_token", refresh_token)
        if "refresh_token_expires_in" in doc:
            rt_expires_at = time.time() + int(doc["refresh_token_expires_in"])
        cache[k] = (doc["access_token"], time.time() + int(doc.get("expires_in", 0)))
        return doc["access_token"]


def handle(cmd):
    cid = cmd["id"]
    try:
        token = acquire(cid, cmd.get("scopes") or os.environ["TOKENSTORM_SCOPES"].split())
        answer = {"type": "result", "id": cid, "ok": True}
        if token is not None:
            answer["access_token"] = token
        send(answer)
    except Refused as e:
        send({"type": "result", "id": cid, "ok": False, "error": str(e)})


send({"type": "hello", "protocol": 1, "client": f"wild-{MODE}", "version": "1",
      "flows": ["client_credentials", "auth_code"], "features": ["spa"] if SPA else []})
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("type") == "browsed":
        slot = waiting.get(msg["id"])
        if slot:
            slot[1].append(msg)
            slot[0].set()
        continue
    if msg.get("op") == "shutdown":
        send({"type": "result", "id": msg["id"], "ok": True})
        if MODE == "slow-shutdown":
            time.sleep(40)
        if MODE == "crash-at-exit":
            print("FATAL ERROR: simulated crash in teardown", file=sys.stderr, flush=True)
            os.abort()
        sys.exit(0)
    if msg.get("op") == "acquire_token":
        threading.Thread(target=handle, args=(msg,), daemon=True).start()
    else:
        send({"type": "result", "id": msg["id"], "ok": False, "error": "unsupported"})

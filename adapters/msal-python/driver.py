"""tokenstorm driver (protocol v1) over unmodified MSAL for Python (msal 1.39.0).

It does what a typical app does with MSAL, and nothing MSAL lacks, so the verdicts are MSAL's:

- one app object per process (ConfidentialClientApplication for client credentials and
  on-behalf-of, PublicClientApplication for auth code and device code), with
  client_capabilities=["cp1"] and a SerializableTokenCache persisted to a file in
  TOKENSTORM_STATE_DIR after every change (the pattern of MSAL's docs; plain JSON, as
  SerializableTokenCache writes it);
- acquire_token: acquire_token_for_client / acquire_token_on_behalf_of (they consult MSAL's
  cache), or for users acquire_token_silent on the cached account, then the interactive flow
  (initiate_auth_code_flow + the harness's browser, or the device-code flow);
- call_api: `requests` with the bearer token; on a 401 with a CAE insufficient_claims
  challenge, the claims are passed back to MSAL (claims_challenge=) and the call is retried
  once, as Microsoft's CAE guidance for MSAL apps shows;
- whoami: from id_token_claims; on a groups overage, Graph getMemberObjects once per sign-in.

Every request has a 10 s timeout (MSAL's `timeout=`; requests for the API): MSAL's default
is none, and an app without one hangs on a stalled server, which a driver can't survive.
Tokens never reach stdout except in acquire_token answers, nor stderr at all.
"""

import base64
import json
import logging
import os
import re
import sys
import threading
import traceback
from urllib.parse import parse_qs, urlsplit

import msal
import requests

TIMEOUT = 10
AUTHORITY = os.environ["TOKENSTORM_AUTHORITY"]
CLIENT_ID = os.environ["TOKENSTORM_CLIENT_ID"]
SECRET = os.environ.get("TOKENSTORM_CLIENT_SECRET")
REDIRECT_URI = os.environ.get("TOKENSTORM_REDIRECT_URI", "http://localhost/callback")
SCOPES = os.environ.get("TOKENSTORM_SCOPES", "https://graph.microsoft.com/.default").split()
FLOW = os.environ.get("TOKENSTORM_FLOW", "client_credentials")
GRAPH = os.environ.get("TOKENSTORM_GRAPH_URL", "https://graph.microsoft.com/v1.0")
STATE_DIR = os.environ.get("TOKENSTORM_STATE_DIR", ".")
CACHE_FILE = os.path.join(STATE_DIR, "msal_token_cache.json")

out_lock = threading.Lock()
cache_lock = threading.Lock()
waiting = {}  # command id -> (event, [answer])
waiting_lock = threading.Lock()


def send(obj):
    with out_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def log(msg):
    print(f"msal-python: {msg}", file=sys.stderr, flush=True)


class NoTokens(logging.Filter):
    """MSAL logs a token response it can't parse in full ("Token response is not in json
    format", msal/oauth2cli/oauth2.py), tokens included: keep 8 characters of anything
    token-like, and the exception's name without its traceback."""

    TOKENISH = re.compile(r"[A-Za-z0-9_-]{8}[A-Za-z0-9_.-]{12,}")

    def filter(self, record):
        msg = self.TOKENISH.sub(lambda m: m.group(0)[:8] + "...", record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            msg += f" ({type(record.exc_info[1]).__name__})"
        record.msg, record.args, record.exc_info, record.exc_text = msg, None, None, None
        return True


_handler = logging.StreamHandler()
_handler.addFilter(NoTokens())
_handler.setFormatter(logging.Formatter("msal-python: %(name)s %(levelname)s: %(message)s"))
logging.basicConfig(level=logging.WARNING, handlers=[_handler])


# ---- the app, as a typical MSAL app sets it up ---------------------------------------------

cache = msal.SerializableTokenCache()
if os.path.exists(CACHE_FILE):
    with open(CACHE_FILE) as f:
        cache.deserialize(f.read())


def persist():
    with cache_lock:
        if cache.has_state_changed:
            with open(CACHE_FILE, "w") as f:
                f.write(cache.serialize())


# At Entra's real host (`tokenstorm run --impersonate`) MSAL runs with its defaults, instance
# discovery included; elsewhere (the mock's own 127.0.0.1 address) instance discovery must be
# off, or msal/authority.py asks login.microsoftonline.com to validate the authority.
ENTRA_HOST = urlsplit(AUTHORITY).hostname in (
    "login.microsoftonline.com", "login.microsoft.com", "login.windows.net", "sts.windows.net")
common = dict(
    authority=AUTHORITY,
    client_capabilities=["cp1"],
    token_cache=cache,
    timeout=TIMEOUT,
)
if not ENTRA_HOST:
    common["instance_discovery"] = False
_app = None
_app_lock = threading.Lock()


def get_app():
    # MSAL's constructor fetches OpenID discovery (msal/authority.py), so it can fail while the
    # IdP is down: like a service that keeps running, make the app on first need and try again
    # at the next one if it failed.
    global _app
    with _app_lock:
        if _app is None:
            if FLOW in ("client_credentials", "obo"):
                _app = msal.ConfidentialClientApplication(CLIENT_ID, client_credential=SECRET, **common)
            else:
                _app = msal.PublicClientApplication(CLIENT_ID, **common)
        return _app

last_claims = {}  # the ID token claims of the last sign-in (whoami)
overage_groups = {}  # sign-in (ID token iat+oid) -> groups from Graph


def remember(result):
    if result and result.get("id_token_claims"):
        last_claims.clear()
        last_claims.update(result["id_token_claims"])


class Failed(Exception):
    def __init__(self, error, description=""):
        super().__init__(f"{error}: {description}")
        self.error, self.description = error, description


def token_of(result, what):
    if result and "access_token" in result:
        remember(result)
        return result["access_token"]
    result = result or {}
    raise Failed(result.get("error", "no_token"), f"{what}: {result.get('error_description', '')}")


# ---- interaction through the harness -------------------------------------------------------

def ask(cmd_id, message):
    ev = threading.Event()
    slot = []
    with waiting_lock:
        waiting[cmd_id] = (ev, slot)
    send(message)
    ev.wait()
    return slot[0]


def interactive(cmd_id, scopes, claims=None):
    if FLOW == "device_code":
        flow = get_app().initiate_device_flow(scopes=scopes, claims_challenge=claims)
        if "user_code" not in flow:
            raise Failed(flow.get("error", "device_code_failed"), flow.get("error_description", ""))
        send({"type": "device_code", "id": cmd_id, "user_code": flow["user_code"],
              "verification_uri": flow["verification_uri"]})
        return token_of(get_app().acquire_token_by_device_flow(flow, claims_challenge=claims),
                        "acquire_token_by_device_flow")
    flow = get_app().initiate_auth_code_flow(scopes, redirect_uri=REDIRECT_URI, claims_challenge=claims)
    answer = ask(cmd_id, {"type": "browse", "id": cmd_id, "url": flow["auth_uri"]})
    if "error" in answer:
        raise Failed("user_cancelled", answer["error"])
    params = {k: v[0] for k, v in parse_qs(urlsplit(answer["url"]).query).items()}
    if "error" in params:
        raise Failed(params["error"], params.get("error_description", ""))
    return token_of(get_app().acquire_token_by_auth_code_flow(flow, params), "acquire_token_by_auth_code_flow")


def acquire(cmd_id, scopes, assertion=None, claims=None):
    try:
        if FLOW == "client_credentials":
            return token_of(get_app().acquire_token_for_client(scopes, claims_challenge=claims),
                            "acquire_token_for_client")
        if FLOW == "obo":
            return token_of(get_app().acquire_token_on_behalf_of(assertion, scopes, claims_challenge=claims),
                            "acquire_token_on_behalf_of")
        accounts = get_app().get_accounts()
        if accounts:
            result = get_app().acquire_token_silent_with_error(scopes, accounts[0], claims_challenge=claims)
            if result and "access_token" in result:
                return token_of(result, "acquire_token_silent")
            if result and result.get("error") not in (None, "invalid_grant", "interaction_required",
                                                       "login_required", "consent_required"):
                # A transient failure (5xx, throttled): MSAL says so; the app does not prompt.
                raise Failed(result.get("error"), result.get("error_description", ""))
            if result and result.get("claims"):
                # A refusal that names claims (a Conditional Access step-up): the sign-in carries
                # them, as Microsoft's guidance does with the exception's Claims.
                claims = result["claims"]
        return interactive(cmd_id, scopes, claims)
    finally:
        persist()


# ---- the operations -------------------------------------------------------------------------

def challenge_claims(www_authenticate):
    if "insufficient_claims" not in (www_authenticate or ""):
        return None
    for part in www_authenticate.split(","):
        k, _, v = part.strip().partition("=")
        if k.strip().lower() == "claims":
            raw = v.strip().strip('"')
            return base64.b64decode(raw + "=" * (-len(raw) % 4)).decode()
    return None


def call_api(cmd_id, method, url, assertion=None):
    token = acquire(cmd_id, SCOPES, assertion)
    r = requests.request(method, url, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
    claims = challenge_claims(r.headers.get("WWW-Authenticate")) if r.status_code == 401 else None
    if claims:
        token = acquire(cmd_id, SCOPES, assertion, claims=claims)
        r = requests.request(method, url, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
    try:
        body = r.json()
    except ValueError:
        body = r.text[:2000]
    return {"ok": 200 <= r.status_code < 300, "status": r.status_code, "body": body}


def whoami(cmd_id):
    acquire(cmd_id, SCOPES)
    c = dict(last_claims)
    if not c:
        accounts = get_app().get_accounts()
        c = {"preferred_username": accounts[0].get("username")} if accounts else {}
    groups = list(c.get("groups", []))
    overage = "groups" in (c.get("_claim_names") or {}) or c.get("hasgroups")
    if overage:
        key = (c.get("oid"), c.get("iat"))
        if key not in overage_groups:
            token = acquire(cmd_id, SCOPES)
            r = requests.post(f"{GRAPH}/me/getMemberObjects", json={"securityEnabledOnly": False},
                              headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
            r.raise_for_status()
            overage_groups[key] = list(r.json().get("value", []))
        groups = overage_groups[key]
    return {"ok": True, "name": c.get("name", ""), "username": c.get("preferred_username", ""),
            "oid": c.get("oid", ""), "roles": c.get("roles", []), "groups": groups}


def handle(msg):
    cmd_id, op = msg.get("id"), msg.get("op")
    try:
        if op == "acquire_token":
            token = acquire(cmd_id, msg.get("scopes") or SCOPES, msg.get("assertion"))
            answer = {"ok": True, "access_token": token}
        elif op == "call_api":
            answer = call_api(cmd_id, msg.get("method", "GET"), msg["url"], msg.get("assertion"))
        elif op == "whoami":
            answer = whoami(cmd_id)
        elif op == "shutdown":
            persist()
            send({"type": "result", "id": cmd_id, "ok": True})
            os._exit(0)
        else:
            answer = {"ok": False, "error": "unsupported", "description": op}
    except Failed as e:
        answer = {"ok": False, "error": e.error, "description": e.description[:500]}
    except Exception as e:  # the library raised (timeouts, resets, malformed answers)
        log(f"{op} raised {type(e).__name__}: {str(e)[:300]}")
        answer = {"ok": False, "error": type(e).__name__, "description": str(e)[:500]}
    send({"type": "result", "id": cmd_id, **answer})


def main():
    send({"type": "hello", "protocol": 1, "client": "msal-python", "version": msal.__version__,
          "flows": ["client_credentials", "auth_code", "device_code", "obo"],
          "features": ["persist", "whoami", "call_api", "cae", "discovery"]})
    for line in sys.stdin:
        try:
            msg = json.loads(line)
        except ValueError:
            log("ignoring a non-JSON line from the harness")
            continue
        if msg.get("type") == "command":
            threading.Thread(target=handle, args=(msg,), daemon=True).start()
        elif msg.get("type") == "browsed":
            with waiting_lock:
                slot = waiting.pop(msg.get("id"), None)
            if slot:
                slot[1].append(msg)
                slot[0].set()
    persist()


if __name__ == "__main__":
    try:
        main()
    except Exception:
        traceback.print_exc()
        sys.exit(1)

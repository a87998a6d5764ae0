"""tokenstorm driver (protocol v1) over unmodified azure-identity for Python (1.27.0, with
azure-core 1.41.0 and msal 1.39.0).

It does what a typical app does with azure-identity, with the library's default settings, and
nothing the library lacks, so the verdicts are azure-identity's (and azure-core's and MSAL's
underneath). It must run under `tokenstorm run --impersonate`: the credentials talk to
login.microsoftonline.com and the app to graph.microsoft.com, by their real names, through the
harness's proxy (HTTPS_PROXY) with its CA (REQUESTS_CA_BUNDLE / SSL_CERT_FILE); no authority
host, instance-discovery switch or known authority is set.

- One credential per process, made on first need: ClientSecretCredential (client credentials),
  OnBehalfOfCredential per incoming user assertion (on-behalf-of), DeviceCodeCredential
  (prompt_callback sends the protocol's device_code message), InteractiveBrowserCredential
  (Python's `webbrowser` is given a "browser" that is the harness: it sends `browse` and, when
  the harness answers, form-posts the redirect's fields to azure-identity's own localhost
  redirect server, as the browser's form_post page would). With TOKENSTORM_AZURE_CREDENTIAL=
  managed_identity, client-credentials scenarios use ManagedIdentityCredential() instead (App
  Service's IDENTITY_ENDPOINT/IDENTITY_HEADER, set by the harness).
- Persistent token cache: TokenCachePersistenceOptions(allow_unencrypted_storage=True), the
  documented option where no keyring is usable. azure-identity keeps it in
  ~/.IdentityService/, so the app runs with HOME set to TOKENSTORM_STATE_DIR (as a service whose
  home is its data volume); user flows keep the AuthenticationRecord from authenticate() beside
  it (AuthenticationRecord.serialize(), the pattern of azure-identity's docs).
- acquire_token: credential.get_token(*scopes, enable_cae=True).
- call_api and whoami: an azure-core PipelineClient with the policies an Azure SDK client's
  generated configuration has (RetryPolicy, BearerTokenCredentialPolicy(enable_cae=True), ...):
  azure-core retries throttled and failed API calls and answers CAE claims challenges itself.
  whoami: azure-identity gives the app no ID token, so the app asks Graph once per sign-in, in
  one JSON batch: /me (name, username, oid), getMemberObjects (groups) and appRoleAssignments
  (roles).

No timeout is set on HTTP (azure-core's transport defaults apply); the browser sign-in waits
SIGN_IN_TIMEOUT for the user (InteractiveBrowserCredential's `timeout`, default 300 s).
Tokens never reach stdout except in acquire_token answers, nor stderr at all.
"""

import json
import logging
import os
import re
import sys
import threading
import time
import traceback
import webbrowser
from urllib.parse import parse_qs, urlencode, urlsplit

AUTHORITY = os.environ["TOKENSTORM_AUTHORITY"]
CLIENT_ID = os.environ["TOKENSTORM_CLIENT_ID"]
SECRET = os.environ.get("TOKENSTORM_CLIENT_SECRET")
SCOPES = os.environ.get("TOKENSTORM_SCOPES", "https://graph.microsoft.com/.default").split()
FLOW = os.environ.get("TOKENSTORM_FLOW", "client_credentials")
GRAPH = os.environ.get("TOKENSTORM_GRAPH_URL", "https://graph.microsoft.com/v1.0")
STATE_DIR = os.path.abspath(os.environ.get("TOKENSTORM_STATE_DIR", "."))
MANAGED_IDENTITY = os.environ.get("TOKENSTORM_AZURE_CREDENTIAL", "") == "managed_identity"
TENANT = urlsplit(AUTHORITY).path.strip("/").split("/")[0]
RECORD_FILE = os.path.join(STATE_DIR, "azure_identity_auth_record.json")
# How long the browser sign-in waits for the user (InteractiveBrowserCredential's `timeout`,
# 300 s by default): a user who closes the window sends nothing, and at the default the app
# would hang five minutes, past any step deadline.
SIGN_IN_TIMEOUT = 15
# When the harness says the user closed the window, the app's sign-in is cancelled this many
# seconds later (as a user who closes the browser then cancels in the app). InteractiveBrowserCredential
# gives an app no way to stop its wait but the redirect server's own timeout, which counts from
# when the browser opened: on a loaded machine the credential takes seconds to get there, and
# the failure then comes after the command's deadline. So the driver ends the wait the one way
# the library reads: the redirect server gets `error=access_denied` (what Entra's page sends
# when the user cancels), with the flow's state.
CANCEL_AFTER_CLOSE = 1.0
USE_MI = MANAGED_IDENTITY and FLOW == "client_credentials"

# azure-identity's persistent cache lives in ~/.IdentityService (azure/identity/_persistent_cache.py):
# the app's home is its state directory. Set before azure-identity is imported.
if not USE_MI:
    os.environ["HOME"] = STATE_DIR

out_lock = threading.Lock()
waiting = {}  # command id -> (event, [answer])
waiting_lock = threading.Lock()
current = threading.local()  # the command a thread serves (for browse / device_code messages)


def send(obj):
    with out_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def log(msg):
    print(f"azure-identity-python: {msg}", file=sys.stderr, flush=True)


TOKENISH = re.compile(r"[A-Za-z0-9_-]{8}[A-Za-z0-9_.-]{12,}")


def scrub(text):
    """Keep 8 characters of anything token-like: MSAL logs a token response it can't parse in
    full (msal/oauth2cli/oauth2.py), and exception texts may quote a response body."""
    return TOKENISH.sub(lambda m: m.group(0)[:8] + "...", text)


class NoTokens(logging.Filter):
    def filter(self, record):
        msg = scrub(record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            msg += f" ({type(record.exc_info[1]).__name__})"
        record.msg, record.args, record.exc_info, record.exc_text = msg, None, None, None
        return True


_handler = logging.StreamHandler()
_handler.addFilter(NoTokens())
_handler.setFormatter(logging.Formatter("azure-identity-python: %(name)s %(levelname)s: %(message)s"))
logging.basicConfig(level=logging.WARNING, handlers=[_handler])

host = urlsplit(AUTHORITY).hostname
if host != "login.microsoftonline.com":
    log(f"TOKENSTORM_AUTHORITY is {AUTHORITY}: this adapter uses azure-identity with its default "
        "settings, so it only reaches the mock as login.microsoftonline.com; run it with "
        "`tokenstorm run --impersonate` (or `--client azure-identity-python`)")
    sys.exit(2)


def hello():
    """Said before azure-identity is imported (its import takes a while on a busy machine)."""
    from importlib.metadata import version

    if MANAGED_IDENTITY:  # a managed identity serves the app's own (client-credentials) needs
        flows, features = ["client_credentials"], ["call_api"]
    else:
        flows = ["client_credentials", "auth_code", "device_code", "obo"]
        features = ["persist", "whoami", "call_api", "cae", "discovery"]
    send({"type": "hello", "protocol": 1,
          "client": "azure-identity-python" + ("-managed-identity" if MANAGED_IDENTITY else ""),
          "version": f"{version('azure-identity')} (azure-core {version('azure-core')}, msal {version('msal')})",
          "flows": flows, "features": features})


hello()

from azure.core import PipelineClient  # noqa: E402
from azure.core.pipeline import policies  # noqa: E402
from azure.core.rest import HttpRequest  # noqa: E402
from azure.identity import (  # noqa: E402
    AuthenticationRecord,
    ClientSecretCredential,
    DeviceCodeCredential,
    InteractiveBrowserCredential,
    ManagedIdentityCredential,
    OnBehalfOfCredential,
    TokenCachePersistenceOptions,
)


# ---- the harness as the system browser ----------------------------------------------------

def ask(cmd_id, message):
    ev = threading.Event()
    slot = []
    with waiting_lock:
        waiting[cmd_id] = (ev, slot)
    send(message)
    ev.wait()
    return slot[0]


class HarnessBrowser(webbrowser.BaseBrowser):
    """The desktop's browser, played by the harness. InteractiveBrowserCredential calls
    webbrowser.open(auth_uri) and then waits on its own localhost server for the redirect
    (azure/identity/_credentials/browser.py); the page Entra ends on (response_mode=form_post)
    posts the code to that server, which this does with the fields the harness hands back."""

    def open(self, url, new=0, autoraise=True):
        cmd_id = getattr(current, "id", None)
        signed_in.clear()
        threading.Thread(target=self._browse, args=(cmd_id, url), daemon=True).start()
        return True

    @staticmethod
    def _browse(cmd_id, url):
        import http.client

        answer = ask(cmd_id, {"type": "browse", "id": cmd_id, "url": url})
        if "error" in answer:
            # The user closed the window: nothing reaches the app's redirect server, until
            # the app's sign-in is cancelled (CANCEL_AFTER_CLOSE).
            log(f"the browser did not finish: {answer['error']}")
            time.sleep(CANCEL_AFTER_CLOSE)
            asked = parse_qs(urlsplit(url).query)
            redirect = asked.get("redirect_uri", [""])[0]
            if not redirect:
                return
            cancel = urlencode({"error": "access_denied", "state": asked.get("state", [""])[0],
                                "error_description": f"the sign-in was cancelled: {answer['error']}"})
            final = urlsplit(f"{redirect}?{cancel}")
        else:
            final = urlsplit(answer["url"])
        try:
            conn = http.client.HTTPConnection(final.hostname, final.port or 80, timeout=30)
            conn.request("POST", final.path or "/", body=final.query,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            conn.getresponse().read()
            conn.close()
        except OSError as e:
            log(f"the browser could not post to the redirect URI: {type(e).__name__}: {e}")


webbrowser.register("tokenstorm-harness", None, HarnessBrowser("tokenstorm-harness"), preferred=True)


def device_prompt(verification_uri, user_code, expires_on):
    send({"type": "device_code", "id": getattr(current, "id", None), "user_code": user_code,
          "verification_uri": verification_uri})
    signed_in.clear()


# ---- the app's credential and its API client ----------------------------------------------

persistence = TokenCachePersistenceOptions(allow_unencrypted_storage=True)
_cred = None
_cred_lock = threading.Lock()
_obo = {}  # user assertion -> (credential, API client)
_record = None
_record_lock = threading.Lock()
signed_in = threading.Event()  # cleared at each interactive sign-in (whoami's cache key)
if not USE_MI and FLOW in ("auth_code", "device_code") and os.path.exists(RECORD_FILE):
    with open(RECORD_FILE) as f:
        _record = AuthenticationRecord.deserialize(f.read())


def make_credential(assertion=None):
    if USE_MI:
        return ManagedIdentityCredential()
    if FLOW == "client_credentials":
        return ClientSecretCredential(TENANT, CLIENT_ID, SECRET, cache_persistence_options=persistence)
    if FLOW == "obo":
        return OnBehalfOfCredential(TENANT, CLIENT_ID, client_secret=SECRET, user_assertion=assertion,
                                    cache_persistence_options=persistence)
    if FLOW == "device_code":
        return DeviceCodeCredential(client_id=CLIENT_ID, tenant_id=TENANT, prompt_callback=device_prompt,
                                    cache_persistence_options=persistence, authentication_record=_record)
    return InteractiveBrowserCredential(client_id=CLIENT_ID, tenant_id=TENANT, timeout=SIGN_IN_TIMEOUT,
                                        cache_persistence_options=persistence, authentication_record=_record)


def api_client(credential):
    """An Azure SDK-style client for Graph: the policies a generated client's configuration
    puts in its pipeline (azure-core's defaults), with the credential behind
    BearerTokenCredentialPolicy."""
    scope = SCOPES[0] if USE_MI else None
    auth = policies.BearerTokenCredentialPolicy(credential, *([scope] if scope else SCOPES),
                                                enable_cae=not USE_MI)
    return PipelineClient(GRAPH, policies=[
        policies.RequestIdPolicy(),
        policies.HeadersPolicy(),
        policies.UserAgentPolicy(sdk_moniker="tokenstorm-app/1.0"),
        policies.ProxyPolicy(),
        policies.ContentDecodePolicy(),
        policies.RedirectPolicy(),
        policies.RetryPolicy(),
        auth,
        policies.CustomHookPolicy(),
        policies.NetworkTraceLoggingPolicy(),
        policies.DistributedTracingPolicy(),
        policies.SensitiveHeaderCleanupPolicy(),
        policies.HttpLoggingPolicy(),
    ])


def app_for(assertion=None):
    """(credential, API client): one per process, or per incoming user token on-behalf-of."""
    global _cred
    with _cred_lock:
        if FLOW == "obo" and not USE_MI:
            if not assertion:
                raise Failed("no_assertion", "an on-behalf-of command came without the user's token")
            if assertion not in _obo:
                c = make_credential(assertion)
                _obo[assertion] = (c, api_client(c))
            return _obo[assertion]
        if _cred is None:
            c = make_credential()
            _cred = (c, api_client(c))
        return _cred


class Failed(Exception):
    def __init__(self, error, description=""):
        super().__init__(f"{error}: {description}")
        self.error, self.description = error, description


def sign_in(cmd_id, scopes):
    """User flows: the first sign-in is authenticate(), whose AuthenticationRecord the app keeps
    (azure-identity's documented pattern for a persistent cache); later ones are the
    credential's own (get_token prompts when its silent attempt says interaction is needed)."""
    global _record
    if FLOW not in ("auth_code", "device_code") or _record is not None:
        return
    with _record_lock:
        if _record is None:
            cred, _ = app_for()
            rec = cred.authenticate(scopes=list(scopes), enable_cae=True)
            # Owner-only, as the app's other state: the record names the account (no secret).
            with open(os.open(RECORD_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                f.write(rec.serialize())
            _record = rec


def acquire(cmd_id, scopes, assertion=None):
    sign_in(cmd_id, scopes)
    cred, _ = app_for(assertion)
    if USE_MI:
        return cred.get_token(*scopes).token
    return cred.get_token(*scopes, enable_cae=True).token


def graph_send(request, assertion=None):
    _, client = app_for(assertion)
    r = client.send_request(request)
    try:
        body = r.json()
    except ValueError:
        body = r.text()[:2000]
    return r.status_code, body


def call_api(cmd_id, method, url, assertion=None):
    sign_in(cmd_id, SCOPES)
    status, body = graph_send(HttpRequest(method, url), assertion)
    return {"ok": 200 <= status < 300, "status": status, "body": body}


_profile = {}  # the last sign-in's profile (name, username, oid, roles, groups)
_profile_lock = threading.Lock()


def whoami(cmd_id):
    sign_in(cmd_id, SCOPES)
    with _profile_lock:
        if _profile and signed_in.is_set():
            return dict(_profile)
        batch = {"requests": [
            {"id": "me", "method": "GET", "url": "/me"},
            {"id": "groups", "method": "POST", "url": "/me/getMemberObjects",
             "headers": {"Content-Type": "application/json"}, "body": {"securityEnabledOnly": False}},
            {"id": "roles", "method": "GET", "url": "/me/appRoleAssignments"},
        ]}
        status, body = graph_send(HttpRequest("POST", f"{GRAPH}/$batch", json=batch))
        if status != 200 or not isinstance(body, dict):
            raise Failed("graph_error", f"$batch answered {status}")
        parts = {r.get("id"): r for r in body.get("responses", [])}
        for k in ("me", "groups", "roles"):
            if parts.get(k, {}).get("status") != 200:
                raise Failed("graph_error", f"{k} answered {parts.get(k, {}).get('status')}")
        me = parts["me"]["body"]
        # Graph's appRoleAssignment names the role by appRoleId; the mock adds the role's value
        # (appRoleValue), which a real app would look up in the resource's servicePrincipal.
        roles = sorted({a.get("appRoleValue") for a in parts["roles"]["body"].get("value", [])
                        if a.get("appRoleValue")})
        _profile.clear()
        _profile.update(ok=True, name=me.get("displayName", ""), username=me.get("userPrincipalName", ""),
                        oid=me.get("id", ""), roles=roles,
                        groups=list(parts["groups"]["body"].get("value", [])))
        signed_in.set()
        return dict(_profile)


def handle(msg):
    cmd_id, op = msg.get("id"), msg.get("op")
    current.id = cmd_id
    try:
        if op == "acquire_token":
            token = acquire(cmd_id, msg.get("scopes") or SCOPES, msg.get("assertion"))
            answer = {"ok": True, "access_token": token}
        elif op == "call_api":
            answer = call_api(cmd_id, msg.get("method", "GET"), msg["url"], msg.get("assertion"))
        elif op == "whoami":
            answer = whoami(cmd_id)
        elif op == "shutdown":
            send({"type": "result", "id": cmd_id, "ok": True})
            os._exit(0)  # the persistent cache is written at each change (msal_extensions)
        else:
            answer = {"ok": False, "error": "unsupported", "description": op}
    except Failed as e:
        answer = {"ok": False, "error": e.error, "description": scrub(e.description)[:500]}
    except Exception as e:  # the library raised (ClientAuthenticationError, transport errors)
        log(f"{op} raised {type(e).__name__}: {scrub(str(e))[:300]}")
        answer = {"ok": False, "error": type(e).__name__, "description": scrub(str(e))[:500]}
    send({"type": "result", "id": cmd_id, **answer})


def main():
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


if __name__ == "__main__":
    try:
        main()
    except Exception:
        traceback.print_exc()
        sys.exit(1)

"""Run unmodified MSAL for Python (msal==1.39.0) against a running tokenstorm mock.

Usage:
    $DIR/python/bin/python msal_check.py READY_FILE [FLOW ...]

READY_FILE is the JSON the mock writes with --ready-file (see docs: cli.md).
FLOW is any of: cc authcode device cp1 (default: all, in that order).

Every flow uses its own tenant, authority = base_url + "/" + PREFIX + flow, where
PREFIX is $TOKENSTORM_TENANT_PREFIX or "py-" (so the mock's per-tenant journals
stay separate). Each flow prints exactly ONE JSON line on stdout:
    {"flow": "...", "ok": true|false, ...details}
and, on failure, an "error" field. Tokens are never printed in full (8 chars at most).
Exit status: 0 when every flow passed, 1 otherwise, 2 on bad usage.
Library warnings and diagnostics go to stderr.
"""

import base64
import json
import os
import sys
import time
import traceback
from urllib.parse import parse_qs, urlsplit

import msal
import requests

GRAPH_DEFAULT = ["https://graph.microsoft.com/.default"]
USER_READ = ["https://graph.microsoft.com/User.Read"]
NBF_CHALLENGE = '{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}'
HTTP_TIMEOUT = 30  # seconds, for every request MSAL and this script make
DEVICE_POLL_LIMIT = 60  # seconds before giving up on device-code polling


class CheckFailed(Exception):
    pass


def short(token):
    return (token or "")[:8]


def jwt_payload(token):
    """Decode a JWT's payload (no signature check: this is only a test probe)."""
    part = token.split(".")[1]
    part += "=" * (-len(part) % 4)
    return json.loads(base64.urlsafe_b64decode(part))


def need_token(result, what):
    """Return result["access_token"] or raise with MSAL's error text."""
    if result is None:
        raise CheckFailed(f"{what}: MSAL returned None")
    if "access_token" not in result:
        raise CheckFailed(
            f"{what}: {result.get('error')}: {result.get('error_description')}"
            f" (error_codes={result.get('error_codes')})")
    return result["access_token"]


class Checker:
    def __init__(self, ready):
        self.ready = ready
        self.base = ready["base_url"].rstrip("/")
        self.ca = ready["ca_cert"]
        self.prefix = os.environ.get("TOKENSTORM_TENANT_PREFIX", "py-")
        self.conf = ready["clients"]["confidential"]
        self.pub = ready["clients"]["public"]
        self.http = requests.Session()
        self.http.verify = self.ca

    def authority(self, flow):
        return f"{self.base}/{self.prefix}{flow}"

    def common(self, flow):
        return dict(
            authority=self.authority(flow),
            instance_discovery=False,  # msal-wire.md section 1: required off Microsoft hosts
            verify=self.ca,
            timeout=HTTP_TIMEOUT,
        )

    def cca(self, flow, **extra):
        return msal.ConfidentialClientApplication(
            self.conf["client_id"],
            client_credential=self.conf["client_secret"],
            **self.common(flow), **extra)

    def pca(self, flow):
        return msal.PublicClientApplication(self.pub["client_id"], **self.common(flow))

    # ---- flows ----------------------------------------------------------------

    def flow_cc(self, d):
        app = self.cca("cc")
        first = app.acquire_token_for_client(GRAPH_DEFAULT)
        at1 = need_token(first, "first acquire_token_for_client")
        d["first_source"] = first.get("token_source")
        second = app.acquire_token_for_client(GRAPH_DEFAULT)
        at2 = need_token(second, "second acquire_token_for_client")
        d["same_token"] = at1 == at2
        d["second_source"] = second.get("token_source")
        d["at_prefix"] = short(at1)
        return d["same_token"] and d["second_source"] == "cache"

    def flow_authcode(self, d):
        app = self.pca("authcode")
        redirect_uri = self.pub["redirect_uri"]
        flow = app.initiate_auth_code_flow(scopes=USER_READ, redirect_uri=redirect_uri)
        resp = self.http.get(flow["auth_uri"], allow_redirects=False, timeout=HTTP_TIMEOUT)
        d["authorize_status"] = resp.status_code
        location = resp.headers.get("Location")
        if resp.status_code not in (301, 302, 303, 307, 308) or not location:
            raise CheckFailed(
                f"authorize answered {resp.status_code} without a redirect: {resp.text[:300]}")
        if not location.startswith(redirect_uri):
            raise CheckFailed(f"authorize redirected to {location.split('?')[0]}, "
                              f"not {redirect_uri}")
        params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        d["location_had_client_info"] = "client_info" in params
        if "code" not in params:
            raise CheckFailed(f"no code in the redirect; query keys {sorted(params)}")

        result = app.acquire_token_by_auth_code_flow(flow, params)
        at1 = need_token(result, "acquire_token_by_auth_code_flow")
        d["id_token_oid"] = (result.get("id_token_claims") or {}).get("oid")

        accounts = app.get_accounts()
        d["accounts"] = len(accounts)
        if not accounts:
            raise CheckFailed("get_accounts() is empty after the code redemption")
        account = accounts[0]
        d["username"] = account.get("username")

        silent = app.acquire_token_silent(USER_READ, account)
        at2 = need_token(silent, "acquire_token_silent")
        d["silent_same"] = at1 == at2
        d["silent_source"] = silent.get("token_source")

        forced = app.acquire_token_silent(USER_READ, account, force_refresh=True)
        at3 = need_token(forced, "acquire_token_silent(force_refresh=True)")
        d["forced_new"] = at3 not in (at1, at2)
        d["forced_source"] = forced.get("token_source")

        user = self.ready.get("user") or {}
        return (d["id_token_oid"] == user.get("oid")
                and d["username"] == user.get("username")
                and d["silent_same"] and d["forced_new"]
                and d["location_had_client_info"])

    def flow_device(self, d):
        app = self.pca("device")
        flow = app.initiate_device_flow(scopes=USER_READ)
        if "user_code" not in flow:
            raise CheckFailed(f"initiate_device_flow: {flow.get('error')}: "
                              f"{flow.get('error_description')}")
        d["interval"] = flow.get("interval")
        # Approve first, so that MSAL's first (immediate) poll succeeds.
        approve = self.http.get(flow["verification_uri"],
                                params={"user_code": flow["user_code"]},
                                timeout=HTTP_TIMEOUT)
        d["approve_status"] = approve.status_code
        if approve.status_code != 200:
            raise CheckFailed(f"approval GET answered {approve.status_code}: {approve.text[:300]}")
        deadline = time.time() + DEVICE_POLL_LIMIT
        started = time.time()
        result = app.acquire_token_by_device_flow(
            flow, exit_condition=lambda f: time.time() > deadline)
        d["poll_seconds"] = round(time.time() - started, 1)
        at = need_token(result, "acquire_token_by_device_flow")
        d["has_access_token"] = bool(at)
        d["id_token_oid"] = (result.get("id_token_claims") or {}).get("oid")
        return d["has_access_token"] and d["id_token_oid"] == (self.ready.get("user") or {}).get("oid")

    def flow_cp1(self, d):
        app = self.cca("cp1", client_capabilities=["cp1"])
        first = app.acquire_token_for_client(GRAPH_DEFAULT)
        at1 = need_token(first, "acquire_token_for_client")
        d["xms_cc"] = jwt_payload(at1).get("xms_cc")
        second = app.acquire_token_for_client(GRAPH_DEFAULT, claims_challenge=NBF_CHALLENGE)
        at2 = need_token(second, "acquire_token_for_client(claims_challenge=...)")
        d["challenge_new_token"] = at1 != at2
        d["challenge_source"] = second.get("token_source")
        return d["xms_cc"] == ["cp1"] and d["challenge_new_token"]


FLOWS = ["cc", "authcode", "device", "cp1"]


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        ready = json.load(f)
    flows = argv[2:] or FLOWS
    unknown = [f for f in flows if f not in FLOWS]
    if unknown:
        print(f"unknown flow(s) {unknown}; known: {FLOWS}", file=sys.stderr)
        return 2

    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override Session.verify
    # (msal-wire.md section 1), so point them at the mock's CA as well, and keep
    # any proxy away from loopback.
    os.environ["REQUESTS_CA_BUNDLE"] = ready["ca_cert"]
    os.environ.pop("CURL_CA_BUNDLE", None)
    no_proxy = os.environ.get("NO_PROXY") or os.environ.get("no_proxy") or ""
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = ",".join(
        p for p in [no_proxy, "localhost", "127.0.0.1", "::1"] if p)

    checker = Checker(ready)
    all_ok = True
    for name in flows:
        d = {"flow": name, "ok": False, "tenant": checker.prefix + name}
        started = time.time()
        try:
            d["ok"] = bool(getattr(checker, "flow_" + name)(d))
        except Exception as e:  # report and go on with the next flow
            d["ok"] = False
            d["error"] = f"{type(e).__name__}: {e}"
            traceback.print_exc(file=sys.stderr)
        d["seconds"] = round(time.time() - started, 2)
        # keep "flow" and "ok" first for readability
        line = {"flow": d.pop("flow"), "ok": d.pop("ok"), **d}
        print(json.dumps(line, separators=(",", ":")), flush=True)
        all_ok = all_ok and line["ok"]
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))

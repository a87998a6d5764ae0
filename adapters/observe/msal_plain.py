"""A plain "app" using MSAL for Python, with no driver protocol: for `tokenstorm observe`.

It is what many daemons look like: a ConfidentialClientApplication made once, then a token
for Graph every second (MSAL's own cache answers most of them), printing one short status
line per round and never a token.

    tokenstorm observe --scenario outage-malformed-json -- python msal_plain.py 12

It reads the environment tokenstorm observe sets (TOKENSTORM_AUTHORITY, TOKENSTORM_CLIENT_ID,
TOKENSTORM_CLIENT_SECRET, TOKENSTORM_SCOPES; REQUESTS_CA_BUNDLE for the mock's CA).
"""
import logging
import os
import re
import sys
import time

import msal


class NoTokens(logging.Filter):
    """MSAL logs a token response it can't parse in full (msal/oauth2cli/oauth2.py): keep 8
    characters of anything token-like, and the exception's name without its traceback."""

    def filter(self, record):
        msg = re.sub(r"[A-Za-z0-9_-]{8}[A-Za-z0-9_.-]{12,}", lambda m: m.group(0)[:8] + "...", record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            msg += f" ({type(record.exc_info[1]).__name__})"
        record.msg, record.args, record.exc_info, record.exc_text = msg, None, None, None
        return True


handler = logging.StreamHandler()
handler.addFilter(NoTokens())
logging.basicConfig(level=logging.WARNING, handlers=[handler])

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
app = msal.ConfidentialClientApplication(
    os.environ["TOKENSTORM_CLIENT_ID"],
    client_credential=os.environ["TOKENSTORM_CLIENT_SECRET"],
    authority=os.environ["TOKENSTORM_AUTHORITY"],
    instance_discovery=False,  # off Microsoft's hosts
    timeout=10,
)
scopes = os.environ.get("TOKENSTORM_SCOPES", "https://graph.microsoft.com/.default").split()
for i in range(1, rounds + 1):
    try:
        r = app.acquire_token_for_client(scopes)
        if "access_token" in r:
            print(f"round {i}: token from {r.get('token_source', '?')}", flush=True)
        else:
            print(f"round {i}: {r.get('error')}", flush=True)
    except Exception as e:  # what the library raised (malformed answers, timeouts)
        print(f"round {i}: {type(e).__name__}", flush=True)
    time.sleep(1)

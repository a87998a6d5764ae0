"""A ten-line daemon as teams write them: azure-identity's EnvironmentCredential (or, with
`mi`, ManagedIdentityCredential), a token every second, nothing told about tokenstorm."""
import sys, time
from azure.identity import EnvironmentCredential, ManagedIdentityCredential

cred = ManagedIdentityCredential() if sys.argv[1:] == ["mi"] else EnvironmentCredential()
for _ in range(int(sys.argv[2]) if len(sys.argv) > 2 else 12):
    try:
        cred.get_token("https://graph.microsoft.com/.default")
        print("got a token", flush=True)
    except Exception as e:  # the app logs and carries on
        print("no token:", type(e).__name__, flush=True)
    time.sleep(1)

#!/bin/sh
# The desktop's web browser, as the driver gives it to @azure/identity: InteractiveBrowserCredential
# opens the sign-in URL with the `open` package, which on Linux runs its bundled xdg-open, which
# (no desktop session) runs $BROWSER with the URL. driver.mjs sets BROWSER to this script, which
# hands the URL to the driver (TOKENSTORM_AZJS_BROWSER, its loopback listener); the driver plays
# the browser through the harness (`browse`) and form-posts the answer to msal-node's loopback
# redirect server, as Entra's form_post page does in a real browser.
exec node -e '
fetch(process.env.TOKENSTORM_AZJS_BROWSER, { method: "POST", body: process.argv[1] })
  .then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1));
' "$1"

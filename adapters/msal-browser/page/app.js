// tokenstorm's single-page app: what a typical SPA does with MSAL.js (@azure/msal-browser 5),
// written the way Microsoft's docs and samples show it, and nothing MSAL lacks. The driver
// (driver.mjs) calls the three functions of `window.app` from the page, as the app's own
// buttons would; each answers a plain object the driver sends on as the protocol's result.
//
// - one PublicClientApplication for the page, with the authority, client id, clientCapabilities
//   ["CP1"], knownAuthorities (the mock's host:port: off Microsoft's hosts, MSAL.js only trusts
//   an authority listed there; none on Entra's own names), the redirect URI (a blank page running MSAL's redirect bridge) and
//   cacheLocation "localStorage";
// - a token: acquireTokenSilent({scopes, account}) first (cache, refresh token, then MSAL's own
//   hidden iframe with prompt=none), and acquireTokenPopup only on InteractionRequiredAuthError
//   or when no one is signed in;
// - an API call: fetch with the bearer token; on a 401 whose WWW-Authenticate carries a CAE
//   insufficient_claims challenge, the claims go back to MSAL and the call is retried once;
// - who is signed in: the account's idTokenClaims; on a groups overage, Graph getMemberObjects
//   once per sign-in.
/* global msal, TOKENSTORM_CONFIG */
"use strict";

(function () {
  const cfg = TOKENSTORM_CONFIG;
  // Off Microsoft's hosts MSAL.js trusts an authority only if it is listed; on Entra's own names
  // (tokenstorm run --impersonate) an app lists nothing and MSAL does instance discovery.
  const authorityHost = new URL(cfg.authority).host;
  const entraHosts = ["login.microsoftonline.com", "login.microsoft.com", "login.windows.net", "sts.windows.net"];

  const pca = new msal.PublicClientApplication({
    auth: {
      clientId: cfg.clientId,
      authority: cfg.authority,
      knownAuthorities: entraHosts.includes(authorityHost) ? [] : [authorityHost],
      redirectUri: cfg.redirectUri,
      clientCapabilities: ["CP1"],
    },
    cache: { cacheLocation: cfg.cacheLocation },
    system: {
      loggerOptions: {
        logLevel: msal.LogLevel.Warning,
        piiLoggingEnabled: false,
        loggerCallback: (level, message) => {
          if (level <= msal.LogLevel.Warning) console.warn(`msal: ${message}`);
        },
      },
    },
  });

  class AppError extends Error {
    constructor(error, description) {
      super(`${error}: ${description}`);
      this.errorCode = error;
      this.errorMessage = description;
    }
  }

  function account() {
    return pca.getActiveAccount() || pca.getAllAccounts()[0] || null;
  }

  // ---- sign-in through a popup ---------------------------------------------------------------
  // MSAL.js 5 hears from its popup only through the redirect bridge (a BroadcastChannel), so it
  // does not notice a popup the user closed: acquireTokenPopup rejects only when
  // popupBridgeTimeout (60 s) runs out (MSAL issues #8521, #8572). Apps watch the window
  // themselves, as MSAL's POPUP_OPENED event allows, and take a popup closed before the sign-in
  // came back (callback.html marks that) as the user cancelling; the next sign-in then passes
  // overrideInteractionInProgress, which MSAL's docs give for that case.
  function popupWatchingClose(request) {
    const openedAt = Date.now();
    let poll;
    let callbackId;
    const closed = new Promise((_, reject) => {
      callbackId = pca.addEventCallback((ev) => {
        if (ev.eventType !== msal.EventType.POPUP_OPENED || ev.correlationId !== request.correlationId) return;
        const popup = ev.payload && ev.payload.popupWindow;
        if (!popup) return;
        poll = setInterval(() => {
          if (!popup.closed) return;
          clearInterval(poll);
          const returned = Number(localStorage.getItem("app.popup.returned") || 0);
          if (returned >= openedAt) return; // the sign-in came back: MSAL finishes it
          reject(new AppError("user_cancelled", "the user closed the sign-in window"));
        }, 100);
      }, [msal.EventType.POPUP_OPENED]);
    });
    const signIn = pca.acquireTokenPopup(request);
    signIn.catch(() => {}); // once the app gave up on it, MSAL's own late rejection is moot
    return Promise.race([signIn, closed]).finally(() => {
      clearInterval(poll);
      if (callbackId) pca.removeEventCallback(callbackId);
    });
  }

  // One sign-in window at a time (MSAL allows one interaction): a need that finds one open
  // waits for it, then asks the cache again.
  let signingIn = null;

  async function interactive(scopes, claims, correlationId) {
    while (signingIn) {
      try { await signingIn; } catch { /* its own caller reports it */ }
      const acc = account();
      if (acc && !claims) return silent(scopes, acc, undefined, correlationId);
    }
    const request = { scopes, correlationId, overrideInteractionInProgress: true };
    if (claims) request.claims = claims;
    const acc = account();
    if (acc) request.account = acc;
    const mine = popupWatchingClose(request);
    signingIn = mine;
    try {
      const result = await mine;
      pca.setActiveAccount(result.account);
      return result;
    } finally {
      if (signingIn === mine) signingIn = null;
    }
  }

  function silent(scopes, acc, claims, correlationId) {
    const request = { scopes, account: acc, correlationId };
    if (claims) request.claims = claims;
    return pca.acquireTokenSilent(request);
  }

  // The app's token function: silent first, a popup only when MSAL says interaction is needed.
  async function token(scopes, claims, correlationId) {
    const acc = account();
    if (acc) {
      try {
        return await silent(scopes, acc, claims, correlationId);
      } catch (e) {
        if (!(e instanceof msal.InteractionRequiredAuthError)) throw e;
        // A Conditional Access refusal names the claims the sign-in must carry.
        if (e.claims) claims = e.claims;
      }
    }
    return interactive(scopes, claims, correlationId);
  }

  // ---- the operations the driver calls -------------------------------------------------------
  function failure(e) {
    const error = (e && (e.errorCode || e.name)) || "error";
    let description = String((e && (e.errorMessage || e.message)) || e || "");
    if (e && e.subError) description = `${description} (${e.subError})`;
    return { ok: false, error, description: description.slice(0, 500) };
  }

  async function acquireToken({ scopes, correlationId }) {
    try {
      const result = await token(scopes && scopes.length ? scopes : cfg.scopes, undefined, correlationId);
      if (!result || !result.accessToken) return { ok: false, error: "no_token", description: "MSAL returned no access token" };
      return { ok: true, access_token: result.accessToken };
    } catch (e) {
      return failure(e);
    }
  }

  function challengeClaims(header) {
    if (!header || !header.includes("insufficient_claims")) return undefined;
    const m = /claims="([^"]+)"/.exec(header);
    if (!m) return undefined;
    try { return atob(m[1]); } catch { return undefined; }
  }

  async function readBody(r) {
    const text = await r.text();
    try { return JSON.parse(text); } catch { return text.slice(0, 2000); }
  }

  async function callApi({ method, url, correlationId }) {
    try {
      const call = (accessToken) => fetch(url, { method, headers: { Authorization: `Bearer ${accessToken}` } });
      let r = await call((await token(cfg.scopes, undefined, correlationId)).accessToken);
      const claims = r.status === 401 ? challengeClaims(r.headers.get("WWW-Authenticate")) : undefined;
      if (claims) r = await call((await token(cfg.scopes, claims, correlationId)).accessToken);
      return { ok: r.status >= 200 && r.status < 300, status: r.status, body: await readBody(r) };
    } catch (e) {
      return failure(e);
    }
  }

  const overageGroups = new Map(); // sign-in (oid + iat) -> groups

  async function whoami({ correlationId }) {
    try {
      const result = await token(cfg.scopes, undefined, correlationId);
      const c = (result.account && result.account.idTokenClaims) || result.idTokenClaims || {};
      let groups = c.groups || [];
      if ((c._claim_names && c._claim_names.groups) || c.hasgroups) {
        const key = `${c.oid}|${c.iat}`;
        if (!overageGroups.has(key)) {
          const r = await fetch(`${cfg.graph}/me/getMemberObjects`, {
            method: "POST",
            headers: { Authorization: `Bearer ${result.accessToken}`, "Content-Type": "application/json" },
            body: JSON.stringify({ securityEnabledOnly: false }),
          });
          if (!r.ok) return { ok: false, error: "graph_error", description: `getMemberObjects answered ${r.status}` };
          overageGroups.set(key, (await r.json()).value || []);
        }
        groups = overageGroups.get(key);
      }
      return {
        ok: true,
        name: c.name || "",
        username: c.preferred_username || "",
        oid: c.oid || "",
        roles: c.roles || [],
        groups,
      };
    } catch (e) {
      return failure(e);
    }
  }

  // What the app found at start (counts only), for the driver's log: after a restart, whether
  // MSAL's localStorage entries are there and whether it could read them.
  function storageState() {
    return {
      entries: Object.keys(localStorage).filter((k) => k.startsWith("msal.") || k.includes(cfg.clientId)).length,
      cacheKeyCookie: document.cookie.split(";").some((c) => c.trim().startsWith("msal.cache.encryption=")),
    };
  }
  const atLoad = storageState();
  function startState() {
    return { atLoad, afterInitialize: storageState(), accounts: pca.getAllAccounts().length };
  }

  window.app = {
    startState,
    ready: pca.initialize().then(() => true, (e) => { throw new Error(`initialize: ${e && (e.errorCode || e.message)}`); }),
    acquireToken,
    callApi,
    whoami,
    version: msal.version,
  };
})();

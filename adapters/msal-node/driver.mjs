// tokenstorm driver (protocol v1) over unmodified MSAL for Node (@azure/msal-node 7.2.3).
//
// It does what a typical app does with msal-node, and nothing the library lacks, so the
// verdicts are msal-node's:
// - one app object per process (ConfidentialClientApplication for client credentials and
//   on-behalf-of, PublicClientApplication for auth code and device code), with
//   clientCapabilities ["cp1"], knownAuthorities (host:port, required off Microsoft's hosts;
//   none at Entra's real names under `--impersonate`, where a proxy agent carries the requests),
//   and a cache plugin persisting MSAL's serialized cache to a file in TOKENSTORM_STATE_DIR
//   (the ICachePlugin pattern of MSAL's docs; plain JSON, as msal-node serializes it);
// - acquire_token: acquireTokenByClientCredential / acquireTokenOnBehalfOf (they consult
//   MSAL's cache), or for users acquireTokenSilent on the cached account, then the
//   interactive flow (getAuthCodeUrl with PKCE + the harness's browser, acquireTokenByCode),
//   or acquireTokenByDeviceCode;
// - call_api: fetch with the bearer token; on a 401 with a CAE insufficient_claims challenge,
//   the claims go back to MSAL (`claims`) and the call is retried once;
// - whoami: from idTokenClaims; on a groups overage, Graph getMemberObjects once per sign-in.
//
// Timeouts: msal-node gives POSTs none, and an app without one hangs on a stalled server,
// which a driver can't survive; like an app would, every fetch of this process gets a 10 s
// timeout (a wrapper around the global fetch msal-node uses). Tokens never reach stderr.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";

// Packages from the node_modules beside this file (where install.sh puts them when
// `tokenstorm run --client msal-node` copies the adapter to its cache folder), else, for a
// run from the repository (`node adapters/msal-node/driver.mjs`), from $TOKENSTORM_NODE_MODULES
// or install.sh's default folder, <repo>/target/adapters/msal-node/node_modules.
async function load(name) {
  try {
    return await import(name);
  } catch (e) {
    if (e.code !== "ERR_MODULE_NOT_FOUND") throw e;
  }
  const here = path.dirname(fileURLToPath(import.meta.url));
  const dirs = [process.env.TOKENSTORM_NODE_MODULES, path.join(here, "..", "..", "target", "adapters", "msal-node", "node_modules")];
  for (const dir of dirs.filter(Boolean)) {
    let pkgJson;
    try { pkgJson = createRequire(path.join(dir, "..", "noop.js")).resolve(`${name}/package.json`); } catch { continue; }
    const pkg = JSON.parse(readFileSync(pkgJson, "utf8"));
    const entry = pkg.exports?.["."]?.import?.default ?? pkg.exports?.["."]?.default ?? pkg.main ?? "index.js";
    return import(pathToFileURL(path.join(path.dirname(pkgJson), entry)).href);
  }
  throw new Error(`cannot find ${name}: run adapters/msal-node/install.sh first`);
}
const msal = await load("@azure/msal-node");

const TIMEOUT_MS = 10_000;
const env = process.env;
const AUTHORITY = env.TOKENSTORM_AUTHORITY;
const CLIENT_ID = env.TOKENSTORM_CLIENT_ID;
const SECRET = env.TOKENSTORM_CLIENT_SECRET;
const REDIRECT_URI = env.TOKENSTORM_REDIRECT_URI ?? "http://localhost/callback";
const SCOPES = (env.TOKENSTORM_SCOPES ?? "https://graph.microsoft.com/.default").split(" ");
const FLOW = env.TOKENSTORM_FLOW ?? "client_credentials";
const GRAPH = env.TOKENSTORM_GRAPH_URL ?? "https://graph.microsoft.com/v1.0";
const CACHE_FILE = path.join(env.TOKENSTORM_STATE_DIR ?? ".", "msal_token_cache.json");
// At Entra's real names (`tokenstorm run --impersonate`) msal-node runs with its defaults:
// no knownAuthorities, so it validates the authority by instance discovery as it does for a
// production app; off Microsoft's hosts (the mock's own address) knownAuthorities is required.
const ENTRA_HOST = ["login.microsoftonline.com", "login.microsoft.com", "login.windows.net", "sts.windows.net"]
  .includes(new URL(AUTHORITY).hostname);

// A proxy, as a Node 20 app behind one sets it up: msal-node 5+ sends every request with the
// global fetch (src/network/HttpClient.ts; `system.proxyUrl` is gone), and Node 20's fetch reads
// no proxy variable (Node >= 22.21 and 24 do, with NODE_USE_ENV_PROXY=1, which tokenstorm sets).
// undici's EnvHttpProxyAgent (HTTPS_PROXY, NO_PROXY) as the global dispatcher routes msal-node's
// requests and the app's own Graph calls through it.
if (env.HTTPS_PROXY || env.https_proxy) {
  const { EnvHttpProxyAgent, setGlobalDispatcher } = await load("undici");
  setGlobalDispatcher(new EnvHttpProxyAgent());
}

// The timeout is a plain timer holding its controller: AbortSignal.any([signal,
// AbortSignal.timeout(ms)]) never fires on Node 20 once a garbage collection has run in between
// (nodejs/node#57736), which left fetches hanging on a stalled server. The caller's signal
// (msal-node passes its own on every request) still aborts.
const realFetch = globalThis.fetch;
globalThis.fetch = (url, opts = {}) => {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException(`no answer within ${TIMEOUT_MS} ms`, "TimeoutError")), TIMEOUT_MS);
  timer.unref();
  if (opts.signal?.aborted) controller.abort(opts.signal.reason);
  else opts.signal?.addEventListener("abort", () => controller.abort(opts.signal.reason), { once: true });
  return realFetch(url, { ...opts, signal: controller.signal });
};

const send = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const log = (msg) => process.stderr.write(`msal-node: ${msg}\n`);

// ---- the app, as a typical msal-node app sets it up ---------------------------------------
const cachePlugin = {
  async beforeCacheAccess(ctx) {
    if (existsSync(CACHE_FILE)) ctx.tokenCache.deserialize(readFileSync(CACHE_FILE, "utf8"));
  },
  async afterCacheAccess(ctx) {
    if (ctx.cacheHasChanged) writeFileSync(CACHE_FILE, ctx.tokenCache.serialize());
  },
};
const auth = {
  clientId: CLIENT_ID,
  authority: AUTHORITY,
  ...(ENTRA_HOST ? {} : { knownAuthorities: [new URL(AUTHORITY).host] }),
  clientCapabilities: ["cp1"],
};
const system = { loggerOptions: { piiLoggingEnabled: false, logLevel: msal.LogLevel.Error, loggerCallback: () => {} } };
const confidential = FLOW === "client_credentials" || FLOW === "obo";
const app = confidential
  ? new msal.ConfidentialClientApplication({ auth: { ...auth, clientSecret: SECRET }, cache: { cachePlugin }, system })
  : new msal.PublicClientApplication({ auth, cache: { cachePlugin }, system });
const crypto = new msal.CryptoProvider();

let lastClaims = {};
const overageGroups = new Map(); // sign-in (oid + iat) -> groups

class Failed extends Error {
  constructor(error, description = "") {
    super(`${error}: ${description}`);
    this.error = error;
    this.description = description;
  }
}

function tokenOf(result, what) {
  if (result?.accessToken) {
    if (result.idTokenClaims && Object.keys(result.idTokenClaims).length) lastClaims = result.idTokenClaims;
    return result.accessToken;
  }
  throw new Failed("no_token", what);
}

// ---- interaction through the harness -------------------------------------------------------
const waiting = new Map(); // command id -> resolve
const ask = (id, message) => new Promise((resolve) => { waiting.set(id, resolve); send(message); });

async function interactive(id, scopes, claims) {
  if (FLOW === "device_code") {
    const result = await app.acquireTokenByDeviceCode({
      scopes,
      claims,
      // msal-node calls this even when the devicecode endpoint answered an error (it reads the
      // error body as a device-code response: DeviceCodeClient.mjs), with no code to show; a
      // user can't enter that, so only a real code reaches the harness.
      deviceCodeCallback: (r) => r.userCode
        ? send({ type: "device_code", id, user_code: r.userCode, verification_uri: r.verificationUri })
        : log("deviceCodeCallback without a user code (the devicecode endpoint answered an error)"),
    });
    return tokenOf(result, "acquireTokenByDeviceCode");
  }
  const { verifier, challenge } = await crypto.generatePkceCodes();
  const state = crypto.createNewGuid();
  const url = await app.getAuthCodeUrl({
    scopes, redirectUri: REDIRECT_URI, codeChallenge: challenge, codeChallengeMethod: "S256", state, claims,
  });
  const answer = await ask(id, { type: "browse", id, url });
  if (answer.error) throw new Failed("user_cancelled", answer.error);
  const query = Object.fromEntries(new URL(answer.url).searchParams);
  if (query.error) throw new Failed(query.error, query.error_description ?? "");
  const result = await app.acquireTokenByCode(
    { code: query.code, scopes, redirectUri: REDIRECT_URI, codeVerifier: verifier, state, claims,
      ...(query.client_info ? { clientInfo: query.client_info } : {}) },
    query,
  );
  return tokenOf(result, "acquireTokenByCode");
}

const INTERACTION = new Set(["invalid_grant", "interaction_required", "login_required", "consent_required", "no_tokens_found", "token_refresh_required"]);

async function acquire(id, scopes, assertion, claims) {
  if (FLOW === "client_credentials") {
    return tokenOf(await app.acquireTokenByClientCredential({ scopes, claims }), "acquireTokenByClientCredential");
  }
  if (FLOW === "obo") {
    return tokenOf(await app.acquireTokenOnBehalfOf({ oboAssertion: assertion, scopes, claims }), "acquireTokenOnBehalfOf");
  }
  const accounts = await app.getTokenCache().getAllAccounts();
  if (accounts.length) {
    try {
      return tokenOf(await app.acquireTokenSilent({ account: accounts[0], scopes, claims }), "acquireTokenSilent");
    } catch (e) {
      // Only what needs the user goes interactive; a transient failure is reported as such.
      if (!(e instanceof msal.InteractionRequiredAuthError) && !INTERACTION.has(e.errorCode)) throw e;
      // A refusal that names claims (a Conditional Access step-up): the sign-in carries them,
      // as Microsoft's guidance does with the exception's Claims.
      if (e.claims) claims = e.claims;
    }
  }
  return interactive(id, scopes, claims);
}

// ---- the operations -------------------------------------------------------------------------
function challengeClaims(header) {
  if (!header || !header.includes("insufficient_claims")) return undefined;
  const m = /claims="([^"]+)"/.exec(header);
  return m ? Buffer.from(m[1], "base64").toString("utf8") : undefined;
}

async function callApi(id, method, url, assertion) {
  const call = async (token) => fetch(url, { method, headers: { Authorization: `Bearer ${token}` } });
  let r = await call(await acquire(id, SCOPES, assertion));
  const claims = r.status === 401 ? challengeClaims(r.headers.get("www-authenticate")) : undefined;
  if (claims) r = await call(await acquire(id, SCOPES, assertion, claims));
  const text = await r.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text.slice(0, 2000); }
  return { ok: r.status >= 200 && r.status < 300, status: r.status, body };
}

async function whoami(id) {
  await acquire(id, SCOPES);
  const c = lastClaims;
  let groups = c.groups ?? [];
  if (c._claim_names?.groups || c.hasgroups) {
    const key = `${c.oid}|${c.iat}`;
    if (!overageGroups.has(key)) {
      const token = await acquire(id, SCOPES);
      const r = await fetch(`${GRAPH}/me/getMemberObjects`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ securityEnabledOnly: false }),
      });
      if (!r.ok) throw new Failed("graph_error", `getMemberObjects answered ${r.status}`);
      overageGroups.set(key, (await r.json()).value ?? []);
    }
    groups = overageGroups.get(key);
  }
  return { ok: true, name: c.name ?? "", username: c.preferred_username ?? "", oid: c.oid ?? "", roles: c.roles ?? [], groups };
}

async function handle(msg) {
  const { id, op } = msg;
  let answer;
  try {
    if (op === "acquire_token") answer = { ok: true, access_token: await acquire(id, msg.scopes?.length ? msg.scopes : SCOPES, msg.assertion) };
    else if (op === "call_api") answer = await callApi(id, msg.method ?? "GET", msg.url, msg.assertion);
    else if (op === "whoami") answer = await whoami(id);
    else if (op === "shutdown") {
      send({ type: "result", id, ok: true });
      process.exit(0);
    } else answer = { ok: false, error: "unsupported", description: String(op) };
  } catch (e) {
    const error = e.error ?? e.errorCode ?? e.name ?? "error";
    const description = String(e.description ?? e.errorMessage ?? e.message ?? "").slice(0, 500);
    if (!(e instanceof Failed)) log(`${op} failed: ${error}: ${description.slice(0, 200)}`);
    answer = { ok: false, error, description };
  }
  send({ type: "result", id, ...answer });
}

send({ type: "hello", protocol: 1, client: "msal-node", version: msal.version,
  flows: ["client_credentials", "auth_code", "device_code", "obo"], features: ["persist", "whoami", "call_api", "cae", "discovery"] });

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  let msg;
  try { msg = JSON.parse(line); } catch { log("ignoring a non-JSON line from the harness"); return; }
  if (msg.type === "command") handle(msg);
  else if (msg.type === "browsed") {
    const resolve = waiting.get(msg.id);
    waiting.delete(msg.id);
    resolve?.(msg);
  }
});
rl.on("close", () => process.exit(0));

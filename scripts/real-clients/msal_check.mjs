// Run unmodified MSAL for Node (@azure/msal-node 7.2.3) against a running tokenstorm mock.
//
// Usage:
//   node msal_check.mjs READY_FILE [FLOW ...]
//
// READY_FILE is the JSON the mock writes with --ready-file (see cli.md).
// FLOW is any of: cc authcode device cp1 (default: all, in that order).
//
// Where @azure/msal-node comes from (first that exists wins):
//   1. $TOKENSTORM_NODE_MODULES                     (a node_modules directory)
//   2. $TOKENSTORM_CLIENTS_DIR/node/node_modules
//   3. <repo>/target/real-clients/node/node_modules  (install-real-clients.sh's default)
//   4. ordinary Node resolution from the current directory, then from this file.
// The package's ESM entry ("exports"."."."import") is loaded, as an ESM app would.
//
// Trusting the mock's CA: msal-node 7 uses the global fetch (undici), which only
// honours NODE_EXTRA_CA_CERTS, read once when node starts. So when that variable is
// not already ready.ca_cert, this script re-runs itself once with it set (stdio
// inherited, same exit status). A caller may also set it up front.
//
// Every flow uses its own tenant, authority = base_url + "/" + PREFIX + flow, where
// PREFIX is $TOKENSTORM_TENANT_PREFIX or "node-". Each flow prints exactly ONE JSON
// line on stdout: {"flow": "...", "ok": true|false, ...details} (plus "error" when it
// failed). Tokens are never printed in full (8 chars at most). Exit status: 0 when
// every flow passed, 1 otherwise, 2 on bad usage. Diagnostics go to stderr; set
// TOKENSTORM_MSAL_LOG=1 to get msal-node's own log (Warning and up) there too.

import { spawnSync, execFileSync } from "node:child_process";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const SELF = fileURLToPath(import.meta.url);
const FLOWS = ["cc", "authcode", "device", "cp1"];
const GRAPH_DEFAULT = ["https://graph.microsoft.com/.default"];
const USER_READ = ["https://graph.microsoft.com/User.Read"];
const NBF_CHALLENGE = '{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}';
const HTTP_TIMEOUT_MS = 30000;
const DEVICE_POLL_LIMIT_S = 60;

function usage(msg) {
  if (msg) console.error(msg);
  console.error("usage: node msal_check.mjs READY_FILE [cc|authcode|device|cp1 ...]");
  process.exit(2);
}

const args = process.argv.slice(2);
if (args.length < 1 || args[0] === "-h" || args[0] === "--help") usage();
const ready = JSON.parse(readFileSync(args[0], "utf8"));
const flows = args.length > 1 ? args.slice(1) : FLOWS;
const unknown = flows.filter((f) => !FLOWS.includes(f));
if (unknown.length) usage(`unknown flow(s) ${unknown.join(",")}; known: ${FLOWS.join(",")}`);

// ---- CA trust: re-exec with NODE_EXTRA_CA_CERTS --------------------------------------
function samePath(a, b) {
  try { return realpathSync(a) === realpathSync(b); } catch { return a === b; }
}
if (ready.ca_cert && !(process.env.NODE_EXTRA_CA_CERTS && samePath(process.env.NODE_EXTRA_CA_CERTS, ready.ca_cert))) {
  if (process.env.TOKENSTORM_MSAL_CHECK_REEXEC === "1") {
    console.error("msal_check: NODE_EXTRA_CA_CERTS still not set after re-exec; giving up");
    process.exit(2);
  }
  const child = spawnSync(process.execPath, [...process.execArgv, SELF, ...args], {
    stdio: "inherit",
    env: { ...process.env, NODE_EXTRA_CA_CERTS: ready.ca_cert, TOKENSTORM_MSAL_CHECK_REEXEC: "1" },
  });
  if (child.error) { console.error(`msal_check: re-exec failed: ${child.error}`); process.exit(2); }
  process.exit(child.status ?? 1);
}

// ---- load @azure/msal-node -------------------------------------------------------------
async function loadMsal() {
  const candidates = [];
  if (process.env.TOKENSTORM_NODE_MODULES) candidates.push(process.env.TOKENSTORM_NODE_MODULES);
  if (process.env.TOKENSTORM_CLIENTS_DIR) candidates.push(path.join(process.env.TOKENSTORM_CLIENTS_DIR, "node", "node_modules"));
  candidates.push(path.resolve(path.dirname(SELF), "..", "..", "target", "real-clients", "node", "node_modules"));
  // A require() anchored in a directory resolves through that directory's node_modules
  // (and its parents'): anchoring at <node_modules>/.. finds <node_modules>/@azure/msal-node.
  const anchors = candidates.filter((d) => existsSync(d)).map((d) => path.join(d, "..", "noop.js"));
  anchors.push(path.join(process.cwd(), "noop.js"), SELF);
  for (const anchor of anchors) {
    let pkgJson;
    try { pkgJson = createRequire(anchor).resolve("@azure/msal-node/package.json"); } catch { continue; }
    const pkg = JSON.parse(readFileSync(pkgJson, "utf8"));
    const entry = pkg.exports?.["."]?.import?.default ?? pkg.module ?? pkg.main;
    const mod = await import(pathToFileURL(path.join(path.dirname(pkgJson), entry)).href);
    return { msal: mod, version: pkg.version, from: path.dirname(pkgJson) };
  }
  throw new Error("cannot find @azure/msal-node; run scripts/install-real-clients.sh and set TOKENSTORM_NODE_MODULES");
}

let msal, msalVersion;
try {
  ({ msal, version: msalVersion } = await loadMsal());
} catch (e) {
  console.error(`msal_check: ${e.message}`);
  process.exit(2);
}

// ---- helpers ---------------------------------------------------------------------------
class CheckFailed extends Error {}

const short = (t) => (t || "").slice(0, 8);

function jwtPayload(token) {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"));
}

function errText(e) {
  if (!e) return String(e);
  const parts = [`${e.name || "Error"}: ${e.errorCode ? e.errorCode + ": " : ""}${e.errorMessage || e.message}`];
  if (e.subError) parts.push(`suberror=${e.subError}`);
  if (e.cause) parts.push(`cause=${e.cause.message || e.cause}`);
  return parts.join(" ");
}

function needToken(result, what) {
  if (!result || !result.accessToken) throw new CheckFailed(`${what}: no access token in the result`);
  return result.accessToken;
}

const base = ready.base_url.replace(/\/+$/, "");
const host = new URL(base).host; // host:port, as knownAuthorities compares it (msal-wire.md 1)
const prefix = process.env.TOKENSTORM_TENANT_PREFIX ?? "node-";
const conf = ready.clients.confidential;
const pub = ready.clients.public;
const user = ready.user || {};

const system = {
  loggerOptions: {
    piiLoggingEnabled: false,
    logLevel: msal.LogLevel.Warning,
    loggerCallback: (level, message) => {
      if (process.env.TOKENSTORM_MSAL_LOG === "1") console.error(`msal-node: ${message}`);
    },
  },
};

function authority(flow) {
  return `${base}/${prefix}${flow}`;
}
function cca(flow, extra = {}) {
  return new msal.ConfidentialClientApplication({
    auth: { clientId: conf.client_id, clientSecret: conf.client_secret, authority: authority(flow), knownAuthorities: [host], ...extra },
    system,
  });
}
function pca(flow) {
  return new msal.PublicClientApplication({
    auth: { clientId: pub.client_id, authority: authority(flow), knownAuthorities: [host] },
    system,
  });
}

// fetch with a timeout; NODE_EXTRA_CA_CERTS makes the mock's CA trusted here too.
function get(url, init = {}) {
  return fetch(url, { ...init, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
}

// ---- flows -----------------------------------------------------------------------------
const checks = {
  async cc(d) {
    const app = cca("cc");
    const first = await app.acquireTokenByClientCredential({ scopes: GRAPH_DEFAULT });
    const at1 = needToken(first, "first acquireTokenByClientCredential");
    d.first_from_cache = first.fromCache;
    const second = await app.acquireTokenByClientCredential({ scopes: GRAPH_DEFAULT });
    const at2 = needToken(second, "second acquireTokenByClientCredential");
    d.same_token = at1 === at2;
    d.second_from_cache = second.fromCache;
    d.at_prefix = short(at1);
    return d.same_token && d.second_from_cache === true;
  },

  async authcode(d) {
    const app = pca("authcode");
    const redirectUri = pub.redirect_uri;
    const crypto = new msal.CryptoProvider();
    const { verifier, challenge } = await crypto.generatePkceCodes();
    const state = crypto.createNewGuid();
    const url = await app.getAuthCodeUrl({
      scopes: USER_READ, redirectUri, codeChallenge: challenge, codeChallengeMethod: "S256", state,
    });
    const resp = await get(url, { redirect: "manual" });
    d.authorize_status = resp.status;
    const location = resp.headers.get("location");
    if (resp.status < 300 || resp.status > 399 || !location) {
      throw new CheckFailed(`authorize answered ${resp.status} without a redirect: ${(await resp.text()).slice(0, 300)}`);
    }
    if (!location.startsWith(redirectUri)) {
      throw new CheckFailed(`authorize redirected to ${location.split("?")[0]}, not ${redirectUri}`);
    }
    const query = Object.fromEntries(new URL(location).searchParams);
    d.location_had_client_info = "client_info" in query;
    if (!query.code) throw new CheckFailed(`no code in the redirect; query keys ${Object.keys(query).sort()}`);

    const result = await app.acquireTokenByCode(
      {
        code: query.code, scopes: USER_READ, redirectUri, codeVerifier: verifier, state,
        ...(query.client_info ? { clientInfo: query.client_info } : {}),
      },
      query, // the redirect's query: msal-node checks its state against ours
    );
    const at1 = needToken(result, "acquireTokenByCode");
    d.id_token_oid = result.idTokenClaims?.oid;

    const accounts = await app.getTokenCache().getAllAccounts();
    d.accounts = accounts.length;
    const account = accounts[0] ?? result.account;
    if (!account) throw new CheckFailed("no account after the code redemption");
    d.username = account.username;

    const silent = await app.acquireTokenSilent({ account, scopes: USER_READ });
    const at2 = needToken(silent, "acquireTokenSilent");
    d.silent_same = at1 === at2;
    d.silent_from_cache = silent.fromCache;

    const forced = await app.acquireTokenSilent({ account, scopes: USER_READ, forceRefresh: true });
    const at3 = needToken(forced, "acquireTokenSilent(forceRefresh)");
    d.forced_new = at3 !== at1 && at3 !== at2;
    d.forced_from_cache = forced.fromCache;

    return d.id_token_oid === user.oid && d.username === user.username
      && d.silent_same && d.silent_from_cache === true && d.forced_new && d.location_had_client_info;
  },

  async device(d) {
    const app = pca("device");
    const started = Date.now();
    const request = {
      scopes: USER_READ,
      timeout: DEVICE_POLL_LIMIT_S,
      // msal-node calls this without awaiting it and polls right after, so approve
      // synchronously (a short child node process) to make the first poll succeed.
      deviceCodeCallback: (r) => {
        d.interval = r.interval;
        const approveUrl = new URL(r.verificationUri);
        approveUrl.searchParams.set("user_code", r.userCode);
        try {
          const out = execFileSync(process.execPath, ["-e", `
            fetch(process.argv[1], { signal: AbortSignal.timeout(${HTTP_TIMEOUT_MS}) })
              .then((r) => { process.stdout.write(String(r.status)); })
              .catch((e) => { process.stdout.write("error " + e.message + " " + (e.cause ? e.cause.message : "")); });
          `, approveUrl.href], { encoding: "utf8", env: process.env, stdio: ["ignore", "pipe", "inherit"] });
          d.approve_status = /^\d+$/.test(out) ? Number(out) : out;
        } catch (e) {
          d.approve_status = `error ${e.message}`;
        }
        if (d.approve_status !== 200) request.cancel = true; // don't poll for a minute in vain
      },
    };
    const result = await app.acquireTokenByDeviceCode(request);
    d.poll_seconds = Math.round((Date.now() - started) / 100) / 10;
    const at = needToken(result, "acquireTokenByDeviceCode");
    d.has_access_token = Boolean(at);
    d.id_token_oid = result.idTokenClaims?.oid;
    return d.has_access_token && d.id_token_oid === user.oid && d.approve_status === 200;
  },

  async cp1(d) {
    const app = cca("cp1", { clientCapabilities: ["cp1"] });
    const first = await app.acquireTokenByClientCredential({ scopes: GRAPH_DEFAULT });
    const at1 = needToken(first, "acquireTokenByClientCredential");
    d.xms_cc = jwtPayload(at1).xms_cc ?? null;
    const second = await app.acquireTokenByClientCredential({ scopes: GRAPH_DEFAULT, claims: NBF_CHALLENGE });
    const at2 = needToken(second, "acquireTokenByClientCredential(claims)");
    d.challenge_new_token = at1 !== at2;
    d.challenge_from_cache = second.fromCache;
    return JSON.stringify(d.xms_cc) === JSON.stringify(["cp1"]) && d.challenge_new_token;
  },
};

// ---- main ------------------------------------------------------------------------------
console.error(`msal_check: @azure/msal-node ${msalVersion} on node ${process.version}`);
let allOk = true;
for (const name of flows) {
  const d = {};
  const started = Date.now();
  let ok = false;
  try {
    ok = Boolean(await checks[name](d));
  } catch (e) {
    ok = false;
    d.error = errText(e);
    console.error(e);
  }
  d.seconds = Math.round((Date.now() - started) / 10) / 100;
  console.log(JSON.stringify({ flow: name, ok, tenant: prefix + name, ...d }));
  allOk = allOk && ok;
}
process.exit(allOk ? 0 : 1);

// tokenstorm driver (protocol v1) over unmodified @azure/identity for JavaScript (4.14.1, with
// @azure/core-rest-pipeline 1.25.1 and @azure/msal-node 7.2.3 underneath), on Node.
//
// It does what a typical Node app does with @azure/identity, with the library's default
// settings, and nothing the library lacks, so the verdicts are @azure/identity's (and
// azure-core's and msal-node's underneath). It must run under `tokenstorm run --impersonate`:
// the credentials talk to login.microsoftonline.com and the app to graph.microsoft.com, by their
// real names, through the harness's proxy (HTTPS_PROXY, read by azure-core's proxyPolicy) with
// its CA (NODE_EXTRA_CA_CERTS); no authorityHost, disableInstanceDiscovery or
// additionallyAllowedTenants is set.
//
// - One credential per process, made on first need: ClientSecretCredential (client
//   credentials), OnBehalfOfCredential per incoming user assertion (on-behalf-of),
//   DeviceCodeCredential (userPromptCallback sends the protocol's device_code message). With
//   TOKENSTORM_AZURE_CREDENTIAL=managed_identity, client-credentials scenarios use
//   `new ManagedIdentityCredential()` instead (App Service's IDENTITY_ENDPOINT/IDENTITY_HEADER,
//   set by the harness).
// - No persistent cache: @azure/identity keeps tokens in memory unless the app installs
//   @azure/identity-cache-persistence, whose keytar native module cannot be installed here
//   (README.md); the driver declares no `persist`.
// - acquire_token: credential.getToken(scopes, { enableCae: true }).
// - call_api and whoami: an @azure/core-client ServiceClient with the credential and Graph's
//   scope, the pipeline every Azure SDK client has (createClientPipeline: bearerTokenAuthenticationPolicy,
//   which answers CAE claims challenges itself, over the default retry policy and the proxy
//   policy). whoami: @azure/identity gives the app no ID token, so the app asks Graph once per
//   sign-in, in one JSON batch: /me, getMemberObjects (groups) and appRoleAssignments (roles).
//
// No timeout is set on HTTP (azure-core's Node transport sets none). Tokens never reach stdout
// except in acquire_token answers, nor stderr at all.

import { AsyncLocalStorage } from "node:async_hooks";
import { existsSync } from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

const env = process.env;
const send = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const log = (msg) => process.stderr.write(`azure-identity-js: ${msg}\n`);

// Anything token-like keeps 8 characters: error texts may quote a response body.
const TOKENISH = /[A-Za-z0-9_-]{8}[A-Za-z0-9_.-]{12,}/g;
const scrub = (text) => String(text).replace(TOKENISH, (m) => m.slice(0, 8) + "...");

const AUTHORITY = env.TOKENSTORM_AUTHORITY ?? "";
const CLIENT_ID = env.TOKENSTORM_CLIENT_ID;
const SECRET = env.TOKENSTORM_CLIENT_SECRET;
const SCOPES = (env.TOKENSTORM_SCOPES ?? "https://graph.microsoft.com/.default").split(" ").filter(Boolean);
const FLOW = env.TOKENSTORM_FLOW ?? "client_credentials";
const GRAPH = env.TOKENSTORM_GRAPH_URL ?? "https://graph.microsoft.com/v1.0";
const MANAGED_IDENTITY = env.TOKENSTORM_AZURE_CREDENTIAL === "managed_identity";
const USE_MI = MANAGED_IDENTITY && FLOW === "client_credentials";

let authority;
try { authority = new URL(AUTHORITY); } catch { authority = null; }
if (authority?.hostname !== "login.microsoftonline.com") {
  log(`TOKENSTORM_AUTHORITY is ${AUTHORITY}: this adapter uses @azure/identity with its default settings, so it ` +
    "only reaches the mock as login.microsoftonline.com; run it with `tokenstorm run --impersonate` " +
    "(or `--client azure-identity-js`)");
  process.exit(2);
}
const TENANT = authority.pathname.replace(/^\/+/, "").split("/")[0];

// The packages from the node_modules beside this file (where install.sh puts them when
// `tokenstorm run --client azure-identity-js` copies the adapter to its cache folder), else from
// $TOKENSTORM_NODE_MODULES, else from install.sh's default folder in a checkout,
// <repo>/target/adapters/azure-identity-js/node_modules.
function findNodeModules() {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const dirs = [
    path.join(here, "node_modules"),
    env.TOKENSTORM_NODE_MODULES,
    path.join(here, "..", "..", "target", "adapters", "azure-identity-js", "node_modules"),
  ];
  for (const dir of dirs.filter(Boolean)) {
    if (existsSync(path.join(dir, "@azure", "identity", "package.json"))) return dir;
  }
  log("cannot find @azure/identity: run adapters/azure-identity-js/install.sh first");
  process.exit(2);
}
const require = createRequire(path.join(findNodeModules(), "..", "noop.js"));
const versionOf = (pkg) => require(`${pkg}/package.json`).version;

if (MANAGED_IDENTITY) {
  // A managed identity serves the app's own (client-credentials) needs.
  send({ type: "hello", protocol: 1, client: "azure-identity-js-managed-identity",
    version: `${versionOf("@azure/identity")} (core-rest-pipeline ${versionOf("@azure/core-rest-pipeline")}, msal-node ${versionOf("@azure/msal-node")})`,
    flows: ["client_credentials"], features: ["call_api"] });
} else {
  send({ type: "hello", protocol: 1, client: "azure-identity-js",
    version: `${versionOf("@azure/identity")} (core-rest-pipeline ${versionOf("@azure/core-rest-pipeline")}, msal-node ${versionOf("@azure/msal-node")})`,
    flows: ["client_credentials", "auth_code", "device_code", "obo"], features: ["whoami", "call_api", "cae"] });
}

const identity = require("@azure/identity");
const { ServiceClient } = require("@azure/core-client");
const { createPipelineRequest, createHttpHeaders } = require("@azure/core-rest-pipeline");

// ---- the app's credential and its API client ----------------------------------------------
const current = new AsyncLocalStorage(); // the command being served (for device_code messages)
let signIns = 0; // counts interactive sign-ins (whoami's cache key)

function devicePrompt(info) {
  const id = current.getStore();
  // msal-node calls the callback even when the devicecode endpoint answered an error (it reads
  // the error body as a device-code response), with no code in it; a user can't enter that.
  if (!info?.userCode) {
    log("userPromptCallback without a user code (the devicecode endpoint answered an error)");
    return;
  }
  signIns += 1;
  send({ type: "device_code", id, user_code: info.userCode, verification_uri: info.verificationUri });
}

// ---- the harness as the system browser ----------------------------------------------------
// InteractiveBrowserCredential has msal-node listen on a loopback redirect server and open the
// authorize URL with the `open` package, which on Linux runs its bundled xdg-open; with no
// desktop session (no DISPLAY) xdg-open runs $BROWSER with the URL. The app's "browser" is
// browser.sh, which hands the URL to this listener; the driver then asks the harness to browse
// it and, when the harness answers, posts the redirect's fields to msal-node's server (it asks
// for response_mode=form_post), as Entra's form_post page does in a browser.
const waiting = new Map(); // command id -> resolve (browsed answers)
const signingIn = []; // ids of auth_code commands in flight, oldest first: whom a browse serves
const ask = (id, message) => new Promise((resolve) => { waiting.set(id, resolve); send(message); });

// How long the app waits for the user once the browser is open. InteractiveBrowserCredential
// has no timeout (msal-node's loopback server waits forever for the redirect), so a user who
// closes the window would hang the app; like an app would, the driver stops waiting after
// SIGN_IN_TIMEOUT_MS and fails the call (the library's listener stays behind). When the
// harness says the user closed the window, the app's sign-in prompt is cancelled too (as a
// user who closes the browser then presses the app's Cancel): the call fails
// CANCEL_AFTER_CLOSE_MS later, so how long the credential took to open the browser (seconds,
// on a loaded machine) can't push the failure past the command's deadline. The wait starts
// only once a browser opens: a stalled token request with no browser involved is the
// library's to time out, never the driver's. The driver's one addition to the library.
const SIGN_IN_TIMEOUT_MS = 15_000;
const CANCEL_AFTER_CLOSE_MS = 1_000;
const giveUp = new Map(); // command id -> reject of its sign-in wait

async function browse(url) {
  const id = signingIn[0];
  signIns += 1;
  const stop = giveUp.get(id);
  if (stop) setTimeout(() => stop(new Failed("sign_in_timeout", `the user did not finish signing in within ${SIGN_IN_TIMEOUT_MS / 1000} s`)), SIGN_IN_TIMEOUT_MS).unref();
  const answer = await ask(id, { type: "browse", id, url });
  if (answer.error) {
    // The user closed the window: nothing reaches the app's redirect server.
    log(`the browser did not finish: ${answer.error}`);
    if (stop) setTimeout(() => stop(new Failed("sign_in_cancelled", `the user closed the sign-in window (${answer.error})`)), CANCEL_AFTER_CLOSE_MS).unref();
    return;
  }
  const final = new URL(answer.url);
  try {
    await fetch(new URL("/", final), {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: final.search.replace(/^\?/, ""),
    });
  } catch (e) {
    log(`the browser could not post to the redirect URI: ${e.message}`);
  }
}

if (FLOW === "auth_code" && !USE_MI) {
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => { body += c; });
    req.on("end", () => {
      res.end("ok");
      browse(body).catch((e) => log(`browse failed: ${e.message}`));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  server.unref();
  env.TOKENSTORM_AZJS_BROWSER = `http://127.0.0.1:${server.address().port}/`;
  env.BROWSER = path.join(path.dirname(fileURLToPath(import.meta.url)), "browser.sh");
  // A headless host: xdg-open then uses $BROWSER (no desktop session to ask).
  for (const v of ["DISPLAY", "WAYLAND_DISPLAY", "XDG_CURRENT_DESKTOP", "DESKTOP_SESSION", "KDE_FULL_SESSION", "GNOME_DESKTOP_SESSION_ID"]) delete env[v];
}

function makeCredential(assertion) {
  if (USE_MI) return new identity.ManagedIdentityCredential();
  if (FLOW === "client_credentials") return new identity.ClientSecretCredential(TENANT, CLIENT_ID, SECRET);
  if (FLOW === "obo") {
    return new identity.OnBehalfOfCredential({ tenantId: TENANT, clientId: CLIENT_ID, clientSecret: SECRET, userAssertionToken: assertion });
  }
  if (FLOW === "device_code") {
    return new identity.DeviceCodeCredential({ tenantId: TENANT, clientId: CLIENT_ID, userPromptCallback: devicePrompt });
  }
  return new identity.InteractiveBrowserCredential({ tenantId: TENANT, clientId: CLIENT_ID });
}

// An Azure SDK-style client for Graph: ServiceClient with the credential and the scope makes
// the pipeline of every generated client (createClientPipeline: bearerTokenAuthenticationPolicy
// over azure-core's defaults: proxy, user agent, request id, default retry, redirect, logging).
function apiClient(credential) {
  return new ServiceClient({
    credential,
    credentialScopes: USE_MI ? SCOPES[0] : SCOPES,
    userAgentOptions: { userAgentPrefix: "tokenstorm-app/1.0" },
  });
}

class Failed extends Error {
  constructor(error, description = "") {
    super(`${error}: ${description}`);
    this.error = error;
    this.description = description;
  }
}

let app = null;
const obo = new Map(); // user assertion -> { credential, client }
function appFor(assertion) {
  if (FLOW === "obo" && !USE_MI) {
    if (!assertion) throw new Failed("no_assertion", "an on-behalf-of command came without the user's token");
    if (!obo.has(assertion)) {
      const credential = makeCredential(assertion);
      obo.set(assertion, { credential, client: apiClient(credential) });
    }
    return obo.get(assertion);
  }
  if (!app) {
    const credential = makeCredential();
    app = { credential, client: apiClient(credential) };
  }
  return app;
}

async function acquire(scopes, assertion) {
  const { credential } = appFor(assertion);
  if (FLOW === "auth_code") return withSignIn(() => credential.getToken(scopes, { enableCae: true }));
  const token = USE_MI ? await credential.getToken(scopes) : await credential.getToken(scopes, { enableCae: true });
  if (!token?.token) throw new Failed("no_token", "getToken returned no token");
  return token.token;
}

// An auth_code command may sign the user in: the browse it causes names it.
async function withSignIn(getToken) {
  const id = current.getStore();
  signingIn.push(id);
  let timedOut;
  const timeout = new Promise((_, reject) => { timedOut = reject; });
  timeout.catch(() => {});
  giveUp.set(id, timedOut);
  try {
    const token = await Promise.race([getToken(), timeout]);
    if (!token?.token) throw new Failed("no_token", "getToken returned no token");
    return token.token;
  } finally {
    signingIn.splice(signingIn.indexOf(id), 1);
    giveUp.delete(id);
  }
}

async function graphSend(method, url, assertion, json) {
  const { client } = appFor(assertion);
  if (FLOW === "auth_code") signingIn.push(current.getStore());
  const request = createPipelineRequest({
    url,
    method,
    headers: createHttpHeaders(json === undefined ? {} : { "Content-Type": "application/json" }),
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  let r;
  try {
    r = await client.sendRequest(request);
  } finally {
    if (FLOW === "auth_code") signingIn.splice(signingIn.indexOf(current.getStore()), 1);
  }
  let body;
  try { body = JSON.parse(r.bodyAsText ?? ""); } catch { body = (r.bodyAsText ?? "").slice(0, 2000); }
  return { status: r.status, body };
}

async function callApi(method, url, assertion) {
  const { status, body } = await graphSend(method, url, assertion);
  return { ok: status >= 200 && status < 300, status, body };
}

let profile = null; // { signIns, answer }: the last sign-in's profile
let profilePending = null;
async function whoami() {
  // The token first (it signs in when needed), then the profile once per sign-in.
  await acquire(SCOPES);
  if (profile && profile.signIns === signIns) return { ...profile.answer };
  if (!profilePending) {
    profilePending = (async () => {
      const at = signIns;
      const batch = { requests: [
        { id: "me", method: "GET", url: "/me" },
        { id: "groups", method: "POST", url: "/me/getMemberObjects",
          headers: { "Content-Type": "application/json" }, body: { securityEnabledOnly: false } },
        { id: "roles", method: "GET", url: "/me/appRoleAssignments" },
      ] };
      const { status, body } = await graphSend("POST", `${GRAPH}/$batch`, undefined, batch);
      if (status !== 200 || typeof body !== "object") throw new Failed("graph_error", `$batch answered ${status}`);
      const parts = Object.fromEntries((body.responses ?? []).map((r) => [r.id, r]));
      for (const k of ["me", "groups", "roles"]) {
        if (parts[k]?.status !== 200) throw new Failed("graph_error", `${k} answered ${parts[k]?.status}`);
      }
      const me = parts.me.body;
      // Graph's appRoleAssignment names the role by appRoleId; the mock adds the role's value
      // (appRoleValue), which a real app would look up in the resource's servicePrincipal.
      const roles = [...new Set((parts.roles.body.value ?? []).map((a) => a.appRoleValue).filter(Boolean))].sort();
      const answer = { ok: true, name: me.displayName ?? "", username: me.userPrincipalName ?? "", oid: me.id ?? "",
        roles, groups: parts.groups.body.value ?? [] };
      profile = { signIns: at, answer };
      return answer;
    })().finally(() => { profilePending = null; });
  }
  return { ...(await profilePending) };
}

async function handle(msg) {
  const { id, op } = msg;
  let answer;
  try {
    if (op === "acquire_token") answer = { ok: true, access_token: await acquire(msg.scopes?.length ? msg.scopes : SCOPES, msg.assertion) };
    else if (op === "call_api") answer = await callApi(msg.method ?? "GET", msg.url, msg.assertion);
    else if (op === "whoami") answer = await whoami();
    else if (op === "shutdown") {
      send({ type: "result", id, ok: true });
      process.exit(0); // nothing to persist: the credentials' caches are in memory
    } else answer = { ok: false, error: "unsupported", description: String(op) };
  } catch (e) {
    // The library threw (AuthenticationError, CredentialUnavailableError, RestError, ...).
    const error = e instanceof Failed ? e.error : (e?.name ?? "Error");
    const description = scrub(e instanceof Failed ? e.description : (e?.message ?? e)).slice(0, 500);
    if (!(e instanceof Failed)) log(`${op} threw ${error}: ${description.slice(0, 300)}`);
    answer = { ok: false, error, description };
  }
  send({ type: "result", id, ...answer });
}

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  let msg;
  try { msg = JSON.parse(line); } catch { log("ignoring a non-JSON line from the harness"); return; }
  if (msg.type === "command") current.run(msg.id, () => handle(msg));
  else if (msg.type === "browsed") {
    const resolve = waiting.get(msg.id);
    waiting.delete(msg.id);
    resolve?.(msg);
  }
});
rl.on("close", () => process.exit(0));

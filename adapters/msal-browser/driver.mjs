// tokenstorm driver (protocol v1) over unmodified MSAL.js (@azure/msal-browser 5) in a real
// headless Chromium, driven with playwright-core.
//
// The client under test is a single-page app (page/: index.html, app.js, callback.html) that
// this driver serves on http://localhost:<free port>/ and opens in Chromium. app.js does what a
// typical SPA does with MSAL.js (see its header); the driver only presses its buttons: each
// command becomes one page.evaluate of window.app.acquireToken / callApi / whoami.
//
// What the driver does besides:
// - the harness stays the user: navigations (popup, page) and hidden iframes that go to the
//   mock's /oauth2/v2.0/authorize are intercepted in the browser context and sent to the harness
//   as `browse` (frame "top" or "iframe"); its `browsed` URL comes back to Chromium as a 302, so
//   the popup or iframe lands on the redirect URI as it would, and MSAL.js handles it. A cancel
//   closes the popup (for an iframe: a redirect with error=interaction_required);
// - everything else goes from Chromium to the mock for real (discovery, token, Graph; CORS);
// - TLS: the mock's certificate is checked here against TOKENSTORM_CA_BUNDLE, and Chromium is
//   told to accept that one key (--ignore-certificate-errors-spki-list), nothing else;
// - a persistent Chromium profile in TOKENSTORM_STATE_DIR/profile and an origin (port) kept in
//   TOKENSTORM_STATE_DIR/spa-port, so localStorage outlives a restart as a real browser's does
//   (what MSAL.js then does with it is MSAL's business: see README.md);
// - Chromium is started by this driver, in its process group, and playwright attaches to it
//   over CDP: when the harness ends the client, the browser and its connections end with it;
// - Chromium starts before hello for an auth_code scenario (the app is up once its page is), and
//   not at all for a scenario of another flow, which this client can't run: those cost nothing.
// Logs go to stderr with a `msal-browser:` prefix, the page's console errors included, with
// anything token-like redacted.

import { spawn } from "node:child_process";
import { createServer, request as httpRequest } from "node:http";
import { createHash, randomUUID } from "node:crypto";
import { isIP } from "node:net";
import { existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import readline from "node:readline";
import tls from "node:tls";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const env = process.env;
const log = (msg) => process.stderr.write(`msal-browser: ${redact(String(msg))}\n`);
const send = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

// Anything that looks like a token (a JWT, an authorization code, a long opaque string) goes
// out of logs.
function redact(s) {
  return s
    .replace(/eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*/g, "[redacted jwt]")
    .replace(/\b(code|access_token|refresh_token|id_token|client_info|assertion)=([^&\s"']+)/gi, "$1=[redacted]")
    .replace(/[A-Za-z0-9+/_.-]{64,}={0,2}/g, "[redacted]");
}

// ---- where the pinned packages are ----------------------------------------------------------
// node_modules beside this file (install.sh's DEST, where `tokenstorm` copies the adapter), else
// $TOKENSTORM_NODE_MODULES, else <repo>/target/adapters/msal-browser/node_modules (install.sh's
// default DEST for a run from the repository).
function findNodeModules() {
  const dirs = [
    path.join(here, "node_modules"),
    env.TOKENSTORM_NODE_MODULES,
    path.join(here, "..", "..", "target", "adapters", "msal-browser", "node_modules"),
  ];
  for (const dir of dirs.filter(Boolean)) {
    if (existsSync(path.join(dir, "@azure", "msal-browser", "package.json")) && existsSync(path.join(dir, "playwright-core", "package.json"))) return dir;
  }
  return null;
}
const NODE_MODULES = findNodeModules();
if (!NODE_MODULES) {
  log("cannot find @azure/msal-browser and playwright-core: run adapters/msal-browser/install.sh first");
  process.exit(1);
}
const MSAL_DIR = path.join(NODE_MODULES, "@azure", "msal-browser");
const MSAL_VERSION = JSON.parse(readFileSync(path.join(MSAL_DIR, "package.json"), "utf8")).version;
const PAGE_DIR = path.join(here, "page");

const AUTHORITY = (env.TOKENSTORM_AUTHORITY ?? "").replace(/\/+$/, "");
const CLIENT_ID = env.TOKENSTORM_CLIENT_ID ?? "";
const SCOPES = (env.TOKENSTORM_SCOPES ?? "https://graph.microsoft.com/.default").split(" ").filter(Boolean);
const GRAPH = env.TOKENSTORM_GRAPH_URL ?? "https://graph.microsoft.com/v1.0";
const STATE_DIR = env.TOKENSTORM_STATE_DIR ?? path.join(here, ".state");
const CHROMIUM = env.TOKENSTORM_CHROMIUM || "/usr/bin/chromium";
const AUTHORIZE = `${AUTHORITY}/oauth2/v2.0/authorize`;

// ---- the app's web server -------------------------------------------------------------------
function startServer() {
  return new Promise((resolve, reject) => {
    let config = "";
    const files = {
      "/": [path.join(PAGE_DIR, "index.html"), "text/html"],
      "/index.html": [path.join(PAGE_DIR, "index.html"), "text/html"],
      "/app.js": [path.join(PAGE_DIR, "app.js"), "text/javascript"],
      "/callback": [path.join(PAGE_DIR, "callback.html"), "text/html"],
      "/lib/msal-browser.min.js": [path.join(MSAL_DIR, "lib", "msal-browser.min.js"), "text/javascript"],
      "/lib/redirect-bridge/msal-redirect-bridge.min.js": [path.join(MSAL_DIR, "lib", "redirect-bridge", "msal-redirect-bridge.min.js"), "text/javascript"],
    };
    const server = createServer((req, res) => {
      const p = new URL(req.url, "http://localhost").pathname;
      let body;
      let type;
      if (p === "/config.js") {
        body = config;
        type = "text/javascript";
      } else if (files[p]) {
        try { body = readFileSync(files[p][0]); } catch { body = undefined; }
        type = files[p][1];
      }
      if (body === undefined) {
        res.writeHead(404, { "Content-Type": "text/plain" });
        res.end("not found");
        return;
      }
      res.writeHead(200, { "Content-Type": `${type}; charset=utf-8`, "Cache-Control": "no-store" });
      res.end(body);
    });
    // The app keeps its origin across restarts, as a deployed SPA does: localStorage belongs to
    // the origin, so the port is chosen once per state directory and reused.
    const portFile = path.join(STATE_DIR, "spa-port");
    let want = 0;
    try { want = Number(readFileSync(portFile, "utf8").trim()) || 0; } catch { /* first start */ }
    const started = () => {
      const port = server.address().port;
      if (port !== want) {
        try { mkdirSync(STATE_DIR, { recursive: true }); writeFileSync(portFile, `${port}\n`); } catch (e) { log(`cannot keep the app's port: ${e.message}`); }
      }
      const origin = `http://localhost:${port}`;
      config = `window.TOKENSTORM_CONFIG = ${JSON.stringify({
        authority: AUTHORITY,
        clientId: CLIENT_ID,
        // The registered redirect URI is http://localhost/callback: loopback, any port.
        redirectUri: `${origin}/callback`,
        scopes: SCOPES,
        graph: GRAPH,
        cacheLocation: "localStorage",
      })};\n`;
      resolve({ server, origin });
    };
    const listen = (port) => {
      server.once("error", (e) => {
        if (port && e.code === "EADDRINUSE") {
          log(`port ${port} of the app's origin is taken: a new origin, with an empty localStorage`);
          listen(0);
        } else reject(e);
      });
      server.listen(port, "127.0.0.1", () => { server.removeAllListeners("error"); started(); });
    };
    listen(want);
  });
}

// ---- TLS: trust the mock's keys, verified against the run's CA -------------------------------
// Chromium gets no CA bundle; it is told to accept the mock's leaf keys, once each leaf has been
// verified here against TOKENSTORM_CA_BUNDLE (a failed verification stops the launch): the
// authority's host, and Graph's when it is another one.
//
// With `tokenstorm run --impersonate` the authority and Graph are Entra's and Graph's real names,
// answered by the mock through a proxy on loopback (HTTPS_PROXY): Chromium is then given that
// proxy (--proxy-server; loopback, the app's own origin included, always goes direct), and the
// leaves are fetched through it, as Chromium will see them.
const PROXY = env.HTTPS_PROXY || env.https_proxy || "";
const isLoopback = (host) => ["localhost", "127.0.0.1", "::1", "[::1]"].includes(host) || host.startsWith("127.");
const needsProxy = (u) => Boolean(PROXY) && !isLoopback(u.hostname);

function tlsSocketTo(u, ca) {
  const host = u.hostname.replace(/^\[|\]$/g, "");
  const port = Number(u.port || 443);
  const servername = isIP(host) ? undefined : host;
  if (!needsProxy(u)) return Promise.resolve(tls.connect({ host, port, ca, servername }));
  const proxy = new URL(PROXY);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: proxy.hostname, port: Number(proxy.port || 80), method: "CONNECT", path: `${host}:${port}`, headers: { host: `${host}:${port}` } });
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer from the proxy ${proxy.host} within 10 s`)));
    req.once("connect", (res, socket) => {
      if (res.statusCode !== 200) { socket.destroy(); return reject(new Error(`the proxy answered ${res.statusCode} to CONNECT ${host}:${port}`)); }
      resolve(tls.connect({ socket, ca, servername }));
    });
    req.once("error", reject);
    req.end();
  });
}

async function leafKeyHash(u, ca) {
  const socket = await tlsSocketTo(u, ca);
  return new Promise((resolve, reject) => {
    socket.setTimeout(10_000, () => socket.destroy(new Error("no TLS handshake within 10 s")));
    socket.once("secureConnect", () => {
      const cert = socket.getPeerX509Certificate();
      const ok = socket.authorized;
      const why = socket.authorizationError;
      socket.end();
      if (!ok) return reject(new Error(`the certificate of ${u.host} does not verify against TOKENSTORM_CA_BUNDLE: ${why}`));
      resolve(createHash("sha256").update(cert.publicKey.export({ type: "spki", format: "der" })).digest("base64"));
    });
    socket.once("error", reject);
  });
}

async function mockKeyHashes() {
  const origins = new Map();
  for (const raw of [AUTHORITY, GRAPH]) {
    const u = new URL(raw);
    if (u.protocol === "https:") origins.set(u.host, u);
  }
  if (!origins.size) return [];
  const caFile = env.TOKENSTORM_CA_BUNDLE;
  if (!caFile) throw new Error("TOKENSTORM_CA_BUNDLE is not set: cannot verify the identity provider's certificate");
  const ca = readFileSync(caFile);
  const hashes = await Promise.all([...origins.values()].map((u) => leafKeyHash(u, ca)));
  return [...new Set(hashes)];
}

// ---- the browser ----------------------------------------------------------------------------
let browser = null; // { cdp, context, page, origin, server, proc }
let chromiumProc = null; // from its spawn on, whatever happens next
// Whatever way this process ends (but a SIGKILL, where the process group takes Chromium along),
// it takes its browser along.
process.on("exit", () => {
  if (chromiumProc && chromiumProc.exitCode === null && !chromiumProc.signalCode) {
    try { chromiumProc.kill("SIGKILL"); } catch { /* gone */ }
  }
});
let starting = null;

// A Chromium of this profile may still be closing after the previous driver of the scenario
// (a restart step): wait for it to let go of the profile, as a user reopening the browser would.
async function waitForProfile(profile) {
  let pid;
  try { pid = Number(readlinkSync(path.join(profile, "SingletonLock")).split("-").pop()); } catch { return; }
  if (!pid) return;
  const alive = () => { try { process.kill(pid, 0); return true; } catch { return false; } };
  for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
  if (alive()) {
    log(`the previous Chromium (pid ${pid}) still holds the profile after 10 s; ending it`);
    try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
    await new Promise((r) => setTimeout(r, 200));
  }
}

// Chromium runs in this driver's process group (playwright's own launch would start it as a
// group leader of its own): when the harness ends the client's group, the browser goes with it
// at once, and so do its connections, which the mock journals as the client's. Playwright
// attaches over CDP to that browser and its persistent profile.
const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  // what playwright's own launch sets for an unattended browser (a popup opened without a
  // click, timers not throttled in a page nobody looks at, no first-run UI, no crash uploads)
  "--disable-popup-blocking", "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
  "--disable-backgrounding-occluded-windows", "--disable-back-forward-cache", "--disable-breakpad",
  "--disable-default-apps", "--disable-dev-shm-usage", "--disable-extensions", "--disable-hang-monitor",
  "--disable-field-trial-config", "--no-default-browser-check", "--no-service-autorun",
  "--password-store=basic", "--use-mock-keychain", "--metrics-recording-only",
  "--disable-search-engine-choice-screen", "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider",
];

function startChromium(profile, spki) {
  const args = [...CHROMIUM_ARGS, `--user-data-dir=${profile}`, "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0"];
  if (spki.length) args.push(`--ignore-certificate-errors-spki-list=${spki.join(",")}`);
  if ([AUTHORITY, GRAPH].some((raw) => needsProxy(new URL(raw)))) args.push(`--proxy-server=${PROXY}`);
  args.push("about:blank");
  const proc = spawn(CHROMIUM, args, { stdio: ["ignore", "ignore", "pipe"] });
  chromiumProc = proc;
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error("Chromium did not start within 60 s")), 60_000);
    const lines = readline.createInterface({ input: proc.stderr });
    lines.on("line", (line) => {
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(line);
      if (m) { clearTimeout(timer); resolve({ proc, ws: m[1] }); }
      else if (seen.length < 4000) seen += line + "\n";
    });
    proc.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`Chromium exited (${code ?? signal}) before it was ready: ${seen.slice(-1500)}`));
    });
    proc.once("error", (e) => { clearTimeout(timer); reject(e); });
  });
}

async function launch() {
  const t0 = Date.now();
  const profile = path.join(STATE_DIR, "profile");
  mkdirSync(profile, { recursive: true, mode: 0o700 });
  const [{ server, origin }, spki] = await Promise.all([startServer(), mockKeyHashes(), waitForProfile(profile)]);
  const t1 = Date.now();
  // Chromium starts first; playwright-core's import (a few MB of JavaScript to compile) runs
  // while it does.
  const chromiumUp = startChromium(profile, spki);
  chromiumUp.catch(() => {});
  const { chromium } = await import(pathToFileURL(path.join(NODE_MODULES, "playwright-core", "index.mjs")).href);
  const { proc, ws } = await chromiumUp;
  const t2 = Date.now();
  let cdp, context, page;
  try {
    cdp = await chromium.connectOverCDP(ws);
    context = cdp.contexts()[0];
    context.on("page", watchPage);
    await context.route((url) => url.href.startsWith(AUTHORIZE), onAuthorize);
    page = context.pages()[0] ?? (await context.newPage());
    watchPage(page);
  } catch (e) {
    proc.kill("SIGKILL");
    server.close();
    throw e;
  }
  const t3 = Date.now();
  // From here the browser is the app's, whatever its page does.
  browser = { cdp, context, page, origin, server, proc };
  await page.goto(`${origin}/`);
  await page.evaluate(() => window.app.ready);
  const st = await page.evaluate(() => window.app.startState());
  log(`Chromium ${cdp.version()} up in ${Date.now() - t0} ms (setup ${t1 - t0}, start ${t2 - t1}, attach ${t3 - t2}, page ${Date.now() - t3}); the app is at ${origin}/`);
  const cookie = (c) => (c ? "present" : "absent");
  log(`at load: ${st.atLoad.entries} MSAL entries in localStorage, cache key cookie ${cookie(st.atLoad.cacheKeyCookie)}; after initialize: ${st.afterInitialize.entries} entries, cookie ${cookie(st.afterInitialize.cacheKeyCookie)}, ${st.accounts} account(s)`);
  return browser;
}

function ensureBrowser() {
  starting ??= launch().catch((e) => {
    // A browser that started but whose app did not load is ended, so that the next command
    // starts afresh on the same profile.
    if (browser) {
      browser.proc.kill("SIGKILL");
      browser.server.close();
      browser = null;
    }
    starting = null;
    throw e;
  });
  return starting;
}

function watchPage(p) {
  p.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") log(`page console ${m.type()}: ${m.text().slice(0, 500)}`);
  });
  p.on("pageerror", (e) => log(`page error: ${String(e?.message ?? e).slice(0, 500)}`));
  p.on("requestfailed", (r) => {
    const u = new URL(r.url());
    if (u.href.startsWith(AUTHORIZE)) return; // our own aborts
    log(`request failed: ${r.method()} ${u.origin}${u.pathname}: ${r.failure()?.errorText ?? ""}`);
  });
}

// ---- the harness as the user ----------------------------------------------------------------
const inFlight = new Map(); // correlation id (the page's request) -> command id
const active = []; // command ids being served, oldest first
const waiting = new Map(); // command id -> [resolve] (browse answers, in order)

function ask(id, message) {
  return new Promise((resolve) => {
    if (!waiting.has(id)) waiting.set(id, []);
    waiting.get(id).push(resolve);
    send(message);
  });
}

async function onAuthorize(route) {
  const req = route.request();
  const url = req.url();
  const q = new URL(url).searchParams;
  let frame;
  let framePage = null;
  try {
    const f = req.frame();
    frame = f.parentFrame() ? "iframe" : "top";
    framePage = f.page();
  } catch {
    frame = "top";
  }
  const id = inFlight.get(q.get("client-request-id")) ?? active[0];
  if (id === undefined) {
    // No command of the app asked for this: nobody is there to sign in.
    log(`an authorize request came with no command being served (${frame}); answered interaction_required`);
    return route.fulfill({ status: 302, headers: { location: errorRedirect(q, "interaction_required", "no user at the keyboard") } });
  }
  const answer = await ask(id, { type: "browse", id, url, frame });
  if (answer.url) return route.fulfill({ status: 302, headers: { location: answer.url } });
  log(`the sign-in (${frame}) ended without a redirect: ${answer.error ?? "no url"}`);
  if (frame === "iframe" || !framePage || framePage === browser?.page) {
    return route.fulfill({ status: 302, headers: { location: errorRedirect(q, "interaction_required", String(answer.error ?? "")) } });
  }
  // The user closed the sign-in window.
  await route.abort("aborted").catch(() => {});
  await framePage.close().catch(() => {});
}

function errorRedirect(q, error, description) {
  const params = new URLSearchParams({ error, error_description: description });
  if (q.get("state")) params.set("state", q.get("state"));
  const redirect = q.get("redirect_uri") ?? "";
  const sep = q.get("response_mode") === "query" ? (redirect.includes("?") ? "&" : "?") : "#";
  return `${redirect}${sep}${params}`;
}

// ---- commands -------------------------------------------------------------------------------
async function run(id, op, args) {
  const { page } = await ensureBrowser();
  const correlationId = randomUUID();
  inFlight.set(correlationId, id);
  active.push(id);
  try {
    return await page.evaluate(([fn, a]) => window.app[fn](a), [op, { ...args, correlationId }]);
  } finally {
    inFlight.delete(correlationId);
    active.splice(active.indexOf(id), 1);
  }
}

async function handle(msg) {
  const { id, op } = msg;
  let answer;
  try {
    if (op === "acquire_token") answer = await run(id, "acquireToken", { scopes: msg.scopes?.length ? msg.scopes : SCOPES });
    else if (op === "call_api") answer = await run(id, "callApi", { method: msg.method ?? "GET", url: msg.url });
    else if (op === "whoami") answer = await run(id, "whoami", {});
    else answer = { ok: false, error: "unsupported", description: String(op) };
  } catch (e) {
    answer = { ok: false, error: "driver_error", description: String(e?.message ?? e).slice(0, 500) };
  }
  if (!answer.ok) log(`${op} failed: ${answer.error ?? `status ${answer.status}`}: ${String(answer.description ?? "").slice(0, 300)}`);
  send({ type: "result", id, ...answer });
}

let shuttingDown = false;
async function shutdown(code) {
  if (shuttingDown) return;
  shuttingDown = true;
  const b = browser;
  if (b) {
    // Quitting the browser (not killing it) lets Chromium write its profile, localStorage
    // included, as a user's quit does.
    const exited = new Promise((r) => { if (b.proc.exitCode !== null || b.proc.signalCode) r(); else b.proc.once("exit", r); });
    try {
      const session = await b.cdp.newBrowserCDPSession();
      await session.send("Browser.close");
    } catch { /* already gone */ }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (b.proc.exitCode === null && !b.proc.signalCode) b.proc.kill("SIGKILL");
    b.server.close();
  }
  process.exit(code);
}

const hello = () => send({ type: "hello", protocol: 1, client: "msal-browser", version: MSAL_VERSION,
  flows: ["auth_code"], features: ["persist", "whoami", "call_api", "cae", "discovery", "spa"] });

// The app is up when its page is loaded: for a scenario of the one flow an SPA has, the browser
// starts before hello (the harness starts the scenario's clock at hello, so a slow start on a
// busy machine would otherwise eat a fault window timed from it), and hello comes once the app
// is ready or 22 s after the process started at the latest (the harness waits 30 s for a hello;
// the first command then waits for the browser). A scenario of another flow is not applicable:
// hello at once, and no browser at all.
if ((env.TOKENSTORM_FLOW ?? "auth_code") === "auth_code") {
  const ready = ensureBrowser().then(() => {}, (e) => log(`the browser did not start: ${e?.message ?? e}`));
  const cap = Math.max(0, 22_000 - process.uptime() * 1000);
  await Promise.race([ready, new Promise((r) => setTimeout(r, cap).unref())]);
}
hello();

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  let msg;
  try { msg = JSON.parse(line); } catch { log("ignoring a non-JSON line from the harness"); return; }
  if (msg.type === "command") {
    if (msg.op === "shutdown") {
      send({ type: "result", id: msg.id, ok: true });
      shutdown(0);
    } else handle(msg);
  } else if (msg.type === "browsed") {
    const queue = waiting.get(msg.id);
    const resolve = queue?.shift();
    if (queue && !queue.length) waiting.delete(msg.id);
    resolve?.(msg);
  }
});
rl.on("close", () => shutdown(0));
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => shutdown(0));

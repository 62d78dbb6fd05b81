// Benchmark: the OAuth token endpoint per grant, Tollgate against Cloudflare's own library, in one
// run, each in plain workerd through Miniflare (no inspector), loopback only.
//   source scripts/env.sh && node bench/token-endpoint.mjs [--requests 300] [--rounds 3]
// Servers:
//   - Tollgate as deployed, two workers (README, "Two workers"): the guard (build/guard) forwards
//     the token endpoint to the issuer (build/issuer) through its service binding;
//     consistency = "durable" (the Coordinator Durable Object)
//   - Tollgate, consistency = "kv", the same two workers
//   - Tollgate (durable), the issuer alone as one worker: beside the first, what the guard's
//     forward costs an issuance request
//   - @cloudflare/workers-oauth-provider 1.2.3 (bench/oauth-provider-worker.mjs, bundled here with
//     esbuild into bench/out/), with its KV namespace OAUTH_KV
// Grants: refresh_token (one fresh refresh token per request, issued before timing, since each
// rotates) and authorization_code with PKCE S256 (codes issued before timing, just before their
// case: Tollgate's codes live 60 s) on every server; client_credentials and password on Tollgate,
// which the library does not offer. Codes and refresh tokens belong to a public client
// (token_endpoint_auth_method none) on both sides, so neither pays for a client secret there.
// Each case runs with 1 client and with 16 concurrent clients (keep-alive), `--requests` requests
// per case and round; the cases are interleaved across servers in every round, and the table gives
// the medians over `--rounds` rounds of p50, p99 and requests/s. A --requests so large that issuing
// and exchanging one case's codes takes over 60 s shows as 400s in the statuses column (Tollgate's
// oauth.codeLifetime); any status but 200 makes the run exit 1.
// A second table, "the gateway's one-time-route cost", times GET requests through each Tollgate
// server's gateway to a local echo origin (scripts/demo-origin.mjs, in this process), same clients,
// requests and rounds: a plain protected route (GET /api/x, scope read) and a oneTime route (GET
// /api/danger/x), both with one password-grant access token for alice reused by every request (a
// verified-token cache hit after the first; issued anew, untimed, only if a run outlives most of
// its 900 s), the oneTime route also with a fresh X-One-Time-Token per request, issued untimed by
// POST /one-time-token just before its case (they live 300 s, so a --requests whose issuing and
// spending takes longer shows as 403s in the statuses column). These run after the token
// endpoint's rounds, in their own rounds, the cases interleaved across both servers.
// A third table, "a token never seen before", times GET /api/x with a fresh access token per
// request on Tollgate (durable; client_credentials tokens, so the first sight of each: ES256
// verified by WebCrypto, its revocation entries read in one KV bulk get, an origin assertion
// signed, then the origin) and on the library (tokens from code exchanges; its API request
// reads the token's grant from KV and decrypts its props, whatever it saw before), each beside
// its own request without a token: Tollgate's public route (GET /public/x, to the same origin)
// and the library's default handler (GET /x, 404, no lookup). The difference is what a token
// costs each server the first time it sees it.
import http from "node:http";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import { ROOT, cli, kvSeed } from "../tests/e2e/harness.mjs";
import { startOrigin } from "../scripts/demo-origin.mjs";
import { startWorkerd } from "./workerd.mjs";
import { arg } from "./timing.mjs";

const REQUESTS = arg("requests", 300);
const ROUNDS = arg("rounds", 3);
if (!Number.isInteger(REQUESTS) || REQUESTS < 1 || !Number.isInteger(ROUNDS) || ROUNDS < 1) {
  console.error("usage: node bench/token-endpoint.mjs [--requests N ≥ 1] [--rounds R ≥ 1]");
  process.exit(2);
}
const CLIENTS = [1, 16];
const SETUP_CONCURRENCY = 16; // issuing codes and refresh tokens before a case (not timed)
const WARMUP = Math.min(REQUESTS, 32); // untimed requests per server and grant before round 1
const REQUEST_TIMEOUT_MS = 30_000;

// Miniflare hands every console.log line of a worker to this process's console.log; Tollgate logs
// one JSON line per token request (and per login), which would bury the table. They are counted
// and dropped here (their cost inside workerd and the pipe stays in the figures, as in
// production); the table goes straight to stdout. Warnings and errors still reach stderr.
let workerLogLines = 0;
console.log = () => void workerLogLines++;
const print = (line = "") => process.stdout.write(`${line}\n`);

const PEPPER = "pepper-for-bench-only-0123456789abcdef01"; // 40 characters
const CALLBACK = "https://spa.test/cb";
const PASSWORD = "correct horse battery";
const compatibilityDate = readFileSync(join(ROOT, "wrangler.toml"), "utf8").match(/^compatibility_date\s*=\s*"([^"]+)"/m)[1];

// ---------------------------------------------------------------------------------------------
// HTTP: timed requests go through one keep-alive agent (at most 16 sockets per server); the
// untimed issuing of codes and tokens uses fetch.

const stoppers = []; // every Miniflare instance, as soon as it exists
let origin; // the echo origin behind Tollgate's gateway (scripts/demo-origin.mjs)
const agent = new http.Agent({ keepAlive: true, maxSockets: Math.max(...CLIENTS) });
const formBody = (params) => new URLSearchParams(params).toString();
const basic = (id, secret) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;

/**
 * One request (by default POST /token with a form body; a request without a body sends no
 * Content-Type); answers { status, ms } once the whole response has been read.
 */
function send(server, { method = "POST", path = "/token", body, headers = {} }) {
  return new Promise((ok, fail) => {
    const started = performance.now();
    const req = http.request(
      {
        host: server.host,
        port: server.port,
        path,
        method,
        agent,
        headers: body === undefined ? headers : { "Content-Type": "application/x-www-form-urlencoded", "Content-Length": Buffer.byteLength(body), ...headers },
      },
      (res) => {
        res.resume();
        res.on("end", () => ok({ status: res.statusCode, ms: performance.now() - started }));
        res.on("error", fail);
      },
    );
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`${server.name}: ${method} ${path} took over ${REQUEST_TIMEOUT_MS} ms`)));
    req.on("error", fail);
    req.end(body);
  });
}

/**
 * `requests[i]` sent by `clients` concurrent clients; p50/p99 latency, requests/s, statuses, and
 * how many answered otherwise than the request's `expect` (default 200).
 */
async function load(server, requests, clients) {
  const latencies = [];
  const statuses = new Map();
  let next = 0;
  let unexpected = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(clients, requests.length) }, async () => {
      while (next < requests.length) {
        const request = requests[next++];
        const { status, ms } = await send(server, request);
        latencies.push(ms);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status !== (request.expect ?? 200)) unexpected++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (f) => latencies[Math.min(latencies.length - 1, Math.floor(f * latencies.length))];
  return { rps: requests.length / seconds, p50: q(0.5), p99: q(0.99), statuses: Object.fromEntries(statuses), unexpected };
}

/** fn(i) for i < n, at most `concurrency` at once; the answers in order. */
async function pool(n, concurrency, fn) {
  const out = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, concurrency) }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

function pkce() {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

const unescapeHtml = (s) => s.replace(/&(amp|quot|#39|#x27|lt|gt);/g, (_, e) => ({ amp: "&", quot: '"', "#39": "'", "#x27": "'", lt: "<", gt: ">" })[e]);

async function expectRedirect(res, what) {
  const location = res.headers.get("location");
  if (![302, 303].includes(res.status) || !location) throw new Error(`${what}: ${res.status} ${(await res.text()).slice(0, 300)}`);
  const code = new URL(location).searchParams.get("code");
  if (!code) throw new Error(`${what}: redirected without a code: ${location}`);
  return code;
}

/** A code exchanged untimed, for one member of the token response (`access_token`, `refresh_token`). */
async function exchange(server, { code, verifier }, member) {
  const res = await fetch(`${server.url}/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: formBody({ grant_type: "authorization_code", client_id: server.publicClient, code, code_verifier: verifier, redirect_uri: CALLBACK }),
  });
  const body = await res.json().catch(() => ({}));
  if (res.status !== 200 || !body[member]) throw new Error(`${server.name}: code exchange for its ${member}: ${res.status} ${JSON.stringify(body)}`);
  return body[member];
}

// ---------------------------------------------------------------------------------------------
// Tollgate: users and clients seeded with the CLI (as tests/e2e/consistency.test.mjs does); codes
// through its login page: GET /authorize (hidden fields + __Host-tg_csrf cookie), POST /authorize → 303.

const keys = JSON.parse(cli(["keygen", "--alg", "ES256", "--set"]).stdout);
const kv = kvSeed(PEPPER);
const cheap = ["--memory-kib", "4096", "--iterations", "1"];
kv.add(["user", "add", "--username", "alice", "--password", PASSWORD, "--scopes", "read", ...cheap]);
const svcSecret = kv.add(["client", "add", "--id", "svc", "--first-party", "--grant", "client_credentials", "--grant", "password", "--grant", "refresh_token", "--scopes", "read", "--pepper-from", kv.pepperFile]).client_secret;
kv.add(["client", "add", "--id", "spa", "--public", "--first-party", "--grant", "authorization_code", "--grant", "refresh_token", "--redirect-uri", CALLBACK, "--scopes", "read", "--pepper-from", kv.pepperFile]);
const seed = kv.entries;

async function startTollgate(consistency, { oneWorker = false } = {}) {
  const worker = await startWorkerd({
    ...(oneWorker ? { main: join(ROOT, "build/issuer/index.js") } : {}),
    secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(keys), TOLLGATE_PEPPER: PEPPER },
    vars: {
      ORIGIN_URL: origin.url,
      TOLLGATE_CONFIG: JSON.stringify({
        issuer: "https://bench.test",
        audiences: ["demo"],
        consistency,
        routes: [{ prefix: "/api", scopes: ["read"] }, { prefix: "/api/danger", scopes: ["read"], oneTime: true }, { prefix: "/public", auth: "public" }],
        // Codes are issued by SETUP_CONCURRENCY sign-ins of one user at once from one address;
        // the lockout admits at most maxFailures of those in flight (docs/SECURITY.md, Lockouts).
        oauth: { passwordMemoryKib: 4096, passwordIterations: 1, maxFailures: SETUP_CONCURRENCY },
      }),
    },
    seed,
  });
  stoppers.push(worker.stop);
  const { hostname, port } = new URL(worker.url);
  const server = { name: `Tollgate (${consistency}${oneWorker ? ", one worker" : ""})`, url: worker.url, host: hostname, port, publicClient: "spa" };
  server.code = async () => {
    const { verifier, challenge } = pkce();
    const query = new URLSearchParams({ client_id: "spa", redirect_uri: CALLBACK, response_type: "code", scope: "read", code_challenge: challenge, code_challenge_method: "S256" });
    const page = await worker.fetch(`/authorize?${query}`);
    const html = await page.text();
    const csrf = page.headers.get("set-cookie")?.match(/tg_csrf=([^;]+)/)?.[1];
    if (page.status !== 200 || !csrf) throw new Error(`${server.name}: GET /authorize: ${page.status} ${html.slice(0, 300)}`);
    const fields = Object.fromEntries([...html.matchAll(/name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1], unescapeHtml(m[2])]));
    const res = await worker.fetch("/authorize", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: `__Host-tg_csrf=${csrf}` },
      body: formBody({ ...fields, action: "login", username: "alice", password: PASSWORD }),
    });
    return { code: await expectRedirect(res, `${server.name}: POST /authorize`), verifier };
  };
  const svc = { Authorization: basic("svc", svcSecret) };
  server.grants = {
    refresh_token: refreshGrant(server),
    authorization_code: codeGrant(server),
    client_credentials: async (n) => Array.from({ length: n }, () => ({ body: formBody({ grant_type: "client_credentials", scope: "read" }), headers: svc })),
    password: async (n) => Array.from({ length: n }, () => ({ body: formBody({ grant_type: "password", username: "alice", password: PASSWORD, scope: "read" }), headers: svc })),
  };

  // The gateway: one access token (password grant, alice, scope read) for every request, issued
  // anew only when under 2 minutes of it remain; each new one is sent once untimed through
  // GET /api/x, so that timed requests find it in the verified-token cache.
  let access; // { token, renewAt }
  const bearer = async () => {
    if (access && performance.now() < access.renewAt) return access.token;
    const res = await worker.fetch("/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", ...svc },
      body: formBody({ grant_type: "password", username: "alice", password: PASSWORD, scope: "read" }),
    });
    const body = await res.json().catch(() => ({}));
    if (res.status !== 200 || !body.access_token) throw new Error(`${server.name}: access token for the gateway: ${res.status} ${JSON.stringify(body)}`);
    const warm = await worker.fetch("/api/x", { headers: { Authorization: `Bearer ${body.access_token}` } });
    if (warm.status !== 200) throw new Error(`${server.name}: GET /api/x with a fresh access token: ${warm.status} ${(await warm.text()).slice(0, 300)}`);
    await warm.arrayBuffer();
    const lifetime = Number(body.expires_in) || 900;
    access = { token: body.access_token, renewAt: performance.now() + Math.max(lifetime / 2, lifetime - 120) * 1000 };
    return access.token;
  };
  const oneTimeToken = async (authorization) => {
    const res = await worker.fetch("/one-time-token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: authorization },
      body: formBody({ route: "/api/danger" }),
    });
    const body = await res.json().catch(() => ({}));
    if (res.status !== 200 || !body.one_time_token) throw new Error(`${server.name}: POST /one-time-token: ${res.status} ${JSON.stringify(body)}`);
    return body.one_time_token;
  };
  server.routes = {
    plain: async (n) => {
      const headers = { Authorization: `Bearer ${await bearer()}` };
      return Array.from({ length: n }, () => ({ method: "GET", path: "/api/x", headers }));
    },
    one_time: async (n) => {
      const authorization = `Bearer ${await bearer()}`;
      return (await pool(n, SETUP_CONCURRENCY, () => oneTimeToken(authorization))).map((token) => ({
        method: "GET",
        path: "/api/danger/x",
        headers: { Authorization: authorization, "X-One-Time-Token": token },
      }));
    },
  };
  const clientCredentials = async () => {
    const res = await fetch(`${worker.url}/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", ...svc },
      body: formBody({ grant_type: "client_credentials", scope: "read" }),
    });
    const body = await res.json().catch(() => ({}));
    if (res.status !== 200 || !body.access_token) throw new Error(`${server.name}: client_credentials for a fresh token: ${res.status} ${JSON.stringify(body)}`);
    return body.access_token;
  };
  server.firstSight = {
    without_token: async (n) => Array.from({ length: n }, () => ({ method: "GET", path: "/public/x", expect: 200 })),
    fresh_token: async (n) =>
      (await pool(n, SETUP_CONCURRENCY, clientCredentials)).map((token) => ({ method: "GET", path: "/api/x", headers: { Authorization: `Bearer ${token}` }, expect: 200 })),
  };
  return server;
}

// ---------------------------------------------------------------------------------------------
// The library: bundled, started with its own Miniflare (OAUTH_KV), a public client registered by
// dynamic client registration; GET /authorize answers 302 with a code for its fixed test user.

async function startLibrary() {
  const entry = join(ROOT, "bench/oauth-provider-worker.mjs");
  const out = join(ROOT, "bench/out/oauth-provider-worker.js");
  mkdirSync(dirname(out), { recursive: true });
  execFileSync(
    join(ROOT, "node_modules/esbuild/bin/esbuild"),
    [entry, "--bundle", "--format=esm", "--platform=neutral", "--main-fields=module,main", "--conditions=workerd,worker,browser", "--target=es2022", "--external:cloudflare:*", `--outfile=${out}`, "--log-level=warning"],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  const version = JSON.parse(readFileSync(join(ROOT, "node_modules/@cloudflare/workers-oauth-provider/package.json"), "utf8")).version;
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      modulesRoot: dirname(out),
      modules: [{ type: "ESModule", path: out }],
      compatibilityDate,
      kvNamespaces: ["OAUTH_KV"],
      // The worker sees its requests at its resource's origin, as behind a real route: the
      // library compares an API request's URL with the token's audience (RFC 8707).
      upstream: "https://bench.test",
    }),
  );
  stoppers.push(() => mf.dispose());
  const url = (await mf.ready).href.replace(/\/$/, "");
  const { hostname, port } = new URL(url);
  const server = { name: `workers-oauth-provider ${version}`, url, host: hostname, port };
  const registered = await fetch(`${url}/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ client_name: "bench", redirect_uris: [CALLBACK], token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token"], response_types: ["code"] }),
  });
  const client = await registered.json().catch(() => ({}));
  if (registered.status !== 201 && registered.status !== 200) throw new Error(`${server.name}: POST /register: ${registered.status} ${JSON.stringify(client)}`);
  server.publicClient = client.client_id;
  server.code = async () => {
    const { verifier, challenge } = pkce();
    const query = new URLSearchParams({ client_id: server.publicClient, redirect_uri: CALLBACK, response_type: "code", scope: "read", code_challenge: challenge, code_challenge_method: "S256" });
    const res = await fetch(`${url}/authorize?${query}`, { redirect: "manual" });
    return { code: await expectRedirect(res, `${server.name}: GET /authorize`), verifier };
  };
  server.grants = { refresh_token: refreshGrant(server), authorization_code: codeGrant(server) };
  server.firstSight = {
    without_token: async (n) => Array.from({ length: n }, () => ({ method: "GET", path: "/x", expect: 404 })),
    fresh_token: async (n) =>
      (await pool(n, SETUP_CONCURRENCY, async () => exchange(server, await server.code(), "access_token"))).map((token) => ({
        method: "GET",
        path: "/api/x",
        headers: { Authorization: `Bearer ${token}` },
        expect: 200,
      })),
  };
  return server;
}

// Grants whose inputs are single-use: issued (untimed) right before their case.
function codeGrant(server) {
  return async (n) =>
    (await pool(n, SETUP_CONCURRENCY, () => server.code())).map(({ code, verifier }) => ({
      body: formBody({ grant_type: "authorization_code", client_id: server.publicClient, code, code_verifier: verifier, redirect_uri: CALLBACK }),
    }));
}
function refreshGrant(server) {
  return async (n) =>
    (await pool(n, SETUP_CONCURRENCY, async () => exchange(server, await server.code(), "refresh_token"))).map((token) => ({
      body: formBody({ grant_type: "refresh_token", client_id: server.publicClient, refresh_token: token }),
    }));
}

// ---------------------------------------------------------------------------------------------

const GRANTS = ["refresh_token", "authorization_code", "client_credentials", "password"];
const ROUTES = { plain: "plain route, GET /api/x", one_time: "one-time route, GET /api/danger/x" };
const SIGHTS = {
  without_token: (library) => (library ? "no token: GET /x (default handler, 404)" : "no token: GET /public/x (public route, to the origin)"),
  fresh_token: (library) => (library ? "fresh token: GET /api/x (API handler)" : "fresh token: GET /api/x (verified, to the origin)"),
};
const servers = [];
let failed = false;
try {
  origin = await startOrigin();
  servers.push(await startTollgate("durable"));
  servers.push(await startTollgate("kv"));
  servers.push(await startLibrary());
  servers.push(await startTollgate("durable", { oneWorker: true }));

  // Cases: grant × clients × server, servers interleaved inside each case.
  const cases = [];
  for (const grant of GRANTS) for (const clients of CLIENTS) for (const server of servers) if (server.grants[grant]) cases.push({ server, grant, clients, runs: [] });

  for (const server of servers) for (const grant of GRANTS) if (server.grants[grant]) await load(server, await server.grants[grant](WARMUP), Math.max(...CLIENTS));

  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) c.runs.push(await load(c.server, await c.server.grants[c.grant](REQUESTS), c.clients));
  }

  const median = (runs, k) => runs.map((r) => r[k]).sort((a, b) => a - b)[Math.floor(runs.length / 2)];
  print(`\nPOST /token: ${REQUESTS} requests per case × ${ROUNDS} round${ROUNDS > 1 ? "s" : ""}, keep-alive, loopback, plain workerd (Miniflare), ${cpus().length} CPUs; medians over rounds\n`);
  print("| server | grant | clients | p50 ms | p99 ms | req/s | statuses (last round) |");
  print("|---|---|---|---|---|---|---|");
  for (const c of cases) {
    print(`| ${c.server.name} | ${c.grant} | ${c.clients} | ${median(c.runs, "p50").toFixed(2)} | ${median(c.runs, "p99").toFixed(2)} | ${median(c.runs, "rps").toFixed(0)} | ${JSON.stringify(c.runs.at(-1).statuses)} |`);
    if (c.runs.some((r) => Object.keys(r.statuses).some((s) => s !== "200"))) failed = true;
  }
  const p50 = (server, grant) => median(cases.find((c) => c.server === server && c.grant === grant && c.clients === 1).runs, "p50");
  const [durable, , library, oneWorker] = servers;
  const compare = (grant, label) => {
    const [a, b] = [p50(durable, grant), p50(library, grant)];
    return `${label} ${a.toFixed(2)} ms vs ${b.toFixed(2)} ms (${(a / b).toFixed(2)}×, ${a <= b ? `${(b - a).toFixed(2)} ms faster` : `${(a - b).toFixed(2)} ms slower`})`;
  };
  print(`\np50 with 1 client, ${durable.name} vs ${library.name}: ${compare("refresh_token", "refresh")}; ${compare("authorization_code", "code exchange")}`);
  const hop = (grant) => (p50(durable, grant) - p50(oneWorker, grant)).toFixed(2);
  print(`the guard's forward to the issuer, p50 with 1 client (${durable.name} minus ${oneWorker.name}): ${Object.keys(durable.grants).map((g) => `${g} ${hop(g)} ms`).join(", ")}`);

  // The gateway's one-time-route cost: route × clients × Tollgate server, servers interleaved.
  const gateways = servers.filter((s) => s.routes);
  const routeCases = [];
  for (const route of Object.keys(ROUTES)) for (const clients of CLIENTS) for (const server of gateways) routeCases.push({ server, route, clients, runs: [] });
  for (const server of gateways) for (const route of Object.keys(ROUTES)) await load(server, await server.routes[route](WARMUP), Math.max(...CLIENTS));
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of routeCases) c.runs.push(await load(c.server, await c.server.routes[c.route](REQUESTS), c.clients));
  }
  print(`\nThe gateway's one-time-route cost: GET through the gateway to a local echo origin, ${REQUESTS} requests per case × ${ROUNDS} round${ROUNDS > 1 ? "s" : ""}, keep-alive, loopback, plain workerd (Miniflare); medians over rounds\n`);
  print("| server | route | clients | p50 ms | p99 ms | req/s | statuses (last round) |");
  print("|---|---|---|---|---|---|---|");
  for (const c of routeCases) {
    print(`| ${c.server.name} | ${ROUTES[c.route]} | ${c.clients} | ${median(c.runs, "p50").toFixed(2)} | ${median(c.runs, "p99").toFixed(2)} | ${median(c.runs, "rps").toFixed(0)} | ${JSON.stringify(c.runs.at(-1).statuses)} |`);
    if (c.runs.some((r) => Object.keys(r.statuses).some((s) => s !== "200"))) failed = true;
  }
  const routeP50 = (server, route) => median(routeCases.find((c) => c.server === server && c.route === route && c.clients === 1).runs, "p50");
  print();
  for (const [server, label] of [[servers[0], "durable"], [servers[1], "kv"]]) {
    print(`one-time route adds ${(routeP50(server, "one_time") - routeP50(server, "plain")).toFixed(2)} ms p50 over a plain route (${label}, 1 client)`);
  }

  // A token never seen before: Tollgate (durable) and the library, interleaved.
  const seers = [servers[0], library];
  const sightCases = [];
  for (const sight of Object.keys(SIGHTS)) for (const clients of CLIENTS) for (const server of seers) sightCases.push({ server, sight, clients, runs: [] });
  for (const server of seers) for (const sight of Object.keys(SIGHTS)) await load(server, await server.firstSight[sight](WARMUP), Math.max(...CLIENTS));
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of sightCases) c.runs.push(await load(c.server, await c.server.firstSight[c.sight](REQUESTS), c.clients));
  }
  print(`\nA token never seen before: GET /api/x with a fresh access token per request, beside each server's own request without a token, ${REQUESTS} requests per case × ${ROUNDS} round${ROUNDS > 1 ? "s" : ""}, keep-alive, loopback, plain workerd (Miniflare); medians over rounds\n`);
  print("| server | request | clients | p50 ms | p99 ms | req/s | statuses (last round) |");
  print("|---|---|---|---|---|---|---|");
  for (const c of sightCases) {
    print(`| ${c.server.name} | ${SIGHTS[c.sight](c.server === library)} | ${c.clients} | ${median(c.runs, "p50").toFixed(2)} | ${median(c.runs, "p99").toFixed(2)} | ${median(c.runs, "rps").toFixed(0)} | ${JSON.stringify(c.runs.at(-1).statuses)} |`);
    if (c.runs.some((r) => r.unexpected > 0)) failed = true;
  }
  const sightP50 = (server, sight) => median(sightCases.find((c) => c.server === server && c.sight === sight && c.clients === 1).runs, "p50");
  const firstSight = (server) => sightP50(server, "fresh_token") - sightP50(server, "without_token");
  print(`\na fresh token adds, p50 with 1 client: ${durable.name} ${firstSight(durable).toFixed(2)} ms, ${library.name} ${firstSight(library).toFixed(2)} ms`);
  print(`\n(${workerLogLines} log lines of the workers dropped; codes, refresh tokens, one-time tokens and access tokens were issued untimed before each case)`);
  if (failed) print("some timed requests did not answer 200: see the statuses column");
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  agent.destroy();
  await Promise.allSettled(stoppers.map((stop) => stop()));
  origin?.server.closeAllConnections();
  origin?.server.close();
}
process.exit(failed ? 1 : 0);

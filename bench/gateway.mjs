// Benchmark: the gateway in workerd (wrangler dev) against a local origin, loopback only.
//   node bench/gateway.mjs [--requests 2000] [--concurrency 16] [--baseline <build dir>]
// Compares, in one run: a separate pass-through worker (bench/passthrough-worker.js: forwards
// to the same origin, verifies nothing), a public route of Tollgate (forwarded unverified), a
// valid token served from the verified-token cache, valid tokens never seen before (signature
// + claims + revocation read), a tampered token (refused), and a DPoP-bound token with a fresh
// proof per request (RFC 9449: proof signature, binding, jti written to the coordinator).
// Reports requests/s and p50/p99 latency per case; medians of interleaved rounds. Under load
// (16 clients on 2 cores) latency is mostly queueing: every extra CPU microsecond per request
// is paid ~16 times in p50. So the latency Tollgate *adds* is measured a second time with one
// client at a time, where a request's latency is its own cost. `--baseline` runs a second
// build (another commit's build/ directory) beside this one in workerd, interleaved, so that a
// change is measured against what it replaces in the same run.
import http from "node:http";
import { performance } from "node:perf_hooks";
import { SignJWT, importJWK } from "jose";
import { cli, startWorker } from "../tests/e2e/harness.mjs";
import { calculateJwkThumbprint } from "jose";
import * as tollgate from "../tests/pkg/node_modules/tollgate/dist/node.mjs";
import { startOrigin } from "../scripts/demo-origin.mjs";
import { startWorkerd } from "./workerd.mjs";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const REQUESTS = arg("requests", 2000);
const UNLOADED = arg("unloaded", 600);
const CONCURRENCY = arg("concurrency", 16);
const ROUNDS = arg("rounds", 3);
const baselineAt = process.argv.indexOf("--baseline");
const BASELINE = baselineAt === -1 ? null : process.argv[baselineAt + 1];

const origin = await startOrigin();
const set = JSON.parse(cli(["keygen", "--alg", "ES256", "--kid", "bench", "--set"]).stdout);
const worker = await startWorker({
  secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(set) },
  vars: {
    ORIGIN_URL: origin.url,
    TOLLGATE_CONFIG: JSON.stringify({ issuer: "https://bench.test", audiences: ["demo"], routes: [{ prefix: "/public", auth: "public" }, { prefix: "/api" }] }),
  },
});
origin.requests.length = 0;
// The pepper: DPoP's jti records are keyed hashes in the coordinator, as one-time tokens are.
const PEPPER = "bench-pepper-0123456789abcdef0123456789";
const quiet = await startWorker({
  secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(set), TOLLGATE_PEPPER: PEPPER },
  vars: { ORIGIN_URL: origin.url, TOLLGATE_CONFIG: JSON.stringify({ issuer: "https://bench.test", audiences: ["demo"], routes: [{ prefix: "/public", auth: "public" }, { prefix: "/api" }], logDecisions: "denials" }) },
});
const passthrough = await startWorker({ main: new URL("./passthrough-worker.js", import.meta.url).pathname, vars: { ORIGIN_URL: origin.url }, kv: false, coordinator: false });
const key = await importJWK(set.keys[0], "ES256");
const sign = () => new SignJWT({ scope: "read" }).setProtectedHeader({ alg: "ES256", kid: "bench", typ: "at+jwt" }).setIssuer("https://bench.test").setAudience("demo").setSubject("alice").setJti(crypto.randomUUID()).setIssuedAt().setExpirationTime("10m").sign(key);
const valid = await sign();
const fresh = [];
for (let i = 0; i < (REQUESTS + UNLOADED) * ROUNDS; i++) fresh.push(await sign());
// DPoP: the client's key, a token bound to it, and a fresh proof per request (made before the
// request's clock starts: see request()).
const clientKey = tollgate.generateKeyPairSync("ES256").privateJwk;
const { d: _d, ...clientPublic } = clientKey;
const jkt = await calculateJwkThumbprint(clientPublic);
const bound = await new SignJWT({ scope: "read", cnf: { jkt } }).setProtectedHeader({ alg: "ES256", kid: "bench", typ: "at+jwt" }).setIssuer("https://bench.test").setAudience("demo").setSubject("alice").setJti(crypto.randomUUID()).setIssuedAt().setExpirationTime("30m").sign(key);
const dpopFor = (target, path) => async () => ({ token: bound, proof: await tollgate.createDpopProof(clientKey, { method: "GET", url: target.url + path, accessToken: bound }) });
const [h, p, s] = valid.split(".");
const tampered = `${h}.${p}.${s.startsWith("A") ? "B" : "A"}${s.slice(1)}`;

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
function request(path, token, target = worker) {
  const url = new URL(target.url);
  return new Promise((ok, fail) => {
    const started = performance.now();
    const headers = typeof token === "object" ? { authorization: `DPoP ${token.token}`, dpop: token.proof } : token ? { authorization: `Bearer ${token}` } : {};
    const req = http.request({ host: url.hostname, port: url.port, path, agent, headers }, (res) => {
      res.resume();
      res.on("end", () => ok({ status: res.statusCode, ms: performance.now() - started }));
    });
    req.on("error", fail);
    req.end();
  });
}

async function load(path, tokenFor, target = worker, { clients = CONCURRENCY, requests = REQUESTS } = {}) {
  const latencies = [];
  let next = 0;
  const started = performance.now();
  const statuses = new Map();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < requests) {
        const i = next++;
        const { status, ms } = await request(path, await tokenFor(i), target);
        latencies.push(ms);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (f) => latencies[Math.min(latencies.length - 1, Math.floor(f * latencies.length))];
  return { rps: requests / seconds, p50: q(0.5), p99: q(0.99), statuses: Object.fromEntries(statuses) };
}

let freshIndex = 0;
const CASES = [
  ["separate pass-through worker (no Tollgate)", "/public/x", () => undefined, passthrough],
  ["Tollgate public route (forwarded, not verified)", "/public/x", () => undefined],
  ["valid token, verified-token cache hit", "/api/x", () => valid],
  ["valid token, cache hit, logDecisions = denials", "/api/x", () => valid, quiet],
  ["valid token, first sight (verify + revocation read)", "/api/x", () => fresh[freshIndex++]],
  ["tampered token (401)", "/api/x", () => tampered],
];
await load("/api/x", () => valid); // warm up
await load("/api/x", () => valid, quiet);
const results = CASES.map(() => []);
for (let round = 0; round < ROUNDS; round++) {
  for (const [i, [, path, tokenFor, target]] of CASES.entries()) results[i].push(await load(path, tokenFor, target));
}
const median = (xs, k) => [...xs].map((x) => x[k]).sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`\n${REQUESTS} requests × ${ROUNDS} rounds, ${CONCURRENCY} concurrent, keep-alive, loopback; medians\n`);
console.log("| case | requests/s | p50 ms | p99 ms | statuses (last round) |");
console.log("|---|---|---|---|---|");
const base = { p50: median(results[0], "p50"), p99: median(results[0], "p99") };
for (const [i, [name]] of CASES.entries()) {
  const r = results[i];
  console.log(`| ${name} | ${median(r, "rps").toFixed(0)} | ${median(r, "p50").toFixed(2)} | ${median(r, "p99").toFixed(2)} | ${JSON.stringify(r.at(-1).statuses)} |`);
}
const added = (i) => `p50 ${(median(results[i], "p50") - base.p50).toFixed(2)} ms, p99 ${(median(results[i], "p99") - base.p99).toFixed(2)} ms`;
console.log(`\nadded over the pass-through worker: cache hit ${added(2)}; cache hit with logDecisions = denials ${added(3)}; first sight ${added(4)}`);
console.log("(under wrangler dev every console.log goes through the inspector to wrangler, which is what logging costs here)");

/**
 * Runs `cases` (name, path, token, target) interleaved for ROUNDS rounds with `clients` at once
 * and prints requests/s, p50/p99, what each adds over the first case, and workerd CPU/request.
 */
async function compare(title, cases, { clients, requests }) {
  const runs = cases.map(() => []);
  const cpu = cases.map(() => 0); // workerd CPU ms, summed over the rounds
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, [, path, tokenFor, target]] of cases.entries()) {
      const before = target.cpuMs();
      runs[i].push(await load(path, tokenFor, target, { clients, requests }));
      cpu[i] += target.cpuMs() - before;
    }
  }
  const perRequest = (i) => (1000 * cpu[i]) / (requests * ROUNDS); // µs
  console.log(`\n${title}: ${clients} client${clients > 1 ? "s" : ""}, ${requests} requests × ${ROUNDS} rounds, keep-alive, loopback; medians\n`);
  console.log("| case | requests/s | p50 ms | p99 ms | added p50 ms | added p99 ms | workerd CPU µs/request | added CPU µs |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const [i, [name]] of cases.entries()) {
    const [p50, p99] = [median(runs[i], "p50"), median(runs[i], "p99")];
    const extra = i === 0 ? "— | —" : `${(p50 - median(runs[0], "p50")).toFixed(3)} | ${(p99 - median(runs[0], "p99")).toFixed(3)}`;
    const addedCpu = i === 0 ? "—" : (perRequest(i) - perRequest(0)).toFixed(0);
    console.log(`| ${name} | ${median(runs[i], "rps").toFixed(0)} | ${p50.toFixed(3)} | ${p99.toFixed(3)} | ${extra} | ${perRequest(i).toFixed(0)} | ${addedCpu} |`);
  }
}

// One client at a time: the latency a request pays for the gateway itself.
await compare("wrangler dev", [
  ["separate pass-through worker (no Tollgate)", "/public/x", () => undefined, passthrough],
  ["Tollgate public route, logDecisions = denials (the worker's fixed cost)", "/public/x", () => undefined, quiet],
  ["valid token, cache hit, logDecisions = denials", "/api/x", () => valid, quiet],
  ["valid token, first sight, logDecisions = denials", "/api/x", () => fresh[freshIndex++], quiet],
  ["tampered token (401), logDecisions = denials", "/api/x", () => tampered, quiet],
  ["DPoP-bound token, cache hit + a fresh proof (RFC 9449), logDecisions = denials", "/api/x", dpopFor(quiet, "/api/x"), quiet],
], { clients: 1, requests: UNLOADED });

// The same worker in workerd with no inspector attached (bench/workerd.mjs), as in production.
const plainVars = { ORIGIN_URL: origin.url, TOLLGATE_CONFIG: JSON.stringify({ issuer: "https://bench.test", audiences: ["demo"], routes: [{ prefix: "/public", auth: "public" }, { prefix: "/api" }], logDecisions: "none" }) };
const plain = await startWorkerd({ secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(set), TOLLGATE_PEPPER: PEPPER }, vars: plainVars });
// The same, without the signed origin assertion (originAssertion = false): what it costs.
const noAssertionVars = { ...plainVars, TOLLGATE_CONFIG: JSON.stringify({ ...JSON.parse(plainVars.TOLLGATE_CONFIG), originAssertion: false }) };
const plainNoAssertion = await startWorkerd({ secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(set), TOLLGATE_PEPPER: PEPPER }, vars: noAssertionVars });
const baseline = BASELINE && (await startWorkerd({ main: `${BASELINE}/index.js`, secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(set), TOLLGATE_PEPPER: PEPPER }, vars: plainVars }));
const plainPassthrough = await startWorkerd({ main: new URL("./passthrough-worker.js", import.meta.url).pathname, vars: { ORIGIN_URL: origin.url }, kv: false, coordinator: false });
const plainFresh = [];
for (let i = 0; i < (baseline ? 3 : 2) * (REQUESTS + UNLOADED) * ROUNDS; i++) plainFresh.push(await sign());
let plainIndex = 0;
await load("/api/x", () => valid, plain); // warm up
await load("/api/x", () => valid, plainNoAssertion);
if (baseline) await load("/api/x", () => valid, baseline);
const plainCases = [
  ["separate pass-through worker (no Tollgate)", "/public/x", () => undefined, plainPassthrough],
  ["Tollgate public route (the worker's fixed cost)", "/public/x", () => undefined, plain],
  ["valid token, cache hit (revocation answer remembered)", "/api/x", () => valid, plain],
  ["valid token, first sight (WebCrypto ES256 + the revocation entries in one KV read)", "/api/x", () => plainFresh[plainIndex++], plain],
  ["valid token, cache hit, originAssertion = false", "/api/x", () => valid, plainNoAssertion],
  ["valid token, first sight, originAssertion = false", "/api/x", () => plainFresh[plainIndex++], plainNoAssertion],
  ["tampered token (401)", "/api/x", () => tampered, plain],
  ["DPoP-bound token, cache hit + a fresh proof (jti to the coordinator)", "/api/x", dpopFor(plain, "/api/x"), plain],
  ...(baseline
    ? [
        ["baseline build: valid token, cache hit", "/api/x", () => valid, baseline],
        ["baseline build: valid token, first sight", "/api/x", () => plainFresh[plainIndex++], baseline],
        ["baseline build: DPoP-bound token, cache hit + a fresh proof", "/api/x", dpopFor(baseline, "/api/x"), baseline],
      ]
    : []),
];
await compare("workerd without an inspector (Miniflare), logDecisions = none", plainCases, { clients: CONCURRENCY, requests: REQUESTS });
await compare("workerd without an inspector (Miniflare), logDecisions = none", plainCases, { clients: 1, requests: UNLOADED });
console.log("\n(CPU: user + system time of the workerd processes, from /proc, 10 ms ticks over all rounds. Under Miniflare the CPU of every workerd it runs is counted, both workers' included, so compare the added column.)");
await plain.stop();
await plainNoAssertion.stop();
await plainPassthrough.stop();
if (baseline) await baseline.stop();
agent.destroy();
await worker.stop();
await passthrough.stop();
await quiet.stop();
origin.server.close();

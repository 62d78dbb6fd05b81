// The worker's CPU per request, two builds in one Node process: whether a build change makes
// requests slower, finer than bench/gateway.mjs can tell (its A/A drift in workerd is up to
// 0.8 ms p50, more than the whole wasm share of a request).
//   node bench/worker-cpu.mjs <build dir> [<other build dir>] [--batches 20]
// Each build's index.js is imported as workerd would load it: its wasm compiled from the file,
// `cloudflare:workers` a bare WorkerEntrypoint. The fetch handlers are called directly, the
// builds alternating in batches of 100 requests, in either order, and the CPU time of each batch
// (process.cpuUsage) is divided by its requests; medians over the batches. WebCrypto is Node's
// and real. KV answers "absent" from memory and the origin answers 200 from memory: both are
// I/O in workerd, so neither is what this measures. Pass one directory twice for an A/A run:
// its spread is the noise to read the A/B against.
import { register } from "node:module";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { SignJWT, importJWK } from "jose";
import { cli } from "../tests/e2e/harness.mjs";

const hooks = `
export async function resolve(specifier, context, next) {
  if (specifier === "cloudflare:workers") {
    return { url: "data:text/javascript,export class WorkerEntrypoint { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }", shortCircuit: true };
  }
  if (specifier.endsWith(".wasm")) {
    const path = new URL(specifier, context.parentURL).pathname;
    const source = "import { readFileSync } from 'node:fs'; export default new WebAssembly.Module(readFileSync(" + JSON.stringify(path) + "));";
    return { url: "data:text/javascript," + encodeURIComponent(source), shortCircuit: true };
  }
  return next(specifier, context);
}`;
register("data:text/javascript," + encodeURIComponent(hooks));
globalThis.addEventListener ??= () => {};

const batchesAt = process.argv.indexOf("--batches");
const BATCHES = batchesAt === -1 ? 20 : Number(process.argv[batchesAt + 1]);
const dirs = process.argv.slice(2).filter((a, i, all) => a !== "--batches" && all[i - 1] !== "--batches");
if (dirs.length === 0) throw new Error("usage: node bench/worker-cpu.mjs <build dir> [<other build dir>] [--batches 20]");
const BATCH = 100;

const keys = JSON.parse(cli(["keygen", "--alg", "ES256", "--kid", "bench", "--set"]).stdout);
const env = () => ({
  TOLLGATE_SIGNING_KEYS: JSON.stringify(keys),
  TOLLGATE_PEPPER: "bench-pepper-0123456789abcdef0123456789",
  ORIGIN_URL: "http://origin.invalid",
  TOLLGATE_KV: { get: async () => null, put: async () => {}, delete: async () => {} },
  TOLLGATE_CONFIG: JSON.stringify({ issuer: "https://bench.test", audiences: ["demo"], consistency: "kv", logDecisions: "none", routes: [{ prefix: "/public", auth: "public" }, { prefix: "/api" }] }),
});
globalThis.fetch = async () => new Response("ok");
const log = console.log;
console.log = () => {}; // the workers' own request logs

// The same directory twice is two module instances: a query string makes a second URL.
const workers = [];
for (const [i, dir] of dirs.entries()) {
  const { default: Worker } = await import(`${pathToFileURL(resolve(dir, "index.js")).href}?${i}`);
  workers.push(new Worker({ waitUntil() {}, passThroughOnException() {} }, env()));
}

const key = await importJWK(keys.keys[0], "ES256");
const sign = () => new SignJWT({ scope: "read" }).setProtectedHeader({ alg: "ES256", kid: "bench", typ: "at+jwt" }).setIssuer("https://bench.test").setAudience("demo").setSubject("alice").setJti(crypto.randomUUID()).setIssuedAt().setExpirationTime("10m").sign(key);
const valid = await sign();
const fresh = [];
for (let i = 0; i < BATCH * (BATCHES + 1) * workers.length; i++) fresh.push(await sign());

const CASES = {
  "public route": ["/public/x", () => undefined, 200],
  "cache hit": ["/api/x", () => valid, 200],
  "first sight (ES256 + revocation reads)": ["/api/x", () => fresh.pop(), 200],
  "tampered token": ["/api/x", () => `${valid.slice(0, -3)}AAA`, 401],
};
async function run(worker, [path, token, status]) {
  const t = token();
  const res = await worker.fetch(new Request(`https://gw.test${path}`, { headers: t ? { authorization: `Bearer ${t}` } : {} }));
  await res.arrayBuffer();
  if (res.status !== status) throw new Error(`${path}: ${res.status}, expected ${status}`);
}

for (const worker of workers) for (const c of Object.values(CASES)) for (let i = 0; i < BATCH; i++) await run(worker, c); // warm-up
const cpu = workers.map(() => Object.fromEntries(Object.keys(CASES).map((name) => [name, []])));
for (let b = 0; b < BATCHES; b++) {
  for (const [name, c] of Object.entries(CASES)) {
    const order = b % 2 ? [...workers.keys()].reverse() : [...workers.keys()];
    for (const w of order) {
      const before = process.cpuUsage();
      for (let i = 0; i < BATCH; i++) await run(workers[w], c);
      const used = process.cpuUsage(before);
      cpu[w][name].push((used.user + used.system) / BATCH);
    }
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
log(`CPU µs per request (Node ${process.version}), median of ${BATCHES} alternating batches of ${BATCH}\n`);
log(`| case | ${dirs.join(" | ")} |`);
log(`|---|${dirs.map(() => "---").join("|")}|`);
for (const name of Object.keys(CASES)) log(`| ${name} | ${cpu.map((c) => median(c[name]).toFixed(0)).join(" | ")} |`);

// The worker's CPU per request, two builds in one Node process: whether a build change makes
// requests slower, finer than bench/gateway.mjs can tell (its A/A drift in workerd is up to
// 0.8 ms p50, more than the whole wasm share of a request).
//   node bench/worker-cpu.mjs <build dir> [<other build dir>] [--batches 20]
// Each build is loaded as workerd would load it (bench/worker-in-node.mjs: WebCrypto real, KV
// and origin answered from memory). The fetch handlers are called directly, the builds
// alternating in batches of 100 requests, in either order, and the CPU time of each batch
// (process.cpuUsage) is divided by its requests; medians over the batches. Pass one directory
// twice for an A/A run: its spread is the noise to read the A/B against.
import { loadWorker, signToken, request } from "./worker-in-node.mjs";

const batchesAt = process.argv.indexOf("--batches");
const BATCHES = batchesAt === -1 ? 20 : Number(process.argv[batchesAt + 1]);
const dirs = process.argv.slice(2).filter((a, i, all) => a !== "--batches" && all[i - 1] !== "--batches");
if (dirs.length === 0) throw new Error("usage: node bench/worker-cpu.mjs <build dir> [<other build dir>] [--batches 20]");
const BATCH = 100;

const log = console.log;
console.log = () => {}; // the workers' own request logs

// The same directory twice is two module instances.
const workers = [];
for (const [i, dir] of dirs.entries()) workers.push(await loadWorker(dir, i));

const valid = await signToken();
const fresh = [];
for (let i = 0; i < BATCH * (BATCHES + 1) * workers.length; i++) fresh.push(await signToken());

const CASES = {
  "public route": ["/public/x", () => undefined, 200],
  "cache hit": ["/api/x", () => valid, 200],
  "first sight (ES256 + revocation reads)": ["/api/x", () => fresh.pop(), 200],
  "tampered token": ["/api/x", () => `${valid.slice(0, -3)}AAA`, 401],
};
const run = (worker, [path, token, status]) => request(worker, path, token(), status);

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

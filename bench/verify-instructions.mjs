// Instructions per stubbed verify in Node, counted by valgrind (callgrind), for one or more
// package builds: the machine's timing noise (BENCHMARKS.md) hides changes of a few percent,
// and an instruction count does not drift with the neighbours' load. Each run is one process
// under valgrind: 30,000 warm-up verifies, then N counted ones between two calls of
// process.resourceUsage(), where callgrind dumps its counters (--dump-before), so start-up
// and warm-up stay out of the count. Divided by N, it is what one verify executes once V8's
// tiers have settled: the wasm core, its JavaScript wrapper, the crossing, JSON.parse of the
// answer. The signature check is stubbed (answers "valid"), as in bench/overhead.mjs. Needs
// valgrind on PATH.
//   node bench/verify-instructions.mjs [--n 5000] [dist ...]   (default: pkg/dist)
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const WARMUP = 30_000;
// The same work in every run: no background threads, the wasm compiled by the optimising tier
// before the first call (V8 otherwise tiers functions up while they run, and that compile
// lands in the counted window in one run and not in the next), a fixed GC schedule, and a
// full collection just before the window.
const V8_FLAGS = ["--expose-gc", "--predictable", "--no-wasm-dynamic-tiering", "--no-wasm-lazy-compilation", "--predictable-gc-schedule"];
const ISSUER = "https://issuer.bench";
const AUDIENCE = "api";
const PUBLIC_JWK = { alg: "ES256", crv: "P-256", kid: "k", kty: "EC", use: "sig", x: "HSbZyhcIAdkhYLTMAb1VYzb3TdpBWD7VmYSTbcc_RDQ", y: "Jl3j4BnvF56dVT_1SdR3qDQRG9gtMCqIk0XKL_hjX2Y" };
// {"scope":"read","iss":"https://issuer.bench","sub":"alice","aud":"api","iat":1795950000,"exp":4102444800,"jti":"ZtZ2iVCztCLD_jMzzDi93A"}
const TOKEN = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsiLCJ0eXAiOiJKV1QifQ.eyJzY29wZSI6InJlYWQiLCJpc3MiOiJodHRwczovL2lzc3Vlci5iZW5jaCIsInN1YiI6ImFsaWNlIiwiYXVkIjoiYXBpIiwiaWF0IjoxNzk1OTUwMDAwLCJleHAiOjQxMDI0NDQ4MDAsImp0aSI6Ilp0WjJpVkN6dENMRF9qTXp6RGk5M0EifQ.aGuBOysKBXW6MAwxF4FDrN2TP7KyveBJZykr5D4h7ZojZVW_5vTbP3c6WecZga8C4Puh4bRTL_X-AvyEvfk4hg";

if (process.argv[2] === "--child") {
  // One build, ES256 with the host's signature check stubbed: WARMUP + N verifies.
  const [dir, n] = [process.argv[3], Number(process.argv[4])];
  const { createApi } = await import("../pkg/entries/api/index.js");
  const { nodeHost } = await import("../pkg/entries/node-crypto.js");
  const core = await import(`${dir}/tollgate_core.js`);
  core.initSync({ module: readFileSync(`${dir}/tollgate_core_bg.wasm`) });
  const api = createApi(core, { ...nodeHost, verifier: (jwk) => (jwk.kty === "oct" ? null : () => true) });
  // One fixed token and key (exp in 2100), so every run and build verifies the same bytes.
  const verifier = new api.Verifier({ keys: [PUBLIC_JWK] }, { issuer: ISSUER, audience: AUDIENCE });
  let sum = 0;
  for (let i = 0; i < WARMUP; i++) sum += verifier.verifySync(TOKEN).payload.exp & 1;
  globalThis.gc(); // every window starts from the same heap
  process.resourceUsage(); // callgrind dumps here
  for (let i = 0; i < n; i++) sum += verifier.verifySync(TOKEN).payload.exp & 1;
  process.resourceUsage(); // and here
  process.stdout.write(String(sum));
  process.exit(0);
}

const args = process.argv.slice(2);
const at = args.indexOf("--n");
const n = at === -1 ? 5_000 : Number(args.splice(at, 2)[1]);
const dirs = args.length ? args : [fileURLToPath(new URL("../pkg/dist", import.meta.url))];
const self = fileURLToPath(import.meta.url);
try {
  execFileSync("valgrind", ["--version"], { stdio: "ignore" });
} catch {
  console.error("valgrind is not on PATH");
  process.exit(1);
}
/** Instructions callgrind counted between the child's two marks. */
function count(dir) {
  const out = mkdtempSync(join(tmpdir(), "tollgate-callgrind-"));
  try {
    const run = spawnSync("valgrind", ["--tool=callgrind", `--callgrind-out-file=${out}/out`, "--dump-before=*ResourceUsage*", process.execPath, ...V8_FLAGS, self, "--child", dir, String(n)], { encoding: "utf8" });
    if (run.status !== 0) throw new Error(`valgrind failed for ${dir}:\n${run.stderr.slice(-2000)}`);
    // Part 2 holds what ran from the first mark to the second.
    const part = readFileSync(`${out}/out.2`, "utf8");
    const totals = /^(?:totals|summary): (\d+)/m.exec(part);
    if (!totals) throw new Error(`no totals in callgrind's second part for ${dir}`);
    return Number(totals[1]);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
// Runs of one build agree to a few instructions per verify, in one of two modes about 7 to 8k
// apart: which one a run lands in was not found (the same build gave 28.7k twice and 36.2k
// once). Three runs of each build, interleaved, are shown: compare builds within a mode.
const runs = new Map(dirs.map((d) => [resolve(d), []]));
for (let round = 0; round < 3; round++) {
  for (const [dir, counts] of runs) counts.push(Math.round(count(dir) / n));
}
console.log(`| build | instructions per verify (ES256, signature stubbed), three runs |\n|---|---|`);
for (const [dir, counts] of runs) console.log(`| ${dir} | ${counts.join(", ")} |`);

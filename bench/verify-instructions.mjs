// Instructions per stubbed verify in Node, counted by valgrind (callgrind), for one or more
// package builds: the machine's timing noise (BENCHMARKS.md) hides changes of a few percent,
// and an instruction count does not drift with the neighbours' load. Each build runs twice
// under valgrind, with 30,000 warm-up verifies then 0 or N more; the difference divided by N
// is what one verify executes once V8's optimising tiers have settled: the wasm core, its
// JavaScript wrapper, the crossing, JSON.parse of the answer. The signature check is stubbed
// (answers "valid"), as in bench/overhead.mjs. Needs valgrind on PATH.
//   node bench/verify-instructions.mjs [--n 20000] [dist ...]   (default: pkg/dist)
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

const WARMUP = 30_000;
const ISSUER = "https://issuer.bench";
const AUDIENCE = "api";

if (process.argv[2] === "--child") {
  // One build, ES256 with the host's signature check stubbed: WARMUP + N verifies.
  const [dir, n] = [process.argv[3], Number(process.argv[4])];
  const { createApi } = await import("../pkg/entries/api/index.js");
  const { nodeHost } = await import("../pkg/entries/node-crypto.js");
  const core = await import(`${dir}/tollgate_core.js`);
  core.initSync({ module: readFileSync(`${dir}/tollgate_core_bg.wasm`) });
  const api = createApi(core, { ...nodeHost, verifier: (jwk) => (jwk.kty === "oct" ? null : () => true) });
  const { privateJwk, publicJwk } = api.generateKeyPairSync("ES256");
  // A fixed payload, so every build verifies the same bytes.
  const now = Math.floor(Date.now() / 1000);
  const claims = { scope: "read", iss: ISSUER, sub: "alice", aud: AUDIENCE, iat: now, exp: now + 86_400, jti: "ZtZ2iVCztCLD_jMzzDi93A" };
  const token = api.signSync(claims, { ...privateJwk, kid: "k" });
  const verifier = new api.Verifier({ keys: [{ ...publicJwk, kid: "k" }] }, { issuer: ISSUER, audience: AUDIENCE });
  let sum = 0;
  for (let i = 0; i < WARMUP + n; i++) sum += verifier.verifySync(token).payload.exp & 1;
  process.stdout.write(String(sum));
  process.exit(0);
}

const args = process.argv.slice(2);
const at = args.indexOf("--n");
const n = at === -1 ? 20_000 : Number(args.splice(at, 2)[1]);
const dirs = args.length ? args : [fileURLToPath(new URL("../pkg/dist", import.meta.url))];
const self = fileURLToPath(import.meta.url);
try {
  execFileSync("valgrind", ["--version"], { stdio: "ignore" });
} catch {
  console.error("valgrind is not on PATH");
  process.exit(1);
}
/** Instructions valgrind counted for one child run. */
function count(dir, verifies) {
  const run = spawnSync("valgrind", ["--tool=callgrind", "--callgrind-out-file=/dev/null", process.execPath, "--single-threaded", self, "--child", dir, String(verifies)], { encoding: "utf8" });
  const refs = /Collected : (\d+)/.exec(run.stderr);
  if (run.status !== 0 || !refs) throw new Error(`valgrind failed for ${dir}:\n${run.stderr.slice(-2000)}`);
  return Number(refs[1]);
}
console.log(`| build | instructions per verify (ES256, signature stubbed) |\n|---|---|`);
for (const dir of dirs.map((d) => resolve(d))) {
  const perVerify = (count(dir, n) - count(dir, 0)) / n;
  console.log(`| ${dir} | ${Math.round(perVerify)} |`);
}

// The wasm code a cold worker's first request makes V8 compile. V8 compiles a wasm function at
// its first call (lazy compilation, Liftoff), so a cold isolate's first request pays for
// compiling every function on its path that start-up (the state build) has not already run:
// that is most of what it costs beyond a pass-through worker's (BENCHMARKS.md §4). Unlike a
// timing, the byte count is the same on every run, so it shows what a change to the request
// path saves.
//   scripts/build-worker --names   (a build with names: without the flag, it strips them)
//   node bench/first-request.mjs [build dir, default build/guard/] [--top 20]
// One first-sight request (an ES256 token never seen, revocation reads, the origin assertion)
// runs in Node (bench/worker-in-node.mjs) under --trace-wasm; the functions it enters, and
// not the module's start-up before it, are summed by body size and charged to the step of the
// gateway that first called them.
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { functionsOf } from "./wasm-crates.mjs";

const START = "=== first request";
const END = "=== answered";

if (process.argv[2] === "--child") {
  const { loadWorker, signToken, request } = await import("./worker-in-node.mjs");
  const worker = await loadWorker(process.argv[3]);
  const token = await signToken();
  // Node's fetch classes and WebCrypto load lazily: use them once so that only the worker's
  // own work falls between the markers.
  await new Response("x").arrayBuffer();
  const ec = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, ec.publicKey, new Uint8Array(64), new Uint8Array(1));
  // Written at once, in order with V8's own trace lines (console.log to a pipe is asynchronous).
  writeSync(1, `${START}\n`);
  await request(worker, "/api/x", token, 200);
  writeSync(1, `${END}\n`);
  process.exit(0);
}

const topAt = process.argv.indexOf("--top");
const TOP = topAt === -1 ? 20 : Number(process.argv[topAt + 1]);
const dir = resolve(process.argv.slice(2).find((a, i, all) => !a.startsWith("--") && all[i - 1] !== "--top") ?? "build/guard");
const { imported, sizes, names } = functionsOf(`${dir}/index_bg.wasm`);
if (names.size === 0) throw new Error(`${dir}/index_bg.wasm has no function names: build it with worker-build alone (see the top of this file)`);

// The trace goes to a file: V8 writes it to stdout, and a pipe would fill and refuse writes.
const work = mkdtempSync(join(tmpdir(), "tollgate-first-request-"));
const traceFile = join(work, "trace.txt");
const out = openSync(traceFile, "w");
try {
  execFileSync(process.execPath, ["--trace-wasm", new URL(import.meta.url).pathname, "--child", dir], { stdio: ["ignore", out, "inherit"] });
} finally {
  closeSync(out);
}
const trace = readFileSync(traceFile, "utf8").split("\n");
rmSync(work, { recursive: true });
const from = trace.indexOf(START);
const to = trace.indexOf(END);
if (from < 0 || to < 0) throw new Error("the request did not complete: run it with --child to see why");

const plain = (name) => name.replace(/::h[0-9a-f]{16}$/, "");
const sizeOf = (index) => sizes[index - imported] ?? 0;
/** The gateway step a call belongs to: the frame below the router (or below `authorize`). */
function stepOf(stack) {
  const at = stack.findIndex((name) => name.endsWith("edge::route::{{closure}}"));
  if (at < 0) return "(the fetch glue, outside the router)";
  const [step, next] = [stack[at + 1], stack[at + 2]];
  if (step?.endsWith("gateway::authorize::{{closure}}") && next) return `authorize > ${next}`;
  return step ?? "(the router itself)";
}

const seen = new Set();
const byStep = new Map();
const functions = [];
let stack = [];
for (const line of trace.slice(from + 1, to)) {
  const m = /^\s*(\d+):\s+~wasm-function\[(\d+)\](?: "(.*)")?/.exec(line);
  if (!m) continue;
  const [depth, index] = [Number(m[1]), Number(m[2])];
  const name = plain(m[3] ?? names.get(index) ?? `function ${index}`);
  stack = [...stack.slice(0, depth - 1), name];
  if (seen.has(index)) continue;
  seen.add(index);
  const step = stepOf(stack);
  byStep.set(step, (byStep.get(step) ?? 0) + sizeOf(index));
  functions.push([sizeOf(index), name]);
}

const total = functions.reduce((sum, [size]) => sum + size, 0);
const all = sizes.reduce((sum, size) => sum + size, 0);
const kb = (n) => (n / 1000).toFixed(1);
const rows = (entries) => entries.sort((a, b) => b[0] - a[0]).slice(0, TOP).map(([size, name]) => `| ${name.replaceAll("|", "\\|")} | ${kb(size)} |`).join("\n");
console.log(`### What the first request compiles (${dir})

${seen.size} functions, ${kb(total)} KB of wasm code (${((100 * total) / all).toFixed(0)}% of the module's ${kb(all)} KB).

| gateway step that first called it | KB |
|---|---|
${rows([...byStep].map(([step, size]) => [size, step]))}

| function | KB |
|---|---|
${rows(functions)}`);

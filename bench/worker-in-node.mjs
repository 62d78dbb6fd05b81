// A worker build run in Node, as workerd would load it, for benchmarks that call its fetch
// handler directly (bench/worker-cpu.mjs, bench/first-request.mjs): `cloudflare:workers` is a
// bare WorkerEntrypoint and the wasm is compiled from the file. WebCrypto is Node's and real;
// KV answers "absent" and the origin answers 200, from memory (both are I/O in workerd).
import { register } from "node:module";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { SignJWT, importJWK } from "jose";
import { cli } from "../tests/e2e/harness.mjs";

const hooks = `
export async function resolve(specifier, context, next) {
  if (specifier === "cloudflare:workers") {
    return { url: "data:text/javascript,export class WorkerEntrypoint { constructor(ctx, env) { this.ctx = ctx; this.env = env; } } export const env = globalThis.benchWorkerEnv;", shortCircuit: true };
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
globalThis.fetch = async () => new Response("ok");

const keys = JSON.parse(cli(["keygen", "--alg", "ES256", "--kid", "bench", "--set"]).stdout);
const env = () => ({
  TOLLGATE_SIGNING_KEYS: JSON.stringify(keys),
  TOLLGATE_PEPPER: "bench-pepper-0123456789abcdef0123456789",
  ORIGIN_URL: "https://origin.invalid",
  // Absent, for one key or for a bulk get (an array of keys answers a Map, as Workers KV does).
  TOLLGATE_KV: { get: async (keys) => (Array.isArray(keys) ? new Map(keys.map((k) => [k, null])) : null), put: async () => {}, delete: async () => {} },
  TOLLGATE_CONFIG: JSON.stringify({ issuer: "https://bench.test", audiences: ["demo"], consistency: "kv", logDecisions: "none", routes: [{ prefix: "/public", auth: "public" }, { prefix: "/api" }] }),
});

/** A new instance of the worker in `dir` (`instance` tells two loads of one directory apart). */
export async function loadWorker(dir, instance = 0) {
  // What `import { env } from "cloudflare:workers"` gives at start-up.
  globalThis.benchWorkerEnv = env();
  const { default: Worker } = await import(`${pathToFileURL(resolve(dir, "index.js")).href}?${instance}`);
  return new Worker({ waitUntil() {}, passThroughOnException() {} }, env());
}

const key = await importJWK(keys.keys[0], "ES256");
/** A fresh access token the workers accept on /api (ES256, a new `jti` each time). */
export const signToken = () => new SignJWT({ scope: "read" }).setProtectedHeader({ alg: "ES256", kid: "bench", typ: "at+jwt" }).setIssuer("https://bench.test").setAudience("demo").setSubject("alice").setJti(crypto.randomUUID()).setIssuedAt().setExpirationTime("10m").sign(key);

/** One request to `worker`, its body read; throws unless the status is `status`. */
export async function request(worker, path, token, status) {
  const res = await worker.fetch(new Request(`https://gw.test${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} }));
  await res.arrayBuffer();
  if (res.status !== status) throw new Error(`${path}: ${res.status}, expected ${status}`);
}

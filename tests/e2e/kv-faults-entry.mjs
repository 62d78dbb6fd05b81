// A test entry point that runs the real Tollgate worker (build/issuer/index.js, the whole
// worker, unchanged) with its real local KV namespace and its real Durable Object coordinator
// behind fault switches, like a network fault proxy: KV reads and writes can fail or be slowed, coordinator calls can
// fail. `POST /__kv-faults?read=ok|fail|slow&write=ok|fail|slow|limited&ms=N&coordinator=ok|fail`
// sets the switches for this isolate; every other request goes to Tollgate. Used by
// faults.test.mjs only: the product never ships this file.
import { WorkerEntrypoint } from "cloudflare:workers";
import Tollgate from "../../build/issuer/index.js";

export { Coordinator } from "../../build/issuer/index.js";

const faults = { read: "ok", write: "ok", ms: 1500, coordinator: "ok" };
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

// `write=limited`: Cloudflare's rule that local KV does not enforce, one write a second per key
// (https://developers.cloudflare.com/kv/platform/limits/), refused with its error text.
const lastWrite = new Map();

async function gate(kind, key) {
  const mode = faults[kind];
  if (mode === "fail") throw new Error(`KV ${kind} failed (injected fault)`);
  if (mode === "slow") await sleep(faults.ms);
  if (mode === "limited") {
    const now = Date.now();
    if (now - (lastWrite.get(key) ?? -Infinity) < 1000) throw new Error("KV PUT failed: 429 Too Many Requests");
    lastWrite.set(key, now);
  }
}

// workers-rs accepts a KV binding by its constructor's name.
class KvNamespace {
  #real;
  constructor(real) {
    this.#real = real;
  }
  async get(key, options) {
    await gate("read");
    return this.#real.get(key, options);
  }
  async getWithMetadata(key, options) {
    await gate("read");
    return this.#real.getWithMetadata(key, options);
  }
  async list(options) {
    await gate("read");
    return this.#real.list(options);
  }
  async put(key, value, options) {
    await gate("write", key);
    return this.#real.put(key, value, options);
  }
  async delete(key) {
    await gate("write", key);
    return this.#real.delete(key);
  }
}

// workers-rs accepts a Durable Object namespace by its constructor's name too.
class DurableObjectNamespace {
  #real;
  constructor(real) {
    this.#real = real;
  }
  idFromName(name) {
    return this.#real.idFromName(name);
  }
  get(id, options) {
    const stub = this.#real.get(id, options);
    return {
      fetch: async (request, init) => {
        if (faults.coordinator === "fail") throw new Error("coordinator unavailable (injected fault)");
        return stub.fetch(request, init);
      },
    };
  }
}

export default class extends WorkerEntrypoint {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/__kv-faults" && request.method === "POST") {
      for (const name of ["read", "write", "coordinator"]) faults[name] = url.searchParams.get(name) ?? faults[name];
      faults.ms = Number(url.searchParams.get("ms") ?? faults.ms);
      return Response.json(faults);
    }
    const env = { ...this.env, TOLLGATE_KV: new KvNamespace(this.env.TOLLGATE_KV) };
    if (this.env.TOLLGATE_COORDINATOR) env.TOLLGATE_COORDINATOR = new DurableObjectNamespace(this.env.TOLLGATE_COORDINATOR);
    return new Tollgate(this.ctx, env).fetch(request);
  }
}

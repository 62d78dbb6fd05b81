// A test entry point that runs the real Tollgate worker (build/index.js, unchanged) with its
// real local KV namespace behind a fault switch, like a network fault proxy: reads and writes
// can fail or be slowed. `POST /__kv-faults?read=ok|fail|slow&write=ok|fail|slow&ms=N` sets
// the switch for this isolate; every other request goes to Tollgate. Used by faults.test.mjs
// only: the product never ships this file.
import { WorkerEntrypoint } from "cloudflare:workers";
import Tollgate from "../../build/index.js";

const faults = { read: "ok", write: "ok", ms: 1500 };
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

async function gate(kind) {
  const mode = faults[kind];
  if (mode === "fail") throw new Error(`KV ${kind} failed (injected fault)`);
  if (mode === "slow") await sleep(faults.ms);
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
    await gate("write");
    return this.#real.put(key, value, options);
  }
  async delete(key) {
    await gate("write");
    return this.#real.delete(key);
  }
}

export default class extends WorkerEntrypoint {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/__kv-faults" && request.method === "POST") {
      for (const name of ["read", "write"]) faults[name] = url.searchParams.get(name) ?? faults[name];
      faults.ms = Number(url.searchParams.get("ms") ?? faults.ms);
      return Response.json(faults);
    }
    const env = { ...this.env, TOLLGATE_KV: new KvNamespace(this.env.TOLLGATE_KV) };
    return new Tollgate(this.ctx, env).fetch(request);
  }
}

// The short form of the load test (tests/load/load.mjs): 50 clients for 15 s. Zero 5xx, zero
// wrong decisions, no client errors, a bounded wasm heap. Throughput and latency are reported,
// not asserted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runLoad } from "../load/load.mjs";

test("under concurrent mixed load: no 5xx and no wrong decision", async (t) => {
  const result = await runLoad({ clients: Number(process.env.LOAD_CLIENTS ?? 50), seconds: Number(process.env.LOAD_SECONDS ?? 15) });
  t.diagnostic(JSON.stringify(result));
  assert.equal(result.fiveHundreds, 0, JSON.stringify(result.wrongSamples));
  assert.equal(result.wrongDecisions, 0, JSON.stringify(result.wrongSamples));
  assert.equal(result.clientErrors, 0);
  assert.ok(result.requests > 100, `only ${result.requests} requests`);
  // Tollgate's own memory is the isolate's wasm heap; it must stay small under load. (workerd's
  // RSS under wrangler dev grows by about 60 KB a request even for a two-line JavaScript worker,
  // so it says nothing about Tollgate; it is reported, not asserted.)
  assert.ok(result.isolate.wasmMemoryBytes < 16 * 1024 * 1024, `wasm memory ${result.isolate.wasmMemoryBytes}`);
  for (const kind of ["valid", "expired", "tampered", "revoked", "token endpoint", "revocation"]) assert.ok(result.kinds[kind] > 0, kind);
});

// A worker in workerd through Miniflare's API, with no inspector attached: how the runtime runs
// in production. `wrangler dev` (the tests' harness) attaches its inspector to stream logs,
// and with a debugger attached V8 runs wasm in its debug tier and every console.log crosses to
// wrangler, so speed is measured here instead.
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import { ROOT } from "../tests/e2e/harness.mjs";

const compatibilityDate = readFileSync(join(ROOT, "wrangler.toml"), "utf8").match(/^compatibility_date\s*=\s*"([^"]+)"/m)[1];

/** CPU ms (user + system) of the workerd processes this Node process started. */
function workerdCpuMs() {
  const ps = execFileSync("ps", ["-o", "pid=,comm=", "--ppid", String(process.pid)], { encoding: "utf8" });
  let ticks = 0;
  for (const line of ps.split("\n").filter((l) => l.includes("workerd"))) {
    const fields = readFileSync(`/proc/${line.trim().split(/\s+/)[0]}/stat`, "utf8").split(") ")[1].split(" ");
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1000) / 100;
}

/** One worker's Miniflare options: `main` (an ES module worker, the .wasm files beside it). */
function workerOptions({ name, main, vars, secrets, kv, coordinator, hosts, issuer }) {
  return {
    name,
    modulesRoot: dirname(main),
    modules: [
      { type: "ESModule", path: main },
      ...readdirSync(dirname(main)).filter((f) => f.endsWith(".wasm")).map((f) => ({ type: "CompiledWasm", path: join(dirname(main), f) })),
    ],
    compatibilityDate,
    bindings: { ...vars, ...secrets },
    // One namespace id: both workers read and write the same local KV.
    kvNamespaces: kv ? { TOLLGATE_KV: "tollgate" } : {},
    durableObjects: coordinator
      ? { TOLLGATE_COORDINATOR: hosts ? { className: "Coordinator", useSQLite: true } : { className: "Coordinator", scriptName: issuer, useSQLite: true } }
      : {},
    ...(hosts ? {} : { serviceBindings: { TOLLGATE_ISSUER: issuer } }),
  };
}

/**
 * Starts Tollgate's two workers as deployed (README, "Two workers"): the guard, which serves
 * the returned URL, and the issuer behind its TOLLGATE_ISSUER binding; or, given `main`, that
 * one worker alone (an earlier build's single worker, a baseline). Text bindings and local KV.
 * `seed`: entries of a CLI --kv-file ({ key, value, expiration?, expiration_ttl?, metadata? }),
 * written into TOLLGATE_KV before the worker is returned.
 */
export async function startWorkerd({ main, vars = {}, secrets = {}, kv = true, coordinator = true, seed = [], inspectorPort } = {}) {
  const shared = { vars, secrets, kv, coordinator, issuer: "tollgate-issuer" };
  const workers = main
    ? [workerOptions({ ...shared, name: "tollgate", main, hosts: true })]
    : [
        workerOptions({ ...shared, name: "tollgate", main: join(ROOT, "build/guard/index.js"), hosts: false }),
        workerOptions({ ...shared, name: "tollgate-issuer", main: join(ROOT, "build/issuer/index.js"), hosts: true }),
      ];
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      // Only bench/first-request-profile.mjs sets it, and enables the Profiler domain alone.
      ...(inspectorPort ? { inspectorPort } : {}),
      workers,
    }),
  );
  const url = (await mf.ready).href.replace(/\/$/, "");
  if (seed.length > 0) {
    const namespace = await mf.getKVNamespace("TOLLGATE_KV");
    for (const { key, value, expiration, expiration_ttl: expirationTtl, metadata } of seed) await namespace.put(key, value, { expiration, expirationTtl, metadata });
  }
  return {
    url,
    fetch: (path, init) => fetch(url + path, { redirect: "manual", ...init }),
    cpuMs: workerdCpuMs,
    stop: () => mf.dispose(),
  };
}

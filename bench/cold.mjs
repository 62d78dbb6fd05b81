// Size and cold start: gzip size of the worker and of the npm package, time to import the
// package in a fresh Node process (wasm compile + instantiate), and the first request to a
// freshly started worker in workerd. Medians of 5. Prints Markdown.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { ROOT, cli, startWorker } from "../tests/e2e/harness.mjs";
import { table as crateTable } from "./wasm-crates.mjs";

const gz = (path) => gzipSync(readFileSync(path), { level: 9 }).length;
const walk = (dir, filter) => readdirSync(dir).flatMap((name) => {
  const path = join(dir, name);
  return statSync(path).isDirectory() ? walk(path, filter) : filter(name) ? [path] : [];
});
const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const workerFiles = walk(join(ROOT, "build"), (n) => n.endsWith(".js") || n.endsWith(".wasm"));
const pkgFiles = [...walk(join(ROOT, "pkg/dist"), (n) => !n.endsWith(".d.ts")), ...walk(join(ROOT, "pkg/entries"), () => true)];
const workerGz = workerFiles.reduce((s, f) => s + gz(f), 0);
const pkgGz = pkgFiles.reduce((s, f) => s + gz(f), 0);

const imports = [];
for (let i = 0; i < 5; i++) {
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", `const t = performance.now(); await import(${JSON.stringify(join(ROOT, "pkg/entries/node.js"))}); console.log(performance.now() - t);`]);
  imports.push(Number(String(out).trim()));
}

const keys = JSON.parse(cli(["keygen", "--alg", "ES256", "--set"]).stdout);
const firsts = [];
for (let i = 0; i < 3; i++) {
  const worker = await startWorker({ secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(keys) } });
  // startWorker waited for /healthz (the first request); measure a fresh isolate's next cold path:
  const t = performance.now();
  await (await worker.fetch("/.well-known/jwks.json")).text();
  firsts.push(performance.now() - t);
  await worker.stop();
}

console.log("| measure | value | budget |\n|---|---|---|");
console.log(`| worker (build/: index.js + wasm), gzip | ${kib(workerGz)} | 250 KiB |`);
console.log(`| npm package (dist + entries, no .d.ts), gzip | ${kib(pkgGz)} | 150 KiB |`);
console.log(`| import "tollgate" in a fresh Node process (compile + instantiate), median of 5 | ${median(imports).toFixed(1)} ms | 25 ms |`);
console.log(`| workerd: request after start-up (keys parsed on first use), median of 3 | ${median(firsts).toFixed(1)} ms | |`);

for (const [what, file] of [["worker", "worker-names.wasm"], ["npm package", "package-names.wasm"]]) {
  const path = join(ROOT, "bench/out", file);
  if (!existsSync(path)) continue;
  console.log(`\nWhere the ${what}'s wasm code goes, by crate (before wasm-opt; proportions):\n`);
  console.log(crateTable(path, 12));
}

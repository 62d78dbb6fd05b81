// Size and cold start: gzip size of the two workers (the guard, the issuer), of the npm package's files, and of what a Vite
// production build of a browser page emits for `import { verify } from "tollgate"` (the size a
// browser user pays) and for `import { verifySync } from "tollgate/sync"` (the pure-Rust entry), the time to import the package in a fresh Node process (wasm
// compile + instantiate), and the first request to a freshly started worker in workerd
// (Miniflare, no inspector) beside a three-line JS worker's. Medians of 5. Prints Markdown.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { build } from "vite";
import { ROOT, cli } from "../tests/e2e/harness.mjs";
import { startWorkerd } from "./workerd.mjs";
import { table as crateTable } from "./wasm-crates.mjs";

const gz = (path) => gzipSync(readFileSync(path), { level: 9 }).length;
const walk = (dir, filter) => readdirSync(dir).flatMap((name) => {
  const path = join(dir, name);
  return statSync(path).isDirectory() ? walk(path, filter) : filter(name) ? [path] : [];
});
const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const shapeGz = (shape) => walk(join(ROOT, "build", shape), (n) => n.endsWith(".js") || n.endsWith(".wasm")).reduce((s, f) => s + gz(f), 0);
const pkgFiles = [...walk(join(ROOT, "pkg/dist"), (n) => !n.endsWith(".d.ts")), ...walk(join(ROOT, "pkg/entries"), () => true)];
const guardGz = shapeGz("guard");
const issuerGz = shapeGz("issuer");
const pkgGz = pkgFiles.reduce((s, f) => s + gz(f), 0);

/** Gzip bytes of the JS and wasm a Vite production build of a page with this script emits. */
async function viteBundle(script) {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-size-"));
  try {
    mkdirSync(join(dir, "node_modules"));
    symlinkSync(join(ROOT, "pkg"), join(dir, "node_modules/tollgate"));
    writeFileSync(join(dir, "index.html"), `<!doctype html><script type="module" src="/main.js"></script>`);
    writeFileSync(join(dir, "main.js"), script);
    await build({ root: dir, logLevel: "error", build: { outDir: join(dir, "dist"), target: "es2022" } });
    return walk(join(dir, "dist"), (n) => n.endsWith(".js") || n.endsWith(".wasm")).reduce((sum, f) => sum + gz(f), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const viteVerifyGz = await viteBundle(`import { verify } from "tollgate";\nwindow.verify = verify;\n`);
const viteSyncGz = await viteBundle(`import { verifySync } from "tollgate/sync";\nwindow.verifySync = verifySync;\n`);

// What `import "tollgate"` loads in Node: the package's "node" + "import" export.
const nodeImport = JSON.parse(readFileSync(join(ROOT, "pkg/package.json"), "utf8")).exports["."].node.import;
const nodeEntry = join(ROOT, "pkg", typeof nodeImport === "string" ? nodeImport : nodeImport.default);
const imports = [];
for (let i = 0; i < 5; i++) {
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", `const t = performance.now(); await import(${JSON.stringify(nodeEntry)}); console.log(performance.now() - t);`]);
  imports.push(Number(String(out).trim()));
}

const keys = JSON.parse(cli(["keygen", "--alg", "ES256", "--set"]).stdout);
// The floor: a worker of three lines of JS that answers the same path with a small JSON body.
// Its first request is what Miniflare and workerd cost before any code of ours runs (its
// router, the isolate's first request), so a reader can tell the budget from the runtime.
const floorDir = mkdtempSync(join(tmpdir(), "tollgate-floor-"));
const floorMain = join(floorDir, "index.js");
writeFileSync(floorMain, `export default { fetch: () => Response.json({ keys: [] }) };\n`);
/** The first request to a freshly started worker, in ms. */
async function firstRequest(options) {
  const worker = await startWorkerd(options);
  try {
    const t = performance.now();
    await (await worker.fetch("/.well-known/jwks.json")).text();
    return performance.now() - t;
  } finally {
    await worker.stop();
  }
}
const firsts = [];
const floors = [];
for (let i = 0; i < 5; i++) {
  // Nothing has run in the worker yet: this request pays the isolate, the wasm's compile and
  // instantiation, the configuration and the keys. Interleaved with the floor, so both see
  // the same moment of a machine whose speed drifts.
  firsts.push(await firstRequest({ secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(keys) } }));
  floors.push(await firstRequest({ main: floorMain, kv: false, coordinator: false }));
}
rmSync(floorDir, { recursive: true, force: true });

console.log("| measure | value | budget |\n|---|---|---|");
console.log(`| worker in front of every request, the guard (build/guard: JS + wasm), gzip | ${kib(guardGz)} | 250 KiB |`);
console.log(`| the issuer behind it, the whole worker (build/issuer: JS + wasm), gzip | ${kib(issuerGz)} | |`);
console.log(`| npm package files (dist + entries, no .d.ts), gzip | ${kib(pkgGz)} | |`);
console.log(`| npm package in a browser: Vite production build of \`import { verify } from "tollgate"\` (JS + wasm), gzip | ${kib(viteVerifyGz)} | 150 KiB |`);
console.log(`| the same with the pure-Rust entry, \`import { verifySync } from "tollgate/sync"\` | ${kib(viteSyncGz)} | |`);
console.log(`| import "tollgate" in a fresh Node process (compile + instantiate), median of 5 | ${median(imports).toFixed(1)} ms | 10 ms |`);
console.log(`| workerd (Miniflare, no inspector): the guard's first request after start-up, median of 5 | ${median(firsts).toFixed(1)} ms | 10 ms |`);
console.log(`| the same first request to a three-line JS worker (the runtime's floor), interleaved, median of 5 | ${median(floors).toFixed(1)} ms | |`);

for (const [what, file] of [["guard", "worker-names.wasm"], ["issuer", "issuer-names.wasm"], ["npm package", "package-names.wasm"]]) {
  const path = join(ROOT, "bench/out", file);
  if (!existsSync(path)) continue;
  console.log(`\nWhere the ${what}'s wasm code goes, by crate (before wasm-opt; proportions):\n`);
  console.log(crateTable(path, 12));
}

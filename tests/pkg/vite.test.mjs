// The package through a bundler: Vite builds a page that imports "tollgate" (the browser
// export, its wasm emitted as an asset by Vite with no configuration), and headless Chromium
// runs the package suite in the built page.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdtempSync, writeFileSync, mkdirSync, symlinkSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { build } from "vite";
import { ROOT, launchChromium } from "../e2e/harness.mjs";
import { cases } from "./cases.mjs";

let dir, server, browser, base;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "tollgate-vite-"));
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(join(ROOT, "pkg"), join(dir, "node_modules/tollgate"));
  writeFileSync(join(dir, "index.html"), `<!doctype html><meta charset="utf-8"><title>vite</title><script type="module" src="/main.js"></script>`);
  writeFileSync(
    join(dir, "main.js"),
    `import * as api from "tollgate";
import { runAll } from ${JSON.stringify(join(ROOT, "tests/pkg/cases.mjs"))};
import rsaJwk from ${JSON.stringify(join(ROOT, "tests/vectors/rfc7520-cookbook/jwk/3_4.rsa_private_key.json"))};
window.__results = await runAll(api, { rsaJwk });
`,
  );
  await build({ root: dir, logLevel: "error", build: { outDir: join(dir, "dist"), target: "es2022" } });
  server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    const file = join(dir, "dist", path === "/" ? "index.html" : path);
    const types = { ".js": "text/javascript", ".html": "text/html", ".wasm": "application/wasm" };
    const body = await readFile(file).catch(() => null);
    if (body === null) return res.writeHead(404).end();
    res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" }).end(body);
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("a Vite build of a page importing tollgate runs the package suite in Chromium", async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (err) => errors.push(String(err)));
  await page.goto(base + "/");
  await page.waitForFunction(() => Array.isArray(window.__results), null, { timeout: 120_000 });
  const results = await page.evaluate(() => window.__results);
  assert.deepEqual(errors, []);
  assert.equal(results.length, cases({}, {}).length);
  for (const r of results) assert.ok(r.ok, `${r.name}: ${r.error}`);
});

// The package suite in a real headless Chromium (Debian's, driven by playwright-core), loading
// the package as a plain ES module from a static server on 127.0.0.1.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { ROOT, launchChromium } from "../e2e/harness.mjs";
import { cases } from "./cases.mjs";

const TYPES = { ".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json", ".html": "text/html", ".wasm": "application/wasm" };
let server, browser, base;

before(async () => {
  server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    if (!/^\/(pkg|tests)\//.test(path)) return res.writeHead(404).end();
    try {
      const body = await readFile(join(ROOT, path));
      res.writeHead(200, { "content-type": TYPES[extname(path)] ?? "application/octet-stream" }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.close();
});

test("the package suite passes in headless Chromium", async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (err) => errors.push(String(err)));
  await page.goto(`${base}/tests/pkg/browser.html`);
  await page.waitForFunction(() => Array.isArray(window.__results), null, { timeout: 120_000 });
  const results = await page.evaluate(() => window.__results);
  assert.deepEqual(errors, []);
  const expected = cases({}, {}).length;
  assert.equal(results.length, expected, "every case ran");
  for (const r of results) assert.ok(r.ok, `${r.name}: ${r.error}`);
});

// Shared by the browser runners: a static file server on 127.0.0.1 and the check that a page
// ran the whole package suite without an error.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { cases } from "./cases.mjs";

const TYPES = { ".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json", ".html": "text/html", ".wasm": "application/wasm" };

/** Serves files under `root` whose path passes `allow`; `/` is `index.html`. */
export async function serveFiles(root, allow = () => true) {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    const body = allow(path) ? await readFile(join(root, path === "/" ? "index.html" : path)).catch(() => null) : null;
    if (body === null) return res.writeHead(404).end();
    res.writeHead(200, { "content-type": TYPES[extname(path)] ?? (path === "/" ? "text/html" : "application/octet-stream") }).end(body);
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return { server, base: `http://127.0.0.1:${server.address().port}` };
}

/** Opens `url`, waits for `window.__results`, and asserts that every case ran (`runs` times) and passed. */
export async function assertSuitePassesInPage(browser, url, runs = 1) {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (err) => errors.push(String(err)));
  await page.goto(url);
  await page.waitForFunction(() => Array.isArray(window.__results), null, { timeout: 120_000 });
  const results = await page.evaluate(() => window.__results);
  assert.deepEqual(errors, []);
  assert.equal(results.length, runs * cases({}, {}).length, "every case ran");
  for (const r of results) assert.ok(r.ok, `${r.name}: ${r.error}`);
}

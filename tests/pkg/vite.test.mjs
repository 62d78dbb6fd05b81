// The package through a bundler: Vite builds a page that imports "tollgate" (the browser
// export, its wasm emitted as an asset by Vite with no configuration), and headless Chromium
// runs the package suite in the built page.
import { test, before, after } from "node:test";
import { mkdtempSync, writeFileSync, mkdirSync, symlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "vite";
import { ROOT, launchChromium } from "../e2e/harness.mjs";
import { serveFiles, assertSuitePassesInPage } from "./page-runner.mjs";

let dir, served, browser;

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
window.__results = await runAll(api, { rsaJwk, sync: false });
`,
  );
  await build({ root: dir, logLevel: "error", build: { outDir: join(dir, "dist"), target: "es2022" } });
  served = await serveFiles(join(dir, "dist"));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  served?.server.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("a Vite build of a page importing tollgate runs the package suite in Chromium", async () => {
  await assertSuitePassesInPage(browser, `${served.base}/`);
});

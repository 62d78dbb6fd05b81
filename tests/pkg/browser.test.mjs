// The package suite in a real headless Chromium (Debian's, driven by playwright-core), loading
// the package as a plain ES module from a static server on 127.0.0.1.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as node from "tollgate";
import { ROOT, launchChromium } from "../e2e/harness.mjs";
import { ALGORITHMS } from "./cases.mjs";
import { serveFiles, assertSuitePassesInPage } from "./page-runner.mjs";

let served, browser;

before(async () => {
  served = await serveFiles(ROOT, (path) => /^\/(pkg|tests)\//.test(path));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  served?.server.close();
});

test("the package suite passes in headless Chromium: WebCrypto's entry, and tollgate/sync with both APIs", async () => {
  await assertSuitePassesInPage(browser, `${served.base}/tests/pkg/browser.html`, 3);
});

test("Chromium's WebCrypto and node:crypto read each other's signatures, for every algorithm", async () => {
  const page = await browser.newPage();
  try {
    await page.goto(`${served.base}/tests/pkg/browser.html`);
    await page.waitForFunction(() => Array.isArray(window.__results), null, { timeout: 120_000 });
    const rsaJwk = JSON.parse(await (await fetch(`${served.base}/tests/vectors/rfc7520-cookbook/jwk/3_4.rsa_private_key.json`)).text());
    const pairs = {};
    for (const alg of ALGORITHMS) {
      const { d, p, q, dp, dq, qi, ...pub } = rsaJwk;
      pairs[alg] = alg.startsWith("RS") || alg.startsWith("PS") ? { privateJwk: { ...rsaJwk, alg }, publicJwk: { ...pub, alg } } : node.generateKeyPairSync(alg);
    }
    const fromNode = Object.fromEntries(ALGORITHMS.map((alg) => [alg, node.signSync({ sub: `node ${alg}` }, pairs[alg].privateJwk)]));
    // The page's default entry: WebCrypto signs with Node's keys and verifies Node's tokens.
    const fromPage = await page.evaluate(async ({ pairs, fromNode }) => {
      const api = await import("tollgate");
      const out = {};
      for (const [alg, { privateJwk, publicJwk }] of Object.entries(pairs)) {
        const keys = { keys: [publicJwk ?? privateJwk] };
        out[alg] = { token: await api.sign({ sub: `page ${alg}` }, privateJwk), read: (await api.verify(fromNode[alg], keys)).payload.sub };
      }
      return out;
    }, { pairs, fromNode });
    for (const alg of ALGORITHMS) {
      const { privateJwk, publicJwk } = pairs[alg];
      assert.equal(fromPage[alg].read, `node ${alg}`, alg);
      assert.equal(node.verifySync(fromPage[alg].token, { keys: [publicJwk ?? privateJwk] }).payload.sub, `page ${alg}`, alg);
    }
  } finally {
    await page.close();
  }
});

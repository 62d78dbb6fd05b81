// The package suite in a real headless Chromium (Debian's, driven by playwright-core), loading
// the package as a plain ES module from a static server on 127.0.0.1.
import { test, before, after } from "node:test";
import { ROOT, launchChromium } from "../e2e/harness.mjs";
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

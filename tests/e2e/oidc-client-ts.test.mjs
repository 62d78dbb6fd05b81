// oidc-client-ts, the OpenID Connect client most single-page apps use, in a real headless
// Chromium, by its documented usage: sign-in by redirect with PKCE, the claims from
// /userinfo, a silent renewal by refresh token, revoking the tokens, single sign-on, RP-initiated
// logout and `prompt=none` after it. The app is on its own origin, so every call the library
// makes from script crosses origins (corsOrigins). An outside run found its revokeTokens()
// refused by a preflight /revoke did not answer.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { oauthWorld } from "./oauth-fixture.mjs";
import { launchChromium } from "./harness.mjs";

const library = readFileSync(new URL("../../node_modules/oidc-client-ts/dist/browser/oidc-client-ts.min.js", import.meta.url));

let world, browser, app;

/** The app's three pages; each makes the one UserManager and runs its part of the flow. */
function page(name, issuer, spa) {
  const settings = {
    authority: issuer,
    client_id: spa.client_id,
    redirect_uri: `${spa.base}/callback.html`,
    silent_redirect_uri: `${spa.base}/silent.html`,
    post_logout_redirect_uri: `${spa.base}/index.html`,
    response_type: "code",
    scope: "openid profile email read",
    loadUserInfo: true,
    automaticSilentRenew: false,
    revokeTokenTypes: ["access_token", "refresh_token"],
  };
  const part = {
    callback: `mgr.signinRedirectCallback().then(() => { location.href = "/index.html?signedin=1"; }, (e) => { window.failed = String(e); });`,
    silent: "mgr.signinSilentCallback();",
    index: `if (new URLSearchParams(location.search).has("state")) mgr.signoutRedirectCallback().then(() => { window.signedOut = true; }, (e) => { window.failed = String(e); });`,
  }[name];
  return `<!doctype html><meta charset="utf-8"><title>${name}</title>
<script src="/oidc-client-ts.js"></script>
<script>
window.mgr = new oidc.UserManager({ ...${JSON.stringify(settings)}, userStore: new oidc.WebStorageStateStore({ store: window.localStorage }) });
${part}
</script>`;
}

before(async () => {
  world = await oauthWorld();
  browser = await launchChromium();
  const { spa, issuer } = world;
  app = createServer((req, res) => {
    const name = new URL(req.url, spa.base).pathname.slice(1).replace(/\.html$/, "");
    if (name === "oidc-client-ts.js") {
      res.writeHead(200, { "Content-Type": "text/javascript" }).end(library);
    } else if (["index", "callback", "silent"].includes(name)) {
      res.writeHead(200, { "Content-Type": "text/html" }).end(page(name, issuer, spa));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => app.listen(spa.port, "127.0.0.1", resolve));
});

after(async () => {
  app?.close();
  await browser?.close();
  await world?.stop();
});

test("oidc-client-ts signs in, renews, revokes and signs out across origins", async () => {
  const { spa, issuer } = world;
  const tab = await browser.newPage();
  const signedIn = (url) => url.origin === spa.base && url.pathname === "/index.html" && url.searchParams.has("signedin");
  const api = (token) => fetch(`${issuer}/api/me`, { headers: { Authorization: `Bearer ${token}` } }).then((r) => r.status);

  await tab.goto(`${spa.base}/index.html`);
  await tab.evaluate(() => { mgr.signinRedirect(); });
  await tab.waitForURL((url) => url.origin === issuer && url.pathname === "/authorize");
  await tab.fill("#username", "alice");
  await tab.fill("#password", "correct horse battery");
  await tab.click("button[type=submit]");
  await tab.waitForURL(signedIn);
  const user = await tab.evaluate(async () => {
    const u = await mgr.getUser();
    return { sub: u.profile.sub, email: u.profile.email, name: u.profile.name, access: u.access_token, refresh: Boolean(u.refresh_token) };
  });
  assert.equal(user.email, "alice@example.com", "the claims of /userinfo (loadUserInfo)");
  assert.equal(user.name, "Alice Liddell");
  assert.ok(user.refresh, "a refresh token for a client allowed refresh_token");
  assert.equal(await api(user.access), 200);

  // A silent renewal by refresh token (the library prefers it to an iframe).
  const renewed = await tab.evaluate(async () => (await mgr.signinSilent()).access_token);
  assert.notEqual(renewed, user.access);
  assert.equal(await api(renewed), 200);

  // RFC 7009 from the page: the access token and the refresh token, each revoked.
  const revoked = await tab.evaluate(async () => {
    try {
      await mgr.revokeTokens();
      return "revoked";
    } catch (e) {
      return String(e);
    }
  });
  assert.equal(revoked, "revoked");
  assert.equal(await api(renewed), 401);

  // Single sign-on: the issuer's session signs the user in again without the form.
  await tab.goto(`${spa.base}/index.html`);
  await tab.evaluate(() => { mgr.signinRedirect(); });
  await tab.waitForURL(signedIn);
  const again = await tab.evaluate(async () => (await mgr.getUser())?.profile.sub);
  assert.equal(again, user.sub);

  // RP-initiated logout (id_token_hint and post_logout_redirect_uri), then prompt=none in the
  // library's hidden iframe finds no session.
  await tab.evaluate(() => { mgr.signoutRedirect({ state: "bye" }); });
  await tab.waitForURL((url) => url.origin === spa.base && url.searchParams.has("state"));
  await tab.waitForFunction(() => window.signedOut === true || window.failed);
  assert.equal(await tab.evaluate(() => window.failed ?? null), null);
  const silent = await tab.evaluate(async () => {
    try {
      await mgr.signinSilent({ prompt: "none" });
      return "signed in";
    } catch (e) {
      return e.error ?? String(e);
    }
  });
  assert.equal(silent, "login_required");
  await tab.close();
});

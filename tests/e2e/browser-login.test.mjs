// The authorization-code flow in a real headless Chromium: open /authorize, fill the login
// form, consent, arrive at the redirect with a code, exchange it, call a protected route.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { oauthWorld } from "./oauth-fixture.mjs";
import { launchChromium } from "./harness.mjs";
import { startRelyingParty } from "../../scripts/demo-rp.mjs";

let world, browser;
const relyingParties = [];

before(async () => {
  world = await oauthWorld();
  browser = await launchChromium();
  for (const [id, name] of [["rp-a", "Notes"], ["rp-b", "Wiki"]]) {
    const rp = world.relyingParties[id];
    relyingParties.push(await startRelyingParty({ issuer: world.issuer, clientId: id, clientSecret: rp.client_secret, name, port: rp.port }));
  }
});

after(async () => {
  for (const rp of relyingParties) rp.server.close();
  await browser?.close();
  await world?.stop();
});

test("log in, consent, get a code, exchange it, call the API", async () => {
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const query = new URLSearchParams({ client_id: "partner", redirect_uri: world.callback, response_type: "code", scope: "read", state: "st4te", code_challenge: challenge, code_challenge_method: "S256" });
  const page = await browser.newPage();
  await page.goto(`${world.issuer}/authorize?${query}`);
  assert.equal(await page.title(), "Sign in · Tollgate");
  await page.fill("#username", "alice");
  await page.fill("#password", "correct horse battery");
  await page.click("button[type=submit]");
  await page.waitForSelector("text=wants to access your account");
  assert.match(await page.textContent("body"), /Partner App/);
  await page.click("button[value=approve]");
  await page.waitForURL((url) => url.pathname === "/callback");
  const arrived = new URL(page.url());
  assert.equal(arrived.searchParams.get("state"), "st4te");
  const code = arrived.searchParams.get("code");
  assert.match(code, /^tgc_/);

  const tokens = await (await fetch(`${world.issuer}/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", client_id: "partner", code, code_verifier: verifier, redirect_uri: world.callback }).toString(),
  })).json();
  assert.ok(tokens.access_token, JSON.stringify(tokens));
  const api = await fetch(`${world.issuer}/api/me`, { headers: { Authorization: `Bearer ${tokens.access_token}` } });
  assert.equal(api.status, 200);
  assert.equal((await api.json()).received.headers["x-tollgate-client-id"], "partner");

  // The session cookie lets the same browser skip the login next time, and the consent given
  // is remembered for this client (OpenID Connect Core §3.1.2.4) unless prompt=consent.
  await page.goto(`${world.issuer}/authorize?${query}`);
  await page.waitForURL((url) => url.pathname === "/callback");
  assert.match(new URL(page.url()).searchParams.get("code"), /^tgc_/);
  query.set("prompt", "consent");
  await page.goto(`${world.issuer}/authorize?${query}`);
  await page.waitForSelector("text=wants to access your account");
});

test("the login page cannot be framed and loads no script", async () => {
  const res = await fetch(`${world.issuer}/authorize?${new URLSearchParams({ client_id: "spa", redirect_uri: world.callback, response_type: "code", code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", code_challenge_method: "S256" })}`);
  const csp = res.headers.get("content-security-policy");
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /frame-ancestors 'none'/);
  // Browsers apply form-action to the redirect after the form post: the client's origin, as
  // RFC 6454 §6.2 serialises it, is allowed beside the page's own.
  assert.ok(csp.includes(`form-action 'self' ${new URL(world.callback).origin};`), csp);
  assert.doesNotMatch(await res.text(), /<script/);
  assert.equal(res.headers.get("referrer-policy"), "no-referrer");
});

test("single sign-on across two openid-client relying parties: one password, one sign-out", async () => {
  const [notes, wiki] = relyingParties;
  const page = await (await browser.newContext()).newPage();
  const titles = [];
  page.on("load", async () => titles.push(await page.title().catch(() => "")));
  await page.goto(`${notes.url}/`);
  assert.match(await page.textContent("#status"), /Not signed in/);
  await page.click("#login");
  await page.waitForSelector("#password");
  await page.fill("#username", "alice");
  await page.fill("#password", "correct horse battery");
  await page.click("button[type=submit]");
  await page.waitForSelector("#user");
  assert.equal(await page.textContent("#user"), "alice");
  assert.match(await page.textContent("#status"), /alice@example\.com/);

  // The second relying party: its sign-in goes through Tollgate and back without a password.
  const signIns = titles.filter((t) => t.startsWith("Sign in")).length;
  await page.goto(`${wiki.url}/`);
  await page.click("#login");
  await page.waitForSelector("#user");
  assert.equal(await page.textContent("#user"), "alice");
  assert.equal(page.url(), `${wiki.url}/`);
  assert.equal(titles.filter((t) => t.startsWith("Sign in")).length, signIns, "no login page on the way");

  // Signing out at the wiki ends the Tollgate session and the notes app's grant with it.
  await page.click("#logout");
  await page.waitForURL((url) => url.origin === wiki.url && url.pathname === "/");
  assert.match(await page.textContent("#status"), /Not signed in/);
  await page.goto(`${notes.url}/`);
  assert.match(await page.textContent("#status"), /Not signed in/);
  await page.click("#login");
  await page.waitForSelector("#password");
});

// OpenID Connect end to end in workerd, driven by an unmodified relying-party library
// (openid-client): discovery, code + PKCE + nonce with the ID token validated by the library,
// userinfo, refresh with a new ID token, prompt=none with and without a session, max_age,
// RP-Initiated Logout; the ID token checked again with jose and node:crypto alone; and the
// bad inputs that must never redirect to an unregistered URI.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import http from "node:http";
import * as oidc from "openid-client";
import { jwtVerify, createRemoteJWKSet, SignJWT, importJWK } from "jose";
import { oauthWorld } from "./oauth-fixture.mjs";
import * as tollgate from "../pkg/node_modules/tollgate/dist/node.mjs";

let world, config, rpA, rpB;

before(async () => {
  world = await oauthWorld();
  rpA = world.relyingParties["rp-a"];
  rpB = world.relyingParties["rp-b"];
  config = await oidc.discovery(new URL(world.issuer), rpA.client_id, rpA.client_secret, undefined, { execute: [oidc.allowInsecureRequests] });
});

after(async () => {
  await world?.stop();
});

/** A cookie jar over fetch, with redirects left to the test. */
class Browser {
  cookies = new Map();
  async fetch(url, init = {}) {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    const res = await fetch(url, { ...init, redirect: "manual", headers: { ...(init.headers ?? {}), ...(cookie ? { Cookie: cookie } : {}) } });
    return this.keep(res);
  }
  /** Stores the cookies a response sets (also one the browser got from a cross-site request). */
  keep(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";");
      const [name, value] = [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)];
      if (attrs.some((a) => /max-age=0/i.test(a.trim()))) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }
  post(url, params) {
    return this.fetch(url, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(params).toString() });
  }
}

const fieldsOf = (html) => Object.fromEntries([...html.matchAll(/name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1], m[2].replaceAll("&amp;", "&").replaceAll("&#39;", "'").replaceAll("&quot;", '"')]));

/** Opens /authorize as the user's browser: signs in if the login page shows. Returns where the
 *  browser is sent back to, and whether a password was asked. */
async function authorize(browser, url) {
  const first = await browser.fetch(url);
  if (first.status === 303) return { callback: new URL(first.headers.get("location")), asked: false };
  const html = await first.text();
  assert.equal(first.status, 200, html);
  assert.match(html, /<title>Sign in/);
  const login = await browser.post(`${world.issuer}/authorize`, { ...fieldsOf(html), action: "login", username: "alice", password: "correct horse battery" });
  assert.equal(login.status, 303, await login.text());
  return { callback: new URL(login.headers.get("location")), asked: true };
}

/** A fresh authorization request of relying party A, as openid-client builds it. */
async function request(extra = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const nonce = oidc.randomNonce();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: `${rpA.base}/callback`,
    scope: "openid profile email read",
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    nonce,
    state,
    ...extra,
  });
  return { url, verifier, nonce, state };
}

const grant = (req, callback, options = {}) =>
  oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: req.verifier, expectedNonce: req.nonce, expectedState: req.state, idTokenExpected: true, ...options });

test("discovery: one document at both well-known paths, with the OpenID members", async () => {
  const metadata = config.serverMetadata();
  assert.equal(metadata.issuer, world.issuer);
  assert.equal(metadata.userinfo_endpoint, `${world.issuer}/userinfo`);
  assert.equal(metadata.end_session_endpoint, `${world.issuer}/logout`);
  assert.deepEqual(metadata.response_types_supported, ["code"]);
  assert.deepEqual(metadata.subject_types_supported, ["public"]);
  assert.deepEqual(metadata.id_token_signing_alg_values_supported, ["ES256"]);
  for (const scope of ["openid", "profile", "email", "read"]) assert.ok(metadata.scopes_supported.includes(scope), scope);
  for (const claim of ["sub", "auth_time", "nonce", "at_hash", "sid", "email"]) assert.ok(metadata.claims_supported.includes(claim), claim);
  const rfc8414 = await (await fetch(`${world.issuer}/.well-known/oauth-authorization-server`)).json();
  assert.deepEqual(rfc8414, await (await fetch(`${world.issuer}/.well-known/openid-configuration`)).json());
});

test("code + PKCE + nonce: the library validates the ID token; jose and node:crypto agree; userinfo; refresh", async () => {
  const browser = new Browser();
  const req = await request();
  const { callback, asked } = await authorize(browser, req.url);
  assert.ok(asked);
  const tokens = await grant(req, callback);
  const claims = tokens.claims();
  assert.equal(claims.iss, world.issuer);
  assert.equal(claims.sub, world.alice.sub);
  assert.equal(claims.aud, "rp-a");
  assert.equal(claims.azp, "rp-a");
  assert.equal(claims.nonce, req.nonce);
  assert.equal(claims.name, "Alice Liddell");
  assert.equal(claims.email, "alice@example.com");
  assert.equal(claims.email_verified, true);
  assert.ok(Math.abs(claims.auth_time - Date.now() / 1000) < 30);
  assert.ok(claims.sid);

  // Independently of Tollgate's code and of openid-client: jose against the published JWKS,
  // at_hash by node:crypto (Core §3.1.3.6: left half of SHA-256 for ES256).
  const { payload, protectedHeader } = await jwtVerify(tokens.id_token, createRemoteJWKSet(new URL(`${world.issuer}/.well-known/jwks.json`)), { issuer: world.issuer, audience: "rp-a" });
  assert.equal(protectedHeader.typ, "JWT");
  assert.equal(payload.at_hash, createHash("sha256").update(tokens.access_token).digest().subarray(0, 16).toString("base64url"));
  assert.equal(payload.nonce, req.nonce);

  const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.deepEqual(info, { sub: claims.sub, name: "Alice Liddell", preferred_username: "alice", email: "alice@example.com", email_verified: true });

  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
  const again = refreshed.claims();
  assert.equal(again.sub, claims.sub);
  assert.equal(again.auth_time, claims.auth_time);
  assert.equal(again.sid, claims.sid);
  assert.equal(again.nonce, undefined, "Core §12.2: no nonce on refresh");
  assert.notEqual(refreshed.id_token, tokens.id_token);

  // A nonce other than the one sent is caught by the library (the ID token echoes ours).
  const other = await request();
  const { callback: second } = await authorize(browser, other.url);
  await assert.rejects(grant({ ...other, nonce: "not-the-nonce" }, second), (err) => {
    assert.equal(err.cause?.code, "OAUTH_JWT_CLAIM_COMPARISON_FAILED");
    assert.equal(err.cause?.cause?.claim, "nonce");
    return true;
  });

  // A token not issued for a login gets insufficient_scope at /userinfo.
  const service = await fetch(`${world.issuer}/token`, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: `Basic ${Buffer.from(`svc:${world.serviceSecret}`).toString("base64")}` }, body: "grant_type=client_credentials&scope=read" });
  const plain = await fetch(`${world.issuer}/userinfo`, { headers: { Authorization: `Bearer ${(await service.json()).access_token}` } });
  assert.equal(plain.status, 403);
  assert.match(plain.headers.get("www-authenticate"), /insufficient_scope/);
});

test("a confidential relying party registered --pkce-optional logs in with its nonce alone (RFC 9700 §2.1.1); others need PKCE", async () => {
  const rpC = world.relyingParties["rp-c"];
  const configC = await oidc.discovery(new URL(world.issuer), rpC.client_id, rpC.client_secret, undefined, { execute: [oidc.allowInsecureRequests] });
  const nonce = oidc.randomNonce();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(configC, { redirect_uri: `${rpC.base}/callback`, scope: "openid read", nonce, state });
  assert.equal(url.searchParams.get("code_challenge"), null);
  const browser = new Browser();
  const { callback } = await authorize(browser, url);
  assert.ok(callback.searchParams.get("code"), callback.href);
  // openid-client sends no code_verifier and checks the nonce in the ID token.
  const tokens = await oidc.authorizationCodeGrant(configC, callback, { expectedNonce: nonce, expectedState: state, idTokenExpected: true });
  assert.equal(tokens.claims().nonce, nonce);
  assert.equal(tokens.claims().aud, "rp-c");

  // Without a nonce rp-c needs PKCE; rp-a needs it always. The error goes back to the client.
  for (const [rp, cfg, extra] of [[rpC, configC, {}], [rpA, config, { nonce }]]) {
    const bare = oidc.buildAuthorizationUrl(cfg, { redirect_uri: `${rp.base}/callback`, scope: "openid read", state, ...extra });
    const res = await fetch(bare, { redirect: "manual" });
    assert.equal(res.status, 303, rp.client_id);
    const back = new URL(res.headers.get("location"));
    assert.equal(back.searchParams.get("error"), "invalid_request", rp.client_id);
    assert.match(back.searchParams.get("error_description"), /code_challenge is required/);
  }
});

test("single sign-on: a second client's login skips the password; prompt=none with and without a session", async () => {
  const browser = new Browser();
  await authorize(browser, (await request()).url);
  // Relying party B, same browser: straight back with a code.
  const configB = await oidc.discovery(new URL(world.issuer), rpB.client_id, rpB.client_secret, undefined, { execute: [oidc.allowInsecureRequests] });
  const verifier = oidc.randomPKCECodeVerifier();
  const nonce = oidc.randomNonce();
  const urlB = oidc.buildAuthorizationUrl(configB, { redirect_uri: `${rpB.base}/callback`, scope: "openid", code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256", nonce, prompt: "none" });
  const { callback, asked } = await authorize(browser, urlB);
  assert.equal(asked, false);
  const tokensB = await oidc.authorizationCodeGrant(configB, callback, { pkceCodeVerifier: verifier, expectedNonce: nonce, idTokenExpected: true });
  assert.equal(tokensB.claims().aud, "rp-b");
  assert.equal(tokensB.claims().sub, world.alice.sub);

  // prompt=none without a session: login_required back to the client, with its state.
  const stranger = new Browser();
  const silent = await request({ prompt: "none" });
  const refused = await stranger.fetch(silent.url);
  assert.equal(refused.status, 303);
  const back = new URL(refused.headers.get("location"));
  assert.equal(back.origin + back.pathname, `${rpA.base}/callback`);
  await assert.rejects(grant(silent, back), (err) => err.error === "login_required");

  // prompt=none for a third-party client never approved: consent_required.
  const challenge = await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier());
  const partner = await browser.fetch(`${world.issuer}/authorize?${new URLSearchParams({ client_id: "partner", redirect_uri: world.callback, response_type: "code", scope: "openid", code_challenge: challenge, code_challenge_method: "S256", prompt: "none", state: "p" })}`);
  assert.equal(new URL(partner.headers.get("location")).searchParams.get("error"), "consent_required");
});

test("max_age: a session older than max_age must sign in again, and auth_time says when", async () => {
  const browser = new Browser();
  const first = await request();
  const { callback } = await authorize(browser, first.url);
  const before = (await grant(first, callback)).claims().auth_time;
  await new Promise((ok) => setTimeout(ok, 2100));
  const fresh = await request({ max_age: "1" });
  const { callback: again, asked } = await authorize(browser, fresh.url);
  assert.ok(asked, "the password is asked again");
  const claims = (await grant(fresh, again, { maxAge: 1 })).claims();
  assert.ok(claims.auth_time >= before + 2, `${claims.auth_time} vs ${before}`);
  // A generous max_age is met by the session.
  const lenient = await request({ max_age: "3600" });
  assert.equal((await authorize(browser, lenient.url)).asked, false);
  // max_age=0 is prompt=login (Core §3.1.2.1): the password is asked even with a live session,
  // and once entered it is met (a code, not the login page again, which before session 16
  // came back for ever at 0, and at 1 whenever the login crossed a second).
  const zero = await request({ max_age: "0" });
  const { callback: atZero, asked: askedAtZero } = await authorize(browser, zero.url);
  assert.ok(askedAtZero, "max_age=0 asks for the password");
  assert.ok((await grant(zero, atZero, { maxAge: 0 })).claims().auth_time >= claims.auth_time);
});

test("id_token_hint (Core §3.1.2.1): answered by its user's session only; another user's hint is login_required; a forged one invalid_request", async () => {
  const browser = new Browser();
  const first = await request();
  const tokens = await grant(first, (await authorize(browser, first.url)).callback);
  const ownHint = tokens.id_token;
  // The signed-in user's own ID token as the hint: a code at once, with prompt=none too.
  const own = await request({ prompt: "none", id_token_hint: ownHint });
  const answered = await authorize(browser, own.url);
  assert.equal(answered.asked, false);
  assert.equal((await grant(own, answered.callback)).claims().sub, tokens.claims().sub);
  // An ID token of this issuer for another user: not answered by Alice's session.
  const [key] = world.signingKeys.keys;
  const now = Math.floor(Date.now() / 1000);
  const otherHint = await new SignJWT({ sub: "someone-else", aud: rpA.client_id, iss: world.issuer, iat: now, exp: now + 300 })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT" })
    .sign(await importJWK(key, key.alg));
  const other = await request({ prompt: "none", id_token_hint: otherHint });
  const refused = new URL((await browser.fetch(other.url)).headers.get("location"));
  assert.equal(refused.searchParams.get("error"), "login_required");
  assert.match(refused.searchParams.get("error_description"), /id_token_hint/);
  // Without prompt=none the password is asked; signing in as Alice still does not answer for them.
  const page = await browser.fetch((await request({ id_token_hint: otherHint })).url);
  const html = await page.text();
  assert.match(html, /<title>Sign in/);
  const login = await browser.post(`${world.issuer}/authorize`, { ...fieldsOf(html), action: "login", username: "alice", password: "correct horse battery" });
  assert.equal(login.status, 303, await login.text());
  const afterLogin = new URL(login.headers.get("location"));
  assert.equal(afterLogin.searchParams.get("error"), "login_required");
  assert.match(afterLogin.searchParams.get("error_description"), /id_token_hint/);
  // Not an ID token of this issuer: invalid_request back to the client, not ignored.
  const forged = await request({ id_token_hint: `${ownHint.slice(0, -4)}AAAA` });
  const bad = new URL((await browser.fetch(forged.url)).headers.get("location"));
  assert.equal(bad.searchParams.get("error"), "invalid_request");
});

test("an authorization request sent as a form (POST, Core §3.1.2.1) is answered as the same GET", async () => {
  const browser = new Browser();
  const first = await request();
  await grant(first, (await authorize(browser, first.url)).callback);
  const req = await request();
  const res = await browser.post(`${world.issuer}/authorize`, Object.fromEntries(new URL(req.url).searchParams));
  assert.equal(res.status, 303, await res.text());
  const callback = new URL(res.headers.get("location"));
  assert.ok((await grant(req, callback)).claims().sub);
  // Without a session, the login page, as for a GET.
  const fresh = new Browser();
  const page = await fresh.post(`${world.issuer}/authorize`, Object.fromEntries(new URL((await request()).url).searchParams));
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<title>Sign in/);
});

test("RP-Initiated Logout ends the session for every client and the grants made in it", async () => {
  const browser = new Browser();
  const req = await request();
  const tokens = await grant(req, (await authorize(browser, req.url)).callback);
  // Without an id_token_hint, the user is asked (any site can link here).
  const ask = await browser.fetch(`${world.issuer}/logout?${new URLSearchParams({ client_id: "rp-a", post_logout_redirect_uri: `${rpA.base}/` })}`);
  assert.equal(ask.status, 200);
  assert.match(await ask.text(), /Sign out\?/);
  assert.equal((await authorize(browser, (await request({ prompt: "none" })).url)).asked, false, "still signed in");

  const end = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token, post_logout_redirect_uri: `${rpA.base}/`, state: "bye" });
  const out = await browser.fetch(end);
  assert.equal(out.status, 303);
  assert.equal(out.headers.get("location"), `${rpA.base}/?state=bye`);
  const silent = await request({ prompt: "none" });
  const refused = new URL((await browser.fetch(silent.url)).headers.get("location"));
  assert.equal(refused.searchParams.get("error"), "login_required");
  await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token), (err) => err.error === "invalid_grant");
  const info = await fetch(`${world.issuer}/userinfo`, { headers: { Authorization: `Bearer ${tokens.access_token}` } });
  assert.equal(info.status, 401, "the access token of the ended grant is revoked");
});

test("Back-Channel Logout 1.0: a sign-out posts each relying party of the session a logout token, verified by jose", async () => {
  // The relying parties' back-channel endpoint: records each POST.
  const received = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      received.push({ path: req.url, type: req.headers["content-type"], body: new URLSearchParams(body) });
      res.writeHead(200, { "Cache-Control": "no-store" }).end();
    });
  });
  await new Promise((ok) => server.listen(world.backchannelPort, "127.0.0.1", ok));
  try {
    // Signed in to rp-a, then to rp-b by single sign-on, and to rp-c (no back-channel URI).
    const browser = new Browser();
    const reqA = await request();
    const tokensA = await grant(reqA, (await authorize(browser, reqA.url)).callback);
    const configB = await oidc.discovery(new URL(world.issuer), rpB.client_id, rpB.client_secret, undefined, { execute: [oidc.allowInsecureRequests] });
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const urlB = oidc.buildAuthorizationUrl(configB, { redirect_uri: `${rpB.base}/callback`, scope: "openid", code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256", nonce });
    const { callback: callbackB } = await authorize(browser, urlB);
    const tokensB = await oidc.authorizationCodeGrant(configB, callbackB, { pkceCodeVerifier: verifier, expectedNonce: nonce, idTokenExpected: true });
    assert.equal(tokensB.claims().sid, tokensA.claims().sid, "one session");
    assert.equal(received.length, 0);

    const out = await browser.fetch(oidc.buildEndSessionUrl(config, { id_token_hint: tokensA.id_token }));
    assert.equal(out.status, 200, await out.text());
    for (let i = 0; i < 100 && received.length < 2; i++) await new Promise((ok) => setTimeout(ok, 50));
    assert.deepEqual(received.map((r) => r.path).sort(), ["/bc/rp-a", "/bc/rp-b"]);
    const jwks = createRemoteJWKSet(new URL(`${world.issuer}/.well-known/jwks.json`));
    for (const { path, type, body } of received) {
      const client = path.slice("/bc/".length);
      assert.equal(type, "application/x-www-form-urlencoded");
      // §2.6's checks, by a library that is not Tollgate's.
      const { payload, protectedHeader } = await jwtVerify(body.get("logout_token"), jwks, { issuer: world.issuer, audience: client, typ: "logout+jwt", maxTokenAge: "2 minutes" });
      assert.equal(protectedHeader.typ, "logout+jwt");
      assert.deepEqual(payload.events, { "http://schemas.openid.net/event/backchannel-logout": {} });
      assert.equal(payload.sid, tokensA.claims().sid);
      assert.equal(payload.sub, tokensA.claims().sub);
      assert.ok(payload.jti && payload.exp - payload.iat <= 120);
      assert.equal(payload.nonce, undefined, "§2.4: no nonce");
      // The package checks it as pkg/README shows, with the same verdict.
      const checked = await tollgate.verify(body.get("logout_token"), tollgate.createRemoteJWKSet(new URL(`${world.issuer}/.well-known/jwks.json`)), { issuer: world.issuer, audience: client, typ: "logout+jwt", maxTokenAge: 120 });
      assert.deepEqual(checked.payload, payload);
      await assert.rejects(tollgate.verify(body.get("logout_token"), tollgate.createRemoteJWKSet(new URL(`${world.issuer}/.well-known/jwks.json`)), { issuer: world.issuer, audience: client, typ: "JWT" }), (err) => err.code === "ERR_JWT_CLAIM_VALIDATION_FAILED" && err.claim === "typ");
    }
    const metadata = config.serverMetadata();
    assert.equal(metadata.backchannel_logout_supported, true);
    assert.equal(metadata.backchannel_logout_session_supported, true);
  } finally {
    server.close();
  }
});

test("RP-Initiated Logout by a relying party's cross-site POST: the user confirms here, then the session ends (§2)", async () => {
  const browser = new Browser();
  const req = await request();
  const tokens = await grant(req, (await authorize(browser, req.url)).callback);
  const fields = { id_token_hint: tokens.id_token, post_logout_redirect_uri: `${rpA.base}/`, state: "bye" };
  const form = { "Content-Type": "application/x-www-form-urlencoded" };
  const crossSite = (params) =>
    fetch(`${world.issuer}/logout`, { method: "POST", redirect: "manual", headers: { ...form, "Sec-Fetch-Site": "cross-site" }, body: new URLSearchParams(params).toString() });
  const sessionCookie = (res) => res.headers.getSetCookie().filter((line) => line.startsWith("tg_session="));
  // Cross-site, the browser sends no Lax cookie: answering "signed out" would end nothing.
  const asked = await crossSite(fields);
  assert.equal(asked.status, 200);
  assert.match(await asked.text(), /Sign out\?/);
  assert.deepEqual(sessionCookie(asked), []);
  assert.match(asked.headers.get("content-security-policy"), new RegExp(`form-action 'self' ${rpA.base};`), "the confirmation may go back to the client");
  // Nor does a forged cross-site sign-out clear the cookie.
  for (const forged of [{}, { action: "logout" }]) assert.deepEqual(sessionCookie(await crossSite(forged)), [], JSON.stringify(forged));
  // A sibling site's post carries the Lax cookie: without the confirmation form's CSRF value
  // it is asked too, and nothing ends (an outside run signed users out so).
  for (const forged of [{}, { action: "logout" }, { action: "logout", csrf: "x.1.y" }]) {
    const res = await browser.fetch(`${world.issuer}/logout`, { method: "POST", headers: { ...form, "Sec-Fetch-Site": "same-site" }, body: new URLSearchParams(forged).toString() });
    assert.equal(res.status, 200, JSON.stringify(forged));
    assert.match(await res.text(), /Sign out\?/, JSON.stringify(forged));
  }
  assert.equal((await authorize(browser, (await request({ prompt: "none" })).url)).asked, false, "still signed in");
  // The confirmation is same-site: the cookie comes with it, the session ends. The browser kept
  // the form's CSRF cookie from the cross-site answer that showed it.
  const page = browser.keep(await crossSite(fields));
  const confirmed = await browser.post(`${world.issuer}/logout`, { ...fieldsOf(await page.text()), action: "logout" });
  assert.equal(confirmed.status, 303);
  assert.equal(confirmed.headers.get("location"), `${rpA.base}/?state=bye`);
  await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token), (err) => err.error === "invalid_grant");
  // Without a hint nothing vouches: the one click on the confirmation (its CSRF value made
  // for a cross-site post that brought no session cookie) still ends the session.
  const other = new Browser();
  await authorize(other, (await request()).url);
  const unhinted = other.keep(await crossSite({ client_id: "rp-a", post_logout_redirect_uri: `${rpA.base}/` }));
  const once = await other.post(`${world.issuer}/logout`, { ...fieldsOf(await unhinted.text()), action: "logout" });
  assert.equal(once.status, 303, "one click");
  const silent = new URL((await other.fetch((await request({ prompt: "none" })).url)).headers.get("location"));
  assert.equal(silent.searchParams.get("error"), "login_required", "signed out");
});

test("sign-out revokes every grant of the session, with 12 codes issued in it concurrently", async () => {
  const browser = new Browser();
  await authorize(browser, (await request()).url);
  const requests = await Promise.all(Array.from({ length: 12 }, () => request()));
  // Twelve /authorize requests at once in one session: each appends its grant to the session's
  // list in the coordinator (one step each); none may be lost.
  const callbacks = await Promise.all(requests.map(async (req) => new URL((await browser.fetch(req.url)).headers.get("location"))));
  const tokens = await Promise.all(requests.map((req, i) => grant(req, callbacks[i])));
  const out = await browser.fetch(oidc.buildEndSessionUrl(config, { id_token_hint: tokens[0].id_token }));
  assert.equal(out.status, 200);
  assert.match(await out.text(), /signed out/);
  const refreshed = await Promise.allSettled(tokens.map((t) => oidc.refreshTokenGrant(config, t.refresh_token)));
  assert.deepEqual(refreshed.map((r) => r.status === "rejected" && r.reason.error), Array(12).fill("invalid_grant"));
});

test("bad input is refused with the standard error, never a redirect to an unregistered URI", async () => {
  const browser = new Browser();
  const req = await request();
  const tokens = await grant(req, (await authorize(browser, req.url)).callback);
  const logout = (params) => browser.fetch(`${world.issuer}/logout?${new URLSearchParams(params)}`);
  for (const params of [
    { client_id: "rp-a", post_logout_redirect_uri: "https://evil.example/" },
    { id_token_hint: tokens.id_token, post_logout_redirect_uri: `${rpB.base}/` },
    { id_token_hint: tokens.id_token, client_id: "rp-b" },
    { id_token_hint: tokens.access_token },
    { post_logout_redirect_uri: `${rpA.base}/` },
  ]) {
    const res = await logout(params);
    assert.equal(res.status, 400, JSON.stringify(params));
    assert.equal(res.headers.get("location"), null);
  }
  assert.equal((await authorize(browser, (await request({ prompt: "none" })).url)).asked, false, "nothing was signed out");
  // Request objects and unsupported values go back to the client with their codes.
  for (const [extra, error] of [[{ request: "eyJhbGciOiJub25lIn0.e30." }, "request_not_supported"], [{ prompt: "none login" }, "invalid_request"], [{ max_age: "soon" }, "invalid_request"]]) {
    const res = await browser.fetch((await request(extra)).url);
    assert.equal(new URL(res.headers.get("location")).searchParams.get("error"), error, JSON.stringify(extra));
  }
});

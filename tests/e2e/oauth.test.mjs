// Token issuance end to end: every grant against the worker in workerd with real local KV,
// each RFC 6749 §5.2 error, PKCE and redirect mismatches, code reuse, refresh reuse
// detection, lockout, introspection and revocation of each token type, API tokens and
// sessions at the gateway, and RFC 8414 metadata.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { jwtVerify, createLocalJWKSet } from "jose";
import { cli, kvSeed, manage, startWorker } from "./harness.mjs";
import { startOrigin } from "../../scripts/demo-origin.mjs";

const ISSUER = "https://tollgate.test";
const PEPPER = "pepper-for-tests-only-0123456789abcdef";
let worker, origin, svcSecret, apiKey, jwks, pepperFile;

const form = (params) => ({ method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(params).toString() });
const basic = (id, secret) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;
const withAuth = (init, auth) => ({ ...init, headers: { ...init.headers, Authorization: auth } });
const pkce = () => {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
};

before(async () => {
  origin = await startOrigin();
  const kv = kvSeed(PEPPER);
  pepperFile = kv.pepperFile;
  const add = kv.add;
  add(["user", "add", "--username", "alice", "--password", "correct horse battery", "--scopes", "read write", "--memory-kib", "4096", "--iterations", "1"]);
  add(["user", "add", "--username", "bob", "--password", "bob-password-1", "--scopes", "read", "--memory-kib", "4096", "--iterations", "1"]);
  // svc is also the resource server of "demo": it may introspect every token for it.
  svcSecret = add(["client", "add", "--id", "svc", "--grant", "client_credentials", "--grant", "password", "--grant", "refresh_token", "--scopes", "read write", "--first-party", "--introspect", "demo", "--pepper-from", pepperFile]).client_secret;
  add(["client", "add", "--id", "spa", "--public", "--grant", "authorization_code", "--grant", "refresh_token", "--redirect-uri", "https://spa.test/cb", "--scopes", "read", "--first-party", "--pepper-from", pepperFile]);
  add(["client", "add", "--id", "partner", "--grant", "authorization_code", "--redirect-uri", "https://partner.test/cb", "--scopes", "read", "--pepper-from", pepperFile]);
  apiKey = add(["apikey", "create", "--owner", "robot", "--scopes", "read", "--pepper-from", pepperFile]).api_key;
  const keys = JSON.parse(cli(["keygen", "--alg", "ES256", "--set"]).stdout);
  worker = await startWorker({
    secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(keys), TOLLGATE_PEPPER: PEPPER },
    vars: {
      ORIGIN_URL: origin.url,
      TOLLGATE_CONFIG: JSON.stringify({
        issuer: ISSUER,
        audiences: ["demo"],
        routes: [{ prefix: "/api", scopes: ["read"] }, { prefix: "/api/write", scopes: ["write"] }, { prefix: "/api/danger", scopes: ["read"], oneTime: true }, { prefix: "/app" }, { prefix: "/app/danger", oneTime: true }],
        oauth: { sessionRoutes: ["/app"], passwordMemoryKib: 4096, passwordIterations: 1 },
      }),
    },
    seed: kv.entries,
  });
  jwks = createLocalJWKSet(await (await worker.fetch("/.well-known/jwks.json")).json());
});

after(async () => {
  await worker?.stop();
  origin?.server.close();
});

async function token(params, auth) {
  const init = form(params);
  const res = await worker.fetch("/token", auth ? withAuth(init, auth) : init);
  return { status: res.status, body: await res.json(), headers: res.headers };
}

describe("grants", () => {
  test("client_credentials with client_secret_basic and client_secret_post gives an RFC 9068 access token", async () => {
    const viaBasic = await token({ grant_type: "client_credentials", scope: "read" }, basic("svc", svcSecret));
    assert.equal(viaBasic.status, 200);
    assert.equal(viaBasic.body.token_type, "Bearer");
    assert.equal(viaBasic.body.expires_in, 900);
    assert.equal(viaBasic.headers.get("cache-control"), "no-store");
    const { payload, protectedHeader } = await jwtVerify(viaBasic.body.access_token, jwks, { issuer: ISSUER, audience: "demo", typ: "at+jwt" });
    assert.equal(protectedHeader.typ, "at+jwt");
    for (const claim of ["iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"]) assert.ok(payload[claim] !== undefined, claim);
    assert.equal(payload.client_id, "svc");
    const viaPost = await token({ grant_type: "client_credentials", client_id: "svc", client_secret: svcSecret });
    assert.equal(viaPost.status, 200);
    assert.equal(viaPost.body.scope, "read write");
    const through = await worker.fetch("/api/x", { headers: { Authorization: `Bearer ${viaBasic.body.access_token}` } });
    assert.equal(through.status, 200, "the gateway accepts what the token endpoint issued");
  });

  test("an API key exchanges for a short-lived token, and works at the gateway directly", async () => {
    const viaHeader = await worker.fetch("/token", { method: "POST", headers: { "X-API-Key": apiKey } }); // no body at all, as with curl -X POST
    assert.equal(viaHeader.status, 200);
    const { payload } = await jwtVerify((await viaHeader.json()).access_token, jwks, { issuer: ISSUER });
    assert.equal(payload.sub, "robot");
    const viaBearer = await token({}, `Bearer ${apiKey}`);
    assert.equal(viaBearer.status, 200);
    const direct = await worker.fetch("/api/x", { headers: { Authorization: `Bearer ${apiKey}` } });
    assert.equal(direct.status, 200);
    const seen = (await direct.json()).received.headers;
    assert.equal(seen["x-tollgate-token-type"], "api_key", "one name per token type: introspection says api_key too");
    assert.equal(seen["x-tollgate-sub"], "robot");
    assert.equal((await worker.fetch("/api/write/x", { headers: { Authorization: `Bearer ${apiKey}` } })).status, 403);
  });

  test("password grant for a first-party client, then refresh rotation and reuse detection", async () => {
    const first = await token({ grant_type: "password", username: "alice", password: "correct horse battery" }, basic("svc", svcSecret));
    assert.equal(first.status, 200);
    assert.match(first.body.refresh_token, /^tgr_/);
    const second = await token({ grant_type: "refresh_token", refresh_token: first.body.refresh_token }, basic("svc", svcSecret));
    assert.equal(second.status, 200);
    assert.notEqual(second.body.refresh_token, first.body.refresh_token);
    // A client that may not use the password grant is refused.
    const spa = await token({ grant_type: "password", username: "alice", password: "correct horse battery", client_id: "spa" });
    assert.equal(spa.body.error, "unauthorized_client");
  });
});

describe("RFC 6749 §5.2 errors", () => {
  const cases = [
    ["invalid_request (no grant_type)", {}, () => basic("svc", svcSecret), 400, "invalid_request"],
    ["invalid_client (bad secret)", { grant_type: "client_credentials" }, () => basic("svc", "wrong"), 401, "invalid_client"],
    ["invalid_grant (bad refresh token)", { grant_type: "refresh_token", refresh_token: "tgr_nope" }, () => basic("svc", svcSecret), 400, "invalid_grant"],
    ["unauthorized_client", { grant_type: "client_credentials", client_id: "spa" }, () => undefined, 400, "unauthorized_client"],
    ["unsupported_grant_type", { grant_type: "implicit" }, () => basic("svc", svcSecret), 400, "unsupported_grant_type"],
    ["invalid_scope", { grant_type: "client_credentials", scope: "admin" }, () => basic("svc", svcSecret), 400, "invalid_scope"],
  ];
  for (const [name, params, auth, status, error] of cases) {
    test(name, async () => {
      const res = await token(params, auth());
      assert.equal(res.status, status);
      assert.equal(res.body.error, error);
      if (status === 401) assert.match(res.headers.get("www-authenticate"), /^Basic realm=/);
    });
  }

  test("a Basic header that cannot be read is invalid_client with a Basic challenge (§5.2: the scheme the client used)", async () => {
    for (const header of ["Basic !!!notb64", `Basic ${btoa("svc")}`, "Basic", `Basic ${btoa(":")}`]) {
      const res = await token({ grant_type: "client_credentials" }, header);
      assert.equal(res.status, 401, header);
      assert.equal(res.body.error, "invalid_client", header);
      assert.match(res.headers.get("www-authenticate"), /^Basic realm=/, header);
    }
  });

  test("an API key beside client credentials is invalid_request (§2.3: one method), whichever is valid", async () => {
    for (const [params, auth] of [
      [{}, basic("svc", "wrong")],
      [{}, basic("svc", svcSecret)],
      [{ grant_type: "client_credentials" }, basic("svc", svcSecret)],
    ]) {
      const init = withAuth(form(params), auth);
      init.headers["X-API-Key"] = apiKey;
      const res = await worker.fetch("/token", init);
      assert.equal(res.status, 400, JSON.stringify(params));
      assert.equal((await res.json()).error, "invalid_request");
    }
    const wrongKey = withAuth(form({ grant_type: "client_credentials" }), basic("svc", svcSecret));
    wrongKey.headers["X-API-Key"] = "tgk_nope";
    assert.equal((await (await worker.fetch("/token", wrongKey)).json()).error, "invalid_request");
  });

  test("another method on the server's own paths is 405 with Allow (RFC 9110 §15.5.6), never the origin's; HEAD goes with GET", async () => {
    for (const [method, path, allow] of [
      ["GET", "/token", "POST, OPTIONS"],
      ["PUT", "/token", "POST, OPTIONS"],
      ["GET", "/introspect", "POST"],
      ["DELETE", "/revoke", "POST, OPTIONS"],
      ["GET", "/one-time-token", "POST"],
      ["PUT", "/authorize", "GET, POST"],
      ["DELETE", "/userinfo", "GET, HEAD, POST, OPTIONS"],
      ["HEAD", "/logout", "GET, POST"],
      ["POST", "/.well-known/jwks.json", "GET, HEAD, OPTIONS"],
      ["POST", "/.well-known/openid-configuration", "GET, HEAD, OPTIONS"],
    ]) {
      const res = await worker.fetch(path, { method, headers: { Authorization: `Bearer ${(await token({}, `Bearer ${apiKey}`)).body.access_token}` } });
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.headers.get("allow"), allow, `${method} ${path}`);
      assert.equal(res.headers.get("x-origin"), null, `${method} ${path} reached the origin`);
      if (method !== "HEAD") assert.equal((await res.json()).code, "ERR_METHOD_NOT_ALLOWED");
    }
    for (const path of ["/.well-known/jwks.json", "/.well-known/openid-configuration", "/healthz"]) {
      const res = await worker.fetch(path, { method: "HEAD" });
      assert.equal(res.status, 200, `HEAD ${path}`);
      assert.equal((await res.arrayBuffer()).byteLength, 0, `HEAD ${path} has no body`);
    }
    // /userinfo answers HEAD as GET (RFC 9110 §9.3.2; an outside run found 405).
    const head = await worker.fetch("/userinfo", { method: "HEAD" });
    assert.equal(head.status, 401);
    assert.match(head.headers.get("www-authenticate"), /^Bearer/);
    // An OPTIONS that is not a CORS preflight still learns the methods (RFC 9110 §9.3.7).
    const options = await worker.fetch("/token", { method: "OPTIONS" });
    assert.equal(options.status, 204);
    assert.equal(options.headers.get("allow"), "POST, OPTIONS");
  });

  test("a body that is not a form is invalid_request", async () => {
    const res = await worker.fetch("/token", { method: "POST", headers: { "Content-Type": "application/json", Authorization: basic("svc", svcSecret) }, body: '{"grant_type":"client_credentials"}' });
    assert.equal((await res.json()).error, "invalid_request");
    // RFC 9110 §8.3.1: the media type is compared whole (a prefix match took this one), with
    // any case and parameters.
    const form = "grant_type=client_credentials";
    const sent = (type) => worker.fetch("/token", { method: "POST", headers: { "Content-Type": type, Authorization: basic("svc", svcSecret) }, body: form });
    assert.equal((await (await sent("application/x-www-form-urlencodedX")).json()).error, "invalid_request");
    assert.equal((await sent("Application/X-WWW-Form-URLEncoded ; charset=UTF-8")).status, 200);
  });
});

describe("authorization code with PKCE (HTTP level; the browser flow is in browser.test.mjs)", () => {
  async function login(clientId, redirect, challenge, credentials = { username: "alice", password: "correct horse battery" }, scope = "read") {
    const query = new URLSearchParams({ client_id: clientId, redirect_uri: redirect, response_type: "code", code_challenge: challenge, code_challenge_method: "S256", state: "s123", scope });
    const page = await worker.fetch(`/authorize?${query}`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-security-policy"), /frame-ancestors 'none'/);
    assert.equal(page.headers.get("x-frame-options"), "DENY");
    const csrfCookie = page.headers.getSetCookie().find((c) => c.startsWith("__Host-tg_csrf="));
    assert.match(csrfCookie, /HttpOnly; SameSite=Strict/);
    const csrf = csrfCookie.split(";")[0].split("=")[1];
    const body = new URLSearchParams({ ...Object.fromEntries(query), csrf, action: "login", ...credentials });
    const res = await worker.fetch("/authorize", { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: `__Host-tg_csrf=${csrf}` }, body: body.toString() });
    return { res, csrf, query };
  }

  test("code + verifier → tokens; a wrong verifier, a wrong redirect_uri and a reused code fail", async () => {
    const { verifier, challenge } = pkce();
    const { res } = await login("spa", "https://spa.test/cb", challenge);
    assert.equal(res.status, 303);
    const location = new URL(res.headers.get("location"));
    assert.equal(location.origin + location.pathname, "https://spa.test/cb");
    assert.equal(location.searchParams.get("state"), "s123");
    assert.equal(location.searchParams.get("iss"), ISSUER);
    assert.match(res.headers.getSetCookie().find((c) => c.startsWith("tg_session=")), /Secure; HttpOnly; SameSite=Lax/);
    const code = location.searchParams.get("code");
    const exchange = (params) => token({ grant_type: "authorization_code", client_id: "spa", redirect_uri: "https://spa.test/cb", code, code_verifier: verifier, ...params });
    const mismatch = await exchange({ redirect_uri: "https://spa.test/other" });
    assert.equal(mismatch.body.error, "invalid_grant");

    const second = pkce();
    const { res: again } = await login("spa", "https://spa.test/cb", second.challenge);
    const code2 = new URL(again.headers.get("location")).searchParams.get("code");
    const badVerifier = await token({ grant_type: "authorization_code", client_id: "spa", redirect_uri: "https://spa.test/cb", code: code2, code_verifier: pkce().verifier });
    assert.equal(badVerifier.body.error, "invalid_grant");

    const third = pkce();
    const { res: once } = await login("spa", "https://spa.test/cb", third.challenge);
    const code3 = new URL(once.headers.get("location")).searchParams.get("code");
    const ok = await token({ grant_type: "authorization_code", client_id: "spa", redirect_uri: "https://spa.test/cb", code: code3, code_verifier: third.verifier });
    assert.equal(ok.status, 200);
    const reuse = await token({ grant_type: "authorization_code", client_id: "spa", redirect_uri: "https://spa.test/cb", code: code3, code_verifier: third.verifier });
    assert.equal(reuse.body.error, "invalid_grant");
    const refreshAfterReuse = await token({ grant_type: "refresh_token", client_id: "spa", refresh_token: ok.body.refresh_token });
    assert.equal(refreshAfterReuse.body.error, "invalid_grant", "code reuse revokes the tokens it gave");
  });

  test("plain PKCE, an unregistered redirect_uri and an unknown client never reach a login form", async () => {
    const plain = await worker.fetch(`/authorize?${new URLSearchParams({ client_id: "spa", redirect_uri: "https://spa.test/cb", response_type: "code", code_challenge: "x".repeat(43), code_challenge_method: "plain", state: "s" })}`);
    assert.equal(plain.status, 303);
    assert.match(plain.headers.get("location"), /^https:\/\/spa\.test\/cb\?error=invalid_request/);
    const evil = await worker.fetch(`/authorize?${new URLSearchParams({ client_id: "spa", redirect_uri: "https://evil.test/cb", response_type: "code", code_challenge: pkce().challenge, code_challenge_method: "S256" })}`);
    assert.equal(evil.status, 400, "no redirect to an unregistered URI (open redirect)");
    assert.equal(evil.headers.get("location"), null);
    const unknown = await worker.fetch(`/authorize?client_id=nobody&response_type=code`);
    assert.equal(unknown.status, 400);
    // RFC 6749 §4.1.2.1: a repeated parameter goes back to the client once the client and its
    // redirect URI are known (an outside run got an error page), with the first `state`; a
    // repeated client_id or redirect_uri is a page (neither is trusted then).
    const good = new URLSearchParams({ client_id: "spa", redirect_uri: "https://spa.test/cb", response_type: "code", code_challenge: pkce().challenge, code_challenge_method: "S256", state: "s1" });
    const twice = await worker.fetch(`/authorize?${good}&state=s2`);
    assert.equal(twice.status, 303);
    const back = new URL(twice.headers.get("location"));
    assert.equal(`${back.origin}${back.pathname}`, "https://spa.test/cb");
    assert.equal(back.searchParams.get("error"), "invalid_request");
    assert.equal(back.searchParams.get("state"), "s1");
    assert.ok(back.searchParams.get("iss"));
    const clientTwice = await worker.fetch(`/authorize?${good}&client_id=spa`);
    assert.equal(clientTwice.status, 400);
    assert.equal(clientTwice.headers.get("location"), null);
    // Even after another repeated parameter (a second outside run was redirected then).
    const both = await worker.fetch(`/authorize?state=a&${good}&client_id=other`);
    assert.equal(both.status, 400);
    assert.equal(both.headers.get("location"), null);
    // The same request sent as a form (OpenID Connect Core §3.1.2.1) goes back the same way.
    const posted = await worker.fetch("/authorize", { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: `${good}&state=s2` });
    assert.equal(posted.status, 303);
    assert.equal(new URL(posted.headers.get("location")).searchParams.get("error"), "invalid_request");
  });

  test("a form without the CSRF cookie is refused", async () => {
    const { challenge } = pkce();
    const query = { client_id: "spa", redirect_uri: "https://spa.test/cb", response_type: "code", code_challenge: challenge, code_challenge_method: "S256" };
    const res = await worker.fetch("/authorize", form({ ...query, csrf: "guess", action: "login", username: "alice", password: "correct horse battery" }));
    assert.equal(res.status, 400);
    assert.match(await res.text(), /expired or was not sent from this site/);
  });

  test("a third-party client gets a consent page; deny returns access_denied", async () => {
    const { challenge } = pkce();
    const { res, csrf, query } = await login("partner", "https://partner.test/cb", challenge);
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /wants to access your account/);
    const session = res.headers.getSetCookie().find((c) => c.startsWith("tg_session=")).split(";")[0];
    const decide = (value, action) =>
      worker.fetch("/authorize", { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: `__Host-tg_csrf=${value}; ${session}` }, body: new URLSearchParams({ ...Object.fromEntries(query), csrf: value, action }).toString() });
    // The consent form has a value of its own, bound to the new session (RFC 9700 §4.7): the
    // login page's, made before there was one, approves nothing in it.
    const own = res.headers.getSetCookie().find((c) => c.startsWith("__Host-tg_csrf="));
    assert.match(own, /Path=\/; .*Secure; HttpOnly; SameSite=Strict/);
    const consentCsrf = own.split(";")[0].split("=")[1];
    assert.equal(html.includes(`value="${consentCsrf}"`), true);
    assert.equal((await decide(csrf, "approve")).status, 400, "a value made for no session");
    const deny = await decide(consentCsrf, "deny");
    assert.equal(deny.status, 303);
    assert.match(deny.headers.get("location"), /error=access_denied/);
    const approve = await decide(consentCsrf, "approve");
    assert.match(approve.headers.get("location"), /^https:\/\/partner\.test\/cb\?code=tgc_/);
  });

  test("repeated wrong passwords lock the account, with the same message as an unknown user", async () => {
    const messages = new Set();
    for (let i = 0; i < 5; i++) {
      const { res } = await login("spa", "https://spa.test/cb", pkce().challenge, { username: "bob", password: `wrong-${i}` });
      assert.equal(res.status, 401);
      messages.add((await res.text()).match(/role="alert">([^<]*)</)[1]);
    }
    const { res: unknown } = await login("spa", "https://spa.test/cb", pkce().challenge, { username: "nobody", password: "whatever1" });
    messages.add((await unknown.text()).match(/role="alert">([^<]*)</)[1]);
    assert.equal(messages.size, 1, "one message for every failure");
    const { res: locked } = await login("spa", "https://spa.test/cb", pkce().challenge, { username: "bob", password: "bob-password-1" });
    assert.equal(locked.status, 401, "locked out even with the right password");
  });
});

describe("introspection, revocation, sessions, metadata", () => {
  test("one client-authentication parser: a form client_id that contradicts Basic is refused on every endpoint", async () => {
    for (const path of ["/token", "/introspect", "/revoke"]) {
      const res = await worker.fetch(path, withAuth(form({ grant_type: "client_credentials", token: "x", client_id: "spa" }), basic("svc", svcSecret)));
      assert.equal(res.status, 400, path);
      assert.equal((await res.json()).error, "invalid_request", path);
    }
  });

  test("introspect and revoke each token type with client authentication", async () => {
    const pair = await token({ grant_type: "password", username: "alice", password: "correct horse battery" }, basic("svc", svcSecret));
    const [out] = manage(["apikey", "create", "--owner", "temp", "--scopes", "read", "--pepper-from", pepperFile]);
    assert.ok(out.api_key);
    const introspect = async (tok) => (await (await worker.fetch("/introspect", withAuth(form({ token: tok }), basic("svc", svcSecret)))).json());
    assert.equal((await introspect(pair.body.access_token)).active, true);
    assert.equal((await introspect(pair.body.access_token)).client_id, "svc");
    assert.equal((await introspect(pair.body.access_token)).token_type, "Bearer", "RFC 7662 §2.2: RFC 6749 §5.1's type");
    assert.equal((await introspect(pair.body.refresh_token)).token_type, "refresh_token");
    assert.equal((await introspect(apiKey)).token_type, "api_key");
    assert.equal((await introspect("garbage")).active, false);
    const noClient = await worker.fetch("/introspect", form({ token: pair.body.access_token }));
    assert.equal(noClient.status, 401);

    for (const tok of [pair.body.access_token, pair.body.refresh_token]) {
      const res = await worker.fetch("/revoke", withAuth(form({ token: tok }), basic("svc", svcSecret)));
      assert.equal(res.status, 200);
      assert.equal((await introspect(tok)).active, false);
    }
    const refused = await worker.fetch("/api/x", { headers: { Authorization: `Bearer ${pair.body.access_token}` } });
    assert.equal((await refused.json()).code, "ERR_JWT_REVOKED");
  });

  /** Signs alice in through the login form; answers her session cookie (`tg_session=…`). */
  async function signIn() {
    const query = new URLSearchParams({ client_id: "spa", redirect_uri: "https://spa.test/cb", response_type: "code", code_challenge: pkce().challenge, code_challenge_method: "S256" });
    const page = await worker.fetch(`/authorize?${query}`);
    const res = await postLogin(query, page);
    return res.headers.getSetCookie().find((c) => c.startsWith("tg_session=")).split(";")[0];
  }

  /** Posts alice's credentials in the login form `page` showed for `query`, from a browser
   * holding `session` (a cookie) if given. */
  function postLogin(query, page, session) {
    const csrf = page.headers.getSetCookie().find((c) => c.startsWith("__Host-tg_csrf=")).split(";")[0].split("=")[1];
    const cookie = [`__Host-tg_csrf=${csrf}`, session].filter(Boolean).join("; ");
    return worker.fetch("/authorize", { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: cookie }, body: new URLSearchParams({ ...Object.fromEntries(query), csrf, action: "login", username: "alice", password: "correct horse battery" }).toString() });
  }

  test("sessions work on session routes and logout ends them", async () => {
    const session = await signIn();
    const app = await worker.fetch("/app/home", { headers: { Cookie: session } });
    assert.equal(app.status, 200);
    assert.equal((await app.json()).received.headers["x-tollgate-token-type"], "session");
    assert.equal((await worker.fetch("/api/x", { headers: { Cookie: session } })).status, 401, "sessions only on session routes");
    for (const path of ["/apple", "/application/x", "/APP/home"]) {
      assert.equal((await worker.fetch(path, { headers: { Cookie: session } })).status, 401, `${path}: a session route matches whole segments, exact case`);
    }
    const out = await worker.fetch("/logout", { method: "POST", headers: { Cookie: session } });
    assert.equal(out.status, 200);
    assert.equal((await worker.fetch("/app/home", { headers: { Cookie: session } })).status, 401);
  });

  test("a session's idle refresh, 40 concurrent requests and a sign-out racing them: no 5xx, and the session stays ended", async (t) => {
    // The refresh (at most once a minute) writes the session again and then reads its grants
    // in the Durable Object, undoing the write when a sign-out closed them. Eight sessions wait
    // out the minute together; then each gets 40 concurrent uses, every one of which reads the
    // session before any has written it and so refreshes it, and a sign-out sent a few
    // milliseconds later (0 to 21: at each its own point among the uses' writes and checks).
    const use = (session) => worker.fetch("/app/home", { headers: { Cookie: session } }).then((r) => r.status);
    const delays = [0, 1, 2, 3, 5, 8, 13, 21];
    const sessions = [];
    for (const _ of delays) {
      const session = await signIn();
      assert.equal(await use(session), 200);
      sessions.push(session);
    }
    await new Promise((resolve) => setTimeout(resolve, 61_000));
    const served = [];
    for (const [i, session] of sessions.entries()) {
      const uses = Array.from({ length: 40 }, () => use(session));
      const out = new Promise((resolve) => setTimeout(resolve, delays[i])).then(() => worker.fetch("/logout", { method: "POST", headers: { Cookie: session } })).then((r) => r.status);
      const statuses = await Promise.all(uses);
      assert.equal(await out, 200);
      assert.deepEqual(statuses.filter((s) => s !== 200 && s !== 401), [], "each use is served or refused, never failed");
      served.push(statuses.filter((s) => s === 200).length);
      for (let n = 0; n < 3; n++) {
        assert.equal(await use(session), 401, `the session signed out ${delays[i]} ms into its uses came back`);
      }
    }
    t.diagnostic(`uses served of 40, by the sign-out's delay (${delays.join(", ")} ms): ${served.join(", ")}`);
  });

  test("a session grants at most 500 codes, 520 requests at once; then /authorize asks its user to sign in again, which starts a session that grants", async () => {
    // The cap keeps a sign-out, which revokes each grant with one write, within the operations
    // one request may make (src/oauth/sessions.rs, MAX_SESSION_GRANTS); the sign-in's own code
    // is the first of the 500.
    const session = await signIn();
    const { verifier, challenge } = pkce();
    const query = new URLSearchParams({ client_id: "spa", redirect_uri: "https://spa.test/cb", response_type: "code", code_challenge: challenge, code_challenge_method: "S256", state: "s" });
    const authorize = (cookie, extra = {}) => worker.fetch(`/authorize?${new URLSearchParams({ ...Object.fromEntries(query), ...extra })}`, { headers: { Cookie: cookie } });
    const codeOf = (res) => res.status === 303 && new URL(res.headers.get("location")).searchParams.get("code");
    const answers = await Promise.all(Array.from({ length: 520 }, () => authorize(session)));
    const codes = answers.map(codeOf).filter(Boolean);
    assert.equal(codes.length, 499, "every code up to the cap, none beyond");
    const pages = answers.filter((res) => !codeOf(res));
    assert.deepEqual(pages.map((res) => res.status), Array(21).fill(200), "beyond it, the login page");
    assert.ok(pages.every((res) => res.headers.getSetCookie().some((c) => c.startsWith("__Host-tg_csrf="))), "with the CSRF cookie its form needs");
    const silent = await authorize(session, { prompt: "none" });
    assert.equal(silent.status, 303);
    const refusal = new URL(silent.headers.get("location")).searchParams;
    assert.deepEqual([refusal.get("error"), refusal.get("state"), refusal.get("iss")], ["login_required", "s", ISSUER], "prompt=none: the error, back to the client (RFC 6749 §4.1.2.1)");
    const redeem = (code) => token({ grant_type: "authorization_code", client_id: "spa", redirect_uri: "https://spa.test/cb", code, code_verifier: verifier });
    const granted = await redeem(codes[0]);
    assert.equal(granted.status, 200);

    // The login page's sign-in ends the full session as a sign-out ends it (what it granted
    // is revoked) and starts one that grants.
    const signedIn = await postLogin(query, pages[0], session);
    assert.ok(codeOf(signedIn), "the sign-in's own code");
    const again = signedIn.headers.getSetCookie().find((c) => c.startsWith("tg_session=")).split(";")[0];
    assert.notEqual(again, session);
    assert.ok(codeOf(await authorize(again)), "the new session grants");
    assert.equal((await worker.fetch("/app/home", { headers: { Cookie: session } })).status, 401);
    const refreshed = await token({ grant_type: "refresh_token", client_id: "spa", refresh_token: granted.body.refresh_token });
    assert.equal(refreshed.body.error, "invalid_grant", "what the ended session granted is revoked");
  });

  test("a one-time route accepts its one-time token exactly once, and only for the same subject", async () => {
    const alice = (await token({ grant_type: "password", username: "alice", password: "correct horse battery" }, basic("svc", svcSecret))).body.access_token;
    const robot = (await token({}, `Bearer ${apiKey}`)).body.access_token;
    const call = (access, oneTime) => worker.fetch("/api/danger/delete-account", { method: "POST", headers: { Authorization: `Bearer ${access}`, ...(oneTime ? { "X-One-Time-Token": oneTime } : {}) } });
    const without = await call(alice);
    assert.equal(without.status, 403);
    assert.equal((await without.json()).code, "ERR_ONE_TIME_TOKEN_INVALID");
    const issue = async (access) => (await (await worker.fetch("/one-time-token", withAuth(form({ route: "/api/danger" }), `Bearer ${access}`))).json()).one_time_token;
    const once = await issue(alice);
    assert.match(once, /^tgo_/);
    const first = await call(alice, once);
    assert.equal(first.status, 200);
    assert.equal((await first.json()).received.headers["x-one-time-token"], undefined, "not forwarded");
    assert.equal((await call(alice, once)).status, 403, "consumed on first use");
    const robots = await issue(robot);
    assert.equal((await call(alice, robots)).status, 403, "bound to its subject");
    assert.equal((await call(apiKey, await issue(apiKey))).status, 200, "an API key, which the route takes, gets one too");
    const bad = await worker.fetch("/one-time-token", withAuth(form({ route: "/api" }), `Bearer ${alice}`));
    assert.equal(bad.status, 400, "only for oneTime routes");
    const revoked = await worker.fetch("/revoke", withAuth(form({ token: alice }), basic("svc", svcSecret)));
    assert.equal(revoked.status, 200);
    const refused = await worker.fetch("/one-time-token", withAuth(form({ route: "/api/danger" }), `Bearer ${alice}`));
    assert.deepEqual([refused.status, (await refused.json()).code], [401, "ERR_JWT_REVOKED"], "none for a revoked token");
  });

  test("a signed-in browser gets a one-time token for a session route, used once there; not for a route that takes tokens only", async () => {
    const session = await signIn();
    const cookie = { Cookie: session };
    const call = (oneTime) => worker.fetch("/app/danger/close-account", { method: "POST", headers: { ...cookie, ...(oneTime ? { "X-One-Time-Token": oneTime } : {}) } });
    assert.equal((await (await call()).json()).code, "ERR_ONE_TIME_TOKEN_INVALID");
    const issue = (route, headers = cookie) => worker.fetch("/one-time-token", { ...form({ route }), headers: { ...form({}).headers, ...headers } });
    const issued = await issue("/app/danger");
    assert.equal(issued.status, 200);
    const once = (await issued.json()).one_time_token;
    assert.equal((await call(once)).status, 200);
    assert.equal((await call(once)).status, 403, "consumed on first use");
    const tokensOnly = await issue("/api/danger");
    assert.deepEqual([tokensOnly.status, (await tokensOnly.json()).code], [401, "ERR_TOKEN_MISSING"], "the cookie is no credential on a route that takes tokens only");
    assert.equal((await worker.fetch("/logout", { method: "POST", headers: cookie })).status, 200);
    const ended = await issue("/app/danger");
    assert.deepEqual([ended.status, (await ended.json()).code], [401, "ERR_SESSION_INVALID"]);
  });

  test("RFC 8414 metadata lists every endpoint and supported value", async () => {
    const res = await worker.fetch("/.well-known/oauth-authorization-server");
    const meta = await res.json();
    assert.equal(meta.issuer, ISSUER);
    for (const endpoint of ["authorization_endpoint", "token_endpoint", "introspection_endpoint", "revocation_endpoint", "jwks_uri"]) assert.ok(meta[endpoint].startsWith(ISSUER), endpoint);
    assert.deepEqual(meta.code_challenge_methods_supported, ["S256"]);
    assert.ok(meta.grant_types_supported.includes("refresh_token"));
  });
});


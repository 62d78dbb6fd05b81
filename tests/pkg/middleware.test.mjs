// The middleware against the real frameworks: a fetch handler (`tollgate/fetch`), a Hono app
// (`tollgate/hono`) and an Express app (`tollgate/express`), each taking the gateway's
// assertion or a bearer token as configured, and refusing with the gateway's own answers.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as jose from "jose";
import { Hono } from "hono";
import express from "express";
import { authenticate } from "tollgate/fetch";
import { tollgate as honoTollgate } from "tollgate/hono";
import { tollgate as expressTollgate } from "tollgate/express";

const ISSUER = "https://auth.example";
let key, jwks, expressServer, expressUrl;
const now = () => Math.floor(Date.now() / 1000);

async function assertionFor(method, url, claims = {}) {
  return new jose.SignJWT({ iss: ISSUER, aud: new URL(url).origin, sub: "usr_1", scope: "read", token_type: "jwt", htm: method, htu: url.split("?")[0], iat: now(), exp: now() + 60, ...claims })
    .setProtectedHeader({ alg: "ES256", kid: "gw", typ: "tollgate-assertion+jwt" })
    .sign(key);
}

async function accessToken(claims = {}) {
  return new jose.SignJWT({ iss: ISSUER, sub: "svc", scope: "read write", client_id: "svc", jti: "t1", iat: now(), exp: now() + 300, ...claims })
    .setProtectedHeader({ alg: "ES256", kid: "gw", typ: "at+jwt" })
    .sign(key);
}

before(async () => {
  const pair = await jose.generateKeyPair("ES256", { extractable: true });
  key = pair.privateKey;
  jwks = { keys: [{ ...(await jose.exportJWK(pair.publicKey)), alg: "ES256", kid: "gw" }] };
  const app = express();
  app.use("/api", (req, res, next) => expressTollgate({ issuer: ISSUER, jwks, assertion: { audience: expressUrl }, scopes: ["read"] })(req, res, next));
  app.get("/api/me", (req, res) => res.json({ sub: req.auth.sub, via: req.auth.via }));
  expressServer = await new Promise((ok) => {
    const server = app.listen(0, "127.0.0.1", () => ok(server));
  });
  expressUrl = `http://127.0.0.1:${expressServer.address().port}`;
});

after(() => expressServer?.close());

test("fetch: the assertion or a token, each only when turned on, with the gateway's refusals", async () => {
  const url = "https://app.internal/api/me?x=1";
  const options = { issuer: ISSUER, jwks, assertion: { audience: "https://app.internal" } };
  const ok = await authenticate(new Request(url, { headers: { "X-Tollgate-Assertion": await assertionFor("GET", url) } }), options);
  assert.equal(ok.sub, "usr_1");
  assert.equal(ok.via, "assertion");
  assert.equal(ok.issuer, undefined, "an assertion without token_iss (a gateway before session 22)");
  // The presented token's issuer, which scopes its `sub` (RFC 7519 §4.1.2).
  const external = await authenticate(new Request(url, { headers: { "X-Tollgate-Assertion": await assertionFor("GET", url, { token_iss: "https://idp.example" }) } }), options);
  assert.equal(external.issuer, "https://idp.example");
  assert.deepEqual(ok.scopes, ["read"]);
  // Sent directly with a token: the assertion-only origin refuses it.
  const direct = await authenticate(new Request(url, { headers: { Authorization: `Bearer ${await accessToken()}` } }), options);
  assert.ok(direct instanceof Response);
  assert.equal(direct.status, 401);
  assert.equal(direct.headers.get("www-authenticate"), 'Bearer realm="tollgate"');
  assert.equal((await direct.json()).code, "ERR_TOKEN_MISSING");
  // Another URL's assertion: invalid_token naming htu.
  const moved = await authenticate(new Request("https://app.internal/api/other", { headers: { "X-Tollgate-Assertion": await assertionFor("GET", url) } }), options);
  assert.equal(moved.status, 401);
  assert.match(moved.headers.get("www-authenticate"), /^Bearer realm="tollgate", error="invalid_token"/);
  const body = await moved.json();
  assert.equal(body.code, "ERR_JWT_CLAIM_VALIDATION_FAILED");
  assert.equal(body.claim, "htu");
  // Token mode: a Tollgate access token; scopes checked; a DPoP-bound one refused as Bearer.
  const tokens = { issuer: ISSUER, jwks, token: {}, scopes: ["write"] };
  const viaToken = await authenticate(new Request(url, { headers: { Authorization: `Bearer ${await accessToken()}` } }), tokens);
  assert.equal(viaToken.clientId, "svc");
  assert.equal(viaToken.issuer, ISSUER);
  const narrow = await authenticate(new Request(url, { headers: { Authorization: `Bearer ${await accessToken({ scope: "read" })}` } }), tokens);
  assert.equal(narrow.status, 403);
  assert.match(narrow.headers.get("www-authenticate"), /error="insufficient_scope".*scope="write"/);
  const bound = await authenticate(new Request(url, { headers: { Authorization: `Bearer ${await accessToken({ cnf: { jkt: "x" } })}` } }), tokens);
  assert.equal((await bound.json()).code, "ERR_DPOP_BINDING_MISMATCH");
  const malformed = await authenticate(new Request(url, { headers: { Authorization: "Basic abc" } }), tokens);
  assert.equal(malformed.status, 400);
  await assert.rejects(authenticate(new Request(url), { issuer: ISSUER, jwks }), TypeError, "no source turned on");
});

test("Hono: c.get('auth') behind the middleware; refusals never reach the handler", async () => {
  const app = new Hono();
  app.use("/api/*", honoTollgate({ issuer: ISSUER, jwks, assertion: { audience: "http://localhost" }, scopes: ["read"] }));
  app.get("/api/me", (c) => c.json({ sub: c.get("auth").sub, type: c.get("auth").tokenType }));
  const url = "http://localhost/api/me";
  const res = await app.request(url, { headers: { "X-Tollgate-Assertion": await assertionFor("GET", url) } });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { sub: "usr_1", type: "jwt" });
  const stale = await app.request(url, { headers: { "X-Tollgate-Assertion": await assertionFor("GET", url, { iat: now() - 600, exp: now() - 540 }) } });
  assert.equal(stale.status, 401);
  assert.equal((await stale.json()).code, "ERR_JWT_EXPIRED");
  const forged = await new jose.SignJWT({ iss: ISSUER, aud: "http://localhost", htm: "GET", htu: url, exp: now() + 60 })
    .setProtectedHeader({ alg: "ES256", kid: "gw", typ: "tollgate-assertion+jwt" })
    .sign((await jose.generateKeyPair("ES256")).privateKey);
  assert.equal((await (await app.request(url, { headers: { "X-Tollgate-Assertion": forged } })).json()).code, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED");
  const noScope = await app.request(url, { headers: { "X-Tollgate-Assertion": await assertionFor("GET", url, { scope: "other" }) } });
  assert.equal(noScope.status, 403);
});

test("Express: req.auth behind the middleware, over real HTTP", async () => {
  const url = `${expressUrl}/api/me`;
  const res = await fetch(url, { headers: { "X-Tollgate-Assertion": await assertionFor("GET", url) } });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { sub: "usr_1", via: "assertion" });
  const post = await fetch(url, { method: "POST", headers: { "X-Tollgate-Assertion": await assertionFor("GET", url) } });
  assert.equal(post.status, 401, "made for GET");
  assert.equal((await post.json()).claim, "htm");
  const none = await fetch(url);
  assert.equal(none.status, 401);
  assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="tollgate"');
});

test("Express with \"trust proxy\": the assertion is checked against the URL the gateway fetched (Host), not the public one X-Forwarded-Host names", async () => {
  // The gateway sends X-Forwarded-Host with its own public host (docs/SECURITY.md) and names
  // its ORIGIN_URL in the assertion's htu; an origin that rebuilt its URL from the forwarded
  // host would refuse every assertion, so the Host header decides, trusted proxy or not.
  const app = express();
  app.set("trust proxy", "loopback");
  app.use("/api", expressTollgate({ issuer: ISSUER, jwks, assertion: { audience: "http://origin.internal" } }));
  app.get("/api/me", (req, res) => res.json({ sub: req.auth.sub }));
  const server = await new Promise((ok) => {
    const s = app.listen(0, "127.0.0.1", () => ok(s));
  });
  const { request } = await import("node:http");
  const get = (headers) =>
    new Promise((ok, fail) => {
      const req = request({ host: "127.0.0.1", port: server.address().port, path: "/api/me", headers }, (res) => {
        let body = "";
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => ok({ status: res.statusCode, body: JSON.parse(body) }));
      });
      req.on("error", fail);
      req.end();
    });
  try {
    const made = await assertionFor("GET", "http://origin.internal/api/me", { aud: "http://origin.internal" });
    const ok = await get({ Host: "origin.internal", "X-Forwarded-Host": "auth.example", "X-Forwarded-Proto": "http", "X-Tollgate-Assertion": made });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const elsewhere = await get({ Host: "other.internal", "X-Forwarded-Host": "origin.internal", "X-Forwarded-Proto": "http", "X-Tollgate-Assertion": made });
    assert.equal(elsewhere.status, 401);
    assert.equal(elsewhere.body.claim, "htu", "a forwarded host does not stand in for Host");
  } finally {
    server.close();
  }
});

test("options: an unknown name at any level, or an empty value that would check nothing, is a TypeError, never a check dropped", async () => {
  const url = "https://api.example/admin";
  const bearer = async () => new Request(url, { headers: { Authorization: `Bearer ${await accessToken({ scope: "read", aud: "other-service" })}` } });
  const wrong = [
    { issuer: ISSUER, jwks, token: {}, scope: ["admin"] }, // scopes misspelt
    { issuer: ISSUER, jwks, token: { audiance: "api" } },
    { issuer: ISSUER, jwks, token: { audience: "" } },
    { issuer: ISSUER, jwks, token: { audience: [] } },
    { issuer: ISSUER, jwks, token: { audience: ["api", ""] } },
    { issuer: ISSUER, jwks, token: { typ: "" } },
    { issuer: ISSUER, jwks, token: true },
    { issuer: ISSUER, jwks, token: {}, scopes: [] },
    { issuer: ISSUER, jwks, token: {}, scopes: [""] },
    { issuer: ISSUER, jwks, token: {}, scopes: "admin" },
    { issuer: ISSUER, jwks, assertion: { audience: "" } },
    { issuer: ISSUER, jwks, assertion: {} },
    { issuer: ISSUER, jwks, assertion: { audience: "https://app.internal", audiance: "x" } },
    { issuer: "", jwks, token: {} },
    { issuer: ISSUER, jwks, token: {}, clockTolerance: 5 },
  ];
  for (const options of wrong) {
    const what = JSON.stringify({ ...options, jwks: undefined });
    await assert.rejects(authenticate(await bearer(), options), TypeError, what);
    // The framework middleware refuses them when it is made, before any request.
    assert.throws(() => honoTollgate(options), TypeError, `hono ${what}`);
    assert.throws(() => expressTollgate(options), TypeError, `express ${what}`);
  }
  const message = await authenticate(await bearer(), wrong[0]).catch((err) => err.message);
  assert.match(message, /unknown option "scope"/);
  const nested = await authenticate(await bearer(), wrong[1]).catch((err) => err.message);
  assert.match(nested, /unknown option "token\.audiance"/);
  // Written correctly, the same options refuse the token.
  assert.equal((await authenticate(await bearer(), { issuer: ISSUER, jwks, token: {}, scopes: ["admin"] })).status, 403);
  assert.equal((await authenticate(await bearer(), { issuer: ISSUER, jwks, token: { audience: "api" } })).status, 401);
  assert.equal((await authenticate(await bearer(), { issuer: ISSUER, jwks, token: { audience: ["api", "other-service"] } })).sub, "svc");
});

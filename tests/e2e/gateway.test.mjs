// The gateway end to end: the built worker in workerd (wrangler dev) with real local KV, in
// front of a real origin on 127.0.0.1, plus a local JWKS server standing in for an external
// identity provider. Tokens are made with our CLI and with jose (so interop is tested too).
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT, importJWK, generateKeyPair, exportJWK, calculateJwkThumbprint, base64url } from "jose";
import { createHash } from "node:crypto";
import { cli, logsUntil, startWorker } from "./harness.mjs";
import * as tollgate from "../pkg/node_modules/tollgate/dist/node.mjs";
import { startOrigin } from "../../scripts/demo-origin.mjs";

const ISSUER = "https://tollgate.test";
const ADMIN = "admin-token-for-tests-only-0123456789";
const now = () => Math.floor(Date.now() / 1000);

function keygen(alg, kid) {
  return JSON.parse(cli(["keygen", "--alg", alg, "--kid", kid, "--set"]).stdout).keys[0];
}

/** Signs claims with a private JWK using jose; defaults make a valid token for the gateway. */
async function sign(privateJwk, claims = {}, header = {}) {
  const key = await importJWK(privateJwk, privateJwk.alg);
  const body = { iss: ISSUER, aud: "demo", sub: "alice", scope: "read", jti: crypto.randomUUID(), iat: now(), exp: now() + 600, ...claims };
  for (const [k, v] of Object.entries(body)) if (v === undefined) delete body[k];
  return new SignJWT(body).setProtectedHeader({ alg: privateJwk.alg, kid: privateJwk.kid, typ: "at+jwt", ...header }).sign(key);
}

/** A JWKS server whose behaviour the tests switch: ok, down (500), garbage, slow, huge. */
async function startJwksServer() {
  const state = { mode: "ok", keys: [], hits: 0 };
  const server = createServer((req, res) => {
    state.hits += 1;
    if (state.mode === "down") return res.writeHead(500).end("down");
    if (state.mode === "garbage") return res.writeHead(200, { "content-type": "application/json" }).end("{not json");
    if (state.mode === "huge") return res.writeHead(200, { "content-type": "application/json" }).end(" ".repeat(200_000) + "{}");
    if (state.mode === "slow") return setTimeout(() => res.writeHead(200).end(JSON.stringify({ keys: state.keys })), 5000);
    if (state.mode === "late") return setTimeout(() => res.writeHead(200).end(JSON.stringify({ keys: state.keys })), 300);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return { state, server, url: `http://127.0.0.1:${server.address().port}/jwks.json` };
}

function config(extra = {}) {
  return JSON.stringify({
    issuer: ISSUER,
    audiences: ["demo"],
    tokenCookie: "tg_token",
    routes: [
      { prefix: "/public", auth: "public" },
      { prefix: "/api", scopes: ["read"] },
      { prefix: "/api/admin", scopes: ["admin"] },
    ],
    ...extra,
  });
}

let origin, jwks, worker, active, older, external, stateDir;

async function boot(extraConfig = {}, options = {}) {
  return startWorker({
    secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify({ keys: [active, older] }), TOLLGATE_ADMIN_TOKEN: ADMIN },
    vars: { ORIGIN_URL: origin.url, TOLLGATE_CONFIG: config(extraConfig) },
    ...options,
  });
}

const bearer = (token) => ({ headers: { Authorization: `Bearer ${token}` } });

before(async () => {
  origin = await startOrigin();
  jwks = await startJwksServer();
  active = keygen("ES256", "active");
  older = keygen("EdDSA", "older");
  const pair = await generateKeyPair("ES256", { extractable: true });
  external = { ...(await exportJWK(pair.privateKey)), alg: "ES256", kid: "idp-1" };
  jwks.state.keys = [{ ...(await exportJWK(pair.publicKey)), alg: "ES256", kid: "idp-1", use: "sig" }];
  stateDir = mkdtempSync(join(tmpdir(), "tollgate-state-"));
  worker = await boot(
    { externalIssuers: [{ issuer: "https://idp.test", jwksUrl: jwks.url, audiences: ["demo"], cooldownSeconds: 2, timeoutMs: 1000 }] },
    { stateDir },
  );
});

after(async () => {
  await worker?.stop();
  origin?.server.close();
  jwks?.server.close();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

describe("forwarding", () => {
  test("a valid token reaches the origin with identity headers, spoofed ones stripped", async () => {
    const token = await sign(active, { sub: "alice", scope: "read write" });
    const res = await worker.fetch("/api/orders?limit=5&sort=desc", {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "X-Tollgate-Sub": "mallory", "x-tollgate-scope": "admin", "Content-Type": "application/json", "X-Custom": "kept" },
      body: JSON.stringify({ item: 42 }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-origin"), "demo");
    assert.equal(res.headers.get("strict-transport-security"), null, "HSTS only over https (RFC 6797 §7.2)");
    const { received } = await res.json();
    assert.equal(received.method, "POST");
    assert.equal(received.path, "/api/orders");
    assert.equal(received.query, "?limit=5&sort=desc");
    assert.equal(received.body, '{"item":42}');
    assert.equal(received.headers["x-custom"], "kept");
    assert.equal(received.headers["x-tollgate-sub"], "alice");
    assert.equal(received.headers["x-tollgate-scope"], "read write");
    assert.equal(received.headers["x-tollgate-issuer"], ISSUER);
    assert.equal(received.headers["x-tollgate-token-type"], "jwt");
    assert.ok(received.headers["x-tollgate-jti"]);
    assert.equal(received.headers.authorization, undefined, "credentials are not forwarded by default");
  });

  test("the origin gets a signed assertion for exactly this request, which the package verifies", async () => {
    const token = await sign(active, { sub: "alice", scope: "read" });
    const call = (path, init = {}) => worker.fetch(path, { ...init, headers: { Authorization: `Bearer ${token}`, "X-Tollgate-Assertion": "forged", ...(init.headers ?? {}) } });
    const { received } = await (await call("/api/orders?limit=5", { method: "POST", body: "{}" })).json();
    const assertion = received.headers["x-tollgate-assertion"];
    assert.ok(assertion && assertion !== "forged", "the client's copy is dropped, the gateway's is sent");
    const jwks = await (await worker.fetch("/.well-known/jwks.json")).json();
    const options = { issuer: ISSUER, audience: origin.url, jwks };
    const asReceived = { method: received.method, url: `${origin.url}${received.target}`, headers: received.headers };
    const { payload, protectedHeader } = await tollgate.verifyAssertion(asReceived, options);
    assert.equal(protectedHeader.typ, "tollgate-assertion+jwt");
    assert.equal(payload.sub, "alice");
    assert.equal(payload.scope, "read");
    assert.equal(payload.token_type, "jwt");
    assert.equal(payload.token_iss, ISSUER);
    assert.equal(payload.htu, `${origin.url}/api/orders`);
    assert.equal(payload.exp - payload.iat, 60);
    // Replayed to another path or with another method, it is refused.
    await assert.rejects(tollgate.verifyAssertion({ ...asReceived, url: `${origin.url}/api/admin` }, options), (e) => e.claim === "htu");
    await assert.rejects(tollgate.verifyAssertion({ ...asReceived, method: "DELETE" }, options), (e) => e.claim === "htm");
    // The same caller and request again: the same assertion, not signed again.
    const again = (await (await call("/api/orders?limit=6", { method: "POST", body: "{}" })).json()).received.headers["x-tollgate-assertion"];
    assert.equal(again, assertion);
    // It carries the token's jti, but it is not an access token: handed to the operator's
    // /revoke it revokes nothing (RFC 8725 §3.11; an outside run revoked tokens this way).
    const revoked = await worker.fetch("/revoke", { method: "POST", headers: { Authorization: `Bearer ${ADMIN}` }, body: new URLSearchParams({ token: assertion }) });
    assert.equal(revoked.status, 200);
    assert.equal((await call("/api/orders?limit=7", { method: "POST", body: "{}" })).status, 200);
    // Public routes carry no identity, so no assertion.
    const pub = (await (await worker.fetch("/public/docs")).json()).received;
    assert.equal(pub.headers["x-tollgate-assertion"], undefined);
  });

  test("public routes need no token and still lose spoofed identity headers", async () => {
    const res = await worker.fetch("/public/docs", { headers: { "X-Tollgate-Sub": "mallory" } });
    assert.equal(res.status, 200);
    const { received } = await res.json();
    assert.equal(received.headers["x-tollgate-sub"], undefined);
  });

  test("a token in the configured cookie works, and the cookie is not forwarded", async () => {
    const token = await sign(active);
    const res = await worker.fetch("/api/me", { headers: { Cookie: `theme=dark; tg_token=${token}` } });
    assert.equal(res.status, 200);
    const { received } = await res.json();
    assert.equal(received.headers.cookie, "theme=dark");
    assert.equal(received.headers["x-tollgate-sub"], "alice");
  });

  test("a token signed by the older key still verifies (rotation without downtime)", async () => {
    assert.equal((await worker.fetch("/api/x", bearer(await sign(older)))).status, 200);
  });
});

describe("refusals", () => {
  const cases = [
    ["no token", async () => ({}), 401, "ERR_TOKEN_MISSING"],
    ["expired", async () => bearer(await sign(active, { iat: now() - 700, exp: now() - 100 })), 401, "ERR_JWT_EXPIRED"],
    ["not yet valid", async () => bearer(await sign(active, { nbf: now() + 300 })), 401, "ERR_JWT_NOT_YET_VALID"],
    ["wrong audience", async () => bearer(await sign(active, { aud: "other" })), 401, "ERR_JWT_CLAIM_VALIDATION_FAILED"],
    ["untrusted issuer", async () => bearer(await sign(active, { iss: "https://evil.test" })), 401, "ERR_JWT_CLAIM_VALIDATION_FAILED"],
    ["tampered payload", async () => {
      const [h, p, s] = (await sign(active)).split(".");
      const claims = JSON.parse(Buffer.from(p, "base64url"));
      claims.scope = "read admin";
      return bearer(`${h}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${s}`);
    }, 401, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"],
    ["alg none", async () => {
      const [, p] = (await sign(active)).split(".");
      return bearer(`${Buffer.from('{"alg":"none"}').toString("base64url")}.${p}.`);
    }, 401, "ERR_JOSE_ALG_NOT_ALLOWED"],
    ["unknown kid", async () => bearer(await sign({ ...keygen("ES256", "stranger") })), 401, "ERR_JWKS_NO_MATCHING_KEY"],
    ["malformed header", async () => ({ headers: { Authorization: "Bearer a b c" } }), 400, "ERR_AUTHORIZATION_MALFORMED"],
  ];
  for (const [name, init, status, code] of cases) {
    test(`${name}: ${status} ${code}`, async () => {
      const res = await worker.fetch("/api/x", await init());
      assert.equal(res.status, status);
      const body = await res.json();
      assert.equal(body.code, code);
      const challenge = res.headers.get("www-authenticate");
      assert.match(challenge, /^Bearer realm="tollgate"/);
      if (code !== "ERR_TOKEN_MISSING") assert.match(challenge, /error="invalid_(token|request)"/);
    });
  }

  test("too little scope is 403 insufficient_scope naming the scope", async () => {
    const res = await worker.fetch("/api/admin/users", bearer(await sign(active, { scope: "read" })));
    assert.equal(res.status, 403);
    assert.match(res.headers.get("www-authenticate"), /error="insufficient_scope".*scope="admin"/);
    assert.equal((await res.json()).code, "ERR_INSUFFICIENT_SCOPE");
    const ok = await worker.fetch("/api/admin/users", bearer(await sign(active, { scope: "read admin" })));
    assert.equal(ok.status, 200);
  });

  test("an unmatched path needs a token (deny by default)", async () => {
    assert.equal((await worker.fetch("/anything")).status, 401);
  });
});

describe("revocation", () => {
  test("POST /revoke needs the admin token", async () => {
    const token = await sign(active);
    const res = await worker.fetch("/revoke", { method: "POST", body: new URLSearchParams({ token }) });
    assert.equal(res.status, 401);
    const wrong = await worker.fetch("/revoke", { method: "POST", headers: { Authorization: "Bearer nope" }, body: new URLSearchParams({ token }) });
    assert.equal(wrong.status, 401);
  });

  test("a revoked token is refused at once, and stays refused after a restart", async () => {
    const token = await sign(active, { sub: "bob" });
    assert.equal((await worker.fetch("/api/x", bearer(token))).status, 200, "cached as valid first");
    const res = await worker.fetch("/revoke", {
      method: "POST",
      headers: { Authorization: `Bearer ${ADMIN}` },
      body: new URLSearchParams({ token, token_type_hint: "access_token" }),
    });
    assert.equal(res.status, 200);
    const refused = await worker.fetch("/api/x", bearer(token));
    assert.equal(refused.status, 401);
    assert.equal((await refused.json()).code, "ERR_JWT_REVOKED");

    await worker.stop();
    worker = await boot(
      { externalIssuers: [{ issuer: "https://idp.test", jwksUrl: jwks.url, audiences: ["demo"], cooldownSeconds: 2, timeoutMs: 1000 }] },
      { stateDir },
    );
    const afterRestart = await worker.fetch("/api/x", bearer(token));
    assert.equal(afterRestart.status, 401);
    assert.equal((await afterRestart.json()).code, "ERR_JWT_REVOKED");
    assert.equal((await worker.fetch("/api/x", bearer(await sign(active, { sub: "bob" })))).status, 200, "other tokens are unaffected");
  });

  test("revoking an invalid token answers 200 (RFC 7009 §2.2)", async () => {
    const res = await worker.fetch("/revoke", { method: "POST", headers: { Authorization: `Bearer ${ADMIN}` }, body: new URLSearchParams({ token: "not.a.token" }) });
    assert.equal(res.status, 200);
    const missing = await worker.fetch("/revoke", { method: "POST", headers: { Authorization: `Bearer ${ADMIN}` }, body: new URLSearchParams({}) });
    assert.equal(missing.status, 400);
    assert.equal((await missing.json()).error, "invalid_request");
  });

  test("revoking a subject refuses every token issued to it until now", async () => {
    const first = await sign(active, { sub: "carol", iat: now() - 5 });
    const second = await sign(active, { sub: "carol", iat: now() - 5 });
    assert.equal((await worker.fetch("/api/x", bearer(first))).status, 200);
    const res = await worker.fetch("/admin/revoke-subject", { method: "POST", headers: { Authorization: `Bearer ${ADMIN}` }, body: new URLSearchParams({ sub: "carol" }) });
    assert.equal(res.status, 200);
    for (const token of [first, second]) {
      const refused = await worker.fetch("/api/x", bearer(token));
      assert.equal((await refused.json()).code, "ERR_JWT_REVOKED");
    }
    await new Promise((ok) => setTimeout(ok, 1100));
    const later = await sign(active, { sub: "carol", iat: now() });
    assert.equal((await worker.fetch("/api/x", bearer(later))).status, 200, "tokens issued afterwards pass");
  });
});

describe("external issuer (remote JWKS)", () => {
  test("its tokens are accepted with its keys, fetched once and cached", async () => {
    const hits = jwks.state.hits;
    const token = await sign(external, { iss: "https://idp.test" });
    const res = await worker.fetch("/api/x", bearer(token));
    assert.equal(res.status, 200);
    const { received } = await res.json();
    assert.equal(received.headers["x-tollgate-issuer"], "https://idp.test");
    // RFC 7519 §4.1.2: its `alice` is not this deployment's `alice`, and the signed assertion
    // says whose she is (an outside run found the two identical at the origin).
    const asReceived = { method: received.method, url: `${origin.url}${received.target}`, headers: received.headers };
    const jwksOfUs = await (await worker.fetch("/.well-known/jwks.json")).json();
    const { payload } = await tollgate.verifyAssertion(asReceived, { issuer: ISSUER, audience: origin.url, jwks: jwksOfUs });
    assert.equal(payload.sub, "alice");
    assert.equal(payload.token_iss, "https://idp.test");
    assert.equal((await worker.fetch("/api/x", bearer(await sign(external, { iss: "https://idp.test" })))).status, 200);
    assert.ok(jwks.state.hits - hits <= 1, "keys are cached between requests");
  });

  test("its keys cannot verify a token claiming our issuer, nor ours its", async () => {
    const res = await worker.fetch("/api/x", bearer(await sign(external, { iss: ISSUER })));
    assert.equal((await res.json()).code, "ERR_JWKS_NO_MATCHING_KEY");
    const ours = await worker.fetch("/api/x", bearer(await sign(active, { iss: "https://idp.test" })));
    assert.equal((await ours.json()).code, "ERR_JWKS_NO_MATCHING_KEY");
  });

  test("an unknown kid refetches once, then the cooldown stops a fetch storm", async () => {
    const pair = await generateKeyPair("ES256", { extractable: true });
    const rotated = { ...(await exportJWK(pair.privateKey)), alg: "ES256", kid: "idp-2" };
    jwks.state.keys = [...jwks.state.keys, { ...(await exportJWK(pair.publicKey)), alg: "ES256", kid: "idp-2" }];
    await new Promise((ok) => setTimeout(ok, 2100)); // past the 2 s cooldown of the last fetch
    const hits = jwks.state.hits;
    const res = await worker.fetch("/api/x", bearer(await sign(rotated, { iss: "https://idp.test" })));
    assert.equal(res.status, 200, "the rotated key is fetched");
    assert.equal(jwks.state.hits - hits, 1);
    const forged = { ...(await exportJWK((await generateKeyPair("ES256", { extractable: true })).privateKey)), alg: "ES256" };
    for (let i = 0; i < 20; i++) {
      const r = await worker.fetch("/api/x", bearer(await sign({ ...forged, kid: `bogus-${i}` }, { iss: "https://idp.test" })));
      assert.equal((await r.json()).code, "ERR_JWKS_NO_MATCHING_KEY");
    }
    assert.equal(jwks.state.hits - hits, 1, "no refetch within the cooldown");
  });

  test("its DPoP-bound tokens (cnf.jkt) need a proof by the bound key, made here with jose (RFC 9449 §7)", async () => {
    const client = await generateKeyPair("ES256", { extractable: true });
    const publicJwk = await exportJWK(client.publicKey);
    const token = await sign(external, { iss: "https://idp.test", cnf: { jkt: await calculateJwkThumbprint(publicJwk) } });
    const proof = (privateKey, jwk) =>
      new SignJWT({ htm: "GET", htu: `${worker.url}/api/x`, iat: now(), jti: crypto.randomUUID(), ath: base64url.encode(createHash("sha256").update(token).digest()) })
        .setProtectedHeader({ typ: "dpop+jwt", alg: "ES256", jwk })
        .sign(privateKey);
    const ok = await worker.fetch("/api/x", { headers: { Authorization: `DPoP ${token}`, DPoP: await proof(client.privateKey, publicJwk) } });
    const okBody = await ok.json();
    assert.equal(ok.status, 200, JSON.stringify(okBody));
    assert.equal(okBody.received.headers["x-tollgate-token-type"], "DPoP");
    const asBearer = await worker.fetch("/api/x", bearer(token));
    assert.equal(asBearer.status, 401);
    assert.equal((await asBearer.json()).code, "ERR_DPOP_BINDING_MISMATCH");
    const thief = await generateKeyPair("ES256", { extractable: true });
    const stolen = await worker.fetch("/api/x", { headers: { Authorization: `DPoP ${token}`, DPoP: await proof(thief.privateKey, await exportJWK(thief.publicKey)) } });
    assert.equal(stolen.status, 401);
    assert.equal((await stolen.json()).code, "ERR_DPOP_BINDING_MISMATCH");
  });

  test("a key its set cannot use is left out and logged, and the others still verify (RFC 7517 §5)", async () => {
    const server = await startJwksServer();
    const leakedPair = await generateKeyPair("ES256", { extractable: true });
    const leaked = { ...(await exportJWK(leakedPair.privateKey)), alg: "ES256", kid: "leaked" };
    const publicOf = async () => ({ ...(await exportJWK((await generateKeyPair("ES256", { extractable: true })).publicKey)), alg: "ES256" });
    server.state.keys = [
      jwks.state.keys[0],
      leaked,
      { ...(await publicOf()), kid: "twin" },
      { ...(await publicOf()), kid: "twin" },
      { ...(await publicOf()), kid: "wrong-alg", alg: "RS256" },
      { kty: "oct", kid: "secret", k: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA" },
    ];
    const fresh = await boot({ externalIssuers: [{ issuer: "https://idp.test", jwksUrl: server.url, timeoutMs: 1000 }] });
    try {
      const ok = await fresh.fetch("/api/x", bearer(await sign(external, { iss: "https://idp.test" })));
      // No `audiences` of its own: the deployment's apply (RFC 9068 §4), so that its tokens for
      // another audience (an ID token for one of its relying parties) are refused.
      const elsewhere = await fresh.fetch("/api/x", bearer(await sign(external, { iss: "https://idp.test", aud: "partner-rp" }, { typ: "JWT" })));
      assert.equal(elsewhere.status, 401);
      assert.equal((await elsewhere.json()).claim, "aud");
      assert.equal(ok.status, 200, "the usable key verifies");
      const forged = await fresh.fetch("/api/x", bearer(await sign(leaked, { iss: "https://idp.test" })));
      assert.equal(forged.status, 401);
      assert.equal((await forged.json()).code, "ERR_JWKS_NO_MATCHING_KEY", "a published private key verifies nothing");
      const log = await logsUntil(fresh, (text) => ["leaked", "twin", "wrong-alg", "secret"].every((kid) => text.includes(`"kid":"${kid}"`)));
      for (const kid of ["leaked", "twin", "wrong-alg", "secret"]) assert.match(log, new RegExp(`"kid":"${kid}","detail":"key ignored: `), kid);
      assert.equal(log.includes(leaked.d), false, "the private key is never logged");
    } finally {
      await fresh.stop();
      server.server.closeAllConnections();
      server.server.close();
    }
  });

  test("an outage keeps the cached keys working", async () => {
    jwks.state.mode = "down";
    try {
      assert.equal((await worker.fetch("/api/x", bearer(await sign(external, { iss: "https://idp.test" })))).status, 200);
    } finally {
      jwks.state.mode = "ok";
    }
  });
});

describe("faults", () => {
  test("an issuer whose JWKS is down, garbage, huge or slow, with nothing cached: 503 ERR_JWKS_UNAVAILABLE", async () => {
    for (const mode of ["down", "garbage", "huge", "slow"]) {
      const server = await startJwksServer();
      server.state.mode = mode;
      const fresh = await boot({ externalIssuers: [{ issuer: "https://idp.test", jwksUrl: server.url, timeoutMs: 500 }] });
      try {
        const res = await fresh.fetch("/api/x", bearer(await sign(external, { iss: "https://idp.test" })));
        assert.equal(res.status, 503, mode);
        assert.equal((await res.json()).code, "ERR_JWKS_UNAVAILABLE", mode);
      } finally {
        await fresh.stop();
        server.server.closeAllConnections();
        server.server.close();
      }
    }
  });

  test("concurrent first requests wait for one fetch, and an issuer that is down is asked once per cooldown", async () => {
    // A request cannot await another's fetch in workerd: sharing it answered 19 of 20 with 500
    // (an outside run); and with no keys, each forged token was a fetch to the failing issuer.
    const issuer = (server) => ({ externalIssuers: [{ issuer: "https://idp.test", jwksUrl: server.url, timeoutMs: 2000, cooldownSeconds: 30 }] });
    const burst = async (worker, n) => {
      const tokens = await Promise.all(Array.from({ length: n }, (_, i) => sign(external, { iss: "https://idp.test", sub: `u${i}` })));
      return Promise.all(tokens.map(async (token) => { const res = await worker.fetch("/api/x", bearer(token)); return `${res.status} ${res.status === 200 ? "" : (await res.json()).code}`.trim(); }));
    };
    for (const [mode, answer] of [["late", "200"], ["down", "503 ERR_JWKS_UNAVAILABLE"]]) {
      const server = await startJwksServer();
      server.state.keys = jwks.state.keys;
      server.state.mode = mode;
      const fresh = await boot(issuer(server));
      try {
        assert.deepEqual(await burst(fresh, 20), Array(20).fill(answer), mode);
        assert.deepEqual(await burst(fresh, 5), Array(5).fill(answer), `${mode}, afterwards`);
        assert.equal(server.state.hits, 1, `${mode}: one fetch`);
      } finally {
        await fresh.stop();
        server.server.closeAllConnections();
        server.server.close();
      }
    }
  });

  test("KV unavailable: fail closed by default, open when configured", async () => {
    const closed = await boot({}, { kv: false });
    try {
      const res = await closed.fetch("/api/x", bearer(await sign(active)));
      assert.equal(res.status, 503);
      assert.equal((await res.json()).code, "ERR_REVOCATION_UNAVAILABLE");
    } finally {
      await closed.stop();
    }
    const open = await boot({ revocation: { failOpen: true } }, { kv: false });
    try {
      assert.equal((await open.fetch("/api/x", bearer(await sign(active)))).status, 200);
    } finally {
      await open.stop();
    }
  });

  test("an invalid configuration (a bad route, or a value of another type than text or table) is a 500 with ERR_CONFIG_INVALID, never an open gateway", async () => {
    for (const invalid of [JSON.stringify({ issuer: ISSUER, routes: [{ prefix: "api" }] }), 5]) {
      const broken = await startWorker({
        secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify({ keys: [active] }) },
        vars: { ORIGIN_URL: origin.url, TOLLGATE_CONFIG: invalid },
      });
      try {
        const res = await broken.fetch("/api/x");
        assert.equal(res.status, 500, `TOLLGATE_CONFIG = ${invalid}`);
        assert.equal((await res.json()).code, "ERR_CONFIG_INVALID");
      } finally {
        await broken.stop();
      }
    }
  });

  test("TOLLGATE_CONFIG as a TOML table (as wrangler.toml ships it) reads like its JSON text", async () => {
    const table = await startWorker({
      secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify({ keys: [active] }) },
      vars: { ORIGIN_URL: origin.url, TOLLGATE_CONFIG: JSON.parse(config()) },
    });
    try {
      assert.equal((await table.fetch("/api/x", bearer(await sign(active)))).status, 200);
      assert.equal((await table.fetch("/api/x")).status, 401);
      assert.equal((await table.fetch("/public/x")).status, 200);
    } finally {
      await table.stop();
    }
  });

  test("the origin down is a 502 ERR_ORIGIN_UNREACHABLE", async () => {
    const gone = await startWorker({
      secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify({ keys: [active] }) },
      vars: { ORIGIN_URL: "http://127.0.0.1:9", TOLLGATE_CONFIG: config() },
    });
    try {
      const res = await gone.fetch("/api/x", bearer(await sign(active)));
      assert.equal(res.status, 502);
      assert.equal((await res.json()).code, "ERR_ORIGIN_UNREACHABLE");
    } finally {
      await gone.stop();
    }
  });
});

describe("browsers and logs", () => {
  test("a browser navigation without a valid token is sent to the login flow when configured", async () => {
    const browser = await boot({ loginUrl: "/authorize?client_id=web" });
    try {
      const res = await browser.fetch("/api/page?tab=2", { headers: { Accept: "text/html,application/xhtml+xml" } });
      assert.equal(res.status, 303);
      assert.equal(res.headers.get("location"), "/authorize?client_id=web&return_to=%2Fapi%2Fpage%3Ftab%3D2");
      const api = await browser.fetch("/api/page", { headers: { Accept: "application/json" } });
      assert.equal(api.status, 401, "API clients get the 401");
    } finally {
      await browser.stop();
    }
  });

  test("logDecisions = denials logs refusals only", async () => {
    const quiet = await boot({ logDecisions: "denials" });
    try {
      await quiet.fetch("/api/x", bearer(await sign(active, { sub: "erin" })));
      await quiet.fetch("/api/x");
      // The allowed request came first, so its line, had it been logged, precedes the denial.
      const text = await logsUntil(quiet, (t) => t.includes('"outcome":"deny"'));
      const decisions = text.split("\n").filter((l) => l.includes('"event":"auth"'));
      assert.equal(decisions.length, 1);
      assert.match(decisions[0], /"outcome":"deny"/);
    } finally {
      await quiet.stop();
    }
  });

  test("one JSON log line per decision, with no token or secret in any line", async () => {
    const token = await sign(active, { sub: "dave" });
    await worker.fetch("/api/x", bearer(token));
    const text = await logsUntil(worker, (t) => t.includes('"sub":"dave"'));
    const lines = text.split("\n").filter((l) => l.includes('"event":"auth"'));
    assert.ok(lines.length > 0);
    const decision = lines.map((l) => JSON.parse(l.slice(l.indexOf("{")))).find((d) => d.sub === "dave");
    assert.equal(decision.outcome, "allow");
    assert.equal(decision.iss, ISSUER);
    const all = worker.logs.join("");
    assert.ok(!all.includes(token.split(".")[2]), "no signature in logs");
    assert.ok(!all.includes(ADMIN), "no admin secret in logs");
    assert.ok(!all.includes(active.d), "no private key in logs");
  });
});

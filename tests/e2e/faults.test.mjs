// Fault injection end to end: each fault against the worker in workerd, its observed status
// and code, and recovery once the fault clears. The table of what was observed is written to
// docs/FAULTS.md by this test (so the document is produced by the tests, not by hand).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { SignJWT, importJWK, generateKeyPair, exportJWK } from "jose";
import { ROOT, cli, kvSeed, startWorker } from "./harness.mjs";

const ISSUER = "https://tollgate.test";
const now = () => Math.floor(Date.now() / 1000);
const observed = [];
let origin, keys, idp;

function record(fault, expected, response, recovered) {
  observed.push({ fault, expected, status: response.status, code: response.code ?? "", recovered });
}

/** An origin whose behaviour the test switches: ok, 5xx, slow, huge. */
async function startFaultyOrigin() {
  const state = { mode: "ok" };
  const server = createServer((req, res) => {
    if (state.mode === "5xx") return res.writeHead(503, { "content-type": "text/plain" }).end("origin overloaded");
    if (state.mode === "slow") return setTimeout(() => res.writeHead(200).end("slow but fine"), 1500);
    if (state.mode === "huge") {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      const chunk = Buffer.alloc(1024 * 1024, 97);
      for (let i = 0; i < 32; i++) res.write(chunk);
      return res.end();
    }
    res.writeHead(200, { "content-type": "text/plain" }).end("ok");
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return { state, server, url: `http://127.0.0.1:${server.address().port}` };
}

async function sign(jwk, claims = {}) {
  const body = { iss: ISSUER, aud: "demo", sub: "alice", jti: crypto.randomUUID(), iat: now(), exp: now() + 600, ...claims };
  return new SignJWT(body).setProtectedHeader({ alg: jwk.alg, kid: jwk.kid, typ: "at+jwt" }).sign(await importJWK(jwk, jwk.alg));
}

const config = (extra = {}) => JSON.stringify({ issuer: ISSUER, audiences: ["demo"], routes: [{ prefix: "/api" }], ...extra });

async function call(worker, token) {
  const res = await worker.fetch("/api/x", token ? { headers: { Authorization: `Bearer ${token}` } } : {});
  const text = await res.text();
  let code;
  try {
    code = JSON.parse(text).code;
  } catch {}
  return { status: res.status, code, bytes: text.length };
}

before(async () => {
  origin = await startFaultyOrigin();
  keys = JSON.parse(cli(["keygen", "--alg", "ES256", "--kid", "k", "--set"]).stdout);
  const pair = await generateKeyPair("ES256", { extractable: true });
  idp = { private: { ...(await exportJWK(pair.privateKey)), alg: "ES256", kid: "idp" }, public: { ...(await exportJWK(pair.publicKey)), alg: "ES256", kid: "idp" } };
});

after(() => {
  origin?.server.close();
  const rows = observed.map((o) => `| ${o.fault} | ${o.expected} | ${o.status} | ${o.code || "—"} | ${o.recovered} |`);
  writeFileSync(
    join(ROOT, "docs/FAULTS.md"),
    `# Faults and what Tollgate does\n\nWritten by \`tests/e2e/faults.test.mjs\` from what it observed against the worker in workerd\n(\`wrangler dev\`, real local KV, the real Durable Object coordinator, a local origin and a local\nJWKS server). The test fails if an observation differs from the expected column.\nSecurity-relevant faults fail closed. The "KV … issuance / rotation" rows run with\n\`consistency = "kv"\` (every record in KV); the "coordinator" rows with the default\n\`consistency = "durable"\`, where codes, refresh tokens, one-time tokens and failure counters\nlive in Durable Objects.\n\n| fault | expected | status | code | after the fault clears |\n|---|---|---|---|---|\n${rows.join("\n")}\n`,
  );
});

test("origin faults are passed through, and a down origin is a 502", async () => {
  const worker = await startWorker({ secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(keys) }, vars: { ORIGIN_URL: origin.url, TOLLGATE_CONFIG: config() } });
  try {
    const token = await sign(keys.keys[0]);
    for (const [mode, expected, status] of [["5xx", "the origin's 5xx is returned as is", 503], ["slow", "waits for the origin (1.5 s), then 200", 200], ["huge", "streams a 32 MiB body, 200", 200]]) {
      origin.state.mode = mode;
      const r = await call(worker, token);
      assert.equal(r.status, status, mode);
      if (mode === "huge") assert.equal(r.bytes, 32 * 1024 * 1024);
      origin.state.mode = "ok";
      const back = await call(worker, token);
      record(`origin ${mode}`, expected, r, back.status === 200 ? "200" : String(back.status));
    }
  } finally {
    await worker.stop();
  }
  const gone = await startWorker({ secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(keys) }, vars: { ORIGIN_URL: "http://127.0.0.1:9", TOLLGATE_CONFIG: config() } });
  try {
    const r = await call(gone, await sign(keys.keys[0]));
    assert.equal(r.code, "ERR_ORIGIN_UNREACHABLE");
    record("origin down", "502, logged", r, "(fix ORIGIN_URL or the origin)");
  } finally {
    await gone.stop();
  }
});

test("remote JWKS faults with nothing cached: 503 ERR_JWKS_UNAVAILABLE, then recovery after the cooldown (cached keys surviving an outage: gateway.test.mjs)", async () => {
  const state = { mode: "ok" };
  const server = createServer((req, res) => {
    if (state.mode === "down") return res.writeHead(500).end();
    if (state.mode === "garbage") return res.writeHead(200).end("<html>not json");
    if (state.mode === "oversized") return res.writeHead(200).end(JSON.stringify({ keys: [idp.public], pad: "x".repeat(100_000) }));
    if (state.mode === "slow") return setTimeout(() => res.writeHead(200).end(JSON.stringify({ keys: [idp.public] })), 3000);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [idp.public] }));
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const jwksUrl = `http://127.0.0.1:${server.address().port}/jwks`;
  try {
    for (const mode of ["down", "garbage", "oversized", "slow"]) {
      state.mode = mode;
      const worker = await startWorker({
        secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(keys) },
        vars: { ORIGIN_URL: origin.url, TOLLGATE_CONFIG: config({ externalIssuers: [{ issuer: "https://idp.test", jwksUrl, timeoutMs: 1000, cooldownSeconds: 3 }] }) },
      });
      try {
        const token = await sign(idp.private, { iss: "https://idp.test" });
        // The worker's log beside any failure: this test has failed now and then in CI, and
        // the code and status alone did not say why.
        const why = (what) => `${mode}: ${what}\n${worker.logs.join("").slice(-4000)}`;
        const r = await call(worker, token);
        assert.equal(r.status, 503, why(`status ${r.status}`));
        assert.equal(r.code, "ERR_JWKS_UNAVAILABLE", why(`code ${r.code}`));
        state.mode = "ok";
        // A failed fetch is not repeated within cooldownSeconds (src/jwks_cache.rs: a flood
        // of tokens must not become a flood of fetches to an issuer that is down): 503 until
        // it has passed (3 s from the attempt's start; the slow mode's took 1 s), then the
        // next request fetches.
        const within = await call(worker, token);
        assert.equal(within.status, 503, why(`within the cooldown: status ${within.status}`));
        await new Promise((ok) => setTimeout(ok, 3100));
        const back = await call(worker, token);
        assert.equal(back.status, 200, why(`recovers: status ${back.status}, code ${back.code}`));
        record(`remote JWKS ${mode}, nothing cached`, "503, fail closed", r, "200 on the first request after the cooldown");
      } finally {
        await worker.stop();
      }
    }
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test("KV unreadable: fail closed by default, open only when configured", async () => {
  const closed = await startWorker({ secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(keys) }, vars: { ORIGIN_URL: origin.url, TOLLGATE_CONFIG: config() }, kv: false });
  try {
    const r = await call(closed, await sign(keys.keys[0]));
    assert.equal(r.code, "ERR_REVOCATION_UNAVAILABLE");
    record("KV unreadable (revocation list)", "503, fail closed", r, "not observed here (the binding is absent for the whole run); nothing is cached from a failure");
  } finally {
    await closed.stop();
  }
  const open = await startWorker({ secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(keys) }, vars: { ORIGIN_URL: origin.url, TOLLGATE_CONFIG: config({ revocation: { failOpen: true } }) }, kv: false });
  try {
    const r = await call(open, await sign(keys.keys[0]));
    assert.equal(r.status, 200);
    record("KV unreadable, revocation.failOpen = true", "200, error logged", r, "—");
  } finally {
    await open.stop();
  }
});

test("a missing or malformed signing secret: 500 with its code, never an unsigned answer", async () => {
  for (const [secrets, name, code] of [[{}, "signing secret missing", "ERR_SIGNING_KEYS_MISSING"], [{ TOLLGATE_SIGNING_KEYS: '{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQ"}]}' }, "signing secret malformed (weak RSA key)", "ERR_JWK_INVALID"]]) {
    const worker = await startWorker({ secrets, vars: { ORIGIN_URL: origin.url, TOLLGATE_CONFIG: config() } });
    try {
      const r = await call(worker, "x.y.z");
      assert.equal(r.status, 500);
      assert.equal(r.code, code);
      record(name, "500, code in the log", r, "fixed by `wrangler secret put`");
    } finally {
      await worker.stop();
    }
  }
});

test("clock skew between issuer and edge: refused beyond the leeway, accepted within it", async () => {
  const ahead = await sign(keys.keys[0], { iat: now() + 30, nbf: now() + 30 });
  const strict = await startWorker({ secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(keys) }, vars: { ORIGIN_URL: origin.url, TOLLGATE_CONFIG: config() } });
  try {
    const r = await call(strict, ahead);
    assert.equal(r.code, "ERR_JWT_NOT_YET_VALID");
    record("issuer clock 30 s ahead, leeway 0", "401 ERR_JWT_NOT_YET_VALID", r, "valid once the edge clock passes nbf");
  } finally {
    await strict.stop();
  }
  const lenient = await startWorker({ secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(keys) }, vars: { ORIGIN_URL: origin.url, TOLLGATE_CONFIG: config({ leeway: 60 }) } });
  try {
    const r = await call(lenient, ahead);
    assert.equal(r.status, 200);
    const expired = await call(lenient, await sign(keys.keys[0], { iat: now() - 700, exp: now() - 90 }));
    assert.equal(expired.code, "ERR_JWT_EXPIRED");
    record("issuer clock 30 s ahead, leeway 60", "200", r, "—");
    record("token expired 90 s ago, leeway 60", "401 ERR_JWT_EXPIRED", expired, "—");
  } finally {
    await lenient.stop();
  }
});

const ADMIN = "admin-token-for-fault-tests-0123456789";
const PEPPER = "pepper-for-fault-tests-0123456789abcdef";

/** The real worker with a user and a confidential client, its KV and coordinator behind the
 * fault switches of tests/e2e/kv-faults-entry.mjs; `extra` is merged into the config. */
async function faultyWorker(extra) {
  const kv = kvSeed(PEPPER);
  const cheap = ["--memory-kib", "4096", "--iterations", "1"];
  kv.add(["user", "add", "--username", "alice", "--password", "correct horse battery", "--scopes", "read", ...cheap]);
  const secret = kv.add(["client", "add", "--id", "svc", "--first-party", "--grant", "client_credentials", "--grant", "password", "--grant", "refresh_token", "--scopes", "read", "--pepper-from", kv.pepperFile]).client_secret;
  const worker = await startWorker({
    main: join(ROOT, "tests/e2e/kv-faults-entry.mjs"),
    secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(keys), TOLLGATE_PEPPER: PEPPER, TOLLGATE_ADMIN_TOKEN: ADMIN },
    vars: { ORIGIN_URL: origin.url, TOLLGATE_CONFIG: config(extra) },
    seed: kv.entries,
  });
  return { worker, secret };
}

test("KV errors and slowness with the binding present: reads fail closed, writes are never reported as done, nothing is lost, and service resumes", async () => {
  // consistency "kv": every record in KV, so KV faults reach issuance and rotation too.
  const { worker, secret } = await faultyWorker({ consistency: "kv", oauth: { passwordMemoryKib: 4096, passwordIterations: 1, refreshGraceSeconds: 0 }, revocation: { cacheSeconds: 0 } });
  const faults = (read, write, ms = 1500) => worker.fetch(`/__kv-faults?read=${read}&write=${write}&ms=${ms}`, { method: "POST" });
  const basic = `Basic ${Buffer.from(`svc:${secret}`).toString("base64")}`;
  const tokenCall = async (params) => {
    const res = await worker.fetch("/token", { method: "POST", headers: { Authorization: basic }, body: new URLSearchParams(params) });
    const body = await res.json();
    return { status: res.status, code: body.error, body };
  };
  const revoke = async (token) => {
    const res = await worker.fetch("/revoke", { method: "POST", headers: { Authorization: `Bearer ${ADMIN}` }, body: new URLSearchParams({ token }) });
    let code;
    try {
      const body = await res.json();
      code = body.code ?? body.error;
    } catch {}
    return { status: res.status, code };
  };
  const password = { grant_type: "password", username: "alice", password: "correct horse battery", scope: "read" };
  try {
    // Revocation reads.
    await faults("fail", "ok");
    const failed = await call(worker, await sign(keys.keys[0]));
    assert.equal(failed.status, 503);
    assert.equal(failed.code, "ERR_REVOCATION_UNAVAILABLE");
    await faults("ok", "ok");
    const healed = await call(worker, await sign(keys.keys[0]));
    assert.equal(healed.status, 200);
    record("KV read errors (revocation list)", "503, fail closed", failed, `${healed.status} on the next request`);

    await faults("slow", "ok", 1500);
    let started = Date.now();
    const slow = await call(worker, await sign(keys.keys[0]));
    const waited = Date.now() - started;
    await faults("ok", "ok");
    assert.equal(slow.status, 200);
    assert.ok(waited >= 1400, `waited ${waited} ms`);
    record("KV reads slow (1.5 s)", "waits for the answer, then 200", slow, "fast again");

    // Revocation writes: an error is never reported as a revocation.
    const victim = await sign(keys.keys[0]);
    assert.equal((await call(worker, victim)).status, 200);
    await faults("ok", "fail");
    const notWritten = await revoke(victim);
    await faults("ok", "ok");
    assert.ok(notWritten.status >= 500, `revoke answered ${notWritten.status}`);
    assert.equal((await call(worker, victim)).status, 200, "an unwritten revocation is not pretended");
    const retried = await revoke(victim);
    assert.equal(retried.status, 200);
    const refused = await call(worker, victim);
    assert.equal(refused.code, "ERR_JWT_REVOKED");
    record("KV write errors on POST /revoke", "5xx: the caller knows to retry", notWritten, "retry succeeds; the token is then refused");

    // KV's one write a second per key (Cloudflare's, not local KV's): two revocations of one
    // token at once meet it; the refused write is made again a second later and lands.
    const twice = await sign(keys.keys[0]);
    await faults("ok", "limited");
    started = Date.now();
    const both = await Promise.all([revoke(twice), revoke(twice)]);
    const slower = Date.now() - started;
    await faults("ok", "ok");
    assert.deepEqual(both.map((r) => r.status), [200, 200]);
    assert.ok(slower >= 1000, `the refused write was not made again (${slower} ms)`);
    assert.equal((await call(worker, twice)).code, "ERR_JWT_REVOKED");
    record("KV's one write a second per key (429) on two revocations of one token at once", "both 200: the refused write made again a second later", both[1], "the token is refused");

    // Issuance: a grant whose state cannot be stored fails as a whole.
    await faults("ok", "fail");
    const noIssue = await tokenCall(password);
    assert.equal(noIssue.status, 503);
    assert.equal(noIssue.code, "temporarily_unavailable");
    assert.equal(noIssue.body.refresh_token, undefined);
    await faults("ok", "ok");
    const issued = await tokenCall(password);
    assert.equal(issued.status, 200);
    record("KV write errors during issuance (password grant + refresh token)", "503 temporarily_unavailable, no token", noIssue, "200");

    // Refresh rotation: a failed rotation loses nothing; the same refresh token still works.
    await faults("ok", "fail");
    const noRotate = await tokenCall({ grant_type: "refresh_token", refresh_token: issued.body.refresh_token });
    assert.equal(noRotate.status, 503);
    await faults("fail", "ok");
    const noRead = await tokenCall({ grant_type: "refresh_token", refresh_token: issued.body.refresh_token });
    assert.equal(noRead.status, 503);
    await faults("ok", "ok");
    const rotated = await tokenCall({ grant_type: "refresh_token", refresh_token: issued.body.refresh_token });
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    assert.notEqual(rotated.body.refresh_token, issued.body.refresh_token);
    const replay = await tokenCall({ grant_type: "refresh_token", refresh_token: issued.body.refresh_token });
    assert.equal(replay.code, "invalid_grant", "the old token is spent once rotation succeeded");
    const family = await tokenCall({ grant_type: "refresh_token", refresh_token: rotated.body.refresh_token });
    assert.equal(family.code, "invalid_grant", "its reuse ended the family (RFC 9700 §4.14.2)");
    record("KV write errors during refresh-token rotation", "503, the refresh token stays usable", noRotate, "the same refresh token rotates; its reuse is then refused");
    record("KV read errors during refresh-token rotation", "503, fail closed", noRead, "the same refresh token rotates");

    await faults("slow", "slow", 1000);
    started = Date.now();
    const slowIssue = await tokenCall({ grant_type: "client_credentials", scope: "read" });
    const issueWait = Date.now() - started;
    await faults("ok", "ok");
    assert.equal(slowIssue.status, 200);
    assert.ok(issueWait >= 900, `waited ${issueWait} ms`);
    record("KV slow (1 s) during issuance", "waits, then 200", slowIssue, "—");
  } finally {
    await worker.stop();
  }
});

test("coordinator (Durable Object) unavailable: 503 at the token endpoint and on one-time routes, nothing half-written, and service resumes", async () => {
  const { worker, secret } = await faultyWorker({
    consistency: "durable",
    routes: [{ prefix: "/api", scopes: ["read"] }, { prefix: "/api/danger", scopes: ["read"], oneTime: true }],
    oauth: { passwordMemoryKib: 4096, passwordIterations: 1 },
  });
  const coordinator = (mode) => worker.fetch(`/__kv-faults?coordinator=${mode}`, { method: "POST" });
  const basic = `Basic ${Buffer.from(`svc:${secret}`).toString("base64")}`;
  const tokenCall = async (params) => {
    const res = await worker.fetch("/token", { method: "POST", headers: { Authorization: basic }, body: new URLSearchParams(params) });
    const body = await res.json();
    return { status: res.status, code: body.error, body };
  };
  const password = { grant_type: "password", username: "alice", password: "correct horse battery", scope: "read" };
  try {
    await coordinator("fail");
    const noIssue = await tokenCall(password);
    assert.equal(noIssue.status, 503);
    assert.equal(noIssue.code, "temporarily_unavailable");
    assert.equal(noIssue.body.refresh_token, undefined);
    await coordinator("ok");
    const issued = await tokenCall(password);
    assert.equal(issued.status, 200);
    record("coordinator unavailable during issuance (password grant)", "503 temporarily_unavailable, no token", noIssue, "200");

    await coordinator("fail");
    const noRotate = await tokenCall({ grant_type: "refresh_token", refresh_token: issued.body.refresh_token });
    assert.equal(noRotate.status, 503);
    await coordinator("ok");
    const rotated = await tokenCall({ grant_type: "refresh_token", refresh_token: issued.body.refresh_token });
    assert.equal(rotated.status, 200, "a failed rotation left the refresh token usable");
    record("coordinator unavailable during refresh rotation", "503, the refresh token stays usable", noRotate, "the same refresh token rotates");

    const access = rotated.body.access_token;
    const ott = await worker.fetch("/one-time-token", { method: "POST", headers: { Authorization: `Bearer ${access}`, "Content-Type": "application/x-www-form-urlencoded" }, body: "route=/api/danger" });
    const { one_time_token } = await ott.json();
    await coordinator("fail");
    const danger = await worker.fetch("/api/danger/x", { headers: { Authorization: `Bearer ${access}`, "X-One-Time-Token": one_time_token } });
    assert.equal(danger.status, 503);
    assert.equal((await danger.json()).code, "ERR_STORE_UNAVAILABLE");
    await coordinator("ok");
    const used = await worker.fetch("/api/danger/x", { headers: { Authorization: `Bearer ${access}`, "X-One-Time-Token": one_time_token } });
    assert.equal(used.status, 200, "the one-time token was not consumed by the failed attempt");
    record("coordinator unavailable on a one-time route", "503 ERR_STORE_UNAVAILABLE", { status: 503, code: "ERR_STORE_UNAVAILABLE" }, "the one-time token still works once");
  } finally {
    await worker.stop();
  }
});

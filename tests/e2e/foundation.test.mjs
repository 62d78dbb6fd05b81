// The foundation worker end to end in workerd: health, the public JWKS, and a token signed by
// the CLI verifying against it (with our CLI and with the jose library), plus broken secrets.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { importJWK, jwtVerify, createLocalJWKSet } from "jose";
import { join } from "node:path";
import { cli, logsUntil, ROOT, startWorker } from "./harness.mjs";

const keygen = (alg, kid) => JSON.parse(cli(["keygen", "--alg", alg, "--kid", kid, "--set"]).stdout);

const ADMIN = "admin-token-for-tests-only-0123456789";
let worker;
let signingSet;

before(async () => {
  const active = keygen("ES256", "active");
  const older = keygen("EdDSA", "older");
  signingSet = { keys: [...active.keys, ...older.keys] };
  worker = await startWorker({ secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(signingSet), TOLLGATE_ADMIN_TOKEN: ADMIN } });
});

after(() => worker?.stop());

test("healthz answers liveness to anyone and reports the active key to the operator", async () => {
  const open = await worker.fetch("/healthz");
  assert.equal(open.status, 200);
  assert.deepEqual(await open.json(), { status: "ok" });
  const wrong = await worker.fetch("/healthz", { headers: { Authorization: "Bearer nope" } });
  assert.deepEqual(await wrong.json(), { status: "ok" });
  const res = await worker.fetch("/healthz", { headers: { Authorization: `Bearer ${ADMIN}` } });
  const { isolate, ...health } = await res.json();
  assert.deepEqual(health, { status: "ok", activeKid: "active", keys: 2, gateway: false });
  assert.ok(isolate.wasmMemoryBytes > 0);
});

test("the JWKS serves every public key and no private member", async () => {
  const res = await worker.fetch("/.well-known/jwks.json");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.match(res.headers.get("cache-control"), /max-age=300/);
  const jwks = await res.json();
  assert.deepEqual(jwks.keys.map((k) => k.kid), ["active", "older"]);
  for (const key of jwks.keys) {
    assert.equal(key.d, undefined);
    assert.equal(key.use, "sig");
  }
});

test("a token from `tollgate sign` verifies against the worker's JWKS, with our CLI and with jose", async () => {
  const keyFile = `/tmp/tollgate-e2e-key-${process.pid}.json`;
  (await import("node:fs")).writeFileSync(keyFile, JSON.stringify(signingSet), { mode: 0o600 });
  const signed = cli(["sign", "--key", keyFile, "--sub", "alice", "--aud", "demo", "--iss", "https://tollgate.test", "--scope", "read"]);
  assert.equal(signed.status, 0, signed.stderr);
  const token = signed.stdout.trim();
  const jwksText = await (await worker.fetch("/.well-known/jwks.json")).text();

  const ours = cli(["verify", "--jwks", "-", "--aud", "demo", "--iss", "https://tollgate.test", token], jwksText);
  assert.equal(ours.status, 0, ours.stderr);
  assert.equal(JSON.parse(ours.stdout).claims.sub, "alice");

  const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(JSON.parse(jwksText)), {
    audience: "demo",
    issuer: "https://tollgate.test",
  });
  assert.equal(payload.sub, "alice");
  assert.equal(protectedHeader.kid, "active");
  assert.equal(protectedHeader.alg, "ES256");

  const wrongAudience = cli(["verify", "--jwks", "-", "--aud", "other", token], jwksText);
  assert.equal(wrongAudience.status, 1);
  assert.match(wrongAudience.stderr, /^ERR_JWT_CLAIM_VALIDATION_FAILED/);
});

test("without a gateway configuration, other routes are 404", async () => {
  assert.equal((await worker.fetch("/nope")).status, 404);
});

test("a missing or malformed secret is a clear server error with its code in the log", async () => {
  for (const [secrets, code] of [
    [{}, "ERR_SIGNING_KEYS_MISSING"],
    [{ TOLLGATE_SIGNING_KEYS: '{"keys":[{"kty":"oct","k":"c2hvcnQ"}]}' }, "ERR_JWK_INVALID"],
  ]) {
    const broken = await startWorker({ secrets });
    try {
      const res = await broken.fetch("/.well-known/jwks.json");
      assert.equal(res.status, 500);
      assert.equal(res.headers.get("cache-control"), "no-store");
      assert.deepEqual(await res.json(), { error: "server_error", code });
      assert.equal((await broken.fetch("/healthz")).status, 503);
      assert.match(await logsUntil(broken, (t) => t.includes(code)), new RegExp(code));
      assert.doesNotMatch(broken.logs.join(""), /c2hvcnQ/, "the secret never reaches the log");
    } finally {
      await broken.stop();
    }
  }
});

test("an admin token anyone could guess is refused by the admin endpoints and /healthz, and the rest serves", async () => {
  // An outside audit found TOLLGATE_ADMIN_TOKEN='a' accepted; refusing the whole worker for it
  // turned an upgrade into an outage (a review), so only what it guards refuses.
  const weak = await startWorker({ secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(signingSet), TOLLGATE_ADMIN_TOKEN: "c2hvcnQ" } });
  try {
    const admin = await weak.fetch("/admin/revoke-subject", { method: "POST", headers: { Authorization: "Bearer c2hvcnQ" } });
    assert.equal(admin.status, 500);
    assert.equal((await admin.json()).code, "ERR_CONFIG_INVALID");
    assert.equal((await weak.fetch("/healthz")).status, 503);
    assert.equal((await weak.fetch("/.well-known/jwks.json")).status, 200);
    assert.doesNotMatch(weak.logs.join(""), /c2hvcnQ/, "the secret never reaches the log");
  } finally {
    await weak.stop();
  }
});

test("an empty admin token is no admin token: the admin endpoints are disabled, not refusing every token", async () => {
  const unset = await startWorker({ secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(signingSet), TOLLGATE_ADMIN_TOKEN: "" } });
  try {
    const res = await unset.fetch("/admin/revoke-subject", { method: "POST", headers: { Authorization: "Bearer " } });
    assert.equal(res.status, 403);
    assert.equal((await res.json()).code, "ERR_ADMIN_DISABLED");
    assert.equal((await unset.fetch("/healthz")).status, 200);
  } finally {
    await unset.stop();
  }
});

test("/healthz is 503 when the worker lacks what its requests need, and only then", async () => {
  // An outside audit: 200 {"status":"ok"} while every OAuth endpoint answered 500
  // ERR_PEPPER_MISSING, or every gateway request 500 ERR_CONFIG_MISSING.
  const config = JSON.stringify({ issuer: "https://tollgate.test", routes: [{ prefix: "/api" }] });
  const keys = JSON.stringify(signingSet);
  const pepper = "pepper-for-tests-only-0123456789abcdef";
  const origin = "http://127.0.0.1:9";
  for (const [name, options, code] of [
    ["no ORIGIN_URL", { secrets: { TOLLGATE_SIGNING_KEYS: keys, TOLLGATE_PEPPER: pepper }, vars: { TOLLGATE_CONFIG: config } }, "ERR_CONFIG_MISSING"],
    ["no pepper (the issuer's endpoints)", { secrets: { TOLLGATE_SIGNING_KEYS: keys }, vars: { ORIGIN_URL: origin, TOLLGATE_CONFIG: config } }, "ERR_PEPPER_MISSING"],
    ["a short pepper", { secrets: { TOLLGATE_SIGNING_KEYS: keys, TOLLGATE_PEPPER: "short" }, vars: { ORIGIN_URL: origin, TOLLGATE_CONFIG: config } }, "ERR_PEPPER_MISSING"],
    // The guard alone only verifies JWTs here: it needs no pepper.
    ["the guard alone without a pepper", { secrets: { TOLLGATE_SIGNING_KEYS: keys }, vars: { ORIGIN_URL: origin, TOLLGATE_CONFIG: config }, main: join(ROOT, "build/guard/index.js"), coordinator: false }, null],
  ]) {
    const unready = await startWorker(options);
    try {
      const res = await unready.fetch("/healthz");
      if (code === null) {
        assert.equal(res.status, 200, name);
        continue;
      }
      assert.equal(res.status, 503, name);
      assert.deepEqual(await res.json(), { error: "server_error", code }, name);
      assert.equal((await unready.fetch("/.well-known/jwks.json")).status, 200, `${name}: the keys are still served`);
    } finally {
      await unready.stop();
    }
  }
});

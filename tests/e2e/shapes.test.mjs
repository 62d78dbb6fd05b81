// The worker's two shapes (README, "Two workers"): the guard in front with the issuer behind its
// service binding, as scripts/dev and a deployment run them; the issuer alone, the whole worker
// in one; the guard without its issuer. Same keys, clients and configuration in each.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli, kvSeed, logsUntil, ROOT, startWorker } from "./harness.mjs";
import { startOrigin } from "../../scripts/demo-origin.mjs";

const ISSUER = "https://tollgate.test";
const ADMIN = "admin-token-for-tests-only-0123456789";
const PEPPER = "pepper-for-tests-only-0123456789abcdef";
let origin, secrets, vars, seed, secret;

const form = (params, headers = {}) => ({ method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers }, body: new URLSearchParams(params).toString() });
const basic = (id, password) => `Basic ${Buffer.from(`${id}:${password}`).toString("base64")}`;
const grant = (worker, headers = {}) =>
  worker.fetch("/token", form({ grant_type: "client_credentials", scope: "read" }, { Authorization: basic("svc", secret), ...headers }));
const api = (worker, token) => worker.fetch("/api/x", { headers: { Authorization: `Bearer ${token}` } });

before(async () => {
  origin = await startOrigin();
  const kv = kvSeed(PEPPER);
  secret = kv.add(["client", "add", "--id", "svc", "--grant", "client_credentials", "--scopes", "read", "--first-party", "--pepper-from", kv.pepperFile]).client_secret;
  const keys = cli(["keygen", "--alg", "ES256", "--kid", "shapes", "--set"]).stdout;
  secrets = { TOLLGATE_SIGNING_KEYS: keys.trim(), TOLLGATE_ADMIN_TOKEN: ADMIN, TOLLGATE_PEPPER: PEPPER };
  vars = {
    ORIGIN_URL: origin.url,
    TOLLGATE_CONFIG: JSON.stringify({ issuer: ISSUER, audiences: ["demo"], routes: [{ prefix: "/api", scopes: ["read"] }] }),
  };
  seed = kv.entries;
});

after(() => origin?.server.close());

describe("the guard with its issuer", () => {
  let worker;
  before(async () => {
    worker = await startWorker({ secrets, vars, seed });
  });
  after(() => worker?.stop());

  test("the issuer answers through the guard, and its handover header never reaches the client", async () => {
    // A client that sends the guard's own request header gets no handover either.
    const res = await grant(worker, { "Tollgate-Guard": "1" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("tollgate-revoked"), null);
    const { access_token: token } = await res.json();
    assert.equal((await api(worker, token)).status, 200);
    const revoked = await worker.fetch("/revoke", form({ token }, { Authorization: `Bearer ${ADMIN}` }));
    assert.equal(revoked.status, 200);
    assert.equal(revoked.headers.get("tollgate-revoked"), null);
    // At once at the guard, which served the token before and had it in its cache: the issuer
    // wrote the revocation, the guard was handed it.
    const denied = await api(worker, token);
    assert.equal(denied.status, 401);
    assert.equal((await denied.json()).code, "ERR_JWT_REVOKED");
  });

  test("the metadata comes from the issuer, the JWKS from the guard, with the same keys", async () => {
    const metadata = await (await worker.fetch("/.well-known/oauth-authorization-server")).json();
    assert.equal(metadata.issuer, ISSUER);
    const jwks = await (await worker.fetch("/.well-known/jwks.json")).json();
    assert.deepEqual(jwks.keys.map((k) => k.kid), ["shapes"]);
  });
});

describe("the issuer alone: the whole worker in one", () => {
  let worker;
  before(async () => {
    worker = await startWorker({ secrets, vars, seed, main: join(ROOT, "build/issuer/index.js") });
  });
  after(() => worker?.stop());

  test("it issues, guards and revokes at once by itself", async () => {
    const { access_token: token } = await (await grant(worker)).json();
    assert.equal((await api(worker, token)).status, 200);
    const revoked = await worker.fetch("/revoke", form({ token }, { Authorization: `Bearer ${ADMIN}` }));
    assert.equal(revoked.status, 200);
    assert.equal(revoked.headers.get("tollgate-revoked"), null, "no handover unless a guard asks");
    assert.equal((await api(worker, token)).status, 401);
  });
});

describe("the guard without its issuer", () => {
  let worker;
  before(async () => {
    worker = await startWorker({ secrets, vars, seed, main: join(ROOT, "build/guard/index.js"), coordinator: false });
  });
  after(() => worker?.stop());

  test("the authorization server's endpoints answer 503 naming the missing binding; the gateway works", async () => {
    const res = await grant(worker);
    assert.equal(res.status, 503);
    assert.equal((await res.json()).code, "ERR_CONFIG_MISSING");
    const logs = await logsUntil(worker, (text) => text.includes("TOLLGATE_ISSUER service binding"));
    assert.match(logs, /the authorization server's endpoints need the TOLLGATE_ISSUER service binding/);
    const keyFile = join(tmpdir(), `tollgate-shapes-key-${process.pid}.json`);
    writeFileSync(keyFile, secrets.TOLLGATE_SIGNING_KEYS, { mode: 0o600 });
    const signed = cli(["sign", "--key", keyFile, "--sub", "robot", "--aud", "demo", "--iss", ISSUER, "--scope", "read"]);
    assert.equal(signed.status, 0, signed.stderr);
    assert.equal((await api(worker, signed.stdout.trim())).status, 200);
  });
});

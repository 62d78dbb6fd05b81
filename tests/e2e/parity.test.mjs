// One table of tokens, run against the edge worker (through the gateway) and the npm package
// (against the worker's published JWKS) under the same policy: both must give the same answer
// and the same error code.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { SignJWT, importJWK } from "jose";
import * as pkg from "../pkg/node_modules/tollgate/dist/node.mjs";
import { cli, startWorker } from "./harness.mjs";
import { startOrigin } from "../../scripts/demo-origin.mjs";

const ISSUER = "https://tollgate.test";
const now = () => Math.floor(Date.now() / 1000);
let worker, origin, key, other, jwks;

async function sign(jwk, claims = {}, header = {}, signOptions = {}) {
  const body = { iss: ISSUER, aud: "demo", sub: "alice", jti: crypto.randomUUID(), iat: now(), exp: now() + 600, ...claims };
  for (const [k, v] of Object.entries(body)) if (v === undefined) delete body[k];
  const protectedHeader = { alg: jwk.alg, kid: jwk.kid, typ: "at+jwt", ...header };
  for (const [k, v] of Object.entries(protectedHeader)) if (v === undefined) delete protectedHeader[k];
  return new SignJWT(body).setProtectedHeader(protectedHeader).sign(await importJWK(jwk, jwk.alg), signOptions);
}

const b64 = (s) => Buffer.from(s).toString("base64url");

const TABLE = [
  ["valid", () => sign(key)],
  ["expired", () => sign(key, { iat: now() - 900, exp: now() - 300 })],
  ["no exp", () => sign(key, { exp: undefined })],
  ["nbf in the future", () => sign(key, { nbf: now() + 600 })],
  ["iat in the future", () => sign(key, { iat: now() + 600 })],
  ["wrong audience", () => sign(key, { aud: "nope" })],
  ["audience array", () => sign(key, { aud: ["x", "demo"] })],
  ["wrong issuer", () => sign(key, { iss: "https://evil.test" })],
  ["unknown kid", () => sign(other)],
  ["tampered", async () => { const [h, , s] = (await sign(key)).split("."); return `${h}.${b64(JSON.stringify({ iss: ISSUER, aud: "demo", exp: now() + 60 }))}.${s}`; }],
  ["alg none", async () => `${b64('{"alg":"none"}')}.${(await sign(key)).split(".")[1]}.`],
  ["HS256 header", async () => { const [, p, s] = (await sign(key)).split("."); return `${b64(JSON.stringify({ alg: "HS256", kid: key.kid }))}.${p}.${s}`; }],
  ["crit", () => sign(key, {}, { crit: ["ext"], ext: 1 }, { crit: { ext: true } })],
  ["padded", async () => (await sign(key)) + "="],
  ["garbage", async () => "a.b.c"],
  ["oversized", async () => sign(key, { pad: "x".repeat(9000) })],
  ["typ JWT (an ID token, say)", () => sign(key, {}, { typ: "JWT" })],
  ["no typ", () => sign(key, {}, { typ: undefined })],
  ["typ application/at+jwt", () => sign(key, {}, { typ: "application/at+jwt" })],
  ["no jti", () => sign(key, { jti: undefined })],
  ["no sub", () => sign(key, { sub: undefined })],
];

before(async () => {
  origin = await startOrigin();
  const set = JSON.parse(cli(["keygen", "--alg", "ES256", "--kid", "parity", "--set"]).stdout);
  key = set.keys[0];
  other = JSON.parse(cli(["keygen", "--alg", "ES256", "--kid", "other", "--set"]).stdout).keys[0];
  worker = await startWorker({
    secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(set) },
    vars: { ORIGIN_URL: origin.url, TOLLGATE_CONFIG: JSON.stringify({ issuer: ISSUER, audiences: ["demo"], routes: [{ prefix: "/api" }] }) },
  });
  jwks = await (await worker.fetch("/.well-known/jwks.json")).json();
});

after(async () => {
  await worker?.stop();
  origin?.server.close();
});

for (const [name, make] of TABLE) {
  test(`same answer from the worker and the package: ${name}`, async () => {
    const token = await make();
    const res = await worker.fetch("/api/x", { headers: { Authorization: `Bearer ${token}` } });
    const fromWorker = res.status === 200 ? "OK" : (await res.json()).code;
    let fromPackage;
    try {
      // The gateway's policy for its own tokens: RFC 9068 access tokens with sub and jti.
      await pkg.verify(token, jwks, { issuer: ISSUER, audience: "demo", typ: "at+jwt", requiredClaims: ["sub", "jti"] });
      fromPackage = "OK";
    } catch (err) {
      fromPackage = err.code;
    }
    assert.equal(fromPackage, fromWorker);
  });
}

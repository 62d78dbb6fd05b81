// Origins behind the gateway with Tollgate's middleware: a Hono app and an Express app, each
// behind its own worker in workerd, trust the gateway's signed assertion and nothing else. A
// forwarded request passes; the same request sent to them directly, with a forged assertion,
// a stale one (signed by the real key) or one made for another URL is refused.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { SignJWT, importJWK, generateKeyPair } from "jose";
import { Hono } from "hono";
import { serve } from "@hono/node-server";
import express from "express";
import { cli, startWorker, freePort } from "./harness.mjs";
import { createRemoteJWKSet } from "../pkg/node_modules/tollgate/dist/node.mjs";
import { tollgate as honoTollgate } from "../pkg/node_modules/tollgate/middleware/hono.js";
import { tollgate as expressTollgate } from "../pkg/node_modules/tollgate/middleware/express.js";

const ISSUER = "https://tollgate.test";
const now = () => Math.floor(Date.now() / 1000);
const apps = {};
let keys;

/** Starts an app on a known port, then a worker in front of it. */
async function behindGateway(name, start) {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const worker = await startWorker({
    secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(keys) },
    vars: { ORIGIN_URL: origin, TOLLGATE_CONFIG: JSON.stringify({ issuer: ISSUER, audiences: ["demo"], routes: [{ prefix: "/api", scopes: ["read"] }] }) },
    kv: true,
  });
  const options = () => ({ issuer: ISSUER, jwks: createRemoteJWKSet(`${worker.url}/.well-known/jwks.json`), assertion: { audience: origin } });
  const server = await start(port, options);
  apps[name] = { origin, worker, server };
}

before(async () => {
  keys = JSON.parse(cli(["keygen", "--alg", "ES256", "--set"]).stdout);
  await behindGateway("hono", (port, options) => {
    const app = new Hono();
    app.use("/api/*", honoTollgate(options()));
    app.all("/api/*", (c) => c.json({ sub: c.get("auth").sub, via: c.get("auth").via, assertion: c.req.header("x-tollgate-assertion") }));
    return new Promise((ok) => {
      const server = serve({ fetch: app.fetch, port, hostname: "127.0.0.1" }, () => ok(server));
    });
  });
  await behindGateway("express", (port, options) => {
    const app = express();
    app.use("/api", expressTollgate(options()));
    app.all("/api/*path", (req, res) => res.json({ sub: req.auth.sub, via: req.auth.via, assertion: req.get("x-tollgate-assertion") }));
    return new Promise((ok) => {
      const server = app.listen(port, "127.0.0.1", () => ok(server));
    });
  });
});

after(async () => {
  for (const { worker, server } of Object.values(apps)) {
    await worker.stop();
    server.close();
  }
});

const accessToken = async () =>
  new SignJWT({ iss: ISSUER, aud: "demo", sub: "alice", scope: "read", jti: crypto.randomUUID(), iat: now(), exp: now() + 600 })
    .setProtectedHeader({ alg: "ES256", kid: keys.keys[0].kid, typ: "at+jwt" })
    .sign(await importJWK(keys.keys[0], "ES256"));

for (const name of ["hono", "express"]) {
  test(`${name}: through the gateway it passes; directly, forged, stale or for another URL it is refused`, async () => {
    const { origin, worker } = apps[name];
    const token = await accessToken();
    const through = await worker.fetch("/api/orders/7", { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(through.status, 200, await through.clone().text());
    const seen = await through.json();
    assert.equal(seen.sub, "alice");
    assert.equal(seen.via, "assertion");

    const refused = async (path, headers, code, claim) => {
      const res = await fetch(`${origin}${path}`, { headers });
      assert.equal(res.status, 401, `${path} ${JSON.stringify(headers).slice(0, 80)}`);
      const body = await res.json();
      assert.equal(body.code, code);
      if (claim) assert.equal(body.claim, claim);
      assert.match(res.headers.get("www-authenticate"), /^Bearer realm="tollgate"/);
    };
    // The same request sent straight to the origin, token and all: no assertion, refused.
    await refused("/api/orders/7", { Authorization: `Bearer ${token}` }, "ERR_TOKEN_MISSING");
    // The real assertion, replayed for another URL.
    await refused("/api/orders/8", { "X-Tollgate-Assertion": seen.assertion }, "ERR_JWT_CLAIM_VALIDATION_FAILED", "htu");
    // Forged: the right shape, another key.
    const { privateKey } = await generateKeyPair("ES256");
    const claims = { iss: ISSUER, aud: origin, sub: "mallory", scope: "read", htm: "GET", htu: `${origin}/api/orders/7` };
    const forged = await new SignJWT({ ...claims, iat: now(), exp: now() + 60 }).setProtectedHeader({ alg: "ES256", kid: keys.keys[0].kid, typ: "tollgate-assertion+jwt" }).sign(privateKey);
    await refused("/api/orders/7", { "X-Tollgate-Assertion": forged }, "ERR_JWS_SIGNATURE_VERIFICATION_FAILED");
    // Stale: signed by the deployment's real key, two minutes ago.
    const stale = await new SignJWT({ ...claims, iat: now() - 180, exp: now() - 120 }).setProtectedHeader({ alg: "ES256", kid: keys.keys[0].kid, typ: "tollgate-assertion+jwt" }).sign(await importJWK(keys.keys[0], "ES256"));
    await refused("/api/orders/7", { "X-Tollgate-Assertion": stale }, "ERR_JWT_EXPIRED");
  });
}

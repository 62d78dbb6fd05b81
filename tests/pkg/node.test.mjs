// The package suite in Node through `import "tollgate"` (the "node" + "import" export), plus
// interoperability with jose in both directions for every algorithm.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as api from "tollgate";
import * as jose from "jose";
import { cases, ALGORITHMS } from "./cases.mjs";
import { fixtures } from "./fixtures.mjs";

for (const { name, fn } of cases(api, fixtures)) test(`esm: ${name}`, fn);

async function joseKeys(alg) {
  if (alg.startsWith("HS")) {
    const { privateJwk } = api.generateKeyPair(alg);
    return { ours: privateJwk, verifyJwk: privateJwk, joseSign: await jose.importJWK(privateJwk, alg), joseVerify: await jose.importJWK(privateJwk, alg) };
  }
  const opts = alg.startsWith("RS") || alg.startsWith("PS") ? { modulusLength: 2048, extractable: true } : { extractable: true };
  const { privateKey, publicKey } = await jose.generateKeyPair(alg, opts);
  const kid = `k-${alg}`;
  return {
    ours: { ...(await jose.exportJWK(privateKey)), alg, kid },
    verifyJwk: { ...(await jose.exportJWK(publicKey)), alg, kid },
    joseSign: privateKey,
    joseVerify: publicKey,
  };
}

for (const alg of ALGORITHMS) {
  test(`interop ${alg}: jose signs → tollgate verifies; tollgate signs → jose verifies`, async () => {
    const k = await joseKeys(alg);
    const fromJose = await new jose.SignJWT({ scope: "read" })
      .setProtectedHeader({ alg, kid: k.verifyJwk.kid })
      .setIssuer("https://i").setAudience("api").setSubject("alice").setIssuedAt().setExpirationTime("5m")
      .sign(k.joseSign);
    const ours = api.verify(fromJose, { keys: [k.verifyJwk] }, { issuer: "https://i", audience: "api" });
    assert.equal(ours.payload.sub, "alice");

    const fromUs = api.sign({ scope: "read" }, k.ours, { alg, issuer: "https://i", audience: "api", subject: "bob" });
    const { payload, protectedHeader } = await jose.jwtVerify(fromUs, k.joseVerify, { issuer: "https://i", audience: "api", algorithms: [alg] });
    assert.equal(payload.sub, "bob");
    assert.equal(protectedHeader.alg, alg);
  });
}

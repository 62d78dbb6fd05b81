// The package suite in Node through `import "tollgate"` (the "node" + "import" export), plus
// interoperability with jose in both directions for every algorithm.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as api from "tollgate";
import * as jose from "jose";
import * as oauth from "oauth4webapi";
import { cases, syncApi, ALGORITHMS } from "./cases.mjs";
import { fixtures } from "./fixtures.mjs";

for (const { name, fn } of cases(api, { ...fixtures, sync: true })) test(`esm: ${name}`, fn);
for (const { name, fn } of cases(syncApi(api), { ...fixtures, sync: true })) test(`esm sync: ${name}`, fn);

async function joseKeys(alg) {
  if (alg.startsWith("HS")) {
    const { privateJwk } = await api.generateKeyPair(alg);
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
    const ours = await api.verify(fromJose, { keys: [k.verifyJwk] }, { issuer: "https://i", audience: "api" });
    assert.equal(ours.payload.sub, "alice");

    const fromUs = await api.sign({ scope: "read" }, k.ours, { alg, issuer: "https://i", audience: "api", subject: "bob" });
    const { payload, protectedHeader } = await jose.jwtVerify(fromUs, k.joseVerify, { issuer: "https://i", audience: "api", algorithms: [alg] });
    assert.equal(payload.sub, "bob");
    assert.equal(protectedHeader.alg, alg);
  });
}

test("a Verifier's remembered header: every result is its token's own, and callers cannot change the next", async () => {
  const k = await joseKeys("ES256");
  const token = (header, sub) =>
    new jose.SignJWT({ sub }).setProtectedHeader({ alg: "ES256", kid: k.verifyJwk.kid, ...header }).setExpirationTime("5m").sign(k.joseSign);
  const [a, b, typed, nested] = await Promise.all([token({}, "a"), token({}, "b"), token({ typ: "at+jwt" }, "c"), token({ ext: { n: 1 } }, "d")]);
  const verifier = new api.Verifier({ keys: [k.verifyJwk] });

  const first = verifier.verifySync(a);
  assert.deepEqual(first, { payload: JSON.parse(atob(a.split(".")[1])), protectedHeader: { alg: "ES256", kid: k.verifyJwk.kid } });
  first.protectedHeader.kid = "changed";
  first.protectedHeader.extra = true;
  const second = verifier.verifySync(b);
  assert.equal(second.payload.sub, "b");
  assert.deepEqual(second.protectedHeader, { alg: "ES256", kid: k.verifyJwk.kid });
  assert.notEqual(second.protectedHeader, verifier.verifySync(b).protectedHeader);

  assert.deepEqual(verifier.verifySync(typed).protectedHeader, { alg: "ES256", kid: k.verifyJwk.kid, typ: "at+jwt" });
  assert.deepEqual(verifier.verifySync(a).protectedHeader, { alg: "ES256", kid: k.verifyJwk.kid });

  const withObject = verifier.verifySync(nested);
  withObject.protectedHeader.ext.n = 2;
  assert.deepEqual(verifier.verifySync(nested).protectedHeader.ext, { n: 1 });

  const [h, p, s] = b.split(".");
  const flipped = s[0] === "A" ? `B${s.slice(1)}` : `A${s.slice(1)}`;
  verifier.verifySync(b);
  assert.throws(() => verifier.verifySync(`${h}.${p}.${flipped}`), { code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" });
  assert.throws(() => verifier.verifySync(`${h}.${a.split(".")[1]}.${s}`), { code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" });
});

test("tokens cross into wasm through a buffer that survives the memory growing", () => {
  const { privateJwk } = api.generateKeyPairSync("HS256");
  const verifier = new api.Verifier({ keys: [privateJwk] });
  const small = api.signSync({ n: 1 }, privateJwk);
  assert.equal(verifier.verifySync(small).payload.n, 1);
  // Signing an 8 MB claims set grows wasm memory, which detaches every view of the old one.
  const big = api.signSync({ blob: "x".repeat(8 << 20) }, privateJwk);
  assert.equal(verifier.verifySync(api.signSync({ n: 2 }, privateJwk)).payload.n, 2);
  assert.equal(verifier.verifySync(small).payload.n, 1);
  assert.throws(() => verifier.verifySync(big), { code: "ERR_JWT_TOO_LARGE" });
});

/** The package's parts, loaded one by one, for the white-box tests that assemble an API. */
async function whiteBox() {
  const { readFileSync } = await import("node:fs");
  const pkg = new URL("../../pkg/", import.meta.url);
  const core = await import(new URL("dist/tollgate_core.js", pkg));
  core.initSync({ module: readFileSync(new URL("dist/tollgate_core_bg.wasm", pkg)) });
  const { createApi } = await import(new URL("entries/api/index.js", pkg));
  const { nodeHost } = await import(new URL("entries/node-crypto.js", pkg));
  return { core, createApi, nodeHost };
}

test("a verify nested inside a host's signature check leaves the outer one intact", async () => {
  // White-box: a host whose checker verifies another token before answering. The nested call
  // must not overwrite the outer token in the shared wasm input buffer.
  const { core, createApi, nodeHost } = await whiteBox();
  const inner = api.generateKeyPairSync("HS256").privateJwk;
  const innerToken = api.signSync({ sub: "inner" }, inner);
  let nested = null;
  const host = {
    ...nodeHost,
    verifier(jwk) {
      const check = nodeHost.verifier(jwk);
      return check && ((alg, data, signature) => {
        nested = nestedApi.verifySync(innerToken, { keys: [inner] }).payload.sub;
        return check(alg, data, signature);
      });
    },
  };
  const nestedApi = createApi(core, host);
  const k = await joseKeys("ES256");
  const outer = api.signSync({ sub: "outer" }, k.ours);
  assert.equal(nestedApi.verifySync(outer, { keys: [k.verifyJwk] }).payload.sub, "outer");
  assert.equal(nested, "inner");
});

test("DPoP interop: jose-made proofs verify with Tollgate, Tollgate's verify with jose (EmbeddedJWK)", async () => {
  for (const alg of ["ES256", "EdDSA", "PS256"]) {
    const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true });
    const jwk = await jose.exportJWK(publicKey);
    const proof = await new jose.SignJWT({ htm: "GET", htu: "https://rs.example/data", ath: "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo" })
      .setProtectedHeader({ typ: "dpop+jwt", alg, jwk }).setJti(crypto.randomUUID()).setIssuedAt().sign(privateKey);
    const checked = await api.verifyDpopProof(proof, { method: "GET", url: "https://rs.example/data", accessToken: "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU" });
    assert.equal(checked.jkt, await jose.calculateJwkThumbprint(jwk));

    const ours = await api.createDpopProof({ ...(await jose.exportJWK(privateKey)), alg }, { method: "GET", url: "https://rs.example/data?q=1", accessToken: "tok" });
    const { payload, protectedHeader } = await jose.jwtVerify(ours, jose.EmbeddedJWK, { typ: "dpop+jwt", algorithms: [alg] });
    assert.equal(payload.htu, "https://rs.example/data");
    assert.equal(payload.ath, Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode("tok"))).toString("base64url"));
    assert.equal(await jose.calculateJwkThumbprint(protectedHeader.jwk), (await api.verifyDpopProof(ours, { method: "GET", url: "https://rs.example/data", accessToken: "tok" })).jkt);
  }
});

test("DPoP interop: oauth4webapi's proofs (a real OAuth client) verify with Tollgate, nonce retry included", async () => {
  const keyPair = await oauth.generateKeyPair("ES256");
  const dpop = oauth.DPoP({}, keyPair);
  const seen = [];
  let nonce = null;
  const customFetch = async (url, init) => {
    const proof = new Headers(init.headers).get("dpop");
    const request = { method: init.method, url, accessToken: "opaque-token" };
    try {
      const checked = await api.verifyDpopProof(proof, nonce ? { ...request, nonce } : request);
      seen.push(checked);
      return new Response("{}", { status: 200, headers: { "content-type": "application/json" } });
    } catch (err) {
      assert.equal(err.code, "ERR_DPOP_NONCE_REQUIRED");
      return new Response(null, { status: 401, headers: { "www-authenticate": 'DPoP error="use_dpop_nonce"', "dpop-nonce": nonce } });
    }
  };
  const call = () => oauth.protectedResourceRequest("opaque-token", "GET", new URL("https://rs.example/data?x=1"), undefined, undefined, { DPoP: dpop, [oauth.customFetch]: customFetch });
  assert.equal((await call()).status, 200);
  nonce = "server-nonce-1";
  // The client's documented pattern: a use_dpop_nonce challenge, then one retry with the nonce
  // its DPoP handle took from the DPoP-Nonce header.
  const challenge = await call().then(() => null, (err) => err);
  assert.ok(oauth.isDPoPNonceError(challenge), String(challenge));
  assert.equal((await call()).status, 200, "the retried proof carries the nonce");
  assert.equal(seen.length, 2);
  assert.equal(seen[1].nonce, "server-nonce-1");
  assert.equal(seen[0].jkt, await jose.calculateJwkThumbprint(await jose.exportJWK(keyPair.publicKey)));
  assert.notEqual(seen[0].jti, seen[1].jti);
});

test("verifyAssertion: an assertion made elsewhere (jose) for this request, and nothing else", async () => {
  const { privateKey, publicKey } = await jose.generateKeyPair("ES256", { extractable: true });
  const jwks = { keys: [{ ...(await jose.exportJWK(publicKey)), alg: "ES256", kid: "gw" }] };
  const now = Math.floor(Date.now() / 1000);
  const make = (claims = {}, typ = "tollgate-assertion+jwt") =>
    new jose.SignJWT({ iss: "https://auth.example", aud: "https://app.internal", sub: "usr_1", scope: "read", htm: "GET", htu: "https://app.internal/api/x", iat: now, exp: now + 60, ...claims })
      .setProtectedHeader({ alg: "ES256", kid: "gw", typ })
      .sign(privateKey);
  const options = { issuer: "https://auth.example", audience: "https://app.internal", jwks };
  const good = await make();
  const fetchRequest = new Request("https://APP.internal:443/api/x?page=2", { headers: { "X-Tollgate-Assertion": good } });
  assert.equal((await api.verifyAssertion(fetchRequest, options)).payload.sub, "usr_1");
  const nodeRequest = { method: "GET", url: "/api/x?page=2", protocol: "https", headers: { host: "app.internal", "x-tollgate-assertion": good } };
  assert.equal((await api.verifyAssertion(nodeRequest, options)).payload.scope, "read");
  const refusal = async (request, code, claim) => {
    const err = await api.verifyAssertion(request, options).then(() => null, (e) => e);
    assert.ok(err instanceof api.TollgateError, String(err));
    assert.equal(err.code, code);
    if (claim) assert.equal(err.claim, claim);
  };
  await refusal(new Request("https://app.internal/api/x"), "ERR_TOKEN_MISSING");
  await refusal(new Request("https://app.internal/api/y", { headers: { "X-Tollgate-Assertion": good } }), "ERR_JWT_CLAIM_VALIDATION_FAILED", "htu");
  await refusal(new Request("https://app.internal/api/x", { method: "DELETE", headers: { "X-Tollgate-Assertion": good } }), "ERR_JWT_CLAIM_VALIDATION_FAILED", "htm");
  await refusal(new Request("https://app.internal/api/x", { headers: { "X-Tollgate-Assertion": await make({}, "at+jwt") } }), "ERR_JWT_CLAIM_VALIDATION_FAILED", "typ");
  await refusal(new Request("https://app.internal/api/x", { headers: { "X-Tollgate-Assertion": await make({ iat: now - 120, exp: now - 60 }) } }), "ERR_JWT_EXPIRED");
  await refusal(new Request("https://app.internal/api/x", { headers: { "X-Tollgate-Assertion": await make({ aud: "https://other.internal" }) } }), "ERR_JWT_CLAIM_VALIDATION_FAILED", "aud");
  // One minute from its iat, whatever its exp says; without iat it cannot be judged.
  await refusal(new Request("https://app.internal/api/x", { headers: { "X-Tollgate-Assertion": await make({ iat: now - 3600, exp: now + 3600 }) } }), "ERR_JWT_CLAIM_VALIDATION_FAILED", "iat");
  await refusal(new Request("https://app.internal/api/x", { headers: { "X-Tollgate-Assertion": await make({ iat: undefined }) } }), "ERR_JWT_CLAIM_VALIDATION_FAILED", "iat");
  const forged = await new jose.SignJWT({}).setProtectedHeader({ alg: "ES256", kid: "gw", typ: "tollgate-assertion+jwt" }).sign((await jose.generateKeyPair("ES256")).privateKey);
  await refusal(new Request("https://app.internal/api/x", { headers: { "X-Tollgate-Assertion": forged } }), "ERR_JWS_SIGNATURE_VERIFICATION_FAILED");
});

test("a remote key set from require(\"tollgate\") is one to import(\"tollgate\") too (two copies of the package)", async () => {
  const { createRequire } = await import("node:module");
  const required = createRequire(import.meta.url)("tollgate");
  const { privateJwk, publicJwk } = await api.generateKeyPair("ES256");
  const remote = required.createRemoteJWKSet("https://issuer.test/jwks.json", {
    fetch: async () => new Response(JSON.stringify({ keys: [publicJwk] }), { status: 200 }),
  });
  const token = await api.sign({ sub: "both" }, privateJwk);
  assert.equal((await api.verify(token, remote)).payload.sub, "both");
  assert.throws(() => api.verifySync(token, remote), TypeError);
});

test("a TollgateError from either copy of the package is an instance of both copies' class", async () => {
  const { createRequire } = await import("node:module");
  const required = createRequire(import.meta.url)("tollgate");
  assert.notEqual(required.TollgateError, api.TollgateError);
  const { privateJwk, publicJwk } = await api.generateKeyPair("ES256");
  const expired = await api.sign({ sub: "x", exp: 1000 }, privateJwk);
  for (const [thrower, name] of [[api, "import"], [required, "require"]]) {
    const err = await thrower.verify(expired, { keys: [publicJwk] }).catch((e) => e);
    assert.equal(err.code, "ERR_JWT_EXPIRED", name);
    assert.ok(err instanceof api.TollgateError, `${name} → import's class`);
    assert.ok(err instanceof required.TollgateError, `${name} → require's class`);
    assert.ok(err instanceof Error, name);
  }
  for (const other of [new Error("x"), new TypeError("x"), { code: "ERR_JWT_EXPIRED" }, null, "ERR_JWT_EXPIRED"]) {
    assert.equal(other instanceof api.TollgateError, false, String(other));
  }
});

test("an empty audience or issuer list reaches the core as written, never dropped or rewritten", async () => {
  // White-box: the policy JSON each Verifier hands the core, whichever way it was made.
  const { core, createApi, nodeHost } = await whiteBox();
  const policies = [];
  const spied = { ...core, Verifier: class extends core.Verifier {
    constructor(keys, policy, check) {
      policies.push(JSON.parse(policy));
      super(keys, policy, check);
    }
  } };
  const spiedApi = createApi(spied, nodeHost);
  const { privateJwk, publicJwk } = api.generateKeyPairSync("ES256");
  const token = api.signSync({}, privateJwk);
  const remote = spiedApi.createRemoteJWKSet("https://issuer.test/jwks.json", { fetch: async () => new Response(JSON.stringify({ keys: [publicJwk] })) });
  for (const options of [{ audience: [] }, { issuer: [] }, { audience: [], issuer: [] }]) {
    for (const call of [() => spiedApi.verifySync(token, { keys: [publicJwk] }, options), () => spiedApi.verify(token, remote, options)]) {
      policies.length = 0;
      await Promise.resolve().then(call).catch(() => {});
      assert.equal(policies.length, 1, JSON.stringify(options));
      if (options.audience) assert.deepEqual(policies[0].audiences, [], "audiences as written");
      if (options.issuer) assert.deepEqual(policies[0].issuers, [], "issuers as written");
    }
  }
});

// WAITS FOR THE RUST POLICY CHANGE (an empty `audiences`/`issuers` list refused as
// ERR_POLICY_INVALID by the core's policy): fails until it lands.
test("an empty audience or issuer list is ERR_POLICY_INVALID, never a check turned off", async () => {
  const { privateJwk, publicJwk } = await api.generateKeyPair("ES256");
  const token = await api.sign({ sub: "x", aud: "evil-api", iss: "https://evil.example" }, privateJwk);
  const keys = { keys: [publicJwk] };
  const remote = api.createRemoteJWKSet("https://issuer.test/jwks.json", { fetch: async () => new Response(JSON.stringify(keys)) });
  for (const options of [{ audience: [] }, { issuer: [] }]) {
    const what = JSON.stringify(options);
    await assert.rejects(api.verify(token, keys, options), { code: "ERR_POLICY_INVALID" }, `verify ${what}`);
    assert.throws(() => new api.Verifier(keys, options), { code: "ERR_POLICY_INVALID" }, `Verifier ${what}`);
    assert.throws(() => api.verifySync(token, keys, options), { code: "ERR_POLICY_INVALID" }, `verifySync ${what}`);
    await assert.rejects(api.verify(token, remote, options), { code: "ERR_POLICY_INVALID" }, `remote ${what}`);
  }
});

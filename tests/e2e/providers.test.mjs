// Every crypto provider gives the same answer: the worker (WebCrypto for every asymmetric
// algorithm: it is built without the pure-Rust provider), the package in Node (node:crypto),
// the package's WebCrypto host (the browsers' and workerd's, here on Node's WebCrypto) and the
// package's pure-Rust provider ("tollgate/sync"), for each asymmetric algorithm, on valid signatures
// and on the edge cases where native libraries are known to differ (high-S ECDSA, PSS salt
// length, wrong lengths, zeros, another key; for Ed25519 a non-canonical S and a small-order R,
// RFC 8032 §5.1.7).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createPrivateKey, sign as nodeSign, constants } from "node:crypto";
import { readFileSync } from "node:fs";
import * as pkg from "../pkg/node_modules/tollgate/dist/node.mjs";
import * as web from "../pkg/node_modules/tollgate/dist/tollgate_web.js";
import * as full from "../pkg/node_modules/tollgate/dist/tollgate_full.js";
import { createApi } from "../pkg/node_modules/tollgate/entries/api/index.js";
import { webCryptoHost } from "../pkg/node_modules/tollgate/entries/webcrypto.js";
import { cli, startWorker } from "./harness.mjs";

const ADMIN = "admin-token-for-tests-only-0123456789";
import { startOrigin } from "../../scripts/demo-origin.mjs";

// The browsers' and workerd's core (no pure-Rust asymmetric code) with their WebCrypto host,
// and the "tollgate/sync" core (pure Rust) without a host.
web.initSync({ module: readFileSync(new URL("../pkg/node_modules/tollgate/dist/tollgate_web_bg.wasm", import.meta.url)) });
full.initSync({ module: readFileSync(new URL("../pkg/node_modules/tollgate/dist/tollgate_full_bg.wasm", import.meta.url)) });
const webcrypto = createApi(web, webCryptoHost);
const portable = createApi(full);
const ISSUER = "https://providers.test";
const ALGS = ["ES256", "RS256", "PS256", "PS512", "ES384", "ES512", "EdDSA", "Ed25519"];
// The group order L of edwards25519 (RFC 8032 §5.1), and a point of order 8 (a small-order R).
const ED25519_L = 2n ** 252n + 27742317777372353535851937790883648493n;
const SMALL_ORDER_R = Buffer.from("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", "hex");
const ORDER = { ES256: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n, ES384: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n, ES512: 0x01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n };
const now = () => Math.floor(Date.now() / 1000);
const b64 = (bytes) => Buffer.from(bytes).toString("base64url");
let worker, origin, jwks;
const keys = {};
const otherKeys = {};

function signWith(alg, options = {}, jwk = keys[alg]) {
  const header = b64(JSON.stringify({ alg, kid: jwk.kid, typ: "at+jwt" }));
  const payload = b64(JSON.stringify({ iss: ISSUER, aud: "demo", sub: "alice", jti: crypto.randomUUID(), iat: now(), exp: now() + 600 }));
  const input = Buffer.from(`${header}.${payload}`);
  const key = createPrivateKey({ key: jwk, format: "jwk" });
  const hash = alg.startsWith("Ed") ? null : `sha${alg.slice(2)}`;
  const padding = alg.startsWith("PS") ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(alg.slice(2)) / 8 } : {};
  const signature = nodeSign(hash, input, { key, dsaEncoding: "ieee-p1363", ...padding, ...options });
  return { input: `${header}.${payload}`, signature };
}

const token = ({ input, signature }) => `${input}.${b64(signature)}`;
const flip = (sig, at) => { const s = Buffer.from(sig); s[at] ^= 0x01; return s; };
function highS(alg, sig) {
  const half = sig.length / 2;
  const s = BigInt(`0x${sig.subarray(half).toString("hex")}`);
  const flipped = Buffer.from((ORDER[alg] - s).toString(16).padStart(half * 2, "0"), "hex");
  return Buffer.concat([sig.subarray(0, half), flipped]);
}

function cases(alg) {
  const list = [
    ["valid", () => token(signWith(alg)), "OK"],
    ["one bit flipped in the signature", () => { const t = signWith(alg); return token({ ...t, signature: flip(t.signature, 5) }); }],
    ["signature one byte short", () => { const t = signWith(alg); return token({ ...t, signature: t.signature.subarray(1) }); }],
    ["signature of zeros", () => { const t = signWith(alg); return token({ ...t, signature: Buffer.alloc(t.signature.length) }); }],
    ["signed by another key under this key's kid", () => token(signWith(alg, {}, { ...otherKeys[alg], kid: keys[alg].kid }))],
  ];
  if (alg.startsWith("Ed")) {
    list.push(["S + L: the same signature with a non-canonical S", () => { const t = signWith(alg); return token({ ...t, signature: plusOrder(t.signature) }); }]);
    list.push(["a small-order R", () => { const t = signWith(alg); return token({ ...t, signature: Buffer.concat([SMALL_ORDER_R, t.signature.subarray(32)]) }); }]);
  }
  if (alg in ORDER) list.push(["high-S form of a valid signature", () => { const t = signWith(alg); return token({ ...t, signature: highS(alg, t.signature) }); }, "agree"]);
  if (alg.startsWith("PS")) {
    list.push(["PSS salt of 20 bytes (RFC 7518 §3.5 says the hash length)", () => token(signWith(alg, { saltLength: 20 }))]);
    list.push(["PSS salt of 0 bytes", () => token(signWith(alg, { saltLength: 0 }))]);
  }
  return list;
}

/** An Ed25519 signature with S replaced by S + L (little-endian), which verifies under a
 * cofactorless check that skips the S < L test. */
function plusOrder(sig) {
  const le = (bytes) => BigInt(`0x${Buffer.from(bytes).reverse().toString("hex")}`);
  const s = le(sig.subarray(32)) + ED25519_L;
  const bytes = Buffer.from(s.toString(16).padStart(64, "0"), "hex").reverse();
  return Buffer.concat([sig.subarray(0, 32), bytes]);
}

async function answers(jwt) {
  const res = await worker.fetch("/api/x", { headers: { Authorization: `Bearer ${jwt}` } });
  const fromWorker = res.status === 200 ? "OK" : (await res.json()).code;
  const options = { issuer: ISSUER, audience: "demo", typ: "at+jwt", requiredClaims: ["sub", "jti"] };
  const run = (api) => api.verify(jwt, jwks, options).then(() => "OK", (err) => err.code);
  return { worker: fromWorker, "node:crypto": await run(pkg), webcrypto: await run(webcrypto), portable: await run(portable) };
}

before(async () => {
  origin = await startOrigin();
  for (const alg of ALGS) {
    keys[alg] = JSON.parse(cli(["keygen", "--alg", alg, "--kid", `k-${alg}`, "--set"]).stdout).keys[0];
    otherKeys[alg] = JSON.parse(cli(["keygen", "--alg", alg, "--set"]).stdout).keys[0];
  }
  worker = await startWorker({
    // The pepper: the guard's /healthz answers 503 without it, the issuer's endpoints needing it.
    secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify({ keys: ALGS.map((alg) => keys[alg]) }), TOLLGATE_ADMIN_TOKEN: ADMIN, TOLLGATE_PEPPER: "pepper-for-tests-only-0123456789abcdef" },
    vars: { ORIGIN_URL: origin.url, TOLLGATE_CONFIG: JSON.stringify({ issuer: ISSUER, audiences: ["demo"], routes: [{ prefix: "/api" }] }) },
  });
  jwks = await (await worker.fetch("/.well-known/jwks.json")).json();
});

after(async () => {
  await worker?.stop();
  origin?.server.close();
});

for (const alg of ALGS) {
  test(`${alg}: the worker, node:crypto, the package's WebCrypto host and the pure-Rust provider agree`, async () => {
    for (const [name, make, expected] of cases(alg)) {
      const got = await answers(make());
      const values = new Set(Object.values(got));
      assert.equal(values.size, 1, `${alg} ${name}: ${JSON.stringify(got)}`);
      if (expected === "agree") continue; // neither JWS nor the libraries require low-S
      if (expected) assert.equal(got.worker, expected, `${alg} ${name}`);
      else assert.notEqual(got.worker, "OK", `${alg} ${name} must be refused`);
    }
  });
}

test("the worker checked every algorithm with WebCrypto, and the host refused no key", async () => {
  const health = await worker.fetch("/healthz", { headers: { Authorization: `Bearer ${ADMIN}` } });
  const { webCrypto } = (await health.json()).isolate;
  assert.deepEqual(webCrypto, { imported: ["ES256", "ES384", "ES512", "Ed25519", "EdDSA", "PS256", "PS512", "RS256"], refused: [] });
});

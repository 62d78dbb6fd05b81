// The Node host provider: signature arithmetic on node:crypto (OpenSSL), synchronously. The
// Rust core has already parsed the token, chosen the key, checked the algorithm binding and
// the signature length; this answers "does this signature verify?", signs, imports and
// generates keys, and leaves every rule to the core.
// node:crypto is not in Node's startup snapshot: loading it takes about 8 ms in a fresh process,
// most of what importing the package would cost. It is loaded at the first asymmetric key
// instead (HMAC stays in the core and never needs it), as CommonJS would load it (an ES import
// would also build its namespace).
let loaded;
const lib = () => (loaded ??= process.getBuiltinModule("node:crypto"));

const HASH = { 256: "sha256", 384: "sha384", 512: "sha512" };

/** node:crypto's (hash, key options) for a JWS algorithm. */
function params(alg, key) {
  const bits = alg.slice(2);
  switch (alg.slice(0, 2)) {
    case "RS":
      return [HASH[bits], key];
    case "PS":
      return [HASH[bits], { key, padding: lib().constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(bits) / 8 }];
    case "ES":
      return [HASH[bits], { key, dsaEncoding: "ieee-p1363" }];
    case "Ed":
      return [null, key];
    default:
      return null;
  }
}

/** node:crypto's key type and options for generating a key of a JWS algorithm. */
function generation(alg) {
  switch (alg.slice(0, 2)) {
    case "RS":
    case "PS":
      // RFC 7518 §3.3: 2048 bits at least; the size the pure-Rust provider generates too.
      return ["rsa", { modulusLength: 2048 }];
    case "ES":
      return ["ec", { namedCurve: { ES256: "P-256", ES384: "P-384", ES512: "P-521" }[alg] }];
    case "Ed":
      return ["ed25519", {}];
    default:
      return null;
  }
}

/** What a private key signs once, to show that it is the private half of its public key. */
const PROBE = new TextEncoder().encode("tollgate: does this private key match its public key?");

/** Public keys of DPoP proofs, by their JWK text: a client's key signs many proofs. */
const proofKeys = new Map();

export const nodeHost = {
  /** Answers at once: the *Sync names work in Node. */
  sync: true,
  /** Text out of wasm memory: a Buffer's UTF-8 decode takes about 60% of TextDecoder's time
   * for a token's claims (bench/overhead.mjs). */
  text: {
    view: (buffer, at, bytes) => Buffer.from(buffer, at, bytes),
    read: (view, length) => view.toString("utf8", 0, length),
  },
  /**
   * A checker `(alg, data, signature) => boolean` for one public JWK from the core's list, or
   * null for an HMAC key (those stay in the core). The KeyObject and node:crypto's options are
   * built once per key and algorithm, not per token.
   */
  verifier(jwk) {
    if (jwk.kty === "oct") return null;
    const { createPublicKey, verify } = lib();
    const key = createPublicKey({ key: jwk, format: "jwk" });
    const byAlg = new Map();
    return (alg, data, signature) => {
      let p = byAlg.get(alg);
      if (p === undefined) byAlg.set(alg, (p = params(alg, key)));
      return p !== null && verify(p[0], data, p[1], signature);
    };
  },
  /** A signing key for a private JWK the core has already validated: its KeyObject, with
   * node:crypto's options built once per algorithm. */
  importPrivateKey(jwk) {
    const { createPrivateKey, createPublicKey, sign, verify } = lib();
    const key = createPrivateKey({ key: jwk, format: "jwk" });
    // Node's wasm has no curve arithmetic, so the check the pure-Rust build makes when it
    // builds a key is made here: the private half must be the one of the public half given
    // (node:crypto keeps an EC key's x and y as given, so a round trip is the test).
    const alg = { RSA: "RS256", OKP: "EdDSA", EC: { "P-256": "ES256", "P-384": "ES384", "P-521": "ES512" }[jwk.crv] }[jwk.kty];
    const { kty, crv, x, y, n, e } = jwk;
    const pub = createPublicKey({ key: Object.fromEntries(Object.entries({ kty, crv, x, y, n, e }).filter(([, v]) => v !== undefined)), format: "jwk" });
    const [hash, signing] = params(alg, key);
    const signature = sign(hash, PROBE, signing);
    if (!verify(hash, PROBE, params(alg, pub)[1], signature)) {
      throw new Error("the private key does not match its public key");
    }
    return { key, byAlg: new Map() };
  },
  /**
   * `(alg, publicJwkText, data, signature) => boolean` for a key that comes with the token (a
   * DPoP proof's `jwk`), after the core has checked the key and the signature's form.
   */
  verifyJwk(alg, jwkText, data, signature) {
    const { createPublicKey, verify } = lib();
    let key = proofKeys.get(jwkText);
    if (key === undefined) {
      key = createPublicKey({ key: JSON.parse(jwkText), format: "jwk" });
      if (proofKeys.size >= 256) proofKeys.clear();
      proofKeys.set(jwkText, key);
    }
    const p = params(alg, key);
    return p !== null && verify(p[0], data, p[1], signature);
  },
  /** A new private JWK for an asymmetric `alg` (the core names and checks it), or null. */
  generate(alg) {
    const how = generation(alg);
    if (how === null) return null;
    return lib().generateKeyPairSync(how[0], how[1]).privateKey.export({ format: "jwk" });
  },
  /** Signs; `data` is a view valid only during the call. */
  sign(alg, privateKey, data) {
    let p = privateKey.byAlg.get(alg);
    if (p === undefined) privateKey.byAlg.set(alg, (p = params(alg, privateKey.key)));
    if (p === null) throw new Error(`cannot sign ${alg}`);
    return lib().sign(p[0], data, p[1]);
  },
};

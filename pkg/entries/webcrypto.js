// The WebCrypto host provider: signature arithmetic for browsers and workerd, whose wasm core
// carries no pure-Rust RSA, ECDSA or EdDSA. The core has already parsed the token, chosen the
// key, checked the algorithm binding and the signature's form; this only answers "does this
// signature verify?" and "sign these bytes", as Promises (WebCrypto has no synchronous calls),
// which api/later.js awaits around the core's synchronous rules.
const subtle = globalThis.crypto.subtle;

const HASH = { 256: "SHA-256", 384: "SHA-384", 512: "SHA-512" };
const CURVE = { ES256: "P-256", ES384: "P-384", ES512: "P-521" };

/**
 * WebCrypto's algorithm for a JWS `alg` (RFC 7518 §3, RFC 8037 §3.1, RFC 9864): one object
 * for importKey, sign and verify alike (each reads the members it needs), or null for HMAC.
 */
function algorithm(alg) {
  const bits = alg.slice(2);
  switch (alg.slice(0, 2)) {
    case "RS":
      return { name: "RSASSA-PKCS1-v1_5", hash: HASH[bits] };
    case "PS":
      // RFC 7518 §3.5: the salt is as long as the hash.
      return { name: "RSA-PSS", hash: HASH[bits], saltLength: Number(bits) / 8 };
    case "ES":
      return { name: "ECDSA", namedCurve: CURVE[alg], hash: HASH[bits] };
    case "Ed":
      return { name: "Ed25519" };
    default:
      return null;
  }
}

/** The algorithm a key of this type is imported under when its JWK names none (RSA). */
const importedAs = (jwk) => jwk.alg ?? { RSA: "RS256", EC: { "P-256": "ES256", "P-384": "ES384", "P-521": "ES512" }[jwk.crv], OKP: "Ed25519" }[jwk.kty];

/**
 * Only the members that make the key: WebCrypto refuses a JWK whose `alg`, `use` or `key_ops`
 * it reads differently from RFC 7517 (an `alg` of `EdDSA` under Ed25519, say), and the core
 * has already applied those members as JOSE defines them.
 */
function material(jwk) {
  const out = {};
  for (const name of ["kty", "crv", "x", "y", "n", "e", "d", "p", "q", "dp", "dq", "qi"]) {
    if (jwk[name] !== undefined) out[name] = jwk[name];
  }
  return out;
}

/** What a private key signs once, to show that it is the private half of its public key. */
const PROBE = new TextEncoder().encode("tollgate: does this private key match its public key?");

/** Public keys of DPoP proofs, by algorithm and JWK text: a client's key signs many proofs. */
const proofKeys = new Map();

export const webCryptoHost = {
  /** Answers are Promises: api/later.js runs the core, then awaits the signatures it relied on. */
  sync: false,
  /**
   * A checker for one public JWK from the core's list, or null for an HMAC key (those stay in
   * the core): `ready()` imports it (a refused key is ERR_JWK_INVALID before any verdict),
   * `verify(alg, data, signature)` answers. A key is imported once per algorithm.
   */
  verifier(jwk) {
    if (jwk.kty === "oct") return null;
    const keys = new Map();
    const key = (alg) => {
      let imported = keys.get(alg);
      if (imported === undefined) keys.set(alg, (imported = subtle.importKey("jwk", material(jwk), algorithm(alg), false, ["verify"])));
      return imported;
    };
    return {
      ready: () => key(importedAs(jwk)),
      verify: async (alg, data, signature) => subtle.verify(algorithm(alg), await key(alg), signature, data),
    };
  },
  /**
   * A signing key for a private JWK the core has already validated, under the core's `alg`.
   * The core has no curve arithmetic here, so the check the pure-Rust build makes when it
   * builds a key is made here: the private half must be that of the public half given.
   */
  async importPrivateKey(jwk, alg) {
    const how = algorithm(alg);
    const { d, p, q, dp, dq, qi, ...pub } = material(jwk);
    const [key, publicKey] = await Promise.all([
      subtle.importKey("jwk", material(jwk), how, false, ["sign"]),
      subtle.importKey("jwk", pub, how, false, ["verify"]),
    ]);
    if (!(await subtle.verify(how, publicKey, await subtle.sign(how, key, PROBE), PROBE))) {
      throw new Error("the private key does not match its public key");
    }
    return key;
  },
  /** Signs; a copy of `data` is kept by WebCrypto, so the caller may reuse it. */
  async sign(alg, key, data) {
    return new Uint8Array(await subtle.sign(algorithm(alg), key, data));
  },
  /** Checks a signature by a key that came with the token (a DPoP proof's `jwk`). */
  async verifyJwk(alg, jwkText, data, signature) {
    const id = `${alg}\u0000${jwkText}`;
    let key = proofKeys.get(id);
    if (key === undefined) {
      key = subtle.importKey("jwk", material(JSON.parse(jwkText)), algorithm(alg), false, ["verify"]);
      if (proofKeys.size >= 256) proofKeys.clear();
      proofKeys.set(id, key);
    }
    return subtle.verify(algorithm(alg), await key, signature, data);
  },
  /** A new private JWK for an asymmetric `alg` (the core names and checks it), or null. */
  async generate(alg) {
    const how = algorithm(alg);
    if (how === null) return null;
    // RFC 7518 §3.3: 2048 bits at least; the size the pure-Rust provider generates too.
    const rsa = how.name.startsWith("RSA") ? { modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) } : {};
    const { privateKey } = await subtle.generateKey({ ...how, ...rsa }, true, ["sign", "verify"]);
    return subtle.exportKey("jwk", privateKey);
  },
};

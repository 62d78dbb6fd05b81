// The Node host provider: signature arithmetic on node:crypto (OpenSSL), synchronously. The
// Rust core has already parsed the token, chosen the key, checked the algorithm binding and
// the signature length; this only answers "does this signature verify?".
import { createPrivateKey, createPublicKey, sign, verify, constants } from "node:crypto";

const HASH = { 256: "sha256", 384: "sha384", 512: "sha512" };

/** node:crypto's (hash, key options) for a JWS algorithm. */
function params(alg, key) {
  const bits = alg.slice(2);
  switch (alg.slice(0, 2)) {
    case "RS":
      return [HASH[bits], key];
    case "PS":
      return [HASH[bits], { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(bits) / 8 }];
    case "ES":
      return [HASH[bits], { key, dsaEncoding: "ieee-p1363" }];
    case "Ed":
      return [null, key];
    default:
      return null;
  }
}

export const nodeHost = {
  /**
   * A checker `(alg, data, signature) => boolean` for one public JWK from the core's list, or
   * null for an HMAC key (those stay in the core). The KeyObject and node:crypto's options are
   * built once per key and algorithm, not per token.
   */
  verifier(jwk) {
    if (jwk.kty === "oct") return null;
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
    return { key: createPrivateKey({ key: jwk, format: "jwk" }), byAlg: new Map() };
  },
  /** Signs; `data` is a view valid only during the call. */
  sign(alg, privateKey, data) {
    let p = privateKey.byAlg.get(alg);
    if (p === undefined) privateKey.byAlg.set(alg, (p = params(alg, privateKey.key)));
    if (p === null) throw new Error(`cannot sign ${alg}`);
    return sign(p[0], data, p[1]);
  },
};

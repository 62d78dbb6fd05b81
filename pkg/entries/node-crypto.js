// The Node host provider: signature arithmetic on node:crypto (OpenSSL), synchronously. The
// Rust core has already parsed the token, chosen the key, checked the algorithm binding and
// the signature length; this only answers "does this signature verify?".
import { createPublicKey, verify, constants } from "node:crypto";

const HASH = { 256: "sha256", 384: "sha384", 512: "sha512" };

export const nodeHost = {
  /** A KeyObject for one public JWK from the core's list (HMAC keys stay in the core). */
  importKey(jwk) {
    return jwk.kty === "oct" ? null : createPublicKey({ key: jwk, format: "jwk" });
  },
  /** Verifies one signature; `data` and `signature` are views valid only during the call. */
  verify(alg, key, data, signature) {
    const bits = alg.slice(2);
    switch (alg.slice(0, 2)) {
      case "RS":
        return verify(HASH[bits], data, key, signature);
      case "PS":
        return verify(HASH[bits], data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(bits) / 8 }, signature);
      case "ES":
        return verify(HASH[bits], data, { key, dsaEncoding: "ieee-p1363" }, signature);
      case "Ed":
        return verify(null, data, key, signature);
      default:
        return false;
    }
  },
};

// New key pairs: by the host where it has the asymmetric arithmetic, named by the core.
import { TollgateError, rethrow } from "./errors.js";
import { ALGORITHMS, isString } from "./args.js";

/** `{ generateKeyPair, generateKeyPairSync }` for one core and host (see index.js). */
export function keyApi({ core, host, later, requireSync }) {
  /** The pair from a host's new private JWK, or the core's own (HMAC, or no host). */
  function keyPair(alg, generated) {
    try {
      if (generated) return JSON.parse(core.keyPairFromJwk(JSON.stringify(generated), alg));
      return JSON.parse(core.generateKeyPair(alg));
    } catch (err) {
      rethrow(err);
    }
  }

  // With a host, the host generates asymmetric keys (its build has no pure-Rust key generation;
  // for an HMAC name it answers null and the core generates); the core checks and names them
  // exactly as it names its own.
  const hostGenerates = (alg) => host !== undefined && ALGORITHMS.includes(alg);
  const cannotGenerate = (alg, err) => new TollgateError({ code: "ERR_JOSE_NOT_SUPPORTED", message: `this runtime cannot generate ${alg} keys: ${err.message}` });

  /** A Promise of a fresh key pair with an RFC 7638 `kid`: `{ privateJwk, publicJwk }` (publicJwk null for HMAC). */
  async function generateKeyPair(alg) {
    if (!isString(alg)) throw new TypeError("alg must be a string");
    if (!later) return generateKeyPairSync(alg);
    let generated = null;
    if (hostGenerates(alg)) {
      try {
        generated = await host.generate(alg);
      } catch (err) {
        throw cannotGenerate(alg, err);
      }
    }
    return keyPair(alg, generated);
  }

  /** `generateKeyPair` without a Promise, in Node and with "tollgate/sync". */
  function generateKeyPairSync(alg) {
    requireSync("generateKeyPairSync");
    if (!isString(alg)) throw new TypeError("alg must be a string");
    let generated = null;
    try {
      if (hostGenerates(alg)) generated = host.generate(alg);
    } catch (err) {
      throw cannotGenerate(alg, err);
    }
    return keyPair(alg, generated);
  }

  return { generateKeyPair, generateKeyPairSync };
}

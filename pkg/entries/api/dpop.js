// DPoP (RFC 9449): proofs checked for a request, and made with a client's key.
import { rethrow } from "./errors.js";
import { ALGORITHMS, checkKeyArgument, expect, isDate, isPlainObject, isSeconds, isString, isStringArray, isStringList, nowSeconds } from "./args.js";
import { answeredLater } from "./later.js";

/** `{ verifyDpopProof, createDpopProof }`; `signerEntry` from sign.js. */
export function dpopApi({ core, host, later }, signerEntry) {
  const isUrl = (v) => isString(v) || v instanceof URL;
  const isMethod = (v) => isString(v) && v.length > 0;

  /**
   * Verifies a DPoP proof (RFC 9449 §4.3) for a request: `{ jkt, jti, iat, alg, nonce?,
   * protectedHeader, payload }`, or throws TollgateError ERR_DPOP_PROOF_INVALID (`.claim`
   * names the member) or ERR_DPOP_NONCE_REQUIRED, as rejections. Replay is the caller's: remember each `jti`
   * (with `jkt`) for `maxAge` + 2 × `clockTolerance` seconds (a proof dated ahead stays valid
   * that long) and refuse one seen before.
   */
  async function verifyDpopProof(proof, options) {
    if (!isString(proof)) throw new TypeError("proof must be a string");
    if (!isPlainObject(options)) throw new TypeError("options must be an object");
    const DPOP_OPTIONS = ["method", "url", "accessToken", "nonce", "maxAge", "clockTolerance", "algorithms", "currentDate"];
    for (const name of Object.keys(options)) {
      if (!DPOP_OPTIONS.includes(name)) throw new TypeError(`unknown option ${JSON.stringify(name)}`);
    }
    const o = options;
    if (!isMethod(o.method)) throw new TypeError("options.method must be the request's HTTP method");
    if (!isUrl(o.url)) throw new TypeError("options.url must be the request's URL (string or URL)");
    expect(o.accessToken, "options.accessToken", isString, "a string");
    expect(o.nonce, "options.nonce", isStringList, "a string or an array of strings");
    expect(o.maxAge, "options.maxAge", isSeconds, "a number of seconds");
    expect(o.clockTolerance, "options.clockTolerance", isSeconds, "a number of seconds");
    expect(o.algorithms, "options.algorithms", isStringArray, "an array of algorithm names");
    expect(o.currentDate, "options.currentDate", isDate, "a valid Date");
    const request = { method: o.method, url: String(o.url instanceof URL ? o.url.href : o.url) };
    if (o.accessToken !== undefined) request.accessToken = o.accessToken;
    if (o.nonce !== undefined) request.nonces = [o.nonce].flat();
    if (o.maxAge !== undefined) request.maxAge = Math.floor(o.maxAge);
    if (o.clockTolerance !== undefined) request.clockTolerance = Math.floor(o.clockTolerance);
    if (o.algorithms !== undefined) request.algorithms = o.algorithms;
    const hostCheck = host && ((alg, jwk, data, signature) => host.verifyJwk(ALGORITHMS[alg], jwk, data, signature));
    const run = (check) => JSON.parse(core.verifyDpopProof(proof, JSON.stringify(request), nowSeconds(o.currentDate), check));
    try {
      if (!later) return run(hostCheck);
      return await answeredLater(run, (alg, jwk) => `${alg}\u0000${jwk}`, hostCheck);
    } catch (err) {
      rethrow(err);
    }
  }

  /**
   * A DPoP proof (RFC 9449 §4.2) for a request, signed with the client's private key (an
   * asymmetric JWK; `alg` binds an RSA key without one): header `typ`, `alg`, `jwk` (public
   * members); claims `jti`, `htm`, `htu` (the URL without query and fragment), `iat`, and
   * `ath` / `nonce` when `accessToken` / `nonce` are given.
   */
  async function createDpopProof(privateJwk, options) {
    checkKeyArgument(privateJwk);
    if (!isPlainObject(options)) throw new TypeError("options must be an object");
    for (const name of Object.keys(options)) {
      if (!["method", "url", "accessToken", "nonce", "alg", "currentDate"].includes(name)) throw new TypeError(`unknown option ${JSON.stringify(name)}`);
    }
    const o = options;
    if (!isMethod(o.method)) throw new TypeError("options.method must be the request's HTTP method");
    if (!isUrl(o.url)) throw new TypeError("options.url must be the request's URL (string or URL)");
    for (const name of ["accessToken", "nonce", "alg"]) expect(o[name], `options.${name}`, isString, "a string");
    expect(o.currentDate, "options.currentDate", isDate, "a valid Date");
    const url = String(o.url instanceof URL ? o.url.href : o.url);
    try {
      const entry = signerEntry(privateJwk, o.alg);
      const now = nowSeconds(o.currentDate);
      if (entry.sign === null) return entry.signer.dpopProof(o.method, url, o.accessToken, o.nonce, now);
      return await entry.sign(entry.signer.dpopProofInput(o.method, url, o.accessToken, o.nonce, now));
    } catch (err) {
      rethrow(err);
    }
  }

  return { verifyDpopProof, createDpopProof };
}

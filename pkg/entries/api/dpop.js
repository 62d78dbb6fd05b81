// DPoP (RFC 9449): proofs checked for a request, and made with a client's key.
import { rethrow } from "./errors.js";
import { ALGORITHMS, checkKeyArgument, checkOptionNames, expect, isDate, isSeconds, isString, isStringArray, isStringList, nowSeconds, SECONDS } from "./args.js";
import { answeredLater } from "./later.js";

const VERIFY_OPTIONS = ["method", "url", "accessToken", "nonce", "maxAge", "clockTolerance", "algorithms", "currentDate"];
const CREATE_OPTIONS = ["method", "url", "accessToken", "nonce", "alg", "currentDate"];
const isUrl = (v) => isString(v) || v instanceof URL;
const isMethod = (v) => isString(v) && v.length > 0;

/** The request a proof is for, from options both functions share: `{ method, url }`. */
function requestOf(o) {
  if (!isMethod(o.method)) throw new TypeError("options.method must be the request's HTTP method");
  if (!isUrl(o.url)) throw new TypeError("options.url must be the request's URL (string or URL)");
  expect(o.currentDate, "options.currentDate", isDate, "a valid Date");
  return { method: o.method, url: String(o.url instanceof URL ? o.url.href : o.url) };
}

/** `{ verifyDpopProof, verifyDpopProofSync, createDpopProof, createDpopProofSync }`; `signerEntry` from sign.js. */
export function dpopApi({ core, host, later, requireSync }, signerEntry) {
  /** Checks a proof (see verifyDpopProof): the result, or with a host that answers later a Promise of it. */
  function checking(proof, options) {
    if (!isString(proof)) throw new TypeError("proof must be a string");
    checkOptionNames(options, VERIFY_OPTIONS);
    const o = options;
    const request = requestOf(o);
    expect(o.accessToken, "options.accessToken", isString, "a string");
    expect(o.nonce, "options.nonce", isStringList, "a string or an array of strings");
    expect(o.maxAge, "options.maxAge", isSeconds, SECONDS);
    expect(o.clockTolerance, "options.clockTolerance", isSeconds, SECONDS);
    expect(o.algorithms, "options.algorithms", isStringArray, "an array of algorithm names");
    if (o.accessToken !== undefined) request.accessToken = o.accessToken;
    if (o.nonce !== undefined) request.nonces = [o.nonce].flat();
    if (o.maxAge !== undefined) request.maxAge = o.maxAge;
    if (o.clockTolerance !== undefined) request.clockTolerance = o.clockTolerance;
    if (o.algorithms !== undefined) request.algorithms = o.algorithms;
    const hostCheck = host && ((alg, jwk, data, signature) => host.verifyJwk(ALGORITHMS[alg], jwk, data, signature));
    const run = (check) => JSON.parse(core.verifyDpopProof(proof, JSON.stringify(request), nowSeconds(o.currentDate), check));
    try {
      if (!later) return run(hostCheck);
      return answeredLater(run, (alg, jwk) => `${alg}\u0000${jwk}`, hostCheck).catch(rethrow);
    } catch (err) {
      rethrow(err);
    }
  }

  /**
   * Verifies a DPoP proof (RFC 9449 §4.3) for a request: `{ jkt, jti, iat, alg, nonce?,
   * protectedHeader, payload }`, or throws TollgateError ERR_DPOP_PROOF_INVALID (`.claim`
   * names the member) or ERR_DPOP_NONCE_REQUIRED, as rejections. Replay is the caller's: remember each `jti`
   * (with `jkt`) for `maxAge` + 2 × `clockTolerance` seconds (a proof dated ahead stays valid
   * that long) and refuse one seen before.
   */
  async function verifyDpopProof(proof, options) {
    return checking(proof, options);
  }

  /** `verifyDpopProof` without a Promise, in Node and with "tollgate/sync". */
  function verifyDpopProofSync(proof, options) {
    requireSync("verifyDpopProofSync");
    return checking(proof, options);
  }

  /** Makes a proof (see createDpopProof): the proof, or with a host that answers later a Promise of it. */
  function making(privateJwk, options) {
    checkKeyArgument(privateJwk);
    checkOptionNames(options, CREATE_OPTIONS);
    const o = options;
    const { method, url } = requestOf(o);
    for (const name of ["accessToken", "nonce", "alg"]) expect(o[name], `options.${name}`, isString, "a string");
    try {
      const entry = signerEntry(privateJwk, o.alg);
      const now = nowSeconds(o.currentDate);
      if (entry.sign === null) return entry.signer.dpopProof(method, url, o.accessToken, o.nonce, now);
      return entry.sign(entry.signer.dpopProofInput(method, url, o.accessToken, o.nonce, now)).catch(rethrow);
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
    return making(privateJwk, options);
  }

  /** `createDpopProof` without a Promise, in Node and with "tollgate/sync". */
  function createDpopProofSync(privateJwk, options) {
    requireSync("createDpopProofSync");
    return making(privateJwk, options);
  }

  return { verifyDpopProof, verifyDpopProofSync, createDpopProof, createDpopProofSync };
}

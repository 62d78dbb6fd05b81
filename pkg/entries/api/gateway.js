// Behind the Tollgate gateway: its origin assertion checked, and its refusals rendered.
import { TollgateError, rethrow } from "./errors.js";
import { checkOptionNames, expect, isDate, isPlainObject, isSeconds, isString, isStringArray, SECONDS } from "./args.js";

const ASSERTION_OPTIONS = ["issuer", "audience", "jwks", "clockTolerance", "currentDate"];
const isName = (v) => isString(v) && v.length !== 0;

/** `{ verifyAssertion, refusal }`; `verify` from verify.js. */
export function gatewayApi({ core }, verify) {
  /**
   * Verifies the gateway's identity assertion on a request that reached the origin
   * (`X-Tollgate-Assertion`, src/assertion.rs): signature by the deployment's keys (`jwks`:
   * its JWK Set, or `createRemoteJWKSet` of its /.well-known/jwks.json), `iss` the deployment,
   * `aud` this origin, fresh (one minute), and made for this request's method and URL. Returns
   * a Promise of `{ payload, protectedHeader }`; rejects with a TollgateError
   * (ERR_TOKEN_MISSING without the header; ERR_JWT_CLAIM_VALIDATION_FAILED with `.claim` `htm`
   * or `htu` for another request; the verify codes otherwise).
   */
  async function verifyAssertion(request, options) {
    if (!isPlainObject(options)) throw new TypeError("options must be an object: { issuer, audience, jwks }");
    checkOptionNames(options, ASSERTION_OPTIONS);
    const { issuer, audience, jwks, clockTolerance = 5, currentDate } = options;
    if (issuer === undefined || audience === undefined || jwks === undefined) throw new TypeError("options.issuer, options.audience and options.jwks are required");
    expect(issuer, "options.issuer", isName, "a non-empty string");
    expect(audience, "options.audience", isName, "a non-empty string");
    expect(clockTolerance, "options.clockTolerance", isSeconds, SECONDS);
    expect(currentDate, "options.currentDate", isDate, "a valid Date");
    const { method, url, assertion } = requestParts(request);
    if (!assertion) throw new TollgateError({ code: "ERR_TOKEN_MISSING", message: "the request has no X-Tollgate-Assertion header" });
    // One minute from its `iat` (src/assertion.rs, LIFETIME), whatever its `exp` says.
    const result = await verify(assertion, jwks, { issuer, audience, typ: core.assertionTyp(), requiredClaims: ["htm", "htu"], maxTokenAge: 60, clockTolerance, ...(currentDate !== undefined ? { currentDate } : {}) });
    try {
      core.checkAssertionRequest(JSON.stringify(result.payload), method, url);
    } catch (err) {
      rethrow(err);
    }
    return result;
  }

  /** Method, absolute URL and assertion of a fetch Request, or of a Node/Express request. */
  function requestParts(request) {
    if (typeof Request !== "undefined" && request instanceof Request) {
      return { method: request.method, url: request.url, assertion: request.headers.get("x-tollgate-assertion") };
    }
    if (request && typeof request.method === "string" && request.headers) {
      const headers = request.headers;
      const get = (name) => (typeof headers.get === "function" ? headers.get(name) : headers[name]) ?? undefined;
      const url = /^https?:\/\//.test(request.url ?? "") ? request.url : `${request.protocol ?? (request.socket?.encrypted ? "https" : "http")}://${get("host")}${request.originalUrl ?? request.url}`;
      const value = get("x-tollgate-assertion");
      return { method: request.method, url, assertion: Array.isArray(value) ? undefined : value };
    }
    throw new TypeError("request must be a fetch Request or a Node request");
  }

  /**
   * The gateway's answer to a refusal (RFC 6750 §3): `{ status, wwwAuthenticate, body }` for a
   * TollgateError, with the scopes a route needs for ERR_INSUFFICIENT_SCOPE. The middleware
   * answers with it, so an origin refuses exactly as the gateway does.
   */
  function refusal(err, requiredScopes = []) {
    if (!(err instanceof TollgateError)) throw new TypeError("refusal takes a TollgateError");
    if (!isStringArray(requiredScopes)) throw new TypeError("requiredScopes must be an array of strings");
    return JSON.parse(core.refusal(err.code, err.message, err.claim ?? undefined, JSON.stringify(requiredScopes)));
  }

  return { verifyAssertion, refusal };
}

// Tollgate's checks for a fetch-style handler (Deno.serve, Bun.serve, Cloudflare Workers,
// Next.js middleware, Hono): the caller's identity, or the gateway's own refusal as a ready
// Response (same status, RFC 6750 challenge and error code).
//
// Two sources, each turned on by its option:
// - `assertion: { audience }`: the gateway's X-Tollgate-Assertion (an origin behind the
//   gateway; a request that did not come through it has none and is refused);
// - `token: { audience?, typ? }`: a Tollgate access token in `Authorization: Bearer`
//   (a service called directly). DPoP-bound tokens are refused here (RFC 9449 §7.2): send them
//   through the gateway, which checks their proofs.
import { verify, verifyAssertion, refusal, TollgateError } from "tollgate";

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

function header(request, name) {
  const headers = request.headers;
  const value = typeof headers.get === "function" ? headers.get(name) : headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(", ") : (value ?? null);
}

const OPTIONS = ["issuer", "jwks", "assertion", "token", "scopes"];
const ASSERTION = ["audience"];
const TOKEN = ["audience", "typ"];

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const isName = (v) => typeof v === "string" && v.length > 0;
const isNames = (v) => Array.isArray(v) && v.length > 0 && v.every(isName);

/** Refuses a name not in `allowed`: a misspelt option would turn its check off unseen. */
function knownNames(object, allowed, where) {
  for (const name of Object.keys(object)) {
    if (!allowed.includes(name)) throw new TypeError(`unknown option ${JSON.stringify(`${where}${name}`)} (known: ${allowed.join(", ")})`);
  }
}

/**
 * Checks the middleware's options, every name and value; throws a TypeError for the first
 * wrong one. An empty string or list is refused wherever it would check nothing (an audience
 * of "", scopes: []): leave the option out to mean "none".
 */
export function checkOptions(options) {
  if (!isObject(options)) throw new TypeError("options must be an object: { issuer, jwks, assertion?, token?, scopes? }");
  knownNames(options, OPTIONS, "");
  if (!isName(options.issuer)) throw new TypeError("options.issuer must be the Tollgate deployment's issuer (a non-empty string)");
  if (options.jwks === undefined) throw new TypeError("options.jwks is required (a JWK Set or createRemoteJWKSet(issuer + '/.well-known/jwks.json'))");
  const { assertion, token, scopes } = options;
  if (assertion === undefined && token === undefined) throw new TypeError("turn on at least one source: options.assertion and/or options.token");
  if (assertion !== undefined) {
    if (!isObject(assertion)) throw new TypeError("options.assertion must be an object: { audience }");
    knownNames(assertion, ASSERTION, "assertion.");
    if (!isName(assertion.audience)) throw new TypeError("options.assertion.audience must be this origin as the gateway names it (a non-empty string)");
  }
  if (token !== undefined) {
    if (!isObject(token)) throw new TypeError("options.token must be an object: { audience?, typ? } ({} for any audience)");
    knownNames(token, TOKEN, "token.");
    if (token.audience !== undefined && !isName(token.audience) && !isNames(token.audience)) {
      throw new TypeError("options.token.audience must be a non-empty string or a non-empty array of them (leave it out to accept any audience)");
    }
    if (token.typ !== undefined && !isName(token.typ)) throw new TypeError("options.token.typ must be a non-empty string");
  }
  if (scopes !== undefined && !isNames(scopes)) throw new TypeError("options.scopes must be a non-empty array of scope names (leave it out to require none)");
}

const missing = (message) => new TollgateError({ code: "ERR_TOKEN_MISSING", message });

/**
 * The identity a request proves, or throws a TollgateError. `request`: a fetch Request or a
 * Node/Express request. Returns `{ sub, scope, scopes, clientId, issuer, tokenType, via, payload }`.
 */
export async function identify(request, options) {
  checkOptions(options);
  let via, payload;
  const assertion = options.assertion && header(request, "x-tollgate-assertion");
  const authorization = options.token && header(request, "authorization");
  if (assertion) {
    ({ payload } = await verifyAssertion(request, { issuer: options.issuer, audience: options.assertion.audience, jwks: options.jwks }));
    via = "assertion";
  } else if (authorization) {
    const match = BEARER.exec(authorization);
    if (!match) throw new TollgateError({ code: "ERR_AUTHORIZATION_MALFORMED", message: "the Authorization header must be Bearer <token>" });
    ({ payload } = await verify(match[1], options.jwks, {
      issuer: options.issuer,
      ...(options.token.audience !== undefined ? { audience: options.token.audience } : {}),
      typ: options.token.typ ?? "at+jwt",
      requiredClaims: ["sub"],
    }));
    if (payload.cnf !== undefined) {
      throw new TollgateError({ code: "ERR_DPOP_BINDING_MISMATCH", message: "a sender-constrained token (cnf) needs its proof: send it through the gateway" });
    }
    via = "token";
  } else {
    throw missing(options.assertion && !options.token ? "the request did not come through the Tollgate gateway (no X-Tollgate-Assertion)" : "a bearer token is required");
  }
  const scopes = typeof payload.scope === "string" ? payload.scope.split(" ").filter(Boolean) : [];
  const lacking = (options.scopes ?? []).filter((s) => !scopes.includes(s));
  if (lacking.length > 0) {
    throw new TollgateError({ code: "ERR_INSUFFICIENT_SCOPE", message: `the token lacks scope ${lacking.join(" ")}` });
  }
  return {
    sub: payload.sub,
    scope: payload.scope ?? "",
    scopes,
    clientId: payload.client_id,
    issuer: via === "assertion" ? payload.token_iss : payload.iss,
    tokenType: via === "assertion" ? payload.token_type : "jwt",
    via,
    payload,
  };
}

/** The refusal of `err` as the gateway writes it: `{ status, headers, body }`. */
export function refusalOf(err, options) {
  const { status, wwwAuthenticate, body } = refusal(err, options?.scopes ?? []);
  const headers = { "content-type": "application/json", "cache-control": "no-store" };
  if (wwwAuthenticate) headers["www-authenticate"] = wwwAuthenticate;
  return { status, headers, body };
}

/**
 * `authenticate(request, options)`: the identity, or a ready 401/403 Response.
 *
 *     const auth = await authenticate(request, { issuer, jwks, assertion: { audience } });
 *     if (auth instanceof Response) return auth;
 */
export async function authenticate(request, options) {
  try {
    return await identify(request, options);
  } catch (err) {
    if (!(err instanceof TollgateError)) throw err;
    const { status, headers, body } = refusalOf(err, options);
    return new Response(JSON.stringify(body), { status, headers });
  }
}

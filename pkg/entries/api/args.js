// JavaScript argument checks (TypeError) and their translation to the JSON the core reads; no
// token or key rule lives here.
/**
 * An object literal (or `JSON.parse`'s, or `Object.create(null)`), from this realm or another:
 * its prototype is null or a prototype that has none. A Map, a URLSearchParams, a Date or a
 * class instance is not one: JSON would write it as `{}` or as something else than its entries.
 */
export const isPlainObject = (v) => {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === null || Object.getPrototypeOf(proto) === null;
};

export function expect(value, name, check, what) {
  if (value !== undefined && !check(value)) throw new TypeError(`${name} must be ${what}`);
}

export const isString = (v) => typeof v === "string";
export const isStringList = (v) => isString(v) || (Array.isArray(v) && v.every(isString));
/** Whole seconds, as every policy duration is read (no rounding: 0.9 is not 0). */
export const isSeconds = (v) => Number.isSafeInteger(v) && v >= 0;
/** What [`isSeconds`] takes, said in its TypeError: beyond 2^53 - 1 a number no longer holds
 * every whole value (1e300 is not a count of seconds anyone wrote). */
export const SECONDS = "a whole number of seconds, at most Number.MAX_SAFE_INTEGER";
export const isMilliseconds = (v) => typeof v === "number" && Number.isFinite(v) && v >= 0;
export const isStringArray = (v) => Array.isArray(v) && v.every(isString);
export const isDate = (v) => v instanceof Date && !Number.isNaN(v.getTime());

export const VERIFY_OPTIONS = ["algorithms", "issuer", "audience", "clockTolerance", "maxTokenAge", "typ", "requiredClaims", "currentDate", "maxTokenBytes", "requireExp"];

/** `options` must be a plain object whose every name is in `allowed`: a misspelt option is an
 * error, never silently ignored. */
export function checkOptionNames(options, allowed) {
  if (!isPlainObject(options)) throw new TypeError("options must be an object");
  for (const name of Object.keys(options)) {
    if (!allowed.includes(name)) throw new TypeError(`unknown option ${JSON.stringify(name)}`);
  }
}

export function policyJson(options) {
  checkOptionNames(options, VERIFY_OPTIONS);
  const o = options;
  expect(o.algorithms, "options.algorithms", isStringArray, "an array of algorithm names");
  expect(o.issuer, "options.issuer", isStringList, "a string or an array of strings");
  expect(o.audience, "options.audience", isStringList, "a string or an array of strings");
  expect(o.clockTolerance, "options.clockTolerance", isSeconds, SECONDS);
  expect(o.maxTokenAge, "options.maxTokenAge", isSeconds, SECONDS);
  expect(o.typ, "options.typ", isString, "a string");
  expect(o.requiredClaims, "options.requiredClaims", isStringArray, "an array of strings");
  expect(o.currentDate, "options.currentDate", isDate, "a valid Date");
  expect(o.maxTokenBytes, "options.maxTokenBytes", (v) => Number.isInteger(v) && v > 0, "a positive integer");
  expect(o.requireExp, "options.requireExp", (v) => typeof v === "boolean", "a boolean");
  const policy = {};
  if (o.algorithms !== undefined) policy.algorithms = o.algorithms;
  // Lists as written, an empty one included: the core refuses what it cannot check.
  if (o.issuer !== undefined) policy.issuers = [o.issuer].flat();
  if (o.audience !== undefined) policy.audiences = [o.audience].flat();
  if (o.clockTolerance !== undefined) policy.leeway = o.clockTolerance;
  if (o.maxTokenAge !== undefined) policy.maxTokenAge = o.maxTokenAge;
  if (o.typ !== undefined) policy.typ = o.typ;
  if (o.requiredClaims !== undefined) policy.requiredClaims = o.requiredClaims;
  if (o.maxTokenBytes !== undefined) policy.maxTokenBytes = o.maxTokenBytes;
  if (o.requireExp !== undefined) policy.requireExp = o.requireExp;
  return JSON.stringify(policy);
}

export const encoder = new TextEncoder();
export const decoder = new TextDecoder();

export const nowSeconds = (date) => Math.floor((date ? date.getTime() : Date.now()) / 1000);

export function keysJson(jwks, name) {
  if (isString(jwks)) return jwks;
  if (isPlainObject(jwks)) return JSON.stringify(jwks);
  throw new TypeError(`${name} must be a JWK Set (or JWK) object or its JSON text`);
}

export function checkToken(token) {
  if (!isString(token)) throw new TypeError("token must be a string");
}

export const ALGORITHMS = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];


export function checkKeyArgument(privateJwk) {
  if (!isPlainObject(privateJwk) && !isString(privateJwk)) throw new TypeError("privateJwk must be a JWK object or its JSON text");
}

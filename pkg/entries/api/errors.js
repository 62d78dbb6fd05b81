// The package's errors: TollgateError, and the one place the core's error objects and a host's
// key refusals become one.
/**
 * Marks a TollgateError across copies of the package: an application that both imports and
 * requires "tollgate" gets two copies, and `err instanceof TollgateError` must hold whichever
 * copy threw it.
 */
const BRAND = Symbol.for("tollgate.TollgateError");

/** An error from Tollgate: `.code` is one of the stable codes, `.claim` names a failed claim. */
export class TollgateError extends Error {
  /** `{ code, message, claim? }`, as the core reports a refusal. */
  constructor(init) {
    if (init === null || typeof init !== "object" || typeof init.code !== "string") {
      throw new TypeError("TollgateError takes { code, message, claim? } with code a string");
    }
    const { code, message, claim } = init;
    super(message);
    this.name = "TollgateError";
    this.code = code;
    if (claim !== undefined) this.claim = claim;
  }
  get [BRAND]() {
    return true;
  }
  static [Symbol.hasInstance](value) {
    return value !== null && typeof value === "object" && value[BRAND] === true;
  }
}

export function rethrow(err) {
  if (err && typeof err === "object" && !(err instanceof Error) && typeof err.code === "string") {
    throw new TollgateError(err);
  }
  throw err;
}

/**
 * A host's refusal to import a key the core accepted (a point off its curve, a private half
 * that does not match): the same ERR_JWK_INVALID the pure-Rust build gives when it builds the
 * key.
 */
export const invalidKey = (err) => new TollgateError({ code: "ERR_JWK_INVALID", message: `invalid key: ${err.message}` });

export function hostImport(importKey) {
  try {
    return importKey();
  } catch (err) {
    throw invalidKey(err);
  }
}


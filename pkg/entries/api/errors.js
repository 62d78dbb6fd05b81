// The package's errors: TollgateError, and the one place the core's error objects and a host's
// key refusals become one.
/** An error from Tollgate: `.code` is one of the stable codes, `.claim` names a failed claim. */
export class TollgateError extends Error {
  constructor({ code, message, claim }) {
    super(message);
    this.name = "TollgateError";
    this.code = code;
    if (claim !== undefined) this.claim = claim;
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


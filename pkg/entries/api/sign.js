// Signing: Signer (key and options checked once), the one-shot sign, and the signing entries
// both share, kept by JWK object and by JWK text.
import { TollgateError, rethrow, hostImport, invalidKey } from "./errors.js";
import { rsaMismatch } from "./rsa.js";
import { ALGORITHMS, checkKeyArgument, checkOptionNames, encoder, expect, isDate, isPlainObject, isSeconds, isString, isStringList, keysJson, nowSeconds } from "./args.js";

/** `{ Signer, sign, signSync, signerEntry }` for one core and host (see index.js). */
export function signApi({ core, host, later, requireSync }) {
  const SIGN_OPTIONS = ["alg", "kid", "typ", "expiresIn", "notBefore", "issuer", "audience", "subject", "jti", "currentDate"];

  /** Checks sign options: `{ alg, currentDate, text }`, `text` the rest as JSON for the core. */
  function signOptions(options, allowed = SIGN_OPTIONS) {
    checkOptionNames(options, allowed);
    for (const name of ["alg", "kid", "issuer", "subject", "jti"]) expect(options[name], `options.${name}`, isString, "a string");
    // verify refuses an empty `typ` (there is nothing to compare), so none is written.
    expect(options.typ, "options.typ", (v) => isString(v) && v.length !== 0, "a non-empty string");
    expect(options.audience, "options.audience", (v) => isStringList(v) && v.length !== 0, "a string or a non-empty array of strings");
    // Whole numbers a JSON reader holds exactly (up to 2^53 - 1), as every NumericDate is read.
    expect(options.expiresIn, "options.expiresIn", (v) => isSeconds(v) && v > 0, "a positive whole number of seconds, at most Number.MAX_SAFE_INTEGER");
    expect(options.notBefore, "options.notBefore", Number.isSafeInteger, "a NumericDate (whole seconds)");
    expect(options.currentDate, "options.currentDate", isDate, "a valid Date");
    const { currentDate, alg, ...rest } = options;
    return { alg, currentDate, text: JSON.stringify(rest) };
  }

  /** The claims are the payload's own members, so only a plain object is one (a Map's entries
   * are not members: it would sign as `{}`). */
  function checkPayload(payload) {
    if (!isPlainObject(payload)) throw new TypeError("payload must be a plain object of claims (not a Map, URLSearchParams or class instance)");
  }

  /**
   * `{ signer, sign, templates }` for a private JWK's text: the core signer, with the key parsed
   * and checked (and by a synchronous host, imported) once. `sign(input)`, for a host that
   * answers later and an asymmetric key, signs a signing input from the core: the key is
   * imported at its first use.
   */
  function newEntry(jwkText, alg) {
    const entry = { signer: null, sign: null, templates: new Map() };
    // Text that is not JSON goes to the core, which refuses it as ERR_JWK_INVALID.
    const jwk = parsedOrNull(jwkText);
    if (!host || jwk === null || jwk.kty === "oct") {
      entry.signer = new core.Signer(jwkText, alg);
      return entry;
    }
    const mismatch = rsaMismatch(jwk);
    if (mismatch !== null) {
      new core.Signer(jwkText, alg); // the core's own refusals (a weak key, a wrong alg) first
      throw new TollgateError({ code: "ERR_JWK_INVALID", message: `invalid key: the RSA private key's members do not fit together (${mismatch})` });
    }
    if (!later) {
      let privateKey;
      const sign = (algIndex, data) => host.sign(ALGORITHMS[algIndex], privateKey, data);
      entry.signer = new core.Signer(jwkText, alg, sign);
      privateKey = hostImport(() => host.importPrivateKey(jwk));
    } else {
      const signer = (entry.signer = new core.Signer(jwkText, alg));
      let privateKey = null;
      entry.sign = async (input) => {
        privateKey ??= host.importPrivateKey(jwk, signer.alg).catch((err) => {
          throw invalidKey(err);
        });
        const key = await privateKey;
        let signature;
        try {
          signature = await host.sign(signer.alg, key, encoder.encode(input));
        } catch {
          // The same refusal as a synchronous host's failure (js.rs, HostSigner).
          throw new TollgateError({ code: "ERR_JWK_INVALID", message: "invalid key: the host could not sign with this key" });
        }
        return signer.attachSignature(input, signature);
      };
    }
    return entry;
  }

  function parsedOrNull(text) {
    try {
      return JSON.parse(text);
    } catch {
      return null;
    }
  }

  /** Signs `payload` (JSON text) with an entry: the token, or a Promise of it (entry.sign). */
  function signWith(entry, template, payload, now) {
    if (entry.sign === null) return entry.signer.sign(template, payload, now);
    return entry.sign(entry.signer.signingInput(template, payload, now));
  }

  // Signers by JWK object, so that signing with the same object does not serialise and
  // re-check the key every time (jose keeps its imported keys by JWK object the same way).
  // The members that make the key are compared on every use: a changed object is a new key.
  const byObject = new WeakMap();
  // Arrays are compared by content: changing one in place changes the key too.
  const listText = (v) => (Array.isArray(v) ? JSON.stringify(v) : v);
  const sameKey = (jwk, seen) =>
    jwk.d === seen.d && jwk.k === seen.k && jwk.kty === seen.kty && jwk.alg === seen.alg &&
    jwk.kid === seen.kid && jwk.n === seen.n && jwk.e === seen.e && jwk.x === seen.x &&
    jwk.y === seen.y && jwk.crv === seen.crv && jwk.use === seen.use && jwk.p === seen.p &&
    jwk.q === seen.q && jwk.dp === seen.dp && jwk.dq === seen.dq && jwk.qi === seen.qi &&
    listText(jwk.key_ops) === seen.key_ops && listText(jwk.oth) === seen.oth;
  const snapshot = (jwk) => ({ ...jwk, key_ops: listText(jwk.key_ops), oth: listText(jwk.oth) });
  // Signers by JWK text: bounded, only this process's memory.
  const byText = new Map();

  /** The signing entry (see newEntry) for a private JWK (object or JSON text) and an optional alg. */
  function signerEntry(privateJwk, alg) {
    if (isString(privateJwk)) {
      const cacheKey = `${alg ?? ""}\u0000${privateJwk}`;
      let entry = byText.get(cacheKey);
      if (!entry) {
        entry = newEntry(privateJwk, alg);
        if (byText.size >= 64) byText.clear();
        byText.set(cacheKey, entry);
      }
      return entry;
    }
    const entries = byObject.get(privateJwk);
    const hit = entries?.find((e) => e.alg === alg && sameKey(privateJwk, e.seen));
    if (hit) return hit;
    const entry = { ...newEntry(keysJson(privateJwk, "privateJwk"), alg), alg, seen: snapshot(privateJwk) };
    byObject.set(privateJwk, [entry, ...(entries ?? []).filter((e) => e.alg !== alg).slice(0, 3)]);
    return entry;
  }

  /** The entry's template for these options (JSON text), prepared once. */
  function templateFor(entry, optionsText) {
    let template = entry.templates.get(optionsText);
    if (!template) {
      template = entry.signer.prepare(optionsText);
      if (entry.templates.size >= 16) entry.templates.clear();
      entry.templates.set(optionsText, template);
    }
    return template;
  }

  /** Signs a JWT with the payload's claims as written; options fill only absent claims (`iat`
   * now, `exp` now + expiresIn or 900 s, a random `jti`); both for one claim is an error.
   * The token, or with a host that answers later a Promise of it. */
  function signing(payload, privateJwk, options) {
    checkPayload(payload);
    checkKeyArgument(privateJwk);
    const { alg, currentDate, text } = signOptions(options);
    try {
      const entry = signerEntry(privateJwk, alg);
      return signWith(entry, templateFor(entry, text), JSON.stringify(payload), nowSeconds(currentDate));
    } catch (err) {
      rethrow(err);
    }
  }

  /** A Promise of the signed token (see `signing`). */
  async function sign(payload, privateJwk, options = {}) {
    try {
      return await signing(payload, privateJwk, options);
    } catch (err) {
      rethrow(err);
    }
  }

  /** `sign` without a Promise, in Node and with "tollgate/sync". */
  function signSync(payload, privateJwk, options = {}) {
    requireSync("signSync");
    return signing(payload, privateJwk, options);
  }

  /**
   * A private key and sign options checked once, for signing many tokens: `sign(payload)`.
   * `jti` is not an option here (every token would share it): put it in the payload.
   */
  class Signer {
    #entry;
    #template;
    #date;
    constructor(privateJwk, options = {}) {
      checkKeyArgument(privateJwk);
      const { alg, currentDate, text } = signOptions(options, SIGN_OPTIONS.filter((name) => name !== "jti"));
      this.#date = currentDate;
      try {
        this.#entry = signerEntry(privateJwk, alg);
        this.#template = this.#entry.signer.prepare(text);
      } catch (err) {
        rethrow(err);
      }
    }
    /** A Promise of the token for `payload` (its claims kept as written). */
    async sign(payload) {
      try {
        return await this.#signNow(payload);
      } catch (err) {
        rethrow(err);
      }
    }
    /** `sign` without a Promise, in Node and with "tollgate/sync". */
    signSync(payload) {
      requireSync("Signer#signSync");
      return this.#signNow(payload);
    }
    #signNow(payload) {
      checkPayload(payload);
      try {
        return signWith(this.#entry, this.#template, JSON.stringify(payload), nowSeconds(this.#date));
      } catch (err) {
        rethrow(err);
      }
    }
  }

  return { Signer, sign, signSync, signerEntry };
}

// Verifying: Verifier (keys and options checked once), remote key sets with the gateway's
// caching rule, and the one-shot verify. Tokens cross into wasm through a shared buffer.
import { TollgateError, rethrow, hostImport, invalidKey } from "./errors.js";
import { ALGORITHMS, VERIFY_OPTIONS, checkOptionNames, checkToken, encoder, decoder, expect, isMilliseconds, keysJson, nowSeconds, policyJson } from "./args.js";
import { answeredLater } from "./later.js";

/** What `verifyInput` returns for a refused token; `core.takeError()` then has the error. */
const REFUSED = 0xffff_ffff;

/**
 * Marks a remote key set across copies of the package: an application that both imports and
 * requires "tollgate" (or loads two entries) gets two copies, and a set made by one must still
 * be a set, not a malformed JWK, to the other.
 */
const REMOTE_JWKS = Symbol.for("tollgate.RemoteJWKSet");
export const isRemote = (jwks) => jwks !== null && typeof jwks === "object" && jwks[REMOTE_JWKS] === true;

/** `{ Verifier, verify, verifySync, decode, createRemoteJWKSet }` for one core and host (see index.js). */
export function verifyApi({ core, host, later, requireSync }) {
  // Tokens are written straight into a buffer in wasm memory (core.inputBuffer): no
  // allocation per call. The view is re-made when the memory grows (the old one is detached).
  const memory = core.wasmMemory();
  const [inputAt, inputBytes] = core.inputBuffer();
  // A host may read text out of memory faster than TextDecoder (Node's Buffer does).
  const text = host?.text ?? { view: (buffer, at, bytes) => new Uint8Array(buffer, at, bytes), read: (view, length) => decoder.decode(view.subarray(0, length)) };
  let input = text.view(memory.buffer, inputAt, inputBytes);
  const inputView = () => {
    if (input.byteLength === 0) input = text.view(memory.buffer, inputAt, inputBytes);
    return input;
  };
  /** Writes `token` into the input buffer: its length there, or -1 when it does not fit. */
  const writeInput = (token) => {
    const { read, written } = encoder.encodeInto(token, inputView());
    return read === token.length ? written : -1;
  };
  /** The answer `verifyInput` left in the input buffer (memory may have grown meanwhile). */
  const readInput = (length) => text.read(inputView(), length);
  /** True while a verify uses the input buffer: a nested verify (from a host callback) must
   * not overwrite it, so it takes the string path. */
  let inputBusy = false;

  class Verifier {
    #inner;
    #date;
    #headerText = null;
    #header = null;
    /** The host's checker for each key, in the core's key order. */
    #slots = [];
    /** With a host that answers later: the check of the running verify, and the imports. */
    #check = null;
    #ready = null;
    /** Parses and checks keys and options once. */
    constructor(jwks, options = {}) {
      const text = keysJson(jwks, "jwks");
      const policy = policyJson(options);
      this.#date = options.currentDate;
      try {
        if (host) {
          const slots = this.#slots;
          const check = later
            ? (alg, key, data, signature) => this.#check(alg, key, data, signature)
            : (alg, key, data, signature) => slots[key](ALGORITHMS[alg], data, signature);
          this.#inner = new core.Verifier(text, policy, check);
          for (const jwk of JSON.parse(this.#inner.keys())) slots.push(later ? host.verifier(jwk) : hostImport(() => host.verifier(jwk)));
        } else {
          this.#inner = new core.Verifier(text, policy);
        }
      } catch (err) {
        rethrow(err);
      }
    }
    /** Verifies signature and claims: a Promise of `{ payload, protectedHeader }`; rejects with a TollgateError. */
    async verify(token) {
      if (!later) return this.#verifyNow(token);
      checkToken(token);
      // Every key is imported before the first verdict, so a key the host refuses is
      // ERR_JWK_INVALID whichever token comes, as it is when Node's host builds the Verifier.
      await (this.#ready ??= Promise.all(this.#slots.map((slot) => slot?.ready())).catch((err) => {
        throw invalidKey(err);
      }));
      return answeredLater(
        (check) => {
          this.#check = check;
          try {
            return this.#verifyNow(token);
          } finally {
            this.#check = null;
          }
        },
        (alg, key) => `${key} ${alg}`,
        (alg, key, data, signature) => this.#slots[key].verify(ALGORITHMS[alg], data, signature),
      );
    }
    /** `verify` without a Promise, in Node and with "tollgate/sync": `{ payload, protectedHeader }`, or throws. */
    verifySync(token) {
      requireSync("Verifier#verifySync");
      return this.#verifyNow(token);
    }
    #verifyNow(token) {
      checkToken(token);
      // Tokens from one issuer and key share their header text, so the last header seen is
      // kept (its base64url text and the object) and only the payload crosses back. The core
      // still decodes and checks every header; this only saves building the same object again.
      const seen = this.#headerText;
      const known = seen !== null && token.startsWith(seen) && token.charCodeAt(seen.length) === 46; // "."
      let out;
      try {
        const now = nowSeconds(this.#date);
        // A string argument would be copied character by character; tokens too long for the
        // input buffer take that path.
        const written = inputBusy ? -1 : writeInput(token);
        if (written >= 0) {
          let length;
          inputBusy = true;
          try {
            length = this.#inner.verifyInput(written, now, !known);
          } finally {
            inputBusy = false;
          }
          if (length === REFUSED) throw core.takeError();
          out = readInput(length);
        } else {
          out = this.#inner.verify(token, now, !known);
        }
      } catch (err) {
        rethrow(err);
      }
      if (known) return { payload: JSON.parse(out), protectedHeader: { ...this.#header } };
      const result = JSON.parse(out);
      this.#remember(token.slice(0, token.indexOf(".")), result.protectedHeader);
      return result;
    }
    /** Keeps a header whose members are all primitives: a shallow copy is then a full one. */
    #remember(segment, header) {
      const flat = Object.values(header).every((v) => v === null || typeof v !== "object");
      this.#headerText = flat ? segment : null;
      this.#header = flat ? { ...header } : null;
    }
  }

  const REMOTE_OPTIONS = ["cooldown", "maxAge", "timeout", "fetch"];
  // jwks_cache::Action, as the core numbers it.
  const USE_AND_REFRESH = 1;
  const FETCH = 2;
  const WAIT = 3;
  const UNAVAILABLE = 4;

  class RemoteJWKSet {
    get [REMOTE_JWKS]() {
      return true;
    }
    #url; #fetch; #cooldown; #maxAge; #timeout;
    #jwks = null; #ignored = []; #fetchedAt = -Infinity; #lastAttempt = -Infinity; #lastError = null; #inflight = null; #inflightSince = -Infinity; #verifiers = new Map();
    constructor(url, options = {}) {
      if (!(url instanceof URL) && typeof url !== "string") throw new TypeError("url must be a string or a URL");
      this.#url = url instanceof URL ? url.href : url;
      // The core's rule, the same one the worker applies to external issuers' JWKS URLs.
      if (!core.isAcceptableJwksUrl(this.#url)) {
        throw new TypeError("the JWKS URL must be https (http only for loopback)");
      }
      checkOptionNames(options, REMOTE_OPTIONS);
      const { cooldown = 30_000, maxAge = 600_000, timeout = 5_000, fetch: fetchImpl = globalThis.fetch } = options;
      expect(cooldown, "options.cooldown", isMilliseconds, "a number of milliseconds");
      expect(maxAge, "options.maxAge", isMilliseconds, "a number of milliseconds");
      expect(timeout, "options.timeout", isMilliseconds, "a number of milliseconds");
      if (typeof fetchImpl !== "function") throw new TypeError("options.fetch must be a function");
      this.#fetch = fetchImpl; this.#cooldown = cooldown; this.#maxAge = maxAge; this.#timeout = timeout;
    }
    async #download() {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), this.#timeout);
      try {
        const res = await this.#fetch(this.#url, { signal: controller.signal, headers: { accept: "application/jwk-set+json, application/json" }, redirect: "error" });
        if (res.status !== 200) throw new TollgateError({ code: "ERR_JWKS_UNAVAILABLE", message: `JWKS fetch returned HTTP ${res.status}` });
        const text = await cappedText(res, 65_536);
        // A key the set cannot use is left out and the others still verify (RFC 7517 §5; a
        // published secret or private key never verifies): the core's rule, the worker's too.
        // A document that is no JWK Set at all (not JSON, an array) means the keys could not be
        // obtained: ERR_JWKS_UNAVAILABLE, as the worker answers for an external issuer's.
        try {
          return JSON.parse(core.publishedKeys(text));
        } catch (err) {
          throw new TollgateError({ code: "ERR_JWKS_UNAVAILABLE", message: `JWKS document refused: ${err?.message ?? err}` });
        }
      } catch (err) {
        if (err instanceof TollgateError) throw err;
        throw new TollgateError({ code: "ERR_JWKS_UNAVAILABLE", message: controller.signal.aborted ? "JWKS fetch timed out" : `JWKS fetch failed: ${err.message}` });
      } finally {
        clearTimeout(timer);
      }
    }
    #refresh() {
      // One never settling (its request cancelled, a fetch that ignores the abort) is
      // abandoned after the core's wait limit, as the core's rule no longer counts it.
      const abandoned = this.#inflight !== null && Date.now() - this.#inflightSince >= core.jwksWaitLimit(this.#timeout);
      if (this.#inflight === null || abandoned) {
        this.#lastAttempt = this.#inflightSince = Date.now();
        const inflight = this.#download().then(
          ({ set, ignored }) => {
            this.#jwks = JSON.stringify(set); this.#ignored = ignored; this.#fetchedAt = Date.now(); this.#verifiers.clear();
            if (this.#inflight === inflight) this.#inflight = null;
            return this.#jwks;
          },
          (err) => {
            this.#lastError = err;
            if (this.#inflight === inflight) this.#inflight = null;
            throw err;
          },
        );
        this.#inflight = inflight;
      }
      return this.#inflight;
    }
    async #keysFor(kid) {
      const knows = this.#jwks !== null && (kid === undefined || JSON.parse(this.#jwks).keys?.some((k) => k.kid === kid));
      // The core's caching rule (jwks_cache::decide), the one the worker applies too.
      const since = this.#inflight === null ? -Infinity : this.#inflightSince;
      const action = core.jwksCacheAction(this.#jwks === null ? -Infinity : this.#fetchedAt, this.#lastAttempt, knows, since, this.#maxAge, this.#cooldown, this.#timeout, Date.now());
      if (action === USE_AND_REFRESH) this.#refresh().catch(() => {});
      // A failed attempt within the cooldown: not fetched again, so a flood of tokens cannot
      // become a flood of fetches to an issuer that is down.
      if (action === UNAVAILABLE) throw this.#lastError ?? new TollgateError({ code: "ERR_JWKS_UNAVAILABLE", message: "the JWKS could not be fetched" });
      if (action === WAIT) return this.#waitForFetch();
      if (action !== FETCH) return this.#jwks;
      try {
        return await this.#refresh();
      } catch (err) {
        if (this.#jwks !== null) return this.#jwks;
        throw err;
      }
    }
    /**
     * Waits for the fetch in flight on this call's own timer, watching what it leaves, rather
     * than awaiting its promise: in workerd a request may not wait on another request's I/O
     * (the worker's external issuers wait the same way, src/edge/remote_jwks.rs).
     */
    async #waitForFetch() {
      const awaited = this.#inflight;
      const until = this.#inflightSince + core.jwksWaitLimit(this.#timeout);
      while (this.#inflight === awaited && Date.now() < until) await new Promise((ok) => setTimeout(ok, 10));
      if (this.#jwks !== null) return this.#jwks;
      const unfinished = this.#inflight === awaited;
      throw (!unfinished && this.#lastError) || new TollgateError({ code: "ERR_JWKS_UNAVAILABLE", message: "the JWKS fetch in flight did not finish" });
    }
    /** Verifies against the remote keys (async). */
    async verify(token, options = {}) {
      checkToken(token);
      checkOptionNames(options, VERIFY_OPTIONS);
      // A fetched key set is public: an HMAC key in it is a secret anyone has read (RFC 8725
      // §3.1), so a remote set verifies asymmetric algorithms only, as the worker's external
      // issuers do (GatewayConfig::external_policy). HMAC named by the caller is refused.
      const asked = options.algorithms;
      if (Array.isArray(asked) && asked.some(isHmac)) {
        throw new TollgateError({ code: "ERR_POLICY_INVALID", message: "a remote key set is public: HMAC algorithms cannot be verified with it (RFC 8725 §3.1)" });
      }
      // (Anything else but an array is policyJson's to refuse, with its own message.)
      if (asked === undefined) options = { ...options, algorithms: ALGORITHMS.filter((alg) => !isHmac(alg)) };
      const policy = policyJson(options);
      const kid = decode(token).protectedHeader.kid;
      const jwks = await this.#keysFor(typeof kid === "string" ? kid : undefined);
      const cacheKey = policy + "\u0000" + (options.currentDate ? "" : "now");
      let verifier = options.currentDate ? null : this.#verifiers.get(cacheKey);
      if (!verifier) {
        verifier = new Verifier(jwks, options);
        if (!options.currentDate) this.#verifiers.set(cacheKey, verifier);
      }
      try {
        return await verifier.verify(token);
      } catch (err) {
        // Say why when the token names a key the set holds but could not use.
        const left = err?.code === "ERR_JWKS_NO_MATCHING_KEY" && this.#ignored.find((key) => key.kid === kid);
        if (left) throw new TollgateError({ code: err.code, message: `${err.message}; the set's key ${JSON.stringify(kid)} was left out: ${left.reason}` });
        throw err;
      }
    }
  }

  /**
   * Verifies `token` with `jwks` (a JWK Set or JWK, object or JSON text, or a set from
   * `createRemoteJWKSet`): a Promise of `{ payload, protectedHeader }`.
   */
  async function verify(token, jwks, options = {}) {
    if (isRemote(jwks)) return jwks.verify(token, options);
    return new Verifier(jwks, options).verify(token);
  }

  /** `verify` without a Promise, in Node and with "tollgate/sync"; keys only, not a remote set. */
  function verifySync(token, jwks, options = {}) {
    requireSync("verifySync");
    if (isRemote(jwks)) throw new TypeError("verifySync takes keys; a remote key set is fetched, so use verify");
    return new Verifier(jwks, options).verifySync(token);
  }

  /** Decodes a token WITHOUT verifying it. Never trust what it returns. */
  function decode(token) {
    checkToken(token);
    try {
      return JSON.parse(core.decode(token));
    } catch (err) {
      rethrow(err);
    }
  }

  /** An HMAC algorithm's name. */
  function isHmac(alg) {
    return typeof alg === "string" && alg.startsWith("HS");
  }

  /**
   * A response body as text, refused once it passes `limit` bytes, without reading on: a
   * JWKS is small, and a body read whole first could exhaust memory (a 2 GiB one kills Node).
   */
  async function cappedText(res, limit) {
    const tooLarge = () => new TollgateError({ code: "ERR_JWKS_UNAVAILABLE", message: "JWKS document is too large" });
    const reader = res.body?.getReader?.();
    if (!reader) {
      const text = await res.text();
      if (encoder.encode(text).length > limit) throw tooLarge();
      return text;
    }
    const chunks = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        reader.cancel().catch(() => {});
        throw tooLarge();
      }
      chunks.push(value);
    }
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.byteLength;
    }
    return decoder.decode(bytes);
  }

  /** A key set fetched from `url`, with the gateway's caching rules. */
  function createRemoteJWKSet(url, options) {
    return new RemoteJWKSet(url, options);
  }

  return { Verifier, verify, verifySync, decode, createRemoteJWKSet };
}

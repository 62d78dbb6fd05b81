// The package's public API, shared by every runtime entry. It checks JavaScript argument
// types (TypeError), shapes options, and turns the core's error objects into TollgateError;
// every token and key rule lives in the Rust core.

/** An error from Tollgate: `.code` is one of the stable codes, `.claim` names a failed claim. */
export class TollgateError extends Error {
  constructor({ code, message, claim }) {
    super(message);
    this.name = "TollgateError";
    this.code = code;
    if (claim !== undefined) this.claim = claim;
  }
}

function rethrow(err) {
  if (err && typeof err === "object" && !(err instanceof Error) && typeof err.code === "string") {
    throw new TollgateError(err);
  }
  throw err;
}

const isPlainObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

function expect(value, name, check, what) {
  if (value !== undefined && !check(value)) throw new TypeError(`${name} must be ${what}`);
}

const isString = (v) => typeof v === "string";
const isStringList = (v) => isString(v) || (Array.isArray(v) && v.every(isString));
const isSeconds = (v) => typeof v === "number" && Number.isFinite(v) && v >= 0;

const VERIFY_OPTIONS = ["algorithms", "issuer", "audience", "clockTolerance", "maxTokenAge", "typ", "requiredClaims", "currentDate", "maxTokenBytes", "requireExp"];

function policyJson(options) {
  if (!isPlainObject(options)) throw new TypeError("options must be an object");
  for (const name of Object.keys(options)) {
    if (!VERIFY_OPTIONS.includes(name)) throw new TypeError(`unknown option ${JSON.stringify(name)}`);
  }
  const o = options;
  expect(o.algorithms, "options.algorithms", (v) => Array.isArray(v) && v.every(isString), "an array of algorithm names");
  expect(o.issuer, "options.issuer", isStringList, "a string or an array of strings");
  expect(o.audience, "options.audience", isStringList, "a string or an array of strings");
  expect(o.clockTolerance, "options.clockTolerance", isSeconds, "a number of seconds");
  expect(o.maxTokenAge, "options.maxTokenAge", isSeconds, "a number of seconds");
  expect(o.typ, "options.typ", isString, "a string");
  expect(o.requiredClaims, "options.requiredClaims", (v) => Array.isArray(v) && v.every(isString), "an array of strings");
  expect(o.currentDate, "options.currentDate", (v) => v instanceof Date && !Number.isNaN(v.getTime()), "a valid Date");
  expect(o.maxTokenBytes, "options.maxTokenBytes", (v) => Number.isInteger(v) && v > 0, "a positive integer");
  expect(o.requireExp, "options.requireExp", (v) => typeof v === "boolean", "a boolean");
  const policy = {};
  if (o.algorithms !== undefined) policy.algorithms = o.algorithms;
  if (o.issuer !== undefined) policy.issuers = [o.issuer].flat();
  if (o.audience !== undefined) policy.audiences = [o.audience].flat();
  if (o.clockTolerance !== undefined) policy.leeway = Math.floor(o.clockTolerance);
  if (o.maxTokenAge !== undefined) policy.maxTokenAge = Math.floor(o.maxTokenAge);
  if (o.typ !== undefined) policy.typ = o.typ;
  if (o.requiredClaims !== undefined) policy.requiredClaims = o.requiredClaims;
  if (o.maxTokenBytes !== undefined) policy.maxTokenBytes = o.maxTokenBytes;
  if (o.requireExp !== undefined) policy.requireExp = o.requireExp;
  return JSON.stringify(policy);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** What `verifyInput` returns for a refused token; `core.takeError()` then has the error. */
const REFUSED = 0xffff_ffff;

const nowSeconds = (date) => Math.floor((date ? date.getTime() : Date.now()) / 1000);

function keysJson(jwks, name) {
  if (isString(jwks)) return jwks;
  if (isPlainObject(jwks)) return JSON.stringify(jwks);
  throw new TypeError(`${name} must be a JWK Set (or JWK) object or its JSON text`);
}

function checkToken(token) {
  if (!isString(token)) throw new TypeError("token must be a string");
}

/**
 * A host's refusal to import a key the core accepted (a point off its curve, a private half
 * that does not match): the same ERR_JWK_INVALID the pure-Rust build gives when it builds the
 * key.
 */
const invalidKey = (err) => new TollgateError({ code: "ERR_JWK_INVALID", message: `invalid key: ${err.message}` });

function hostImport(importKey) {
  try {
    return importKey();
  } catch (err) {
    throw invalidKey(err);
  }
}

/**
 * Runs `call(check)`, a synchronous core call that asks `check(...args)` whether a signature
 * verifies, for a host that can only answer later (WebCrypto). A question asked for the first
 * time is answered true and sent to the host (`ask`); once the host has answered every
 * question, the result stands if every answer was true, and otherwise the call runs again
 * with the answers known (the core then refuses the signature, or tries its next key). So
 * every rule, and the order the core applies them in, stays the core's, and nothing the core
 * returns is released before every signature it relied on has verified. `identify` names a
 * question (key and algorithm); each round answers at least one more, so the rounds end.
 */
async function answeredLater(call, identify, ask) {
  const answers = new Map();
  for (;;) {
    const asked = new Map();
    const check = (...args) => {
      const id = identify(...args);
      const known = answers.get(id);
      if (known !== undefined) return known;
      // The byte arguments are views of wasm memory, valid only during this call.
      if (!asked.has(id)) asked.set(id, ask(...args.map((a) => (a instanceof Uint8Array ? a.slice() : a))).then(Boolean, () => false));
      return true;
    };
    let result;
    let failure;
    let failed = false;
    try {
      result = call(check);
    } catch (err) {
      failure = err;
      failed = true;
    }
    const verdicts = await Promise.all(asked.values());
    [...asked.keys()].forEach((id, i) => answers.set(id, verdicts[i]));
    if (verdicts.every(Boolean)) {
      if (failed) throw failure;
      return result;
    }
  }
}

/**
 * Marks a remote key set across copies of the package: an application that both imports and
 * requires "tollgate" (or loads two entries) gets two copies, and a set made by one must still
 * be a set, not a malformed JWK, to the other.
 */
const REMOTE_JWKS = Symbol.for("tollgate.RemoteJWKSet");
const isRemote = (jwks) => jwks !== null && typeof jwks === "object" && jwks[REMOTE_JWKS] === true;

const ALGORITHMS = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];

/**
 * Builds the API around an initialised wasm-bindgen module. `host`, when given, does the
 * asymmetric signature arithmetic with the platform's native crypto: synchronously
 * (node-crypto.js) or with Promises (webcrypto.js); every other check stays in the core, so
 * results and error codes do not change. Without a host the core must carry the pure-Rust
 * provider (the "tollgate/sync" entry outside Node).
 */
export function createApi(core, host) {
  /** True when the host answers with Promises (WebCrypto): the *Sync names then throw. */
  const later = host !== undefined && !host.sync;
  /** The `*Sync` names throw in builds whose signatures go through WebCrypto. */
  const requireSync = (name) => {
    if (later) {
      throw new TollgateError({
        code: "ERR_JOSE_NOT_SUPPORTED",
        message: `${name} is not available in this build: its signatures go through WebCrypto, which answers asynchronously. Use the Promise API, or import { ${name.split("#")[0]} } from "tollgate/sync" (the pure-Rust build)`,
      });
    }
  };

  // Tokens are written straight into a buffer in wasm memory (core.inputBuffer): no
  // allocation per call. The view is re-made when the memory grows (the old one is detached).
  const memory = core.wasmMemory();
  const [inputAt, inputBytes] = core.inputBuffer();
  let input = new Uint8Array(memory.buffer, inputAt, inputBytes);
  const inputView = () => {
    if (input.byteLength === 0) input = new Uint8Array(memory.buffer, inputAt, inputBytes);
    return input;
  };
  /** Writes `token` into the input buffer: its length there, or -1 when it does not fit. */
  const writeInput = (token) => {
    const { read, written } = encoder.encodeInto(token, inputView());
    return read === token.length ? written : -1;
  };
  /** The answer `verifyInput` left in the input buffer (memory may have grown meanwhile). */
  const readInput = (length) => decoder.decode(inputView().subarray(0, length));
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
      const segment = token.slice(0, token.indexOf("."));
      const known = segment === this.#headerText;
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
      this.#remember(segment, result.protectedHeader);
      return result;
    }
    /** Keeps a header whose members are all primitives: a shallow copy is then a full one. */
    #remember(segment, header) {
      const flat = Object.values(header).every((v) => v === null || typeof v !== "object");
      this.#headerText = flat ? segment : null;
      this.#header = flat ? { ...header } : null;
    }
  }

  const USE_AND_REFRESH = 1;
  const FETCH = 2;

  class RemoteJWKSet {
    get [REMOTE_JWKS]() {
      return true;
    }
    #url; #fetch; #cooldown; #maxAge; #timeout;
    #jwks = null; #fetchedAt = -Infinity; #lastAttempt = -Infinity; #inflight = null; #verifiers = new Map();
    constructor(url, { cooldown = 30_000, maxAge = 600_000, timeout = 5_000, fetch: fetchImpl = globalThis.fetch } = {}) {
      this.#url = String(url instanceof URL ? url.href : url);
      // The core's rule, the same one the worker applies to external issuers' JWKS URLs.
      if (!core.isAcceptableJwksUrl(this.#url)) {
        throw new TypeError("the JWKS URL must be https (http only for loopback)");
      }
      expect(cooldown, "cooldown", isSeconds, "a number of milliseconds");
      expect(maxAge, "maxAge", isSeconds, "a number of milliseconds");
      expect(timeout, "timeout", isSeconds, "a number of milliseconds");
      if (typeof fetchImpl !== "function") throw new TypeError("fetch must be a function");
      this.#fetch = fetchImpl; this.#cooldown = cooldown; this.#maxAge = maxAge; this.#timeout = timeout;
    }
    async #download() {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), this.#timeout);
      try {
        const res = await this.#fetch(this.#url, { signal: controller.signal, headers: { accept: "application/jwk-set+json, application/json" }, redirect: "error" });
        if (res.status !== 200) throw new TollgateError({ code: "ERR_JWKS_UNAVAILABLE", message: `JWKS fetch returned HTTP ${res.status}` });
        const text = await res.text();
        if (text.length > 65_536) throw new TollgateError({ code: "ERR_JWKS_UNAVAILABLE", message: "JWKS document is too large" });
        try { new core.Verifier(text, "{}"); } catch (err) { rethrow(err); }
        return text;
      } catch (err) {
        if (err instanceof TollgateError) throw err;
        throw new TollgateError({ code: "ERR_JWKS_UNAVAILABLE", message: controller.signal.aborted ? "JWKS fetch timed out" : `JWKS fetch failed: ${err.message}` });
      } finally {
        clearTimeout(timer);
      }
    }
    #refresh() {
      if (!this.#inflight) {
        this.#lastAttempt = Date.now();
        this.#inflight = this.#download().then(
          (text) => { this.#jwks = text; this.#fetchedAt = Date.now(); this.#verifiers.clear(); this.#inflight = null; return text; },
          (err) => { this.#inflight = null; throw err; },
        );
      }
      return this.#inflight;
    }
    async #keysFor(kid) {
      const knows = this.#jwks !== null && (kid === undefined || JSON.parse(this.#jwks).keys?.some((k) => k.kid === kid));
      // The core's caching rule (jwks_cache::decide), the one the worker applies too.
      const action = core.jwksCacheAction(this.#jwks === null ? -Infinity : this.#fetchedAt, this.#lastAttempt, knows, this.#maxAge, this.#cooldown, Date.now());
      if (action === USE_AND_REFRESH) this.#refresh().catch(() => {});
      if (action !== FETCH) return this.#jwks;
      try {
        return await this.#refresh();
      } catch (err) {
        if (this.#jwks !== null) return this.#jwks;
        throw err;
      }
    }
    /** Verifies against the remote keys (async). */
    async verify(token, options = {}) {
      checkToken(token);
      const policy = policyJson(options);
      const kid = decode(token).protectedHeader.kid;
      const jwks = await this.#keysFor(typeof kid === "string" ? kid : undefined);
      const cacheKey = policy + "\u0000" + (options.currentDate ? "" : "now");
      let verifier = options.currentDate ? null : this.#verifiers.get(cacheKey);
      if (!verifier) {
        verifier = new Verifier(jwks, options);
        if (!options.currentDate) this.#verifiers.set(cacheKey, verifier);
      }
      return verifier.verify(token);
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

  const SIGN_OPTIONS = ["alg", "kid", "typ", "expiresIn", "notBefore", "issuer", "audience", "subject", "jti", "currentDate"];

  /** Checks sign options: `{ alg, currentDate, text }`, `text` the rest as JSON for the core. */
  function signOptions(options, allowed = SIGN_OPTIONS) {
    if (!isPlainObject(options)) throw new TypeError("options must be an object");
    for (const name of Object.keys(options)) {
      if (!allowed.includes(name)) throw new TypeError(`unknown option ${JSON.stringify(name)}`);
    }
    for (const name of ["alg", "kid", "typ", "issuer", "subject", "jti"]) expect(options[name], `options.${name}`, isString, "a string");
    expect(options.audience, "options.audience", isStringList, "a string or an array of strings");
    expect(options.expiresIn, "options.expiresIn", (v) => Number.isInteger(v) && v > 0, "a positive whole number of seconds");
    expect(options.notBefore, "options.notBefore", Number.isInteger, "a NumericDate (seconds)");
    expect(options.currentDate, "options.currentDate", (v) => v instanceof Date && !Number.isNaN(v.getTime()), "a valid Date");
    const { currentDate, alg, ...rest } = options;
    return { alg, currentDate, text: JSON.stringify(rest) };
  }

  function checkKeyArgument(privateJwk) {
    if (!isPlainObject(privateJwk) && !isString(privateJwk)) throw new TypeError("privateJwk must be a JWK object or its JSON text");
  }

  /**
   * `{ signer, sign, templates }` for a private JWK's text: the core signer, with the key parsed
   * and checked (and by a synchronous host, imported) once. `sign(input)`, for a host that
   * answers later and an asymmetric key, signs a signing input from the core: the key is
   * imported at its first use.
   */
  function newEntry(jwkText, alg) {
    const entry = { signer: null, sign: null, templates: new Map() };
    if (!host || JSON.parse(jwkText).kty === "oct") {
      entry.signer = new core.Signer(jwkText, alg);
    } else if (!later) {
      let privateKey;
      const sign = (algIndex, data) => host.sign(ALGORITHMS[algIndex], privateKey, data);
      entry.signer = new core.Signer(jwkText, alg, sign);
      privateKey = hostImport(() => host.importPrivateKey(JSON.parse(jwkText)));
    } else {
      const signer = (entry.signer = new core.Signer(jwkText, alg));
      let privateKey = null;
      entry.sign = async (input) => {
        privateKey ??= host.importPrivateKey(JSON.parse(jwkText), signer.alg).catch((err) => {
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
    if (!isPlainObject(payload)) throw new TypeError("payload must be an object");
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
      if (!isPlainObject(payload)) throw new TypeError("payload must be an object");
      try {
        return signWith(this.#entry, this.#template, JSON.stringify(payload), nowSeconds(this.#date));
      } catch (err) {
        rethrow(err);
      }
    }
  }

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
    expect(o.algorithms, "options.algorithms", (v) => Array.isArray(v) && v.every(isString), "an array of algorithm names");
    expect(o.currentDate, "options.currentDate", (v) => v instanceof Date && !Number.isNaN(v.getTime()), "a valid Date");
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
    expect(o.currentDate, "options.currentDate", (v) => v instanceof Date && !Number.isNaN(v.getTime()), "a valid Date");
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

  /** Decodes a token WITHOUT verifying it. Never trust what it returns. */
  function decode(token) {
    checkToken(token);
    try {
      return JSON.parse(core.decode(token));
    } catch (err) {
      rethrow(err);
    }
  }

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

  /** A key set fetched from `url`, with the gateway's caching rules. */
  function createRemoteJWKSet(url, options) {
    return new RemoteJWKSet(url, options);
  }

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
    const { issuer, audience, jwks, clockTolerance = 5, currentDate } = options;
    expect(issuer, "options.issuer", isString, "a string");
    expect(audience, "options.audience", isString, "a string");
    if (issuer === undefined || audience === undefined || jwks === undefined) throw new TypeError("options.issuer, options.audience and options.jwks are required");
    const { method, url, assertion } = requestParts(request);
    if (!assertion) throw new TollgateError({ code: "ERR_TOKEN_MISSING", message: "the request has no X-Tollgate-Assertion header" });
    const result = await verify(assertion, jwks, { issuer, audience, typ: core.assertionTyp(), requiredClaims: ["htm", "htu"], clockTolerance, ...(currentDate ? { currentDate } : {}) });
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
    return JSON.parse(core.refusal(err.code, err.message, err.claim ?? undefined, JSON.stringify(requiredScopes)));
  }

  return { verify, verifySync, Verifier, sign, signSync, Signer, decode, generateKeyPair, generateKeyPairSync, createRemoteJWKSet, verifyDpopProof, createDpopProof, verifyAssertion, refusal, TollgateError };
}

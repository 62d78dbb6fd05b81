// The package's types, one source for both module systems: "require" reads this file as
// CommonJS, and index.d.ts (what "import" reads) re-exports it.

/**
 * Stable error codes, the same in the edge worker, the CLI and this package: every code of
 * the one table (src/codes.rs), as `refusal()` renders them too. The package itself throws the
 * token, key and policy codes, ERR_JWKS_UNAVAILABLE (remote sets), ERR_TOKEN_MISSING
 * (verifyAssertion, middleware), the DPoP codes, and, from the middleware,
 * ERR_AUTHORIZATION_MALFORMED, ERR_INSUFFICIENT_SCOPE and ERR_DPOP_BINDING_MISMATCH.
 */
export type TollgateErrorCode =
  | "ERR_JWS_INVALID"
  | "ERR_JWT_TOO_LARGE"
  | "ERR_JOSE_ALG_NOT_ALLOWED"
  | "ERR_JWKS_NO_MATCHING_KEY"
  | "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"
  | "ERR_JWT_EXPIRED"
  | "ERR_JWT_NOT_YET_VALID"
  | "ERR_JWT_CLAIM_VALIDATION_FAILED"
  | "ERR_JOSE_NOT_SUPPORTED"
  | "ERR_JWK_INVALID"
  | "ERR_JWT_REVOKED"
  | "ERR_POLICY_INVALID"
  | "ERR_RANDOM_UNAVAILABLE"
  | "ERR_SIGNING_KEYS_MISSING"
  | "ERR_CONFIG_INVALID"
  | "ERR_CONFIG_MISSING"
  | "ERR_TOKEN_MISSING"
  | "ERR_AUTHORIZATION_MALFORMED"
  | "ERR_INSUFFICIENT_SCOPE"
  | "ERR_REVOCATION_UNAVAILABLE"
  | "ERR_JWKS_UNAVAILABLE"
  | "ERR_ORIGIN_UNREACHABLE"
  | "ERR_HTTPS_REQUIRED"
  | "ERR_ONE_TIME_TOKEN_INVALID"
  | "ERR_PEPPER_MISSING"
  | "ERR_PATH_INVALID"
  | "ERR_METHOD_NOT_ALLOWED"
  | "ERR_SESSION_INVALID"
  | "ERR_API_KEY_INVALID"
  | "ERR_STORE_UNAVAILABLE"
  | "ERR_ADMIN_DISABLED"
  | "ERR_ADMIN_UNAUTHORIZED"
  | "ERR_OAUTH"
  | "ERR_DPOP_PROOF_INVALID"
  | "ERR_DPOP_NONCE_REQUIRED"
  | "ERR_DPOP_BINDING_MISMATCH";

/**
 * Thrown for every refused token, key or option. `instanceof` holds across copies of the
 * package (an application that both imports and requires "tollgate" loads two).
 */
export declare class TollgateError extends Error {
  /** What the core reports for a refusal; a TypeError without a string `code`. */
  constructor(init: { code: TollgateErrorCode; message: string; claim?: string });
  readonly name: "TollgateError";
  readonly code: TollgateErrorCode;
  /** The claim a claim check failed on (`exp`, `nbf`, `iat`, `iss`, `aud`, `typ`, …). */
  readonly claim?: string;
}

export type Algorithm =
  | "HS256" | "HS384" | "HS512"
  | "RS256" | "RS384" | "RS512"
  | "PS256" | "PS384" | "PS512"
  | "ES256" | "ES384" | "ES512"
  | "EdDSA" | "Ed25519";

export interface JWK {
  kty: "RSA" | "EC" | "OKP" | "oct";
  kid?: string;
  alg?: Algorithm;
  use?: "sig";
  key_ops?: string[];
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
  d?: string;
  p?: string;
  q?: string;
  dp?: string;
  dq?: string;
  qi?: string;
  k?: string;
  [member: string]: unknown;
}

/**
 * A key as a JWK Set may publish it (RFC 7517): beside the signature keys, keys for other
 * uses (`use: "enc"`, an encryption `alg` such as "RSA-OAEP-256", `key_ops` without "verify",
 * an X25519 or Ed448 curve, another `kty`), which are left out without a word (RFC 7517 §5).
 */
export interface PublishedJWK {
  kty: string;
  kid?: string;
  alg?: string;
  use?: string;
  key_ops?: string[];
  crv?: string;
  [member: string]: unknown;
}

/** A JWK Set as providers publish it: see `PublishedJWK` for the keys that are left out. */
export interface JWKSet {
  keys: PublishedJWK[];
}

export interface VerifyOptions {
  /** Allowed algorithms (default: all; each key narrows to its own alg or family). */
  algorithms?: Algorithm[];
  /** Accepted `iss` value(s). Default: unchecked. */
  issuer?: string | string[];
  /** Accepted audience(s); `aud` must contain one. Default: unchecked. */
  audience?: string | string[];
  /** Seconds of tolerance for exp/nbf/iat. Default 0. */
  clockTolerance?: number;
  /** Maximum age in seconds since `iat` (which becomes required). */
  maxTokenAge?: number;
  /** Required `typ` header, compared as a media type (e.g. "at+jwt"). */
  typ?: string;
  /** Claims that must be present. */
  requiredClaims?: string[];
  /** The clock to verify at. Default: now. */
  currentDate?: Date;
  /** Largest token accepted, in bytes. Default 8192. */
  maxTokenBytes?: number;
  /** Refuse tokens without `exp`. Default true. */
  requireExp?: boolean;
}

export interface JWTPayload {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  nbf?: number;
  iat?: number;
  jti?: string;
  scope?: string;
  [claim: string]: unknown;
}

export interface ProtectedHeader {
  alg: Algorithm;
  kid?: string;
  typ?: string;
  [parameter: string]: unknown;
}

export interface VerifyResult {
  payload: JWTPayload;
  protectedHeader: ProtectedHeader;
}

/**
 * Keys and options parsed and checked once; the fast path for servers. Where WebCrypto does the
 * signatures (browsers, workerd), it imports the keys at the first `verify`, and a key it
 * refuses is ERR_JWK_INVALID from then on.
 */
export declare class Verifier {
  constructor(jwks: JWKSet | JWK | string, options?: VerifyOptions);
  /** Verifies signature and claims; rejects with a TollgateError. */
  verify(token: string): Promise<VerifyResult>;
  /** `verify` without a Promise: Node, and the "tollgate/sync" entry. Throws a TollgateError. */
  verifySync(token: string): VerifyResult;
}

export interface RemoteJWKSetOptions {
  /** Least milliseconds between refetches caused by an unknown kid. Default 30000. */
  cooldown?: number;
  /** Milliseconds keys stay fresh. Default 600000. */
  maxAge?: number;
  /** Fetch timeout in milliseconds. Default 5000. */
  timeout?: number;
  /** The fetch implementation. Default: globalThis.fetch. */
  fetch?: typeof fetch;
}

export interface RemoteJWKSet {
  verify(token: string, options?: VerifyOptions): Promise<VerifyResult>;
}

/** Verifies signature and claims; rejects with a TollgateError. */
export declare function verify(token: string, jwks: JWKSet | JWK | string | RemoteJWKSet, options?: VerifyOptions): Promise<VerifyResult>;

/**
 * `verify` without a Promise, for keys at hand (not a remote set): Node, and the
 * "tollgate/sync" entry. Throws a TollgateError.
 */
export declare function verifySync(token: string, jwks: JWKSet | JWK | string, options?: VerifyOptions): VerifyResult;

export interface SignOptions {
  /** Required for RSA and HMAC keys without `alg`. */
  alg?: Algorithm;
  /** The key's own kid (its JWK's, else its RFC 7638 thumbprint): another is ERR_POLICY_INVALID, since the token would not verify with this key. */
  kid?: string;
  /** Default "JWT"; not empty. */
  typ?: string;
  /** Seconds from now until `exp`, when the payload has no `exp`. Default 900. */
  expiresIn?: number;
  /** `nbf`, when the payload has none. */
  notBefore?: number;
  /** `iss`, when the payload has none. */
  issuer?: string;
  /** `aud`, when the payload has none. */
  audience?: string | string[];
  /** `sub`, when the payload has none. */
  subject?: string;
  /** `jti`, when the payload has none. Default: 128 random bits. */
  jti?: string;
  /** The clock for `iat`/`exp`. Default: now. */
  currentDate?: Date;
}

/**
 * Signs the payload's claims exactly as written; options fill only absent claims. A claim set
 * both in the payload and by an option is TollgateError ERR_POLICY_INVALID (a rejection; a
 * throw from `signSync`).
 */
export declare function sign(payload: JWTPayload, privateJwk: JWK | string, options?: SignOptions): Promise<string>;

/** `sign` without a Promise: Node, and the "tollgate/sync" entry. */
export declare function signSync(payload: JWTPayload, privateJwk: JWK | string, options?: SignOptions): string;

/**
 * A private key and sign options checked once, for signing many tokens (the fast path for an
 * issuer). The same rule as `sign`: the payload's claims are kept as written. `jti` is not an
 * option here, since every token would share it: put it in the payload, or let it default to
 * 128 random bits.
 */
export declare class Signer {
  constructor(privateJwk: JWK | string, options?: Omit<SignOptions, "jti">);
  sign(payload: JWTPayload): Promise<string>;
  /** `sign` without a Promise: Node, and the "tollgate/sync" entry. */
  signSync(payload: JWTPayload): string;
}

export interface DpopVerifyOptions {
  /** The request's HTTP method, exactly as sent. */
  method: string;
  /** The request's URL; its query and fragment are ignored (RFC 9449 §4.3). */
  url: string | URL;
  /** The access token presented with the proof: the proof's `ath` must be its hash. */
  accessToken?: string;
  /** The server nonce(s) currently accepted (RFC 9449 §8); omit when none is required. */
  nonce?: string | string[];
  /** Oldest accepted `iat`, seconds before now. Default 300. */
  maxAge?: number;
  /** Seconds an `iat` may lie in the future. Default 5. */
  clockTolerance?: number;
  /** Accepted algorithms (asymmetric only). Default: every asymmetric algorithm. */
  algorithms?: Algorithm[];
  /** The clock. Default: now. */
  currentDate?: Date;
}

export interface DpopProof {
  /** RFC 7638 thumbprint of the proof's key: a bound token's `cnf.jkt` must equal it. */
  jkt: string;
  /** Remember it (with jkt) for maxAge + 2 × clockTolerance seconds and refuse a repeat (replay). */
  jti: string;
  iat: number;
  alg: Algorithm;
  nonce: string | null;
  protectedHeader: ProtectedHeader;
  payload: JWTPayload;
}

/**
 * Verifies a DPoP proof (RFC 9449 §4.3). Rejects with TollgateError ERR_DPOP_PROOF_INVALID
 * (`.claim` names the member at fault) or ERR_DPOP_NONCE_REQUIRED. Replay tracking is the
 * caller's.
 */
export declare function verifyDpopProof(proof: string, options: DpopVerifyOptions): Promise<DpopProof>;
/** `verifyDpopProof` without a Promise, in Node and with "tollgate/sync": throws what it would reject with. */
export declare function verifyDpopProofSync(proof: string, options: DpopVerifyOptions): DpopProof;

export interface DpopCreateOptions {
  method: string;
  url: string | URL;
  /** The access token the proof accompanies: its hash becomes `ath`. */
  accessToken?: string;
  /** The server's nonce, from its `DPoP-Nonce` header. */
  nonce?: string;
  /** Binds an RSA key without `alg`. */
  alg?: Algorithm;
  currentDate?: Date;
}

/** A DPoP proof (RFC 9449 §4.2) for one request, signed with the client's private key. */
export declare function createDpopProof(privateJwk: JWK | string, options: DpopCreateOptions): Promise<string>;
/** `createDpopProof` without a Promise, in Node and with "tollgate/sync". */
export declare function createDpopProofSync(privateJwk: JWK | string, options: DpopCreateOptions): string;

export interface AssertionOptions {
  /** The Tollgate deployment's issuer (its `issuer` setting). */
  issuer: string;
  /** This origin, as the gateway names it (`assertionAudience`, default its `ORIGIN_URL`). */
  audience: string;
  /** The deployment's public keys: a JWK Set, or `createRemoteJWKSet(issuer + "/.well-known/jwks.json")`. */
  jwks: JWKSet | JWK | string | RemoteJWKSet;
  /** Seconds of tolerance for exp/iat. Default 5. */
  clockTolerance?: number;
  /** The clock to verify at. Default: now. */
  currentDate?: Date;
}

/** A Node/Express request: method, headers, and the URL parts. */
export interface NodeRequestLike {
  method: string;
  url?: string;
  originalUrl?: string;
  protocol?: string;
  headers: Record<string, string | string[] | undefined>;
}

/** The gateway's answer (RFC 6750 §3) to a refusal; see `refusal`. */
export interface Refusal {
  status: number;
  /** The `WWW-Authenticate` challenge, or null when the answer carries none. */
  wwwAuthenticate: string | null;
  body: {
    /** The OAuth error (RFC 6750 §3.1: "invalid_token", "insufficient_scope", …). */
    error: string;
    error_description?: string;
    /** The code as the gateway renders it (a code it does not know is rendered ERR_JWS_INVALID). */
    code: TollgateErrorCode;
    claim?: string;
    /** For ERR_INSUFFICIENT_SCOPE: the scopes the route needs, space-separated. */
    scope?: string;
  };
}

/** The gateway's answer (RFC 6750 §3) to a refusal: status, `WWW-Authenticate`, JSON body. */
export declare function refusal(err: TollgateError, requiredScopes?: string[]): Refusal;

/**
 * Verifies the gateway's identity assertion (`X-Tollgate-Assertion`) on a request that reached
 * the origin: signature, issuer, audience, freshness, and that it was made for this request's
 * method and URL (`htm`, `htu`). The payload carries `sub`, `scope`, `client_id`, `token_type`
 * and `jti` of the caller's token.
 */
export declare function verifyAssertion(request: Request | NodeRequestLike, options: AssertionOptions): Promise<VerifyResult>;

/** Decodes WITHOUT verifying. Never trust what it returns. */
export declare function decode(token: string): VerifyResult;

export interface KeyPair {
  privateJwk: JWK;
  /** null for HMAC. */
  publicJwk: JWK | null;
}

/** An HMAC algorithm: its key is one secret, so a pair has no public half. */
export type HmacAlgorithm = "HS256" | "HS384" | "HS512";

/** A key pair of an asymmetric algorithm: `publicJwk` is always there. */
export interface AsymmetricKeyPair extends KeyPair {
  publicJwk: JWK;
}

/** An HMAC key "pair": the secret, and no public key. */
export interface HmacKeyPair extends KeyPair {
  publicJwk: null;
}

/** A fresh key pair with an RFC 7638 `kid`. */
export declare function generateKeyPair(alg: HmacAlgorithm): Promise<HmacKeyPair>;
export declare function generateKeyPair(alg: Exclude<Algorithm, HmacAlgorithm>): Promise<AsymmetricKeyPair>;
export declare function generateKeyPair(alg: Algorithm): Promise<KeyPair>;

/** `generateKeyPair` without a Promise: Node, and the "tollgate/sync" entry. */
export declare function generateKeyPairSync(alg: HmacAlgorithm): HmacKeyPair;
export declare function generateKeyPairSync(alg: Exclude<Algorithm, HmacAlgorithm>): AsymmetricKeyPair;
export declare function generateKeyPairSync(alg: Algorithm): KeyPair;

export declare function createRemoteJWKSet(url: string | URL, options?: RemoteJWKSetOptions): RemoteJWKSet;

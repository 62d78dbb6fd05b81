// The types of the browsers' and workerd's default entries: the API of index.d.ts, whose
// signatures go through WebCrypto there, so the *Sync names exist only to say where they are.
import type { JWK, JWKSet, JWTPayload, SignOptions, VerifyOptions, Algorithm, DpopVerifyOptions, DpopCreateOptions } from "./index.js";
import { Verifier as FullVerifier, Signer as FullSigner } from "./index.js";

export * from "./index.js";

/** @deprecated Throws TollgateError ERR_JOSE_NOT_SUPPORTED in this entry: use `verify`, or import `verifySync` from "tollgate/sync". */
export declare function verifySync(token: string, jwks: JWKSet | JWK | string, options?: VerifyOptions): never;
/** @deprecated Throws TollgateError ERR_JOSE_NOT_SUPPORTED in this entry: use `sign`, or import `signSync` from "tollgate/sync". */
export declare function signSync(payload: JWTPayload, privateJwk: JWK | string, options?: SignOptions): never;
/** @deprecated Throws TollgateError ERR_JOSE_NOT_SUPPORTED in this entry: use `generateKeyPair`, or import `generateKeyPairSync` from "tollgate/sync". */
export declare function generateKeyPairSync(alg: Algorithm): never;
/** @deprecated Throws TollgateError ERR_JOSE_NOT_SUPPORTED in this entry: use `verifyDpopProof`, or import `verifyDpopProofSync` from "tollgate/sync". */
export declare function verifyDpopProofSync(proof: string, options: DpopVerifyOptions): never;
/** @deprecated Throws TollgateError ERR_JOSE_NOT_SUPPORTED in this entry: use `createDpopProof`, or import `createDpopProofSync` from "tollgate/sync". */
export declare function createDpopProofSync(privateJwk: JWK | string, options: DpopCreateOptions): never;

export declare class Verifier extends FullVerifier {
  /** @deprecated Throws TollgateError ERR_JOSE_NOT_SUPPORTED in this entry: use `verify`, or "tollgate/sync". */
  verifySync(token: string): never;
}

export declare class Signer extends FullSigner {
  /** @deprecated Throws TollgateError ERR_JOSE_NOT_SUPPORTED in this entry: use `sign`, or "tollgate/sync". */
  signSync(payload: JWTPayload): never;
}

// "tollgate/sync" in browsers: the core with the pure-Rust provider (tollgate_full), so every
// signature is checked and made synchronously and the *Sync names work; the Promise API is the
// same calls, answered at once. About three times the size of the default entry.
import * as core from "../dist/tollgate_full.js";
import { createApi } from "./api/index.js";

await core.default({ module_or_path: new URL("../dist/tollgate_full_bg.wasm", import.meta.url) });

export const { verify, verifySync, Verifier, sign, signSync, Signer, decode, generateKeyPair, generateKeyPairSync, createRemoteJWKSet, verifyDpopProof, verifyDpopProofSync, createDpopProof, createDpopProofSync, verifyAssertion, refusal } = createApi(core);
export { TollgateError } from "./api/index.js";

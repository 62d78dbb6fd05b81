// "tollgate/sync" in Cloudflare Workers / workerd: the pure-Rust build (see browser-sync.js).
import wasm from "../dist/tollgate_full_bg.wasm";
import * as core from "../dist/tollgate_full.js";
import { createApi } from "./api/index.js";

core.initSync({ module: wasm });

export const { verify, verifySync, Verifier, sign, signSync, Signer, decode, generateKeyPair, generateKeyPairSync, createRemoteJWKSet, verifyDpopProof, verifyDpopProofSync, createDpopProof, createDpopProofSync, verifyAssertion, refusal } = createApi(core);
export { TollgateError } from "./api/index.js";

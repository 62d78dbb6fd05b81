// Cloudflare Workers / workerd: the bundler (wrangler) imports the .wasm as a compiled module.
import wasm from "../dist/tollgate_core_bg.wasm";
import * as core from "../dist/tollgate_core.js";
import { createApi } from "./api.js";

core.initSync({ module: wasm });

export const { verify, Verifier, sign, Signer, decode, generateKeyPair, createRemoteJWKSet, verifyDpopProof, createDpopProof, verifyAssertion, refusal } = createApi(core);
export { TollgateError } from "./api.js";

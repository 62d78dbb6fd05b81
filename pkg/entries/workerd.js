// Cloudflare Workers / workerd: the bundler (wrangler) imports the .wasm as a compiled module.
// As in browsers, WebCrypto does the asymmetric arithmetic; "tollgate/sync" has the *Sync names.
import wasm from "../dist/tollgate_web_bg.wasm";
import * as core from "../dist/tollgate_web.js";
import { createApi } from "./api/index.js";
import { webCryptoHost } from "./webcrypto.js";

core.initSync({ module: wasm });

export const { verify, verifySync, Verifier, sign, signSync, Signer, decode, generateKeyPair, generateKeyPairSync, createRemoteJWKSet, verifyDpopProof, verifyDpopProofSync, createDpopProof, createDpopProofSync, verifyAssertion, refusal } = createApi(core, webCryptoHost);
export { TollgateError } from "./api/index.js";

// Browsers (a bundler such as Vite, or a plain <script type="module">): the wasm file sits next
// to the glue and is found through import.meta.url, with no configuration. Its core has no
// pure-Rust asymmetric code: WebCrypto (webcrypto.js) verifies, signs and generates those keys,
// so the API is Promises; "tollgate/sync" is the pure-Rust build with the *Sync names.
import * as core from "../dist/tollgate_web.js";
import { createApi } from "./api/index.js";
import { webCryptoHost } from "./webcrypto.js";

await core.default({ module_or_path: new URL("../dist/tollgate_web_bg.wasm", import.meta.url) });

export const { verify, verifySync, Verifier, sign, signSync, Signer, decode, generateKeyPair, generateKeyPairSync, createRemoteJWKSet, verifyDpopProof, verifyDpopProofSync, createDpopProof, createDpopProofSync, verifyAssertion, refusal } = createApi(core, webCryptoHost);
export { TollgateError } from "./api/index.js";

// Browsers (a bundler such as Vite, or a plain <script type="module">): the wasm file sits next
// to the glue and is found through import.meta.url, with no configuration.
import * as core from "../dist/tollgate_core.js";
import { createApi } from "./api.js";

await core.default({ module_or_path: new URL("../dist/tollgate_core_bg.wasm", import.meta.url) });

export const { verify, Verifier, sign, Signer, decode, generateKeyPair, createRemoteJWKSet, verifyDpopProof, createDpopProof, verifyAssertion, refusal } = createApi(core);
export { TollgateError } from "./api.js";

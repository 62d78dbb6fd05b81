// Node (ESM), bundled into dist/node.mjs by scripts/build-pkg: the wasm is read from disk and
// instantiated synchronously, so importing the package needs no top-level await. The core has
// no pure-Rust asymmetric code: node:crypto (node-crypto.js) verifies, signs and generates
// every asymmetric key, and answers at once, so the *Sync names work here, and
// "tollgate/sync" is this same entry.
import * as core from "../dist/tollgate_core.js";
import { createApi } from "./api/index.js";
import { nodeHost } from "./node-crypto.js";

// process.getBuiltinModule gives node:fs as CommonJS does: an ES import of it builds its whole
// namespace, which loads streams, fs/promises and readline, about 5 ms in a fresh process.
const { readFileSync } = process.getBuiltinModule("node:fs");

core.initSync({ module: readFileSync(new URL("../dist/tollgate_core_bg.wasm", import.meta.url)) });

export const { verify, verifySync, Verifier, sign, signSync, Signer, decode, generateKeyPair, generateKeyPairSync, createRemoteJWKSet, verifyDpopProof, verifyDpopProofSync, createDpopProof, createDpopProofSync, verifyAssertion, refusal } = createApi(core, nodeHost);
export { TollgateError } from "./api/index.js";

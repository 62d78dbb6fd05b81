// Node (ESM): the wasm is read from disk and instantiated synchronously, so importing the
// package needs no top-level await. Node's wasm is built without the pure-Rust asymmetric
// provider: node:crypto (node-crypto.js) verifies, signs and generates every asymmetric key.
import { readFileSync } from "node:fs";
import * as core from "../dist/tollgate_node.js";
import { createApi } from "./api.js";
import { nodeHost } from "./node-crypto.js";

core.initSync({ module: readFileSync(new URL("../dist/tollgate_node_bg.wasm", import.meta.url)) });

export const { verify, Verifier, sign, Signer, decode, generateKeyPair, createRemoteJWKSet, verifyDpopProof, createDpopProof, verifyAssertion, refusal } = createApi(core, nodeHost);
export { TollgateError } from "./api.js";

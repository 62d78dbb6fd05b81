// Node (ESM): the wasm is read from disk and instantiated synchronously, so importing the
// package needs no top-level await. The wasm is the browsers' (no pure-Rust asymmetric code);
// node:crypto (node-crypto.js) verifies, signs and generates every asymmetric key, and
// answers at once, so the *Sync names work here, and "tollgate/sync" is this same entry.
import { readFileSync } from "node:fs";
import * as core from "../dist/tollgate_core.js";
import { createApi } from "./api.js";
import { nodeHost } from "./node-crypto.js";

core.initSync({ module: readFileSync(new URL("../dist/tollgate_core_bg.wasm", import.meta.url)) });

export const { verify, verifySync, Verifier, sign, signSync, Signer, decode, generateKeyPair, generateKeyPairSync, createRemoteJWKSet, verifyDpopProof, createDpopProof, verifyAssertion, refusal } = createApi(core, nodeHost);
export { TollgateError } from "./api.js";

// Source of dist/node.cjs (bundled by scripts/build-pkg): the CommonJS entry for require().
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as core from "../dist/tollgate_core.js";
import { createApi } from "./api/index.js";
import { nodeHost } from "./node-crypto.js";

core.initSync({ module: readFileSync(join(__dirname, "tollgate_core_bg.wasm")) });

export const { verify, verifySync, Verifier, sign, signSync, Signer, decode, generateKeyPair, generateKeyPairSync, createRemoteJWKSet, verifyDpopProof, verifyDpopProofSync, createDpopProof, createDpopProofSync, verifyAssertion, refusal } = createApi(core, nodeHost);
export { TollgateError } from "./api/index.js";

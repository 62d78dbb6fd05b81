// Source of dist/node.cjs (bundled by scripts/build-pkg): the CommonJS entry for require().
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as core from "../dist/tollgate_node.js";
import { createApi } from "./api.js";
import { nodeHost } from "./node-crypto.js";

core.initSync({ module: readFileSync(join(__dirname, "tollgate_node_bg.wasm")) });

export const { verify, Verifier, sign, Signer, decode, generateKeyPair, createRemoteJWKSet, verifyDpopProof, createDpopProof, verifyAssertion, refusal } = createApi(core, nodeHost);
export { TollgateError } from "./api.js";

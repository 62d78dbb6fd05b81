// The package's public API, shared by every runtime entry. It checks JavaScript argument
// types (TypeError), shapes options, and turns the core's error objects into TollgateError;
// every token and key rule lives in the Rust core. What lives where:
//   verify.js   Verifier, verify, remote key sets, decode
//   sign.js     Signer, sign, and the signing entries cached by key
//   keys.js     generateKeyPair
//   dpop.js     DPoP proofs, checked and made
//   gateway.js  the gateway's origin assertion and refusals
//   later.js    hosts that answer later (WebCrypto) around the synchronous core
//   errors.js, args.js   TollgateError; argument checks
import { TollgateError } from "./errors.js";
import { verifyApi } from "./verify.js";
import { signApi } from "./sign.js";
import { keyApi } from "./keys.js";
import { dpopApi } from "./dpop.js";
import { gatewayApi } from "./gateway.js";

export { TollgateError };

/**
 * Builds the API around an initialised wasm-bindgen module. `host`, when given, does the
 * asymmetric signature arithmetic with the platform's native crypto: synchronously
 * (node-crypto.js) or with Promises (webcrypto.js); every other check stays in the core, so
 * results and error codes do not change. Without a host the core must carry the pure-Rust
 * provider (the "tollgate/sync" entry outside Node).
 */
export function createApi(core, host) {
  /** True when the host answers with Promises (WebCrypto): the *Sync names then throw. */
  const later = host !== undefined && !host.sync;
  /** The `*Sync` names throw in builds whose signatures go through WebCrypto. */
  const requireSync = (name) => {
    if (later) {
      throw new TollgateError({
        code: "ERR_JOSE_NOT_SUPPORTED",
        message: `${name} is not available in this build: its signatures go through WebCrypto, which answers asynchronously. Use the Promise API, or import { ${name.split("#")[0]} } from "tollgate/sync" (the pure-Rust build)`,
      });
    }
  };

  const context = { core, host, later, requireSync };
  const { Verifier, verify, verifySync, decode, createRemoteJWKSet } = verifyApi(context);
  const { Signer, sign, signSync, signerEntry } = signApi(context);
  const { generateKeyPair, generateKeyPairSync } = keyApi(context);
  const { verifyDpopProof, verifyDpopProofSync, createDpopProof, createDpopProofSync } = dpopApi(context, signerEntry);
  const { verifyAssertion, refusal } = gatewayApi(context, verify);
  return { verify, verifySync, Verifier, sign, signSync, Signer, decode, generateKeyPair, generateKeyPairSync, createRemoteJWKSet, verifyDpopProof, verifyDpopProofSync, createDpopProof, createDpopProofSync, verifyAssertion, refusal, TollgateError };
}

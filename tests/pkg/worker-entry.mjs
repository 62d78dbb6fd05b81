// A worker that imports the package by name (wrangler picks its "workerd" export and bundles the
// wasm) and runs the package suite when asked: the default entry (WebCrypto, Promises only),
// then "tollgate/sync" (pure Rust) with its *Sync API.
import * as api from "tollgate";
import * as pure from "tollgate/sync";
import { runAll, syncApi } from "./cases.mjs";
import rsaJwk from "../vectors/rfc7520-cookbook/jwk/3_4.rsa_private_key.json";

export default {
  async fetch() {
    return Response.json([...(await runAll(api, { rsaJwk, sync: false }, "webcrypto: ")), ...(await runAll(syncApi(pure), { rsaJwk, sync: true }, "sync entry: "))]);
  },
};

// The package suite (cases.mjs) as a plain script, for runtimes other than the Node that runs
// the test files: Deno, Bun, and other Node majors. It imports "tollgate" the way an
// application would, so each runtime picks the entry its export conditions select, prints one
// JSON line (the entry it got, how many cases ran, the failures) and exits 1 on any failure.
import * as api from "tollgate";
import { runAll, syncApi } from "./cases.mjs";
import { fixtures } from "./fixtures.mjs";

const runtime = globalThis.Deno ? `deno ${Deno.version.deno}` : globalThis.Bun ? `bun ${Bun.version}` : `node ${process.versions.node}`;
const entry = import.meta.resolve("tollgate").replace(/^.*\/(entries|dist)\//, "$1/");
// Deno and Bun take Node's entry (node:crypto): the Promise API and the *Sync one.
const results = [...(await runAll(api, { ...fixtures, sync: true }, "async: ")), ...(await runAll(syncApi(api), { ...fixtures, sync: true }, "sync: "))];
const failed = results.filter((r) => !r.ok);

/** tollgate/fetch behind this runtime's own HTTP server (Deno.serve, Bun.serve), over HTTP. */
async function middlewareInServer() {
  const { authenticate } = await import("tollgate/fetch");
  const { privateJwk, publicJwk } = await api.generateKeyPair("ES256");
  const options = { issuer: "https://auth.example", jwks: { keys: [publicJwk] }, token: {}, scopes: ["read"] };
  const handler = async (request) => {
    const auth = await authenticate(request, options);
    return auth instanceof Response ? auth : Response.json({ sub: auth.sub });
  };
  let base, stop;
  if (globalThis.Deno) {
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, handler);
    [base, stop] = [`http://127.0.0.1:${server.addr.port}`, () => server.shutdown()];
  } else if (globalThis.Bun) {
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: handler });
    [base, stop] = [`http://127.0.0.1:${server.port}`, () => server.stop(true)];
  } else {
    return "skipped (no fetch server in Node)";
  }
  try {
    const token = await api.sign({ sub: "usr_1", scope: "read" }, privateJwk, { issuer: "https://auth.example", typ: "at+jwt" });
    const ok = await fetch(`${base}/api`, { headers: { Authorization: `Bearer ${token}` } });
    if (ok.status !== 200 || (await ok.json()).sub !== "usr_1") throw new Error(`token: ${ok.status}`);
    const none = await fetch(`${base}/api`);
    const body = await none.json();
    if (none.status !== 401 || none.headers.get("www-authenticate") !== 'Bearer realm="tollgate"' || body.code !== "ERR_TOKEN_MISSING") {
      throw new Error(`no token: ${none.status} ${JSON.stringify(body)}`);
    }
    return "ok";
  } finally {
    await stop();
  }
}

const middleware = await middlewareInServer().catch((err) => `failed: ${err?.stack ?? err}`);
console.log(JSON.stringify({ runtime, entry, total: results.length, failed, middleware }));
if (failed.length > 0 || middleware.startsWith("failed")) (globalThis.Deno?.exit ?? process.exit)(1);

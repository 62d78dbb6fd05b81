// A worker with users and clients, shared by the browser and interoperability tests: its
// issuer is its real URL (http://127.0.0.1:PORT), as OAuth clients check metadata against it.
import { cli, kvSeed, startWorker, freePort } from "./harness.mjs";
import { startOrigin } from "../../scripts/demo-origin.mjs";

export const PEPPER = "pepper-for-tests-only-0123456789abcdef";

export async function oauthWorld() {
  const origin = await startOrigin();
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const kv = kvSeed(PEPPER);
  const { pepperFile } = kv;
  const add = kv.add;
  const cheap = ["--memory-kib", "4096", "--iterations", "1"];
  const alice = add(["user", "add", "--username", "alice", "--password", "correct horse battery", "--scopes", "read write", "--name", "Alice Liddell", "--email", "alice@example.com", "--email-verified", ...cheap]);
  const callback = `${origin.url}/callback`;
  const service = add(["client", "add", "--id", "svc", "--first-party", "--grant", "client_credentials", "--grant", "refresh_token", "--grant", "authorization_code", "--redirect-uri", callback, "--scopes", "read write", "--pepper-from", pepperFile]);
  // A second service's backend behind the same issuer (RFC 8707 resource indicators): its tokens
  // are for https://b.example/ by default, and its API key too.
  const serviceB = add(["client", "add", "--id", "svc-b", "--grant", "client_credentials", "--scopes", "read", "--resource", "https://b.example/", "--resource", "https://c.example/", "--pepper-from", pepperFile]);
  const apiKeyB = add(["apikey", "create", "--owner", "robot-b", "--scopes", "read", "--resource", "https://b.example/", "--pepper-from", pepperFile]);
  add(["client", "add", "--id", "spa", "--public", "--first-party", "--grant", "authorization_code", "--grant", "refresh_token", "--redirect-uri", callback, "--scopes", "read", "--pepper-from", pepperFile]);
  add(["client", "add", "--id", "partner", "--name", "Partner App", "--public", "--grant", "authorization_code", "--redirect-uri", callback, "--scopes", "read", "--pepper-from", pepperFile]);
  // Two OpenID Connect relying parties (scripts/demo-rp.mjs runs on these ports in the tests),
  // and a third that may use its nonce instead of PKCE (RFC 9700 §2.1.1).
  // rp-a and rp-b are told of sign-outs (Back-Channel Logout) at backchannelPort, which a
  // test listens on.
  const relyingParties = {};
  const backchannelPort = await freePort();
  const backchannel = (id) => ["--backchannel-logout-uri", `http://127.0.0.1:${backchannelPort}/bc/${id}`];
  for (const [id, ...extra] of [["rp-a", ...backchannel("rp-a")], ["rp-b", ...backchannel("rp-b")], ["rp-c", "--pkce-optional"]]) {
    const rpPort = await freePort();
    const base = `http://127.0.0.1:${rpPort}`;
    const made = add(["client", "add", "--id", id, "--name", `Relying party ${id.slice(3).toUpperCase()}`, "--first-party", "--grant", "authorization_code", "--grant", "refresh_token", "--redirect-uri", `${base}/callback`, "--post-logout-redirect-uri", `${base}/`, "--scopes", "read", "--pepper-from", pepperFile, ...extra]);
    relyingParties[id] = { client_id: id, client_secret: made.client_secret, port: rpPort, base };
  }
  // A single-page app on its own origin (oidc-client-ts in Chromium): a public client that
  // calls /token, /userinfo and /revoke from its scripts (corsOrigins).
  const spaPort = await freePort();
  const spa = { client_id: "browser-spa", port: spaPort, base: `http://127.0.0.1:${spaPort}` };
  add(["client", "add", "--id", spa.client_id, "--name", "Browser app", "--public", "--first-party", "--grant", "authorization_code", "--grant", "refresh_token", "--redirect-uri", `${spa.base}/callback.html`, "--redirect-uri", `${spa.base}/silent.html`, "--post-logout-redirect-uri", `${spa.base}/index.html`, "--scopes", "read", "--pepper-from", pepperFile]);
  const keys = JSON.parse(cli(["keygen", "--alg", "ES256", "--set"]).stdout);
  const worker = await startWorker({
    port,
    secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(keys), TOLLGATE_PEPPER: PEPPER },
    vars: {
      ORIGIN_URL: origin.url,
      TOLLGATE_CONFIG: JSON.stringify({
        issuer,
        audiences: ["demo"],
        routes: [{ prefix: "/callback", auth: "public" }, { prefix: "/api", scopes: ["read"] }],
        corsOrigins: [spa.base],
        oauth: { passwordMemoryKib: 4096, passwordIterations: 1 },
      }),
    },
    seed: kv.entries,
  });
  return {
    worker,
    origin,
    issuer,
    callback,
    serviceSecret: service.client_secret,
    serviceB: { client_id: "svc-b", client_secret: serviceB.client_secret, apiKey: apiKeyB.api_key },
    alice,
    relyingParties,
    spa,
    backchannelPort,
    // The deployment's private keys: a test signs with them what only the issuer could (an
    // ID token of another user, as an id_token_hint).
    signingKeys: keys,
    async stop() {
      await worker.stop();
      origin.server.close();
    },
  };
}

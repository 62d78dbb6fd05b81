// DPoP (RFC 9449) end to end in workerd: the token endpoint binds access tokens to the
// client's key (cnf.jkt, token_type DPoP) and the gateway accepts them only with a fresh proof
// by that key, for that method, URL and token, never twice (the Durable Object coordinator
// keeps the jti). An unmodified OAuth client (oauth4webapi) runs code + PKCE + DPoP.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import * as oauth from "oauth4webapi";
import { calculateJwkThumbprint } from "jose";
import { cli, kvSeed, startWorker } from "./harness.mjs";
import { startOrigin } from "../../scripts/demo-origin.mjs";
import * as tollgate from "../pkg/node_modules/tollgate/dist/node.mjs";

const ISSUER = "https://tollgate.test";
const PEPPER = "pepper-for-tests-only-0123456789abcdef";
const CALLBACK = "https://spa.test/cb";

let origin, worker, svcSecret, boundSecret;
const clientKey = (await tollgate.generateKeyPair("ES256")).privateJwk;
const otherKey = (await tollgate.generateKeyPair("ES256")).privateJwk;

before(async () => {
  origin = await startOrigin();
  const keys = JSON.parse(cli(["keygen", "--alg", "ES256", "--set"]).stdout);
  const kv = kvSeed(PEPPER);
  const cheap = ["--memory-kib", "4096", "--iterations", "1"];
  kv.add(["user", "add", "--username", "alice", "--password", "correct horse battery", "--scopes", "read", ...cheap]);
  svcSecret = kv.add(["client", "add", "--id", "svc", "--first-party", "--grant", "password", "--grant", "client_credentials", "--scopes", "read", "--pepper-from", kv.pepperFile]).client_secret;
  boundSecret = kv.add(["client", "add", "--id", "bound", "--dpop", "--grant", "client_credentials", "--scopes", "read", "--pepper-from", kv.pepperFile]).client_secret;
  kv.add(["client", "add", "--id", "spa", "--public", "--first-party", "--grant", "authorization_code", "--grant", "refresh_token", "--redirect-uri", CALLBACK, "--scopes", "read", "--pepper-from", kv.pepperFile]);
  worker = await startWorker({
    secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(keys), TOLLGATE_PEPPER: PEPPER },
    vars: {
      ORIGIN_URL: origin.url,
      TOLLGATE_CONFIG: JSON.stringify({
        issuer: ISSUER,
        audiences: ["demo"],
        routes: [{ prefix: "/api", scopes: ["read"] }, { prefix: "/api/strict", scopes: ["read"], dpop: "required" }, { prefix: "/api/write", scopes: ["write"] }, { prefix: "/api/danger", scopes: ["read"], oneTime: true }],
        oauth: { passwordMemoryKib: 4096, passwordIterations: 1 },
      }),
    },
    seed: kv.entries,
  });
});

after(async () => {
  await worker?.stop();
  origin?.server.close();
});

const svc = () => `Basic ${Buffer.from(`svc:${svcSecret}`).toString("base64")}`;
const form = (params, headers = {}) => ({ method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers }, body: new URLSearchParams(params).toString() });
const proof = (key, method, path, extra = {}) => tollgate.createDpopProof(key, { method, url: worker.url + path, ...extra });

/** A DPoP-bound access token for the svc client, by client credentials. */
async function boundToken(key = clientKey) {
  const res = await worker.fetch("/token", form({ grant_type: "client_credentials", scope: "read" }, { Authorization: svc(), DPoP: await proof(key, "POST", "/token") }));
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.token_type, "DPoP");
  return body.access_token;
}

const call = (token, headers) => worker.fetch("/api/x", { headers: { Authorization: `DPoP ${token}`, ...headers } });

test("the token endpoint binds the access token to the proof's key (RFC 9449 §5, §6)", async () => {
  const token = await boundToken();
  const claims = tollgate.decode(token).payload;
  assert.equal(claims.cnf.jkt, (await tollgate.verifyDpopProof(await proof(clientKey, "GET", "/x"), { method: "GET", url: worker.url + "/x" })).jkt);
  // Introspection shows the binding (RFC 9449 §6.2), so an introspecting API can enforce it.
  const introspected = await (await worker.fetch("/introspect", form({ token }, { Authorization: svc() }))).json();
  assert.equal(introspected.active, true);
  assert.equal(introspected.token_type, "DPoP");
  assert.equal(introspected.cnf.jkt, claims.cnf.jkt);
  // Without a proof the same request gets a plain bearer token.
  const plain = await (await worker.fetch("/token", form({ grant_type: "client_credentials", scope: "read" }, { Authorization: svc() }))).json();
  assert.equal(plain.token_type, "Bearer");
  assert.equal(tollgate.decode(plain.access_token).payload.cnf, undefined);
  // A bad proof on the token request is invalid_dpop_proof, and nothing is issued.
  const bad = await worker.fetch("/token", form({ grant_type: "client_credentials" }, { Authorization: svc(), DPoP: await proof(clientKey, "POST", "/other") }));
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error, "invalid_dpop_proof");
});

test("a client registered with --dpop (dpop_bound_access_tokens) gets tokens only with a proof", async () => {
  const basic = `Basic ${Buffer.from(`bound:${boundSecret}`).toString("base64")}`;
  const bare = await worker.fetch("/token", form({ grant_type: "client_credentials", scope: "read" }, { Authorization: basic }));
  assert.equal(bare.status, 400);
  assert.equal((await bare.json()).error, "invalid_dpop_proof");
  const bound = await worker.fetch("/token", form({ grant_type: "client_credentials", scope: "read" }, { Authorization: basic, DPoP: await proof(clientKey, "POST", "/token") }));
  assert.equal(bound.status, 200);
  assert.equal((await bound.json()).token_type, "DPoP");
});

test("the gateway forwards a bound token with a fresh proof, and says so to the origin", async () => {
  const token = await boundToken();
  const res = await call(token, { DPoP: await proof(clientKey, "GET", "/api/x", { accessToken: token }) });
  assert.equal(res.status, 200, await res.clone().text());
  const { received } = await res.json();
  assert.equal(received.headers["x-tollgate-token-type"], "DPoP");
  assert.equal(received.headers["x-tollgate-jkt"], tollgate.decode(token).payload.cnf.jkt);
  assert.equal(received.headers.dpop, undefined, "the proof is Tollgate's credential: not forwarded");
});

test("/one-time-token proves its caller as the gateway does: a bound token with its proof, never as Bearer", async () => {
  const token = await boundToken();
  const ask = (headers) => worker.fetch("/one-time-token", form({ route: "/api/danger" }, headers));
  const asBearer = await ask({ Authorization: `Bearer ${token}` });
  assert.equal(asBearer.status, 401, "a bound token without its proof gets nothing");
  const withProof = await ask({ Authorization: `DPoP ${token}`, DPoP: await proof(clientKey, "POST", "/one-time-token", { accessToken: token }) });
  assert.equal(withProof.status, 200, await withProof.clone().text());
  const once = (await withProof.json()).one_time_token;
  const use = async () => worker.fetch("/api/danger/x", { method: "POST", headers: { Authorization: `DPoP ${token}`, DPoP: await proof(clientKey, "POST", "/api/danger/x", { accessToken: token }), "X-One-Time-Token": once } });
  assert.equal((await use()).status, 200);
  assert.equal((await use()).status, 403, "once");
});

test("each refusal of RFC 9449 §7 has its status, code and DPoP challenge", async () => {
  const token = await boundToken();
  const unbound = (await (await worker.fetch("/token", form({ grant_type: "client_credentials", scope: "read" }, { Authorization: svc() }))).json()).access_token;
  const good = () => proof(clientKey, "GET", "/api/x", { accessToken: token });
  const replayed = await good();
  assert.equal((await call(token, { DPoP: replayed })).status, 200);
  const cases = [
    ["a replayed proof", async () => call(token, { DPoP: replayed }), "ERR_DPOP_PROOF_INVALID", "invalid_dpop_proof", "jti"],
    ["a proof for another URL", async () => call(token, { DPoP: await proof(clientKey, "GET", "/api/y", { accessToken: token }) }), "ERR_DPOP_PROOF_INVALID", "invalid_dpop_proof", "htu"],
    ["a proof for another method", async () => call(token, { DPoP: await proof(clientKey, "POST", "/api/x", { accessToken: token }) }), "ERR_DPOP_PROOF_INVALID", "invalid_dpop_proof", "htm"],
    ["a stale proof", async () => call(token, { DPoP: await proof(clientKey, "GET", "/api/x", { accessToken: token, currentDate: new Date(Date.now() - 600_000) }) }), "ERR_DPOP_PROOF_INVALID", "invalid_dpop_proof", "iat"],
    ["a proof for another token", async () => call(token, { DPoP: await proof(clientKey, "GET", "/api/x", { accessToken: unbound }) }), "ERR_DPOP_PROOF_INVALID", "invalid_dpop_proof", "ath"],
    ["a proof signed by another key", async () => call(token, { DPoP: await proof(otherKey, "GET", "/api/x", { accessToken: token }) }), "ERR_DPOP_BINDING_MISMATCH", "invalid_token"],
    ["no proof", async () => call(token, {}), "ERR_DPOP_PROOF_INVALID", "invalid_dpop_proof", "proof"],
    ["two proofs", async () => call(token, { DPoP: `${await good()}, ${await good()}` }), "ERR_DPOP_PROOF_INVALID", "invalid_dpop_proof", "proof"],
    ["a bound token as Bearer (§7.2)", () => worker.fetch("/api/x", { headers: { Authorization: `Bearer ${token}` } }), "ERR_DPOP_BINDING_MISMATCH", "invalid_token"],
    ["an unbound token as DPoP", async () => call(unbound, { DPoP: await proof(clientKey, "GET", "/api/x", { accessToken: unbound }) }), "ERR_DPOP_BINDING_MISMATCH", "invalid_token"],
  ];
  for (const [name, send, code, error, member] of cases) {
    const res = await send();
    assert.equal(res.status, 401, name);
    const challenge = res.headers.get("www-authenticate");
    assert.match(challenge, new RegExp(`^DPoP error="${error}"`), name);
    assert.match(challenge, /algs="[^"]*ES256[^"]*"/, name);
    const body = await res.json();
    assert.equal(body.code, code, name);
    if (member) assert.equal(body.claim, member, name);
  }
});

test("a route with dpop: required takes only a DPoP-bound token with its proof", async () => {
  const token = await boundToken();
  const ok = await worker.fetch("/api/strict", { headers: { Authorization: `DPoP ${token}`, DPoP: await proof(clientKey, "GET", "/api/strict", { accessToken: token }) } });
  assert.equal(ok.status, 200);
  const bearer = (await (await worker.fetch("/token", form({ grant_type: "client_credentials", scope: "read" }, { Authorization: svc() }))).json()).access_token;
  const res = await worker.fetch("/api/strict", { headers: { Authorization: `Bearer ${bearer}` } });
  assert.equal(res.status, 401);
  assert.match(res.headers.get("www-authenticate"), /^DPoP error="invalid_token"/);
  assert.equal((await res.json()).code, "ERR_DPOP_BINDING_MISMATCH");
  // The same bearer token still passes where DPoP is only allowed.
  assert.equal((await worker.fetch("/api/x", { headers: { Authorization: `Bearer ${bearer}` } })).status, 200);
  // RFC 9449 §7.1: with no credentials, the DPoP-only route's challenge names DPoP, which a
  // client can follow (a Bearer challenge there could not be).
  const none = await worker.fetch("/api/strict");
  assert.equal(none.status, 401);
  assert.match(none.headers.get("www-authenticate"), /^DPoP algs="[^"]*ES256[^"]*"$/);
});

test("a refusal of a request sent with the DPoP scheme challenges with DPoP (RFC 9449 §7.1), whatever failed", async () => {
  const token = await boundToken();
  const forged = `${token.slice(0, -6)}AAAAAA`;
  const badToken = await worker.fetch("/api/x", { headers: { Authorization: `DPoP ${forged}`, DPoP: await proof(clientKey, "GET", "/api/x", { accessToken: forged }) } });
  assert.equal(badToken.status, 401);
  assert.match(badToken.headers.get("www-authenticate"), /^DPoP error="invalid_token", error_description="[^"]*", algs="/);
  const noScope = await worker.fetch("/api/write/x", { headers: { Authorization: `DPoP ${token}`, DPoP: await proof(clientKey, "GET", "/api/write/x", { accessToken: token }) } });
  assert.equal(noScope.status, 403);
  assert.match(noScope.headers.get("www-authenticate"), /^DPoP error="insufficient_scope", error_description="[^"]*", scope="write", algs="/);
  // A Bearer request is still answered with a Bearer challenge; a request without
  // credentials, on a route that takes either, with both (RFC 9449 §7.2).
  const asBearer = await worker.fetch("/api/x", { headers: { Authorization: `Bearer ${forged}` } });
  assert.match(asBearer.headers.get("www-authenticate"), /^Bearer realm="tollgate", error="invalid_token"/);
  assert.match((await worker.fetch("/api/x")).headers.get("www-authenticate"), /^Bearer realm="tollgate", DPoP algs="[^"]*ES256[^"]*"$/);
});

test("a proof is accepted once under 20 concurrent uses (the coordinator keeps its jti)", async () => {
  const token = await boundToken();
  const once = await proof(clientKey, "GET", "/api/x", { accessToken: token });
  const statuses = await Promise.all(Array.from({ length: 20 }, () => call(token, { DPoP: once }).then((r) => r.status)));
  assert.equal(statuses.filter((s) => s === 200).length, 1, statuses.join(" "));
  assert.equal(statuses.filter((s) => s === 401).length, 19);
});

test("dpopNonce: server nonces at the token endpoint and the gateway (RFC 9449 §8, §9), with oauth4webapi's retry", async () => {
  const keys = JSON.parse(cli(["keygen", "--alg", "ES256", "--set"]).stdout);
  const kv = kvSeed(PEPPER);
  const secret = kv.add(["client", "add", "--id", "svc", "--first-party", "--grant", "client_credentials", "--scopes", "read", "--pepper-from", kv.pepperFile]).client_secret;
  const strict = await startWorker({
    secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(keys), TOLLGATE_PEPPER: PEPPER },
    vars: { ORIGIN_URL: origin.url, TOLLGATE_CONFIG: JSON.stringify({ issuer: ISSUER, audiences: ["demo"], dpopNonce: true, routes: [{ prefix: "/api", scopes: ["read"] }, { prefix: "/api/danger", scopes: ["read"], oneTime: true }] }) },
    seed: kv.entries,
  });
  try {
    const basic = `Basic ${Buffer.from(`svc:${secret}`).toString("base64")}`;
    const make = (method, path, extra = {}) => tollgate.createDpopProof(clientKey, { method, url: strict.url + path, ...extra });
    const ask = (dpop) => strict.fetch("/token", form({ grant_type: "client_credentials", scope: "read" }, { Authorization: basic, DPoP: dpop }));
    const challenge = await ask(await make("POST", "/token"));
    assert.equal(challenge.status, 400);
    assert.equal((await challenge.json()).error, "use_dpop_nonce");
    const nonce = challenge.headers.get("dpop-nonce");
    assert.match(nonce, /^[A-Za-z0-9_-]{22}$/);
    assert.equal((await (await ask(await make("POST", "/token", { nonce: "made-up" }))).json()).error, "use_dpop_nonce");
    const granted = await ask(await make("POST", "/token", { nonce }));
    assert.equal(granted.status, 200);
    assert.match(granted.headers.get("dpop-nonce"), /^[A-Za-z0-9_-]{22}$/, "the answer names the nonce to use next");
    const token = (await granted.json()).access_token;
    const get = (dpop) => strict.fetch("/api/x", { headers: { Authorization: `DPoP ${token}`, DPoP: dpop } });
    const refused = await get(await make("GET", "/api/x", { accessToken: token }));
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get("www-authenticate"), /^DPoP error="use_dpop_nonce"/);
    assert.match(refused.headers.get("dpop-nonce"), /^[A-Za-z0-9_-]{22}$/);
    assert.equal((await refused.json()).code, "ERR_DPOP_NONCE_REQUIRED");
    assert.equal((await get(await make("GET", "/api/x", { accessToken: token, nonce }))).status, 200);
    // /one-time-token challenges the same way, with the nonce to retry with.
    const oneTime = (dpop) => strict.fetch("/one-time-token", form({ route: "/api/danger" }, { Authorization: `DPoP ${token}`, DPoP: dpop }));
    const noNonce = await oneTime(await make("POST", "/one-time-token", { accessToken: token }));
    assert.equal(noNonce.status, 401);
    const retryWith = noNonce.headers.get("dpop-nonce");
    assert.match(retryWith ?? "", /^[A-Za-z0-9_-]{22}$/);
    assert.equal((await oneTime(await make("POST", "/one-time-token", { accessToken: token, nonce: retryWith }))).status, 200);
    // An unmodified client: its DPoP handle learns the nonce from the challenge and retries.
    const as = { issuer: ISSUER, token_endpoint: `${strict.url}/token` };
    const client = { client_id: "svc" };
    const DPoP = oauth.DPoP(client, await oauth.generateKeyPair("ES256"));
    const options = { DPoP, [oauth.allowInsecureRequests]: true };
    const grant = () => oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(secret), new URLSearchParams({ scope: "read" }), options)
      .then((response) => oauth.processClientCredentialsResponse(as, client, response));
    const first = await grant().then(() => null, (err) => err);
    assert.ok(oauth.isDPoPNonceError(first), String(first));
    const tokens = await grant();
    assert.equal(tokens.token_type, "dpop");
  } finally {
    await strict.stop();
  }
});

/** Alice signs in on the login page for the `spa` client; the URL the browser is sent back to. */
async function signIn(extra) {
  const query = new URLSearchParams({ client_id: "spa", redirect_uri: CALLBACK, response_type: "code", scope: "read", code_challenge_method: "S256", ...extra });
  const page = await worker.fetch(`/authorize?${query}`);
  const html = await page.text();
  const csrf = page.headers.get("set-cookie").match(/tg_csrf=([^;]+)/)[1];
  const fields = Object.fromEntries([...html.matchAll(/name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1], m[2].replaceAll("&amp;", "&")]));
  const login = await worker.fetch("/authorize", form({ ...fields, action: "login", username: "alice", password: "correct horse battery" }, { Cookie: `__Host-tg_csrf=${csrf}` }));
  return new URL(login.headers.get("location"));
}

test("oauth4webapi: authorization code + PKCE + DPoP, then a DPoP-bound call through the gateway", async () => {
  const as = { issuer: ISSUER, authorization_endpoint: `${worker.url}/authorize`, token_endpoint: `${worker.url}/token`, authorization_response_iss_parameter_supported: true };
  const client = { client_id: "spa" };
  const keyPair = await oauth.generateKeyPair("ES256");
  const DPoP = oauth.DPoP(client, keyPair);
  const verifier = oauth.generateRandomCodeVerifier();
  const challenge = await oauth.calculatePKCECodeChallenge(verifier);
  const params = oauth.validateAuthResponse(as, client, await signIn({ code_challenge: challenge }), oauth.expectNoState);
  const options = { DPoP, [oauth.allowInsecureRequests]: true };
  const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, CALLBACK, verifier, options);
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, response);
  assert.equal(tokens.token_type, "dpop");
  const url = new URL(`${worker.url}/api/hello?x=1`);
  const res = await oauth.protectedResourceRequest(tokens.access_token, "GET", url, undefined, undefined, options);
  assert.equal(res.status, 200);
  const { received } = await res.json();
  assert.match(received.headers["x-tollgate-sub"], /^usr_/, "alice's subject id");
  assert.equal(received.headers["x-tollgate-token-type"], "DPoP");
  // RFC 9449 §5: the public client's refresh token is bound too. Without a proof (or with
  // another key) it is refused and not spent; with the client's key it rotates.
  const bare = await worker.fetch("/token", form({ grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: "spa" }));
  assert.equal(bare.status, 400);
  assert.equal((await bare.json()).error, "invalid_grant");
  const thief = await worker.fetch("/token", form({ grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: "spa" }, { DPoP: await proof(otherKey, "POST", "/token") }));
  assert.equal((await thief.json()).error, "invalid_grant");
  const refreshed = await oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token, options));
  assert.equal(refreshed.token_type, "dpop");
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
  // The metadata names the proof algorithms, both Ed25519 names included.
  const metadata = await (await worker.fetch("/.well-known/oauth-authorization-server")).json();
  assert.ok(metadata.dpop_signing_alg_values_supported.includes("ES256"));
  assert.ok(metadata.dpop_signing_alg_values_supported.includes("Ed25519"));
  assert.ok(!metadata.dpop_signing_alg_values_supported.some((alg) => alg.startsWith("HS")));
  // The same token without the client's key is useless.
  const stolen = await worker.fetch("/api/hello", { headers: { Authorization: `DPoP ${tokens.access_token}`, DPoP: await proof(otherKey, "GET", "/api/hello", { accessToken: tokens.access_token }) } });
  assert.equal(stolen.status, 401);
  assert.equal((await stolen.json()).code, "ERR_DPOP_BINDING_MISMATCH");
});

test("dpop_jkt binds the code to the client's key through the login page (RFC 9449 §10)", async () => {
  const verifier = oauth.generateRandomCodeVerifier();
  const challenge = await oauth.calculatePKCECodeChallenge(verifier);
  const { d: _, ...publicKey } = clientKey;
  const jkt = await calculateJwkThumbprint(publicKey, "sha256");
  const redeem = async (location, key) => {
    const code = location.searchParams.get("code");
    assert.ok(code, `a code, not ${location}`);
    const headers = key ? { DPoP: await proof(key, "POST", "/token") } : {};
    return worker.fetch("/token", form({ grant_type: "authorization_code", client_id: "spa", code, code_verifier: verifier, redirect_uri: CALLBACK }, headers));
  };
  for (const key of [null, otherKey]) {
    const refused = await redeem(await signIn({ code_challenge: challenge, dpop_jkt: jkt }), key);
    assert.equal(refused.status, 400);
    assert.equal((await refused.json()).error, "invalid_grant");
  }
  const tokens = await (await redeem(await signIn({ code_challenge: challenge, dpop_jkt: jkt }), clientKey)).json();
  assert.equal(tokens.token_type, "DPoP");
  const ok = await call(tokens.access_token, { DPoP: await proof(clientKey, "GET", "/api/x", { accessToken: tokens.access_token }) });
  assert.equal(ok.status, 200);
  // A malformed thumbprint goes back to the client as invalid_request, with its state.
  const bad = await worker.fetch(`/authorize?${new URLSearchParams({ client_id: "spa", redirect_uri: CALLBACK, response_type: "code", code_challenge: challenge, code_challenge_method: "S256", state: "s1", dpop_jkt: "not-a-thumbprint" })}`);
  const back = new URL(bad.headers.get("location"));
  assert.equal(back.searchParams.get("error"), "invalid_request");
  assert.equal(back.searchParams.get("state"), "s1");
});

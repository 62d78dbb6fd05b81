// An unmodified OAuth client library (oauth4webapi) completes the code + PKCE, refresh and
// client-credentials flows against the local worker, discovering it through RFC 8414 metadata.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as oauth from "oauth4webapi";
import { oauthWorld } from "./oauth-fixture.mjs";
import * as tollgate from "../pkg/node_modules/tollgate/dist/node.mjs";

let world, as;
const insecure = { [oauth.allowInsecureRequests]: true }; // the local worker speaks http on loopback

before(async () => {
  world = await oauthWorld();
  const issuer = new URL(world.issuer);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...insecure }));
});

after(() => world?.stop());

test("discovery: the metadata names this issuer and its endpoints", () => {
  assert.equal(as.issuer, world.issuer);
  assert.equal(as.token_endpoint, `${world.issuer}/token`);
});

test("client_credentials with client_secret_basic", async () => {
  const client = { client_id: "svc" };
  const response = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(world.serviceSecret), new URLSearchParams({ scope: "read" }), insecure);
  const result = await oauth.processClientCredentialsResponse(as, client, response);
  assert.equal(result.token_type.toLowerCase(), "bearer");
  const api = await world.worker.fetch("/api/x", { headers: { Authorization: `Bearer ${result.access_token}` } });
  assert.equal(api.status, 200);
});

test("authorization code with PKCE, then refresh", async () => {
  const client = { client_id: "spa" };
  const verifier = oauth.generateRandomCodeVerifier();
  const challenge = await oauth.calculatePKCECodeChallenge(verifier);
  const state = oauth.generateRandomState();
  const url = new URL(as.authorization_endpoint);
  url.search = new URLSearchParams({ client_id: "spa", redirect_uri: world.callback, response_type: "code", scope: "read", state, code_challenge: challenge, code_challenge_method: "S256" }).toString();

  // The user's part: load the login page, post the form (what a browser does).
  const page = await fetch(url, { redirect: "manual" });
  const csrf = page.headers.getSetCookie().find((c) => c.startsWith("__Host-tg_csrf=")).split(";")[0].split("=")[1];
  const login = await fetch(as.authorization_endpoint, {
    method: "POST",
    redirect: "manual",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: `__Host-tg_csrf=${csrf}` },
    body: new URLSearchParams({ ...Object.fromEntries(url.searchParams), csrf, action: "login", username: "alice", password: "correct horse battery" }).toString(),
  });
  const callback = new URL(login.headers.get("location"));

  const params = oauth.validateAuthResponse(as, client, callback, state);
  const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, world.callback, verifier, insecure);
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, response);
  assert.ok(tokens.access_token);
  assert.ok(tokens.refresh_token);
  assert.equal((await world.worker.fetch("/api/x", { headers: { Authorization: `Bearer ${tokens.access_token}` } })).status, 200);

  const refreshed = await oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token, insecure));
  assert.ok(refreshed.access_token);
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token, "rotated");
});

test("RFC 8707: a second service's client and API key get tokens for its resource, which the first service's guard refuses", async () => {
  const { serviceB } = world;
  const client = { client_id: serviceB.client_id };
  const auth = oauth.ClientSecretBasic(serviceB.client_secret);
  const grant = async (params) => oauth.processClientCredentialsResponse(as, client, await oauth.clientCredentialsGrantRequest(as, client, auth, new URLSearchParams(params), insecure));
  const jwks = tollgate.createRemoteJWKSet(new URL(`${world.issuer}/.well-known/jwks.json`));
  const audienceOf = async (token, audience) => (await tollgate.verify(token, jwks, { issuer: world.issuer, audience })).payload.aud;
  // Its first registered resource by default, another it is registered for by name.
  const byDefault = await grant({ scope: "read" });
  assert.equal(await audienceOf(byDefault.access_token, "https://b.example/"), "https://b.example/");
  const named = await grant({ scope: "read", resource: "https://c.example/" });
  assert.equal(await audienceOf(named.access_token, "https://c.example/"), "https://c.example/");
  // Service A's guard (audiences ["demo"]) refuses both; its own client's token passes.
  for (const token of [byDefault.access_token, named.access_token]) {
    const res = await world.worker.fetch("/api/x", { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(res.status, 401);
    assert.match(res.headers.get("www-authenticate"), /invalid_token/);
  }
  // A resource it is not registered for, or two at once: invalid_target, as the library reads it.
  for (const params of [{ resource: "https://a.example/" }, { resource: "demo" }, [["resource", "https://b.example/"], ["resource", "https://c.example/"]]]) {
    await assert.rejects(grant(params), (err) => {
      assert.equal(err.error, "invalid_target", JSON.stringify(params));
      return true;
    });
  }
  // Introspection (RFC 7662 §4): svc-b sees its own tokens, not service A's client's.
  const introspect = async (id, secret, token) => {
    const res = await world.worker.fetch("/introspect", { method: "POST", headers: { Authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`, "Content-Type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ token }).toString() });
    return (await res.json()).active;
  };
  const svcToken = (await oauth.processClientCredentialsResponse(as, { client_id: "svc" }, await oauth.clientCredentialsGrantRequest(as, { client_id: "svc" }, oauth.ClientSecretBasic(world.serviceSecret), new URLSearchParams({ scope: "read" }), insecure))).access_token;
  assert.equal(await introspect("svc-b", serviceB.client_secret, byDefault.access_token), true);
  assert.equal(await introspect("svc-b", serviceB.client_secret, svcToken), false);
  assert.equal(await introspect("svc", world.serviceSecret, byDefault.access_token), false);
  // Its API key: refused by service A's guard directly, and exchanged into tokens for B.
  const direct = await world.worker.fetch("/api/x", { headers: { Authorization: `Bearer ${serviceB.apiKey}` } });
  assert.equal(direct.status, 401);
  const exchanged = await (await world.worker.fetch("/token", { method: "POST", headers: { Authorization: `Bearer ${serviceB.apiKey}` } })).json();
  assert.equal(await audienceOf(exchanged.access_token, "https://b.example/"), "https://b.example/");
});

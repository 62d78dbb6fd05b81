// The gateway against an attacker with network access: each request is written as an attacker
// would send it (raw bytes on a socket where a client library would normalise the target),
// and each test asserts both the status and what the demo origin received.
//
// Classes: path spellings (RFC 3986 §6.2.2, §5.2.4; Envoy's normalize_path / merge_slashes /
// REJECT_REQUEST on escaped slashes), forwarded headers, methods, revocation that revokes
// (RFC 7009 §2.1, RFC 9700 §4.14.2, RFC 6749 §4.1.2), lockouts nobody can turn against the
// owner, explicit typing (RFC 9068, RFC 8725 §3.11) and the smaller items of the same probe.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { createHash, randomBytes } from "node:crypto";
import { SignJWT, importJWK } from "jose";
import { cli, kvSeed, startWorker } from "./harness.mjs";
import { startOrigin } from "../../scripts/demo-origin.mjs";
import { startWorkerd } from "../../bench/workerd.mjs";

const ISSUER = "https://tollgate.test";
const ADMIN = "admin-token-for-tests-only-0123456789";
const PEPPER = "pepper-for-tests-only-0123456789abcdef";
const now = () => Math.floor(Date.now() / 1000);

let worker, origin, key, svcSecret, apiKey;

async function sign(claims = {}, header = {}) {
  const body = { iss: ISSUER, aud: "demo", sub: "alice", scope: "read", jti: crypto.randomUUID(), iat: now(), exp: now() + 600, ...claims };
  for (const [k, v] of Object.entries(body)) if (v === undefined) delete body[k];
  const protectedHeader = { alg: "ES256", kid: key.kid, typ: "at+jwt", ...header };
  for (const [k, v] of Object.entries(protectedHeader)) if (v === undefined) delete protectedHeader[k];
  return new SignJWT(body).setProtectedHeader(protectedHeader).sign(await importJWK(key, "ES256"));
}

/** Sends exactly these bytes and reads the whole answer (Connection: close). */
function raw(requestLine, headers = {}, body = "") {
  const port = new URL(worker.url).port;
  const lines = [requestLine, ...(headers.Host ? [] : [`Host: 127.0.0.1:${port}`]), ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), "Connection: close"];
  if (body) lines.push(`Content-Length: ${Buffer.from(body, "latin1").length}`);
  return new Promise((ok, fail) => {
    // latin1: every character is one byte, so a test can send bytes that are not UTF-8.
    const bytes = Buffer.from(`${lines.join("\r\n")}\r\n\r\n${body}`, "latin1");
    const socket = connect(Number(port), "127.0.0.1", () => socket.end(bytes));
    const chunks = [];
    socket.on("data", (c) => chunks.push(c));
    socket.on("error", fail);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      const [head, ...rest] = text.split("\r\n\r\n");
      const [statusLine, ...headerLines] = head.split("\r\n");
      const responseHeaders = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
      let payload = rest.join("\r\n\r\n");
      if (/chunked/i.test(responseHeaders["transfer-encoding"] ?? "")) {
        let out = "";
        for (let at = 0; ; ) {
          const eol = payload.indexOf("\r\n", at);
          const size = parseInt(payload.slice(at, eol), 16);
          if (!size) break;
          out += payload.slice(eol + 2, eol + 2 + size);
          at = eol + 2 + size + 2;
        }
        payload = out;
      }
      let json;
      try {
        json = JSON.parse(Buffer.from(payload, "latin1").toString("utf8"));
      } catch {}
      ok({ status: Number(statusLine.split(" ")[1]), headers: responseHeaders, body: json, text: payload });
    });
  });
}

/** The requests the origin received while `action` ran. */
async function atOrigin(action) {
  const before = origin.requests.length;
  const result = await action();
  return { result, received: origin.requests.slice(before) };
}

const form = (params, headers = {}) => ({ method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers }, body: new URLSearchParams(params).toString() });
const basic = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;
const adminHeaders = { Authorization: `Bearer ${ADMIN}` };

before(async () => {
  origin = await startOrigin();
  const kv = kvSeed(PEPPER);
  const cheap = ["--memory-kib", "4096", "--iterations", "1"];
  kv.add(["user", "add", "--username", "alice", "--password", "correct horse battery", "--scopes", "read write", ...cheap]);
  kv.add(["user", "add", "--username", "carol", "--password", "carol-password-1", "--scopes", "read", ...cheap]);
  svcSecret = kv.add(["client", "add", "--id", "svc", "--grant", "client_credentials", "--grant", "password", "--grant", "refresh_token", "--scopes", "read write", "--first-party", "--pepper-from", kv.pepperFile]).client_secret;
  kv.add(["client", "add", "--id", "other", "--grant", "client_credentials", "--grant", "password", "--grant", "refresh_token", "--scopes", "read", "--first-party", "--pepper-from", kv.pepperFile]);
  kv.add(["client", "add", "--id", "spa", "--public", "--first-party", "--grant", "authorization_code", "--grant", "refresh_token", "--redirect-uri", "https://spa.test/cb", "--scopes", "read", "--pepper-from", kv.pepperFile]);
  apiKey = kv.add(["apikey", "create", "--owner", "robot", "--scopes", "read", "--pepper-from", kv.pepperFile]).api_key;
  const keys = JSON.parse(cli(["keygen", "--alg", "ES256", "--kid", "attack", "--set"]).stdout);
  key = keys.keys[0];
  worker = await startWorker({
    secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(keys), TOLLGATE_ADMIN_TOKEN: ADMIN, TOLLGATE_PEPPER: PEPPER },
    vars: {
      ORIGIN_URL: origin.url,
      TOLLGATE_CONFIG: JSON.stringify({
        issuer: ISSUER,
        audiences: ["demo"],
        tokenCookie: "tg_token",
        corsOrigins: ["https://app.test"],
        routes: [
          { prefix: "/public", auth: "public" },
          { prefix: "/api", scopes: ["read"] },
          { prefix: "/api/admin", scopes: ["admin"] },
          { prefix: "/app" },
        ],
        oauth: { sessionRoutes: ["/app"], passwordMemoryKib: 4096, passwordIterations: 1, maxFailures: 3 },
      }),
    },
    seed: kv.entries,
  });
});

after(async () => {
  await worker?.stop();
  origin?.server.close();
});

describe("paths: the gateway authorizes the path the origin acts on", () => {
  test("a read token never reaches /api/admin, however the path is spelled", async () => {
    const read = await sign({ scope: "read" });
    for (const target of ["/api/adm%69n", "/api/%61dmin", "/api//admin", "//api/admin", "/api/./admin", "/api/x/../admin", "/API/ADMIN", "/Api/Admin/users", "/api/ADM%49N"]) {
      const { result, received } = await atOrigin(() => raw(`GET ${target} HTTP/1.1`, { Authorization: `Bearer ${read}` }));
      assert.equal(result.status, 403, target);
      assert.equal(result.body.code, "ERR_INSUFFICIENT_SCOPE", target);
      assert.equal(received.length, 0, `${target}: nothing reached the origin`);
    }
  });

  test("an allowed request reaches the origin on its canonical path", async () => {
    const admin = await sign({ scope: "read admin" });
    const { result, received } = await atOrigin(() => raw("GET /api/adm%69n//users/./%7ebob?x=%2F HTTP/1.1", { Authorization: `Bearer ${admin}` }));
    assert.equal(result.status, 200);
    assert.equal(received.length, 1);
    assert.equal(received[0].target, "/api/admin/users/~bob?x=%2F", "canonical path, query as sent");
  });

  test("a leading // is not a network-path reference at the origin", async () => {
    const read = await sign({ scope: "read" });
    const { result, received } = await atOrigin(() => raw("GET //evil.example/api/admin HTTP/1.1", { Authorization: `Bearer ${read}` }));
    // Routed as /evil.example/api/admin (no rule: any valid token), and forwarded as that.
    assert.equal(result.status, 200);
    assert.equal(received[0].target, "/evil.example/api/admin");
    assert.equal(received[0].path, "/evil.example/api/admin");
  });

  test("ambiguous spellings are refused with 400 ERR_PATH_INVALID, with or without a token", async () => {
    const read = await sign({ scope: "read" });
    for (const target of [
      "/public/..%2fapi/admin",
      "/public/..%2Fapi/admin",
      "/public/..%5capi/admin",
      "/public/..;/api/admin",
      "/api;jsessionid=x/admin",
      "/public/x%00",
      "/public/x%0d%0aX-Injected:%201",
      "/public/%ff",
      "/public/%c3",
      "/public/%zz",
    ]) {
      for (const headers of [{}, { Authorization: `Bearer ${read}` }]) {
        const { result, received } = await atOrigin(() => raw(`GET ${target} HTTP/1.1`, headers));
        assert.equal(result.status, 400, target);
        assert.equal(result.body.code, "ERR_PATH_INVALID", target);
        assert.equal(received.length, 0, target);
      }
    }
  });

  test("dot segments cannot climb out of a public route", async () => {
    for (const target of ["/public/../api/admin", "/public/%2e%2e/api/admin", "/public/.%2E/api/admin", "/public\\..\\api\\admin"]) {
      const { result, received } = await atOrigin(() => raw(`GET ${target} HTTP/1.1`));
      assert.ok([400, 401].includes(result.status), `${target}: ${result.status}`);
      assert.equal(received.length, 0, target);
    }
  });

  test("public routes match their exact case only: a case variant needs a token", async () => {
    const { result, received } = await atOrigin(() => raw("GET /PUBLIC/docs HTTP/1.1"));
    assert.equal(result.status, 401);
    assert.equal(received.length, 0);
    const open = await atOrigin(() => raw("GET /public/d%6fcs HTTP/1.1"));
    assert.equal(open.result.status, 200);
    assert.equal(open.received[0].target, "/public/docs");
  });

  test("non-origin-form request-targets never reach the origin", async () => {
    // workerd answers these two itself before the worker runs: `OPTIONS *` cannot become a
    // request URL, and CONNECT is a `connect` event the worker does not export (500 from the
    // runtime, a known gap; docs/SECURITY.md). Nothing is forwarded.
    for (const line of ["CONNECT evil.example:443 HTTP/1.1", "OPTIONS * HTTP/1.1"]) {
      const { result, received } = await atOrigin(() => raw(line));
      assert.ok(result.status >= 400, `${line}: ${result.status}`);
      assert.equal(received.length, 0, line);
    }
    // Absolute-form: the runtime reduces it to its path; the gateway forwards to ORIGIN_URL
    // only, so the named host is never contacted and the path is routed like any other.
    const absolute = await atOrigin(() => raw("GET http://evil.example/api/admin HTTP/1.1"));
    assert.equal(absolute.result.status, 401);
    assert.equal(absolute.received.length, 0);
  });
});

describe("forwarded headers are the gateway's", () => {
  test("spoofed identity, routing overrides, addresses and Tollgate's credentials never reach the origin", async () => {
    const read = await sign({ scope: "read", sub: "alice" });
    const { result, received } = await atOrigin(() =>
      raw("GET /api/orders HTTP/1.1", {
        Authorization: `Bearer ${read}`,
        X_Tollgate_Sub: "mallory",
        "X-Tollgate_Scope": "admin",
        "X-Original-URL": "/api/admin",
        "X-Rewrite-URL": "/api/admin",
        "X-HTTP-Method-Override": "DELETE",
        "X-Forwarded-For": "10.9.8.7",
        "X-Forwarded-Host": "evil.example",
        Forwarded: "for=10.9.8.7;host=evil.example",
        "X-Real-IP": "10.9.8.7",
        "X-API-Key": apiKey,
        Cookie: "theme=dark; tg_session=tgs_stolen; tg_token=abc; __Host-tg_csrf=x",
        "X-Custom": "kept",
      }),
    );
    assert.equal(result.status, 200);
    const h = received[0].headers;
    assert.equal(h["x-tollgate-sub"], "alice");
    assert.equal(h["x-tollgate-scope"], "read");
    for (const name of ["x_tollgate_sub", "x-tollgate_scope", "x-original-url", "x-rewrite-url", "x-http-method-override", "x-real-ip", "x-api-key", "authorization"]) {
      assert.equal(h[name], undefined, name);
    }
    assert.equal(h.cookie, "theme=dark");
    assert.equal(h["x-forwarded-for"], "127.0.0.1", "from the connection, not the client");
    assert.equal(h["x-forwarded-host"], "tollgate.test", "the issuer's host");
    assert.equal(h.forwarded, 'for="127.0.0.1";host="tollgate.test";proto=http');
    assert.equal(h["x-custom"], "kept");
  });

  test("methods are forwarded unchanged; CONNECT, TRACE and TRACK are refused", async () => {
    const read = await sign({ scope: "read" });
    for (const method of ["PROPFIND", "MKCOL", "PATCH", "DELETE"]) {
      const { result, received } = await atOrigin(() => raw(`${method} /api/dav HTTP/1.1`, { Authorization: `Bearer ${read}` }));
      assert.equal(result.status, 200, method);
      assert.equal(received[0].method, method);
    }
    // The worker answers 405 to these; workerd refuses TRACE and TRACK itself (501) before
    // the worker runs. Either way they are never forwarded.
    for (const method of ["TRACE", "TRACK"]) {
      const { result, received } = await atOrigin(() => raw(`${method} /api/dav HTTP/1.1`, { Authorization: `Bearer ${read}` }));
      assert.ok([405, 501].includes(result.status), `${method}: ${result.status}`);
      assert.equal(received.length, 0, method);
    }
  });
});

async function token(params, auth = basic("svc", svcSecret), ip) {
  const headers = { Authorization: auth };
  if (ip) headers["CF-Connecting-IP"] = ip;
  const res = await worker.fetch("/token", form(params, headers));
  return { status: res.status, body: await res.json() };
}
const api = (tokenValue) => worker.fetch("/api/x", { headers: { Authorization: `Bearer ${tokenValue}` } });
const aliceGrant = () => token({ grant_type: "password", username: "alice", password: "correct horse battery", scope: "read" });

describe("revocation that revokes", () => {
  test("the operator revokes a refresh token: its family and every access token from it stop at once", async () => {
    const first = (await aliceGrant()).body;
    const second = (await token({ grant_type: "refresh_token", refresh_token: first.refresh_token })).body;
    assert.equal((await api(first.access_token)).status, 200);
    assert.equal((await api(second.access_token)).status, 200);
    const res = await worker.fetch("/revoke", form({ token: second.refresh_token }, adminHeaders));
    assert.equal(res.status, 200);
    for (const access of [first.access_token, second.access_token]) {
      const denied = await api(access);
      assert.equal(denied.status, 401);
      assert.equal((await denied.json()).code, "ERR_JWT_REVOKED");
    }
    const again = await token({ grant_type: "refresh_token", refresh_token: second.refresh_token });
    assert.equal(again.body.error, "invalid_grant");
  });

  test("refresh reuse revokes the thief's newer access tokens, not only the victim's old one", async () => {
    const victim = (await aliceGrant()).body;
    const rotated = (await token({ grant_type: "refresh_token", refresh_token: victim.refresh_token })).body;
    const thief = (await token({ grant_type: "refresh_token", refresh_token: rotated.refresh_token })).body;
    assert.equal((await api(thief.access_token)).status, 200);
    await new Promise((ok) => setTimeout(ok, 11_000)); // past the 10 s grace window
    const reuse = await token({ grant_type: "refresh_token", refresh_token: victim.refresh_token });
    assert.equal(reuse.body.error, "invalid_grant");
    for (const access of [victim.access_token, rotated.access_token, thief.access_token]) {
      assert.equal((await api(access)).status, 401);
    }
  });

  test("the operator ends sessions and API keys; their refusals have their own codes", async () => {
    assert.equal((await api(apiKey)).status, 200);
    const exchanged = (await token({}, `Bearer ${apiKey}`)).body.access_token;
    assert.equal((await api(exchanged)).status, 200);
    const revoked = await worker.fetch("/revoke", form({ token: apiKey }, adminHeaders));
    assert.equal(revoked.status, 200);
    const denied = await api(apiKey);
    assert.equal(denied.status, 401);
    assert.equal((await denied.json()).code, "ERR_API_KEY_INVALID");
    // The tokens exchanged for the key go with it (they lived out their 15 minutes before).
    const gone = await api(exchanged);
    assert.equal((await gone.json()).code, "ERR_JWT_REVOKED");

    const session = await login("alice", "correct horse battery");
    const app = () => worker.fetch("/app/home", { headers: { Cookie: `tg_session=${session}` } });
    assert.equal((await app()).status, 200);
    assert.equal((await worker.fetch("/revoke", form({ token: session }, adminHeaders))).status, 200);
    const ended = await app();
    assert.equal(ended.status, 401);
    assert.equal((await ended.json()).code, "ERR_SESSION_INVALID");
    // A session cookie that is no session id at all (its checksum fails, or another kind of
    // token) is refused as a session, not as an unknown API key (an outside run).
    for (const value of [`${session}x`, apiKey]) {
      const res = await worker.fetch("/app/home", { headers: { Cookie: `tg_session=${value}` } });
      assert.equal((await res.json()).code, "ERR_SESSION_INVALID", value);
    }
  });

  test("revoke-subject ends the subject's access tokens, sessions and refresh families", async () => {
    const grant = (await token({ grant_type: "password", username: "carol", password: "carol-password-1" })).body;
    const session = await login("carol", "carol-password-1");
    const sub = JSON.parse(Buffer.from(grant.access_token.split(".")[1], "base64url")).sub;
    await new Promise((ok) => setTimeout(ok, 1100)); // the cut-off is "issued at or before now"
    const res = await worker.fetch("/admin/revoke-subject", form({ sub }, adminHeaders));
    assert.equal(res.status, 200);
    assert.equal((await api(grant.access_token)).status, 401);
    assert.equal((await worker.fetch("/app/home", { headers: { Cookie: `tg_session=${session}` } })).status, 401);
    const refreshed = await token({ grant_type: "refresh_token", refresh_token: grant.refresh_token });
    assert.equal(refreshed.body.error, "invalid_grant", "no new access tokens from the old family");
  });

  test("a client may revoke only what was issued to it (RFC 7009 §2.1)", async () => {
    const mine = (await aliceGrant()).body;
    const stranger = await worker.fetch("/revoke", form({ token: mine.refresh_token, client_id: "spa" }));
    assert.equal(stranger.status, 400);
    assert.equal((await stranger.json()).error, "unauthorized_client");
    assert.equal((await api(mine.access_token)).status, 200, "still valid");
    const own = await worker.fetch("/revoke", form({ token: mine.refresh_token }, { Authorization: basic("svc", svcSecret) }));
    assert.equal(own.status, 200);
    assert.equal((await api(mine.access_token)).status, 401);
  });
});

async function login(username, password) {
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const query = new URLSearchParams({ client_id: "spa", redirect_uri: "https://spa.test/cb", response_type: "code", scope: "read", code_challenge: challenge, code_challenge_method: "S256" });
  const page = await worker.fetch(`/authorize?${query}`);
  const html = await page.text();
  const csrfCookie = page.headers.get("set-cookie").match(/tg_csrf=([^;]+)/)[1];
  const fields = Object.fromEntries([...html.matchAll(/name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1], m[2].replaceAll("&amp;", "&")]));
  const res = await worker.fetch("/authorize", form({ ...fields, action: "login", username, password }, { Cookie: `__Host-tg_csrf=${csrfCookie}` }));
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith("tg_session="));
  assert.ok(cookie, `login as ${username}: ${res.status}`);
  return cookie.split(";")[0].slice("tg_session=".length);
}

describe("lockouts nobody can turn against the owner", () => {
  // Distinct sources on the loopback network: plain HTTP is served only from loopback.
  test("an anonymous party's wrong secrets do not lock the client out", async () => {
    for (let i = 0; i < 6; i++) {
      const guess = await token({ grant_type: "client_credentials" }, basic("svc", "wrong-guess"), "127.51.100.9");
      assert.equal(guess.status, 401);
    }
    const guesser = await token({ grant_type: "client_credentials" }, basic("svc", svcSecret), "127.51.100.9");
    assert.equal(guesser.status, 401, "the guessing source waits");
    const owner = await token({ grant_type: "client_credentials" }, basic("svc", svcSecret), "127.0.2.44");
    assert.equal(owner.status, 200, "the owner elsewhere is served");
  });

  test("wrong passwords from one source do not lock the user out everywhere", async () => {
    const attempt = (password, ip) => token({ grant_type: "password", username: "alice", password }, basic("svc", svcSecret), ip);
    for (let i = 0; i < 4; i++) assert.equal((await attempt("nope-nope", "127.51.100.10")).body.error, "invalid_grant");
    assert.equal((await attempt("correct horse battery", "127.51.100.10")).body.error, "invalid_grant", "that source waits");
    assert.equal((await attempt("correct horse battery", "127.0.2.45")).status, 200, "alice elsewhere logs in");
  });
});

describe("explicit typing (RFC 9068 §2.1, §4; RFC 8725 §3.11)", () => {
  test("only at+jwt tokens with sub and jti are access tokens at the gateway", async () => {
    assert.equal((await api(await sign())).status, 200);
    for (const [name, make] of [
      ["typ JWT (an ID token, say)", () => sign({}, { typ: "JWT" })],
      ["no typ", () => sign({}, { typ: undefined })],
      ["no sub", () => sign({ sub: undefined })],
      ["no jti", () => sign({ jti: undefined })],
    ]) {
      const res = await api(await make());
      assert.equal(res.status, 401, name);
      assert.equal((await res.json()).code, "ERR_JWT_CLAIM_VALIDATION_FAILED", name);
    }
  });

  test("the CLI signs at+jwt by default, so its tokens pass the gateway", async () => {
    const { writeFileSync, mkdtempSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const file = join(mkdtempSync(join(tmpdir(), "tg-key-")), "key.json");
    writeFileSync(file, JSON.stringify({ keys: [key] }));
    const signed = cli(["sign", "--key", file, "--iss", ISSUER, "--aud", "demo", "--sub", "alice", "--scope", "read"]).stdout.trim();
    assert.equal(JSON.parse(Buffer.from(signed.split(".")[0], "base64url")).typ, "at+jwt");
    assert.equal((await api(signed)).status, 200);
  });
});

describe("the smaller items", () => {
  test("/healthz answers liveness only; details need the admin token", async () => {
    const open = await (await worker.fetch("/healthz")).json();
    assert.deepEqual(open, { status: "ok" });
    const details = await (await worker.fetch("/healthz", { headers: adminHeaders })).json();
    assert.equal(details.activeKid, "attack");
  });

  test("HSTS only over https; plain http from elsewhere is redirected to the issuer's host", async () => {
    assert.equal((await worker.fetch("/public/x")).headers.get("strict-transport-security"), null);
    assert.equal((await worker.fetch("/healthz")).headers.get("strict-transport-security"), null);
    // In plain workerd (Miniflare without wrangler's proxy), X-Forwarded-Proto tells the
    // runtime the client used https, as Cloudflare's edge does in production.
    const plain = await startWorkerd({
      secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify({ keys: [key] }) },
      vars: { ORIGIN_URL: origin.url, TOLLGATE_CONFIG: JSON.stringify({ issuer: ISSUER, routes: [{ prefix: "/public", auth: "public" }] }) },
    });
    try {
      for (const path of ["/public/x", "/healthz"]) {
        const secure = await plain.fetch(path, { headers: { "X-Forwarded-Proto": "https" } });
        assert.match(secure.headers.get("strict-transport-security") ?? "", /max-age=31536000/, path);
        assert.equal((await plain.fetch(path)).headers.get("strict-transport-security"), null, path);
      }
    } finally {
      await plain.stop();
    }
    const { result, received } = await atOrigin(() => raw("GET /api/x?a=1 HTTP/1.1", { "CF-Connecting-IP": "203.0.113.50", Host: "evil.example" }));
    assert.equal(result.status, 308);
    assert.equal(result.headers.location, "https://tollgate.test/api/x?a=1");
    assert.equal(received.length, 0);
    // The server's own endpoints too (RFC 6749 §3.1, §3.2): a password or a code in the clear
    // is refused, a page or a key set is redirected (an outside run signed in over plain HTTP).
    const remote = { "CF-Connecting-IP": "203.0.113.50", "Content-Type": "application/x-www-form-urlencoded" };
    for (const [line, body, status] of [
      ["POST /token HTTP/1.1", "grant_type=password&username=a&password=b", 403],
      ["POST /authorize HTTP/1.1", "action=login&username=a&password=b", 403],
      ["POST /logout HTTP/1.1", "", 403],
      ["GET /authorize?client_id=x HTTP/1.1", "", 308],
      ["GET /.well-known/jwks.json HTTP/1.1", "", 308],
      ["GET /.well-known/openid-configuration HTTP/1.1", "", 308],
    ]) {
      const answer = await raw(line, remote, body);
      assert.equal(answer.status, status, line);
      if (status === 403) assert.equal(answer.body.code, "ERR_HTTPS_REQUIRED", line);
    }
  });

  test("CORS: the preflight of /token, /revoke, the JWKS, both metadata documents and /userinfo answer only configured origins", async () => {
    // OpenID Connect Core §5.3: the UserInfo endpoint SHOULD support CORS; a browser relying
    // party discovers through openid-configuration (an outside run found both answering 405).
    // RFC 7009 §5: a single-page app revokes its tokens at sign-out (oidc-client-ts's
    // revokeTokens() failed on the preflight's 405 in an outside run).
    const paths = ["/token", "/revoke", "/.well-known/jwks.json", "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration", "/userinfo"];
    for (const path of paths) {
      const ok = await worker.fetch(path, { method: "OPTIONS", headers: { Origin: "https://app.test", "Access-Control-Request-Method": "POST" } });
      assert.equal(ok.status, 204, path);
      assert.equal(ok.headers.get("access-control-allow-origin"), "https://app.test", path);
      assert.equal(ok.headers.get("access-control-allow-credentials"), null, path);
      const other = await worker.fetch(path, { method: "OPTIONS", headers: { Origin: "https://evil.test", "Access-Control-Request-Method": "POST" } });
      assert.equal(other.headers.get("access-control-allow-origin"), null, path);
    }
    for (const path of ["/.well-known/jwks.json", "/.well-known/openid-configuration", "/userinfo"]) {
      const got = await worker.fetch(path, { headers: { Origin: "https://app.test" } });
      assert.equal(got.headers.get("access-control-allow-origin"), "https://app.test", path);
    }
    // A browser client reads the DPoP nonce to retry with (RFC 9449 §8) and the challenge.
    const token = await worker.fetch("/token", { method: "POST", headers: { Origin: "https://app.test", "Content-Type": "application/x-www-form-urlencoded" }, body: "grant_type=client_credentials" });
    assert.equal(token.headers.get("access-control-allow-origin"), "https://app.test");
    assert.equal(token.headers.get("access-control-expose-headers"), "DPoP-Nonce, WWW-Authenticate");
    const evil = await worker.fetch("/token", { method: "POST", headers: { Origin: "https://evil.test", "Content-Type": "application/x-www-form-urlencoded" }, body: "grant_type=client_credentials" });
    assert.equal(evil.headers.get("access-control-expose-headers"), null);
    const revoke = await worker.fetch("/revoke", { method: "POST", headers: { Origin: "https://app.test", "Content-Type": "application/x-www-form-urlencoded" }, body: "token=x" });
    assert.equal(revoke.headers.get("access-control-allow-origin"), "https://app.test");
    const evilRevoke = await worker.fetch("/revoke", { method: "POST", headers: { Origin: "https://evil.test", "Content-Type": "application/x-www-form-urlencoded" }, body: "token=x" });
    assert.equal(evilRevoke.headers.get("access-control-allow-origin"), null);
  });

  test("a form body over the limit is refused before it is read: a declared length unread, a chunked one at the limit", async () => {
    // Reading the whole body first let one 90 MiB form grow the issuer's memory by 200 MiB
    // (an outside run); here the bodies never end, so only a server that stops reading answers.
    // In workerd itself: wrangler dev's own proxy reads a request's body whole before passing
    // it on, which Cloudflare's network does not.
    const direct = await startWorkerd({
      secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify({ keys: [key] }), TOLLGATE_PEPPER: PEPPER },
      vars: { ORIGIN_URL: origin.url, TOLLGATE_CONFIG: JSON.stringify({ issuer: ISSUER, routes: [] }) },
    });
    const port = new URL(direct.url).port;
    const answer = (head, feed) =>
      new Promise((ok, fail) => {
        const socket = connect(Number(port), "127.0.0.1", () => {
          socket.write(`POST /token HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/x-www-form-urlencoded\r\n${head}\r\n`);
          feed(socket);
        });
        let text = "";
        const timer = setTimeout(() => { socket.destroy(); fail(new Error(`no answer: ${head.trim()}`)); }, 10_000);
        socket.on("data", (c) => {
          text += c.toString("latin1");
          if (text.includes("\r\n\r\n")) { clearTimeout(timer); socket.destroy(); ok(text.slice(0, text.indexOf("\r\n"))); }
        });
        socket.on("error", () => {});
      });
    try {
      const declared = await answer("Content-Length: 100000000\r\n", (socket) => socket.write("grant_type=client_credentials&scope="));
      assert.match(declared, /^HTTP\/1\.1 400/);
      const chunk = "a".repeat(4096);
      const chunked = await answer("Transfer-Encoding: chunked\r\n", (socket) => {
        const timer = setInterval(() => (socket.writable ? socket.write(`${(4096).toString(16)}\r\n${chunk}\r\n`) : clearInterval(timer)), 20);
        socket.on("close", () => clearInterval(timer));
      });
      assert.match(chunked, /^HTTP\/1\.1 400/);
      assert.equal((await direct.fetch("/healthz")).status, 200, "the next request is served");
    } finally {
      await direct.stop();
    }
  });

  test("a deployment signing with an HMAC secret advertises no OpenID Connect: its relying parties could not verify an ID token", async () => {
    const hmac = JSON.parse(cli(["keygen", "--alg", "HS256", "--set"]).stdout);
    const secretOnly = await startWorker({
      secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(hmac), TOLLGATE_PEPPER: PEPPER },
      vars: { ORIGIN_URL: origin.url, TOLLGATE_CONFIG: JSON.stringify({ issuer: ISSUER, routes: [{ prefix: "/api", scopes: ["read"] }] }) },
    });
    try {
      const metadata = await (await secretOnly.fetch("/.well-known/openid-configuration")).json();
      assert.deepEqual(metadata.id_token_signing_alg_values_supported, []);
      assert.deepEqual(metadata.scopes_supported, ["read"], "no openid, profile or email");
    } finally {
      await secretOnly.stop();
    }
  });

  test("invalid UTF-8 in a form is invalid_request, not silently replaced", async () => {
    for (const body of ["grant_type=client_credentials&scope=%FF", "grant_type=client_credentials&scope=\xff"]) {
      const res = await raw("POST /token HTTP/1.1", { Authorization: basic("svc", svcSecret), "Content-Type": "application/x-www-form-urlencoded" }, body);
      assert.equal(res.status, 400, body);
      assert.equal(res.body.error, "invalid_request", body);
    }
  });

  test("the login form's CSRF value must be one the server issued, not any equal cookie/form pair", async () => {
    const query = new URLSearchParams({ client_id: "spa", redirect_uri: "https://spa.test/cb", response_type: "code", scope: "read", code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", code_challenge_method: "S256" });
    const html = await (await worker.fetch(`/authorize?${query}`)).text();
    const fields = Object.fromEntries([...html.matchAll(/name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1], m[2].replaceAll("&amp;", "&")]));
    for (const planted of ["attacker-chosen", "nonce.forgedmac", fields.csrf.split(".")[0] + ".AAAA"]) {
      const res = await worker.fetch("/authorize", form({ ...fields, csrf: planted, action: "login", username: "alice", password: "correct horse battery" }, { Cookie: `__Host-tg_csrf=${planted}` }));
      assert.equal(res.headers.getSetCookie().find((c) => c.startsWith("tg_session=")), undefined, planted);
      assert.match(await res.text(), /expired or was not sent from this site/, planted);
    }
  });

  test("the metadata does not advertise JWT client authentication", async () => {
    const meta = await (await worker.fetch("/.well-known/oauth-authorization-server")).json();
    assert.equal(meta.token_endpoint_auth_signing_alg_values_supported, undefined);
  });
});

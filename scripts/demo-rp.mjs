// A small OpenID Connect relying party: an unmodified openid-client app that signs its users
// in with Tollgate (discovery, code + PKCE + nonce, ID token checked by the library, userinfo)
// and signs them out through Tollgate's end-session endpoint. scripts/dev runs two of them, so
// single sign-on can be seen in a browser; the browser tests run the same code.
//
// Its own session is a cookie naming an in-memory record of the tokens. Every page view asks
// Tollgate's /userinfo with the access token (refreshing once if it expired), so a sign-out at
// another relying party, which revokes this session's grant, shows here at the next view; and
// a relying party registered with a back-channel logout URI (scripts/dev registers
// /backchannel-logout) drops its sessions of a signed-out user at once, on Tollgate's logout
// token (OpenID Connect Back-Channel Logout 1.0 §2.6), checked with jose.
import { createServer } from "node:http";
import { randomBytes } from "node:crypto";
import * as oidc from "openid-client";
import { createRemoteJWKSet, jwtVerify } from "jose";

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function startRelyingParty({ issuer, clientId, clientSecret, name, port = 0, host = "127.0.0.1" }) {
  // Cookies do not separate ports: each relying party on 127.0.0.1 needs its own cookie name.
  const cookieName = `rp_${clientId.replace(/[^A-Za-z0-9]/g, "_")}`;
  const sessions = new Map();
  const pending = new Map();
  let config;
  let logoutKeys;
  const discover = async () =>
    (config ??= await oidc.discovery(new URL(issuer), clientId, clientSecret, undefined, {
      execute: issuer.startsWith("http://") ? [oidc.allowInsecureRequests] : [],
    }));

  const page = (res, status, body, headers = {}) => {
    res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", ...headers });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(name)}</title></head>
<body style="font:16px system-ui,sans-serif;max-width:32rem;margin:3rem auto"><h1>${escape(name)}</h1>${body}</body></html>`);
  };
  const redirect = (res, location, headers = {}) => {
    res.writeHead(303, { location, "cache-control": "no-store", ...headers });
    res.end();
  };
  const cookie = (req) =>
    (req.headers.cookie ?? "").split(";").map((c) => c.trim().split("=")).find(([k]) => k === cookieName)?.[1];

  /** The signed-in user's claims from /userinfo, refreshing the tokens once; null when over. */
  async function currentUser(session) {
    const config = await discover();
    try {
      return await oidc.fetchUserInfo(config, session.tokens.access_token, session.sub);
    } catch {
      try {
        session.tokens = await oidc.refreshTokenGrant(config, session.tokens.refresh_token);
        return await oidc.fetchUserInfo(config, session.tokens.access_token, session.sub);
      } catch {
        return null;
      }
    }
  }

  async function handle(req, res, base) {
    const url = new URL(req.url, base);
    const id = cookie(req);
    const session = id && sessions.get(id);
    if (url.pathname === "/") {
      const user = session && (await currentUser(session));
      if (!user) {
        if (id) sessions.delete(id);
        return page(res, 200, `<p id="status">Not signed in.</p><p><a id="login" href="/login">Sign in with Tollgate</a></p>`);
      }
      return page(
        res,
        200,
        `<p id="status">Signed in as <strong id="user">${escape(user.preferred_username ?? user.sub)}</strong>${user.email ? ` (${escape(user.email)})` : ""}.</p>
<p>ID token: <code>sub</code> ${escape(session.claims.sub)}, <code>auth_time</code> ${escape(session.claims.auth_time)}</p>
<p><a id="logout" href="/logout">Sign out everywhere</a></p>`,
      );
    }
    if (url.pathname === "/login") {
      const config = await discover();
      const state = oidc.randomState();
      const verifier = oidc.randomPKCECodeVerifier();
      const nonce = oidc.randomNonce();
      pending.set(state, { verifier, nonce });
      setTimeout(() => pending.delete(state), 600_000).unref();
      const target = oidc.buildAuthorizationUrl(config, {
        redirect_uri: `${base}/callback`,
        scope: "openid profile email",
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: "S256",
        state,
        nonce,
      });
      return redirect(res, target.href);
    }
    if (url.pathname === "/callback") {
      const expected = pending.get(url.searchParams.get("state"));
      if (!expected) return page(res, 400, `<p id="status">Unknown or expired sign-in; <a href="/login">start again</a>.</p>`);
      pending.delete(url.searchParams.get("state"));
      try {
        const tokens = await oidc.authorizationCodeGrant(await discover(), url, {
          pkceCodeVerifier: expected.verifier,
          expectedNonce: expected.nonce,
          expectedState: url.searchParams.get("state"),
          idTokenExpected: true,
        });
        const claims = tokens.claims();
        const sid = randomBytes(24).toString("base64url");
        sessions.set(sid, { tokens, claims, sub: claims.sub });
        return redirect(res, "/", { "set-cookie": `${cookieName}=${sid}; Path=/; HttpOnly; SameSite=Lax` });
      } catch (err) {
        return page(res, 400, `<p id="status">Sign-in failed: ${escape(err.error ?? err.message)}</p>`);
      }
    }
    if (url.pathname === "/backchannel-logout" && req.method === "POST") {
      // §2.6: signed by the issuer, for this client, explicitly typed, with the logout event,
      // a sid or sub, and no nonce; then every local session of that sid ends (§2.7).
      let body = "";
      for await (const chunk of req) body += chunk;
      const config = await discover();
      const jwks = (logoutKeys ??= createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri)));
      try {
        const token = new URLSearchParams(body).get("logout_token") ?? "";
        const { payload } = await jwtVerify(token, jwks, { issuer: config.serverMetadata().issuer, audience: clientId, typ: "logout+jwt", maxTokenAge: "2 minutes" });
        if (!payload.events?.["http://schemas.openid.net/event/backchannel-logout"] || payload.nonce !== undefined || !payload.sid) throw new Error("not a logout token");
        for (const [id, s] of sessions) if (s.claims.sid === payload.sid) sessions.delete(id);
        res.writeHead(200, { "cache-control": "no-store" }).end();
      } catch {
        res.writeHead(400, { "cache-control": "no-store" }).end();
      }
      return;
    }
    if (url.pathname === "/logout") {
      if (id) sessions.delete(id);
      const clear = { "set-cookie": `${cookieName}=; Path=/; Max-Age=0` };
      if (!session) return redirect(res, "/", clear);
      const target = oidc.buildEndSessionUrl(await discover(), {
        id_token_hint: session.tokens.id_token,
        post_logout_redirect_uri: `${base}/`,
      });
      return redirect(res, target.href, clear);
    }
    page(res, 404, "<p>Not found.</p>");
  }

  return new Promise((ok) => {
    const server = createServer((req, res) => {
      const base = `http://${host}:${server.address().port}`;
      handle(req, res, base).catch((err) => page(res, 502, `<p id="status">Tollgate is not reachable: ${escape(err.message)}</p>`));
    });
    server.listen(port, host, () => ok({ server, url: `http://${host}:${server.address().port}` }));
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // scripts/dev: the two demo relying parties seeded in .tollgate/demo.json.
  const { readFileSync } = await import("node:fs");
  const demo = JSON.parse(readFileSync(".tollgate/demo.json", "utf8"));
  const issuer = process.env.TOLLGATE_ISSUER ?? "http://127.0.0.1:8787";
  for (const rp of demo.relyingParties) {
    const { url } = await startRelyingParty({ issuer, clientId: rp.client_id, clientSecret: rp.client_secret, name: rp.name, port: rp.port });
    console.error(`[demo-rp] ${rp.name} (${rp.client_id}) on ${url}`);
  }
}

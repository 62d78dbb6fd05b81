// The comparison server for bench/token-endpoint.mjs: Cloudflare's @cloudflare/workers-oauth-provider
// (1.2.3, pinned in package.json) as one ES module worker with a KV namespace bound as OAUTH_KV.
// bench/token-endpoint.mjs bundles it with esbuild into bench/out/oauth-provider-worker.js.
//
// The library owns the token endpoint (/token) and dynamic client registration (/register); the
// application owns /authorize. Here /authorize signs in a fixed test user with no page at all:
// it validates the request (parseAuthRequest: client, exact redirect URI, PKCE S256) and completes
// the authorization at once, answering 302 to the redirect URI with the code, so the benchmark can
// obtain codes without a browser. Nothing here is on the timed path except the library itself.
import { OAuthProvider, AuthorizationError } from "@cloudflare/workers-oauth-provider";

const USER = "alice";

const defaultHandler = {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname !== "/authorize" || request.method !== "GET") return new Response("not found", { status: 404 });
    try {
      const authRequest = await env.OAUTH_PROVIDER.parseAuthRequest(request);
      const { redirectTo } = await env.OAUTH_PROVIDER.completeAuthorization({
        request: authRequest,
        userId: USER,
        metadata: {},
        scope: authRequest.scope,
        props: { userId: USER },
        // The benchmark holds many unexchanged codes and live refresh tokens of one user and
        // client at once; the default would revoke every earlier grant on each new code.
        revokeExistingGrants: false,
      });
      return new Response(null, { status: 302, headers: { Location: redirectTo } });
    } catch (error) {
      if (error instanceof AuthorizationError) return new Response(`${error.code}: ${error.description}`, { status: 400 });
      throw error;
    }
  },
};

const apiHandler = {
  fetch: (request, env, ctx) => Response.json({ userId: ctx.props.userId }),
};

export default new OAuthProvider({
  apiRoute: "/api/",
  apiHandler,
  defaultHandler,
  authorizeEndpoint: "/authorize",
  tokenEndpoint: "/token",
  clientRegistrationEndpoint: "/register",
  scopesSupported: ["read"],
  // Required since 1.0: every grant and access token is bound to one canonical resource.
  resourceMetadata: { resource: "https://bench.test/api" },
});

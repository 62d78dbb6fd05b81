import type { JWK, JWKSet, JWTPayload, RemoteJWKSet, TollgateError } from "tollgate";

/** Every name and value is checked: an unknown name (`scope` for `scopes`), an empty string or
 * an empty list is a TypeError, never a check quietly dropped. */
export interface AuthenticateOptions {
  /** The Tollgate deployment's issuer. */
  issuer: string;
  /** Its public keys: a JWK Set, or createRemoteJWKSet(issuer + "/.well-known/jwks.json"). */
  jwks: JWKSet | JWK | string | RemoteJWKSet;
  /** Accept the gateway's X-Tollgate-Assertion addressed to `audience` (this origin, not empty). */
  assertion?: { audience: string };
  /**
   * Accept a Tollgate access token (`Authorization: Bearer`): `{}` for any audience, else
   * `audience` (a name or a non-empty list); `typ` defaults to "at+jwt".
   */
  token?: { audience?: string | string[]; typ?: string };
  /** Scopes the caller must all have (else 403 insufficient_scope); leave it out for none. */
  scopes?: string[];
}

export interface Identity {
  sub?: string;
  scope: string;
  scopes: string[];
  clientId?: string;
  /**
   * The issuer of the token the caller presented: the deployment's own, or an external issuer
   * the gateway trusts. `sub` is unique only within it (RFC 7519 §4.1.2): key users by both.
   * Absent in assertions from gateways before session 22.
   */
  issuer?: string;
  /** "jwt", "DPoP", "api_key", "session" (as the gateway saw it), or "jwt" for a direct token. */
  tokenType?: string;
  /** Which source proved it. */
  via: "assertion" | "token";
  payload: JWTPayload;
}

/** The identity, or throws a TollgateError. */
export declare function identify(request: Request | { method: string; headers: Record<string, string | string[] | undefined>; url?: string }, options: AuthenticateOptions): Promise<Identity>;
/** The identity, or the gateway's refusal as a ready 401/403 Response. */
export declare function authenticate(request: Request, options: AuthenticateOptions): Promise<Identity | Response>;
/** The gateway's refusal for a TollgateError: status, headers, JSON body. */
export declare function refusalOf(err: TollgateError, options?: AuthenticateOptions): { status: number; headers: Record<string, string>; body: unknown };

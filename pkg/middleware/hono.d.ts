import type { MiddlewareHandler } from "hono";
import type { AuthenticateOptions, Identity } from "./fetch.js";
/** Hono middleware: `c.get("auth")` is the Identity; refusals are the gateway's. Throws a
 * TypeError for options it cannot use (an unknown name, an empty audience or scope list). */
export declare function tollgate(options: AuthenticateOptions): MiddlewareHandler<{ Variables: { auth: Identity } }>;
// `c.get("auth")` typed on any app, `new Hono()` included, as Hono's own middleware types theirs.
declare module "hono" {
  interface ContextVariableMap {
    auth: Identity;
  }
}

import type { MiddlewareHandler } from "hono";
import type { AuthenticateOptions, Identity } from "./fetch.js";
/** Hono middleware: `c.get("auth")` is the Identity; refusals are the gateway's. */
export declare function tollgate(options: AuthenticateOptions): MiddlewareHandler<{ Variables: { auth: Identity } }>;

// Tollgate for Hono: `app.use("/api/*", tollgate(options))`; the identity is `c.get("auth")`.
// Options as for `authenticate` (tollgate/fetch); a refusal is the gateway's own answer.
import { authenticate, checkOptions } from "./fetch.js";

export function tollgate(options) {
  checkOptions(options);
  return async (c, next) => {
    const auth = await authenticate(c.req.raw, options);
    if (auth instanceof Response) return auth;
    c.set("auth", auth);
    await next();
  };
}

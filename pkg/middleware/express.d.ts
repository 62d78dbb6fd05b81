import type { AuthenticateOptions, Identity } from "./fetch.js";
/** Express/Connect middleware: `req.auth` is the Identity; refusals are the gateway's. */
export declare function tollgate(options: AuthenticateOptions): (req: any, res: any, next: (err?: unknown) => void) => void;
declare global {
  namespace Express {
    interface Request {
      auth?: Identity;
    }
  }
}

// Tollgate for Express and Connect: `app.use(tollgate(options))`; the identity is `req.auth`.
// Options as for `authenticate` (tollgate/fetch); a refusal is the gateway's own answer. The
// request URL is rebuilt from `req.protocol` and `Host`, so behind another proxy set Express's
// "trust proxy" as usual. `X-Forwarded-Host` is not read, trusted or not: the gateway sets it to
// its own public host, while the assertion names the URL it fetched (its ORIGIN_URL), which
// arrives as `Host`.
import { checkOptions, identify, refusalOf } from "./fetch.js";
import { TollgateError } from "tollgate";

export function tollgate(options) {
  checkOptions(options);
  return (req, res, next) => {
    identify(req, options).then(
      (auth) => {
        req.auth = auth;
        next();
      },
      (err) => {
        if (!(err instanceof TollgateError)) return next(err);
        const { status, headers, body } = refusalOf(err, options);
        res.writeHead(status, headers);
        res.end(JSON.stringify(body));
      },
    );
  };
}

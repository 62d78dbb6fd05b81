// A tiny origin for local development and tests: it answers every request with what it
// received (method, path, query, headers, body), so the gateway's work can be seen.
import { createServer } from "node:http";

export function startOrigin(port = 0, host = "127.0.0.1") {
  const requests = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url, "http://origin");
      const seen = {
        method: req.method,
        // The request-target exactly as it arrived, and the path as a WHATWG URL reads it.
        target: req.url,
        path: url.pathname,
        query: url.search,
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      requests.push(seen);
      res.writeHead(200, { "content-type": "application/json", "x-origin": "demo" });
      res.end(JSON.stringify({ origin: "tollgate demo origin", received: seen }, null, 2));
    });
  });
  return new Promise((ok) =>
    server.listen(port, host, () => ok({ server, requests, url: `http://${host}:${server.address().port}` })),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.env.ORIGIN_PORT ?? 8788);
  const { url } = await startOrigin(port);
  console.error(`[demo-origin] echoing requests on ${url}`);
}

// A bounded loopback load test against the local worker in workerd: many concurrent clients
// mixing valid, expired, tampered and revoked tokens, token-endpoint calls and revocations.
// Every response is checked against the decision it must have; any 5xx or wrong decision is
// counted. Memory of workerd is sampled. Used by tests/e2e/load.test.mjs (short form) and
//   node tests/load/load.mjs --clients 200 --seconds 60      (the full run)
import http from "node:http";
import { performance } from "node:perf_hooks";
import { SignJWT, importJWK } from "jose";
import { cli, kvSeed, startWorker } from "../e2e/harness.mjs";
import { startOrigin } from "../../scripts/demo-origin.mjs";

const ISSUER = "https://load.test";
const ADMIN = "admin-token-for-tests-only-load-0123456789";
const PEPPER = "pepper-for-tests-only-0123456789abcdef";

export async function runLoad({ clients = 200, seconds = 60 } = {}) {
  const origin = await startOrigin();
  origin.requests.push = () => 0; // the origin keeps nothing during load
  const kv = kvSeed(PEPPER);
  const { pepperFile } = kv;
  const add = kv.add;
  const service = add(["client", "add", "--id", "svc", "--grant", "client_credentials", "--scopes", "read", "--pepper-from", pepperFile]);
  const keys = JSON.parse(cli(["keygen", "--alg", "ES256", "--kid", "k", "--set"]).stdout);
  const worker = await startWorker({
    secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(keys), TOLLGATE_ADMIN_TOKEN: ADMIN, TOLLGATE_PEPPER: PEPPER },
    vars: { ORIGIN_URL: origin.url, TOLLGATE_CONFIG: JSON.stringify({ issuer: ISSUER, audiences: ["demo"], routes: [{ prefix: "/api", scopes: ["read"] }] }) },
    seed: kv.entries,
  });
  const key = await importJWK(keys.keys[0], "ES256");
  const t = () => Math.floor(Date.now() / 1000);
  const sign = (claims = {}) =>
    new SignJWT({ iss: ISSUER, aud: "demo", sub: "user", scope: "read", jti: crypto.randomUUID(), iat: t(), exp: t() + 900, ...claims })
      .setProtectedHeader({ alg: "ES256", kid: "k", typ: "at+jwt" })
      .sign(key);
  const valid = await Promise.all(Array.from({ length: 50 }, () => sign()));
  const expired = await sign({ iat: t() - 1000, exp: t() - 100 });
  const [h, p, s] = valid[0].split(".");
  const tampered = `${h}.${p}.${s[0] === "A" ? "B" : "A"}${s.slice(1)}`;
  const basic = `Basic ${Buffer.from(`svc:${service.client_secret}`).toString("base64")}`;

  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const url = new URL(worker.url);
  const send = (method, path, headers = {}, body) =>
    new Promise((ok, fail) => {
      const started = performance.now();
      const req = http.request({ host: url.hostname, port: url.port, method, path, agent, headers }, (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => ok({ status: res.statusCode, body: Buffer.concat(chunks).toString(), ms: performance.now() - started }));
      });
      req.on("error", fail);
      req.setTimeout(30_000, () => req.destroy(new Error("timeout")));
      if (body) req.write(body);
      req.end();
    });
  const code = (r) => {
    try {
      return JSON.parse(r.body).code;
    } catch {
      return undefined;
    }
  };

  const stats = { requests: 0, fiveHundreds: 0, wrong: [], latencies: [], errors: 0, kinds: {} };
  const memory = [worker.rssKiB()];
  const revoked = [];
  const deadline = Date.now() + seconds * 1000;

  // Each action sends one request and says whether the decision was right.
  const actions = [
    ["valid", 40, async () => {
      const r = await send("GET", "/api/x", { authorization: `Bearer ${valid[Math.floor(Math.random() * valid.length)]}` });
      return [r, r.status === 200];
    }],
    ["expired", 10, async () => {
      const r = await send("GET", "/api/x", { authorization: `Bearer ${expired}` });
      return [r, r.status === 401 && code(r) === "ERR_JWT_EXPIRED"];
    }],
    ["tampered", 10, async () => {
      const r = await send("GET", "/api/x", { authorization: `Bearer ${tampered}` });
      return [r, r.status === 401 && code(r) === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"];
    }],
    ["revoked", 10, async () => {
      if (revoked.length === 0) return [null, true];
      const r = await send("GET", "/api/x", { authorization: `Bearer ${revoked[Math.floor(Math.random() * revoked.length)]}` });
      return [r, r.status === 401 && code(r) === "ERR_JWT_REVOKED"];
    }],
    ["token endpoint", 15, async () => {
      const r = await send("POST", "/token", { authorization: basic, "content-type": "application/x-www-form-urlencoded" }, "grant_type=client_credentials");
      return [r, r.status === 200 && JSON.parse(r.body).token_type === "Bearer"];
    }],
    ["revocation", 5, async () => {
      const fresh = await sign();
      const first = await send("GET", "/api/x", { authorization: `Bearer ${fresh}` });
      const r = await send("POST", "/revoke", { authorization: `Bearer ${ADMIN}`, "content-type": "application/x-www-form-urlencoded" }, `token=${fresh}`);
      if (first.status === 200 && r.status === 200) revoked.push(fresh);
      return [r, first.status === 200 && r.status === 200];
    }],
  ];
  const weights = actions.flatMap(([, w], i) => Array(w).fill(i));

  const sampler = setInterval(() => memory.push(worker.rssKiB()), 2000);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (Date.now() < deadline) {
        const [kind, , act] = actions[weights[Math.floor(Math.random() * weights.length)]];
        try {
          const [r, right] = await act();
          if (!r) continue;
          stats.requests += 1;
          stats.kinds[kind] = (stats.kinds[kind] ?? 0) + 1;
          stats.latencies.push(r.ms);
          if (r.status >= 500) stats.fiveHundreds += 1;
          if (!right && stats.wrong.length < 20) stats.wrong.push(`${kind}: ${r.status} ${r.body.slice(0, 120)}`);
          else if (!right) stats.wrong.push(kind);
        } catch (err) {
          stats.errors += 1;
        }
      }
    }),
  );
  clearInterval(sampler);
  const isolate = JSON.parse((await send("GET", "/healthz", { authorization: `Bearer ${ADMIN}` })).body).isolate;
  const elapsed = (performance.now() - started) / 1000;
  memory.push(worker.rssKiB());
  agent.destroy();
  await worker.stop();
  origin.server.close();
  stats.latencies.sort((a, b) => a - b);
  const q = (f) => stats.latencies[Math.min(stats.latencies.length - 1, Math.floor(f * stats.latencies.length))] ?? 0;
  const third = Math.max(1, Math.floor(memory.length / 3));
  const avg = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    clients,
    seconds: Math.round(elapsed),
    requests: stats.requests,
    rps: Math.round(stats.requests / elapsed),
    p50: Number(q(0.5).toFixed(1)),
    p99: Number(q(0.99).toFixed(1)),
    fiveHundreds: stats.fiveHundreds,
    wrongDecisions: stats.wrong.length,
    wrongSamples: stats.wrong.slice(0, 5),
    clientErrors: stats.errors,
    kinds: stats.kinds,
    isolate,
    memoryKiB: { first: memory[0], early: Math.round(avg(memory.slice(0, third))), late: Math.round(avg(memory.slice(-third))), peak: Math.max(...memory) },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(`--${name}`);
    return i === -1 ? fallback : Number(process.argv[i + 1]);
  };
  const result = await runLoad({ clients: arg("clients", 200), seconds: arg("seconds", 60) });
  console.log(JSON.stringify(result, null, 2));
  process.exitCode = result.fiveHundreds === 0 && result.wrongDecisions === 0 && result.clientErrors === 0 ? 0 : 1;
}

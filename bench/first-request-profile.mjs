// Where a cold worker's first request spends its time inside workerd: a V8 CPU profile of that
// one request, taken through Miniflare's inspector with the Profiler domain alone (enabling the
// Debugger would put wasm in its debug tier). Self time by function, JS and wasm; on a build
// with names (`scripts/build-worker --names`) wasm functions carry their Rust names.
//   node bench/first-request-profile.mjs [build dir of one worker; default: the guard and issuer of build/] [jwks|gateway] [--top 30]
// `jwks` is GET /.well-known/jwks.json; `gateway` a first-sight ES256 token on a protected
// route, forwarded to a local origin. The profile is also written to
// bench/out/first-request.cpuprofile (Chrome DevTools opens it). BENCHMARKS.md §4 reads one.
import { createServer } from "node:http";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { SignJWT, importJWK } from "jose";
import { startWorkerd } from "./workerd.mjs";
import { cli, ROOT } from "../tests/e2e/harness.mjs";

const args = process.argv.slice(2);
const topAt = args.indexOf("--top");
const top = topAt === -1 ? 30 : Number(args[topAt + 1]);
const positional = args.filter((a, i) => a !== "--top" && args[i - 1] !== "--top");
const [dir, kind = "jwks"] = ["jwks", "gateway"].includes(positional[0]) ? [undefined, ...positional] : positional;
if (!["jwks", "gateway"].includes(kind)) throw new Error("the request is jwks or gateway");

const origin = createServer((req, res) => res.end("ok")).listen(0, "127.0.0.1");
await new Promise((ok) => origin.on("listening", ok));
const keys = JSON.parse(cli(["keygen", "--alg", "ES256", "--kid", "k1", "--set"]).stdout);
const config = { issuer: "https://bench.test", audiences: ["demo"], consistency: "kv", logDecisions: "none", routes: [{ prefix: "/api" }] };
const inspectorPort = 9300 + Math.floor(Math.random() * 600);
const worker = await startWorkerd({
  ...(dir ? { main: join(resolve(dir), "index.js") } : {}),
  secrets: { TOLLGATE_SIGNING_KEYS: JSON.stringify(keys) },
  vars: kind === "gateway" ? { TOLLGATE_CONFIG: JSON.stringify(config), ORIGIN_URL: `http://127.0.0.1:${origin.address().port}` } : {},
  inspectorPort,
});

// The worker's isolate is the inspector target that is not Miniflare's own.
const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
const target = targets.find((t) => !/internal|miniflare/i.test(`${t.title} ${t.url}`)) ?? targets[0];
const socket = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((ok) => socket.addEventListener("open", ok));
let lastId = 0;
const waiting = new Map();
socket.addEventListener("message", (event) => {
  const message = JSON.parse(event.data);
  waiting.get(message.id)?.(message.result);
  waiting.delete(message.id);
});
const send = (method, params = {}) => new Promise((ok) => {
  waiting.set(++lastId, ok);
  socket.send(JSON.stringify({ id: lastId, method, params }));
});

const key = await importJWK(keys.keys[0], "ES256");
const token = await new SignJWT({ scope: "read" }).setProtectedHeader({ alg: "ES256", kid: "k1", typ: "at+jwt" }).setIssuer(config.issuer).setAudience("demo").setSubject("alice").setJti(crypto.randomUUID()).setIssuedAt().setExpirationTime("10m").sign(key);
await send("Profiler.enable");
await send("Profiler.setSamplingInterval", { interval: 50 });
await send("Profiler.start");
const started = performance.now();
const response = kind === "gateway" ? await worker.fetch("/api/x", { headers: { authorization: `Bearer ${token}` } }) : await worker.fetch("/.well-known/jwks.json");
await response.text();
const took = performance.now() - started;
const { profile } = await send("Profiler.stop");
socket.close();
await worker.stop();
origin.close();

mkdirSync(join(ROOT, "bench/out"), { recursive: true });
writeFileSync(join(ROOT, "bench/out/first-request.cpuprofile"), JSON.stringify(profile));
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map();
let total = 0;
// timeDeltas[i] is the time from sample i - 1 to sample i: each sample owns the interval that
// follows it (as DevTools counts), or an idle wait would be charged to whatever ran next.
profile.samples.forEach((id, i) => {
  const { functionName, url } = nodes.get(id).callFrame;
  const name = `${url.includes("wasm") ? "wasm " : ""}${functionName || "(anonymous)"}`;
  const dt = profile.timeDeltas[i + 1] ?? 0;
  self.set(name, (self.get(name) ?? 0) + dt);
  total += dt;
});
console.log(`### First request in workerd: ${kind} (${dir ?? "the guard, with the issuer behind it"})\n`);
console.log(`HTTP ${response.status} in ${took.toFixed(1)} ms; the profile covers ${(total / 1000).toFixed(1)} ms in ${profile.samples.length} samples.\n`);
console.log("| self ms | function |\n|---|---|");
for (const [name, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`| ${(us / 1000).toFixed(2)} | ${name.replace(/\|/g, "\\|").slice(0, 140)} |`);

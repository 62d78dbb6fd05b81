// Benchmark: the npm package against jose in one Node process, verify and sign ops/s for HS256,
// RS256, ES256 and EdDSA, plus the package's gzip size. Prints a Markdown table.
//   node bench/pkg.mjs [--seconds 1] [--rounds 3]
// Runs are interleaved (ours, jose, ours, …) and the median round is reported.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import * as jose from "jose";
import * as tollgate from "../tests/pkg/node_modules/tollgate/entries/node.js";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const SECONDS = arg("seconds", 1);
const ROUNDS = arg("rounds", 3);

async function opsPerSecond(fn) {
  for (let i = 0; i < 50; i++) await fn(); // warm up
  let n = 0;
  const start = performance.now();
  const end = start + SECONDS * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 20; i++) await fn();
    n += 20;
  }
  return n / ((performance.now() - start) / 1000);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function keysFor(alg) {
  const opts = alg === "RS256" ? { modulusLength: 2048, extractable: true } : { extractable: true };
  if (alg === "HS256") {
    const { privateJwk } = tollgate.generateKeyPair("HS256");
    const key = await jose.importJWK(privateJwk, alg);
    return { ourPrivate: privateJwk, ourPublic: privateJwk, josePrivate: key, josePublic: key };
  }
  const { privateKey, publicKey } = await jose.generateKeyPair(alg, opts);
  return {
    ourPrivate: { ...(await jose.exportJWK(privateKey)), alg, kid: "k" },
    ourPublic: { ...(await jose.exportJWK(publicKey)), alg, kid: "k" },
    josePrivate: privateKey,
    josePublic: publicKey,
  };
}

const rows = [];
for (const alg of ["HS256", "RS256", "ES256", "EdDSA"]) {
  const k = await keysFor(alg);
  const token = tollgate.sign({ scope: "read" }, k.ourPrivate, { issuer: "https://i", audience: "api", subject: "alice" });
  const verifier = new tollgate.Verifier({ keys: [k.ourPublic] }, { issuer: "https://i", audience: "api" });
  const opts = { issuer: "https://i", audience: "api", algorithms: [alg] };
  const results = { ours: [], jose: [], oursSign: [], joseSign: [] };
  for (let r = 0; r < ROUNDS; r++) {
    results.ours.push(await opsPerSecond(() => verifier.verify(token)));
    results.jose.push(await opsPerSecond(() => jose.jwtVerify(token, k.josePublic, opts)));
    results.oursSign.push(await opsPerSecond(() => tollgate.sign({ scope: "read" }, k.ourPrivate, { issuer: "https://i" })));
    results.joseSign.push(
      await opsPerSecond(() => new jose.SignJWT({ scope: "read" }).setProtectedHeader({ alg }).setIssuer("https://i").setIssuedAt().setExpirationTime("15m").sign(k.josePrivate)),
    );
  }
  rows.push({ alg, ...Object.fromEntries(Object.entries(results).map(([k2, v]) => [k2, median(v)])) });
}

const fmt = (n) => (n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : n >= 1000 ? `${(n / 1000).toFixed(2)}k` : n.toFixed(0));
console.log(`\nNode ${process.version}, ${SECONDS}s × ${ROUNDS} interleaved rounds, median; verify = signature + exp + iss + aud\n`);
console.log("| alg | tollgate Verifier.verify | jose jwtVerify (awaited) | ratio | tollgate sign | jose SignJWT | ratio |");
console.log("|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(`| ${r.alg} | ${fmt(r.ours)} | ${fmt(r.jose)} | ${(r.ours / r.jose).toFixed(2)}× | ${fmt(r.oursSign)} | ${fmt(r.joseSign)} | ${(r.oursSign / r.joseSign).toFixed(2)}× |`);
}

const pkgDir = new URL("../pkg/", import.meta.url).pathname;
let raw = 0;
let gz = 0;
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (!name.endsWith(".d.ts") && !name.endsWith(".md")) {
      const bytes = readFileSync(path);
      raw += bytes.length;
      gz += gzipSync(bytes, { level: 9 }).length;
    }
  }
};
walk(join(pkgDir, "dist"));
walk(join(pkgDir, "entries"));
const wasm = readFileSync(join(pkgDir, "dist/tollgate_core_bg.wasm"));
console.log(`\npackage (dist + entries, without .d.ts/.md): ${(raw / 1024).toFixed(0)} KiB raw, ${(gz / 1024).toFixed(0)} KiB gzip; wasm alone ${(gzipSync(wasm, { level: 9 }).length / 1024).toFixed(0)} KiB gzip`);
const started = performance.now();
new WebAssembly.Module(wasm);
console.log(`wasm compile: ${(performance.now() - started).toFixed(1)} ms`);

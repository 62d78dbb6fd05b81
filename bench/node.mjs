// The npm package against its peers in one Node process: verify (signature + exp + iss + aud)
// and sign, ops/s, for HS256, RS256, PS256, ES256 and EdDSA. Sign compares prepared signers
// (tollgate's Signer, fast-jwt's createSigner) and one-shot calls (tollgate's sign(),
// jsonwebtoken, jose); the "tollgate/sync" column is the package's pure-Rust entry (every
// signature in Rust compiled to wasm, as browsers get it with "tollgate/sync"). The package
// is timed through its synchronous names (verifySync, signSync), Node's fast path. Peers: jose (awaited), fast-jwt,
// jsonwebtoken, and the bare node:crypto signature check over the same signing input (the
// ceiling). Keys are imported once wherever a library allows it; runs are interleaved; the
// median of the rounds is reported. Writes bench/out/node.json and bench/out/verify.svg.
//   node bench/node.mjs [--seconds 0.5] [--rounds 3] [--algs RS256,PS256]
import { createHmac, createPublicKey, createPrivateKey, timingSafeEqual, verify as cryptoVerify, constants } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import * as jose from "jose";
import { createSigner, createVerifier } from "fast-jwt";
import jsonwebtoken from "jsonwebtoken";
import { readFileSync } from "node:fs";
import * as tollgate from "../tests/pkg/node_modules/tollgate/dist/node.mjs";
import * as core from "../pkg/dist/tollgate_full.js";
import { createApi } from "../pkg/entries/api/index.js";
import { arg, opsPerSecond } from "./timing.mjs";

// The package without a host provider: every signature in Rust compiled to wasm ("tollgate/sync").
core.initSync({ module: readFileSync(new URL("../pkg/dist/tollgate_full_bg.wasm", import.meta.url)) });
const wasmOnly = createApi(core);

const SECONDS = arg("seconds", 0.5);
const ROUNDS = arg("rounds", 3);
// `--algs PS256,ES256` times only those (a closer look at one row); all five by default.
const ALL_ALGS = ["HS256", "RS256", "PS256", "ES256", "EdDSA"];
const chosen = process.argv.indexOf("--algs");
const ALGS = chosen === -1 ? ALL_ALGS : process.argv[chosen + 1].split(",");
for (const alg of ALGS) {
  if (!ALL_ALGS.includes(alg)) throw new Error(`--algs: ${alg} is not one of ${ALL_ALGS.join(", ")}`);
}
const ISS = "https://issuer.bench";
const AUD = "api";

async function opsPerSecondAsync(fn) {
  for (let i = 0; i < 100; i++) await fn();
  let n = 0;
  const start = performance.now();
  const end = start + SECONDS * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 20; i++) await fn();
    n += 20;
  }
  return n / ((performance.now() - start) / 1000);
}

async function setup(alg) {
  let privateJwk, publicJwk;
  if (alg === "HS256") {
    privateJwk = publicJwk = tollgate.generateKeyPairSync("HS256").privateJwk;
  } else {
    const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
    privateJwk = { ...(await jose.exportJWK(privateKey)), alg, kid: "k" };
    publicJwk = { ...(await jose.exportJWK(publicKey)), alg, kid: "k" };
  }
  const token = tollgate.signSync({ scope: "read" }, privateJwk, { issuer: ISS, audience: AUD, subject: "alice", expiresIn: 3600 });
  const secret = alg === "HS256" ? Buffer.from(privateJwk.k, "base64url") : null;
  const publicKey = secret ?? createPublicKey({ key: publicJwk, format: "jwk" });
  const privateKey = secret ?? createPrivateKey({ key: privateJwk, format: "jwk" });
  const josePublic = await jose.importJWK(publicJwk, alg);
  const josePrivate = await jose.importJWK(privateJwk, alg);
  const [h, p, s] = token.split(".");
  const input = Buffer.from(`${h}.${p}`);
  const signature = Buffer.from(s, "base64url");
  const options = {
    HS256: null,
    RS256: "sha256",
    PS256: { hash: "sha256", padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
    ES256: { hash: "sha256", dsaEncoding: "ieee-p1363" },
    EdDSA: { hash: null },
  }[alg];
  const primitive =
    alg === "HS256"
      ? () => timingSafeEqual(createHmac("sha256", secret).update(input).digest(), signature)
      : () => {
          const o = typeof options === "string" ? { hash: options } : options;
          const { hash, ...rest } = o;
          return cryptoVerify(hash, input, { key: publicKey, ...rest }, signature);
        };
  if (!primitive()) throw new Error(`${alg}: the primitive must verify`);
  const verifier = new tollgate.Verifier({ keys: [publicJwk] }, { issuer: ISS, audience: AUD });
  const signer = new tollgate.Signer(privateJwk, { issuer: ISS, audience: AUD });
  const wasmSigner = new wasmOnly.Signer(privateJwk, { issuer: ISS, audience: AUD });
  const fastVerify = createVerifier({ key: alg === "HS256" ? secret : publicKey.export({ format: "pem", type: "spki" }), algorithms: [alg], allowedIss: ISS, allowedAud: AUD, cache: false });
  const fastSign = createSigner({ key: alg === "HS256" ? secret : privateKey.export({ format: "pem", type: "pkcs8" }), algorithm: alg, iss: ISS, aud: AUD, expiresIn: 900_000 });
  const jwtAlg = alg === "EdDSA" ? null : alg; // jsonwebtoken has no EdDSA
  return {
    verify: {
      tollgate: () => verifier.verifySync(token),
      "fast-jwt": () => fastVerify(token),
      jsonwebtoken: jwtAlg && (() => jsonwebtoken.verify(token, publicKey, { algorithms: [alg], issuer: ISS, audience: AUD })),
      "node:crypto (signature only)": primitive,
      jose: async () => jose.jwtVerify(token, josePublic, { issuer: ISS, audience: AUD, algorithms: [alg] }),
    },
    sign: {
      tollgate: () => signer.signSync({ scope: "read" }),
      "tollgate sign()": () => tollgate.signSync({ scope: "read" }, privateJwk, { issuer: ISS, audience: AUD }),
      "fast-jwt": () => fastSign({ scope: "read" }),
      jsonwebtoken: jwtAlg && (() => jsonwebtoken.sign({ scope: "read" }, privateKey, { algorithm: alg, issuer: ISS, audience: AUD, expiresIn: 900 })),
      jose: async () => new jose.SignJWT({ scope: "read" }).setProtectedHeader({ alg }).setIssuer(ISS).setAudience(AUD).setIssuedAt().setExpirationTime("15m").sign(josePrivate),
      "tollgate/sync (pure Rust)": () => wasmSigner.signSync({ scope: "read" }),
    },
  };
}

const results = {};
const suites = {};
for (const alg of ALGS) suites[alg] = await setup(alg);
for (let round = 0; round < ROUNDS; round++) {
  for (const alg of ALGS) {
    for (const kind of ["verify", "sign"]) {
      // Each round starts one place further down the list: the first library timed after a
      // switch of algorithm or kind runs measurably slower (RSA signing about 20% in one
      // run, with tollgate always first), so every library takes every place in turn.
      const entries = Object.entries(suites[alg][kind]).filter(([, fn]) => fn);
      const shift = round % entries.length;
      for (const [name, fn] of [...entries.slice(shift), ...entries.slice(0, shift)]) {
        const key = `${kind}|${alg}|${name}`;
        const value = name === "jose" ? await opsPerSecondAsync(fn) : opsPerSecond(fn, SECONDS);
        (results[key] ??= []).push(value);
      }
    }
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const table = {};
for (const [key, values] of Object.entries(results)) {
  const [kind, alg, name] = key.split("|");
  ((table[kind] ??= {})[alg] ??= {})[name] = median(values);
}
const fmt = (n) => (n === undefined ? "n/a" : n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : n >= 1000 ? `${(n / 1000).toFixed(2)}k` : n.toFixed(0));
const lines = [];
for (const kind of ["verify", "sign"]) {
  const names = [...new Set(Object.values(table[kind]).flatMap(Object.keys))];
  lines.push(`\n### ${kind} (ops/s, median of ${ROUNDS} interleaved rounds of ${SECONDS} s)\n`);
  const ratios = kind === "verify" ? " tollgate ÷ fastest peer | tollgate ÷ node:crypto |" : " Signer ÷ fastest peer | sign() ÷ fastest peer |";
  lines.push(`| alg | ${names.join(" | ")} |${ratios}`);
  lines.push(`|---|${names.map(() => "---").join("|")}|---|---|`);
  for (const alg of ALGS) {
    const row = table[kind][alg];
    const peers = Object.entries(row).filter(([n]) => !n.startsWith("tollgate") && !n.startsWith("node:crypto"));
    const fastest = Math.max(...peers.map(([, v]) => v));
    const extra = kind === "verify"
      ? ` ${(row.tollgate / fastest).toFixed(2)}× | ${(100 * row.tollgate / row["node:crypto (signature only)"]).toFixed(0)}% |`
      : ` ${(row.tollgate / fastest).toFixed(2)}× | ${(row["tollgate sign()"] / fastest).toFixed(2)}× |`;
    lines.push(`| ${alg} | ${names.map((n) => fmt(row[n])).join(" | ")} |${extra}`);
  }
}
const markdown = lines.join("\n");
console.log(`Node ${process.version}${markdown}`);
mkdirSync(new URL("./out/", import.meta.url), { recursive: true });
writeFileSync(new URL("./out/node.json", import.meta.url), JSON.stringify({ node: process.version, table }, null, 2));
writeFileSync(new URL("./out/node.md", import.meta.url), markdown + "\n");

// A bar chart of verify ops/s (log scale), one group per algorithm.
const names = ["tollgate", "fast-jwt", "jose", "jsonwebtoken", "node:crypto (signature only)"];
const colors = ["#d9480f", "#1971c2", "#2f9e44", "#7048e8", "#868e96"];
const W = 820, H = 360, left = 60, bottom = 40, top = 40;
const groupW = (W - left - 20) / ALGS.length;
const barW = groupW / (names.length + 1);
const max = Math.log10(Math.max(...Object.values(table.verify).flatMap(Object.values)) * 1.2);
const min = 2;
const y = (v) => H - bottom - ((Math.log10(Math.max(v, 100)) - min) / (max - min)) * (H - bottom - top);
let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`;
svg += `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">JWT verify, ops/s (log scale), Node ${process.version}</text>`;
for (let e = min; e <= Math.ceil(max); e++) {
  const yy = y(10 ** e);
  if (yy < top - 1) continue;
  svg += `<line x1="${left}" x2="${W - 10}" y1="${yy}" y2="${yy}" stroke="#ddd"/><text x="${left - 6}" y="${yy + 4}" text-anchor="end">${fmt(10 ** e)}</text>`;
}
ALGS.forEach((alg, g) => {
  const x0 = left + g * groupW;
  names.forEach((name, i) => {
    const v = table.verify[alg][name];
    if (!v) return;
    const x = x0 + (i + 0.5) * barW;
    svg += `<rect x="${x}" y="${y(v)}" width="${barW - 2}" height="${H - bottom - y(v)}" fill="${colors[i]}"><title>${name} ${alg}: ${fmt(v)}</title></rect>`;
  });
  svg += `<text x="${x0 + groupW / 2}" y="${H - bottom + 16}" text-anchor="middle">${alg}</text>`;
});
names.forEach((name, i) => {
  svg += `<rect x="${left + i * 150}" y="${H - 14}" width="10" height="10" fill="${colors[i]}"/><text x="${left + i * 150 + 14}" y="${H - 5}">${name}</text>`;
});
svg += "</svg>\n";
writeFileSync(new URL("./out/verify.svg", import.meta.url), svg);

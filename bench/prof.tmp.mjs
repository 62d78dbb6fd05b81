import * as tollgate from "/work/main/tests/pkg/node_modules/tollgate/entries/node.js";
import * as jose from "jose";
const alg = process.argv[2] || "HS256";
let privateJwk, publicJwk;
if (alg === "HS256") { privateJwk = publicJwk = tollgate.generateKeyPair("HS256").privateJwk; }
else { const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true });
  privateJwk = { ...(await jose.exportJWK(privateKey)), alg, kid: "k" }; publicJwk = { ...(await jose.exportJWK(publicKey)), alg, kid: "k" }; }
const token = tollgate.sign({ scope: "read" }, privateJwk, { issuer: "https://issuer.bench", audience: "api", subject: "alice", expiresIn: 3600 });
const v = new tollgate.Verifier({ keys: [publicJwk] }, { issuer: "https://issuer.bench", audience: "api" });
const N = +process.argv[3] || 300000;
for (let r = 0; r < 3; r++) { const s = performance.now(); for (let i = 0; i < N; i++) v.verify(token); const t = performance.now() - s; console.log(alg, (N / t * 1000).toFixed(0), "ops/s", (t * 1000 / N).toFixed(2), "us"); }

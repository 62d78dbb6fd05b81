// Writes seed corpora for the fuzz targets from the test vectors (tokens, keys) and a few
// hand-written requests and configurations. Run by scripts/fuzz.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const vectors = join(root, "tests/vectors");
const seeds = { verify: new Set(), keys: new Set(), requests: new Set(), config: new Set(), claims: new Set() };
const read = (path) => JSON.parse(readFileSync(join(vectors, path), "utf8"));

for (const file of ["wycheproof/json_web_signature_test.json", "wycheproof/json_web_key_test.json"]) {
  for (const group of read(file).testGroups) {
    for (const set of [group.public, group.private]) if (set) seeds.keys.add(JSON.stringify(set));
    for (const t of group.tests) if (typeof t.jws === "string") seeds.verify.add(t.jws);
  }
}
for (const e of read("rfc7515/appendix-a.json").examples) seeds.verify.add(e.compact);
for (const p of read("rfc9449/examples.json").proofs) seeds.verify.add(p.compact);
for (const name of readdirSync(join(vectors, "rfc7520-cookbook/jwk"))) seeds.keys.add(readFileSync(join(vectors, "rfc7520-cookbook/jwk", name), "utf8"));
for (const name of readdirSync(join(vectors, "pem"))) seeds.keys.add(readFileSync(join(vectors, "pem", name), "utf8"));
for (const r of [
  "grant_type=authorization_code&code=tgc_x&redirect_uri=https%3A%2F%2Fa%2Fcb&code_verifier=abc",
  "Basic c3ZjOnMlM0FjcmV0", "Bearer eyJhbGciOiJub25lIn0.e30.", "a=1; tg_token=x.y.z; b=2",
  "https://app.example/cb?x=1", "http://127.0.0.1:8788/callback", "tgk_M2eUvxv6w1mhblUkyowLVfcAU0xnePJa48eEQR",
]) seeds.requests.add(r);
for (const c of [
  readFileSync(join(root, "tests/e2e/gateway.test.mjs"), "utf8").match(/issuer: ISSUER[\s\S]*?\.\.\.extra/)?.[0] ?? "{}",
  JSON.stringify({ issuer: "https://i", audiences: ["a"], routes: [{ prefix: "/api", scopes: ["read"], oneTime: true }, { prefix: "/app" }], externalIssuers: [{ issuer: "e", jwksUrl: "https://e/jwks" }], oauth: { sessionRoutes: ["/app"] } }),
  JSON.stringify({ algorithms: ["ES256"], issuer: "https://a", audience: ["x"], clockTolerance: 5 }),
]) seeds.config.add(c);

// Claims: a policy selector byte, the header's length in one byte, the header, the claims set
// (the headers and payloads of the vector tokens too).
const HS256 = '{"alg":"HS256"}';
const claims = (selector, payload, header = HS256) => {
  const h = Buffer.from(header, "latin1");
  if (h.length < 256) seeds.claims.add(selector + String.fromCharCode(h.length) + h.toString("latin1") + payload);
};
for (const jws of seeds.verify) {
  const [header, payload] = jws.split(".");
  if (payload) claims("\x3f", Buffer.from(payload, "base64url").toString("latin1"), Buffer.from(header, "base64url").toString("latin1"));
}
for (const c of [
  { iss: "https://i", aud: ["x", 1, "api"], sub: "s", exp: 1800000100, nbf: 1799999999.5, iat: 1800000000, "k\u00e9y": null },
  { iss: "\u00e9", aud: "api", exp: 18446744073709551615, iat: -1e300, sub: "", "exp\u0000": 1 },
  { iss: null, sub: 7, aud: ["api"], exp: 1800000100, jti: ["x"] },
]) for (const selector of ["\x00", "\x3f", "\x17"]) claims(selector, JSON.stringify(c));
claims("\x07", '{"ex\\u0070":1,"exp":2e9,"exp":1,"aud":[["api"]],"iss":"https:\\/\\/i","sub":{}}');
// The hand-read spellings' edges: nesting at serde_json's limit, numbers, escapes, literals.
for (const n of [126, 127, 128]) {
  claims("\x3f", `{"aud":${"[".repeat(n)}"api"${"]".repeat(n)}}`);
  claims("\x00", `{"x":${'{"y":'.repeat(n)}1${"}".repeat(n)}}`);
}
claims("\x3f", '{"exp":-0,"nbf":1E3,"iat":-9223372036854775809,"aud":"\\ud83d\\ude00","x":[true,false,null,1.5e-3]}');
claims("\x21", '{"exp":18446744073709551616,"iss":"https:\\u002f/i","sub":"\\"","n":01}');
// Headers: each registered member with a value of the wrong type, repeats, crit, b64, Ed448.
for (const header of [
  '{"alg":"HS256","kid":null}', '{"alg":null}', '{"alg":"Ed448"}', '{"alg":"Ed25519","typ":"at+jwt"}',
  '{"alg":"HS256","jwk":[]}', '{"alg":"HS256","x5c":["a",1]}', '{"alg":"HS256","x5t#S256":{}}',
  '{"alg":"HS256","crit":["x"],"x":1}', '{"alg":"HS256","b64":false}', '{"alg":"HS256","b64":"no"}',
  '{"alg":"HS256","kid":"a","kid":"b"}', '{"alg":"HS256","x":1,"x":2}', '{"cty":1,"alg":"none"}',
  '{"alg":"HS256","jku":"https://k","x5u":true,"cty":"JWT"}',
]) claims("\x3f", '{"exp":1800000100}', header);

for (const [target, set] of Object.entries(seeds)) {
  const dir = join(root, "fuzz/corpus", target);
  mkdirSync(dir, { recursive: true });
  for (const seed of set) writeFileSync(join(dir, createHash("sha1").update(seed).digest("hex")), seed);
  console.log(`${target}: ${set.size} seeds`);
}

// The package's TypeScript types, per export condition, checked by the TypeScript compiler
// (typescript from npm, strict): Node's resolution gets index.d.ts, where the *Sync names return
// their results; a bundler resolving for browsers gets web.d.ts, where they return `never`
// (they throw there); "tollgate/sync" has the full types everywhere.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../e2e/harness.mjs";

/** A consumer: `sync` is the type the *Sync names must have here. */
const consumer = (sync) => `import { verify, verifySync, Verifier, sign, signSync, Signer, generateKeyPair, generateKeyPairSync, verifyDpopProofSync, createDpopProofSync, TollgateError, type VerifyResult, type KeyPair, type DpopProof } from "tollgate";
import { verifySync as pureVerifySync, generateKeyPairSync as pureGenerate } from "tollgate/sync";
declare const token: string;
const jwks = { keys: [] };
export const a: Promise<VerifyResult> = verify(token, jwks);
export const b: ${sync("VerifyResult")} = verifySync(token, jwks);
export const c: Promise<string> = sign({}, { kty: "oct" });
export const d: ${sync("string")} = signSync({}, { kty: "oct" });
export const e: Promise<VerifyResult> = new Verifier(jwks).verify(token);
export const f: ${sync("VerifyResult")} = new Verifier(jwks).verifySync(token);
export const g: ${sync("string")} = new Signer({ kty: "oct" }).signSync({});
export const h: KeyPair = await generateKeyPair("ES256");
export const i: ${sync("KeyPair")} = generateKeyPairSync("ES256");
export const j: VerifyResult = pureVerifySync(token, jwks);
export const k: KeyPair = pureGenerate("EdDSA");
export const m: ${sync("DpopProof")} = verifyDpopProofSync(token, { method: "GET", url: "https://rs.example/" });
export const n: ${sync("string")} = createDpopProofSync({ kty: "EC" }, { method: "GET", url: new URL("https://rs.example/") });
export const l = (err: unknown) => err instanceof TollgateError && err.code === "ERR_JOSE_NOT_SUPPORTED";
`;

const NODE = { module: "nodenext", moduleResolution: "nodenext" };
const BROWSER = { module: "esnext", moduleResolution: "bundler", customConditions: ["browser"] };

/** Compiles `source` with `options`: tsc's output, or null when it compiles. `file` names the
 * consumer (".cts" for a CommonJS one). */
function compile(source, options, file = "consumer.mts") {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-types-"));
  try {
    mkdirSync(join(dir, "node_modules"));
    symlinkSync(join(ROOT, "pkg"), join(dir, "node_modules/tollgate"));
    symlinkSync(join(ROOT, "node_modules/hono"), join(dir, "node_modules/hono"));
    writeFileSync(join(dir, "package.json"), '{ "type": "module" }');
    writeFileSync(join(dir, file), source);
    const compilerOptions = { ...options, target: "es2022", strict: true, noEmit: true, lib: ["es2022", "dom"], types: [] };
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, files: [file] }));
    execFileSync(join(ROOT, "node_modules/.bin/tsc"), ["-p", dir], { encoding: "utf8", stdio: "pipe" });
    return null;
  } catch (err) {
    return `${err.stdout ?? ""}${err.stderr ?? ""}` || String(err);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("Node's condition: the Promise API and the *Sync names with their results", () => {
  assert.equal(compile(consumer((type) => type), NODE), null);
  // The same names typed as the browser entry types them do not compile here.
  assert.match(compile(consumer(() => "never"), NODE) ?? "", /not assignable to type 'never'/);
});

test("the browser condition: the Promise API, and *Sync names that return never (they throw)", () => {
  assert.equal(compile(consumer(() => "never"), BROWSER), null);
  // A bundler without the browser condition falls to the package's top-level types: the same.
  assert.equal(compile(consumer(() => "never"), { module: "esnext", moduleResolution: "bundler" }), null);
});

/** Every code of the one table, src/codes.rs (`Code::as_str`). */
const CODES = [...readFileSync(join(ROOT, "src/codes.rs"), "utf8").matchAll(/=> "(ERR_[A-Z0-9_]+)"/g)].map((m) => m[1]);
const CJS = { module: "node16", moduleResolution: "node16" };

test("TollgateErrorCode holds every code of src/codes.rs, in every condition's types (they cannot drift)", () => {
  assert.ok(CODES.length >= 36, `codes read from src/codes.rs: ${CODES.length}`);
  const text = readFileSync(join(ROOT, "pkg/index.d.cts"), "utf8");
  const union = /export type TollgateErrorCode =([^;]*);/.exec(text)?.[1] ?? "";
  const declared = [...union.matchAll(/"(ERR_[A-Z0-9_]+)"/g)].map((m) => m[1]);
  assert.deepEqual(CODES.filter((code) => !declared.includes(code)), [], "codes missing from the union in index.d.cts");
  assert.deepEqual(declared.filter((code) => !CODES.includes(code)), [], "codes in the union that src/codes.rs does not have");
  // The union as each condition resolves it, refusal()'s body included.
  const source = `import { refusal, TollgateError, type TollgateErrorCode } from "tollgate";
export const codes: TollgateErrorCode[] = ${JSON.stringify(CODES)};
declare const err: TollgateError;
export const rendered: TollgateErrorCode = refusal(err).body.code;
export const same = (e: TollgateError) => e.code === "ERR_INSUFFICIENT_SCOPE" || refusal(e).body.code === "ERR_TOKEN_MISSING";
`;
  assert.equal(compile(source, NODE), null, "node, import");
  assert.equal(compile(source, BROWSER), null, "browser");
  assert.equal(compile(source, { module: "esnext", moduleResolution: "bundler" }), null, "bundler, no browser condition");
  assert.equal(compile(source, CJS, "consumer.cts"), null, "node16, require");
});

test("require's condition has CommonJS types: a .cts consumer under module node16 compiles", () => {
  const source = `import tollgate = require("tollgate");
import { verifySync, TollgateError } from "tollgate";
import sync = require("tollgate/sync");
declare const token: string;
export const r: tollgate.VerifyResult = verifySync(token, { keys: [] });
export const kp: tollgate.KeyPair = sync.generateKeyPairSync("ES256");
export const isErr = (e: unknown) => e instanceof TollgateError && e.code === "ERR_JWT_EXPIRED";
`;
  assert.equal(compile(source, CJS, "consumer.cts"), null);
  assert.equal(compile(source, { module: "nodenext", moduleResolution: "nodenext" }, "consumer.cts"), null);
});

test("the types say what the runtime takes: TollgateError's constructor, JWK Sets as published, key pairs, Hono's c.get", () => {
  const ok = `import { Hono } from "hono";
import { tollgate } from "tollgate/hono";
import { generateKeyPair, verify, refusal, TollgateError, type JWKSet } from "tollgate";
declare const token: string;
const { publicJwk } = await generateKeyPair("ES256");
export const verified = verify(token, { keys: [publicJwk] });
export const hmac: null = (await generateKeyPair("HS256")).publicJwk;
export const r = refusal(new TollgateError({ code: "ERR_JWT_EXPIRED", message: "x", claim: "exp" }));
export const published: JWKSet = { keys: [{ kty: "RSA", use: "enc", alg: "RSA-OAEP-256", n: "x", e: "AQAB", kid: "e1" }, { kty: "OKP", crv: "X25519", x: "x" }, { kty: "EC", crv: "P-256", x: "x", y: "y", use: "sig", alg: "ES256", kid: "s1" }] };
const app = new Hono();
app.use("/api/*", tollgate({ issuer: "https://i", jwks: published, assertion: { audience: "https://a" } }));
app.get("/api/me", (c) => c.json({ sub: c.get("auth").sub, via: c.get("auth").via }));
`;
  assert.equal(compile(ok, NODE), null);
  assert.match(compile('import { TollgateError } from "tollgate";\nexport const e = new TollgateError("token expired");\n', NODE) ?? "", /TS2345|not assignable/);
});

// The package's TypeScript types, per export condition, checked by the TypeScript compiler
// (typescript from npm, strict): Node's resolution gets index.d.ts, where the *Sync names return
// their results; a bundler resolving for browsers gets web.d.ts, where they return `never`
// (they throw there); "tollgate/sync" has the full types everywhere.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
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

/** Compiles `source` with `options`: tsc's output, or null when it compiles. */
function compile(source, options) {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-types-"));
  try {
    mkdirSync(join(dir, "node_modules"));
    symlinkSync(join(ROOT, "pkg"), join(dir, "node_modules/tollgate"));
    writeFileSync(join(dir, "package.json"), '{ "type": "module" }');
    writeFileSync(join(dir, "consumer.mts"), source);
    const compilerOptions = { ...options, target: "es2022", strict: true, noEmit: true, lib: ["es2022", "dom"], types: [] };
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["consumer.mts"] }));
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

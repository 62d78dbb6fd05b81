// scripts/issuer-config: the issuer's configuration derived from the guard's wrangler.toml
// (README, "Two workers"), on the shipped file and on the shapes it must refuse or trim.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./harness.mjs";

const script = join(ROOT, "scripts/issuer-config");
const derive = (toml) => {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-issuer-config-"));
  writeFileSync(join(dir, "wrangler.toml"), toml);
  const out = join(dir, "build/issuer/wrangler.json");
  const run = spawnSync(process.execPath, [script, join(dir, "wrangler.toml"), out], { encoding: "utf8" });
  return { status: run.status, stderr: run.stderr, config: run.status === 0 ? JSON.parse(readFileSync(out, "utf8")) : undefined };
};

test("the shipped wrangler.toml gives an issuer with the same variables, KV and coordinator", () => {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-issuer-config-"));
  const out = join(dir, "wrangler.json");
  execFileSync(process.execPath, [script, join(ROOT, "wrangler.toml"), out]);
  const issuer = JSON.parse(readFileSync(out, "utf8"));
  const guard = derive(readFileSync(join(ROOT, "wrangler.toml"), "utf8"));
  assert.equal(guard.status, 0, guard.stderr);
  assert.equal(issuer.name, "tollgate-issuer");
  assert.deepEqual(issuer.vars, guard.config.vars);
  assert.ok(issuer.vars.TOLLGATE_CONFIG.issuer, "TOLLGATE_CONFIG comes across as written");
  assert.deepEqual(issuer.kv_namespaces, [{ binding: "TOLLGATE_KV", id: "tollgate-local" }]);
  assert.deepEqual(issuer.durable_objects.bindings, [{ name: "TOLLGATE_COORDINATOR", class_name: "Coordinator" }]);
  assert.deepEqual(issuer.migrations, [{ tag: "v1", new_sqlite_classes: ["Coordinator"] }]);
  assert.equal(issuer.services, undefined);
  assert.equal(issuer.build, undefined);
  assert.equal(issuer.workers_dev, false);
  assert.match(issuer.main, /build\/issuer\/index\.js$/);
});

const minimal = `name = "gate"
main = "build/guard/index.js"
compatibility_date = "2026-11-01"
[[services]]
binding = "TOLLGATE_ISSUER"
service = "gate-issuer"
`;

test("the guard's routes stay the guard's", () => {
  const routed = minimal.replace("[[services]]", 'routes = [{ pattern = "auth.example.com/*", zone_name = "example.com" }]\n\n[[services]]');
  const { status, stderr, config } = derive(routed);
  assert.equal(status, 0, stderr);
  assert.equal(config.name, "gate-issuer");
  assert.equal(config.routes, undefined);
  assert.equal(config.main, "index.js", "beside its configuration, as scripts/build-worker writes it");
});

test("without the TOLLGATE_ISSUER binding, or with [env.*] sections, it refuses and says why", () => {
  const unbound = derive(minimal.replace(/\[\[services\]\][^]*$/, ""));
  assert.equal(unbound.status, 1);
  assert.match(unbound.stderr, /no \[\[services\]\] binding TOLLGATE_ISSUER/);
  const environments = derive(`${minimal}[env.production]\nname = "gate-prod"\n`);
  assert.equal(environments.status, 1);
  assert.match(environments.stderr, /\[env\.\*\] sections are not derived/);
  const elsewhere = derive(`${minimal}[[durable_objects.bindings]]\nname = "X"\nclass_name = "X"\nscript_name = "other"\n`);
  assert.equal(elsewhere.status, 1);
  assert.match(elsewhere.stderr, /lives in other, not the issuer/);
});

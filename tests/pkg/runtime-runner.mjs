// The package suite (cases.mjs) as a plain script, for runtimes other than the Node that runs
// the test files: Deno, Bun, and other Node majors. It imports "tollgate" the way an
// application would, so each runtime picks the entry its export conditions select, prints one
// JSON line (the entry it got, how many cases ran, the failures) and exits 1 on any failure.
import * as api from "tollgate";
import { runAll } from "./cases.mjs";
import { fixtures } from "./fixtures.mjs";

const runtime = globalThis.Deno ? `deno ${Deno.version.deno}` : globalThis.Bun ? `bun ${Bun.version}` : `node ${process.versions.node}`;
const entry = import.meta.resolve("tollgate").replace(/^.*\/(entries|dist)\//, "$1/");
const results = await runAll(api, fixtures);
const failed = results.filter((r) => !r.ok);
console.log(JSON.stringify({ runtime, entry, total: results.length, failed }));
if (failed.length > 0) (globalThis.Deno?.exit ?? process.exit)(1);

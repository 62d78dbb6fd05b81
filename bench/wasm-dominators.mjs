// What each function alone keeps in a wasm binary: the code bytes of its subtree in the call
// graph's dominator tree, that is everything reachable only through it, which would go with
// it. Ranks the candidates for cutting code, where a by-crate table (bench/wasm-crates.mjs)
// only says where code sits. Reads a binary with names (`scripts/build-worker --names`, then
// target/worker/guard.wasm or issuer.wasm); direct calls come from
// binaryen's `wasm-dis`. Roots are the exports and every table entry: a function reached only
// through the table (a trait object's method, a formatting argument) is charged to no caller.
//   node bench/wasm-dominators.mjs <file.wasm> [name pattern] [rows]
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { functionsOf } from "./wasm-crates.mjs";

/** Direct call edges and roots from the text form: `{ calls: Map<name, Set<name>>, roots }`. */
function callGraph(path) {
  const dir = mkdtempSync(join(tmpdir(), "wasm-dom-"));
  const wat = join(dir, "module.wat");
  const wasmDis = new URL("../node_modules/.bin/wasm-dis", import.meta.url).pathname;
  execFileSync(wasmDis, [path, "-o", wat], { stdio: "ignore" });
  const text = readFileSync(wat, "utf8");
  rmSync(dir, { recursive: true });
  const calls = new Map();
  for (const body of text.split("\n (func ").slice(1)) {
    const name = body.slice(0, body.indexOf(" ")).replace(/^\$/, "");
    const callees = new Set();
    for (const m of body.matchAll(/\((?:call|ref\.func) \$([^\s)]+)/g)) callees.add(m[1]);
    calls.set(name, callees);
  }
  const roots = new Set();
  for (const m of text.matchAll(/\(export "[^"]*" \(func \$([^\s)]+)\)/g)) roots.add(m[1]);
  for (const line of text.matchAll(/\(elem [^\n]*/g)) {
    for (const m of line[0].matchAll(/\$([^\s)]+)/g)) if (calls.has(m[1])) roots.add(m[1]);
  }
  return { calls, roots };
}

/** Immediate dominators by Cooper, Harvey and Kennedy's iterative algorithm. */
function dominators(entry, successors) {
  const order = [];
  const seen = new Set([entry]);
  const stack = [[entry, successors(entry)[Symbol.iterator]()]];
  while (stack.length) {
    const top = stack[stack.length - 1];
    const next = top[1].next();
    if (next.done) {
      order.push(top[0]);
      stack.pop();
    } else if (!seen.has(next.value)) {
      seen.add(next.value);
      stack.push([next.value, successors(next.value)[Symbol.iterator]()]);
    }
  }
  order.reverse();
  const rank = new Map(order.map((node, i) => [node, i]));
  const predecessors = new Map(order.map((node) => [node, []]));
  for (const node of order) for (const s of successors(node)) predecessors.get(s)?.push(node);
  const idom = new Map([[entry, entry]]);
  const meet = (a, b) => {
    while (a !== b) {
      while (rank.get(a) > rank.get(b)) a = idom.get(a);
      while (rank.get(b) > rank.get(a)) b = idom.get(b);
    }
    return a;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (const node of order.slice(1)) {
      let dom;
      for (const p of predecessors.get(node)) {
        if (idom.has(p)) dom = dom === undefined ? p : meet(p, dom);
      }
      if (dom !== undefined && idom.get(node) !== dom) {
        idom.set(node, dom);
        changed = true;
      }
    }
  }
  return { idom, order };
}

const [path, pattern = "", rows = "40"] = process.argv.slice(2);
if (!path) {
  console.error("usage: node bench/wasm-dominators.mjs <file.wasm> [name pattern] [rows]");
  process.exit(2);
}
const { imported, sizes, names } = functionsOf(path);
const size = new Map();
sizes.forEach((bytes, i) => size.set(names.get(i + imported), bytes));
const { calls, roots } = callGraph(path);
const ENTRY = "\0entry";
const successors = (node) =>
  node === ENTRY ? roots : [...(calls.get(node) ?? [])].filter((c) => calls.has(c));
const { idom, order } = dominators(ENTRY, successors);
const kept = new Map();
for (const node of [...order].reverse()) {
  kept.set(node, (kept.get(node) ?? 0) + (size.get(node) ?? 0));
  if (node !== ENTRY) kept.set(idom.get(node), (kept.get(idom.get(node)) ?? 0) + kept.get(node));
}
const match = new RegExp(pattern);
const ranked = [...kept].filter(([node]) => node !== ENTRY && match.test(node));
ranked.sort((a, b) => b[1] - a[1]);
const kib = (bytes) => (bytes / 1024).toFixed(1).padStart(6);
console.log(`code reachable from the roots: ${kib(kept.get(ENTRY))} KiB`);
console.log("| keeps KiB | own KiB | function |\n|---|---|---|");
for (const [node, bytes] of ranked.slice(0, Number(rows))) {
  const name = node.replace(/17h[0-9a-f]{16}E$/, "").slice(0, 140);
  console.log(`| ${kib(bytes)} | ${kib(size.get(node) ?? 0)} | \`${name}\` |`);
}

// Puts a `scripts/bench` run into BENCHMARKS.md: each `name=file` replaces what lies between
// `<!-- bench:name -->` and `<!-- /bench:name -->`. Everything outside the markers is a
// session's own measurement and reading and stays as written; a marker that is missing is an
// error, not a table silently dropped.
//   node bench/splice.mjs BENCHMARKS.md header=bench/out/header.md npm=bench/out/npm.md ...
import { readFileSync, writeFileSync } from "node:fs";

const [target, ...blocks] = process.argv.slice(2);
let text = readFileSync(target, "utf8");
for (const block of blocks) {
  const [name, file] = block.split("=");
  const open = `<!-- bench:${name} -->\n`;
  const close = `<!-- /bench:${name} -->`;
  const start = text.indexOf(open);
  const end = text.indexOf(close, start);
  if (start < 0 || end < 0) {
    console.error(`splice: ${target} has no ${open.trim()} ... ${close} pair`);
    process.exit(1);
  }
  const body = readFileSync(file, "utf8").trim();
  text = text.slice(0, start + open.length) + body + "\n" + text.slice(end);
}
writeFileSync(target, text);

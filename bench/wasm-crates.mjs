// Where a wasm binary's code bytes go, by Rust crate (tollgate's own modules by module): reads
// the code section and the function names of a binary built before wasm-bindgen and wasm-opt
// strip them. Sizes are uncompressed and pre-optimisation, so read them as proportions.
//   node bench/wasm-crates.mjs <file.wasm> [top]
import { readFileSync } from "node:fs";

/**
 * The functions of a wasm binary, from its code and name sections: `{ imported, sizes, names }`,
 * `sizes[i]` the body bytes of function `imported + i`, `names` a Map from function index.
 */
export function functionsOf(path) {
  const buf = readFileSync(path);
  let pos = 8;
  const leb = () => {
    let value = 0, shift = 0, byte;
    do {
      byte = buf[pos++];
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return value;
  };
  const skipLimits = () => { const flags = buf[pos++]; leb(); if (flags & 1) leb(); };
  let imported = 0;
  const sizes = [];
  const names = new Map();
  while (pos < buf.length) {
    const id = buf[pos++];
    const size = leb();
    const end = pos + size;
    if (id === 2) {
      for (let n = leb(), i = 0; i < n; i++) {
        // Not `pos += leb()`: that adds to the position before leb() moves it.
        for (let name = 0; name < 2; name++) { const length = leb(); pos += length; }
        const kind = buf[pos++];
        if (kind === 0) { leb(); imported++; }
        else if (kind === 1) { pos++; skipLimits(); }
        else if (kind === 2) skipLimits();
        else if (kind === 3) pos += 2;
        else if (kind === 4) { pos++; leb(); }
      }
    } else if (id === 10) {
      for (let n = leb(), i = 0; i < n; i++) { const s = leb(); sizes.push(s); pos += s; }
    } else if (id === 0) {
      const length = leb();
      const name = buf.subarray(pos, pos + length).toString();
      pos += length;
      while (name === "name" && pos < end) {
        const sub = buf[pos++];
        const subEnd = leb() + pos;
        if (sub === 1) {
          for (let n = leb(), i = 0; i < n; i++) {
            const index = leb();
            const l = leb();
            names.set(index, buf.subarray(pos, pos + l).toString());
            pos += l;
          }
        }
        pos = subEnd;
      }
    }
    pos = end;
  }
  return { imported, sizes, names };
}

/** `{ crate → code bytes }` and the total, from the name and code sections. */
export function codeByCrate(path) {
  const { imported, sizes, names } = functionsOf(path);
  const groups = new Map();
  let total = 0;
  sizes.forEach((size, i) => {
    const name = names.get(i + imported) ?? "?";
    if (name.startsWith("__wbindgen_describe")) return; // type descriptions wasm-bindgen removes
    total += size;
    const key = crateOf(name);
    groups.set(key, (groups.get(key) ?? 0) + size);
  });
  return { total, groups };
}

const STD = new Set(["core", "alloc", "std", "compiler_builtins", "hashbrown"]);

/**
 * The crate a function's code is charged to: a generic from the standard library instantiated
 * for another crate's type (`drop_in_place<p384::…>`) counts for that crate.
 */
function crateOf(symbol) {
  const own = definingCrate(symbol);
  if (!STD.has(own.split("::")[0]) && !own.startsWith("generic")) return own;
  const legacy = [...symbol.matchAll(/(?:\$LT\$|\$u20\$)(?:\$RF\$|mut\$u20\$)*([a-z_][a-z_0-9]*)\.\./g)].map((m) => m[1]);
  const inner = [...legacy, ...v0Crates(symbol)].find((name) => !STD.has(name));
  return inner ?? own;
}

/** The crate names in a v0 symbol (`C<disambiguator>_<len><name>`). */
function v0Crates(symbol) {
  if (!symbol.startsWith("_R")) return [];
  const names = [];
  const re = /C(?:s[0-9A-Za-z]*_)?(\d+)/g;
  for (let m; (m = re.exec(symbol)); ) names.push(symbol.substr(m.index + m[0].length, Number(m[1])));
  return names;
}

/** The crate of a mangled Rust symbol (`_ZN<len><segment>…` or v0 `_R…`); tollgate by module. */
function definingCrate(symbol) {
  const segments = [];
  let rest = symbol.startsWith("_ZN") ? symbol.slice(3) : "";
  while (/^\d/.test(rest)) {
    const n = parseInt(rest, 10);
    const digits = String(n).length;
    segments.push(rest.slice(digits, digits + n));
    rest = rest.slice(digits + n);
  }
  if (segments.length === 0) {
    const [v0] = v0Crates(symbol);
    if (v0) return v0;
    return symbol.startsWith("__wbindgen") || symbol.startsWith("__wbg") ? "wasm-bindgen glue" : "other";
  }
  let crate = segments[0];
  if (crate.startsWith("_$LT$")) crate = crate.slice(5).replace(/^\$RF\$|^mut\$u20\$/, "").split("..")[0];
  if (/^[A-Z]\$u20\$as\$u20\$/.test(crate)) crate = "generic impls (<T as …>)";
  return crate === "tollgate" && segments[1] ? `tollgate::${segments[1]}` : crate;
}

/** The top crates as a Markdown table. */
export function table(path, top = 14) {
  const { total, groups } = codeByCrate(path);
  const rows = [...groups].sort((a, b) => b[1] - a[1]).slice(0, top);
  const lines = ["| crate | code KiB | share |", "|---|---|---|"];
  for (const [crate, size] of rows) lines.push(`| ${crate} | ${(size / 1024).toFixed(0)} | ${((100 * size) / total).toFixed(1)}% |`);
  return lines.join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(table(process.argv[2], Number(process.argv[3] ?? 14)));

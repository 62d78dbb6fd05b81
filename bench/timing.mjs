// Shared by the Node benchmarks: command-line numbers and a timed loop.

/** `--name N` from the command line, or `fallback`. */
export const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};

/** Calls of `fn` per second over `seconds`, after `warmup` calls, in batches of 50. */
export function opsPerSecond(fn, seconds, warmup = 200) {
  for (let i = 0; i < warmup; i++) fn();
  let n = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 50; i++) fn();
    n += 50;
  }
  return n / ((performance.now() - start) / 1000);
}

// The package suite in Node through require("tollgate") (the "node" + "require" export).
const { test } = require("node:test");
const api = require("tollgate");

test("cjs: require() gives the whole API", async (t) => {
  const { cases, syncApi } = await import("./cases.mjs");
  const { fixtures } = await import("./fixtures.mjs");
  for (const { name, fn } of cases(api, { ...fixtures, sync: true })) await t.test(`cjs: ${name}`, fn);
  for (const { name, fn } of cases(syncApi(api), { ...fixtures, sync: true })) await t.test(`cjs sync: ${name}`, fn);
});

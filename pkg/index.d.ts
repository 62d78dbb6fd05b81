// The types of the "import" condition: the same declarations as "require" reads (index.d.cts,
// CommonJS, so that a CommonJS consumer under module node16/node18 can require them).
export * from "./index.cjs";

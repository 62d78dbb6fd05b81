// Reads every log line the end-to-end suite produced (the harness saves each worker's output
// to $TOLLGATE_LOG_DIR) and fails if any holds a token, key, secret, password or API key.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.env.TOLLGATE_LOG_DIR;

const FORBIDDEN = [
  ["a JWT", /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}/],
  ["an opaque Tollgate token, key, code or secret", /\btg(?:k|r|s|c|o|cs)_[0-9A-Za-z]{30,}/],
  ["a private JWK member", /"(?:d|k|p|q|dp|dq|qi)"\s*:\s*"[A-Za-z0-9_-]{16,}/],
  ["a PEM private key", /PRIVATE KEY/],
  ["a test password", /correct horse battery|bob-password-1|demo-password/],
  ["the test pepper", /pepper-for-tests-only/],
  ["the test admin token", /admin-token-for-tests-only/],
];

test("no log line of the end-to-end suite holds a secret", { skip: !dir && "TOLLGATE_LOG_DIR is not set" }, () => {
  const files = readdirSync(dir).filter((f) => f.endsWith(".log"));
  assert.ok(files.length >= 10, `expected the e2e suite's logs, found ${files.length} files`);
  let lines = 0;
  for (const file of files) {
    for (const line of readFileSync(join(dir, file), "utf8").split("\n")) {
      lines += 1;
      for (const [what, pattern] of FORBIDDEN) {
        assert.ok(!pattern.test(line), `${file}: ${what} in a log line: ${line.slice(0, 200)}`);
      }
    }
  }
  assert.ok(lines > 100, `only ${lines} log lines were read`);
});

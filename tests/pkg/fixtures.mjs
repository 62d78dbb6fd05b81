// Fixtures for the package suite, read from the repository's vectors (Node only; the browser and
// workerd runners receive them from their host).
import { readFileSync } from "node:fs";

export const fixtures = {
  rsaJwk: JSON.parse(readFileSync(new URL("../vectors/rfc7520-cookbook/jwk/3_4.rsa_private_key.json", import.meta.url), "utf8")),
};

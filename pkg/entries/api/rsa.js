// The one key check the hosts skip: node:crypto (OpenSSL) imports an RSA private JWK whose
// members do not fit together, and still signs with it, since its CRT fault check falls back
// to `d`. The pure-Rust build refuses such a key (src/jwk/native.rs), so the hosts do too, with
// the same ERR_JWK_INVALID. Integers only: the arithmetic is BigInt, once per imported key.

/** A base64url member as a BigInt (big-endian, RFC 7518 §2 Base64urlUInt). */
function integer(member) {
  let hex = "0x0";
  const bytes = atob(member.replaceAll("-", "+").replaceAll("_", "/"));
  for (let i = 0; i < bytes.length; i++) hex += bytes.charCodeAt(i).toString(16).padStart(2, "0");
  return BigInt(hex);
}

/**
 * Why an RSA private JWK's members do not fit together (RFC 7518 §6.3.2, RFC 8017 §3.2), or
 * null when they do. Only a key with its CRT members (p, q, dp, dq, qi) is checked here: the
 * hosts refuse one without them on import.
 */
export function rsaMismatch(jwk) {
  const names = ["n", "e", "d", "p", "q", "dp", "dq", "qi"];
  if (jwk?.kty !== "RSA" || !names.every((name) => typeof jwk[name] === "string")) return null;
  let n, e, d, p, q, dp, dq, qi;
  try {
    [n, e, d, p, q, dp, dq, qi] = names.map((name) => integer(jwk[name]));
  } catch {
    return null; // not base64url: the core has refused it already
  }
  const one = 1n;
  if (p <= one || q <= one || p * q !== n) return "p × q is not n";
  if (dp !== d % (p - one) || dq !== d % (q - one)) return "dp or dq is not d mod (p − 1) or (q − 1)";
  if ((e * d) % (p - one) !== one || (e * d) % (q - one) !== one) return "d is not the inverse of e";
  if ((qi * q) % p !== one) return "qi is not the inverse of q mod p";
  return null;
}

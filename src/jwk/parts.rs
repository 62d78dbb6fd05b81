//! A key's members as bytes, checked without any asymmetric arithmetic: what every build can
//! do, the worker's and the browser's included, where the host's crypto (WebCrypto) does the
//! arithmetic. The checks here are the ones a byte comparison can make; the ones that need
//! the curve (an EC point on its curve, a private half that matches its public half) are
//! made by [`super::native`] when the pure-Rust provider is built in, and otherwise by the
//! host when it imports the key.

use zeroize::Zeroizing;

use crate::alg::Curve;
use crate::b64;
use crate::crypto::HmacSecret;
use crate::error::{truncated, Error};

use super::Jwk;

/// Smallest RSA modulus accepted, in bits (RFC 7518 §3.3, RFC 8725 §3.5).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits: bigger keys only cost verification time.
pub const MAX_RSA_BITS: usize = 8192;
/// Largest RSA public exponent accepted (2^33 - 1): larger ones only slow verification, and
/// the pure-Rust provider refuses them, so every provider does.
const MAX_RSA_EXPONENT: u64 = (1 << 33) - 1;

/// The key material, one variant per key type; private halves are optional except for HMAC.
#[derive(Clone)]
pub(crate) enum Material {
    Hmac(Box<HmacSecret>),
    Rsa(Box<RsaParts>),
    Ec(Box<EcParts>),
    Ed25519(Box<EdParts>),
}

/// An RSA key: big-endian integers without leading zeros (RFC 7518 §6.3).
#[derive(Clone)]
pub(crate) struct RsaParts {
    pub n: Vec<u8>,
    pub e: Vec<u8>,
    pub private: Option<RsaPrivate>,
}

/// The private members of an RSA key; the CRT members come together or not at all.
#[derive(Clone)]
pub(crate) struct RsaPrivate {
    pub d: Zeroizing<Vec<u8>>,
    pub crt: Option<RsaCrt>,
}

/// RFC 7518 §6.3.2.2–6.3.2.6.
#[derive(Clone)]
pub(crate) struct RsaCrt {
    pub p: Zeroizing<Vec<u8>>,
    pub q: Zeroizing<Vec<u8>>,
    pub dp: Zeroizing<Vec<u8>>,
    pub dq: Zeroizing<Vec<u8>>,
    pub qi: Zeroizing<Vec<u8>>,
}

/// An EC key: fixed-length coordinates and scalar (RFC 7518 §6.2.1.2, §6.2.2.1).
#[derive(Clone)]
pub(crate) struct EcParts {
    pub curve: Curve,
    pub x: Vec<u8>,
    pub y: Vec<u8>,
    pub d: Option<Zeroizing<Vec<u8>>>,
}

/// An Ed25519 key (RFC 8037 §2): the public key and the private seed.
#[derive(Clone)]
pub(crate) struct EdParts {
    pub x: [u8; 32],
    pub d: Option<Zeroizing<[u8; 32]>>,
}

impl Material {
    /// The material a JWK describes, with every byte-level check made.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, Error> {
        Ok(match jwk.kty.as_str() {
            "oct" => Material::Hmac(Box::new(HmacSecret::new(field(&jwk.k, "k")?))),
            "RSA" => Material::Rsa(Box::new(rsa(jwk)?)),
            "EC" => Material::Ec(Box::new(ec(jwk)?)),
            "OKP" => Material::Ed25519(Box::new(okp(jwk)?)),
            other => {
                return Err(Error::key(format!(
                    "unsupported kty {:?}",
                    truncated(other)
                )))
            }
        })
    }
}

/// Decodes a required base64url member.
fn field(value: &Option<String>, name: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    let text = value
        .as_deref()
        .ok_or_else(|| Error::key(format!("missing member {name:?}")))?;
    b64::decode(text)
        .map(Zeroizing::new)
        .ok_or_else(|| Error::key(format!("member {name:?} is not strict base64url")))
}

/// Decodes an exact-length base64url member (EC coordinates, RFC 7518 §6.2.1.2).
fn fixed_field(
    value: &Option<String>,
    name: &str,
    len: usize,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let bytes = field(value, name)?;
    if bytes.len() != len {
        return Err(Error::key(format!(
            "member {name:?} is {} bytes, expected {len}",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// A big-endian integer member without its leading zeros (some libraries write one, which
/// RFC 7518 §6.3.1.1 forbids; the value is the same).
fn integer(value: &Option<String>, name: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    let bytes = field(value, name)?;
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    Ok(Zeroizing::new(bytes[start..].to_vec()))
}

/// `a < b` for big-endian integers without leading zeros.
fn less(a: &[u8], b: &[u8]) -> bool {
    (a.len(), a) < (b.len(), b)
}

fn rsa(jwk: &Jwk) -> Result<RsaParts, Error> {
    let n = integer(&jwk.n, "n")?.to_vec();
    let e = integer(&jwk.e, "e")?.to_vec();
    if jwk.oth.is_some() {
        return Err(Error::key("multi-prime RSA keys (oth) are not supported"));
    }
    check_rsa_public(&n, &e)?;
    let private = match &jwk.d {
        None => None,
        Some(_) => {
            let d = integer(&jwk.d, "d")?;
            // A private exponent lies strictly between 1 and n.
            if !less(&[1], &d) || !less(&d, &n) {
                return Err(Error::key("RSA private exponent d is out of range"));
            }
            let crt = match (&jwk.p, &jwk.q, &jwk.dp, &jwk.dq, &jwk.qi) {
                // RFC 7518 §6.3.2 has producers include them (SHOULD); the hosts' crypto
                // (node:crypto, browsers' WebCrypto) cannot use a key without them, so the
                // runtimes would disagree on it (an outside audit): refused everywhere.
                (None, None, None, None, None) => {
                    return Err(Error::key(
                        "RSA private key without p, q, dp, dq, qi: include its CRT members (RFC 7518 §6.3.2)",
                    ))
                }
                (Some(_), Some(_), Some(_), Some(_), Some(_)) => Some(RsaCrt {
                    p: integer(&jwk.p, "p")?,
                    q: integer(&jwk.q, "q")?,
                    dp: integer(&jwk.dp, "dp")?,
                    dq: integer(&jwk.dq, "dq")?,
                    qi: integer(&jwk.qi, "qi")?,
                }),
                // RFC 7518 §6.3.2: p, q, dp, dq and qi come together or not at all.
                _ => {
                    return Err(Error::key(
                        "RSA private key has some of p, q, dp, dq, qi but not all",
                    ))
                }
            };
            Some(RsaPrivate { d, crt })
        }
    };
    Ok(RsaParts { n, e, private })
}

/// Bits of a big-endian integer without leading zeros.
fn bits(n: &[u8]) -> usize {
    n.first()
        .map_or(0, |&top| n.len() * 8 - top.leading_zeros() as usize)
}

/// RFC 8725 §3.5 and the Wycheproof key tests: size, exponent, and the ROCA fingerprint.
pub(crate) fn check_rsa_public(n: &[u8], e: &[u8]) -> Result<(), Error> {
    let bits = bits(n);
    if bits < MIN_RSA_BITS {
        return Err(Error::key(format!(
            "RSA modulus is {bits} bits; at least {MIN_RSA_BITS} are required"
        )));
    }
    if bits > MAX_RSA_BITS {
        return Err(Error::key(format!(
            "RSA modulus is {bits} bits; at most {MAX_RSA_BITS} are accepted"
        )));
    }
    if n.last().is_none_or(|low| low % 2 == 0) {
        return Err(Error::key("RSA modulus is even"));
    }
    let exponent = (e.len() <= 8)
        .then(|| e.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b)))
        .filter(|&e| e <= MAX_RSA_EXPONENT);
    match exponent {
        Some(e) if e > 1 && e % 2 == 1 => {}
        Some(_) => {
            return Err(Error::key(
                "RSA public exponent must be odd and greater than 1",
            ))
        }
        None => return Err(Error::key("RSA public exponent is larger than 2^33 - 1")),
    }
    if has_roca_fingerprint(n) {
        return Err(Error::key(
            "RSA modulus has the ROCA fingerprint (CVE-2017-15361): the private key can be recovered",
        ));
    }
    Ok(())
}

/// The ROCA test (Nemec et al., CCS 2017): moduli made by the vulnerable Infineon library lie,
/// modulo each small prime below, in the subgroup generated by 65537. A random modulus passes
/// all of them with negligible probability.
fn has_roca_fingerprint(n: &[u8]) -> bool {
    const PRIMES: [u32; 38] = [
        3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
        97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
    ];
    PRIMES.iter().all(|&p| {
        let residue = residue(n, p);
        let generator = 65537 % p;
        let mut power = 1u32;
        loop {
            if power == residue {
                return true;
            }
            power = power * generator % p;
            if power == 1 {
                return false;
            }
        }
    })
}

/// `n mod m` for a small modulus.
fn residue(n: &[u8], m: u32) -> u32 {
    n.iter().fold(0u64, |acc, &byte| {
        (acc * 256 + u64::from(byte)) % u64::from(m)
    }) as u32
}

fn curve_of(jwk: &Jwk) -> Result<Curve, Error> {
    match jwk.crv.as_deref() {
        Some("P-256") => Ok(Curve::P256),
        Some("P-384") => Ok(Curve::P384),
        Some("P-521") => Ok(Curve::P521),
        Some(other) => Err(Error::key(format!(
            "unsupported EC curve {:?}",
            truncated(other)
        ))),
        None => Err(Error::key("missing member \"crv\"")),
    }
}

fn ec(jwk: &Jwk) -> Result<EcParts, Error> {
    let curve = curve_of(jwk)?;
    let len = curve.coordinate_len();
    let x = fixed_field(&jwk.x, "x", len)?.to_vec();
    let y = fixed_field(&jwk.y, "y", len)?.to_vec();
    let d = match &jwk.d {
        None => None,
        Some(_) => Some(fixed_field(&jwk.d, "d", len)?),
    };
    Ok(EcParts { curve, x, y, d })
}

fn okp(jwk: &Jwk) -> Result<EdParts, Error> {
    match jwk.crv.as_deref() {
        Some("Ed25519") => {}
        Some("Ed448") => {
            return Err(Error::NotSupported {
                what: "Ed448 keys (RFC 9864 §2.2)".to_owned(),
            })
        }
        Some(other) => {
            return Err(Error::key(format!(
                "unsupported OKP curve {:?}",
                truncated(other)
            )))
        }
        None => return Err(Error::key("missing member \"crv\"")),
    }
    let mut x = [0u8; 32];
    x.copy_from_slice(&fixed_field(&jwk.x, "x", 32)?);
    if has_small_order(&x) {
        return Err(Error::key("Ed25519 public key has small order"));
    }
    let d = match &jwk.d {
        None => None,
        Some(_) => {
            let mut seed = Zeroizing::new([0u8; 32]);
            seed.copy_from_slice(&fixed_field(&jwk.d, "d", 32)?);
            Some(seed)
        }
    };
    Ok(EdParts { x, d })
}

/// The encodings of the eight points of small order on edwards25519, the sign bit cleared
/// (libsodium's list; RFC 8032 §5.1.7 verification with such a public key or `R` proves
/// nothing). Non-canonical encodings (y = p, p + 1) are listed too.
const SMALL_ORDER: [[u8; 32]; 7] = {
    const fn ff_with(first: u8) -> [u8; 32] {
        let mut bytes = [0xff; 32];
        bytes[0] = first;
        bytes[31] = 0x7f;
        bytes
    }
    const fn low(first: u8) -> [u8; 32] {
        let mut bytes = [0; 32];
        bytes[0] = first;
        bytes
    }
    [
        // order 4 (y = 0) and order 1 (y = 1, the identity)
        low(0),
        low(1),
        // order 8
        [
            0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef,
            0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88,
            0x6d, 0x53, 0xfc, 0x05,
        ],
        [
            0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10,
            0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77,
            0x92, 0xac, 0x03, 0x7a,
        ],
        // order 2 (y = p - 1), and y = p, p + 1: 0 and 1 again, not reduced
        ff_with(0xec),
        ff_with(0xed),
        ff_with(0xee),
    ]
};

/// True when a compressed edwards25519 point has small order (see [`SMALL_ORDER`]).
pub(crate) fn has_small_order(point: &[u8; 32]) -> bool {
    let mut y = *point;
    y[31] &= 0x7f;
    SMALL_ORDER.contains(&y)
}

/// The group order L of edwards25519, little-endian (RFC 8032 §5.1).
const ED25519_ORDER: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// The checks RFC 8032 §5.1.7 asks of an Ed25519 signature before any arithmetic, made here so
/// that every provider sees only signatures that pass them: `S` below the group order, and
/// an `R` that is not of small order (what the pure-Rust provider's strict verification
/// refuses and a host's verification may not).
pub(crate) fn ed25519_signature_is_canonical(signature: &[u8]) -> bool {
    let (Some(r), Some(s)) = (signature.get(..32), signature.get(32..64)) else {
        return false;
    };
    let Ok(r) = <[u8; 32]>::try_from(r) else {
        return false;
    };
    // Compare S and L as little-endian numbers, most significant byte first.
    let s_below_order = s.iter().rev().lt(ED25519_ORDER.iter().rev());
    signature.len() == 64 && s_below_order && !has_small_order(&r)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7520 §3.4's RSA key: what every build accepts.
    const COOKBOOK_RSA: &str =
        include_str!("../../tests/vectors/rfc7520-cookbook/jwk/3_4.rsa_private_key.json");

    fn jwk(text: &str) -> Jwk {
        serde_json::from_str(text).expect("a JWK")
    }

    fn refusal(jwk: &Jwk) -> String {
        match Material::from_jwk(jwk) {
            Ok(_) => "accepted".to_owned(),
            Err(err) => err.to_string(),
        }
    }

    /// Asserts that `jwk` is refused for the reason `why`.
    fn assert_refused(jwk: &Jwk, why: &str) {
        let refusal = refusal(jwk);
        assert!(refusal.contains(why), "expected {why:?}, got {refusal:?}");
    }

    #[test]
    fn rsa_members_are_checked_as_bytes() {
        let good = jwk(COOKBOOK_RSA);
        assert_eq!(refusal(&good), "accepted");
        let b64 = |bytes: &[u8]| crate::b64::encode(bytes);
        for (e, why) in [
            (&[1u8][..], "odd and greater than 1"),
            (&[1, 0, 0][..], "odd and greater than 1"),
            (&[2, 0, 0, 0, 1][..], "2^33 - 1"),
        ] {
            let key = Jwk {
                e: Some(b64(e)),
                ..good.clone()
            };
            assert_refused(&key, why);
        }
        // An even modulus, and one of 1024 bits.
        let mut n = crate::b64::decode(good.n.as_deref().unwrap_or_default()).unwrap_or_default();
        if let Some(low) = n.last_mut() {
            *low &= 0xfe;
        }
        let even = Jwk {
            n: Some(b64(&n)),
            d: None,
            p: None,
            q: None,
            dp: None,
            dq: None,
            qi: None,
            ..good.clone()
        };
        assert_refused(&even, "even");
        let short = Jwk {
            n: Some(b64(&n[..128])),
            ..even.clone()
        };
        assert_refused(&short, "at least 2048");
        // RFC 7518 §6.3.2: the CRT members come together or not at all.
        let partial = Jwk {
            dq: None,
            ..good.clone()
        };
        assert_refused(&partial, "not all");
        // d must lie between 1 and n.
        let d_is_n = Jwk {
            d: good.n.clone(),
            ..good
        };
        assert_refused(&d_is_n, "out of range");
    }

    #[test]
    fn ed25519_public_keys_of_small_order_are_refused_in_every_build() {
        for point in SMALL_ORDER {
            let key = Jwk {
                kty: "OKP".into(),
                crv: Some("Ed25519".into()),
                x: Some(crate::b64::encode(&point)),
                ..Jwk::default()
            };
            assert_refused(&key, "small order");
        }
        let ed448 = Jwk {
            kty: "OKP".into(),
            crv: Some("Ed448".into()),
            ..Jwk::default()
        };
        assert!(matches!(
            Material::from_jwk(&ed448),
            Err(Error::NotSupported { .. })
        ));
    }

    #[test]
    fn bits_and_order_of_big_endian_integers() {
        assert_eq!(bits(&[0x01, 0x00]), 9);
        assert_eq!(bits(&[0x80]), 8);
        assert!(less(&[0xff], &[0x01, 0x00]));
        assert!(!less(&[0x01, 0x00], &[0x01, 0x00]));
    }

    #[test]
    fn s_must_be_below_the_group_order() {
        let mut signature = [0u8; 64];
        signature[0] = 0x58; // an R of no small order
        signature[32..].copy_from_slice(&ED25519_ORDER);
        assert!(!ed25519_signature_is_canonical(&signature));
        signature[32] -= 1;
        assert!(ed25519_signature_is_canonical(&signature));
        signature[..32].copy_from_slice(&SMALL_ORDER[2]);
        assert!(!ed25519_signature_is_canonical(&signature));
    }

    /// Every listed encoding is of small order by the curve's own arithmetic (or is refused
    /// by it), with either sign bit.
    #[cfg(feature = "rust-crypto")]
    #[test]
    fn the_small_order_list_is_what_the_curve_says() {
        for encoding in SMALL_ORDER {
            for sign in [0, 0x80] {
                let mut point = encoding;
                point[31] |= sign;
                let weak = ed25519_dalek::VerifyingKey::from_bytes(&point)
                    .map_or(true, |key| key.is_weak());
                assert!(weak, "{point:02x?}");
                assert!(has_small_order(&point));
            }
        }
    }
}

//! DPoP proofs (RFC 9449): a JWT a client signs with its own key for each request, which
//! proves that whoever presents an access token bound to that key (`cnf.jkt`, §6) also holds
//! the private key. Pure, like every other check: the adapter supplies the request, the clock
//! and, for `jti` replay, the store.
//!
//! [`verify_proof`] applies the checks of §4.3 in order. Every refusal is
//! `ERR_DPOP_PROOF_INVALID` naming the member at fault (`typ`, `alg`, `jwk`, the signature,
//! `jti`, `htm`, `htu`, `iat`, `ath`), except a missing or stale server nonce, which is
//! `ERR_DPOP_NONCE_REQUIRED` so that the adapter can answer `use_dpop_nonce` (§8). Replay
//! (`jti` seen before) and the token's binding (`cnf.jkt` equal to [`Proof::jkt`]) are the
//! adapter's, which has the store and the token.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::alg::Algorithm;
use crate::b64;
use crate::claims::{Claim, Claims};
use crate::crypto::{is_well_formed, AsyncCrypto, CryptoProvider, DefaultCrypto};
use crate::error::Error;
use crate::issue::{jws_input, new_jti, with_signature};
use crate::jwk::{Jwk, Key};
use crate::policy::media_type;
use crate::token::UntrustedToken;

/// The request header that carries a proof (§4.1).
pub const HEADER: &str = "DPoP";

/// The proof in a `DPoP` header value: exactly one (§4.3 step 1). Two headers arrive joined by
/// a comma, which no compact JWS contains.
pub fn single_proof(value: &str) -> Result<&str, Error> {
    match value.contains(',') {
        true => Err(invalid("proof", "must be exactly one DPoP header")),
        false => Ok(value.trim()),
    }
}

/// The `typ` of a DPoP proof (§4.2).
pub const PROOF_TYP: &str = "dpop+jwt";

/// Largest proof accepted: an RSA 4096 key in the header still fits.
pub const MAX_PROOF_BYTES: usize = 4096;

/// Longest `jti` accepted: it becomes a key in the replay store.
pub const MAX_JTI_BYTES: usize = 256;

/// The request a proof is checked against.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The HTTP method, as sent (methods are case-sensitive, RFC 9110 §9.1).
    pub method: &'a str,
    /// The target URI (RFC 9110 §7.1); its query and fragment are ignored (§4.3).
    pub url: &'a str,
    /// The access token presented with the proof, if any: the proof must then carry its hash
    /// (`ath`, §4.2).
    pub access_token: Option<&'a str>,
    /// The server nonces currently accepted (§8); empty when the server asks for none.
    pub nonces: &'a [&'a str],
}

/// What a server accepts, fixed once.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Asymmetric algorithms accepted (§4.3 step 5). Default: every asymmetric one.
    pub algorithms: Vec<Algorithm>,
    /// Oldest accepted `iat`, in seconds before now (§4.3 step 11, §11.1). Default: 300.
    pub max_age: u64,
    /// Seconds a proof's `iat` may lie in the future (clock skew). Default: 5.
    pub leeway: u64,
}

impl Policy {
    /// How long a proof's `jti` must be remembered to refuse every replay: a proof dated
    /// `leeway` seconds ahead is accepted until `max_age + leeway` seconds after its `iat`,
    /// that is `max_age + 2 × leeway` after its first use, and one second more, since the
    /// window is checked in whole seconds while the record expires to the millisecond (an
    /// outside run replayed such a proof 310.15 s after its first use, and it passed).
    pub fn replay_window(&self) -> u64 {
        self.max_age
            .saturating_add(self.leeway.saturating_mul(2))
            .saturating_add(1)
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            algorithms: Algorithm::ALL
                .into_iter()
                .filter(|alg| alg.is_asymmetric())
                .collect(),
            max_age: 300,
            leeway: 5,
        }
    }
}

/// A proof that passed every check of §4.3 this module can make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    /// The RFC 7638 thumbprint of the proof's key: what `cnf.jkt` of a bound token must be.
    pub jkt: String,
    /// The proof's `jti`: the adapter refuses one it has seen within the window.
    pub jti: String,
    /// The proof's `iat`.
    pub iat: i64,
    /// The algorithm it was signed with.
    pub alg: Algorithm,
    /// The server nonce it carried, if any.
    pub nonce: Option<String>,
}

fn invalid(member: &'static str, reason: &'static str) -> Error {
    Error::DpopInvalid { member, reason }
}

/// Verifies a DPoP proof for `request` at `now` (seconds), with the build's own provider
/// ([`DefaultCrypto`]).
pub fn verify_proof(
    proof: &str,
    request: &Request<'_>,
    policy: &Policy,
    now: i64,
) -> Result<Proof, Error> {
    verify_proof_with(proof, request, policy, now, &DefaultCrypto::default())
}

/// [`verify_proof`] with a specific crypto provider for the signature.
pub fn verify_proof_with(
    proof: &str,
    request: &Request<'_>,
    policy: &Policy,
    now: i64,
    provider: &impl CryptoProvider,
) -> Result<Proof, Error> {
    let (token, alg, key) = before_signature(proof, policy)?;
    let signature = token.signature();
    if !(is_well_formed(alg, &key, signature)
        && provider.verify(alg, &key, token.signing_input(), signature))
    {
        return Err(bad_signature());
    }
    after_signature(&token, alg, &key, request, policy, now)
}

/// [`verify_proof`] with a provider whose answers come later (the worker's WebCrypto).
pub async fn verify_proof_async(
    proof: &str,
    request: &Request<'_>,
    policy: &Policy,
    now: i64,
    crypto: &(impl AsyncCrypto + ?Sized),
) -> Result<Proof, Error> {
    let (token, alg, key) = before_signature(proof, policy)?;
    let signature = token.signature();
    if !(is_well_formed(alg, &key, signature)
        && crypto
            .verify(alg, &key, token.signing_input(), signature)
            .await)
    {
        return Err(bad_signature());
    }
    after_signature(&token, alg, &key, request, policy, now)
}

fn bad_signature() -> Error {
    invalid("signature", "does not verify with the header's jwk")
}

/// Steps 2 and 4 to 6: the proof's structure, type, algorithm and key.
fn before_signature<'p>(
    proof: &'p str,
    policy: &Policy,
) -> Result<(UntrustedToken<'p>, Algorithm, Key), Error> {
    // Step 2: one well-formed JWS (strict base64url, typed header members, no `crit`).
    let token = UntrustedToken::parse(proof, MAX_PROOF_BYTES).map_err(|err| match err {
        Error::Malformed { reason } | Error::DpopInvalid { reason, .. } => invalid("proof", reason),
        Error::TooLarge { .. } => invalid("proof", "is longer than 4096 bytes"),
        Error::AlgNotAllowed { .. } | Error::NotSupported { .. } => {
            invalid("alg", "is not an algorithm this server accepts")
        }
        other => other,
    })?;
    let header = token.header();
    // Step 4: explicitly typed (RFC 8725 §3.11).
    if header.typ().map(media_type).as_deref() != Some(PROOF_TYP) {
        return Err(invalid("typ", "is not dpop+jwt"));
    }
    // Step 5: an asymmetric algorithm from the allow-list (`none` cannot be parsed at all).
    let alg = header.alg();
    if !alg.is_asymmetric() || !policy.algorithms.contains(&alg) {
        return Err(invalid("alg", "is not an algorithm this server accepts"));
    }
    // Steps 6 and 7: a public key in `jwk`, never a private one (its signature is checked next).
    let key = header_key(&header.members())?;
    if !key.allows(alg) {
        return Err(invalid("jwk", "does not fit the header's alg"));
    }
    Ok((token, alg, key))
}

/// Steps 3 and 8 to 12, on a proof whose signature verified.
fn after_signature(
    token: &UntrustedToken<'_>,
    alg: Algorithm,
    key: &Key,
    request: &Request<'_>,
    policy: &Policy,
    now: i64,
) -> Result<Proof, Error> {
    let payload = token.payload();
    // Step 3 (and the JWT rules: one object, no repeated name, registered claims typed).
    let claims = Claims::read(payload, &[]).map_err(|err| match err {
        Error::Malformed { reason } => invalid("payload", reason),
        other => other,
    })?;
    match crate::verify::check_types(&claims) {
        Ok(()) => {}
        Err(Error::ClaimInvalid { claim, .. }) => {
            return Err(match claim.as_str() {
                "iat" => invalid("iat", "is not a NumericDate"),
                "jti" => invalid("jti", "is not a string"),
                _ => invalid("payload", "has a registered claim of the wrong type"),
            })
        }
        Err(other) => return Err(other),
    }
    let members: Map<String, Value> =
        serde_json::from_slice(payload).map_err(|_| invalid("payload", "is not a JSON object"))?;
    let text = |name: &'static str| -> Result<Option<&str>, Error> {
        match members.get(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(invalid(name, "is not a string")),
        }
    };
    let jti = match &claims.jti {
        Some(Claim::Str(jti)) if !jti.is_empty() && jti.len() <= MAX_JTI_BYTES => jti,
        Some(_) => return Err(invalid("jti", "is empty or longer than 256 bytes")),
        None => return Err(invalid("jti", "is missing")),
    };
    let htm = text("htm")?.ok_or(invalid("htm", "is missing"))?;
    let htu = text("htu")?.ok_or(invalid("htu", "is missing"))?;
    let iat = match claims.iat {
        Some(Claim::Number(iat)) => iat,
        _ => return Err(invalid("iat", "is missing")),
    };
    // Step 8: the method, exactly.
    if htm != request.method {
        return Err(invalid("htm", "does not match the request method"));
    }
    // Step 9: the target URI, ignoring query and fragment, after RFC 3986 §6.2.2 normalisation.
    match (normalize_uri(htu), normalize_uri(request.url)) {
        (Some(claimed), Some(actual)) if claimed == actual => {}
        (None, _) => return Err(invalid("htu", "is not an absolute http(s) URI")),
        _ => return Err(invalid("htu", "does not match the request URI")),
    }
    // Step 10: the server's nonce, when it asked for one (§8).
    let nonce = text("nonce")?;
    if !request.nonces.is_empty() {
        match nonce {
            Some(nonce) if request.nonces.contains(&nonce) => {}
            Some(_) => return Err(Error::DpopNonce { reason: "is stale" }),
            None => {
                return Err(Error::DpopNonce {
                    reason: "is missing",
                })
            }
        }
    }
    // Step 11: created within the window (§11.1).
    let leeway = i64::try_from(policy.leeway).unwrap_or(i64::MAX);
    let max_age = i64::try_from(policy.max_age).unwrap_or(i64::MAX);
    if iat > now.saturating_add(leeway) {
        return Err(invalid("iat", "is in the future"));
    }
    if iat < now.saturating_sub(max_age).saturating_sub(leeway) {
        return Err(invalid("iat", "is older than the accepted window"));
    }
    // Step 12: bound to the presented token by its hash.
    let ath = text("ath")?;
    if let Some(access_token) = request.access_token {
        match ath {
            Some(ath)
                if b64::same_public(ath.as_bytes(), access_token_hash(access_token).as_bytes()) => {
            }
            Some(_) => return Err(invalid("ath", "is not the hash of the access token")),
            None => return Err(invalid("ath", "is missing (an access token was presented)")),
        }
    }
    Ok(Proof {
        jkt: key.thumbprint(),
        jti: jti.to_string(),
        iat,
        alg,
        nonce: nonce.map(str::to_owned),
    })
}

/// The `jwk` header parameter as a public key (§4.3 step 7: a private key is refused).
fn header_key(header: &Map<String, Value>) -> Result<Key, Error> {
    let value = header.get("jwk").ok_or(invalid("jwk", "is missing"))?;
    let jwk = Jwk::from_value(value).map_err(|_| invalid("jwk", "is not a JWK"))?;
    let private = [&jwk.d, &jwk.p, &jwk.q, &jwk.dp, &jwk.dq, &jwk.qi, &jwk.k]
        .iter()
        .any(|member| member.is_some())
        || jwk.oth.is_some();
    if private {
        return Err(invalid("jwk", "contains private key material"));
    }
    Key::from_jwk(&jwk).map_err(|err| match err {
        Error::InvalidKey { .. } | Error::NotSupported { .. } => {
            invalid("jwk", "is not a valid public key for a JWS algorithm")
        }
        other => other,
    })
}

/// `ath` (§4.2): base64url of the SHA-256 of the access token's ASCII.
pub fn access_token_hash(access_token: &str) -> String {
    b64::encode(&Sha256::digest(access_token.as_bytes()))
}

/// An absolute http(s) URI reduced to what §4.3 compares: lower-case scheme and host, no
/// default port, no query or fragment, and the path normalised as RFC 3986 §6.2.2 says
/// (percent-encodings upper-cased, unreserved characters decoded, dot segments removed, an
/// empty path as `/`). `None` for anything else (user information included).
pub fn normalize_uri(uri: &str) -> Option<String> {
    let (origin, path) = split_origin(uri)?;
    let path = normalize_path(path)?;
    Some(origin + &path)
}

/// The origin of an absolute http(s) URI as RFC 6454 §6.2 serialises it (`scheme://host[:port]`,
/// scheme and host in lower case, the scheme's default port left out: RFC 3986 §6.2.2.1,
/// §6.2.3), and the path that follows, without query or fragment. `None` for another scheme,
/// no host, user information or a port that is not digits.
pub fn split_origin(uri: &str) -> Option<(String, &str)> {
    let uri = uri.split(['#', '?']).next().unwrap_or_default();
    let (scheme, rest) = uri.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let host_port = authority.to_ascii_lowercase();
    let host_port = match host_port.rsplit_once(':') {
        // An IPv6 literal's colons are inside brackets; a port follows the closing one.
        Some((host, port)) if !port.contains(']') => match port {
            "" => host.to_owned(),
            port if port == default_port => host.to_owned(),
            port if port.bytes().all(|b| b.is_ascii_digit()) => format!("{host}:{port}"),
            _ => return None,
        },
        _ => host_port,
    };
    Some((format!("{scheme}://{host_port}"), path))
}

/// RFC 3986 §6.2.2.1–6.2.2.3 on a path.
fn normalize_path(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut decoded = String::with_capacity(path.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte == b'%' {
            let hex = path.get(i + 1..i + 3)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let value = u8::from_str_radix(hex, 16).ok()?;
            if value.is_ascii_alphanumeric() || b"-._~".contains(&value) {
                decoded.push(char::from(value));
            } else {
                decoded.push('%');
                decoded.push_str(&hex.to_ascii_uppercase());
            }
            i += 3;
        } else {
            decoded.push(char::from(byte));
            i += 1;
        }
    }
    if !decoded.is_ascii() {
        return None;
    }
    // RFC 3986 §5.2.4, on whole segments.
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = decoded.split('/').skip(1).collect();
    for (n, segment) in segments.iter().enumerate() {
        let last = n + 1 == segments.len();
        match *segment {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if last {
                    out.push("");
                }
            }
            other => out.push(other),
        }
    }
    Some(format!("/{}", out.join("/")))
}

/// How long one server nonce lasts, in seconds: a nonce is accepted during its step and the
/// next, so a client holding one has between 300 and 600 s to use it (RFC 9449 §8 leaves the
/// lifetime to the server).
pub const NONCE_STEP: i64 = 300;

/// The server nonce for the time step of `now` (RFC 9449 §8): 128 bits of an HMAC of the step
/// under a key derived from `secret` (the deployment's pepper). Nothing is stored: every
/// isolate makes and checks the same nonces, and they change by themselves.
pub fn nonce(secret: &[u8], now: i64) -> String {
    nonce_of_step(secret, now.div_euclid(NONCE_STEP))
}

/// The nonces a proof may carry at `now`: this step's and the previous one's.
pub fn accepted_nonces(secret: &[u8], now: i64) -> [String; 2] {
    let step = now.div_euclid(NONCE_STEP);
    [
        nonce_of_step(secret, step),
        nonce_of_step(secret, step.saturating_sub(1)),
    ]
}

fn nonce_of_step(secret: &[u8], step: i64) -> String {
    // A key of its own, so that no nonce is a keyed hash of anything else under the pepper.
    let key = crate::opaque::keyed_hash(secret, "tollgate dpop nonce key");
    let mac = crate::opaque::keyed_hash(key.as_bytes(), &step.to_string());
    mac.chars().take(22).collect()
}

/// What a client's proof is made for.
#[derive(Clone, Copy, Debug)]
pub struct ProofRequest<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The target URI; its query and fragment are left out of `htu` (§4.2).
    pub url: &'a str,
    /// The access token the proof goes with: its hash becomes `ath`.
    pub access_token: Option<&'a str>,
    /// The server's nonce, when it gave one (§8).
    pub nonce: Option<&'a str>,
}

/// A DPoP proof (§4.2) signed with `key` at `now`: header `typ`, `alg` (the key's) and `jwk`
/// (its public members only); claims `jti` (128 random bits), `htm`, `htu`, `iat`, and `ath`
/// and `nonce` when given.
pub fn create_proof(
    key: &Key,
    request: &ProofRequest<'_>,
    now: i64,
    provider: &impl CryptoProvider,
) -> Result<String, Error> {
    let (alg, input) = proof_input(key, request, now)?;
    let signature = provider.sign(alg, key, input.as_bytes())?;
    Ok(with_signature(input, &signature))
}

/// A proof's algorithm and signing input, for [`create_proof`] and for hosts that sign later
/// (WebCrypto): the key is checked here, so a host only ever signs a well-formed proof.
pub fn proof_input(
    key: &Key,
    request: &ProofRequest<'_>,
    now: i64,
) -> Result<(Algorithm, String), Error> {
    let alg = key.signing_algorithm()?;
    if !alg.is_asymmetric() || !key.is_private() {
        return Err(Error::key("a DPoP proof needs an asymmetric private key"));
    }
    let htu = request.url.split(['#', '?']).next().unwrap_or_default();
    if normalize_uri(htu).is_none() {
        return Err(Error::policy(
            "the proof's url must be an absolute http(s) URI",
        ));
    }
    let jwk =
        serde_json::to_value(key.public_members()).map_err(|e| Error::policy(e.to_string()))?;
    let header = serde_json::json!({ "typ": PROOF_TYP, "alg": alg.name(), "jwk": jwk });
    let mut claims = serde_json::json!({
        "jti": new_jti()?,
        "htm": request.method,
        "htu": htu,
        "iat": now,
    });
    if let Some(token) = request.access_token {
        claims["ath"] = access_token_hash(token).into();
    }
    if let Some(nonce) = request.nonce {
        claims["nonce"] = nonce.into();
    }
    let header = b64::encode(header.to_string().as_bytes());
    Ok((alg, jws_input(&header, &claims.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_last_two_steps_and_depend_on_the_secret() {
        let secret = b"pepper-for-tests-only-0123456789abcdef";
        let now = 1_800_000_123;
        let current = nonce(secret, now);
        assert_eq!(current.len(), 22);
        assert_eq!(accepted_nonces(secret, now)[0], current);
        assert_eq!(
            accepted_nonces(secret, now + NONCE_STEP)[1],
            current,
            "still accepted next step"
        );
        assert!(!accepted_nonces(secret, now + 2 * NONCE_STEP).contains(&current));

        assert_ne!(nonce(b"another-pepper-0123456789abcdef0123", now), current);
    }

    #[test]
    fn uris_compare_as_rfc_3986_6_2_2_and_rfc_9449_4_3_say() {
        let same = [
            (
                "https://Server.Example.COM/token",
                "https://server.example.com/token",
            ),
            (
                "HTTPS://server.example.com:443/token",
                "https://server.example.com/token",
            ),
            ("http://a:80/x", "http://a/x"),
            ("https://a/x?query=1#frag", "https://a/x"),
            ("https://a", "https://a/"),
            ("https://a/%7Euser/%2f", "https://a/~user/%2F"),
            ("https://a/b/./c/../d", "https://a/b/d"),
            ("https://[::1]:8443/x", "https://[::1]:8443/x"),
        ];
        for (a, b) in same {
            assert_eq!(normalize_uri(a), normalize_uri(b), "{a} {b}");
            assert!(normalize_uri(a).is_some(), "{a}");
        }
        let different = [
            ("https://a/x", "http://a/x"),
            ("https://a:8443/x", "https://a/x"),
            ("https://a/X", "https://a/x"),
            ("https://a/x/", "https://a/x"),
            ("https://a/%2F", "https://a//"),
        ];
        for (a, b) in different {
            assert_ne!(normalize_uri(a), normalize_uri(b), "{a} {b}");
        }
        for bad in [
            "/token",
            "ftp://a/x",
            "https://user@a/x",
            "https:///x",
            "https://a:x/",
            "https://a/%zz",
            "https://a/%+F",
        ] {
            assert_eq!(normalize_uri(bad), None, "{bad}");
        }
    }

    #[test]
    fn origins_are_serialised_as_rfc_6454_says() {
        for (uri, origin, path) in [
            (
                "https://App.Example:443/cb?x=1#f",
                "https://app.example",
                "/cb",
            ),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080", ""),
            ("HTTPS://[::1]:8443/a/b", "https://[::1]:8443", "/a/b"),
        ] {
            assert_eq!(split_origin(uri), Some((origin.to_owned(), path)), "{uri}");
        }
        for bad in [
            "com.example.app:/cb",
            "https://u@a/",
            "https://a:x/",
            "https:///",
        ] {
            assert_eq!(split_origin(bad), None, "{bad}");
        }
    }

    /// RFC 9449 §11.1: the `jti` outlives every moment its proof is accepted. A proof used
    /// first at the start of second `t`, dated `t + leeway`, is accepted while the whole-second
    /// clock reads at most `iat + max_age + leeway`, so until `t + max_age + 2 × leeway + 1`.
    #[test]
    fn a_proof_is_remembered_for_as_long_as_it_is_accepted() {
        let policy = Policy::default();
        let t = 1_000_000i64;
        let iat = t + policy.leeway as i64;
        let last_second_accepted = iat + policy.max_age as i64 + policy.leeway as i64;
        let accepted_until_ms = (last_second_accepted + 1) * 1000;
        let remembered_until_ms = t * 1000 + policy.replay_window() as i64 * 1000;
        assert!(remembered_until_ms >= accepted_until_ms);
        assert_eq!(policy.replay_window(), 311);
    }
}

//! The gateway's identity assertion for the origin (`X-Tollgate-Assertion`), as Cloudflare
//! Access sends `Cf-Access-Jwt-Assertion`: with it, an origin trusts who a request is from
//! without trusting the network path, since only the gateway holds the signing key.
//!
//! It is a JWT of this deployment, typed `tollgate-assertion+jwt` so that no access token or
//! ID token passes for one (RFC 8725 §3.11), addressed to the origin (`aud`), valid for one
//! minute, and bound to the forwarded request by `htm` and `htu`, with `htu` written as RFC
//! 9449 §4.2 writes it for DPoP (no query or fragment, lower-case scheme and host, no default
//! port): a copy replayed against another method or path is refused. Its other claims say who:
//! `sub`, `scope`, `client_id`, `token_type`, `jti` (the presented token's), and `token_iss`,
//! the issuer of the presented token (this deployment's, or an external issuer's): a subject
//! is unique only within its issuer (RFC 7519 §4.1.2, RFC 8725 §3.8), and without it an
//! external issuer's `alice` reached the origin as this deployment's (an outside run).

use serde_json::{Map, Value};

use crate::error::Error;
use crate::gateway::Identity;
use crate::jwk::Key;
use crate::policy::Policy;
use crate::verify::Verified;
use crate::TokenBuilder;

/// The request header that carries it to the origin.
pub const HEADER: &str = "X-Tollgate-Assertion";

/// Its `typ`.
pub const TYP: &str = "tollgate-assertion+jwt";

/// Its lifetime in seconds (`exp` - `iat`).
pub const LIFETIME: u64 = 60;

/// What an assertion says, apart from its times: two requests with equal statements can share
/// one signed assertion while it is fresh.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Statement {
    claims: Vec<(&'static str, String)>,
}

impl Statement {
    /// The statement for an identity and the request forwarded to `url` with `method`, by the
    /// deployment `issuer` for the origin `audience`. `None` when `url` is not absolute.
    pub fn new(
        identity: &Identity,
        issuer: &str,
        audience: &str,
        method: &str,
        url: &str,
    ) -> Option<Statement> {
        let htu = crate::dpop::normalize_uri(url)?;
        let mut claims = vec![
            ("iss", issuer.to_owned()),
            ("aud", audience.to_owned()),
            ("htm", method.to_owned()),
            ("htu", htu),
            ("token_type", identity.token_type.as_str().to_owned()),
        ];
        let optional = [
            ("sub", &identity.sub),
            ("scope", &identity.scope),
            ("jti", &identity.jti),
            ("client_id", &identity.client_id),
            ("token_iss", &identity.issuer),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                claims.push((name, value.clone()));
            }
        }
        Some(Statement { claims })
    }

    /// The token to sign at `now` (an adapter with an asynchronous signer uses
    /// [`TokenBuilder::signing_input`]).
    pub fn builder(&self, now: i64) -> TokenBuilder {
        let mut builder = TokenBuilder::new(now).typ(TYP).lifetime(LIFETIME);
        for (name, value) in &self.claims {
            builder = builder.claim(name, value.as_str());
        }
        builder
    }

    /// Signs it with `key` at `now`.
    pub fn sign(&self, key: &Key, now: i64) -> Result<String, Error> {
        self.builder(now).sign(key)
    }
}

/// The policy an origin verifies assertions under: this issuer, this audience, the assertion
/// `typ`, `sub`-less assertions allowed (a public route's request carries none at all).
pub fn policy(issuer: &str, audience: &str, leeway: u64) -> Policy {
    Policy {
        issuers: vec![issuer.to_owned()],
        audiences: vec![audience.to_owned()],
        typ: Some(TYP.to_owned()),
        required_claims: vec!["htm".to_owned(), "htu".to_owned()],
        leeway,
        ..Policy::default()
    }
}

/// The origin's check that a verified assertion was made for this request: the same method and
/// the same URL (compared as RFC 9449 §4.3 compares `htu`). `ERR_JWT_CLAIM_VALIDATION_FAILED`
/// naming `htm` or `htu` otherwise.
pub fn check_request(claims: &Map<String, Value>, method: &str, url: &str) -> Result<(), Error> {
    let invalid = |claim: &str, reason| Error::ClaimInvalid {
        claim: claim.to_owned(),
        reason,
    };
    if claims.get("htm").and_then(Value::as_str) != Some(method) {
        return Err(invalid("htm", "the assertion was made for another method"));
    }
    let htu = claims.get("htu").and_then(Value::as_str);
    match (
        htu.and_then(crate::dpop::normalize_uri),
        crate::dpop::normalize_uri(url),
    ) {
        (Some(asserted), Some(requested)) if asserted == requested => Ok(()),
        _ => Err(invalid("htu", "the assertion was made for another URL")),
    }
}

/// [`check_request`] on a verified assertion.
pub fn check(verified: &Verified, method: &str, url: &str) -> Result<(), Error> {
    check_request(verified.claims(), method, url)
}

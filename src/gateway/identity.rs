//! Who a request acts for, whatever proved it; the headers the origin gets; the decision that
//! is logged and counted.

use super::{header_safe, Denial, TokenSource};
use crate::verify::Verified;

/// What the gateway decided for a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A public route: forwarded without a token.
    Public,
    /// Authorized and forwarded.
    Allow,
    /// Refused.
    Deny,
}

impl Outcome {
    /// The name in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Public => "public",
            Outcome::Allow => "allow",
            Outcome::Deny => "deny",
        }
    }
}

/// The kind of credential that proved an identity; the names are RFC 7662's `token_type`
/// values where one exists, the same at the gateway, in introspection and in logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TokenType {
    /// A JWT access token.
    #[default]
    Jwt,
    /// An API key.
    ApiKey,
    /// A browser session.
    Session,
    /// A DPoP-bound JWT access token, presented with a valid proof (RFC 9449).
    Dpop,
}

impl TokenType {
    /// The name sent to the origin (`X-Tollgate-Token-Type`) and logged.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Jwt => "jwt",
            TokenType::ApiKey => crate::opaque::Kind::ApiKey.name(),
            TokenType::Session => crate::opaque::Kind::Session.name(),
            TokenType::Dpop => "DPoP",
        }
    }
}

/// One decision, as logged and counted: a value, built once, instead of a list of arguments.
#[derive(Clone, Copy, Debug)]
pub struct Decision<'a> {
    /// The route rule's prefix, or `(unmatched)`.
    pub route: &'a str,
    /// What was decided.
    pub outcome: Outcome,
    /// The refusal's code.
    pub code: Option<&'a str>,
    /// Who, when known.
    pub identity: Option<&'a Identity>,
    /// Whether the verified-token cache answered.
    pub cached: bool,
    /// Time spent deciding, in milliseconds.
    pub latency_ms: f64,
}

/// Who a request acts for, whatever the kind of token that proved it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// What proved it.
    pub token_type: TokenType,
    /// The subject.
    pub sub: Option<String>,
    /// Space-separated scopes.
    pub scope: Option<String>,
    /// The token's id (`jti`, API key id).
    pub jti: Option<String>,
    /// Who issued it.
    pub issuer: Option<String>,
    /// The client it was issued to.
    pub client_id: Option<String>,
    /// The RFC 7638 thumbprint of the key the token is bound to (`cnf.jkt`, RFC 9449 §6).
    pub jkt: Option<String>,
    /// The token has a `cnf` (RFC 7800) that is not a DPoP `jkt` (e.g. an mTLS `x5t#S256`):
    /// bound to something this gateway cannot check, so it is refused rather than let through
    /// as a bearer token.
    pub other_binding: bool,
}

impl Identity {
    /// The identity a verified JWT proves.
    pub fn from_jwt(token: &Verified) -> Self {
        let claim = |name: &str| token.claim_str(name).map(str::to_owned);
        let cnf = token.claims().get("cnf");
        let jkt = cnf
            .and_then(|cnf| cnf.get("jkt"))
            .and_then(serde_json::Value::as_str);
        Identity {
            token_type: TokenType::Jwt,
            sub: claim("sub"),
            scope: claim("scope"),
            jti: claim("jti"),
            issuer: claim("iss"),
            client_id: claim("client_id"),
            jkt: jkt.map(str::to_owned),
            other_binding: cnf.is_some() && jkt.is_none(),
        }
    }

    /// A route with `dpop = "required"` takes only a DPoP-bound token with its proof.
    pub fn dpop_required(&self, rule: crate::config::DpopRule) -> Result<(), Denial> {
        match (rule, self.token_type) {
            (crate::config::DpopRule::Required, token_type) if token_type != TokenType::Dpop => {
                Err(Denial::DpopBinding(
                    "this route requires a DPoP-bound token with a DPoP proof (RFC 9449)",
                ))
            }
            _ => Ok(()),
        }
    }

    /// RFC 9449 §7.1–7.2: whether the token's binding fits how it was presented. A bound
    /// token needs the `DPoP` scheme (a proof is then checked by the adapter), and the `DPoP`
    /// scheme needs a bound token.
    pub fn dpop_fit(&self, source: TokenSource) -> Result<(), Denial> {
        if self.other_binding {
            return Err(Denial::DpopBinding(
                "the token is bound by a confirmation method (cnf) this gateway does not check",
            ));
        }
        match (source, self.jkt.is_some()) {
            (TokenSource::Dpop, true) | (TokenSource::Header | TokenSource::Cookie, false) => {
                Ok(())
            }
            (TokenSource::Dpop, false) => Err(Denial::DpopBinding(
                "the token is not DPoP-bound: present it with the Bearer scheme",
            )),
            (_, true) => Err(Denial::DpopBinding(
                "the token is DPoP-bound: present it with the DPoP scheme and a proof (RFC 9449 §7.2)",
            )),
        }
    }

    /// Whether a required scope is missing.
    pub fn missing_scopes(&self, required: &[String]) -> bool {
        let granted: Vec<&str> = self.scope.as_deref().unwrap_or("").split(' ').collect();
        required
            .iter()
            .any(|needed| !granted.contains(&needed.as_str()))
    }

    /// The identity headers for the origin. Values outside printable ASCII are percent-encoded,
    /// so no claim can split or forge a header.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![("x-tollgate-token-type", self.token_type.as_str().to_owned())];
        for (header, value) in [
            ("x-tollgate-sub", &self.sub),
            ("x-tollgate-scope", &self.scope),
            ("x-tollgate-jti", &self.jti),
            ("x-tollgate-issuer", &self.issuer),
            ("x-tollgate-client-id", &self.client_id),
            ("x-tollgate-jkt", &self.jkt),
        ] {
            if let Some(value) = value {
                headers.push((header, header_safe(value)));
            }
        }
        headers
    }
}

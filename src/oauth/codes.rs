//! Authorization requests and codes (RFC 6749 §4.1, RFC 7636 PKCE S256, RFC 9207 `iss`):
//! validation, single-use redemption with reuse revocation (§4.1.2), and the CSRF value of the
//! login and consent forms.

use super::*;
use crate::json::read::read_by;
use records::refresh_record;

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`.
pub(super) fn valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// The S256 challenge of a verifier (RFC 7636 §4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    b64::encode(&Sha256::digest(verifier.as_bytes()))
}

/// The longest `nonce` kept (it is stored with the code and echoed into the ID token).
const MAX_NONCE_BYTES: usize = 512;

/// A validated authorization request.
#[derive(Clone, Debug)]
pub struct AuthorizationRequest {
    /// The client.
    pub client: Client,
    /// The exact registered redirect URI.
    pub redirect_uri: String,
    /// The request left `redirect_uri` out: `redirect_uri` is the client's only registered
    /// one, and the token request need not name it (RFC 6749 §4.1.3).
    pub redirect_uri_omitted: bool,
    /// The scope to grant.
    pub scope: String,
    /// The client's state, returned unchanged.
    pub state: Option<String>,
    /// The PKCE S256 challenge; none only for a confidential relying party allowed to leave
    /// PKCE out ([`Client::pkce_optional`]) whose OpenID Connect request carries a `nonce`.
    pub challenge: Option<String>,
    /// The thumbprint of the DPoP key the code is bound to (RFC 9449 §10): only a token request
    /// with a proof by that key redeems it.
    pub dpop_jkt: Option<String>,
    /// OpenID Connect's `nonce`, echoed into the ID token (Core §3.1.2.1).
    pub nonce: Option<String>,
    /// The resource the grant is for (RFC 8707 §2.1); none for the deployment's audience.
    pub resource: Option<String>,
    /// OpenID Connect's `prompt`.
    pub prompt: oidc::Prompt,
    /// OpenID Connect's `max_age`: the longest time since the user's last password entry.
    pub max_age: Option<u64>,
    /// OpenID Connect's `login_hint`: the username to fill in.
    pub login_hint: Option<String>,
    /// The subject of the request's `id_token_hint`, once checked
    /// ([`OAuth::hint_subject`](super::OAuth::hint_subject)): only that user's session answers it.
    pub hint_sub: Option<String>,
}

/// Why an authorization request was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Shown to the user; never redirected (the redirect URI is not trusted).
    Page(&'static str),
    /// Sent back to the client's redirect URI (RFC 6749 §4.1.2.1).
    Redirect {
        /// Where.
        redirect_uri: String,
        /// The error code.
        error: OAuthErrorCode,
        /// Detail.
        description: &'static str,
        /// The client's state.
        state: Option<String>,
    },
}

impl AuthorizeError {
    /// The redirect URL for a `Redirect` error.
    pub fn location(&self, issuer: &str) -> Option<String> {
        match self {
            AuthorizeError::Page(_) => None,
            AuthorizeError::Redirect {
                redirect_uri,
                error,
                description,
                state,
            } => Some(error_location(
                redirect_uri,
                *error,
                description,
                state.as_deref(),
                issuer,
            )),
        }
    }
}

impl AuthorizationRequest {
    /// Where an error met after this request was validated (issuing its code, the sign-in,
    /// the store) goes: back to the client, as every error does once the client and redirect
    /// URI are known (RFC 6749 §4.1.2.1), not to a page the user cannot leave.
    pub fn error_location(&self, err: &OAuthError, issuer: &str) -> String {
        error_location(
            &self.redirect_uri,
            err.error,
            &err.public_description(),
            self.state.as_deref(),
            issuer,
        )
    }
}

/// An authorization error response (RFC 6749 §4.1.2.1), with the issuer (RFC 9207).
fn error_location(
    redirect_uri: &str,
    error: OAuthErrorCode,
    description: &str,
    state: Option<&str>,
    issuer: &str,
) -> String {
    // RFC 6749 §4.1.2.1: the same characters as §5.2's.
    let description = crate::gateway::quote_safe(description);
    let mut query = vec![
        ("error", error.as_str()),
        ("error_description", description.as_str()),
        ("iss", issuer),
    ];
    if let Some(state) = state {
        query.push(("state", state));
    }
    with_query(redirect_uri, &query)
}

/// Whether `uri` is one of a client's `registered` redirect URIs: exactly (RFC 9700 §2.1),
/// except that a native app's loopback IP redirect URI (`http://127.0.0.1…`, `http://[::1]…`)
/// matches whatever port the request names (RFC 8252 §7.3 MUST: the app listens on a port
/// the operating system hands it at run time). Native apps are public clients (RFC 8252 §8.4),
/// so only a `public` client's loopback URIs match so; a confidential client's are matched
/// exactly, as every web client's are (OpenID Connect Core §3.1.2.1). `localhost` is matched
/// exactly (§8.3).
pub fn redirect_registered(registered: &[String], uri: &str, public: bool) -> bool {
    registered.iter().any(|r| {
        r == uri || (public && matches!((loopback(r), loopback(uri)), (Some(a), Some(b)) if a == b))
    })
}

/// A loopback IP redirect URI without its port: `(host, path and query)`.
fn loopback(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("http://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host = ["127.0.0.1", "[::1]"]
        .into_iter()
        .find(|host| authority.starts_with(host))?;
    let port = &authority[host.len()..];
    let digits = port.strip_prefix(':').unwrap_or(port);
    let port_ok = port.is_empty()
        || (port.starts_with(':')
            && (1..=5).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit()));
    port_ok.then_some((host, tail))
}

/// The input of [`REDEEM_CODE`].
#[derive(Serialize)]
pub(super) struct RedeemInput {
    client_id: String,
    redirect_uri: Option<String>,
    /// The S256 challenge of the presented verifier; `None` when the verifier is malformed
    /// or absent.
    challenge: Option<String>,
    /// The token request carried a `code_verifier`, well-formed or not. Always written, and
    /// absent read as unknown: a worker of the version before wrote it only when true, so a
    /// code requested without a challenge refuses its redemption rather than take an absent
    /// member for "no verifier" (the downgrade; the client signs in again).
    verifier: Option<bool>,
    now: i64,
    lifetime: u64,
    /// The DPoP key the family's refresh tokens are bound to (public clients, RFC 9449 §5).
    #[serde(default)]
    jkt: Option<String>,
    /// The key of the token request's DPoP proof, whatever the client's type: a code bound by
    /// `dpop_jkt` (RFC 9449 §10) is redeemed only with a proof by that key.
    #[serde(default)]
    proof_jkt: Option<String>,
    /// Whether the client may use refresh tokens: only then is the family's first one stored
    /// (RFC 6749 §5.1: a refresh token is issued to a client that can use it).
    refresh: bool,
    /// The `resource` the token request names, if any, and the deployment's audience, which
    /// a code without a resource is for ([`target_matches`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource: Option<String>,
    #[serde(default)]
    audience: String,
}

/// What [`REDEEM_CODE`] decided. On the wire `{"step": …}` with the step's members, the JSON
/// of an internally tagged enum, read through [`RedeemWire`].
// One answer per redemption, read and matched once: boxing the record would cost an
// allocation for no saving.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Serialize, Deserialize)]
#[serde(into = "RedeemWire", try_from = "RedeemWire")]
pub(super) enum RedeemAnswer {
    /// Spent now; the family's first refresh token is stored with this record.
    Redeemed {
        record: RefreshRecord,
        /// The authorization request's `nonce`, for the ID token.
        nonce: Option<String>,
    },
    /// Spent before: revoke this family.
    Reused { family: String },
    /// Unknown, expired, or another client's (the code is spent all the same).
    Invalid,
    /// `redirect_uri` differs from the authorization request's.
    RedirectMismatch,
    /// The PKCE verifier does not match.
    VerifierMismatch,
    /// The code is bound to a DPoP key (`dpop_jkt`) and the request has no proof by it.
    KeyMismatch,
    /// The request names another `resource` than the code's (RFC 8707 §2.2).
    TargetMismatch,
}

/// [`RedeemAnswer`] as a flat struct: serde reads an internally tagged enum by buffering the
/// whole object first (its private `Content`, 12 KB of the worker's code for this answer).
#[derive(Serialize)]
pub(super) struct RedeemWire {
    step: RedeemStep,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    record: Option<RefreshRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    family: Option<String>,
}

#[derive(Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
enum RedeemStep {
    Redeemed,
    Reused,
    Invalid,
    RedirectMismatch,
    VerifierMismatch,
    KeyMismatch,
    TargetMismatch,
}

// Read by hand (crate::json::read): the derive's rules, which the attributes above state.
read_by!(RedeemInput, "a redemption", |o| RedeemInput {
    client_id: o.required("client_id"),
    redirect_uri: o.nullable("redirect_uri").string("redirect_uri"),
    challenge: o.nullable("challenge").string("challenge"),
    verifier: o.nullable("verifier").bool("verifier"),
    now: o.required_i64("now"),
    lifetime: o.required_u64("lifetime"),
    jkt: o.nullable("jkt").string("jkt"),
    proof_jkt: o.nullable("proof_jkt").string("proof_jkt"),
    refresh: o.bool("refresh").unwrap_or(true),
    resource: o.nullable("resource").string("resource"),
    audience: o.string("audience").unwrap_or_default(),
});

read_by!(RedeemWire, "a redemption's answer", |o| RedeemWire {
    step: {
        o.need("step");
        o.word("step", REDEEM_STEPS).unwrap_or(RedeemStep::Invalid)
    },
    record: o.nullable("record").object("record", refresh_record),
    nonce: o.nullable("nonce").string("nonce"),
    family: o.nullable("family").string("family"),
});

const REDEEM_STEPS: &[(&str, RedeemStep)] = &[
    ("redeemed", RedeemStep::Redeemed),
    ("reused", RedeemStep::Reused),
    ("invalid", RedeemStep::Invalid),
    ("redirect_mismatch", RedeemStep::RedirectMismatch),
    ("verifier_mismatch", RedeemStep::VerifierMismatch),
    ("key_mismatch", RedeemStep::KeyMismatch),
    ("target_mismatch", RedeemStep::TargetMismatch),
];

impl From<RedeemAnswer> for RedeemWire {
    fn from(answer: RedeemAnswer) -> Self {
        let wire = |step| RedeemWire {
            step,
            record: None,
            nonce: None,
            family: None,
        };
        match answer {
            RedeemAnswer::Redeemed { record, nonce } => RedeemWire {
                record: Some(record),
                nonce,
                ..wire(RedeemStep::Redeemed)
            },
            RedeemAnswer::Reused { family } => RedeemWire {
                family: Some(family),
                ..wire(RedeemStep::Reused)
            },
            RedeemAnswer::Invalid => wire(RedeemStep::Invalid),
            RedeemAnswer::RedirectMismatch => wire(RedeemStep::RedirectMismatch),
            RedeemAnswer::VerifierMismatch => wire(RedeemStep::VerifierMismatch),
            RedeemAnswer::KeyMismatch => wire(RedeemStep::KeyMismatch),
            RedeemAnswer::TargetMismatch => wire(RedeemStep::TargetMismatch),
        }
    }
}

impl TryFrom<RedeemWire> for RedeemAnswer {
    type Error = &'static str;

    fn try_from(wire: RedeemWire) -> Result<Self, Self::Error> {
        Ok(match wire.step {
            RedeemStep::Redeemed => RedeemAnswer::Redeemed {
                record: wire.record.ok_or("missing field `record`")?,
                nonce: wire.nonce,
            },
            RedeemStep::Reused => RedeemAnswer::Reused {
                family: wire.family.ok_or("missing field `family`")?,
            },
            RedeemStep::Invalid => RedeemAnswer::Invalid,
            RedeemStep::RedirectMismatch => RedeemAnswer::RedirectMismatch,
            RedeemStep::VerifierMismatch => RedeemAnswer::VerifierMismatch,
            RedeemStep::KeyMismatch => RedeemAnswer::KeyMismatch,
            RedeemStep::TargetMismatch => RedeemAnswer::TargetMismatch,
        })
    }
}

/// Redemption as one atomic step over the code and its family's first refresh token (same
/// object): single use (RFC 6749 §4.1.2) and every check of §4.1.3 and RFC 7636 §4.6.
pub static REDEEM_CODE: Transition = Transition {
    name: "redeem_code",
    apply: redeem_code,
};

fn redeem_code(code: Option<&str>, refresh: Option<&str>, input: &str) -> Result<Applied, String> {
    let input: RedeemInput = serde_json::from_str(input).map_err(|e| e.to_string())?;
    let Some(record) = code.and_then(|text| serde_json::from_str::<CodeRecord>(text).ok()) else {
        return applied(Write::Keep, Write::Keep, &RedeemAnswer::Invalid);
    };
    if record.used {
        let family = record.family.clone();
        return applied(Write::Keep, Write::Keep, &RedeemAnswer::Reused { family });
    }
    // Spent on first presentation, whatever the outcome; kept 10 minutes as the reuse marker.
    let used = Write::Put(
        text(&CodeRecord {
            used: true,
            ..record.clone()
        })?,
        Some(600),
    );
    if record.client_id != input.client_id || record.exp <= input.now {
        return applied(used, Write::Keep, &RedeemAnswer::Invalid);
    }
    // RFC 6749 §4.1.3: required, and identical, if the authorization request included it.
    let may_omit = record.redirect_uri_omitted && input.redirect_uri.is_none();
    if !may_omit && input.redirect_uri.as_deref() != Some(record.redirect_uri.as_str()) {
        return applied(used, Write::Keep, &RedeemAnswer::RedirectMismatch);
    }
    let verified = match &record.challenge {
        Some(expected) => input
            .challenge
            .as_deref()
            .is_some_and(|challenge| equal_secret(challenge, expected)),
        // RFC 9700 §2.1.1: a code requested without a challenge is not redeemed with a
        // verifier (the PKCE downgrade attack: an injected code with the attacker's verifier).
        None => input.verifier == Some(false),
    };
    if !verified {
        return applied(used, Write::Keep, &RedeemAnswer::VerifierMismatch);
    }
    if record.jkt.is_some() && record.jkt != input.proof_jkt {
        return applied(used, Write::Keep, &RedeemAnswer::KeyMismatch);
    }
    if !target_matches(
        input.resource.as_deref(),
        record.resource.as_deref(),
        &input.audience,
    ) {
        return applied(used, Write::Keep, &RedeemAnswer::TargetMismatch);
    }
    let first = RefreshRecord {
        family: record.family.clone(),
        client_id: record.client_id.clone(),
        sub: record.sub.clone(),
        scope: record.scope.clone(),
        exp: input
            .now
            .saturating_add(i64::try_from(input.lifetime).unwrap_or(i64::MAX)),
        // The grant's time, not the redemption's: a subject revoked in between is revoked
        // for this family too (`grant_revoked`).
        iat: record.iat,
        rotated_at: None,
        jkt: input.jkt.clone(),
        login: record.login.clone(),
        resource: record.resource.clone(),
    };
    let stored = match refresh {
        None if input.refresh => Write::Put(text(&first)?, ttl(input.lifetime)),
        _ => Write::Keep,
    };
    let nonce = record.nonce.clone();
    applied(
        used,
        stored,
        &RedeemAnswer::Redeemed {
            record: first,
            nonce,
        },
    )
}

fn applied(first: Write, second: Write, answer: &RedeemAnswer) -> Result<Applied, String> {
    Ok(Applied {
        first,
        second,
        answer: serde_json::to_string(answer).map_err(|e| e.to_string())?,
    })
}

/// A record's text, for a transition's writes.
fn text<T: Serialize>(value: &T) -> Result<String, String> {
    serde_json::to_string(value).map_err(|e| e.to_string())
}

impl<S: Store, C: AtomicStore> OAuth<'_, S, C> {
    pub(super) async fn code_grant(
        &self,
        client: &Client,
        code: Option<&str>,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
        resource: Option<&str>,
        now: i64,
    ) -> Result<TokenResponse, OAuthError> {
        let code = code
            .ok_or_else(|| OAuthError::new(OAuthErrorCode::InvalidRequest, "code is required"))?;
        // Whether this code had a challenge is the record's to say; of a client that must
        // use PKCE a missing verifier is a malformed request (RFC 6749 §5.2).
        if verifier.is_none() && !client.may_omit_pkce() {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidRequest,
                "code_verifier is required (PKCE)",
            ));
        }
        let invalid = || {
            OAuthError::new(
                OAuthErrorCode::InvalidGrant,
                "the code is invalid, expired, already used, or was issued to another client",
            )
        };
        if opaque::parse(code) != Some(Kind::Code) {
            return Err(invalid());
        }
        // The family's first refresh token shares the code's routing slot, so the one
        // coordinator step that spends the code also stores it.
        let refresh = opaque::in_slot_of(
            &opaque::generate(Kind::Refresh).map_err(server_error)?,
            code,
        );
        let input = RedeemInput {
            client_id: client.client_id.clone(),
            redirect_uri: redirect_uri.map(str::to_owned),
            challenge: verifier.filter(|v| valid_verifier(v)).map(pkce_challenge),
            verifier: Some(verifier.is_some()),
            now,
            lifetime: self.config.refresh_token_lifetime,
            jkt: self.refresh_binding(client.is_public()),
            proof_jkt: self.dpop_jkt.map(str::to_owned),
            refresh: client.allows(Grant::RefreshToken),
            resource: resource.map(str::to_owned),
            audience: self.audience.to_owned(),
        };
        let answer = self
            .once
            .apply(
                &REDEEM_CODE,
                &self.code_key(code),
                &self.refresh_key(&refresh),
                &record_text(&input)?,
            )
            .await?;
        let answer: RedeemAnswer = parse_record("redemption", &answer)?;
        match answer {
            RedeemAnswer::Redeemed { record, nonce } => {
                // A code granted before its session's sign-out (or its subject's revocation)
                // and presented after it gives nothing: its family was revoked with the
                // session, and an ID token, once issued, could not be (an outside OIDC run).
                if self.grant_revoked(&record).await? {
                    return Err(invalid());
                }
                let refresh = client.allows(Grant::RefreshToken).then_some(refresh);
                self.refresh_response(&record, refresh, &record.scope, nonce.as_deref(), now)
                    .await
            }
            // RFC 6749 §4.1.2: a code used twice revokes what it gave.
            RedeemAnswer::Reused { family } => {
                if !family.is_empty() {
                    self.revoke_family(&family, now).await?;
                }
                Err(invalid())
            }
            RedeemAnswer::RedirectMismatch => Err(OAuthError::new(
                OAuthErrorCode::InvalidGrant,
                "redirect_uri does not match the authorization request",
            )),
            RedeemAnswer::VerifierMismatch => Err(OAuthError::new(
                OAuthErrorCode::InvalidGrant,
                match verifier {
                    Some(_) => {
                        "code_verifier does not match the authorization request's code_challenge"
                    }
                    None => {
                        "code_verifier is required: the authorization request sent a code_challenge"
                    }
                },
            )),
            // RFC 9449 §10 names no error code; the grant is not valid for this key.
            RedeemAnswer::TargetMismatch => Err(OAuthError::new(
                OAuthErrorCode::InvalidTarget,
                "resource must be the one the authorization request named",
            )),
            RedeemAnswer::KeyMismatch => Err(OAuthError::new(
                OAuthErrorCode::InvalidGrant,
                "the code is bound to a DPoP key (dpop_jkt) and the request has no proof by it",
            )),
            RedeemAnswer::Invalid => Err(invalid()),
        }
    }

    /// The coordinator key of a code, routed to its family's object.
    fn code_key(&self, code: &str) -> String {
        crate::schema::routed(&crate::schema::code(&self.hash(code)), opaque::slot(code))
    }

    /// Validates an authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3). Errors that must
    /// not be sent to the redirect URI (unknown client, unregistered redirect) are
    /// [`AuthorizeError::Page`]; the rest go back to the client.
    pub async fn authorization_request(
        &self,
        params: &BTreeMap<String, String>,
    ) -> Result<AuthorizationRequest, AuthorizeError> {
        let param = |name: &str| {
            params
                .get(name)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        let client_id = param("client_id").ok_or(AuthorizeError::Page("client_id is missing"))?;
        let client = self
            .client(client_id)
            .await
            .map_err(|_| AuthorizeError::Page("the service is temporarily unavailable"))?
            .ok_or(AuthorizeError::Page("unknown client"))?;
        let redirect_uri = match param("redirect_uri") {
            Some(uri) if redirect_registered(&client.redirect_uris, uri, client.is_public()) => {
                uri.to_owned()
            }
            Some(_) => {
                return Err(AuthorizeError::Page(
                    "redirect_uri is not registered for this client",
                ))
            }
            // OpenID Connect Core §3.1.2.1 makes it REQUIRED; RFC 6749 §3.1.2.3 lets an OAuth
            // client with one registered URI leave it out.
            None if oidc::is_openid(param("scope").unwrap_or_default()) => {
                return Err(AuthorizeError::Page(
                    "redirect_uri is required in an OpenID Connect request",
                ))
            }
            None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
            None => return Err(AuthorizeError::Page("redirect_uri is required")),
        };
        let redirect_uri_omitted = param("redirect_uri").is_none();
        let state = param("state").map(str::to_owned);
        let back = |error: OAuthErrorCode, description: &'static str| AuthorizeError::Redirect {
            redirect_uri: redirect_uri.clone(),
            error,
            description,
            state: state.clone(),
        };
        // OpenID Connect Core §3.1.2.6, §6: request objects are refused with their own codes,
        // first, since the other parameters may be inside them.
        if param("request").is_some() {
            return Err(back(
                OAuthErrorCode::RequestNotSupported,
                "request objects are not supported",
            ));
        }
        if param("request_uri").is_some() {
            return Err(back(
                OAuthErrorCode::RequestUriNotSupported,
                "request_uri is not supported",
            ));
        }
        // RFC 6749 §4.1.2.1: a missing parameter is `invalid_request`; a type this server
        // does not serve is `unsupported_response_type`.
        match param("response_type") {
            Some("code") => {}
            None => {
                return Err(back(
                    OAuthErrorCode::InvalidRequest,
                    "response_type is required",
                ))
            }
            Some(_) => {
                return Err(back(
                    OAuthErrorCode::UnsupportedResponseType,
                    "response_type must be code",
                ))
            }
        }
        if !client.allows(Grant::AuthorizationCode) {
            return Err(back(
                OAuthErrorCode::UnauthorizedClient,
                "this client may not use the authorization code grant",
            ));
        }
        let challenge = match param("code_challenge") {
            Some(challenge) => {
                if param("code_challenge_method") != Some("S256") {
                    return Err(back(
                        OAuthErrorCode::InvalidRequest,
                        "code_challenge_method must be S256",
                    ));
                }
                if challenge.len() != 43 || b64::decode(challenge).is_none() {
                    return Err(back(
                        OAuthErrorCode::InvalidRequest,
                        "code_challenge must be a base64url SHA-256",
                    ));
                }
                Some(challenge.to_owned())
            }
            // Checked below, once the scope and the nonce are known.
            None if client.may_omit_pkce() && param("code_challenge_method").is_none() => None,
            None => {
                return Err(back(
                    OAuthErrorCode::InvalidRequest,
                    "code_challenge is required (PKCE)",
                ))
            }
        };
        // RFC 9449 §10: the SHA-256 JWK thumbprint (RFC 7638) of the key that will prove
        // possession at the token endpoint.
        let dpop_jkt = match param("dpop_jkt") {
            Some(jkt) if jkt.len() == 43 && b64::decode(jkt).is_some() => Some(jkt.to_owned()),
            Some(_) => {
                return Err(back(
                    OAuthErrorCode::InvalidRequest,
                    "dpop_jkt must be a base64url SHA-256 JWK thumbprint",
                ))
            }
            None => None,
        };
        // OpenID Connect Core §3.1.2.1: `claims` (§5.5), `ui_locales`, `display` and
        // `acr_values` are optional for a provider and left unused. Only the query response
        // mode exists here.
        if param("response_mode").is_some_and(|mode| mode != "query") {
            return Err(back(
                OAuthErrorCode::InvalidRequest,
                "response_mode must be query",
            ));
        }
        let prompt = oidc::Prompt::parse(param("prompt"))
            .map_err(|reason| back(OAuthErrorCode::InvalidRequest, reason))?;
        let max_age = match param("max_age") {
            None => None,
            Some(text) => Some(text.parse::<u64>().map_err(|_| {
                back(
                    OAuthErrorCode::InvalidRequest,
                    "max_age must be a number of seconds",
                )
            })?),
        };
        let nonce = match param("nonce") {
            Some(nonce) if nonce.len() > MAX_NONCE_BYTES => {
                return Err(back(
                    OAuthErrorCode::InvalidRequest,
                    "nonce is longer than 512 bytes",
                ))
            }
            nonce => nonce.map(str::to_owned),
        };
        let mut allowed = client.scopes.clone();
        if param("scope").is_some() && client.allows(Grant::AuthorizationCode) {
            for scope in oidc::OIDC_SCOPES {
                if !allowed.iter().any(|a| a == scope) {
                    allowed.push(scope.to_owned());
                }
            }
        }
        let requested = param("scope").map(|scope| {
            if oidc::is_openid(scope) {
                scopes(scope)
                    .into_iter()
                    .filter(|s| !oidc::IGNORED_SCOPES.contains(s))
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                scope.to_owned()
            }
        });
        let scope = grant_scope(requested.as_deref(), &allowed).map_err(|_| {
            back(
                OAuthErrorCode::InvalidScope,
                "a requested scope is not allowed",
            )
        })?;
        if oidc::is_openid(&scope) && self.id_token_key.is_none() {
            return Err(back(OAuthErrorCode::InvalidScope, oidc::NO_ID_TOKEN_KEY));
        }
        // RFC 8707 §2: the same two refusals as at the token endpoint, sent back to the client.
        let resource = resource_param(params)
            .and_then(|resource| self.target(resource, &client.resources))
            .map_err(|_| {
                let named_well = params.get("resource").is_some_and(|r| absolute_uri(r));
                back(
                    OAuthErrorCode::InvalidTarget,
                    if named_well {
                        "this client may not obtain tokens for that resource"
                    } else {
                        "resource must be an absolute URI without a fragment (RFC 8707 section 2)"
                    },
                )
            })?;
        // RFC 9700 §2.1.1: without PKCE only OpenID Connect's `nonce`, which the relying party
        // checks in the ID token, protects a confidential client against an injected code.
        if challenge.is_none() && !(oidc::is_openid(&scope) && nonce.is_some()) {
            return Err(back(
                OAuthErrorCode::InvalidRequest,
                "code_challenge is required (PKCE), or an OpenID Connect request with a nonce",
            ));
        }
        Ok(AuthorizationRequest {
            client,
            redirect_uri,
            redirect_uri_omitted,
            scope,
            state,
            challenge,
            dpop_jkt,
            nonce,
            resource,
            prompt,
            max_age,
            login_hint: param("login_hint").map(str::to_owned),
            hint_sub: None,
        })
    }

    /// Issues a single-use code for the user of a session and a validated request; returns
    /// the redirect URL. The scope is what both the client and the user may have (the
    /// OpenID Connect scopes are the user's to give).
    pub async fn issue_code(
        &self,
        request: &AuthorizationRequest,
        session: &Session,
        now: i64,
    ) -> Result<String, OAuthError> {
        let code = opaque::generate(Kind::Code).map_err(server_error)?;
        let scope: Vec<&str> = scopes(&request.scope)
            .into_iter()
            .filter(|s| oidc::OIDC_SCOPES.contains(s) || session.scopes.iter().any(|u| u == s))
            .collect();
        let scope = scope.join(" ");
        let openid = oidc::is_openid(&scope);
        let record = CodeRecord {
            client_id: request.client.client_id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            redirect_uri_omitted: request.redirect_uri_omitted,
            sub: session.sub.clone(),
            scope,
            challenge: request.challenge.clone(),
            // The grant's time is the sign-in's: a subject revocation after it ends what the
            // code starts, even when the code came from a session read stale during the
            // revocation's propagation (stamped `now`, its family escaped: an outside run).
            iat: session.signed_in,
            exp: now + i64::try_from(self.config.code_lifetime).unwrap_or(60),
            family: crate::issue::new_jti().map_err(server_error)?,
            used: false,
            jkt: request.dpop_jkt.clone(),
            login: openid.then(|| session.login()),
            nonce: request.nonce.clone().filter(|_| openid),
            resource: request.resource.clone(),
        };
        // A user deleted or disabled since signing in gets no code (the login page, whose
        // sign-in then fails as any other would).
        let active = if session.account.is_empty() {
            // A session from before the folded name was kept: its user by its subject (the
            // issuer folds names anyway; the guard's check skips such sessions).
            self.user_by_subject(&session.sub)
                .await?
                .is_some_and(|user| !user.disabled)
        } else {
            self.user_active(session).await?
        };
        if !active {
            return Err(OAuthError::new(
                OAuthErrorCode::LoginRequired,
                "the user can no longer sign in",
            ));
        }
        let relying_party = openid.then_some(request.client.client_id.as_str());
        self.track_grant(session, &record.family, relying_party, now)
            .await?;
        self.swap_once(
            &self.code_key(&code),
            None,
            &record,
            self.config.code_lifetime,
        )
        .await?;
        let mut query = vec![("code", code.as_str()), ("iss", self.issuer)];
        if let Some(state) = &request.state {
            query.push(("state", state));
        }
        Ok(with_query(&request.redirect_uri, &query))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirect_uris_match_any_port_and_nothing_else_does() {
        let registered = [
            "http://127.0.0.1/callback".to_owned(),
            "http://[::1]:8080/cb?x=1".to_owned(),
            "https://app.example/cb".to_owned(),
            "http://localhost:3000/cb".to_owned(),
        ];
        for uri in [
            "http://127.0.0.1/callback",
            "http://127.0.0.1:51234/callback",
            "http://[::1]/cb?x=1",
            "http://[::1]:9/cb?x=1",
            "https://app.example/cb",
            "http://localhost:3000/cb",
        ] {
            assert!(redirect_registered(&registered, uri, true), "{uri}");
        }
        // A confidential client is a web server, not a native app: exactly.
        assert!(redirect_registered(
            &registered,
            "http://127.0.0.1/callback",
            false
        ));
        assert!(!redirect_registered(
            &registered,
            "http://127.0.0.1:51234/callback",
            false
        ));
        for uri in [
            "http://127.0.0.1:51234/other",
            "http://127.0.0.1:51234/callback?x=1",
            "http://127.0.0.1.evil.example/callback",
            "http://127.0.0.1:80@evil.example/callback",
            "http://127.0.0.1:/callback",
            "http://127.0.0.1:123456/callback",
            "https://127.0.0.1:443/callback",
            "http://127.0.0.2/callback",
            "http://[::1]:9/cb",
            "https://app.example:8443/cb",
            "http://localhost:3001/cb",
        ] {
            assert!(!redirect_registered(&registered, uri, true), "{uri}");
        }
    }

    #[test]
    fn a_redemption_input_reads_back_what_was_written() {
        for some in [true, false] {
            let text = |s: &str| some.then(|| s.to_owned());
            let input = RedeemInput {
                client_id: "c".into(),
                redirect_uri: text("https://rp/cb"),
                challenge: text("ch"),
                verifier: Some(some),
                now: -1,
                lifetime: u64::MAX,
                jkt: text("j"),
                proof_jkt: text("p"),
                refresh: some,
                resource: text("https://r/"),
                audience: "api".into(),
            };
            let written = serde_json::to_string(&input).unwrap();
            let read: RedeemInput = serde_json::from_str(&written).unwrap();
            assert_eq!(serde_json::to_string(&read).unwrap(), written);
        }
        assert!(serde_json::from_str::<RedeemInput>(r#"{"client_id":"c","now":1}"#).is_err());
    }

    /// The coordinator's answer keeps the JSON of an internally tagged enum, so a worker and
    /// a Durable Object of either form read each other during a deploy.
    #[test]
    fn a_redemption_answer_is_written_and_read_as_a_tagged_object() {
        let record = RefreshRecord {
            family: "f".into(),
            client_id: "c".into(),
            sub: "s".into(),
            scope: "openid".into(),
            exp: 20,
            iat: 10,
            rotated_at: None,
            jkt: None,
            login: None,
            resource: None,
        };
        let record_json = r#"{"family":"f","client_id":"c","sub":"s","scope":"openid","exp":20,"iat":10,"rotated_at":null}"#;
        let cases = [
            (
                RedeemAnswer::Redeemed {
                    record: record.clone(),
                    nonce: Some("n".into()),
                },
                format!(r#"{{"step":"redeemed","record":{record_json},"nonce":"n"}}"#),
            ),
            (
                RedeemAnswer::Redeemed {
                    record,
                    nonce: None,
                },
                format!(r#"{{"step":"redeemed","record":{record_json}}}"#),
            ),
            (
                RedeemAnswer::Reused { family: "f".into() },
                r#"{"step":"reused","family":"f"}"#.to_owned(),
            ),
            (RedeemAnswer::Invalid, r#"{"step":"invalid"}"#.to_owned()),
            (
                RedeemAnswer::RedirectMismatch,
                r#"{"step":"redirect_mismatch"}"#.to_owned(),
            ),
            (
                RedeemAnswer::VerifierMismatch,
                r#"{"step":"verifier_mismatch"}"#.to_owned(),
            ),
            (
                RedeemAnswer::KeyMismatch,
                r#"{"step":"key_mismatch"}"#.to_owned(),
            ),
        ];
        for (answer, json) in cases {
            assert_eq!(serde_json::to_string(&answer).unwrap(), json);
            let read: RedeemAnswer = serde_json::from_str(&json).unwrap();
            assert_eq!(serde_json::to_string(&read).unwrap(), json);
        }
        for missing in [
            r#"{"step":"redeemed"}"#,
            r#"{"step":"reused"}"#,
            r#"{"step":"x"}"#,
        ] {
            assert!(
                serde_json::from_str::<RedeemAnswer>(missing).is_err(),
                "{missing}"
            );
        }
    }
}

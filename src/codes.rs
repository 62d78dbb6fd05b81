//! Every stable code the product returns or logs, in one table: the string users match on and
//! the HTTP status an edge response with it carries. README's error-code table is checked
//! against [`Code::ALL`] by `tests/one_place.rs`, and no other source file spells a code.

/// One stable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// `ERR_JWS_INVALID`: malformed token: segments, base64url, JSON.
    JwsInvalid,
    /// `ERR_JWT_TOO_LARGE`: longer than `maxTokenBytes`.
    JwtTooLarge,
    /// `ERR_JOSE_ALG_NOT_ALLOWED`: `alg` unknown, `none`, or not allowed by the policy.
    JoseAlgNotAllowed,
    /// `ERR_JWKS_NO_MATCHING_KEY`: no key fits the token's `kid` and `alg`.
    JwksNoMatchingKey,
    /// `ERR_JWS_SIGNATURE_VERIFICATION_FAILED`: the signature does not verify.
    JwsSignatureVerificationFailed,
    /// `ERR_JWT_EXPIRED`: `exp` has passed.
    JwtExpired,
    /// `ERR_JWT_NOT_YET_VALID`: `nbf` or `iat` in the future.
    JwtNotYetValid,
    /// `ERR_JWT_CLAIM_VALIDATION_FAILED`: a claim failed the policy.
    JwtClaimValidationFailed,
    /// `ERR_JOSE_NOT_SUPPORTED`: a JOSE feature this implementation refuses.
    JoseNotSupported,
    /// `ERR_JWK_INVALID`: a key does not parse, does not fit, or is too weak.
    JwkInvalid,
    /// `ERR_JWT_REVOKED`: the token is on the revocation list.
    JwtRevoked,
    /// `ERR_POLICY_INVALID`: a verification policy or issuance request is unusable.
    PolicyInvalid,
    /// `ERR_RANDOM_UNAVAILABLE`: the random source failed.
    RandomUnavailable,
    /// `ERR_SIGNING_KEYS_MISSING`: the signing-key secret is not set.
    SigningKeysMissing,
    /// `ERR_CONFIG_INVALID`: the configuration is invalid.
    ConfigInvalid,
    /// `ERR_CONFIG_MISSING`: the configuration is absent.
    ConfigMissing,
    /// `ERR_TOKEN_MISSING`: no token in the request.
    TokenMissing,
    /// `ERR_AUTHORIZATION_MALFORMED`: the Authorization header is malformed.
    AuthorizationMalformed,
    /// `ERR_INSUFFICIENT_SCOPE`: the token lacks a scope the route needs.
    InsufficientScope,
    /// `ERR_REVOCATION_UNAVAILABLE`: the revocation list cannot be read or written.
    RevocationUnavailable,
    /// `ERR_JWKS_UNAVAILABLE`: an external issuer's keys cannot be fetched.
    JwksUnavailable,
    /// `ERR_ORIGIN_UNREACHABLE`: the origin did not answer.
    OriginUnreachable,
    /// `ERR_HTTPS_REQUIRED`: plain HTTP refused.
    HttpsRequired,
    /// `ERR_ONE_TIME_TOKEN_INVALID`: a one-time route without a fresh one-time token.
    OneTimeTokenInvalid,
    /// `ERR_PEPPER_MISSING`: the pepper secret is not set or too short.
    PepperMissing,
    /// `ERR_PATH_INVALID`: an ambiguous path.
    PathInvalid,
    /// `ERR_METHOD_NOT_ALLOWED`: CONNECT, TRACE, TRACK.
    MethodNotAllowed,
    /// `ERR_SESSION_INVALID`: the session ended or never existed.
    SessionInvalid,
    /// `ERR_API_KEY_INVALID`: the API key is unknown, expired or revoked.
    ApiKeyInvalid,
    /// `ERR_STORE_UNAVAILABLE`: a store cannot be read or written.
    StoreUnavailable,
    /// `ERR_ADMIN_DISABLED`: the admin token is not set.
    AdminDisabled,
    /// `ERR_ADMIN_UNAUTHORIZED`: a wrong admin token.
    AdminUnauthorized,
    /// `ERR_OAUTH`: (log only) an OAuth endpoint answered 5xx.
    Oauth,
    /// `ERR_DPOP_PROOF_INVALID`: a DPoP proof failed a check of RFC 9449 §4.3.
    DpopProofInvalid,
    /// `ERR_DPOP_NONCE_REQUIRED`: a DPoP proof without the server's current nonce.
    DpopNonceRequired,
    /// `ERR_DPOP_BINDING_MISMATCH`: a token and the way it was presented do not fit.
    DpopBindingMismatch,
}

impl Code {
    /// Every code.
    pub const ALL: [Code; 36] = [
        Code::JwsInvalid,
        Code::JwtTooLarge,
        Code::JoseAlgNotAllowed,
        Code::JwksNoMatchingKey,
        Code::JwsSignatureVerificationFailed,
        Code::JwtExpired,
        Code::JwtNotYetValid,
        Code::JwtClaimValidationFailed,
        Code::JoseNotSupported,
        Code::JwkInvalid,
        Code::JwtRevoked,
        Code::PolicyInvalid,
        Code::RandomUnavailable,
        Code::SigningKeysMissing,
        Code::ConfigInvalid,
        Code::ConfigMissing,
        Code::TokenMissing,
        Code::AuthorizationMalformed,
        Code::InsufficientScope,
        Code::RevocationUnavailable,
        Code::JwksUnavailable,
        Code::OriginUnreachable,
        Code::HttpsRequired,
        Code::OneTimeTokenInvalid,
        Code::PepperMissing,
        Code::PathInvalid,
        Code::MethodNotAllowed,
        Code::SessionInvalid,
        Code::ApiKeyInvalid,
        Code::StoreUnavailable,
        Code::AdminDisabled,
        Code::AdminUnauthorized,
        Code::Oauth,
        Code::DpopProofInvalid,
        Code::DpopNonceRequired,
        Code::DpopBindingMismatch,
    ];

    /// The code as users see and match it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Code::JwsInvalid => "ERR_JWS_INVALID",
            Code::JwtTooLarge => "ERR_JWT_TOO_LARGE",
            Code::JoseAlgNotAllowed => "ERR_JOSE_ALG_NOT_ALLOWED",
            Code::JwksNoMatchingKey => "ERR_JWKS_NO_MATCHING_KEY",
            Code::JwsSignatureVerificationFailed => "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
            Code::JwtExpired => "ERR_JWT_EXPIRED",
            Code::JwtNotYetValid => "ERR_JWT_NOT_YET_VALID",
            Code::JwtClaimValidationFailed => "ERR_JWT_CLAIM_VALIDATION_FAILED",
            Code::JoseNotSupported => "ERR_JOSE_NOT_SUPPORTED",
            Code::JwkInvalid => "ERR_JWK_INVALID",
            Code::JwtRevoked => "ERR_JWT_REVOKED",
            Code::PolicyInvalid => "ERR_POLICY_INVALID",
            Code::RandomUnavailable => "ERR_RANDOM_UNAVAILABLE",
            Code::SigningKeysMissing => "ERR_SIGNING_KEYS_MISSING",
            Code::ConfigInvalid => "ERR_CONFIG_INVALID",
            Code::ConfigMissing => "ERR_CONFIG_MISSING",
            Code::TokenMissing => "ERR_TOKEN_MISSING",
            Code::AuthorizationMalformed => "ERR_AUTHORIZATION_MALFORMED",
            Code::InsufficientScope => "ERR_INSUFFICIENT_SCOPE",
            Code::RevocationUnavailable => "ERR_REVOCATION_UNAVAILABLE",
            Code::JwksUnavailable => "ERR_JWKS_UNAVAILABLE",
            Code::OriginUnreachable => "ERR_ORIGIN_UNREACHABLE",
            Code::HttpsRequired => "ERR_HTTPS_REQUIRED",
            Code::OneTimeTokenInvalid => "ERR_ONE_TIME_TOKEN_INVALID",
            Code::PepperMissing => "ERR_PEPPER_MISSING",
            Code::PathInvalid => "ERR_PATH_INVALID",
            Code::MethodNotAllowed => "ERR_METHOD_NOT_ALLOWED",
            Code::SessionInvalid => "ERR_SESSION_INVALID",
            Code::ApiKeyInvalid => "ERR_API_KEY_INVALID",
            Code::StoreUnavailable => "ERR_STORE_UNAVAILABLE",
            Code::AdminDisabled => "ERR_ADMIN_DISABLED",
            Code::AdminUnauthorized => "ERR_ADMIN_UNAUTHORIZED",
            Code::Oauth => "ERR_OAUTH",
            Code::DpopProofInvalid => "ERR_DPOP_PROOF_INVALID",
            Code::DpopNonceRequired => "ERR_DPOP_NONCE_REQUIRED",
            Code::DpopBindingMismatch => "ERR_DPOP_BINDING_MISMATCH",
        }
    }

    /// The HTTP status of an edge response carrying this code.
    pub fn status(self) -> u16 {
        match self {
            Code::PolicyInvalid | Code::AuthorizationMalformed | Code::PathInvalid => 400,
            Code::JwsInvalid
            | Code::JwtTooLarge
            | Code::JoseAlgNotAllowed
            | Code::JwksNoMatchingKey
            | Code::JwsSignatureVerificationFailed
            | Code::JwtExpired
            | Code::JwtNotYetValid
            | Code::JwtClaimValidationFailed
            | Code::JoseNotSupported
            | Code::JwtRevoked
            | Code::TokenMissing
            | Code::SessionInvalid
            | Code::ApiKeyInvalid
            | Code::AdminUnauthorized
            | Code::DpopProofInvalid
            | Code::DpopNonceRequired
            | Code::DpopBindingMismatch => 401,
            Code::InsufficientScope
            | Code::HttpsRequired
            | Code::OneTimeTokenInvalid
            | Code::AdminDisabled => 403,
            Code::MethodNotAllowed => 405,
            Code::JwkInvalid
            | Code::SigningKeysMissing
            | Code::ConfigInvalid
            | Code::ConfigMissing
            | Code::PepperMissing
            | Code::Oauth => 500,
            Code::OriginUnreachable => 502,
            Code::RandomUnavailable
            | Code::RevocationUnavailable
            | Code::JwksUnavailable
            | Code::StoreUnavailable => 503,
        }
    }
}

impl core::fmt::Display for Code {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

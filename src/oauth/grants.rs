//! The token endpoint (RFC 6749 §4.3.2, §4.4.2, §5; the API-key extension grant, §4.5): grant
//! dispatch, scope (§3.3), and RFC 9068 access tokens.

use super::*;

/// A grant type Tollgate implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    /// RFC 6749 §4.1, with PKCE.
    AuthorizationCode,
    /// RFC 6749 §4.4.
    ClientCredentials,
    /// RFC 6749 §4.3.
    Password,
    /// RFC 6749 §6.
    RefreshToken,
    /// The API-key exchange ([`API_KEY_GRANT`]).
    ApiKey,
}

impl Grant {
    /// Every grant.
    pub const ALL: [Grant; 5] = [
        Grant::AuthorizationCode,
        Grant::ClientCredentials,
        Grant::Password,
        Grant::RefreshToken,
        Grant::ApiKey,
    ];

    /// The `grant_type` value (and the name clients list in `grants`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Grant::AuthorizationCode => "authorization_code",
            Grant::ClientCredentials => "client_credentials",
            Grant::Password => "password",
            Grant::RefreshToken => "refresh_token",
            Grant::ApiKey => API_KEY_GRANT,
        }
    }

    /// The grant a `grant_type` value names, if Tollgate implements it.
    pub fn parse(name: &str) -> Option<Grant> {
        Grant::ALL.into_iter().find(|g| g.as_str() == name)
    }
}

/// The grant types Tollgate implements, as names (metadata, the CLI's check).
pub const GRANTS: [&str; 5] = [
    Grant::AuthorizationCode.as_str(),
    Grant::ClientCredentials.as_str(),
    Grant::Password.as_str(),
    Grant::RefreshToken.as_str(),
    Grant::ApiKey.as_str(),
];

/// The extension grant for exchanging an API key (RFC 6749 §4.5 allows URIs as grant types).
pub const API_KEY_GRANT: &str = "urn:tollgate:params:oauth:grant-type:api-key";

/// A successful token response (RFC 6749 §5.1).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TokenResponse {
    /// The JWT access token (RFC 9068).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The new refresh token, for grants that give one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The granted scope.
    pub scope: String,
    /// The ID token, when the grant is an OpenID Connect login (Core §3.1.3.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// A request to the token endpoint, already taken apart by the adapter.
#[derive(Clone, Debug, Default)]
pub struct TokenRequest {
    /// The form parameters.
    pub params: BTreeMap<String, String>,
    /// Credentials from `Authorization: Basic` (form-decoded id and secret).
    pub basic: Option<(String, String)>,
    /// An API key from `Authorization: Bearer` or `X-API-Key`.
    pub api_key: Option<String>,
    /// The client's IP (for throttling), if known.
    pub client_ip: Option<String>,
}

pub(super) fn scopes(text: &str) -> Vec<&str> {
    text.split(' ').filter(|s| !s.is_empty()).collect()
}

/// RFC 6749 §3.3: the requested scope must be within `allowed`; none requested means all.
pub(super) fn grant_scope(
    requested: Option<&str>,
    allowed: &[String],
) -> Result<String, OAuthError> {
    match requested.map(scopes).filter(|r| !r.is_empty()) {
        None => Ok(allowed.join(" ")),
        Some(requested) => {
            if let Some(extra) = requested.iter().find(|s| !allowed.iter().any(|a| a == *s)) {
                return Err(OAuthError::new(
                    OAuthErrorCode::InvalidScope,
                    format!("scope '{extra}' is not allowed"),
                ));
            }
            let mut unique: Vec<&str> = Vec::new();
            for scope in requested {
                if !unique.contains(&scope) {
                    unique.push(scope);
                }
            }
            Ok(unique.join(" "))
        }
    }
}

impl<S: Store, C: AtomicStore> OAuth<'_, S, C> {
    /// The token endpoint (RFC 6749 §4.1.3, §4.3.2, §4.4.2, §6, and the API key grant).
    pub async fn token(&self, req: &TokenRequest, now: i64) -> Result<TokenResponse, OAuthError> {
        let param = |name: &str| {
            req.params
                .get(name)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        let name = match (param("grant_type"), &req.api_key) {
            (Some(name), _) => name,
            (None, Some(_)) => API_KEY_GRANT,
            (None, None) => {
                return Err(OAuthError::new(
                    OAuthErrorCode::InvalidRequest,
                    "grant_type is required",
                ))
            }
        };
        let Some(grant) = Grant::parse(name) else {
            return Err(OAuthError::new(
                OAuthErrorCode::UnsupportedGrantType,
                format!("grant_type '{name}' is not supported"),
            ));
        };
        // RFC 6749 §2.3: one authentication method per request. An API key authenticates its
        // grant as client credentials do the others, so the two together, or an API key on
        // another grant, are refused rather than one of them silently ignored.
        let api_keys = usize::from(req.api_key.is_some()) + usize::from(param("api_key").is_some());
        let client_credentials = req.basic.is_some() || param("client_secret").is_some();
        if api_keys > 1 || (api_keys == 1 && (grant != Grant::ApiKey || client_credentials)) {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidRequest,
                "use one authentication method: an API key (for its own grant) or client \
                 credentials, not both, and one API key",
            ));
        }
        if grant == Grant::ApiKey {
            return self.api_key_grant(req, now).await;
        }
        // RFC 6749 §5.2: its 401 names Basic, the scheme clients authenticate with here.
        let unauthenticated = || {
            OAuthError::new(
                OAuthErrorCode::InvalidClient,
                "client authentication is required",
            )
        };
        let auth = match ClientAuth::from_parts(req.basic.as_ref(), &req.params)? {
            ClientAuth::None => return Err(unauthenticated()),
            auth => auth,
        };
        let client = self
            .authenticate_client(&auth, req.client_ip.as_deref(), now)
            .await?
            .ok_or_else(unauthenticated)?;
        if !client.allows(grant) {
            return Err(OAuthError::new(
                OAuthErrorCode::UnauthorizedClient,
                format!("this client may not use {}", grant.as_str()),
            ));
        }
        // The password grant hands the user's password to the client (RFC 9700 §2.4: MUST
        // NOT be used, here kept for an operator's own apps): only a first-party client gets
        // it, whatever its record lists (an outside run found a public third-party client
        // holding it).
        if grant == Grant::Password && !client.first_party {
            return Err(OAuthError::new(
                OAuthErrorCode::UnauthorizedClient,
                "the password grant is for first-party clients only",
            ));
        }
        if client.dpop_bound_access_tokens && self.dpop_jkt.is_none() {
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidDpopProof,
                "this client's tokens are DPoP-bound: send a DPoP proof (RFC 9449 §5)",
            ));
        }
        match grant {
            // RFC 9700 §4.14: its tokens' `sub` is the client id, and a client registered
            // before ids shaped as a user's subject were refused would pose as that user.
            Grant::ClientCredentials if client.client_id.starts_with(USER_SUBJECT_PREFIX) => {
                Err(OAuthError::new(
                    OAuthErrorCode::UnauthorizedClient,
                    "a client whose id is shaped as a user's subject (usr_) cannot use \
                     client_credentials: register it under another id",
                ))
            }
            Grant::ClientCredentials => {
                let resource = self.target(resource_param(&req.params)?, &client.resources)?;
                self.client_credentials_grant(&client, param("scope"), resource.as_deref(), now)
                    .await
            }
            Grant::Password => self.password_grant(&client, req, now).await,
            Grant::AuthorizationCode => {
                self.code_grant(
                    &client,
                    param("code"),
                    param("redirect_uri"),
                    param("code_verifier"),
                    resource_param(&req.params)?,
                    now,
                )
                .await
            }
            Grant::RefreshToken => {
                let presented = param("refresh_token");
                let resource = resource_param(&req.params)?;
                self.refresh_grant(&client, presented, param("scope"), resource, now)
                    .await
            }
            Grant::ApiKey => self.api_key_grant(req, now).await,
        }
    }

    /// RFC 6749 §4.4: a confidential client acting for itself.
    async fn client_credentials_grant(
        &self,
        client: &Client,
        scope: Option<&str>,
        resource: Option<&str>,
        now: i64,
    ) -> Result<TokenResponse, OAuthError> {
        if client.secret_hash.is_none() {
            return Err(OAuthError::new(
                OAuthErrorCode::UnauthorizedClient,
                "public clients cannot use client_credentials",
            ));
        }
        let scope = grant_scope(scope, &client.scopes)?;
        let access_token = self
            .access_token(
                &client.client_id,
                &client.client_id,
                &scope,
                None,
                resource,
                now,
            )
            .await?;
        Ok(self.response(access_token, None, scope))
    }

    /// RFC 6749 §4.3: a user's name and password through a trusted client; the scope is what
    /// both the client and the user may have.
    async fn password_grant(
        &self,
        client: &Client,
        req: &TokenRequest,
        now: i64,
    ) -> Result<TokenResponse, OAuthError> {
        let param = |name: &str| {
            req.params
                .get(name)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        let username = param("username").ok_or_else(|| {
            OAuthError::new(OAuthErrorCode::InvalidRequest, "username is required")
        })?;
        let password = param("password").ok_or_else(|| {
            OAuthError::new(OAuthErrorCode::InvalidRequest, "password is required")
        })?;
        // The source is the client's server, which relays many users' logins: no per-source
        // spraying counter here, or one user's typos would lock out all.
        let user = self
            .check_password(username, password, req.client_ip.as_deref(), false, now)
            .await
            .map_err(|e| match e {
                LoginError::Invalid => OAuthError::new(
                    OAuthErrorCode::InvalidGrant,
                    "invalid username or password, or too many attempts",
                ),
                LoginError::Store(e) => e,
            })?;
        let allowed: Vec<String> = client
            .scopes
            .iter()
            .filter(|s| user.scopes.contains(s))
            .cloned()
            .collect();
        let scope = grant_scope(param("scope"), &allowed)?;
        let resource = self.target(resource_param(&req.params)?, &client.resources)?;
        if !client.allows(Grant::RefreshToken) {
            // RFC 6749 §5.1: no refresh token for a client that may not use one.
            let access_token = self
                .access_token(
                    &client.client_id,
                    &user.sub,
                    &scope,
                    None,
                    resource.as_deref(),
                    now,
                )
                .await?;
            return Ok(self.response(access_token, None, scope));
        }
        self.issue_pair(client, &user.sub, &scope, resource, now)
            .await
    }

    /// The resource an access token is for (RFC 8707 §2; RFC 9068 §3: its `aud`). A
    /// `resource` the request names ([`resource_param`], well-formed) must be one of
    /// `allowed`, exactly; a request naming none gets the first of `allowed`. With none
    /// registered, the tokens are for the deployment's audience (`None`), which the request
    /// may also name. Anything else is `invalid_target`: each service behind the issuer checks
    /// its own audience, and a token for one must not be taken by another.
    pub(super) fn target(
        &self,
        requested: Option<&str>,
        allowed: &[String],
    ) -> Result<Option<String>, OAuthError> {
        let Some(requested) = requested else {
            return Ok(allowed.first().cloned());
        };
        if allowed.iter().any(|a| a == requested) {
            Ok(Some(requested.to_owned()))
        } else if allowed.is_empty() && requested == self.audience {
            Ok(None)
        } else {
            Err(OAuthError::new(
                OAuthErrorCode::InvalidTarget,
                "this client may not obtain tokens for that resource",
            ))
        }
    }

    pub(super) fn response(
        &self,
        access_token: String,
        refresh_token: Option<String>,
        scope: String,
    ) -> TokenResponse {
        TokenResponse {
            access_token,
            token_type: match self.dpop_jkt {
                Some(_) => "DPoP",
                None => "Bearer",
            }
            .to_owned(),
            expires_in: self.config.access_token_lifetime,
            refresh_token,
            scope,
            id_token: None,
        }
    }

    /// An RFC 9068 access token (`typ: at+jwt`, with `jti`). Tokens issued from a refresh
    /// family name it in [`revocation::FAMILY_CLAIM`], so that revoking the family revokes them.
    pub(super) async fn access_token(
        &self,
        client_id: &str,
        sub: &str,
        scope: &str,
        family: Option<&str>,
        resource: Option<&str>,
        now: i64,
    ) -> Result<String, OAuthError> {
        let jti = crate::issue::new_jti().map_err(server_error)?;
        let mut builder = TokenBuilder::new(now)
            .issuer(self.issuer)
            .subject(sub)
            .audience([resource.unwrap_or(self.audience)])
            .claim("client_id", client_id)
            .scope(scope)
            .jti(jti.as_str())
            .typ(crate::config::ACCESS_TOKEN_TYP)
            .lifetime(self.config.access_token_lifetime);
        if let Some(family) = family {
            builder = builder.claim(revocation::FAMILY_CLAIM, family);
        }
        if let Some(jkt) = self.dpop_jkt {
            builder = builder.claim("cnf", serde_json::json!({ "jkt": jkt }));
        }
        builder
            .sign_async(self.signing_key, self.crypto)
            .await
            .map_err(server_error)
    }

    pub(super) async fn api_key_grant(
        &self,
        req: &TokenRequest,
        now: i64,
    ) -> Result<TokenResponse, OAuthError> {
        let presented = req
            .api_key
            .as_deref()
            .or(req.params.get("api_key").map(String::as_str))
            .filter(|key| !key.is_empty())
            .ok_or_else(|| {
                OAuthError::new(
                    OAuthErrorCode::InvalidRequest,
                    "an API key is required (Authorization: Bearer or X-API-Key)",
                )
            })?;
        let key = self
            .lookup_api_key(presented, now)
            .await?
            .ok_or_else(|| OAuthError {
                bearer: true,
                ..OAuthError::new(OAuthErrorCode::InvalidClient, "the API key is not valid")
            })?;
        let param = |name: &str| req.params.get(name).map(String::as_str);
        let scope = grant_scope(param("scope"), &key.scopes)?;
        let resource = self.target(resource_param(&req.params)?, key.resource.as_slice())?;
        // The key's tokens name it as their family, so that revoking the key revokes them
        // too (as a refresh family's access tokens go with it).
        let family = key.client_id();
        let access = self
            .access_token(
                &key.client_id(),
                &key.owner,
                &scope,
                Some(&family),
                resource.as_deref(),
                now,
            )
            .await?;
        Ok(self.response(access, None, scope))
    }
}

/// Whether a `resource` named when a grant is used (a code's redemption, a refresh) is the
/// one the grant is for (RFC 8707 §2.2; a grant is for one resource here): `granted` none
/// stands for the deployment's `audience`. Checked in the coordinator's step, before anything
/// is spent: a refresh refused after its rotation left the client a spent token.
pub(super) fn target_matches(
    requested: Option<&str>,
    granted: Option<&str>,
    audience: &str,
) -> bool {
    requested.is_none_or(|r| r == granted.unwrap_or(audience))
}

/// An absolute URI (RFC 3986 §4.3: a scheme, `:`, and the rest) with no fragment, of the
/// characters a URI may hold (§2: unreserved, reserved, `%`): what RFC 8707 §2 asks of a
/// `resource`.
pub fn absolute_uri(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    let mut scheme_chars = scheme.bytes();
    scheme_chars.next().is_some_and(|b| b.is_ascii_alphabetic())
        && scheme_chars.all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        && !rest.is_empty()
        && !uri.contains('#')
        && uri_characters(uri)
}

/// The request's `resource` (RFC 8707 §2), if it names one: one that is not an absolute URI
/// without a fragment is `invalid_target`, not "none named". Sent without a value it is
/// omitted, as every parameter is (RFC 6749 §3.1, §3.2; an outside run found a client that
/// always sends its optional `resource` refused).
pub(super) fn resource_param(
    params: &BTreeMap<String, String>,
) -> Result<Option<&str>, OAuthError> {
    match params
        .get("resource")
        .map(String::as_str)
        .filter(|r| !r.is_empty())
    {
        None => Ok(None),
        Some(resource) if absolute_uri(resource) => Ok(Some(resource)),
        Some(_) => Err(OAuthError::new(
            OAuthErrorCode::InvalidTarget,
            "resource must be an absolute URI without a fragment (RFC 8707 section 2)",
        )),
    }
}

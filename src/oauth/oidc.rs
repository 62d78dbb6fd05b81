//! OpenID Connect on the OAuth engine (Core 1.0, Discovery 1.0, RP-Initiated Logout 1.0): the
//! `openid` scope turns a code flow into a login, answered with an ID token besides the access
//! token. One Tollgate session serves every client (single sign-on); what an authorization
//! request needs next (a password, a consent, nothing) is the pure [`next_step`], so the
//! adapter only shows pages and redirects.

use serde_json::Map;

use super::*;
use crate::verify::Verified;

/// The scope values OpenID Connect defines (Core §3.1.2.1, §5.4). Every client with the
/// authorization-code grant may ask for them: they name claims about the user, not an API.
pub const OIDC_SCOPES: [&str; 3] = ["openid", "profile", "email"];

/// OpenID Connect's other scope values, which this server does not serve: an OpenID request
/// naming them is answered without them (Core §3.1.2.1: values not understood SHOULD be
/// ignored; §11: `offline_access` asks for a refresh token, which the code grant gives a
/// client allowed `refresh_token` anyway), and the token response's `scope` says what was
/// granted (RFC 6749 §5.1). An OAuth request without `openid` is refused for them as for any
/// scope it may not have.
pub const IGNORED_SCOPES: [&str; 3] = ["offline_access", "phone", "address"];

/// The `typ` of ID tokens: plain `JWT`, so that an access-token policy (`at+jwt`, RFC 9068 §4)
/// never takes one for an access token, nor the reverse.
pub const ID_TOKEN_TYP: &str = "JWT";

/// Whether a granted scope makes the request an OpenID Connect one (Core §3.1.2.1).
pub fn is_openid(scope: &str) -> bool {
    scopes(scope).contains(&"openid")
}

/// The `prompt` parameter (Core §3.1.2.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prompt {
    /// Show nothing: answer at once or fail with `login_required` / `consent_required`.
    pub none: bool,
    /// Ask for the password even with a live session (`select_account` too: signing in again
    /// is how a user picks another account here).
    pub login: bool,
    /// Ask for consent even when it was given before.
    pub consent: bool,
}

impl Prompt {
    /// Parses a space-separated `prompt` value; `none` with another value is an error (§3.1.2.1).
    pub fn parse(value: Option<&str>) -> Result<Prompt, &'static str> {
        let mut prompt = Prompt::default();
        for value in value.unwrap_or("").split(' ').filter(|v| !v.is_empty()) {
            match value {
                "none" => prompt.none = true,
                "login" | "select_account" => prompt.login = true,
                "consent" => prompt.consent = true,
                _ => return Err("prompt must be none, login, consent or select_account"),
            }
        }
        if prompt.none && (prompt.login || prompt.consent) {
            return Err("prompt=none cannot be combined with another value");
        }
        Ok(prompt)
    }
}

/// What an authorization request needs before a code can be issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing: issue the code for the session's user.
    Issue,
    /// The login page.
    Login,
    /// The consent page, for the session's user.
    Consent,
    /// Back to the client with this error (`prompt=none` that cannot be honoured, §3.1.2.6).
    Refuse(OAuthErrorCode),
}

/// The request once the user has entered their password in answer to it: that login meets
/// `prompt=login` and `max_age` (Core §3.1.2.1, where `max_age=0` is `prompt=login`), so
/// [`next_step`] then weighs only consent and `prompt=none`. Not left to the new session's
/// age: times are whole seconds and the session's write takes time, so a login that ends a
/// second after it began would read as older than `max_age=1`, and every login as older than
/// `max_age=0`, and the user would be sent back to the login page for ever.
pub fn signed_in(request: &AuthorizationRequest) -> AuthorizationRequest {
    AuthorizationRequest {
        prompt: Prompt {
            login: false,
            ..request.prompt
        },
        max_age: None,
        ..request.clone()
    }
}

/// The step after the user has entered their password in answer to `request` and `session`
/// was made: [`next_step`] for the [`signed_in`] request, unless the request's
/// `id_token_hint` names another user, which Core §3.1.2.1 answers with an error such as
/// `login_required` rather than a code for someone else (or the login page again).
pub fn after_login(
    request: &AuthorizationRequest,
    session: &Session,
    consented: bool,
    now: i64,
) -> Step {
    if !answers_hint(request, session) {
        return Step::Refuse(OAuthErrorCode::LoginRequired);
    }
    next_step(&signed_in(request), Some(session), consented, now)
}

/// The step when the user approves on the consent page: a code, unless the session is now
/// another user's than the request's `id_token_hint` names (signed in again, as someone else,
/// while the page was open), which is `login_required` as in [`after_login`].
pub fn on_consent(request: &AuthorizationRequest, session: &Session) -> Step {
    match answers_hint(request, session) {
        true => Step::Issue,
        false => Step::Refuse(OAuthErrorCode::LoginRequired),
    }
}

/// Whether `session` may answer `request`'s `id_token_hint`: it names no one, or this user.
fn answers_hint(request: &AuthorizationRequest, session: &Session) -> bool {
    request
        .hint_sub
        .as_deref()
        .is_none_or(|hinted| hinted == session.sub)
}

/// The pure rule of single sign-on (Core §3.1.2.3, §3.1.2.4): a live session serves every
/// client unless the request wants a fresh login (`prompt=login`, or a `max_age` the session's
/// login is older than); a third-party client needs the user's consent unless it was given
/// before for these scopes (`consented`) and not asked for again (`prompt=consent`, which asks
/// a first-party client's user too: Core §3.1.2.1 has the OP prompt for consent);
/// `prompt=none` turns what would be a page into an error.
pub fn next_step(
    request: &AuthorizationRequest,
    session: Option<&Session>,
    consented: bool,
    now: i64,
) -> Step {
    let fresh_enough = |session: &&Session| match request.max_age {
        Some(max_age) => {
            now.saturating_sub(session.signed_in) < i64::try_from(max_age).unwrap_or(i64::MAX)
        }
        None => true,
    };
    // Core §3.1.2.1: an `id_token_hint` names the user the client expects; another user's
    // session does not answer for them.
    let usable = session
        .filter(|_| !request.prompt.login)
        .filter(fresh_enough)
        .filter(|session| answers_hint(request, session));
    let step = match usable {
        None => Step::Login,
        Some(_) if request.client.first_party && !request.prompt.consent => Step::Issue,
        Some(_) if consented && !request.prompt.consent => Step::Issue,
        Some(_) => Step::Consent,
    };
    match (step, request.prompt.none) {
        (Step::Login, true) => Step::Refuse(OAuthErrorCode::LoginRequired),
        (Step::Consent, true) => Step::Refuse(OAuthErrorCode::ConsentRequired),
        (step, _) => step,
    }
}

/// The claims a scope releases about a user (Core §5.4): `profile` gives `name` and
/// `preferred_username`, `email` gives `email` and `email_verified`. Only what is known.
pub fn user_claims(user: &User, scope: &str) -> Map<String, Value> {
    let granted = scopes(scope);
    let mut claims = Map::new();
    if granted.contains(&"profile") {
        if let Some(name) = &user.profile.name {
            claims.insert("name".into(), name.clone().into());
        }
        claims.insert("preferred_username".into(), user.username.clone().into());
    }
    if granted.contains(&"email") {
        if let Some(email) = &user.profile.email {
            claims.insert("email".into(), email.clone().into());
            claims.insert("email_verified".into(), user.profile.email_verified.into());
        }
    }
    claims
}

/// `at_hash` (Core §3.1.3.6): base64url of the left half of the hash of the access token, by the
/// hash of the ID token's `alg` (SHA-512 for Ed25519, as OpenID Connect's clients compute it).
pub fn token_hash(alg: crate::Algorithm, token: &str) -> String {
    use crate::Algorithm::*;
    use sha2::{Sha384, Sha512};
    let digest = match alg {
        HS256 | RS256 | PS256 | ES256 => Sha256::digest(token.as_bytes()).to_vec(),
        HS384 | RS384 | PS384 | ES384 => Sha384::digest(token.as_bytes()).to_vec(),
        _ => Sha512::digest(token.as_bytes()).to_vec(),
    };
    b64::encode(&digest[..digest.len() / 2])
}

/// Checks an `id_token_hint` (RP-Initiated Logout 1.0 §2): one of this deployment's ID tokens,
/// signature and issuer checked by `verifier` (built from
/// [`crate::config::GatewayConfig::id_token_hint_policy`]). An expired hint is still a hint:
/// it is judged as of the last second of its life, and refused once it is older than the
/// revocation horizon.
pub async fn check_id_token_hint(
    verifier: &crate::Verifier,
    crypto: &(impl AsyncCrypto + ?Sized),
    hint: &str,
    now: i64,
) -> Result<Verified, Error> {
    let untrusted = verifier.parse(hint)?;
    let exp = serde_json::from_slice::<Value>(untrusted.payload())
        .ok()
        .and_then(|claims| claims.get("exp").and_then(Value::as_i64))
        .ok_or(Error::ClaimInvalid {
            claim: "exp".into(),
            reason: "an ID token has a numeric exp",
        })?;
    let horizon = i64::try_from(revocation::HORIZON).unwrap_or(i64::MAX);
    if now.saturating_sub(exp) > horizon {
        return Err(Error::Expired { exp, now });
    }
    verifier
        .verify_async(hint, now.min(exp.saturating_sub(1)), crypto)
        .await
}

/// The `typ` of a logout token (Back-Channel Logout 1.0 §2.4).
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";

/// The event a logout token's `events` names (Back-Channel Logout 1.0 §2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// How long a logout token is valid: it is delivered at once, and a replay later is refused.
const LOGOUT_TOKEN_LIFETIME: u64 = 120;

/// A logout token to POST to a relying party's `backchannel_logout_uri` (§2.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutDelivery {
    /// The relying party.
    pub client_id: String,
    /// Its `backchannel_logout_uri`.
    pub uri: String,
    /// The signed logout token, the form's `logout_token`.
    pub logout_token: String,
}

/// The key that signs ID tokens: the first key of `alg` (`oauth.idTokenSigningAlg`) that can
/// sign, else the active key (the first). Chosen by the operator, not guessed from the set: a
/// rotation keeps older keys in the set to verify, and one of them must not go on signing. Never
/// an HMAC secret: relying parties verify ID tokens with the published keys, where a secret is
/// not (Core §10.1 would sign with each client's own secret), so a deployment signing with one
/// serves no OpenID Connect (an outside run found every such ID token unverifiable).
pub fn id_token_key(keys: &[Key], alg: Option<crate::Algorithm>) -> Option<&Key> {
    let signs = |key: &&Key| key.is_private() && !key.is_symmetric();
    match alg {
        Some(alg) => keys
            .iter()
            .filter(signs)
            .find(|key| key.signing_algorithm().ok() == Some(alg)),
        None => keys.first().filter(signs),
    }
}

/// Why a deployment without an [`id_token_key`] refuses `openid`.
pub const NO_ID_TOKEN_KEY: &str = "OpenID Connect needs an asymmetric signing key: this deployment signs with an HMAC secret, which a relying party cannot verify";

/// The authentication an ID token describes: who, when, in which session, for which request.
#[derive(Clone, Debug)]
pub(super) struct IdTokenFor<'r> {
    pub(super) client_id: &'r str,
    pub(super) sub: &'r str,
    pub(super) login: Option<&'r Login>,
    /// Only on the code flow: a refreshed ID token has none (Core §12.2).
    pub(super) nonce: Option<&'r str>,
    pub(super) access_token: &'r str,
    pub(super) scope: &'r str,
}

impl<S: Store, C: AtomicStore> OAuth<'_, S, C> {
    /// An ID token (Core §2, §3.1.3.6): `iss`, `sub`, `aud` and `azp` the client, `exp`, `iat`,
    /// `auth_time`, `nonce` as sent, `at_hash`, `sid`, and the user's claims for the scope.
    pub(super) async fn id_token(
        &self,
        of: &IdTokenFor<'_>,
        now: i64,
    ) -> Result<String, OAuthError> {
        let user = self.user_by_subject(of.sub).await?;
        let key = self
            .id_token_key
            .ok_or_else(|| OAuthError::new(OAuthErrorCode::ServerError, NO_ID_TOKEN_KEY))?;
        let alg = key.signing_algorithm().map_err(server_error)?;
        let mut builder = TokenBuilder::new(now)
            .issuer(self.issuer)
            .subject(of.sub)
            .audience([of.client_id])
            .claim("azp", of.client_id)
            .claim("at_hash", token_hash(alg, of.access_token))
            .typ(ID_TOKEN_TYP)
            .lifetime(self.config.id_token_lifetime);
        if let Some(login) = of.login {
            builder = builder.claim("auth_time", login.auth_time);
            if !login.sid.is_empty() {
                builder = builder.claim("sid", login.sid.as_str());
            }
        }
        if let Some(nonce) = of.nonce {
            builder = builder.claim("nonce", nonce);
        }
        if let Some(user) = &user {
            for (name, value) in user_claims(user, of.scope) {
                builder = builder.claim(&name, value);
            }
        }
        builder
            .sign_async(key, self.crypto)
            .await
            .map_err(server_error)
    }

    /// The logout tokens that tell relying parties their sessions ended (OpenID Connect
    /// Back-Channel Logout 1.0 §2.4): for each client of each session that has a
    /// `backchannel_logout_uri`, a JWT by the ID-token key, `typ: logout+jwt` (§2.4's explicit
    /// typing, so that no ID token passes for one), with `iss`, `aud` the client, `iat`, `exp`
    /// two minutes on (§2.4 wants them short-lived), a fresh `jti`, `sub`, `sid` as the
    /// session's ID tokens carried it (§2.4: "events" names the logout; no `nonce`).
    pub async fn backchannel_logouts(
        &self,
        ended: &[Ended],
        now: i64,
    ) -> Result<Vec<LogoutDelivery>, OAuthError> {
        let Some(key) = self.id_token_key else {
            return Ok(Vec::new());
        };
        let mut deliveries = Vec::new();
        for session in ended {
            for client_id in &session.clients {
                let Some(uri) = self
                    .client(client_id)
                    .await?
                    .and_then(|client| client.backchannel_logout_uri)
                else {
                    continue;
                };
                let mut builder = TokenBuilder::new(now)
                    .issuer(self.issuer)
                    .subject(session.sub.as_str())
                    .audience([client_id.as_str()])
                    .claim(
                        "events",
                        serde_json::json!({ BACKCHANNEL_LOGOUT_EVENT: {} }),
                    )
                    .typ(LOGOUT_TOKEN_TYP)
                    .lifetime(LOGOUT_TOKEN_LIFETIME);
                if !session.sid.is_empty() {
                    builder = builder.claim("sid", session.sid.as_str());
                }
                let logout_token = builder
                    .sign_async(key, self.crypto)
                    .await
                    .map_err(server_error)?;
                deliveries.push(LogoutDelivery {
                    client_id: client_id.clone(),
                    uri,
                    logout_token,
                });
            }
        }
        Ok(deliveries)
    }

    /// The user record of a subject, through its `subject:` entry.
    pub async fn user_by_subject(&self, sub: &str) -> Result<Option<User>, OAuthError> {
        let Some(entry) = self
            .read::<SubjectRecord>(&crate::schema::subject(sub))
            .await?
        else {
            return Ok(None);
        };
        Ok(self
            .read::<User>(&crate::schema::user(&entry.username))
            .await?
            .filter(|user| user.sub == sub))
    }

    /// The UserInfo response (Core §5.3.2) for the subject and scope of a verified access token
    /// of this issuer: `sub` and the claims the scope releases. A token without the `openid`
    /// scope was not issued for a login, so it gets `insufficient_scope` (§5.3.3, RFC 6750
    /// §3.1).
    pub async fn userinfo(
        &self,
        sub: &str,
        scope: &str,
    ) -> Result<Map<String, Value>, UserinfoError> {
        if !is_openid(scope) {
            return Err(UserinfoError::InsufficientScope);
        }
        let user = self
            .user_by_subject(sub)
            .await
            .map_err(UserinfoError::Store)?
            .filter(|user| !user.disabled)
            .ok_or(UserinfoError::UnknownUser)?;
        let mut claims = Map::new();
        claims.insert("sub".into(), sub.into());
        claims.extend(user_claims(&user, scope));
        Ok(claims)
    }

    /// The subject of an authorization request's `id_token_hint` (Core §3.1.2.1): one of this
    /// deployment's ID tokens, checked as a logout's hint is ([`check_id_token_hint`]; an
    /// expired one still names its user). A hint that is not one is `invalid_request` back to
    /// the client, not ignored: the client asked for a particular user.
    pub async fn hint_subject(
        &self,
        request: &AuthorizationRequest,
        hint: &str,
        hints: &crate::Verifier,
        now: i64,
    ) -> Result<String, AuthorizeError> {
        check_id_token_hint(hints, self.crypto, hint, now)
            .await
            .ok()
            .and_then(|verified| verified.subject().map(str::to_owned))
            .ok_or_else(|| AuthorizeError::Redirect {
                redirect_uri: request.redirect_uri.clone(),
                error: OAuthErrorCode::InvalidRequest,
                description: "id_token_hint is not a valid ID token of this issuer",
                state: request.state.clone(),
            })
    }

    /// Validates an RP-Initiated Logout request (1.0 §2, §3): the `id_token_hint` must be one
    /// of this issuer's ID tokens (`hints` verifies them); a `client_id` must be the hint's
    /// audience; a `post_logout_redirect_uri` must be registered, exactly, for the client the
    /// request names. Errors are shown to the user, never redirected.
    pub async fn logout_request(
        &self,
        params: &BTreeMap<String, String>,
        hints: &crate::Verifier,
        now: i64,
    ) -> Result<LogoutRequest, &'static str> {
        let param = |name: &str| {
            params
                .get(name)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        let audience = |claims: &Value| {
            let named = |name: &str| claims.get(name).and_then(Value::as_str);
            named("azp").or_else(|| named("aud")).map(str::to_owned)
        };
        let (hint_sub, hint_client) = match param("id_token_hint") {
            Some(hint) => match check_id_token_hint(hints, self.crypto, hint, now).await {
                Ok(hint) => {
                    let client = hint.claim_str("azp").or_else(|| hint.claim_str("aud"));
                    (hint.subject().map(str::to_owned), client.map(str::to_owned))
                }
                // Signed by a key since retired (README, "Rotating signing keys"), as an RP's
                // hint may be for 30 days: it can no longer vouch for its user, so the user
                // confirms (§2: the OP asks when it cannot tell); it still names its client,
                // as `client_id` would, where this issuer's ID tokens send the browser back.
                Err(Error::NoMatchingKey { .. }) => {
                    let untrusted = hints
                        .parse(hint)
                        .map_err(|_| "id_token_hint is not a valid ID token of this issuer")?;
                    let claims: Value =
                        serde_json::from_slice(untrusted.payload()).unwrap_or_default();
                    if claims.get("iss").and_then(Value::as_str) != Some(self.issuer) {
                        return Err("id_token_hint is not a valid ID token of this issuer");
                    }
                    (None, audience(&claims))
                }
                Err(_) => return Err("id_token_hint is not a valid ID token of this issuer"),
            },
            None => (None, None),
        };
        let client_id = match (param("client_id"), hint_client) {
            (Some(named), Some(hinted)) if named != hinted => {
                return Err("id_token_hint was issued to another client than client_id")
            }
            (Some(named), _) => Some(named.to_owned()),
            (None, hinted) => hinted,
        };
        let redirect = match param("post_logout_redirect_uri") {
            None => None,
            Some(uri) => {
                let client_id = client_id
                    .as_deref()
                    .ok_or("post_logout_redirect_uri needs client_id or id_token_hint")?;
                let client = self
                    .client(client_id)
                    .await
                    .map_err(|_| "the service is temporarily unavailable")?
                    .ok_or("unknown client")?;
                if !client.post_logout_redirect_uris.iter().any(|r| r == uri) {
                    return Err("post_logout_redirect_uri is not registered for this client");
                }
                Some(match param("state") {
                    Some(state) => with_query(uri, &[("state", state)]),
                    None => uri.to_owned(),
                })
            }
        };
        Ok(LogoutRequest { redirect, hint_sub })
    }

    /// Whether the user approved every scope of `scope` for this client before.
    pub async fn consented(
        &self,
        sub: &str,
        client_id: &str,
        scope: &str,
    ) -> Result<bool, OAuthError> {
        let Some(record) = self
            .read::<ConsentRecord>(&crate::schema::consent(sub, client_id))
            .await?
        else {
            return Ok(false);
        };
        Ok(scopes(scope)
            .iter()
            .all(|s| record.scopes.iter().any(|r| r == s)))
    }

    /// Remembers a consent (adding to what was approved before), until revoked
    /// (`tollgate consent revoke`) or the subject is revoked.
    pub async fn remember_consent(
        &self,
        sub: &str,
        client_id: &str,
        scope: &str,
        now: i64,
    ) -> Result<(), OAuthError> {
        let key = crate::schema::consent(sub, client_id);
        let mut record = self.read::<ConsentRecord>(&key).await?.unwrap_or_default();
        for scope in scopes(scope) {
            if !record.scopes.iter().any(|s| s == scope) {
                record.scopes.push(scope.to_owned());
            }
        }
        record.at = now;
        self.write(&key, &record, None).await
    }
}

/// A validated logout request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutRequest {
    /// Where to send the browser afterwards (`state` added), if the client asked.
    pub redirect: Option<String>,
    /// The subject of a valid `id_token_hint`: the RP vouches for the request, so no
    /// confirmation is asked when it is the session's user.
    pub hint_sub: Option<String>,
}

/// Why `/userinfo` refused a verified token.
#[derive(Debug)]
pub enum UserinfoError {
    /// The token was not issued for an OpenID Connect login (no `openid` scope).
    InsufficientScope,
    /// The token's subject is not a user (a client's own token, a deleted or disabled user).
    UnknownUser,
    /// The store could not be read.
    Store(OAuthError),
}

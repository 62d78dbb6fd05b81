//! The stored records and their keys: one typed record per row of README's KV schema table,
//! and the builders the CLI uses to create users, clients and API keys. Revocation entries are
//! `crate::revocation`'s, failure counters `crate::lockout`'s.
//!
//! Records are written by serde's derive and read by hand ([`crate::json::read`], at the end
//! of this file): a derived `Deserialize` was several KB of the worker's code per record type
//! (BENCHMARKS.md §4, session 14). The readers keep the derive's rules, which the `serde`
//! attributes below still state: a member marked `default` or of an `Option` type may be
//! absent, an `Option` may also be `null`, any other member must be there; unknown members are
//! ignored.

use super::*;

/// A user. Stored under `user:<lower-case username>`, its profile's members beside the others.
#[derive(Clone, Debug, Serialize)]
pub struct User {
    /// Stable subject identifier.
    pub sub: String,
    /// Login name.
    pub username: String,
    /// Argon2id PHC hash.
    pub password: String,
    /// Scopes the user may grant.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// A disabled user cannot log in.
    #[serde(default)]
    pub disabled: bool,
    /// Claims about the user for OpenID Connect (Core §5.1), released per scope.
    #[serde(default, flatten)]
    pub profile: Profile,
}

/// The standard claims Tollgate keeps about a user (OpenID Connect Core §5.1): `profile`
/// releases `name` (and `preferred_username`, the username), `email` releases `email` and
/// `email_verified`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Profile {
    /// Full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the address was verified (only meaningful with `email`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub email_verified: bool,
}

/// The record behind [`crate::schema::subject`].
#[derive(Clone, Debug, Serialize)]
pub struct SubjectRecord {
    /// The username the subject's record is stored under.
    pub username: String,
}

/// The record behind [`crate::schema::session_grants`].
#[derive(Clone, Debug, Default, Serialize)]
pub(super) struct SessionGrants {
    /// Refresh families, oldest first.
    pub(super) families: Vec<String>,
    /// The session was signed out: its families are revoked and it grants nothing more.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(super) ended: bool,
    /// The relying parties an ID token of this session went to, told of its end by
    /// back-channel logout (OpenID Connect Back-Channel Logout 1.0 §2.7).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) clients: Vec<String>,
    /// The sid's sessions created at or before this time were replaced by their user's new
    /// sign-in (which keeps the sid, and starts its session later): a copy of one that a
    /// location still reads from its cache is not refreshed back to life. 0: none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(super) replaced_upto: i64,
}

fn is_zero(at: &i64) -> bool {
    *at == 0
}

/// The record behind [`crate::schema::consent`].
#[derive(Clone, Debug, Default, Serialize)]
pub struct ConsentRecord {
    /// Every scope the user approved for the client.
    pub scopes: Vec<String>,
    /// When it was last given.
    pub at: i64,
}

/// A registered client. Stored under `client:<client_id>`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Client {
    /// The client id.
    pub client_id: String,
    /// Display name on the consent page.
    #[serde(default)]
    pub name: String,
    /// Keyed hash of the secret; absent for public clients.
    #[serde(default)]
    pub secret_hash: Option<String>,
    /// Exact redirect URIs (RFC 9700 §4.1.3: exact matching).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Grant types allowed.
    #[serde(default)]
    pub grants: Vec<String>,
    /// Scopes the client may obtain.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// First-party clients skip consent and may use the password grant if allowed.
    #[serde(default)]
    pub first_party: bool,
    /// Every token request must carry a DPoP proof, so every access token is bound (RFC 9449
    /// §5.2's client metadata of the same name).
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// Where RP-Initiated Logout may send the browser back to (exact match, OpenID Connect
    /// RP-Initiated Logout 1.0 §2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    /// A confidential OpenID Connect relying party may leave PKCE out of an authorization
    /// request that carries a `nonce`: the ID token's `nonce` then protects it against code
    /// injection (RFC 9700 §2.1.1). Has no effect for a public client, which always uses PKCE.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pkce_optional: bool,
    /// The resources (RFC 8707 absolute URIs) its access tokens may be for: the `resource` a
    /// request names must be one of them, and a request naming none gets the first. Without
    /// any, its tokens are for the deployment's `oauth.accessTokenAudience`. Services behind
    /// one issuer each check their own audience, so a token for one is refused by the others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// Where this relying party is told that a session it logged in through has ended
    /// (OpenID Connect Back-Channel Logout 1.0 §2.2: `backchannel_logout_uri`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// The audiences it checks as a resource server: it may introspect tokens for them (RFC
    /// 7662 §4: only protected resources allowed to). Without any, only its own tokens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub introspects: Vec<String>,
}

impl Client {
    /// A public client (RFC 6749 §2.1): no secret, so it cannot authenticate, and its refresh
    /// tokens are bound to its DPoP key instead (RFC 9449 §5).
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    /// Whether the client is registered for `grant`.
    pub fn allows(&self, grant: Grant) -> bool {
        self.grants.iter().any(|g| g == grant.as_str())
    }

    /// Whether its authorization requests may leave PKCE out (with an OpenID Connect `nonce`
    /// instead, RFC 9700 §2.1.1): a confidential relying party registered for it, never a
    /// public client.
    pub fn may_omit_pkce(&self) -> bool {
        self.pkce_optional && !self.is_public()
    }

    /// Why no request could use this record, if so: the rules the token and authorization
    /// endpoints would apply to every request, checked once when the record is written.
    pub fn unusable(&self) -> Option<&'static str> {
        let id_ok = !self.client_id.is_empty()
            && self.client_id.len() <= MAX_CLIENT_ID_LEN
            && self
                .client_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b));
        if !id_ok {
            Some("a client id is 1 to 128 of A-Z a-z 0-9 . _ ~ - (it travels in Basic credentials, URLs and logs)")
        } else if self.client_id.starts_with(USER_SUBJECT_PREFIX) {
            // RFC 9700 §4.14: a client's tokens carry its id as `sub`, and `usr_` subjects are
            // users' (an outside run made a client with a user's subject as its id, and got
            // that user's /userinfo).
            Some("a client id may not start with usr_: that is how user subjects start")
        } else if !self.scopes.iter().all(|s| valid_scope_token(s)) {
            Some(SCOPE_RULE)
        } else if self.grants.is_empty() {
            Some("a client needs at least one grant")
        } else if self.is_public() && self.allows(Grant::ClientCredentials) {
            Some("a public client cannot use client_credentials: it has no secret to authenticate with")
        } else if self.allows(Grant::AuthorizationCode) && self.redirect_uris.is_empty() {
            Some("the authorization_code grant needs a redirect URI")
        } else if self.allows(Grant::Password) && !self.first_party {
            Some("the password grant is for first-party clients only: the client sees the user's password")
        } else if self.pkce_optional && self.is_public() {
            Some("pkce_optional is for confidential clients: a public client always uses PKCE (RFC 9700 section 2.1.1)")
        } else if (self.pkce_optional || self.backchannel_logout_uri.is_some())
            && !self.allows(Grant::AuthorizationCode)
        {
            Some("pkce_optional and a back-channel logout URI are for relying parties: clients with the authorization_code grant")
        } else if self.introspects.iter().any(String::is_empty) {
            Some("an audience to introspect cannot be empty")
        } else {
            None
        }
    }
}

/// The longest client id a record may have.
const MAX_CLIENT_ID_LEN: usize = 128;

/// How every user's `sub` starts: no client id may (an API key may have a user's subject as
/// its owner, to act as that user).
pub const USER_SUBJECT_PREFIX: &str = "usr_";

/// The longest folded username and password a sign-in reads (longer ones are refused before
/// any hash, `OAuth::check_password`), so the longest `user add` takes.
pub(super) const MAX_USERNAME_BYTES: usize = 200;
pub(super) const MAX_PASSWORD_BYTES: usize = 1024;

const SCOPE_RULE: &str =
    "a scope is printable ASCII without spaces, '\"' or '\\' (RFC 6749 section 3.3)";

/// An API key. Stored under `apikey:<keyed hash>`.
#[derive(Clone, Debug, Serialize)]
pub struct ApiKey {
    /// Public identifier (for listing and revocation by id).
    pub id: String,
    /// The owner (becomes `sub`).
    pub owner: String,
    /// Scopes the key carries.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Expiry, if any.
    #[serde(default)]
    pub exp: Option<i64>,
    /// Creation time.
    pub created: i64,
    /// Creation time in milliseconds (a subject revocation in the same second cuts the key
    /// off only if it came after: [`crate::revocation::SubjectRevocation::cuts_off`]). Absent
    /// in keys made before session 21.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_ms: Option<i64>,
    /// The resource (RFC 8707) the key is for: its exchanged tokens' audience, and a guard
    /// whose `audiences` do not include it refuses the key. None: the deployment's default
    /// audience, and every guard of the deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

impl ApiKey {
    /// Whether a guard checking `audiences` takes the key itself, as it takes a JWT whose
    /// `aud` is among them: a key for one resource is refused by the other services' guards
    /// (RFC 8707; a guard that checks no audience takes every key).
    pub fn accepted_by(&self, audiences: &[String]) -> bool {
        match &self.resource {
            Some(resource) => audiences.is_empty() || audiences.contains(resource),
            None => true,
        }
    }

    /// The `client_id` of tokens this key proves: `apikey:<id>` (no OAuth client is involved).
    pub fn client_id(&self) -> String {
        ApiKey::client_id_of(&self.id)
    }

    /// [`ApiKey::client_id`] for a key's id.
    pub(super) fn client_id_of(id: &str) -> String {
        format!("apikey:{id}")
    }
}

#[derive(Clone, Debug, Serialize)]
pub(super) struct CodeRecord {
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    /// The authorization request left `redirect_uri` out (the client's one registered URI
    /// was used): the token request may leave it out too (RFC 6749 §4.1.3).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) redirect_uri_omitted: bool,
    pub(super) sub: String,
    pub(super) scope: String,
    /// The PKCE S256 challenge; none for a request that left PKCE out (`Client::pkce_optional`).
    /// A Durable Object of the version before reads such a record as invalid and refuses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) challenge: Option<String>,
    /// The grant's time: its user's sign-in (the session's `signed_in`), which a subject
    /// revocation compares; the family keeps it through every rotation.
    #[serde(default)]
    pub(super) iat: i64,
    pub(super) exp: i64,
    /// The refresh family the redemption starts, chosen at issue so that a second redemption
    /// knows what to revoke (RFC 6749 §4.1.2).
    #[serde(default)]
    pub(super) family: String,
    /// Set, atomically, by the one redemption; the record is then kept as the reuse marker.
    #[serde(default)]
    pub(super) used: bool,
    /// The DPoP key the code is bound to (`dpop_jkt`, RFC 9449 §10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) jkt: Option<String>,
    /// The authentication behind the code (OpenID Connect): echoed into the ID token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) login: Option<Login>,
    /// The authorization request's `nonce`, echoed exactly (OpenID Connect Core §3.1.2.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) nonce: Option<String>,
    /// The resource (RFC 8707) the grant is for, as the authorization request settled it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) resource: Option<String>,
}

/// When and in which session the user authenticated: an ID token's `auth_time` and `sid`
/// (OpenID Connect Core §2, Front-Channel Logout §3), kept with a code and its refresh family
/// so that a refreshed ID token says the same (Core §12.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Login {
    /// `auth_time`: when the user last entered a password.
    pub auth_time: i64,
    /// `sid`: the session's public identifier.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sid: String,
}

#[derive(Clone, Debug, Serialize)]
pub(super) struct OneTimeRecord {
    pub(super) sub: String,
    /// The subject's issuer when it is not this deployment (`OAuth::foreign`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) iss: Option<String>,
    pub(super) purpose: String,
    pub(super) exp: i64,
}

#[derive(Clone, Debug, Serialize)]
pub(super) struct RefreshRecord {
    pub(super) family: String,
    pub(super) client_id: String,
    pub(super) sub: String,
    pub(super) scope: String,
    pub(super) exp: i64,
    /// The grant's time (a password grant's, or its code's: the user's sign-in), kept through
    /// every rotation: a subject revocation compares it, so a rotation where the revocation
    /// had not propagated yet does not start a family it cannot end.
    pub(super) iat: i64,
    #[serde(default)]
    pub(super) rotated_at: Option<i64>,
    /// The DPoP key (RFC 7638 thumbprint) a public client's refresh token is bound to: every
    /// refresh must come with a proof by that key (RFC 9449 §5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) jkt: Option<String>,
    /// The authentication the family started from, for refreshed ID tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) login: Option<Login>,
    /// The resource (RFC 8707) the grant's access tokens are for; none for the deployment's
    /// default audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) resource: Option<String>,
}

/// A browser session. Stored under `session:<keyed hash of the id>`.
#[derive(Clone, Debug, Serialize)]
pub struct Session {
    /// The user.
    pub sub: String,
    /// The user's name.
    pub username: String,
    /// The user's name as the key of their record has it ([`crate::schema::user_folded`]).
    /// Empty in sessions made before session 21, whose user is not checked.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub account: String,
    /// The order of its sid's sessions: the sign-in time, or a second after the session it
    /// replaced if that is later ([`OAuth::sign_in`]), so it may run ahead of the clock.
    pub created: i64,
    /// When the user signed in (`auth_time`): what `max_age` and a subject revocation
    /// compare, which a `created` run ahead let a session escape (an outside run). Absent in
    /// sessions made before session 21: `created`.
    pub signed_in: i64,
    /// Last request.
    pub last_seen: i64,
    /// Absolute end.
    pub absolute_exp: i64,
    /// The user's scopes at login.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The session's public identifier (an ID token's `sid`); never the cookie's value.
    #[serde(default)]
    pub sid: String,
}

impl Session {
    /// The authentication this session stands for.
    pub fn login(&self) -> Login {
        Login {
            auth_time: self.signed_in,
            sid: self.sid.clone(),
        }
    }
}

/// A new API key: the key itself (shown once), its store key, and its record.
pub fn new_api_key(
    pepper: &[u8],
    owner: &str,
    scopes: Vec<String>,
    lifetime: Option<u64>,
    now: crate::revocation::Millis,
) -> Result<(String, String, ApiKey), Error> {
    // The owner is the tokens' `sub`: a name in the client id's characters (or a user's
    // subject, for a key that acts as that user), never empty (no subject revocation can name
    // an empty one) nor a header's line break (outside runs made both).
    let owner_ok = !owner.is_empty()
        && owner.len() <= MAX_CLIENT_ID_LEN
        && owner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~-@:".contains(&b));
    if !owner_ok {
        return Err(Error::policy(
            "an API key's owner is 1 to 128 of A-Z a-z 0-9 . _ ~ - @ : (it is the tokens' sub)",
        ));
    }
    if !scopes.iter().all(|s| valid_scope_token(s)) {
        return Err(Error::policy(SCOPE_RULE));
    }
    let (now_ms, now) = (now.0, now.seconds());
    let token = opaque::generate(Kind::ApiKey)?;
    let hashed = opaque::keyed_hash(pepper, &token);
    let record = ApiKey {
        // The start of the store key's hash, not of the key: the id goes to logs, the origin
        // and tokens, and a slice of the key was a slice of the secret (an outside run). It
        // also finds the record: `apikey:<id>` is its key's prefix.
        id: api_key_id(&hashed),
        owner: owner.to_owned(),
        scopes,
        exp: lifetime.map(|l| now.saturating_add(i64::try_from(l).unwrap_or(i64::MAX))),
        created: now,
        created_ms: Some(now_ms),
        resource: None,
    };
    Ok((token, crate::schema::api_key(&hashed), record))
}

/// An API key's public id: the start of its record's keyed hash (`apikey:<id>…`).
pub(super) fn api_key_id(hashed: &str) -> String {
    hashed.get(..16).unwrap_or(hashed).to_owned()
}

/// The store key of an API key.
pub fn api_key_store_key(pepper: &[u8], token: &str) -> String {
    crate::schema::api_key(&opaque::keyed_hash(pepper, token))
}

/// Builds a client record with a fresh secret (returned once) for confidential clients.
pub fn new_client(
    pepper: &[u8],
    client_id: &str,
    confidential: bool,
) -> Result<(Client, Option<String>), Error> {
    let secret = if confidential {
        Some(opaque::generate(Kind::ApiKey)?.replacen("tgk_", "tgcs_", 1))
    } else {
        None
    };
    Ok((
        Client {
            client_id: client_id.to_owned(),
            name: client_id.to_owned(),
            secret_hash: secret.as_deref().map(|s| opaque::keyed_hash(pepper, s)),
            redirect_uris: Vec::new(),
            grants: Vec::new(),
            scopes: Vec::new(),
            first_party: false,
            dpop_bound_access_tokens: false,
            post_logout_redirect_uris: Vec::new(),
            pkce_optional: false,
            resources: Vec::new(),
            backchannel_logout_uri: None,
            introspects: Vec::new(),
        },
        secret,
    ))
}

/// Builds a user record (the password hashed with Argon2id).
pub fn new_user(
    username: &str,
    password_text: &str,
    scopes: Vec<String>,
    cost: Cost,
) -> Result<User, Error> {
    if username.trim().is_empty() || password_text.chars().count() < 8 {
        return Err(Error::policy(
            "a username and a password of at least 8 characters are required",
        ));
    }
    // What a sign-in takes (`OAuth::check_password`): an account past it could never sign in.
    if crate::schema::user(username).len() > "user:".len() + MAX_USERNAME_BYTES
        || password_text.len() > MAX_PASSWORD_BYTES
    {
        return Err(Error::policy(
            "a username folds to at most 200 bytes and a password is at most 1024 bytes",
        ));
    }
    if let Some(c) = username.trim().chars().find(|&c| confusable_in_username(c)) {
        return Err(Error::policy(format!(
            "a username may not contain U+{:04X}: control, invisible and direction characters, \
             whitespace but the space, fullwidth and halfwidth forms and combining accents \
             (write the accented letter itself) make names that read alike but sign in apart \
             (RFC 8265 section 3.3)",
            u32::from(c)
        )));
    }
    if !scopes.iter().all(|s| valid_scope_token(s)) {
        return Err(Error::policy(SCOPE_RULE));
    }
    Ok(User {
        sub: format!("{USER_SUBJECT_PREFIX}{}", crate::issue::new_jti()?),
        username: username.trim().to_owned(),
        password: password::hash(password_text, cost)?,
        scopes,
        disabled: false,
        profile: Profile::default(),
    })
}

/// Characters a username may not hold: without Unicode normalisation tables (RFC 8265's
/// UsernameCaseMapped maps width and applies NFC), two names that read alike would be two
/// accounts, and a user whose keyboard sends the other form could not sign in. So what those
/// rules would change, or refuse, is refused where accounts are made: controls, invisible and
/// bidirectional formatting characters, fullwidth and halfwidth forms, and the combining
/// accents of decomposed Latin, Greek and Cyrillic letters (an outside run made `admin`,
/// `ａｄｍｉｎ`, `admin` with a zero-width space and a right-to-left override spelling of it,
/// four accounts).
fn confusable_in_username(c: char) -> bool {
    // Whitespace other than the space: line and paragraph separators, no-break and other
    // spaces that read as one (PRECIS allows spaces only between userparts, RFC 8265 §3.5).
    c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(u32::from(c),
            // Unicode's Default_Ignorable_Code_Point (invisible), variation selectors and tags
            // included (a second outside run signed in as `admin` + U+E0100).
            0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F
            | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
            | 0xFEFF | 0xFFF0..=0xFFFB | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
            // Halfwidth and fullwidth forms; combining diacritical marks.
            | 0xFF00..=0xFFEF | 0x0300..=0x036F)
}

pub(in crate::oauth) use read::refresh_record;

/// Records read by hand: see the module's documentation.
mod read {
    use super::*;
    use crate::json::read::{read_by, Reader};

    read_by!(User, "a user", |o| User {
        sub: o.required("sub"),
        username: o.required("username"),
        password: o.required("password"),
        scopes: o.strings("scopes").unwrap_or_default(),
        disabled: o.bool("disabled").unwrap_or(false),
        profile: Profile {
            name: o.nullable("name").string("name"),
            email: o.nullable("email").string("email"),
            email_verified: o.bool("email_verified").unwrap_or(false),
        },
    });

    read_by!(SubjectRecord, "a subject", |o| SubjectRecord {
        username: o.required("username"),
    });

    read_by!(SessionGrants, "a session's grants", |o| SessionGrants {
        families: required_strings(o, "families"),
        ended: o.bool("ended").unwrap_or(false),
        clients: o.strings("clients").unwrap_or_default(),
        replaced_upto: o.i64("replaced_upto").unwrap_or(0),
    });

    read_by!(ConsentRecord, "a consent", |o| ConsentRecord {
        scopes: required_strings(o, "scopes"),
        at: o.required_i64("at"),
    });

    read_by!(Client, "a client", |o| Client {
        client_id: o.required("clientId"),
        name: o.string("name").unwrap_or_default(),
        secret_hash: o.nullable("secretHash").string("secretHash"),
        redirect_uris: o.strings("redirectUris").unwrap_or_default(),
        grants: o.strings("grants").unwrap_or_default(),
        scopes: o.strings("scopes").unwrap_or_default(),
        first_party: o.bool("firstParty").unwrap_or(false),
        dpop_bound_access_tokens: o.bool("dpopBoundAccessTokens").unwrap_or(false),
        post_logout_redirect_uris: o.strings("postLogoutRedirectUris").unwrap_or_default(),
        pkce_optional: o.bool("pkceOptional").unwrap_or(false),
        resources: o.strings("resources").unwrap_or_default(),
        backchannel_logout_uri: o
            .nullable("backchannelLogoutUri")
            .string("backchannelLogoutUri"),
        introspects: o.strings("introspects").unwrap_or_default(),
    });

    read_by!(ApiKey, "an API key", |o| ApiKey {
        id: o.required("id"),
        owner: o.required("owner"),
        scopes: o.strings("scopes").unwrap_or_default(),
        exp: o.nullable("exp").i64("exp"),
        created: o.required_i64("created"),
        created_ms: o.nullable("created_ms").i64("created_ms"),
        resource: o.nullable("resource").string("resource"),
    });

    read_by!(CodeRecord, "a code", |o| CodeRecord {
        client_id: o.required("client_id"),
        redirect_uri: o.required("redirect_uri"),
        redirect_uri_omitted: o.bool("redirect_uri_omitted").unwrap_or(false),
        sub: o.required("sub"),
        scope: o.required("scope"),
        challenge: o.nullable("challenge").string("challenge"),
        // A code of the version before has none: 0 holds it to every subject revocation.
        iat: o.i64("iat").unwrap_or(0),
        exp: o.required_i64("exp"),
        family: o.string("family").unwrap_or_default(),
        used: o.bool("used").unwrap_or(false),
        jkt: o.nullable("jkt").string("jkt"),
        login: o.nullable("login").object("login", login),
        nonce: o.nullable("nonce").string("nonce"),
        resource: o.nullable("resource").string("resource"),
    });

    read_by!(Login, "a login", login);

    read_by!(OneTimeRecord, "a one-time token", |o| OneTimeRecord {
        sub: o.required("sub"),
        iss: o.string("iss"),
        purpose: o.required("purpose"),
        exp: o.required_i64("exp"),
    });

    read_by!(RefreshRecord, "a refresh token", refresh_record);

    read_by!(Session, "a session", |o| {
        let created = o.required_i64("created");
        Session {
            sub: o.required("sub"),
            username: o.required("username"),
            account: o.string("account").unwrap_or_default(),
            created,
            signed_in: o.i64("signed_in").unwrap_or(created),
            last_seen: o.required_i64("last_seen"),
            absolute_exp: o.required_i64("absolute_exp"),
            scopes: o.strings("scopes").unwrap_or_default(),
            sid: o.string("sid").unwrap_or_default(),
        }
    });

    /// A refresh token's record, also read inside the coordinator's answers.
    pub(in crate::oauth) fn refresh_record(o: &mut Reader) -> RefreshRecord {
        RefreshRecord {
            family: o.required("family"),
            client_id: o.required("client_id"),
            sub: o.required("sub"),
            scope: o.required("scope"),
            exp: o.required_i64("exp"),
            iat: o.required_i64("iat"),
            rotated_at: o.nullable("rotated_at").i64("rotated_at"),
            jkt: o.nullable("jkt").string("jkt"),
            login: o.nullable("login").object("login", login),
            resource: o.nullable("resource").string("resource"),
        }
    }

    fn login(o: &mut Reader) -> Login {
        Login {
            auth_time: o.required_i64("auth_time"),
            sid: o.string("sid").unwrap_or_default(),
        }
    }

    fn required_strings(o: &mut Reader, name: &str) -> Vec<String> {
        o.need(name);
        o.strings(name).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_stored_with_its_profile_beside_its_other_members() {
        let json = r#"{"sub":"u1","username":"alice","password":"$argon2id$x","scopes":["read"],"disabled":false,"name":"Alice","email":"a@example.com","email_verified":true}"#;
        let user: User = serde_json::from_str(json).unwrap();
        assert_eq!(
            user.profile,
            Profile {
                name: Some("Alice".into()),
                email: Some("a@example.com".into()),
                email_verified: true,
            }
        );
        assert_eq!(serde_json::to_string(&user).unwrap(), json);
        let bare: User =
            serde_json::from_str(r#"{"sub":"u2","username":"bob","password":"p"}"#).unwrap();
        assert_eq!(bare.profile, Profile::default());
        assert!(bare.scopes.is_empty() && !bare.disabled);
    }

    /// Writes `record` with the derive, reads it back by hand, writes it again: the same text.
    fn round_trip<T: Serialize + for<'de> Deserialize<'de>>(record: &T) -> String {
        let written = serde_json::to_string(record).unwrap();
        let read: T = serde_json::from_str(&written).unwrap_or_else(|e| panic!("{written}: {e}"));
        assert_eq!(serde_json::to_string(&read).unwrap(), written);
        written
    }

    #[test]
    fn every_record_reads_back_what_was_written() {
        let login = Some(Login {
            auth_time: 1_700_000_000,
            sid: "s1".into(),
        });
        let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        round_trip(&SubjectRecord {
            username: "alice".into(),
        });
        for ended in [false, true] {
            round_trip(&SessionGrants {
                families: strings(&["f1", "f2"]),
                ended,
                clients: if ended { strings(&["rp"]) } else { vec![] },
                replaced_upto: if ended { 0 } else { 1_700_000_000 },
            });
        }
        round_trip(&ConsentRecord {
            scopes: strings(&["openid"]),
            at: -5,
        });
        for (secret_hash, uris, pkce_optional) in [
            (Some("h".to_owned()), strings(&["https://rp/out"]), true),
            (None, vec![], false),
        ] {
            round_trip(&Client {
                client_id: "c1".into(),
                name: "App".into(),
                secret_hash,
                redirect_uris: strings(&["https://rp/cb"]),
                grants: strings(&["authorization_code", "refresh_token"]),
                scopes: strings(&["openid", "read"]),
                first_party: true,
                dpop_bound_access_tokens: true,
                post_logout_redirect_uris: uris,
                pkce_optional,
                resources: strings(&["https://api.example/"]),
                backchannel_logout_uri: pkce_optional.then(|| "https://rp/bc".to_owned()),
                introspects: strings(&["https://api.example/"]),
            });
        }
        for exp in [Some(i64::MAX), None] {
            round_trip(&ApiKey {
                id: "k".into(),
                owner: "svc".into(),
                scopes: strings(&["read"]),
                exp,
                created: 7,
                created_ms: exp.map(|_| 7_250),
                resource: exp.map(|_| "https://api.example/".to_owned()),
            });
        }
        for (jkt, login, nonce, redirect_uri_omitted) in [
            (
                Some("j".to_owned()),
                login.clone(),
                Some("n".to_owned()),
                true,
            ),
            (None, None, None, false),
        ] {
            round_trip(&CodeRecord {
                client_id: "c1".into(),
                redirect_uri: "https://rp/cb".into(),
                redirect_uri_omitted,
                sub: "u1".into(),
                scope: "openid".into(),
                challenge: redirect_uri_omitted.then(|| "ch".into()),
                iat: 1,
                exp: 60,
                family: "f".into(),
                used: true,
                jkt,
                login,
                resource: nonce.as_ref().map(|_| "https://api.example/".into()),
                nonce,
            });
        }
        round_trip(&OneTimeRecord {
            sub: "u1".into(),
            iss: Some("https://idp.example".into()),
            purpose: "/api/admin".into(),
            exp: 9,
        });
        for (rotated_at, jkt, login, resource) in [
            (
                Some(3),
                Some("j".to_owned()),
                login.clone(),
                Some("https://api.example/".to_owned()),
            ),
            (None, None, None, None),
        ] {
            round_trip(&RefreshRecord {
                family: "f".into(),
                client_id: "c1".into(),
                sub: "u1".into(),
                scope: "openid offline_access".into(),
                exp: 100,
                iat: 1,
                rotated_at,
                jkt,
                login,
                resource,
            });
        }
        round_trip(&Session {
            sub: "u1".into(),
            username: "alice".into(),
            account: "alice".into(),
            created: 1,
            signed_in: 0,
            last_seen: 2,
            absolute_exp: 3,
            scopes: strings(&["read"]),
            sid: "s".into(),
        });
    }

    #[test]
    fn records_are_read_by_the_derives_rules() {
        // Members with a default may be absent; an `Option` may be `null`; unknown members are
        // ignored.
        let key: ApiKey =
            serde_json::from_str(r#"{"id":"k","owner":"o","created":1,"exp":null,"later":[1]}"#)
                .unwrap();
        assert!(key.scopes.is_empty() && key.exp.is_none());
        let refresh: RefreshRecord = serde_json::from_str(
            r#"{"family":"f","client_id":"c","sub":"s","scope":"","exp":2,"iat":1,"login":null}"#,
        )
        .unwrap();
        assert!(refresh.rotated_at.is_none() && refresh.login.is_none());
        // A member without a default must be there, every member must have its type, and a
        // `null` where the type is no `Option` is a wrong type.
        for (json, error) in [
            (r#"{"id":"k","owner":"o"}"#, "missing member \"created\""),
            (
                r#"{"id":"k","owner":"o","created":1.5}"#,
                "created: expected an integer, found a fraction",
            ),
            (
                r#"{"id":"k","owner":"o","created":1,"scopes":null}"#,
                "scopes: expected an array of strings, found null",
            ),
            (
                r#"{"id":"k","owner":1,"created":1}"#,
                "owner: expected a string, found an integer",
            ),
            (
                r#"["k","o",1]"#,
                "an API key: expected an object, found an array",
            ),
        ] {
            let found = serde_json::from_str::<ApiKey>(json)
                .err()
                .unwrap()
                .to_string();
            assert!(found.starts_with(error), "{json}: {found}");
        }
        let bad_login = r#"{"family":"f","client_id":"c","sub":"s","scope":"","exp":2,"iat":1,"login":{"sid":"x"}}"#;
        let found = serde_json::from_str::<RefreshRecord>(bad_login)
            .err()
            .unwrap()
            .to_string();
        assert!(
            found.starts_with("missing member \"login.auth_time\""),
            "{found}"
        );
        let grants = serde_json::from_str::<SessionGrants>("{}")
            .err()
            .unwrap()
            .to_string();
        assert!(
            grants.starts_with("missing member \"families\""),
            "{grants}"
        );
    }
}

//! OAuth 2.0 token issuance (RFC 6749) on the token engine. State lives in two stores: the
//! read-mostly records in a [`Store`] (KV), and the single-use and counting records in an
//! [`AtomicStore`] (the Durable Object coordinator), so that "once" means once. The rules
//! about state are pure steps (`refresh_step`, the code record's `used` flag,
//! `crate::lockout`, a session's grants), applied by the coordinator in one step each
//! ([`transition`]); the async layer only loads, applies and persists.
//!
//! Where things live:
//! - [`grants`]: the token endpoint, scope, access tokens;
//! - [`client_auth`]: client authentication and its failure counting;
//! - [`codes`]: authorization requests, codes, PKCE, redirect URIs;
//! - [`csrf`]: the forms' CSRF value;
//! - [`refresh`]: refresh families, rotation, reuse detection;
//! - [`sessions`]: passwords and browser sessions;
//! - [`one_time`]: one-time tokens;
//! - [`api_keys`]: API keys;
//! - [`oidc`]: OpenID Connect: ID tokens, userinfo, single sign-on, consent memory;
//! - [`introspect`]: introspection and revocation;
//! - [`records`]: the stored records and their keys;
//! - [`error`]: RFC 6749 §5.2 errors;
//! - [`wire`]: forms, Basic credentials, redirect URIs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::OAuthConfig;
use crate::crypto::AsyncCrypto;
use crate::error::Error;
use crate::jwk::Key;
use crate::lockout;
use crate::opaque::{self, Kind};
use crate::password::{self, Cost};
use crate::revocation;
use crate::store::{Applied, AtomicStore, Store, StoreError, Transition, Write};
use crate::{b64, TokenBuilder, Verifier};

pub mod api_keys;
pub mod client_auth;
pub mod codes;
pub mod csrf;
pub mod dpop;
pub mod error;
pub mod grants;
pub mod introspect;
pub mod oidc;
pub mod one_time;
pub mod records;
pub mod refresh;
pub mod sessions;
pub mod wire;

pub use self::client_auth::*;
pub use self::codes::*;
pub use self::csrf::*;
pub use self::error::*;
pub use self::grants::*;
pub use self::introspect::*;
pub use self::records::*;
pub use self::sessions::*;
pub use self::wire::*;

/// The rules a store applies atomically, by name (a Durable Object finds them here).
pub fn transition(name: &str) -> Option<&'static Transition> {
    [
        &refresh::ROTATE_REFRESH,
        &codes::REDEEM_CODE,
        &lockout::ADMIT,
        &lockout::SUCCEEDED,
        &lockout::FAILED,
        &sessions::TRACK_GRANT,
        &sessions::END_GRANTS,
        &sessions::REPLACE_SESSIONS,
        &one_time::CONSUME_ONE_TIME,
    ]
    .into_iter()
    .find(|t| t.name == name)
}

/// The shortest pepper or admin token (bytes): each keys the whole deployment (every keyed hash;
/// every revocation), so one that could be guessed is none, and 32 is the size of the HMAC-SHA-256
/// key it stands for.
pub const MIN_SECRET_LEN: usize = 32;

/// The issuance engine: two stores, a signing key, and settings.
pub struct OAuth<'a, S: Store, C: AtomicStore> {
    /// Read-mostly records: users, clients, API keys, sessions, the revocation list.
    pub store: &'a S,
    /// Single-use and counting records (codes, refresh tokens, one-time tokens, failure
    /// counters): the strongly consistent coordinator, or KV in `consistency = "kv"` mode.
    pub once: &'a C,
    /// The key that signs access tokens: the first of the signing-key set, so that a rotation
    /// switches issuance while older keys still verify.
    pub signing_key: &'a Key,
    /// The key that signs ID tokens ([`oidc::id_token_key`]); none when the deployment signs
    /// with an HMAC secret, which serves no OpenID Connect.
    pub id_token_key: Option<&'a Key>,
    /// What computes the signatures: the worker's WebCrypto, or a synchronous provider.
    pub crypto: &'a dyn AsyncCrypto,
    /// This deployment's issuer identifier: the `iss` it writes and the issuer whose
    /// revocation entries it reads.
    pub issuer: &'a str,
    /// The `aud` written into access tokens (`oauth.accessTokenAudience`).
    pub audience: &'a str,
    /// The key of every keyed hash in the stores (the `TOLLGATE_PEPPER` secret): without it
    /// a leaked store yields no usable token, and changing it invalidates them all.
    pub pepper: &'a [u8],
    /// Lifetimes, grace window, lockout limits, password cost.
    pub config: &'a OAuthConfig,
    /// The RFC 7638 thumbprint of the key a DPoP proof on this request proved, checked by the
    /// adapter: access tokens then carry it as `cnf.jkt` and the response says
    /// `token_type: DPoP` (RFC 9449 §5, §6).
    pub dpop_jkt: Option<&'a str>,
    /// Where the sessions this engine ends are noted, for the adapter to tell their relying
    /// parties after the answer (back-channel logout); none where nobody is told.
    pub ended: Option<&'a std::cell::RefCell<Vec<Ended>>>,
}

pub(super) fn parse_record<T: for<'de> Deserialize<'de>>(
    key: &str,
    text: &str,
) -> Result<T, OAuthError> {
    serde_json::from_str(text).map_err(|e| {
        OAuthError::new(
            OAuthErrorCode::ServerError,
            format!("corrupt record {key:?}: {e}"),
        )
    })
}

pub(super) fn record_text<T: Serialize>(value: &T) -> Result<String, OAuthError> {
    serde_json::to_string(value)
        .map_err(|e| OAuthError::new(OAuthErrorCode::ServerError, e.to_string()))
}

/// Store TTLs: KV refuses fewer than 60 seconds.
pub(super) fn ttl(seconds: u64) -> Option<u64> {
    Some(seconds.max(revocation::MIN_TTL))
}

impl<S: Store, C: AtomicStore> OAuth<'_, S, C> {
    pub(super) fn hash(&self, token: &str) -> String {
        opaque::keyed_hash(self.pepper, token)
    }

    pub(super) async fn read<T: for<'de> Deserialize<'de>>(
        &self,
        key: &str,
    ) -> Result<Option<T>, OAuthError> {
        match self.store.get(key).await? {
            None => Ok(None),
            Some(text) => parse_record(key, &text).map(Some),
        }
    }

    pub(super) async fn write<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        ttl: Option<u64>,
    ) -> Result<(), OAuthError> {
        let text = record_text(value)?;
        self.store
            .put(key, &text, ttl.map(|t| t.max(revocation::MIN_TTL)))
            .await?;
        Ok(())
    }

    /// A single-use or counting record from the coordinator, with its version.
    pub(super) async fn read_once<T: for<'de> Deserialize<'de>>(
        &self,
        key: &str,
    ) -> Result<Option<(T, u64)>, OAuthError> {
        match self.once.get_versioned(key).await? {
            None => Ok(None),
            Some(found) => Ok(Some((parse_record(key, &found.value)?, found.version))),
        }
    }

    /// Replaces a coordinator record if its version is still `expected`.
    pub(super) async fn swap_once<T: Serialize>(
        &self,
        key: &str,
        expected: Option<u64>,
        value: &T,
        ttl_seconds: u64,
    ) -> Result<bool, OAuthError> {
        Ok(self
            .once
            .compare_and_swap(key, expected, &record_text(value)?, ttl(ttl_seconds))
            .await?)
    }
}

//! The worker's own keys, parsed from the secret once per isolate.
//!
//! Parsing an RSA key costs milliseconds, so the parsed set is kept for the isolate's life and
//! re-parsed only when the secret's text changes (a `wrangler secret put` starts new isolates
//! anyway; the check is for `wrangler dev` reloads).

use std::cell::RefCell;
use std::rc::Rc;

use crate::{Error, KeySet};

/// The parsed signing keys and the public JWK Set served at `/.well-known/jwks.json`.
pub struct OwnKeys {
    /// Every key (private halves included): the first signs, all verify.
    pub set: KeySet,
    /// `{"keys":[...]}` with public halves only.
    pub public_jwks: String,
}

thread_local! {
    static CACHE: RefCell<Option<(String, Rc<OwnKeys>)>> = const { RefCell::new(None) };
}

/// Why the worker's own keys are unusable. Logged with its code; the client sees a 500.
pub enum KeyConfigError {
    /// The secret is not set.
    Missing,
    /// The secret does not hold a usable private JWK Set.
    Invalid(Error),
}

impl KeyConfigError {
    pub fn code(&self) -> &'static str {
        match self {
            KeyConfigError::Missing => "ERR_SIGNING_KEYS_MISSING",
            KeyConfigError::Invalid(err) => err.code(),
        }
    }

    pub fn detail(&self) -> String {
        match self {
            KeyConfigError::Missing => format!(
                "secret {} is not set (scripts/dev creates one in .dev.vars)",
                super::bindings::SIGNING_KEYS
            ),
            KeyConfigError::Invalid(err) => format!("{}: {err}", super::bindings::SIGNING_KEYS),
        }
    }
}

/// Parses (or returns the cached) key set from the secret's text.
pub fn own_keys(secret: Option<String>) -> Result<Rc<OwnKeys>, KeyConfigError> {
    let text = secret.ok_or(KeyConfigError::Missing)?;
    if let Some(hit) = CACHE.with(|cache| {
        cache
            .borrow()
            .as_ref()
            .filter(|(cached, _)| *cached == text)
            .map(|(_, keys)| Rc::clone(keys))
    }) {
        return Ok(hit);
    }
    let keys = Rc::new(parse(&text).map_err(KeyConfigError::Invalid)?);
    CACHE.with(|cache| *cache.borrow_mut() = Some((text, Rc::clone(&keys))));
    Ok(keys)
}

fn parse(text: &str) -> Result<OwnKeys, Error> {
    let set = KeySet::from_json(text)?;
    let Some(active) = set.keys().first() else {
        return Err(Error::InvalidKey {
            reason: "the signing key set is empty".to_owned(),
        });
    };
    if !active.is_private() {
        return Err(Error::InvalidKey {
            reason: "the first (active) key has no private part".to_owned(),
        });
    }
    active.signing_algorithm()?;
    let public_jwks = set.to_public_json();
    Ok(OwnKeys { set, public_jwks })
}

//! The worker's own keys, parsed from the secret once per isolate.

use crate::{Error, KeySet};

/// The parsed signing keys.
pub struct OwnKeys {
    /// Every key (private halves included): the first signs, all verify.
    pub set: KeySet,
}

impl OwnKeys {
    /// `{"keys":[...]}` with public halves only, served at `/.well-known/jwks.json`. Made when
    /// asked, not with the state: a cold isolate's first request then compiles no JWK
    /// serialisation unless it serves the set (V8 compiles wasm functions at their first call).
    pub fn public_jwks(&self) -> String {
        self.set.to_public_json()
    }
}

/// Parses the secret's text: a private JWK Set whose first key can sign.
pub fn parse(text: &str) -> Result<OwnKeys, Error> {
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
    Ok(OwnKeys { set })
}

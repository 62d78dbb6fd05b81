//! The worker's own keys, parsed from the secret once per isolate.

use crate::{Error, KeySet};

/// The parsed signing keys and the public JWK Set served at `/.well-known/jwks.json`.
pub struct OwnKeys {
    /// Every key (private halves included): the first signs, all verify.
    pub set: KeySet,
    /// `{"keys":[...]}` with public halves only.
    pub public_jwks: String,
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
    let public_jwks = set.to_public_json();
    Ok(OwnKeys { set, public_jwks })
}

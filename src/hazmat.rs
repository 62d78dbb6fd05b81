//! Operations that skip a check. Only an adapter whose signature step runs outside the core
//! (for instance an asynchronous WebCrypto call) should need them.

use crate::jwk::Key;
use crate::token::UntrustedToken;
use crate::verify::SignatureChecked;

/// Declares that `key`'s signature over `token` has been verified by the caller. Claims are
/// still checked afterwards by [`crate::verify::check_claims`]. Calling this without a real
/// signature check accepts forged tokens.
pub fn signature_checked<'a>(token: UntrustedToken<'a>, key: &Key) -> SignatureChecked<'a> {
    SignatureChecked {
        token,
        kid: key.shared_kid(),
    }
}

/// Decodes a token's header and claims without verifying anything: for debugging output only.
pub fn decode_unverified(
    token: &str,
    max_bytes: usize,
) -> Result<(crate::token::Header, serde_json::Value), crate::error::Error> {
    let untrusted = UntrustedToken::parse(token, max_bytes)?;
    let claims = serde_json::from_slice(untrusted.payload()).map_err(|_| {
        crate::error::Error::Malformed {
            reason: "payload is not valid JSON",
        }
    })?;
    Ok((untrusted.header().clone(), claims))
}

//! The CSRF value of the login and consent forms (RFC 9700 §4.7), minted and checked here
//! only.

use super::*;

/// How long a form's CSRF value is accepted (seconds): as long as its cookie lives.
pub const CSRF_LIFETIME: i64 = 1800;

/// A CSRF value for the login and consent forms: `nonce.time.mac`, the mac a keyed hash under
/// the pepper of the nonce, the time it was made and the browser session it was made for
/// (`session`, the session cookie's value, or none before sign-in). Only the server can mint
/// one; it expires after [`CSRF_LIFETIME`]; and one minted for another session (an
/// attacker's own, or none) does not pass [`csrf_valid`] in a signed-in browser, so a pair
/// planted from a sibling site cannot approve a consent there. The double-submit cookie still
/// ties it to the browser (RFC 9700 §4.7).
pub fn csrf_token(pepper: &[u8], session: Option<&str>, now: i64) -> Result<String, Error> {
    let nonce = crate::issue::new_jti()?;
    let mac = csrf_mac(pepper, &nonce, now, session);
    Ok(format!("{nonce}.{now}.{mac}"))
}

/// Whether the form's CSRF value is one this server issued for this browser session
/// (`session`, as for [`csrf_token`]) less than [`CSRF_LIFETIME`] ago, and equals the cookie's.
pub fn csrf_valid(
    pepper: &[u8],
    form: &str,
    cookie: &str,
    session: Option<&str>,
    now: i64,
) -> bool {
    let mut parts = form.splitn(3, '.');
    let (Some(nonce), Some(time), Some(mac)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Ok(made) = time.parse::<i64>() else {
        return false;
    };
    // `made` comes from the form: no arithmetic on it may overflow.
    let fresh = now
        .checked_sub(made)
        .is_some_and(|age| (0..CSRF_LIFETIME).contains(&age));
    let expected = csrf_mac(pepper, nonce, made, session);
    !nonce.is_empty() && fresh && equal_secret(mac, &expected) && equal_secret(form, cookie)
}

fn csrf_mac(pepper: &[u8], nonce: &str, made: i64, session: Option<&str>) -> String {
    // The session id is hashed first: the value in the form never carries it.
    let session = session
        .map(|id| opaque::keyed_hash(pepper, id))
        .unwrap_or_default();
    opaque::keyed_hash(pepper, &format!("tollgate-csrf:{nonce}:{made}:{session}"))
}

//! The request parsers of the OAuth endpoints and the gateway: form bodies and query strings,
//! Basic credentials, cookies, bearer headers, redirect URIs. No input may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::{gateway, oauth};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = oauth::parse_form(&text);
    let _ = oauth::parse_basic(&text);
    let _ = oauth::valid_redirect_uri(&text);
    let _ = gateway::cookie(&text, "tg_session");
    let _ = gateway::without_cookie(&text, "tg_token");
    let _ = gateway::extract_token(Some(&text), Some(&text), Some("tg_token"));
    let _ = tollgate::opaque::parse(&text);
    let _ = oauth::with_query(&text, &[("code", &text)]);
});

//! The request parsers of the OAuth endpoints and the gateway: form bodies and query strings,
//! Basic credentials, cookies, bearer headers, redirect URIs, request paths and header names.
//! No input may panic, and a canonical path is a fixed point (canonicalising it again changes
//! nothing), so what was routed is what is forwarded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::path::{self, PathOptions};
use tollgate::{gateway, oauth};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = oauth::parse_form(&text);
    let _ = oauth::parse_form_bytes(data);
    let _ = oauth::parse_basic(&text);
    let _ = oauth::valid_redirect_uri(&text);
    let pepper = b"pepper-for-fuzzing-0123456789abcd";
    for now in [0, 1_700_000_000, i64::MIN, i64::MAX] {
        let _ = oauth::csrf_valid(pepper, &text, &text, Some(&text), now);
    }
    let _ = oauth::redirect_registered(&[text.to_string()], "http://127.0.0.1:1/", true);
    let _ = oauth::redirect_registered(&["http://127.0.0.1/".to_owned()], &text, true);
    let _ = gateway::cookie(&text, "tg_session");
    let _ = gateway::without_cookies(&text, &["tg_token", "tg_session"]);
    let _ = gateway::extract_token(Some(&text), Some(&text), Some("tg_token"));
    let _ = gateway::forward_header(&text, gateway::ForwardPolicy::default());
    let _ = gateway::https_location(&text, "/", Some(&text));
    let _ = tollgate::opaque::parse(&text);
    let _ = oauth::with_query(&text, &[("code", &text)]);
    let (raw, _) = path::split_url(&text);
    for options in [
        PathOptions::default(),
        PathOptions {
            allow_parameters: true,
        },
    ] {
        if let Ok(canonical) = path::canonical(&text, options) {
            assert_eq!(path::canonical(&canonical, options).as_ref(), Ok(&canonical));
            assert!(canonical.starts_with('/') && !canonical.contains("//"));
        }
        let _ = path::canonical(raw, options);
    }
});

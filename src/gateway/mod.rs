//! The gateway's decisions, free of any platform: where the token is, whether its scopes
//! suffice, which identity headers the origin gets, and how a refusal is written on the wire
//! (RFC 6750 §3) — in exactly one function, [`Denial::render`].
//!
//! Where things live:
//! - [`denial`]: refusals and their one rendering (RFC 6750 §3, RFC 9449 §7.1);
//! - [`credentials`]: where the token is (`Authorization`, the token cookie);
//! - [`identity`]: who a request acts for, the headers the origin gets, the logged decision;
//! - [`forward`]: which client headers reach the origin;
//! - [`https`]: plain HTTP, redirects and addressing.

pub mod credentials;
pub mod denial;
pub mod forward;
pub mod https;
pub mod identity;

pub use self::credentials::*;
pub use self::denial::*;
pub use self::forward::*;
pub use self::https::*;
pub use self::identity::*;

/// Identity headers sent to the origin start with this; clients' own are always removed.
pub const IDENTITY_PREFIX: &str = "x-tollgate-";

/// The realm in `WWW-Authenticate` challenges.
pub const REALM: &str = "tollgate";

/// Makes a value safe in a header for the origin: printable ASCII stays, every other byte (and
/// `%` itself) is percent-encoded, so no value can end a header or smuggle another.
pub(crate) fn header_safe(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if (0x20..0x7f).contains(&byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Makes text safe inside a quoted-string of a challenge (RFC 9110 §5.6.4; RFC 6750 §3 allows
/// printable ASCII without `"` and `\` in `error_description`): a double quote becomes a
/// single one and `§` the word, so a message reads the same (`scope 'write'`, `RFC 9449
/// section 7.2`); anything else outside that set becomes `?`.
pub(crate) fn quote_safe(text: &str) -> String {
    let mut safe = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => safe.push('\''),
            '§' => safe.push_str("section "),
            c if (c.is_ascii_graphic() && c != '\\') || c == ' ' => safe.push(c),
            _ => safe.push('?'),
        }
    }
    safe
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::Code;
    use crate::error::Error;

    #[test]
    fn bearer_tokens_come_from_the_header_then_the_cookie() {
        assert_eq!(
            extract_token(Some("Bearer abc.def"), None, None).unwrap(),
            ("abc.def", TokenSource::Header)
        );
        assert_eq!(
            extract_token(Some("bearer abc"), None, None).unwrap().0,
            "abc"
        );
        assert!(matches!(
            extract_token(Some("Bearer "), None, None),
            Err(Denial::InvalidRequest(_))
        ));
        assert!(matches!(
            extract_token(Some("Bearer a b"), None, None),
            Err(Denial::InvalidRequest(_))
        ));
        assert!(matches!(
            extract_token(Some("Basic dXNlcg=="), None, None),
            Err(Denial::MissingToken)
        ));
        assert!(matches!(
            extract_token(None, None, None),
            Err(Denial::MissingToken)
        ));
        let cookies = Some("a=1; tg=tok.en; b=2");
        assert_eq!(
            extract_token(None, cookies, Some("tg")).unwrap(),
            ("tok.en", TokenSource::Cookie)
        );
        assert!(matches!(
            extract_token(None, cookies, None),
            Err(Denial::MissingToken)
        ));
    }

    #[test]
    fn https_is_enforced_except_from_loopback_addresses() {
        use crate::config::HttpsMode::*;
        let (local, remote) = (Some("127.0.0.1"), Some("203.0.113.9"));
        let cases = [
            (Redirect, true, "http", local, "POST", HttpsAction::Allow),
            (
                Redirect,
                true,
                "http",
                Some("::1"),
                "POST",
                HttpsAction::Allow,
            ),
            (Redirect, false, "http", local, "GET", HttpsAction::Redirect),
            (Redirect, true, "http", remote, "GET", HttpsAction::Redirect),
            (Redirect, true, "http", None, "GET", HttpsAction::Redirect),
            (
                Redirect,
                true,
                "http",
                Some("localhost"),
                "GET",
                HttpsAction::Redirect,
            ),
            (Redirect, true, "http", remote, "POST", HttpsAction::Reject),
            (Reject, true, "http", remote, "GET", HttpsAction::Reject),
            (Off, true, "http", remote, "GET", HttpsAction::Allow),
            (Reject, false, "https", remote, "GET", HttpsAction::Allow),
        ];
        for (mode, loopback, scheme, peer, method, expected) in cases {
            assert_eq!(
                https_action(mode, loopback, scheme, peer, method),
                expected,
                "{mode:?} loopback allowed: {loopback}, {scheme} from {peer:?}, {method}"
            );
        }
    }

    #[test]
    fn the_https_redirect_goes_to_the_issuer_host() {
        assert_eq!(
            https_location("https://auth.example.com", "/api/x", Some("a=1")),
            "https://auth.example.com/api/x?a=1"
        );
        assert_eq!(
            https_location("https://auth.example.com:8443/base", "/x", None),
            "https://auth.example.com:8443/x"
        );
        assert_eq!(
            https_location("http://127.0.0.1:8787", "/x", None),
            "https://127.0.0.1/x"
        );
    }

    #[test]
    fn tollgate_cookies_are_removed_before_forwarding() {
        assert_eq!(
            without_cookies("a=1; tg=x; b=2; tg_session=s", &["tg", "tg_session"]).as_deref(),
            Some("a=1; b=2")
        );
        assert_eq!(without_cookies("tg=x", &["tg"]), None);
        assert_eq!(without_cookies("tgx=1", &["tg"]).as_deref(), Some("tgx=1"));
        // Several Cookie lines, joined by the runtime with ", ".
        assert_eq!(
            without_cookies("theme=dark, tg=x, tg_session=s", &["tg", "tg_session"]).as_deref(),
            Some("theme=dark")
        );
        assert_eq!(
            without_cookies("tg=x, theme=dark; b=2", &["tg"]).as_deref(),
            Some("theme=dark; b=2")
        );
        // A comma inside a value of the origin's is left as it was.
        assert_eq!(
            without_cookies("list=a,b,c; tg=x", &["tg"]).as_deref(),
            Some("list=a,b,c")
        );
    }

    #[test]
    fn the_header_policy() {
        let default = ForwardPolicy::default();
        for name in [
            "X-Tollgate-Sub",
            "x-tollgate-anything",
            "X_Tollgate_Sub",
            "x_TOLLGATE-scope",
            "Host",
            "X-One-Time-Token",
            "X-Forwarded-For",
            "x_forwarded_host",
            "Forwarded",
            "X-Real-IP",
            "CF-Connecting-IP",
            "X-Original-URL",
            "x_rewrite_url",
            "X-HTTP-Method-Override",
            "Authorization",
            "X-API-Key",
        ] {
            assert_eq!(forward_header(name, default), HeaderAction::Drop, "{name}");
        }
        assert_eq!(
            forward_header("Cookie", default),
            HeaderAction::StripCookies
        );
        for name in ["accept", "x-toll", "content-type", "x-request-id"] {
            assert_eq!(forward_header(name, default), HeaderAction::Keep, "{name}");
        }
        let open = ForwardPolicy {
            credentials: true,
            override_headers: true,
        };
        for name in ["Authorization", "X-API-Key", "Cookie", "X-Original-URL"] {
            assert_eq!(forward_header(name, open), HeaderAction::Keep, "{name}");
        }
        for name in ["X-Tollgate-Sub", "X-Forwarded-For"] {
            assert_eq!(forward_header(name, open), HeaderAction::Drop, "{name}");
        }
        assert!(is_forbidden_method("CONNECT") && is_forbidden_method("trace"));
        assert!(!is_forbidden_method("PROPFIND"));
    }

    #[test]
    fn header_values_cannot_break_out() {
        assert_eq!(header_safe("alice"), "alice");
        assert_eq!(header_safe("a\r\nX-Evil: 1"), "a%0D%0AX-Evil: 1");
        assert_eq!(header_safe("é%"), "%C3%A9%25");
        assert_eq!(quote_safe("say \"hi\"\n"), "say 'hi'?");
        assert_eq!(quote_safe("RFC 9449 §7.2 \\ é"), "RFC 9449 section 7.2 ? ?");
        // The JSON body's description too (RFC 6749 §5.2's characters), whatever it quotes.
        let refused = Denial::InvalidToken(Error::ClaimInvalid {
            claim: "aud".into(),
            reason: "is not \"é\" \\ §",
        })
        .render();
        let description = refused.body["error_description"].as_str().unwrap();
        assert!(
            description
                .bytes()
                .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)),
            "{description}"
        );
    }

    /// RFC 9449 §7.1–7.2 and RFC 7800: a binding decides the scheme, and a binding the
    /// gateway cannot check is refused, never treated as a bearer token.
    #[test]
    fn a_binding_decides_how_a_token_may_be_presented() {
        let bound = Identity {
            jkt: Some("k".into()),
            ..Identity::default()
        };
        let unbound = Identity::default();
        let other = Identity {
            other_binding: true,
            ..Identity::default()
        };
        assert!(bound.dpop_fit(TokenSource::Dpop).is_ok());
        assert!(unbound.dpop_fit(TokenSource::Header).is_ok());
        assert!(unbound.dpop_fit(TokenSource::Cookie).is_ok());
        for (identity, source) in [
            (&bound, TokenSource::Header),
            (&bound, TokenSource::Cookie),
            (&unbound, TokenSource::Dpop),
            (&other, TokenSource::Header),
            (&other, TokenSource::Dpop),
        ] {
            let denial = identity.dpop_fit(source).unwrap_err().render();
            assert_eq!(
                (denial.status, denial.code),
                (401, "ERR_DPOP_BINDING_MISMATCH")
            );
            assert!(denial
                .www_authenticate
                .unwrap()
                .starts_with(r#"DPoP error="invalid_token""#));
        }
    }

    /// The package's middleware answers from the code alone; it must say what the gateway says.
    #[test]
    fn a_refusal_rendered_from_its_code_is_the_gateways() {
        let same = |a: Rendered, b: Rendered| {
            assert_eq!(
                (a.status, &a.www_authenticate, &a.body, a.code),
                (b.status, &b.www_authenticate, &b.body, b.code)
            );
        };
        for err in [
            Error::Expired { exp: 1, now: 2 },
            Error::BadSignature,
            Error::ClaimInvalid {
                claim: "aud".into(),
                reason: "is not accepted",
            },
            Error::NoMatchingKey { kid: None },
        ] {
            let from_code = render_code(err.code(), &err.to_string(), err.claim(), &[]);
            same(from_code, Denial::InvalidToken(err).render());
        }
        same(
            render_code(Code::TokenMissing.as_str(), "", None, &[]),
            Denial::MissingToken.render(),
        );
        let required = vec!["read".to_owned(), "write".to_owned()];
        same(
            render_code(Code::InsufficientScope.as_str(), "", None, &required),
            Denial::InsufficientScope { required }.render(),
        );
    }

    #[test]
    fn refusals_render_per_rfc_6750() {
        let missing = Denial::MissingToken.render();
        assert_eq!(
            (missing.status, missing.www_authenticate.as_deref()),
            (401, Some(r#"Bearer realm="tollgate""#))
        );
        let scope = Denial::InsufficientScope {
            required: vec!["a".into(), "b".into()],
        }
        .render();
        assert_eq!(scope.status, 403);
        assert!(scope.www_authenticate.unwrap().ends_with(r#"scope="a b""#));
        let expired = Denial::InvalidToken(Error::Expired { exp: 1, now: 2 }).render();
        assert_eq!(expired.code, "ERR_JWT_EXPIRED");
        assert!(expired
            .www_authenticate
            .unwrap()
            .contains(r#"error="invalid_token""#));
        assert_eq!(expired.body["claim"], "exp");
    }

    #[test]
    fn a_bearer_credential_as_it_comes() {
        assert_eq!(bearer("Bearer tgk_1"), Some("tgk_1"));
        assert_eq!(bearer("bearer  tgk_1 "), Some("tgk_1"));
        assert_eq!(bearer("DPoP eyJ"), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Basic YTpi"), None);
    }

    /// RFC 9449 §7.1: a request that presented its token with the DPoP scheme, or a route
    /// that takes DPoP only, is answered with a DPoP challenge; the rest of the answer is
    /// the same. §7.2: without credentials on a route that takes either, both challenges.
    #[test]
    fn refusals_challenge_in_the_scheme_the_client_can_follow() {
        assert_eq!(Scheme::of(Some("DPoP eyJ"), false), Scheme::Dpop);
        assert_eq!(Scheme::of(Some("dpop eyJ"), false), Scheme::Dpop);
        assert_eq!(Scheme::of(Some("Bearer eyJ"), true), Scheme::Dpop);
        assert_eq!(Scheme::of(Some("Bearer eyJ"), false), Scheme::Bearer);
        assert_eq!(Scheme::of(Some("BEARER eyJ"), false), Scheme::Bearer);
        assert_eq!(Scheme::of(None, false), Scheme::Either);
        assert_eq!(Scheme::of(Some("Basic YTpi"), false), Scheme::Either);
        assert_eq!(Scheme::of(None, true), Scheme::Dpop);
        let algs = dpop_algs();
        let missing = Denial::MissingToken.render_for(Scheme::Dpop);
        assert_eq!(
            missing.www_authenticate,
            Some(format!(r#"DPoP algs="{algs}""#))
        );
        let either = Denial::MissingToken.render_for(Scheme::Either);
        assert_eq!(
            either.www_authenticate,
            Some(format!(r#"Bearer realm="tollgate", DPoP algs="{algs}""#))
        );
        let session = Denial::SessionInvalid.render_for(Scheme::Either);
        assert_eq!(
            session.www_authenticate,
            Denial::SessionInvalid.render().www_authenticate,
            "a refusal of what came (a cookie) challenges as Bearer"
        );
        let scope = Denial::InsufficientScope {
            required: vec!["a".into()],
        };
        let (bearer, dpop) = (scope.render(), scope.render_for(Scheme::Dpop));
        assert_eq!((bearer.status, bearer.code), (dpop.status, dpop.code));
        assert_eq!(bearer.body, dpop.body);
        assert!(dpop
            .www_authenticate
            .unwrap()
            .starts_with(r#"DPoP error="insufficient_scope", error_description=""#));
    }
}

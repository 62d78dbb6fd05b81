//! Reading the configuration's JSON into its types, member by member.
//!
//! Written out rather than derived: serde's derive instantiates a visitor per struct and per
//! member type over serde_json's reader, about 47 KB of the worker's code (12% of what it
//! compiles) for a text read once per isolate (BENCHMARKS.md §4, session 14). The rules are
//! the derive's, kept on purpose: an unknown member is refused (a typo must not quietly turn a
//! protection off), so is a member named twice, a wrong JSON type, a number out of its range;
//! `null` means "absent" only for the members whose type is an `Option`. Errors name the member
//! by its path (`routes[2].auth`).

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::json::read::Reader;

use super::{
    Auth, Consistency, DpopRule, ExternalIssuer, GatewayConfig, HttpsMode, LogDecisions,
    OAuthConfig, RevocationConfig, Route,
};
use crate::alg::Algorithm;

/// Parses the JSON text and reads the configuration from it (not yet validated).
pub(super) fn gateway(text: &str) -> Result<GatewayConfig, String> {
    let Strict(value) = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut o = Reader::new(value, "", true)?;
    let config = GatewayConfig {
        issuer: o.required("issuer"),
        audiences: audiences(&mut o),
        routes: o.list("routes", route).unwrap_or_default(),
        token_cookie: o.nullable("tokenCookie").string("tokenCookie"),
        forward_authorization: o.bool("forwardAuthorization").unwrap_or(false),
        origin_assertion: o.bool("originAssertion").unwrap_or(true),
        assertion_audience: o.nullable("assertionAudience").string("assertionAudience"),
        external_issuers: o
            .list("externalIssuers", external_issuer)
            .unwrap_or_default(),
        https: o.word("https", HTTPS_MODES).unwrap_or_default(),
        allow_loopback_http: o.bool("allowLoopbackHttp").unwrap_or(true),
        revocation: o.object("revocation", revocation).unwrap_or_default(),
        token_cache_entries: o.usize("tokenCacheEntries").unwrap_or(10_000),
        login_url: o.nullable("loginUrl").string("loginUrl"),
        leeway: o.u64("leeway").unwrap_or(0),
        max_token_bytes: o
            .usize("maxTokenBytes")
            .unwrap_or(crate::policy::DEFAULT_MAX_TOKEN_BYTES),
        dpop_nonce: o.bool("dpopNonce").unwrap_or(false),
        oauth: o.object("oauth", oauth).unwrap_or_default(),
        log_decisions: o.word("logDecisions", LOG_DECISIONS).unwrap_or_default(),
        case_sensitive_paths: o.bool("caseSensitivePaths").unwrap_or(false),
        allow_path_parameters: o.bool("allowPathParameters").unwrap_or(false),
        forward_override_headers: o.bool("forwardOverrideHeaders").unwrap_or(false),
        consistency: o.nullable("consistency").word("consistency", CONSISTENCIES),
        cors_origins: listed(
            &mut o,
            "corsOrigins",
            "would allow no origin, as leaving it out does",
        ),
    };
    o.finish().map(|()| config)
}

const HTTPS_MODES: &[(&str, HttpsMode)] = &[
    ("redirect", HttpsMode::Redirect),
    ("reject", HttpsMode::Reject),
    ("off", HttpsMode::Off),
];
const LOG_DECISIONS: &[(&str, LogDecisions)] = &[
    ("all", LogDecisions::All),
    ("denials", LogDecisions::Denials),
    ("none", LogDecisions::None),
];
const CONSISTENCIES: &[(&str, Consistency)] =
    &[("durable", Consistency::Durable), ("kv", Consistency::Kv)];
const AUTHS: &[(&str, Auth)] = &[("public", Auth::Public), ("token", Auth::Token)];
const DPOP_RULES: &[(&str, DpopRule)] = &[
    ("allowed", DpopRule::Allowed),
    ("required", DpopRule::Required),
];

fn route(o: &mut Reader) -> Route {
    Route {
        prefix: o.required("prefix"),
        methods: listed(
            o,
            "methods",
            "would cover every method, as leaving it out does",
        ),
        auth: o.word("auth", AUTHS).unwrap_or_default(),
        scopes: listed(
            o,
            "scopes",
            "would check nothing; leave it out to require a valid token with any scope",
        ),
        one_time: o.bool("oneTime").unwrap_or(false),
        dpop: o.word("dpop", DPOP_RULES).unwrap_or_default(),
    }
}

/// `audiences`, absent meaning unchecked; an empty list is refused, since it would check nothing.
fn audiences(o: &mut Reader) -> Vec<String> {
    listed(
        o,
        "audiences",
        "would check nothing; leave it out to leave `aud` unchecked",
    )
}

/// A list of strings, absent meaning empty; an empty list written out is refused (`why`
/// says what it would do), since a list that is there reads as a check: `scopes = []` on
/// `/api/admin` reads as a restriction and lets any token in (an outside audit).
fn listed(o: &mut Reader, name: &str, why: &str) -> Vec<String> {
    let list = o.strings(name);
    if list.as_ref().is_some_and(Vec::is_empty) {
        let error = format!("{}{name}: an empty list {why}", o.at());
        o.fail(error);
    }
    list.unwrap_or_default()
}

fn external_issuer(o: &mut Reader) -> ExternalIssuer {
    ExternalIssuer {
        issuer: o.required("issuer"),
        jwks_url: o.required("jwksUrl"),
        audiences: audiences(o),
        algorithms: algorithms(o, "algorithms"),
        cache_seconds: o.u64("cacheSeconds").unwrap_or(600),
        cooldown_seconds: o.u64("cooldownSeconds").unwrap_or(30),
        timeout_ms: o.u64("timeoutMs").unwrap_or(3000),
        typ: o.nullable("typ").string("typ"),
    }
}

fn revocation(o: &mut Reader) -> RevocationConfig {
    let d = RevocationConfig::default();
    RevocationConfig {
        fail_open: o.bool("failOpen").unwrap_or(d.fail_open),
        cache_seconds: o.u64("cacheSeconds").unwrap_or(d.cache_seconds),
    }
}

fn oauth(o: &mut Reader) -> OAuthConfig {
    let d = OAuthConfig::default();
    OAuthConfig {
        access_token_lifetime: o
            .u64("accessTokenLifetime")
            .unwrap_or(d.access_token_lifetime),
        refresh_token_lifetime: o
            .u64("refreshTokenLifetime")
            .unwrap_or(d.refresh_token_lifetime),
        code_lifetime: o.u64("codeLifetime").unwrap_or(d.code_lifetime),
        refresh_grace_seconds: o
            .u64("refreshGraceSeconds")
            .unwrap_or(d.refresh_grace_seconds),
        session_idle_seconds: o
            .u64("sessionIdleSeconds")
            .unwrap_or(d.session_idle_seconds),
        session_absolute_seconds: o
            .u64("sessionAbsoluteSeconds")
            .unwrap_or(d.session_absolute_seconds),
        max_failures: o.u32("maxFailures").unwrap_or(d.max_failures),
        lockout_seconds: o.u64("lockoutSeconds").unwrap_or(d.lockout_seconds),
        access_token_audience: o
            .nullable("accessTokenAudience")
            .string("accessTokenAudience"),
        session_routes: o.strings("sessionRoutes").unwrap_or(d.session_routes),
        password_memory_kib: o.u32("passwordMemoryKib").unwrap_or(d.password_memory_kib),
        password_iterations: o.u32("passwordIterations").unwrap_or(d.password_iterations),
        id_token_lifetime: o.u64("idTokenLifetime").unwrap_or(d.id_token_lifetime),
        id_token_signing_alg: algorithm(o, "idTokenSigningAlg"),
    }
}

/// One algorithm name, if the member is there.
fn algorithm(o: &mut Reader, name: &str) -> Option<Algorithm> {
    let text = o.nullable(name).string(name)?;
    match Algorithm::parse(&text) {
        Ok(alg) => Some(alg),
        Err(e) => {
            let error = format!("{}{name}: {e}", o.at());
            o.fail(error);
            None
        }
    }
}

/// The algorithm names of `name`, each one Tollgate implements.
fn algorithms(o: &mut Reader, name: &str) -> Vec<Algorithm> {
    let names = listed(
        o,
        name,
        "would allow every asymmetric algorithm, as leaving it out does",
    );
    let mut algorithms = Vec::with_capacity(names.len());
    for alg in names {
        match Algorithm::parse(&alg) {
            Ok(alg) => algorithms.push(alg),
            Err(e) => {
                let error = format!("{}{name}: {e}", o.at());
                o.fail(error);
            }
        }
    }
    algorithms
}

/// A JSON value read from text, refusing an object that names a member twice. RFC 8259 §4
/// leaves duplicate names' meaning to the reader; serde_json's `Value` keeps the last one, which
/// would let a second `"failOpen": true` hide behind the first `false` a reviewer reads.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Value, E> {
        Number::from_f64(n)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number JSON cannot write"))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if members.contains_key(&name) {
                return Err(de::Error::custom(format!(
                    "member \"{name}\" appears twice"
                )));
            }
            let Strict(value) = map.next_value()?;
            members.insert(name, value);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Result<GatewayConfig, String> {
        gateway(json)
    }

    #[test]
    fn every_member_is_read_under_its_documented_name() {
        let c = read(
            r#"{"issuer":"https://i","audiences":["a"],
            "routes":[{"prefix":"/p","methods":["GET"],"auth":"public","oneTime":true,"dpop":"required"},
            {"prefix":"/q","scopes":["s"]}],
            "tokenCookie":"tc","forwardAuthorization":true,"originAssertion":false,
            "assertionAudience":"https://o","externalIssuers":[{"issuer":"https://e",
            "jwksUrl":"https://e/jwks","audiences":["x"],"algorithms":["ES256","Ed25519"],
            "cacheSeconds":1,"cooldownSeconds":2,"timeoutMs":3,"typ":"at+jwt"}],
            "https":"off","allowLoopbackHttp":false,"revocation":{"failOpen":true,"cacheSeconds":4},
            "tokenCacheEntries":5,"loginUrl":"https://l","leeway":6,"maxTokenBytes":7,
            "dpopNonce":true,"oauth":{"accessTokenLifetime":8,"refreshTokenLifetime":9,
            "codeLifetime":10,"refreshGraceSeconds":11,"sessionIdleSeconds":12,
            "sessionAbsoluteSeconds":13,"maxFailures":14,"lockoutSeconds":15,
            "accessTokenAudience":"aud","sessionRoutes":["/s"],"passwordMemoryKib":16,
            "passwordIterations":17,"idTokenLifetime":18},"logDecisions":"none",
            "caseSensitivePaths":true,"allowPathParameters":true,"forwardOverrideHeaders":true,
            "consistency":"kv","corsOrigins":["https://c"]}"#,
        )
        .unwrap();
        assert_eq!(c.issuer, "https://i");
        assert_eq!(c.audiences, ["a"]);
        let r = &c.routes[0];
        assert_eq!(
            (r.prefix.as_str(), r.methods.as_slice()),
            ("/p", &["GET".to_owned()][..])
        );
        assert!(r.auth == Auth::Public && r.scopes.is_empty() && r.one_time);
        assert_eq!(r.dpop, DpopRule::Required);
        assert_eq!(c.routes[1].scopes, ["s"]);
        assert_eq!(c.token_cookie.as_deref(), Some("tc"));
        assert!(c.forward_authorization && !c.origin_assertion);
        assert_eq!(c.assertion_audience.as_deref(), Some("https://o"));
        let e = &c.external_issuers[0];
        assert_eq!(
            (e.issuer.as_str(), e.jwks_url.as_str()),
            ("https://e", "https://e/jwks")
        );
        assert_eq!(e.audiences, ["x"]);
        assert_eq!(e.algorithms, [Algorithm::ES256, Algorithm::Ed25519]);
        assert_eq!(
            (e.cache_seconds, e.cooldown_seconds, e.timeout_ms),
            (1, 2, 3)
        );
        assert_eq!(e.typ.as_deref(), Some("at+jwt"));
        assert_eq!(c.https, HttpsMode::Off);
        assert!(!c.allow_loopback_http && c.revocation.fail_open);
        assert_eq!(c.revocation.cache_seconds, 4);
        assert_eq!(
            (c.token_cache_entries, c.leeway, c.max_token_bytes),
            (5, 6, 7)
        );
        assert_eq!(c.login_url.as_deref(), Some("https://l"));
        assert!(c.dpop_nonce);
        let o = &c.oauth;
        assert_eq!(
            [
                o.access_token_lifetime,
                o.refresh_token_lifetime,
                o.code_lifetime,
                o.refresh_grace_seconds,
                o.session_idle_seconds,
                o.session_absolute_seconds,
                o.max_failures.into(),
                o.lockout_seconds,
                o.password_memory_kib.into(),
                o.password_iterations.into(),
                o.id_token_lifetime,
            ],
            [8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]
        );
        assert_eq!(o.access_token_audience.as_deref(), Some("aud"));
        assert_eq!(o.session_routes, ["/s"]);
        assert_eq!(c.log_decisions, LogDecisions::None);
        assert!(c.case_sensitive_paths && c.allow_path_parameters && c.forward_override_headers);
        assert_eq!(c.consistency, Some(Consistency::Kv));
        assert_eq!(c.cors_origins, ["https://c"]);
    }

    #[test]
    fn absent_members_take_their_documented_defaults() {
        let c = read(r#"{"issuer":"i","routes":[{"prefix":"/"}],"externalIssuers":[{"issuer":"e","jwksUrl":"https://e"}]}"#).unwrap();
        assert!(c.origin_assertion && c.allow_loopback_http && !c.forward_authorization);
        assert_eq!(c.https, HttpsMode::Redirect);
        assert_eq!(c.token_cache_entries, 10_000);
        assert_eq!(c.max_token_bytes, crate::policy::DEFAULT_MAX_TOKEN_BYTES);
        assert_eq!(
            (c.revocation.fail_open, c.revocation.cache_seconds),
            (false, 10)
        );
        assert_eq!(
            c.oauth.access_token_lifetime,
            OAuthConfig::default().access_token_lifetime
        );
        assert_eq!(
            (c.routes[0].auth, c.routes[0].dpop),
            (Auth::Token, DpopRule::Allowed)
        );
        let e = &c.external_issuers[0];
        assert_eq!(
            (e.cache_seconds, e.cooldown_seconds, e.timeout_ms),
            (600, 30, 3000)
        );
        assert!(e.algorithms.is_empty() && e.typ.is_none());
        assert_eq!((c.log_decisions, c.consistency), (LogDecisions::All, None));
    }

    #[test]
    fn null_is_absent_only_where_the_type_is_an_option() {
        let c = read(
            r#"{"issuer":"i","tokenCookie":null,"loginUrl":null,"assertionAudience":null,
            "consistency":null,"oauth":{"accessTokenAudience":null},
            "externalIssuers":[{"issuer":"e","jwksUrl":"https://e","typ":null}]}"#,
        )
        .unwrap();
        assert!(c.token_cookie.is_none() && c.consistency.is_none());
        for member in [
            "\"leeway\"",
            "\"https\"",
            "\"routes\"",
            "\"audiences\"",
            "\"oauth\"",
        ] {
            let json = format!(r#"{{"issuer":"i",{member}:null}}"#);
            let error = read(&json).unwrap_err();
            assert!(error.ends_with("found null"), "{member}: {error}");
        }
        assert!(read(r#"{"issuer":null}"#).is_err());
    }

    #[test]
    fn a_wrong_member_is_refused_by_its_path() {
        for (json, error) in [
            (r#"[]"#, "expected an object, found an array"),
            (r#"3"#, "expected an object, found an integer"),
            (r#"{}"#, "missing member \"issuer\""),
            (r#"{"issuer":1}"#, "issuer: expected a string, found an integer"),
            (r#"{"issuer":"i","routez":[]}"#, "unknown member \"routez\""),
            (r#"{"issuer":"i","leeway":-1}"#, "leeway: expected an integer from 0 to 18446744073709551615, found a negative integer"),
            (r#"{"issuer":"i","leeway":1.5}"#, "leeway: expected an integer from 0 to 18446744073709551615, found a fraction"),
            (r#"{"issuer":"i","leeway":"3"}"#, "leeway: expected an integer from 0 to 18446744073709551615, found a string"),
            (r#"{"issuer":"i","dpopNonce":"yes"}"#, "dpopNonce: expected true or false, found a string"),
            (r#"{"issuer":"i","audiences":["a",1]}"#, "audiences: expected an array of strings, found an array"),
            (r#"{"issuer":"i","audiences":[]}"#, "audiences: an empty list would check nothing"),
            (r#"{"issuer":"i","externalIssuers":[{"issuer":"e","jwksUrl":"https://e","audiences":[]}]}"#, "externalIssuers[0].audiences: an empty list would check nothing"),
            (r#"{"issuer":"i","routes":[{"prefix":"/api/admin","scopes":[]}]}"#, "routes[0].scopes: an empty list would check nothing"),
            (r#"{"issuer":"i","routes":[{"prefix":"/api","methods":[]}]}"#, "routes[0].methods: an empty list would cover every method"),
            (r#"{"issuer":"i","corsOrigins":[]}"#, "corsOrigins: an empty list would allow no origin"),
            (r#"{"issuer":"i","externalIssuers":[{"issuer":"e","jwksUrl":"https://e","algorithms":[]}]}"#, "externalIssuers[0].algorithms: an empty list would allow every asymmetric algorithm"),
            (r#"{"issuer":"i","https":"HTTPS"}"#, "https: expected one of [\"redirect\", \"reject\", \"off\"], found \"HTTPS\""),
            (r#"{"issuer":"i","https":"redirec"}"#, "https: expected one of [\"redirect\", \"reject\", \"off\"], found \"redirec\""),
            (r#"{"issuer":"i","logDecisions":"deny"}"#, "logDecisions: expected one of [\"all\", \"denials\", \"none\"], found \"deny\""),
            (r#"{"issuer":"i","https":true}"#, "https: expected one of [\"redirect\", \"reject\", \"off\"], found a boolean"),
            (r#"{"issuer":"i","oauth":{"maxFailures":4294967296}}"#, "oauth.maxFailures: expected an integer from 0 to 4294967295, found an integer"),
            (r#"{"issuer":"i","oauth":{"refreshTokenTTL":1}}"#, "unknown member \"oauth.refreshTokenTTL\""),
            (r#"{"issuer":"i","oauth":[]}"#, "oauth: expected an object, found an array"),
            (r#"{"issuer":"i","routes":{}}"#, "routes: expected an array of objects, found an object"),
            (r#"{"issuer":"i","routes":[{"prefix":"/"},"/x"]}"#, "routes[1]: expected an object, found a string"),
            (r#"{"issuer":"i","routes":[{"prefix":"/"},{"auth":"public"}]}"#, "missing member \"routes[1].prefix\""),
            (r#"{"issuer":"i","routes":[{"prefix":"/","auth":"private"}]}"#, "routes[0].auth: expected one of [\"public\", \"token\"], found \"private\""),
            (r#"{"issuer":"i","routes":[{"prefix":"/","auth":"Public"}]}"#, "routes[0].auth: expected one of [\"public\", \"token\"], found \"Public\""),
            (r#"{"issuer":"i","routes":[{"prefix":"/","scope":["a"]}]}"#, "unknown member \"routes[0].scope\""),
            (r#"{"issuer":"i","externalIssuers":[{"issuer":"e","jwksUrl":"https://e","algorithms":["none"]}]}"#, "externalIssuers[0].algorithms: "),
        ] {
            let found = read(json).unwrap_err();
            assert!(found.starts_with(error), "{json}: {found}");
        }
    }

    #[test]
    fn a_member_named_twice_is_refused() {
        let twice = r#"{"issuer":"i","revocation":{"failOpen":false,"failOpen":true}}"#;
        assert!(read(twice)
            .unwrap_err()
            .contains("member \"failOpen\" appears twice"));
        assert!(read(r#"{"issuer":"i","issuer":"j"}"#).is_err());
    }
}

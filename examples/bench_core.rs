//! The core natively (RustCrypto provider), the ceiling for our own code:
//! `cargo run --release --example bench_core [seconds]`. Prints a Markdown table of verify
//! (signature + exp + iss + aud) and sign ops/s, medians of three rounds, then the cost of a
//! verified-token cache hit (what the gateway does for a token it has seen) and a verify's own
//! work with the signature step answered without arithmetic (bench/overhead.mjs in Node).

use std::time::{Duration, Instant};

use tollgate::crypto::CryptoProvider;
use tollgate::token_cache::TokenCache;
use tollgate::{Algorithm, Error, Key, KeySet, Policy, TokenBuilder, Verifier};

/// Answers "valid" to every signature: what remains of a verify is the core's own work.
struct Stubbed;

impl CryptoProvider for Stubbed {
    fn verify(&self, _: Algorithm, _: &Key, _: &[u8], _: &[u8]) -> bool {
        true
    }

    fn sign(&self, _: Algorithm, _: &Key, _: &[u8]) -> Result<Vec<u8>, Error> {
        Err(Error::InvalidKey {
            reason: "the stub does not sign".into(),
        })
    }
}

/// What every verifier here checks beside the signature: issuer and audience.
fn policy() -> Policy {
    Policy {
        issuers: vec!["https://i".into()],
        audiences: vec!["api".into()],
        ..Policy::default()
    }
}

fn ops_per_second(seconds: f64, mut f: impl FnMut()) -> f64 {
    for _ in 0..50 {
        f();
    }
    let mut rounds = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < Duration::from_secs_f64(seconds) {
            for _ in 0..20 {
                f();
            }
            n += 20;
        }
        rounds.push(n as f64 / start.elapsed().as_secs_f64());
    }
    rounds.sort_by(f64::total_cmp);
    rounds[1]
}

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.5);
    let now = 1_800_000_000;
    println!("| alg | verify ops/s | sign ops/s |\n|---|---|---|");
    let mut cache_hit = None;
    for alg in [
        Algorithm::HS256,
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
    ] {
        let key = Key::generate(alg).expect("key");
        let public = if alg.is_asymmetric() {
            Key::from_jwk(&key.to_public_jwk().expect("public")).expect("parse")
        } else {
            key.clone()
        };
        let verifier = Verifier::new(
            KeySet::from_keys(vec![public.clone()]).expect("set"),
            policy(),
        )
        .expect("verifier");
        let builder = TokenBuilder::new(now)
            .issuer("https://i")
            .audience(["api"])
            .subject("alice")
            .scope("read");
        let token = builder.sign(&key).expect("sign");
        let verify = ops_per_second(seconds, || {
            verifier.verify(&token, now).expect("verify");
        });
        let sign = ops_per_second(seconds, || {
            builder.sign(&key).expect("sign");
        });
        println!("| {alg} | {verify:.0} | {sign:.0} |");
        if alg == Algorithm::ES256 {
            cache_hit = Some((verifier.verify(&token, now).expect("verify"), token, public));
        }
    }
    let (verified, token, public) = cache_hit.expect("an ES256 token");
    // The same token and key, with the signature step answered by the stub.
    let stubbed = Verifier::with_provider(
        KeySet::from_keys(vec![public]).expect("set"),
        policy(),
        Stubbed,
    )
    .expect("verifier");
    let own = ops_per_second(seconds, || {
        stubbed
            .verify(std::hint::black_box(&token), now)
            .expect("verify");
    });
    println!(
        "\nES256 verify with the signature answered by a stub ({} B token): {:.2} µs ({own:.0}/s)",
        token.len(),
        1e6 / own
    );
    // A hit: the map keyed by the token's text (SipHash, then one whole comparison, so a
    // forged token never finds a genuine token's entry) and the expiry check.
    let mut cache = TokenCache::new(10_000);
    cache.insert(&token, verified, ());
    let hits = ops_per_second(seconds, || {
        cache.get(std::hint::black_box(&token), now).expect("hit");
    });
    println!(
        "\nVerified-token cache hit ({} B token, 10 000-entry cache): {:.2} µs ({hits:.0}/s)",
        token.len(),
        1e6 / hits
    );
}

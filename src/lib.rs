//! # Tollgate core
//!
//! Issues and verifies JSON Web Tokens for edge runtimes. This crate is the pure core; the
//! Cloudflare Worker (`worker` feature), the npm package (`js`) and the CLI (`cli`) are thin
//! adapters over it and never import each other.
//!
//! ## Design choices
//! - **The key decides the algorithm** (RFC 8725 §3.1). A [`jwk::Key`] is bound to one
//!   algorithm (its JWK `alg`) or to one family (its type). The token's `alg` header only picks
//!   among what the key allows, and [`alg::Algorithm`] has no `none`.
//! - **Weak keys cannot exist.** RSA below 2048 bits or with a bad exponent or the ROCA
//!   fingerprint, HMAC secrets shorter than the hash, EC points off the curve: all refused
//!   when the key is built, with `ERR_JWK_INVALID`.
//! - **Three steps, one seam.** [`token::UntrustedToken::parse`] checks structure (pure,
//!   strict base64url, size-bounded); a [`crypto::CryptoProvider`] checks the signature;
//!   [`verify::check_claims`] checks claims (pure). Only the middle step varies by platform,
//!   so every provider gives the same answers and the same error codes.
//! - **No clock, no I/O, no platform types.** `now` is an argument; randomness comes from
//!   `getrandom`, which every target provides.
//! - **Stable error codes.** [`error::Error::code`] returns the strings every adapter reports
//!   (jose's where the meaning matches).
//! - **No panics on input.** Inputs are length-checked before they reach code that would panic.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod alg;
pub mod assertion;
pub mod b64;
mod claims;
pub mod codes;
pub mod config;
pub mod crypto;
pub mod dpop;
pub mod error;
pub mod gateway;
pub mod hazmat;
pub mod issue;
pub mod json;
pub mod jwk;
pub mod jwks;
pub mod jwks_cache;
pub mod lockout;
mod numeric_date;
pub mod oauth;
pub mod opaque;
pub mod password;
pub mod path;
pub mod policy;
pub mod revocation;
pub mod schema;
pub mod store;
mod swar;
pub mod token;
pub mod token_cache;
pub mod verify;

pub use alg::Algorithm;
pub use error::Error;
pub use issue::TokenBuilder;
pub use jwk::Key;
pub use jwks::KeySet;
pub use policy::Policy;
pub use verify::{Verified, Verifier};

#[cfg(feature = "worker")]
mod edge;
#[cfg(feature = "js")]
pub mod js;

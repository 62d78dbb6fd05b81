//! `tollgate`: keys and tokens from the command line, with the core's rules and error codes.
//!
//! Keys and tokens: `keygen`, `key rotate`, `sign` (an RFC 9068 `at+jwt` access token unless
//! `--typ` says otherwise), `verify`. Records for the store (written as a `wrangler kv bulk`
//! file): `user add`, `client add`, `consent revoke`, `apikey create`, `apikey revoke`. Shell
//! completions: `completions bash|zsh|fish|elvish|powershell`. `tollgate <command> --help`
//! documents each command. Arguments are parsed by clap, as in most Rust command-line tools.
//!
//! Output is JSON (records, keys, claims), except `sign`, which prints the bare token unless
//! `--json` asks for `{"token": …}`. Exit status: 0 success, 1 refused token or key (the
//! error code first on stderr), 2 usage error.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, CommandFactory, Parser, Subcommand};
use serde_json::{json, Value};
use tollgate::{Algorithm, Error, Key, KeySet, Policy, TokenBuilder, Verifier};

const EXIT_CODES: &str = "Exit status: 0 success; 1 a token or key was refused (its error code \
first on stderr, e.g. ERR_JWT_EXPIRED); 2 usage error.";

#[derive(Parser)]
#[command(
    name = "tollgate",
    version,
    about = "Keys, tokens and store records for Tollgate, with the core's rules and error codes",
    after_help = EXIT_CODES,
    propagate_version = true
)]
struct Cli {
    /// Print JSON even where the output is a bare value (`sign`).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a signing key: {"private": JWK, "public": JWK}, or with --set a JWK Set ready
    /// for `wrangler secret put TOLLGATE_SIGNING_KEYS`.
    Keygen(KeygenArgs),
    /// Signing-key sets.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Sign a token: the claims of --claims as written; the flags fill only claims it lacks
    /// (iat now, exp now + 900 s, a random jti); a claim given both ways is refused.
    Sign(SignArgs),
    /// Verify a token against a JWK Set and print its header and claims.
    Verify(VerifyArgs),
    /// Users (records for the store).
    #[command(subcommand)]
    User(UserCommand),
    /// OAuth clients (records for the store).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Remembered consents of users for third-party clients.
    #[command(subcommand)]
    Consent(ConsentCommand),
    /// API keys (records for the store; the key is printed once).
    #[command(subcommand)]
    Apikey(ApikeyCommand),
    /// Print a shell completion script: `tollgate completions bash > ~/.local/share/bash-completion/completions/tollgate`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Args)]
struct KeygenArgs {
    /// The algorithm the key is for.
    #[arg(long, value_name = "ALG")]
    alg: String,
    /// The key id (default: its RFC 7638 thumbprint).
    #[arg(long)]
    kid: Option<String>,
    /// Print only {"keys": [private JWK]}.
    #[arg(long)]
    set: bool,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Print the signing-key set with a new key of --alg in place of the one that signs with
    /// that algorithm (first in the set when it is the active key's; last when the set has
    /// none), older keys of --alg after it, and keys of other algorithms where they were.
    Rotate {
        /// The current set: a JWK Set file, or .dev.vars holding TOLLGATE_SIGNING_KEYS (- for stdin).
        #[arg(long, value_name = "FILE")]
        keys_from: String,
        /// The new key's algorithm.
        #[arg(long, value_name = "ALG")]
        alg: String,
        /// How many old keys of --alg to keep after the new one (0 also replaces a set of the
        /// other kind: HMAC secrets and asymmetric keys never share a set).
        #[arg(long, default_value_t = 2)]
        keep: usize,
        /// Put the new key first, as the active key that signs access tokens (to change their
        /// algorithm); by default it takes the place of its algorithm's key, or is added last.
        #[arg(long)]
        active: bool,
    },
}

#[derive(Args)]
struct SignArgs {
    /// A private JWK, a JWK Set (its first key signs), a PKCS#8 PEM, or .dev.vars (- for stdin).
    #[arg(long, value_name = "FILE")]
    key: String,
    /// The algorithm, when the key does not say.
    #[arg(long, value_name = "ALG")]
    alg: Option<String>,
    /// `sub`.
    #[arg(long)]
    sub: Option<String>,
    /// `iss`.
    #[arg(long)]
    iss: Option<String>,
    /// `aud` (repeat for several).
    #[arg(long)]
    aud: Vec<String>,
    /// `scope` (space-separated).
    #[arg(long)]
    scope: Option<String>,
    /// Lifetime in seconds (`exp` = now + this).
    #[arg(long, value_name = "SECONDS")]
    exp: Option<u64>,
    /// The `typ` header.
    #[arg(long, default_value = tollgate::config::ACCESS_TOKEN_TYP)]
    typ: String,
    /// A JSON object of claims, signed as written: each name once; numbers as JSON readers
    /// hold them (64-bit integers, else doubles), so write a longer integer as a string.
    #[arg(long, value_name = "JSON")]
    claims: Option<String>,
}

#[derive(Args)]
struct VerifyArgs {
    /// The JWK Set (- for stdin).
    #[arg(long, value_name = "FILE")]
    jwks: String,
    /// Accepted `iss` (repeatable).
    #[arg(long)]
    iss: Vec<String>,
    /// Accepted audience (repeatable).
    #[arg(long)]
    aud: Vec<String>,
    /// Allowed algorithm (repeatable; default: all, each key narrows to its own).
    #[arg(long, value_name = "ALG")]
    alg: Vec<String>,
    /// Required `typ` header.
    #[arg(long)]
    typ: Option<String>,
    /// Clock tolerance in seconds.
    #[arg(long, value_name = "SECONDS")]
    leeway: Option<u64>,
    /// The token.
    token: String,
}

/// Where store records go: a file for `wrangler kv bulk put|delete --binding TOLLGATE_KV`.
#[derive(Args)]
struct KvFile {
    /// The file to write (`wrangler kv bulk put|delete FILE --binding TOLLGATE_KV [--local]`).
    #[arg(long, value_name = "FILE")]
    kv_file: PathBuf,
}

/// The pepper of the keyed hashes.
#[derive(Args)]
struct PepperFrom {
    /// A dotenv file holding TOLLGATE_PEPPER, such as .dev.vars (- for stdin).
    #[arg(long, value_name = "FILE")]
    pepper_from: String,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user (password hashed with Argon2id).
    Add {
        /// Login name.
        #[arg(long)]
        username: String,
        /// The password (prefer --password-stdin: arguments show in process lists).
        #[arg(
            long,
            conflicts_with = "password_stdin",
            required_unless_present = "password_stdin"
        )]
        password: Option<String>,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Scopes the user may grant (space-separated).
        #[arg(long, default_value = "")]
        scopes: String,
        /// Full name (OpenID Connect `name`).
        #[arg(long)]
        name: Option<String>,
        /// E-mail address (OpenID Connect `email`).
        #[arg(long)]
        email: Option<String>,
        /// The address is verified (`email_verified`).
        #[arg(long, requires = "email")]
        email_verified: bool,
        /// Argon2id memory in KiB.
        #[arg(long, value_name = "KIB")]
        memory_kib: Option<u32>,
        /// Argon2id passes.
        #[arg(long)]
        iterations: Option<u32>,
        #[command(flatten)]
        kv: KvFile,
    },
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Add a client; a confidential one's secret is printed once.
    Add {
        /// The client id.
        #[arg(long)]
        id: String,
        /// Display name on the consent page.
        #[arg(long)]
        name: Option<String>,
        /// A public client (no secret; PKCE).
        #[arg(long)]
        public: bool,
        /// Skips consent; may use the password grant if allowed.
        #[arg(long)]
        first_party: bool,
        /// Its tokens are DPoP-bound: every token request needs a proof (RFC 9449 §5.2).
        #[arg(long)]
        dpop: bool,
        /// A confidential OpenID Connect relying party that may leave PKCE out of requests
        /// carrying a nonce (RFC 9700 §2.1.1); not for public clients.
        #[arg(long)]
        pkce_optional: bool,
        /// A redirect URI (repeatable; exact match).
        #[arg(long)]
        redirect_uri: Vec<String>,
        /// Where RP-Initiated Logout may return to (repeatable; exact match).
        #[arg(long)]
        post_logout_redirect_uri: Vec<String>,
        /// Where this relying party is told, by a POST of a logout token, that a session it
        /// logged in through has ended (OpenID Connect Back-Channel Logout 1.0).
        #[arg(long, value_name = "URI")]
        backchannel_logout_uri: Option<String>,
        /// An audience it checks as a resource server (repeatable): it may introspect tokens
        /// for it (RFC 7662 §4); without any, only its own tokens.
        #[arg(long, value_name = "AUDIENCE")]
        introspect: Vec<String>,
        /// A service its access tokens may be for (repeatable; RFC 8707 absolute URI): the
        /// first is the default audience, `resource` picks another (default: the
        /// deployment's `oauth.accessTokenAudience`).
        #[arg(long, value_name = "URI")]
        resource: Vec<String>,
        /// A grant type it may use (repeatable).
        #[arg(long)]
        grant: Vec<String>,
        /// Scopes it may obtain (space-separated).
        #[arg(long, default_value = "")]
        scopes: String,
        #[command(flatten)]
        pepper: PepperFrom,
        #[command(flatten)]
        kv: KvFile,
    },
}

#[derive(Subcommand)]
enum ConsentCommand {
    /// Forget a user's consent for a client (the next login through it asks again).
    Revoke {
        /// The user's subject (`usr_…`).
        #[arg(long)]
        sub: String,
        /// The client id.
        #[arg(long)]
        client: String,
        #[command(flatten)]
        kv: KvFile,
    },
}

#[derive(Subcommand)]
enum ApikeyCommand {
    /// Create an API key (printed once; only its keyed hash is stored).
    Create {
        /// The owner (becomes `sub`).
        #[arg(long)]
        owner: String,
        /// Scopes it carries (space-separated).
        #[arg(long, default_value = "")]
        scopes: String,
        /// Lifetime in seconds, at least 60, Workers KV's shortest expiry (default: none).
        #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(60..))]
        expires_in: Option<u64>,
        /// The service it is for (RFC 8707 absolute URI): its exchanged tokens' audience, and a
        /// guard whose `audiences` lack it refuses the key (one that checks no audience takes
        /// every key; default: every guard).
        #[arg(long, value_name = "URI")]
        resource: Option<String>,
        #[command(flatten)]
        pepper: PepperFrom,
        #[command(flatten)]
        kv: KvFile,
    },
    /// The record to delete for a key (with `wrangler kv bulk delete`).
    Revoke {
        /// The key (`tgk_…`; - reads it from standard input).
        #[arg(long)]
        key: String,
        #[command(flatten)]
        pepper: PepperFrom,
        #[command(flatten)]
        kv: KvFile,
    },
}

enum Failure {
    Usage(String),
    Refused(Error),
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Failure::Refused(err)
    }
}

/// What a command prints: JSON on one line (records, key sets: easy to capture in a shell
/// variable or a dotenv value), indented JSON (for reading), or a bare value (`--json` wraps it
/// under `key`).
enum Output {
    Json(Value),
    Pretty(Value),
    Bare { key: &'static str, value: String },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json_only = cli.json;
    match run(cli.command) {
        Ok(Output::Json(value)) => {
            println!("{value}");
            ExitCode::SUCCESS
        }
        Ok(Output::Pretty(value)) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Ok(Output::Bare { key, value }) => {
            match json_only {
                true => println!("{}", json!({ key: value })),
                false => println!("{value}"),
            }
            ExitCode::SUCCESS
        }
        Err(Failure::Usage(message)) => {
            eprintln!("tollgate: {message}\n\nSee `tollgate --help`.");
            ExitCode::from(2)
        }
        Err(Failure::Refused(err)) => {
            eprintln!("{}: {err}", err.code());
            ExitCode::from(1)
        }
    }
}

fn run(command: Command) -> Result<Output, Failure> {
    match command {
        Command::Keygen(args) => keygen(args),
        Command::Key(KeyCommand::Rotate {
            keys_from,
            alg,
            keep,
            active,
        }) => key_rotate(&keys_from, algorithm(&alg)?, keep, active),
        Command::Sign(args) => sign(args),
        Command::Verify(args) => verify(args),
        Command::User(UserCommand::Add {
            username,
            password,
            password_stdin,
            scopes,
            name,
            email,
            email_verified,
            memory_kib,
            iterations,
            kv,
        }) => {
            let password = match (password, password_stdin) {
                (Some(password), false) => password,
                _ => read_input("-")?.trim_end_matches(['\r', '\n']).to_owned(),
            };
            let cost = tollgate::password::Cost {
                memory_kib: memory_kib.unwrap_or(tollgate::password::DEFAULT_COST.memory_kib),
                iterations: iterations.unwrap_or(tollgate::password::DEFAULT_COST.iterations),
            };
            let mut user = tollgate::oauth::new_user(&username, &password, split(&scopes), cost)?;
            user.profile = tollgate::oauth::Profile {
                name,
                email,
                email_verified,
            };
            let subject = tollgate::oauth::SubjectRecord {
                username: user.username.clone(),
            };
            write_kv(
                &kv,
                json!([
                    { "key": tollgate::schema::user(&user.username), "value": json_text(&user) },
                    { "key": tollgate::schema::subject(&user.sub), "value": json_text(&subject) },
                ]),
            )?;
            Ok(Output::Json(
                json!({ "username": user.username, "sub": user.sub }),
            ))
        }
        Command::Client(ClientCommand::Add {
            id,
            name,
            public,
            first_party,
            dpop,
            pkce_optional,
            redirect_uri,
            post_logout_redirect_uri,
            backchannel_logout_uri,
            introspect,
            resource,
            grant,
            scopes,
            pepper,
            kv,
        }) => {
            if let Some(bad) = resource.iter().find(|r| !tollgate::oauth::absolute_uri(r)) {
                return Err(Failure::Usage(format!(
                    "--resource {bad:?} must be an absolute URI without a fragment (RFC 8707 §2)"
                )));
            }
            let pepper = read_pepper(&pepper)?;
            let (mut client, secret) = tollgate::oauth::new_client(&pepper, &id, !public)?;
            client.name = name.unwrap_or_else(|| id.clone());
            let backchannel = Vec::from_iter(backchannel_logout_uri.clone());
            for (flag, uris) in [
                ("redirect URI", &redirect_uri),
                ("post-logout redirect URI", &post_logout_redirect_uri),
                ("back-channel logout URI", &backchannel),
            ] {
                if let Some(bad) = uris
                    .iter()
                    .find(|u| !tollgate::oauth::valid_redirect_uri(u))
                {
                    return Err(Failure::Usage(format!(
                        "{flag} {bad:?} must be absolute https (or http to loopback), in RFC 3986's \
                         characters, with a plain host[:port] and no userinfo or fragment"
                    )));
                }
            }
            if let Some(bad) = grant
                .iter()
                .find(|g| !tollgate::oauth::GRANTS.contains(&g.as_str()))
            {
                return Err(Failure::Usage(format!("unknown grant {bad:?}")));
            }
            client.redirect_uris = redirect_uri;
            client.post_logout_redirect_uris = post_logout_redirect_uri;
            client.grants = grant;
            client.scopes = split(&scopes);
            client.first_party = first_party;
            client.dpop_bound_access_tokens = dpop;
            client.pkce_optional = pkce_optional;
            client.resources = resource;
            client.backchannel_logout_uri = backchannel_logout_uri;
            client.introspects = introspect;
            // A record no request could use is refused now, not at every request.
            if let Some(why) = client.unusable() {
                return Err(Failure::Usage(why.into()));
            }
            write_kv(
                &kv,
                json!([{ "key": tollgate::schema::client(&id), "value": json_text(&client) }]),
            )?;
            Ok(Output::Json(
                json!({ "client_id": id, "client_secret": secret }),
            ))
        }
        Command::Consent(ConsentCommand::Revoke { sub, client, kv }) => {
            let key = tollgate::schema::consent(&sub, &client);
            write_kv(&kv, json!([key]))?;
            Ok(Output::Json(json!({ "delete": key })))
        }
        Command::Apikey(ApikeyCommand::Create {
            owner,
            scopes,
            expires_in,
            resource,
            pepper,
            kv,
        }) => {
            if let Some(bad) = resource
                .as_ref()
                .filter(|r| !tollgate::oauth::absolute_uri(r))
            {
                return Err(Failure::Usage(format!(
                    "--resource {bad:?} must be an absolute URI without a fragment (RFC 8707 §2)"
                )));
            }
            let pepper = read_pepper(&pepper)?;
            let (token, key, mut record) = tollgate::oauth::new_api_key(
                &pepper,
                &owner,
                split(&scopes),
                expires_in,
                tollgate::revocation::Millis(now_ms()),
            )?;
            record.resource = resource;
            let mut entry = json!({ "key": key, "value": json_text(&record) });
            if let Some(exp) = record.exp {
                entry["expiration"] = exp.into();
            }
            write_kv(&kv, json!([entry]))?;
            Ok(Output::Json(
                json!({ "api_key": token, "id": record.id, "owner": record.owner }),
            ))
        }
        Command::Apikey(ApikeyCommand::Revoke { key, pepper, kv }) => {
            let pepper = read_pepper(&pepper)?;
            let key = match key.as_str() {
                "-" => read_input("-")?.trim().to_owned(),
                _ => key,
            };
            // A key whose checksum fails is a typo: deleting its record would delete nothing
            // and leave the real key live while the operator believes it revoked.
            if tollgate::opaque::parse(&key) != Some(tollgate::opaque::Kind::ApiKey) {
                return Err(Failure::Usage(
                    "--key is not an API key (tgk_… with a valid checksum): check it for a typo"
                        .into(),
                ));
            }
            let record = tollgate::oauth::api_key_store_key(&pepper, &key);
            write_kv(&kv, json!([record]))?;
            Ok(Output::Json(json!({ "delete": record })))
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "tollgate",
                &mut std::io::stdout(),
            );
            std::process::exit(0);
        }
    }
}

/// An algorithm name: unknown names are usage errors (2); a known one Tollgate refuses, such
/// as `Ed448`, is `ERR_JOSE_NOT_SUPPORTED` (1).
fn algorithm(name: &str) -> Result<Algorithm, Failure> {
    Algorithm::parse(name).map_err(|err| match err {
        Error::NotSupported { .. } => Failure::Refused(err),
        _ => Failure::Usage(format!(
            "unknown algorithm {name:?}; one of {}",
            Algorithm::ALL.map(Algorithm::name).join(" ")
        )),
    })
}

fn keygen(args: KeygenArgs) -> Result<Output, Failure> {
    let mut key = Key::generate(algorithm(&args.alg)?)?;
    if let Some(kid) = &args.kid {
        key = key.with_kid(kid);
    }
    let private = key.to_private_jwk();
    if args.set {
        return Ok(Output::Json(json!({ "keys": [private] })));
    }
    let public = match key.to_public_jwk() {
        Ok(public) => serde_json::to_value(public).unwrap_or_default(),
        Err(_) => Value::Null, // HMAC keys have no public form
    };
    Ok(Output::Pretty(
        json!({ "private": private, "public": public }),
    ))
}

fn read_input(path: &str) -> Result<String, Failure> {
    if path == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::Usage(format!("cannot read standard input: {e}")))?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(|e| Failure::Usage(format!("cannot read {path}: {e}")))
}

/// The signing key from a JWK, a JWK Set, a PEM, or a dotenv file.
fn signing_key(text: &str, alg: Option<Algorithm>) -> Result<Key, Failure> {
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return Ok(Key::from_pem(text, alg)?);
    }
    let json = if text.starts_with('{') {
        text.to_owned()
    } else {
        dotenv_value(text, "TOLLGATE_SIGNING_KEYS").ok_or_else(|| {
            Failure::Usage("no JWK, JWK Set, PEM or TOLLGATE_SIGNING_KEYS found".into())
        })?
    };
    let set = KeySet::from_json(&json)?;
    let key = set.keys().first().cloned().ok_or(Error::InvalidKey {
        reason: "the key set is empty".into(),
    })?;
    Ok(match alg {
        Some(alg) => key.with_algorithm(alg)?,
        None => key,
    })
}

/// `NAME='value'` or `NAME="value"` or `NAME=value` from dotenv text.
fn dotenv_value(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let value = line
            .trim()
            .strip_prefix(name)?
            .trim_start()
            .strip_prefix('=')?
            .trim();
        let unquoted = value
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .or_else(|| value.strip_prefix('"').and_then(|v| v.strip_suffix('"')))
            .unwrap_or(value);
        Some(unquoted.to_owned())
    })
}

fn now() -> i64 {
    now_ms().div_euclid(1000)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn sign(args: SignArgs) -> Result<Output, Failure> {
    let alg = args.alg.as_deref().map(algorithm).transpose()?;
    let key = signing_key(&read_input(&args.key)?, alg)?;
    let mut builder = TokenBuilder::new(now());
    if let Some(claims) = &args.claims {
        let claims = tollgate::issue::claims_from_json(claims)
            .map_err(|e| Failure::Usage(format!("--claims: {e}")))?;
        for (name, value) in claims {
            builder = builder.claim(&name, value);
        }
    }
    if let Some(sub) = &args.sub {
        builder = builder.subject(sub);
    }
    if let Some(iss) = &args.iss {
        builder = builder.issuer(iss);
    }
    builder = builder.audience(args.aud);
    if let Some(scope) = &args.scope {
        builder = builder.scope(scope);
    }
    if let Some(exp) = args.exp {
        builder = builder.lifetime(exp);
    }
    // The gateway accepts its own tokens only as RFC 9068 access tokens (`typ: at+jwt`).
    builder = builder.typ(&args.typ);
    Ok(Output::Bare {
        key: "token",
        value: builder.sign(&key)?,
    })
}

fn verify(args: VerifyArgs) -> Result<Output, Failure> {
    let keys = KeySet::from_json(&read_input(&args.jwks)?)?;
    let mut policy = Policy {
        issuers: args.iss,
        audiences: args.aud,
        typ: args.typ,
        ..Policy::default()
    };
    if !args.alg.is_empty() {
        policy.algorithms = args
            .alg
            .iter()
            .map(|a| algorithm(a))
            .collect::<Result<_, _>>()?;
    }
    if let Some(leeway) = args.leeway {
        policy.leeway = leeway;
    }
    let verified = Verifier::new(keys, policy)?.verify(args.token.trim(), now())?;
    Ok(Output::Pretty(json!({
        "valid": true,
        "kid": &*verified.kid,
        "header": verified.header.members(),
        "claims": verified.claims(),
    })))
}

fn key_rotate(
    keys_from: &str,
    alg: Algorithm,
    keep: usize,
    active: bool,
) -> Result<Output, Failure> {
    let text = read_input(keys_from)?;
    let json = if text.trim_start().starts_with('{') {
        text
    } else {
        dotenv_value(&text, "TOLLGATE_SIGNING_KEYS")
            .ok_or_else(|| Failure::Usage("no TOLLGATE_SIGNING_KEYS found".into()))?
    };
    let old = KeySet::from_json(&json)?;
    let new = Key::generate(alg)?;
    let set = json!({ "keys": rotated(old.keys(), &new, keep, active) });
    // The set the worker will be given must be one it accepts (HMAC beside asymmetric keys
    // is refused there): printing it would only move the refusal into an outage.
    KeySet::from_json(&set.to_string())?;
    Ok(Output::Json(set))
}

/// The set after `new` replaces the key that signs with its algorithm. The active key (the
/// first) signs access tokens and the first key of `oauth.idTokenSigningAlg` ID tokens, so a
/// set holds one signing key per algorithm in use: rotating one must leave the others where
/// they are (an ES256 rotation that dropped the RS256 key would stop the worker at start).
/// Without a key of its algorithm, `new` is added after the others (an ID-token key added to an
/// access-token set must not take over access tokens); `active` puts it first instead, to
/// change the algorithm of access tokens. A set of the other kind (HMAC for an asymmetric key,
/// or the reverse) is kept as is with `keep > 0`, and the result then refused as a mixed set;
/// `keep == 0` replaces it.
fn rotated(old: &[Key], new: &Key, keep: usize, active: bool) -> Vec<tollgate::jwk::Jwk> {
    let alg = new.signing_algorithm().ok();
    let same_alg = |key: &Key| key.signing_algorithm().ok() == alg;
    let other_kind = |key: &Key| key.is_symmetric() != new.is_symmetric();
    let mut keys = Vec::with_capacity(old.len() + 1);
    if active {
        keys.push(new.to_private_jwk());
    }
    let mut placed = active;
    let mut kept = 0;
    for key in old {
        if same_alg(key) {
            if !placed {
                keys.push(new.to_private_jwk());
                placed = true;
            }
            if kept < keep {
                keys.push(key.to_private_jwk());
                kept += 1;
            }
        } else if !(keep == 0 && other_kind(key)) {
            keys.push(key.to_private_jwk());
        }
    }
    if !placed {
        keys.push(new.to_private_jwk());
    }
    keys
}

fn split(scopes: &str) -> Vec<String> {
    scopes
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn read_pepper(from: &PepperFrom) -> Result<Vec<u8>, Failure> {
    let file = read_input(&from.pepper_from)?;
    let pepper = dotenv_value(&file, "TOLLGATE_PEPPER")
        .ok_or_else(|| Failure::Usage("no TOLLGATE_PEPPER in the --pepper-from file".into()))?;
    if pepper.len() < tollgate::oauth::MIN_SECRET_LEN {
        return Err(Failure::Usage(
            "TOLLGATE_PEPPER must be at least 32 characters".into(),
        ));
    }
    Ok(pepper.into_bytes())
}

/// Writes KV bulk entries (`[{"key","value"}]`, or keys for delete) to --kv-file, added to
/// what the file already holds: the README's sequence of `user add`, `client add`, `apikey
/// create` into one file and then one `wrangler kv bulk put` lost all but the last command's
/// records when each run replaced the file (an operator's run). An entry for a key already in
/// the file replaces it; a file that is not such a list is refused, never overwritten.
fn write_kv(kv: &KvFile, entries: Value) -> Result<(), Failure> {
    let path = kv.kv_file.display();
    let existing = match std::fs::read_to_string(&kv.kv_file) {
        Ok(text) if !text.trim().is_empty() => Some(text),
        Ok(_) => None,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Failure::Usage(format!("cannot read {path}: {e}"))),
    };
    let merged = match existing {
        None => entries,
        Some(text) => {
            let before = serde_json::from_str::<Vec<Value>>(&text).map_or(0, |v| v.len());
            let merged = merge_kv(&text, entries).map_err(|why| {
                Failure::Usage(format!(
                    "{path} already holds something else ({why}): use another --kv-file"
                ))
            })?;
            // Said, since a file left from an earlier day would be stored again with it.
            let now = merged.as_array().map_or(0, Vec::len);
            eprintln!("tollgate: {path} held {before} entries and now holds {now}");
            merged
        }
    };
    std::fs::write(&kv.kv_file, merged.to_string())
        .map_err(|e| Failure::Usage(format!("cannot write {path}: {e}")))
}

/// `entries` added to the bulk file `text` (both puts, `{"key", …}`, or both deletes, keys).
fn merge_kv(text: &str, entries: Value) -> Result<Value, &'static str> {
    let Ok(Value::Array(mut all)) = serde_json::from_str::<Value>(text) else {
        return Err("not a JSON list");
    };
    let Value::Array(entries) = entries else {
        return Err("not a JSON list");
    };
    let key = |entry: &Value| match entry {
        Value::String(key) => Some((false, key.clone())),
        Value::Object(put) => put
            .get("key")
            .and_then(Value::as_str)
            .map(|k| (true, k.to_owned())),
        _ => None,
    };
    let kind = |list: &[Value]| list.first().and_then(key).map(|(put, _)| put);
    if all.iter().any(|e| key(e).is_none()) {
        return Err("not a wrangler kv bulk file");
    }
    if let (Some(old), Some(new)) = (kind(&all), kind(&entries)) {
        if old != new {
            return Err("puts and deletes do not share a file");
        }
    }
    for entry in entries {
        let named = key(&entry);
        all.retain(|e| key(e) != named);
        all.push(entry);
    }
    Ok(Value::Array(all))
}

fn json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

//! `tollgate`: keys and tokens from the command line, with the core's rules and error codes.
//!
//! Keys and tokens: `keygen`, `key rotate`, `sign` (an RFC 9068 `at+jwt` access token unless
//! `--typ` says otherwise), `verify`. Records for the store (written as a `wrangler kv bulk`
//! file): `user add`, `client add`, `consent revoke`, `apikey create`, `apikey revoke`. `tollgate help` prints
//! every command with its flags (`USAGE` below).
//! `--key` takes a JWK, a JWK Set (its first key signs), a PKCS#8 PEM, or a dotenv file such as
//! `.dev.vars` holding `TOLLGATE_SIGNING_KEYS`. Exit status: 0 success, 1 refused token or key,
//! 2 usage error.

use std::io::Read;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use tollgate::{Algorithm, Error, Key, KeySet, Policy, TokenBuilder, Verifier};

const USAGE: &str = "usage:
  tollgate user add --username NAME (--password P | --password-stdin) [--scopes \"a b\"]
      [--name FULL_NAME] [--email ADDRESS [--email-verified]] --kv-file F
  tollgate client add --id ID [--name N] [--public] [--first-party] [--dpop] [--redirect-uri URI]...
      [--post-logout-redirect-uri URI]... [--grant G]... [--scopes \"a b\"]
      --pepper-from .dev.vars --kv-file F
  tollgate consent revoke --sub SUB --client ID --kv-file F
  tollgate apikey create --owner O [--scopes \"a b\"] [--expires-in SECONDS] --pepper-from F --kv-file F
  tollgate apikey revoke --key tgk_… --pepper-from F --kv-file F
      The --kv-file is for `wrangler kv bulk put|delete --binding TOLLGATE_KV [--local]`;
      secrets (client secret, API key) are printed once on stdout.
  tollgate key rotate --keys-from .dev.vars|FILE --alg ALG [--keep N]
      Prints the signing-key set with a new active key first and the old keys after it.
  tollgate keygen --alg ALG [--kid ID] [--set]
      Prints {\"private\": JWK, \"public\": JWK}; with --set, only {\"keys\":[private JWK]},
      ready for `wrangler secret put TOLLGATE_SIGNING_KEYS`.
  tollgate sign --key FILE [--sub S] [--iss I] [--aud A]... [--scope S] [--exp SECONDS]
      [--typ T] [--claims JSON]
      FILE: a private JWK, a JWK Set (first key signs), a PKCS#8 PEM, or .dev.vars.
      The claims of --claims are signed as written; the flags fill only claims it lacks
      (iat now, exp now + 900 s, a random jti), and a claim given both ways is refused.
  tollgate verify --jwks FILE|- [--iss I] [--aud A]... [--alg ALG]... [--typ T] [--leeway S] TOKEN
      Prints the claims; on failure prints the error code and exits 1.
ALG: HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA Ed25519";

enum Failure {
    Usage(String),
    Refused(Error),
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Failure::Refused(err)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(Failure::Usage(message)) => {
            eprintln!("tollgate: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Refused(err)) => {
            eprintln!("{}: {err}", err.code());
            ExitCode::from(1)
        }
    }
}

fn run(args: &[String]) -> Result<String, Failure> {
    let Some((command, rest)) = args.split_first() else {
        return Err(Failure::Usage("no command".into()));
    };
    let opts = Options::parse(rest)?;
    match command.as_str() {
        "keygen" => keygen(&opts),
        "user" | "client" | "consent" | "apikey" | "key" => manage(command, &opts),
        "sign" => sign(&opts),
        "verify" => verify(&opts),
        "help" | "--help" | "-h" => Ok(USAGE.to_owned()),
        other => Err(Failure::Usage(format!("unknown command {other:?}"))),
    }
}

/// `--name value` pairs (repeatable) and positional arguments.
struct Options {
    pairs: Vec<(String, String)>,
    flags: Vec<String>,
    positional: Vec<String>,
}

const FLAGS: [&str; 6] = [
    "--set",
    "--email-verified",
    "--public",
    "--first-party",
    "--dpop",
    "--password-stdin",
];

impl Options {
    fn parse(args: &[String]) -> Result<Self, Failure> {
        let mut opts = Options {
            pairs: Vec::new(),
            flags: Vec::new(),
            positional: Vec::new(),
        };
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            if FLAGS.contains(&arg.as_str()) {
                opts.flags.push(arg.clone());
            } else if let Some(name) = arg.strip_prefix("--") {
                let value = iter
                    .next()
                    .ok_or_else(|| Failure::Usage(format!("--{name} needs a value")))?;
                opts.pairs.push((name.to_owned(), value.clone()));
            } else {
                opts.positional.push(arg.clone());
            }
        }
        Ok(opts)
    }

    fn one(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn required(&self, name: &str) -> Result<&str, Failure> {
        self.one(name)
            .ok_or_else(|| Failure::Usage(format!("--{name} is required")))
    }

    fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }

    fn number(&self, name: &str) -> Result<Option<u64>, Failure> {
        self.one(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| Failure::Usage(format!("--{name} takes whole seconds")))
            })
            .transpose()
    }
}

fn algorithm(name: &str) -> Result<Algorithm, Failure> {
    Algorithm::parse(name).map_err(|err| match err {
        Error::NotSupported { .. } => Failure::Refused(err),
        _ => Failure::Usage(format!("unknown algorithm {name:?}")),
    })
}

fn keygen(opts: &Options) -> Result<String, Failure> {
    let alg = algorithm(opts.required("alg")?)?;
    let mut key = Key::generate(alg)?;
    if let Some(kid) = opts.one("kid") {
        key = key.with_kid(kid);
    }
    let private = key.to_private_jwk();
    if opts.flag("--set") {
        return Ok(serde_json::json!({ "keys": [private] }).to_string());
    }
    let public = match key.to_public_jwk() {
        Ok(public) => serde_json::to_value(public).unwrap_or_default(),
        Err(_) => serde_json::Value::Null, // HMAC keys have no public form
    };
    let both = serde_json::json!({ "private": private, "public": public });
    Ok(serde_json::to_string_pretty(&both).unwrap_or_default())
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
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn sign(opts: &Options) -> Result<String, Failure> {
    let alg = opts.one("alg").map(algorithm).transpose()?;
    let key = signing_key(&read_input(opts.required("key")?)?, alg)?;
    let mut builder = TokenBuilder::new(now());
    if let Some(claims) = opts.one("claims") {
        let claims: serde_json::Map<String, serde_json::Value> = serde_json::from_str(claims)
            .map_err(|e| Failure::Usage(format!("--claims is not a JSON object: {e}")))?;
        for (name, value) in claims {
            builder = builder.claim(&name, value);
        }
    }
    if let Some(sub) = opts.one("sub") {
        builder = builder.subject(sub);
    }
    if let Some(iss) = opts.one("iss") {
        builder = builder.issuer(iss);
    }
    builder = builder.audience(opts.all("aud"));
    if let Some(scope) = opts.one("scope") {
        builder = builder.scope(scope);
    }
    if let Some(exp) = opts.number("exp")? {
        builder = builder.lifetime(exp);
    }
    // The gateway accepts its own tokens only as RFC 9068 access tokens (`typ: at+jwt`).
    builder = builder.typ(
        opts.one("typ")
            .unwrap_or(tollgate::config::ACCESS_TOKEN_TYP),
    );
    Ok(builder.sign(&key)?)
}

fn verify(opts: &Options) -> Result<String, Failure> {
    let [token] = opts.positional.as_slice() else {
        return Err(Failure::Usage("verify takes exactly one TOKEN".into()));
    };
    let keys = KeySet::from_json(&read_input(opts.required("jwks")?)?)?;
    let mut policy = Policy {
        issuers: opts.all("iss"),
        audiences: opts.all("aud"),
        typ: opts.one("typ").map(str::to_owned),
        ..Policy::default()
    };
    let algs = opts.all("alg");
    if !algs.is_empty() {
        policy.algorithms = algs
            .iter()
            .map(|a| algorithm(a))
            .collect::<Result<_, _>>()?;
    }
    if let Some(leeway) = opts.number("leeway")? {
        policy.leeway = leeway;
    }
    let verified = Verifier::new(keys, policy)?.verify(token.trim(), now())?;
    let out = serde_json::json!({
        "valid": true,
        "kid": &*verified.kid,
        "header": verified.header.members(),
        "claims": verified.claims(),
    });
    Ok(serde_json::to_string_pretty(&out).unwrap_or_default())
}

fn scopes_of(opts: &Options) -> Vec<String> {
    opts.one("scopes")
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn pepper(opts: &Options) -> Result<Vec<u8>, Failure> {
    let file = read_input(opts.required("pepper-from")?)?;
    let pepper = dotenv_value(&file, "TOLLGATE_PEPPER")
        .ok_or_else(|| Failure::Usage("no TOLLGATE_PEPPER in the --pepper-from file".into()))?;
    if pepper.len() < 32 {
        return Err(Failure::Usage(
            "TOLLGATE_PEPPER must be at least 32 characters".into(),
        ));
    }
    Ok(pepper.into_bytes())
}

/// Writes KV bulk entries (`[{"key","value"}]`, or keys for delete) to --kv-file.
fn write_kv(opts: &Options, entries: serde_json::Value) -> Result<(), Failure> {
    let path = opts.required("kv-file")?;
    std::fs::write(path, entries.to_string())
        .map_err(|e| Failure::Usage(format!("cannot write {path}: {e}")))
}

fn json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn manage(command: &str, opts: &Options) -> Result<String, Failure> {
    let sub = opts.positional.first().map(String::as_str).unwrap_or("");
    match (command, sub) {
        ("user", "add") => user_add(opts),
        ("client", "add") => client_add(opts),
        ("consent", "revoke") => consent_revoke(opts),
        ("apikey", "create") => apikey_create(opts),
        ("apikey", "revoke") => apikey_revoke(opts),
        ("key", "rotate") => key_rotate(opts),
        _ => Err(Failure::Usage(format!("unknown command {command} {sub}"))),
    }
}

/// `user add`: a user record with an Argon2id hash.
fn user_add(opts: &Options) -> Result<String, Failure> {
    let username = opts.required("username")?;
    let password = if opts.flag("--password-stdin") {
        read_input("-")?.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        opts.required("password")?.to_owned()
    };
    let cost = tollgate::password::Cost {
        memory_kib: opts
            .number("memory-kib")?
            .map_or(tollgate::password::DEFAULT_COST.memory_kib, |m| m as u32),
        iterations: opts
            .number("iterations")?
            .map_or(tollgate::password::DEFAULT_COST.iterations, |i| i as u32),
    };
    let mut user = tollgate::oauth::new_user(username, &password, scopes_of(opts), cost)?;
    user.profile = tollgate::oauth::Profile {
        name: opts.one("name").map(str::to_owned),
        email: opts.one("email").map(str::to_owned),
        email_verified: opts.flag("--email-verified"),
    };
    if user.profile.email_verified && user.profile.email.is_none() {
        return Err(Failure::Usage("--email-verified needs --email".into()));
    }
    let subject = tollgate::oauth::SubjectRecord {
        username: user.username.clone(),
    };
    write_kv(
        opts,
        serde_json::json!([
            { "key": tollgate::schema::user(&user.username), "value": json_text(&user) },
            { "key": tollgate::schema::subject(&user.sub), "value": json_text(&subject) },
        ]),
    )?;
    Ok(serde_json::json!({ "username": user.username, "sub": user.sub }).to_string())
}

/// `client add`: a client record, with a secret (printed once) unless `--public`.
fn client_add(opts: &Options) -> Result<String, Failure> {
    let id = opts.required("id")?;
    let pepper = pepper(opts)?;
    let (mut client, secret) = tollgate::oauth::new_client(&pepper, id, !opts.flag("--public"))?;
    client.name = opts.one("name").unwrap_or(id).to_owned();
    client.redirect_uris = opts.all("redirect-uri");
    if let Some(bad) = client
        .redirect_uris
        .iter()
        .find(|u| !tollgate::oauth::valid_redirect_uri(u))
    {
        return Err(Failure::Usage(format!(
            "redirect URI {bad:?} must be absolute https (or http to loopback) with no fragment"
        )));
    }
    client.post_logout_redirect_uris = opts.all("post-logout-redirect-uri");
    if let Some(bad) = client
        .post_logout_redirect_uris
        .iter()
        .find(|u| !tollgate::oauth::valid_redirect_uri(u))
    {
        return Err(Failure::Usage(format!(
            "post-logout redirect URI {bad:?} must be absolute https (or http to loopback) with no fragment"
        )));
    }
    client.grants = opts.all("grant");
    for grant in &client.grants {
        if !tollgate::oauth::GRANTS.contains(&grant.as_str()) {
            return Err(Failure::Usage(format!("unknown grant {grant:?}")));
        }
    }
    client.scopes = scopes_of(opts);
    client.first_party = opts.flag("--first-party");
    client.dpop_bound_access_tokens = opts.flag("--dpop");
    write_kv(
        opts,
        serde_json::json!([{ "key": tollgate::schema::client(id), "value": json_text(&client) }]),
    )?;
    Ok(serde_json::json!({ "client_id": id, "client_secret": secret }).to_string())
}

/// `apikey create`: an API key (printed once) and its keyed-hash record.
fn apikey_create(opts: &Options) -> Result<String, Failure> {
    let pepper = pepper(opts)?;
    let now = now();
    let (token, key, record) = tollgate::oauth::new_api_key(
        &pepper,
        opts.required("owner")?,
        scopes_of(opts),
        opts.number("expires-in")?,
        now,
    )?;
    let mut entry = serde_json::json!({ "key": key, "value": json_text(&record) });
    if let Some(exp) = record.exp {
        entry["expiration"] = exp.into();
    }
    write_kv(opts, serde_json::json!([entry]))?;
    Ok(serde_json::json!({ "api_key": token, "id": record.id, "owner": record.owner }).to_string())
}

/// `consent revoke`: the remembered consent of a user for a client, to delete (the next login
/// through that client asks again).
fn consent_revoke(opts: &Options) -> Result<String, Failure> {
    let key = tollgate::schema::consent(opts.required("sub")?, opts.required("client")?);
    write_kv(opts, serde_json::json!([key]))?;
    Ok(serde_json::json!({ "delete": key }).to_string())
}

/// `apikey revoke`: the record to delete for a key.
fn apikey_revoke(opts: &Options) -> Result<String, Failure> {
    let pepper = pepper(opts)?;
    let key = tollgate::oauth::api_key_store_key(&pepper, opts.required("key")?);
    write_kv(opts, serde_json::json!([key]))?;
    Ok(serde_json::json!({ "delete": key }).to_string())
}

/// `key rotate`: a signing-key set with a new active key first.
fn key_rotate(opts: &Options) -> Result<String, Failure> {
    let alg = algorithm(opts.required("alg")?)?;
    let text = read_input(opts.required("keys-from")?)?;
    let json = if text.trim_start().starts_with('{') {
        text
    } else {
        dotenv_value(&text, "TOLLGATE_SIGNING_KEYS")
            .ok_or_else(|| Failure::Usage("no TOLLGATE_SIGNING_KEYS found".into()))?
    };
    let old = KeySet::from_json(&json)?;
    let keep = opts.number("keep")?.unwrap_or(2) as usize;
    let mut keys = vec![Key::generate(alg)?.to_private_jwk()];
    keys.extend(old.keys().iter().take(keep).map(Key::to_private_jwk));
    Ok(serde_json::json!({ "keys": keys }).to_string())
}

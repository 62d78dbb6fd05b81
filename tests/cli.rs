//! The `tollgate` binary: keygen → sign → verify for every algorithm, and its exit codes.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use tollgate::Algorithm;

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tollgate");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// A dotenv file with a pepper, as `--pepper-from` reads it.
fn pepper_file(name: &str) -> String {
    let path = scratch(name, "TOLLGATE_PEPPER='0123456789abcdef0123456789abcdef'\n");
    path.to_str().unwrap().to_owned()
}

/// `apikey create` for the owner `bot`, with `extra` arguments.
fn create_api_key(pepper: &str, kv: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "apikey",
        "create",
        "--owner",
        "bot",
        "--pepper-from",
        pepper,
        "--kv-file",
        kv,
    ];
    args.extend(extra);
    run(&args, None)
}

fn scratch(name: &str, contents: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tollgate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn keygen_sign_verify_for_every_fast_algorithm() {
    for alg in Algorithm::ALL
        .into_iter()
        .filter(|a| !matches!(a.family(), tollgate::alg::Family::Rsa))
    {
        let pair: serde_json::Value =
            serde_json::from_str(&stdout(&run(&["keygen", "--alg", alg.name()], None))).unwrap();
        let private = scratch(&format!("{alg}.json"), &pair["private"].to_string());
        let token = stdout(&run(
            &[
                "sign",
                "--key",
                private.to_str().unwrap(),
                "--sub",
                "bob",
                "--aud",
                "api",
            ],
            None,
        ));
        let jwks = if alg.is_asymmetric() {
            serde_json::json!({ "keys": [pair["public"]] })
        } else {
            serde_json::json!({ "keys": [pair["private"]] })
        };
        let out = run(
            &["verify", "--jwks", "-", "--aud", "api", token.trim()],
            Some(&jwks.to_string()),
        );
        let verified: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(verified["claims"]["sub"], "bob", "{alg}");
        assert_eq!(verified["header"]["alg"], alg.name());
    }
}

#[test]
fn signs_from_a_dev_vars_file_and_a_pem() {
    let set = stdout(&run(&["keygen", "--alg", "ES384", "--set"], None));
    let dev_vars = scratch(
        ".dev.vars",
        &format!("OTHER=1\nTOLLGATE_SIGNING_KEYS='{}'\n", set.trim()),
    );
    let token = stdout(&run(&["sign", "--key", dev_vars.to_str().unwrap()], None));
    let out = run(&["verify", "--jwks", "-", token.trim()], Some(&set));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let pem = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/pem/rsa2048.pem");
    let token = stdout(&run(&["sign", "--key", pem, "--alg", "PS256"], None));
    let header = tollgate::hazmat::decode_unverified(token.trim(), 8192)
        .unwrap()
        .0;
    assert_eq!(header.alg(), Algorithm::PS256);
}

#[test]
fn refusals_exit_1_with_the_error_code_and_usage_errors_exit_2() {
    let set = stdout(&run(&["keygen", "--alg", "EdDSA", "--set"], None));
    let other = stdout(&run(&["keygen", "--alg", "EdDSA", "--set"], None));
    let key = scratch("eddsa.json", &set);
    let token = stdout(&run(
        &["sign", "--key", key.to_str().unwrap(), "--exp", "60"],
        None,
    ));
    let out = run(&["verify", "--jwks", "-", token.trim()], Some(&other));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("ERR_JWKS_NO_MATCHING_KEY"));
    let out = run(&["verify", "--jwks", "-", "not.a.token"], Some(&set));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("ERR_JWS_INVALID"));
    assert_eq!(
        run(&["keygen", "--alg", "none"], None).status.code(),
        Some(2)
    );
    assert_eq!(run(&["frobnicate"], None).status.code(), Some(2));
    assert_eq!(run(&[], None).status.code(), Some(2));
}

/// `sign` keeps the claims of `--claims` as written, flags fill only what is absent, and a
/// claim given both ways is refused: the package's rule (`TokenBuilder`).
#[test]
fn sign_keeps_the_written_claims_and_refuses_a_claim_given_twice() {
    let set = stdout(&run(&["keygen", "--alg", "ES256", "--set"], None));
    let key = scratch("es256-claims.json", &set);
    let key = key.to_str().unwrap();
    let written = r#"{"iat":1700000000,"exp":4102444800,"sub":"carol","jti":"j-1"}"#;
    let token = stdout(&run(
        &["sign", "--key", key, "--claims", written, "--aud", "api"],
        None,
    ));
    let (_, claims) = tollgate::hazmat::decode_unverified(token.trim(), 8192).unwrap();
    for (name, value) in serde_json::from_str::<serde_json::Value>(written)
        .unwrap()
        .as_object()
        .unwrap()
    {
        assert_eq!(&claims[name], value, "{name}");
    }
    assert_eq!(claims["aud"], "api");
    for flags in [["--exp", "60"], ["--sub", "dave"]] {
        let mut args = vec!["sign", "--key", key, "--claims", written];
        args.extend(flags);
        let out = run(&args, None);
        assert_eq!(out.status.code(), Some(1), "{flags:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("ERR_POLICY_INVALID"), "{stderr}");
    }
    let out = run(&["keygen", "--alg", "Ed448"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("ERR_JOSE_NOT_SUPPORTED"));
    // A name written twice would be signed as its last copy, which every verifier refuses.
    let twice = run(
        &["sign", "--key", key, "--claims", r#"{"sub":"a","sub":"b"}"#],
        None,
    );
    assert_eq!(twice.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&twice.stderr).contains("repeats a name"));
    // --alg binds a key that names no alg; one that names another is refused, not rebound.
    let rsa = stdout(&run(&["keygen", "--alg", "RS256", "--set"], None));
    let rsa = scratch("rs256-claims.json", &rsa);
    let out = run(
        &["sign", "--key", rsa.to_str().unwrap(), "--alg", "PS256"],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("ERR_POLICY_INVALID") && stderr.contains("RS256"),
        "{stderr}"
    );
}

/// Every command documents itself (`--help`), the binary has a version, and the exit codes are
/// the documented ones.
#[test]
fn every_command_has_help_and_the_binary_a_version() {
    let commands: [&[&str]; 11] = [
        &[],
        &["keygen"],
        &["key", "rotate"],
        &["sign"],
        &["verify"],
        &["user", "add"],
        &["client", "add"],
        &["consent", "revoke"],
        &["apikey", "create"],
        &["apikey", "revoke"],
        &["completions"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let text = stdout(&run(&args, None));
        assert!(text.contains("Usage: tollgate"), "{command:?}: {text}");
        if command.is_empty() {
            assert!(
                text.contains("Exit status: 0 success; 1"),
                "exit codes documented"
            );
        }
    }
    let help = stdout(&run(&["client", "add", "--help"], None));
    for flag in [
        "--post-logout-redirect-uri",
        "--pepper-from",
        "--kv-file",
        "--dpop",
    ] {
        assert!(help.contains(flag), "{flag}");
    }
    // The old spelling `tollgate help` still works.
    assert!(stdout(&run(&["help"], None)).contains("Usage: tollgate"));
    let version = stdout(&run(&["--version"], None));
    assert_eq!(
        version.trim(),
        format!("tollgate {}", env!("CARGO_PKG_VERSION"))
    );
    // Usage errors exit 2, with clap's message.
    let out = run(&["client", "add", "--id"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--id"));
}

#[test]
fn completions_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef tollgate"),
        ("fish", "complete -c tollgate"),
    ] {
        let script = stdout(&run(&["completions", shell], None));
        assert!(script.contains(marker), "{shell}");
        assert!(
            script.contains("keygen") && script.contains("apikey"),
            "{shell}"
        );
    }
    assert_eq!(run(&["completions", "tcsh"], None).status.code(), Some(2));
}

/// Records and keys are JSON already; `sign` prints the bare token unless `--json`.
#[test]
fn json_output_where_a_command_prints_data() {
    let set = stdout(&run(&["keygen", "--alg", "ES256", "--set"], None));
    assert_eq!(
        set.trim().lines().count(),
        1,
        "one line, for a dotenv value"
    );
    let key = scratch("json.json", &set);
    let bare = stdout(&run(&["sign", "--key", key.to_str().unwrap()], None));
    assert_eq!(bare.trim().split('.').count(), 3);
    let wrapped: serde_json::Value = serde_json::from_str(&stdout(&run(
        &["sign", "--key", key.to_str().unwrap(), "--json"],
        None,
    )))
    .unwrap();
    assert_eq!(wrapped["token"].as_str().unwrap().split('.').count(), 3);
    let verified: serde_json::Value = serde_json::from_str(&stdout(&run(
        &[
            "verify",
            "--jwks",
            "-",
            "--json",
            wrapped["token"].as_str().unwrap(),
        ],
        Some(&set),
    )))
    .unwrap();
    assert_eq!(verified["valid"], true);
    // Secrets from standard input: the password, and the API key to revoke.
    let kv = std::env::temp_dir().join(format!("tollgate-cli-{}-kv.json", std::process::id()));
    let user: serde_json::Value = serde_json::from_str(&stdout(&run(
        &[
            "user",
            "add",
            "--username",
            "eve",
            "--password-stdin",
            "--memory-kib",
            "1024",
            "--iterations",
            "1",
            "--kv-file",
            kv.to_str().unwrap(),
        ],
        Some("a long enough password\n"),
    )))
    .unwrap();
    assert!(user["sub"].as_str().unwrap().starts_with("usr_"));
    let pepper = &pepper_file("pepper.vars");
    let kv = kv.to_str().unwrap();
    let created: serde_json::Value =
        serde_json::from_str(&stdout(&create_api_key(pepper, kv, &[]))).unwrap();
    let api_key = created["api_key"].as_str().unwrap();
    // Deletes go to a file of their own (`wrangler kv bulk delete`): the CLI adds to a file
    // and refuses to mix the two kinds.
    let deletes = format!("{kv}.delete");
    let revoke = |key: &str| {
        let args = [
            "apikey",
            "revoke",
            "--key",
            "-",
            "--pepper-from",
            pepper,
            "--kv-file",
            &deletes,
        ];
        run(&args, Some(&format!("{key}\n")))
    };
    let revoked: serde_json::Value = serde_json::from_str(&stdout(&revoke(api_key))).unwrap();
    // The public id is the start of the record's key, never a slice of the secret key.
    let id = created["id"].as_str().unwrap();
    assert!(!api_key.contains(id), "{id} is part of the key");
    assert!(revoked["delete"]
        .as_str()
        .unwrap()
        .starts_with(&format!("apikey:{id}")));
    // The records of the three commands above are all in the put file, and a delete sent to
    // it is refused rather than mixed in.
    let puts: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(kv).unwrap()).unwrap();
    let keys: Vec<&str> = puts
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert!(keys.iter().any(|k| k.starts_with("user:eve")), "{keys:?}");
    assert!(keys.iter().any(|k| k.starts_with("apikey:")), "{keys:?}");
    let mixed = run(
        &[
            "apikey",
            "revoke",
            "--key",
            api_key,
            "--pepper-from",
            pepper,
            "--kv-file",
            kv,
        ],
        None,
    );
    assert_eq!(mixed.status.code(), Some(2));
}

/// The operator's mistakes that would leave a key live or a worker down are refused: a key
/// with a typo (its checksum fails) would delete nothing; an expiry KV cannot store; a rotated
/// set the worker would refuse (an outside lifecycle run).
#[test]
fn management_commands_refuse_what_would_fail_later() {
    let pepper = &pepper_file("pepper2.vars");
    let kv = std::env::temp_dir().join(format!("tollgate-cli-{}-kv2.json", std::process::id()));
    let kv = kv.to_str().unwrap();
    let create = |extra: &[&str]| create_api_key(pepper, kv, extra);
    let made: serde_json::Value = serde_json::from_str(&stdout(&create(&[]))).unwrap();
    let key = made["api_key"].as_str().unwrap().to_owned();
    let mut typo = key.clone();
    let last = typo.pop().unwrap();
    typo.push(if last == 'a' { 'b' } else { 'a' });
    let revoke = run(
        &[
            "apikey",
            "revoke",
            "--key",
            &typo,
            "--pepper-from",
            pepper,
            "--kv-file",
            kv,
        ],
        None,
    );
    assert_eq!(revoke.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&revoke.stderr).contains("checksum"));
    for short in ["0", "5", "59"] {
        assert_eq!(
            create(&["--expires-in", short]).status.code(),
            Some(2),
            "{short}"
        );
    }
    assert!(create(&["--expires-in", "60"]).status.success());
    // A public client always uses PKCE: --pkce-optional is refused for it, not ignored.
    let client = |extra: &[&str]| {
        let mut args = vec![
            "client",
            "add",
            "--id",
            "rp",
            "--grant",
            "authorization_code",
            "--redirect-uri",
            "https://rp.example/cb",
            "--pkce-optional",
            "--pepper-from",
            pepper,
            "--kv-file",
            kv,
        ];
        args.extend_from_slice(extra);
        run(&args, None)
    };
    let public = client(&["--public"]);
    assert_eq!(public.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&public.stderr).contains("confidential clients"));
    assert!(client(&[]).status.success());
    let record = std::fs::read_to_string(kv).unwrap();
    assert!(record.contains(r#"\"pkceOptional\":true"#), "{record}");
    // A resource (RFC 8707) must be an absolute URI without a fragment, for clients and keys.
    for bad in ["api", "https://b.example/#x", "https://b .example/"] {
        let refused = client(&["--resource", bad]);
        assert_eq!(refused.status.code(), Some(2), "{bad}");
        assert_eq!(create(&["--resource", bad]).status.code(), Some(2), "{bad}");
    }
    assert!(client(&["--resource", "https://b.example/"])
        .status
        .success());
    // Records no request could ever use are refused when written, not at every request.
    let add = |args: &[&str]| {
        let mut all = vec!["client", "add", "--pepper-from", pepper, "--kv-file", kv];
        all.extend_from_slice(args);
        run(&all, None)
    };
    for unusable in [
        &["--id", "svc"][..],
        &["--id", "svc", "--public", "--grant", "client_credentials"],
        &["--id", "svc", "--grant", "authorization_code"],
        &["--id", "a:b", "--grant", "client_credentials"],
        &["--id", "a b", "--grant", "client_credentials"],
        &["--id", "svc", "--grant", "password"],
        &[
            "--id",
            "svc",
            "--grant",
            "client_credentials",
            "--pkce-optional",
        ],
        &[
            "--id",
            "svc",
            "--grant",
            "client_credentials",
            "--introspect",
            "",
        ],
    ] {
        assert_eq!(add(unusable).status.code(), Some(2), "{unusable:?}");
    }
    assert!(
        add(&["--id", "svc", "--grant", "password", "--first-party"])
            .status
            .success()
    );
    assert!(create(&["--resource", "urn:example:api"]).status.success());
    let hmac = scratch(
        "hs.json",
        &stdout(&run(&["keygen", "--alg", "HS256", "--set"], None)),
    );
    let hmac = hmac.to_str().unwrap();
    let mixed = run(
        &["key", "rotate", "--keys-from", hmac, "--alg", "ES256"],
        None,
    );
    assert_eq!(mixed.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&mixed.stderr).contains("ERR_JWK_INVALID"));
    let replaced = run(
        &[
            "key",
            "rotate",
            "--keys-from",
            hmac,
            "--alg",
            "ES256",
            "--keep",
            "0",
        ],
        None,
    );
    assert!(
        replaced.status.success(),
        "replacing the HMAC set is allowed"
    );
}

/// `key rotate` replaces the key that signs with its algorithm and leaves the others where they
/// are: the active key signs access tokens, the first key of `oauth.idTokenSigningAlg` ID
/// tokens, and a rotation of one must not drop or demote the other (the worker refuses to start
/// without its ID-token key).
#[test]
fn key_rotate_replaces_the_key_of_its_algorithm_only() {
    let algs = |set: &str| -> Vec<(String, String)> {
        let set: serde_json::Value = serde_json::from_str(set).unwrap();
        set["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["alg"].as_str().unwrap().to_owned(),
                    k["kid"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let es = stdout(&run(&["keygen", "--alg", "ES256", "--set"], None));
    let rotate_with = |set: &str, alg: &str, keep: &str, extra: &[&str]| {
        let mut args = vec![
            "key",
            "rotate",
            "--keys-from",
            "-",
            "--alg",
            alg,
            "--keep",
            keep,
        ];
        args.extend_from_slice(extra);
        stdout(&run(&args, Some(set)))
    };
    let rotate = |set: &str, alg: &str, keep: &str| rotate_with(set, alg, keep, &[]);
    // An RS256 key added to an ES256 set (an ID-token key): after the active ES256 key.
    let two = rotate(&es, "RS256", "2");
    let [(a0, es1), (a1, rs1)] = &algs(&two)[..] else {
        panic!("{two}")
    };
    assert_eq!((a0.as_str(), a1.as_str()), ("ES256", "RS256"));
    // Three ES256 rotations with --keep 1: the RS256 key survives them all, one old ES256 stays.
    let mut set = two.clone();
    for _ in 0..3 {
        set = rotate(&set, "ES256", "1");
    }
    let now = algs(&set);
    assert_eq!(
        now.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>(),
        ["ES256", "ES256", "RS256"]
    );
    assert_eq!(&now[2].1, rs1, "the ID-token key is the same key");
    assert_ne!(&now[0].1, es1);
    // Rotating the RS256 key leaves the active ES256 key first.
    let rs = algs(&rotate(&set, "RS256", "1"));
    assert_eq!(
        rs.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>(),
        ["ES256", "ES256", "RS256", "RS256"]
    );
    assert_eq!((&rs[0].1, &rs[3].1), (&now[0].1, rs1));
    assert_ne!(&rs[2].1, rs1, "a new RS256 key signs ID tokens");
    // --active makes a new algorithm the access tokens': first, the rest kept in order.
    let switched = algs(&rotate_with(&set, "EdDSA", "2", &["--active"]));
    assert_eq!(
        switched.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>(),
        ["EdDSA", "ES256", "ES256", "RS256"]
    );
}

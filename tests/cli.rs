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
}

//! One rule in one place, held by reading the sources: every error code is spelled only in
//! src/codes.rs (and README's table lists exactly those codes), and every storage key prefix
//! only in src/schema.rs (so no key can drift from README's KV table).
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use tollgate::codes::Code;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Lines of src/ (tests and comments left out, and the `allowed` files) that contain one of
/// `needles` right after a double quote.
fn spelled_outside(allowed: &[&str], needles: &[&str]) -> Vec<String> {
    let mut files = Vec::new();
    sources(&root().join("src"), &mut files);
    let mut found = Vec::new();
    for file in files {
        let name = file.to_string_lossy().replace('\\', "/");
        if allowed.iter().any(|a| name.ends_with(a)) {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (n, line) in code.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            if needles
                .iter()
                .any(|needle| line.contains(&format!("\"{needle}")))
            {
                found.push(format!("{name}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn readme_lists_exactly_the_codes_of_the_table() {
    let readme = fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("## Error codes")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .unwrap();
    let documented: BTreeSet<String> = section
        .lines()
        .filter(|l| l.starts_with("| `ERR_"))
        .flat_map(|l| {
            let first = l.split('|').nth(1).unwrap_or("");
            first
                .split('`')
                .filter(|w| w.starts_with("ERR_"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    let table: BTreeSet<String> = Code::ALL.iter().map(|c| c.as_str().to_owned()).collect();
    assert_eq!(
        documented, table,
        "README's error codes and src/codes.rs differ"
    );
    for code in Code::ALL {
        assert!((400..600).contains(&code.status()), "{code}");
    }
}

#[test]
fn no_code_is_spelled_outside_the_table() {
    let found = spelled_outside(&["src/codes.rs"], &["ERR_"]);
    assert!(
        found.is_empty(),
        "codes spelled outside src/codes.rs:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_key_prefix_is_spelled_outside_the_schema() {
    // records.rs holds the one label that is not a key (`ApiKey::client_id`, `apikey:<id>`).
    let prefixes = [
        "user:",
        "client:",
        "apikey:",
        "code:",
        "refresh:",
        "session:",
        "onetime:",
        "subject:",
        "consent:",
        "grants:",
        "family:",
        "revoked:",
        "fail:",
        "code-used:",
    ];
    let found = spelled_outside(&["src/schema.rs", "src/oauth/records.rs"], &prefixes);
    assert!(
        found.is_empty(),
        "key prefixes spelled outside src/schema.rs:\n{}",
        found.join("\n")
    );
}

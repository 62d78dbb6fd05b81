//! The storage schema is spelled in one file (src/schema.rs): no other source file writes a
//! key prefix as a string literal, so a key cannot drift from README's KV table.
#![cfg(not(target_arch = "wasm32"))]

use std::fs;
use std::path::Path;

const PREFIXES: [&str; 11] = [
    "user:",
    "client:",
    "apikey:",
    "code:",
    "refresh:",
    "session:",
    "onetime:",
    "family:",
    "revoked:",
    "fail:",
    "code-used:",
];

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_key_prefix_is_spelled_outside_the_schema() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut found = Vec::new();
    for file in files {
        let name = file.to_string_lossy().replace('\\', "/");
        // The schema itself, and the one label that is not a key (ApiKey::client_id).
        if name.ends_with("src/schema.rs") || name.ends_with("src/oauth/records.rs") {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (n, line) in code.lines().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.starts_with("//") {
                continue;
            }
            for prefix in PREFIXES {
                if line.contains(&format!("\"{prefix}")) {
                    found.push(format!("{name}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "key prefixes spelled outside src/schema.rs:\n{}",
        found.join("\n")
    );
}

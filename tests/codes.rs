//! One table of error codes (src/codes.rs): README's error-code table lists exactly those codes,
//! and no other source file spells one.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use tollgate::codes::Code;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
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
fn no_code_is_spelled_outside_the_table() {
    let mut files = Vec::new();
    sources(&root().join("src"), &mut files);
    let mut found = Vec::new();
    for file in files {
        let name = file.to_string_lossy().replace('\\', "/");
        if name.ends_with("src/codes.rs") {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (n, line) in code.lines().enumerate() {
            if !line.trim_start().starts_with("//") && line.contains("\"ERR_") {
                found.push(format!("{name}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "codes spelled outside src/codes.rs:\n{}",
        found.join("\n")
    );
}

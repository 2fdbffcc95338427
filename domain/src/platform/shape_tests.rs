//! The shape the domain keeps so each capability could become its own crate: the platform
//! imports no capability, and no file or function grows past what a reader takes in at once.

use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 800;
const MAX_FN_LINES: usize = 120;

fn sources(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            sources(&path, found)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    Ok(())
}

fn domain_sources(under: &str) -> std::io::Result<Vec<(PathBuf, String)>> {
    let mut paths = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join(under),
        &mut paths,
    )?;
    paths.sort();
    paths
        .into_iter()
        .map(|p| std::fs::read_to_string(&p).map(|text| (p, text)))
        .collect()
}

/// Every `crate::<name>` a line names (comments included: a doc link to a capability is a
/// dependency of the reader too).
fn crate_paths(line: &str) -> Vec<String> {
    line.match_indices("crate::")
        .map(|(at, _)| {
            line[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .filter(|name: &String| !name.is_empty())
        .collect()
}

#[test]
fn platform_imports_no_capability() -> std::io::Result<()> {
    // The shared state and request facts live at the crate root; they are not capabilities.
    let allowed = ["platform", "AppState", "RequestMeta", "Settings", "Caches"];
    let mut leaks = Vec::new();
    for (path, text) in domain_sources("src/platform")? {
        for (n, line) in text.lines().enumerate() {
            for name in crate_paths(line) {
                if !allowed.contains(&name.as_str()) {
                    leaks.push(format!("{}:{}: crate::{name}", path.display(), n + 1));
                }
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "the platform imports capabilities:\n{}",
        leaks.join("\n")
    );
    Ok(())
}

/// Lines of each `fn` item from its signature to its closing brace at the same indentation.
fn function_lengths(text: &str) -> Vec<(usize, String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let signature = [
            "pub(crate) ",
            "pub(super) ",
            "pub ",
            "async ",
            "const ",
            "unsafe ",
        ]
        .iter()
        .fold(trimmed, |s, p| s.strip_prefix(p).unwrap_or(s));
        let Some(rest) = signature
            .strip_prefix("async ")
            .unwrap_or(signature)
            .strip_prefix("fn ")
        else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let close = format!("{indent}}}");
        if let Some(end) = lines[i..].iter().position(|l| l.trim_end() == close) {
            found.push((i + 1, name, end + 1));
        }
    }
    found
}

#[test]
fn files_and_functions_stay_readable() -> std::io::Result<()> {
    let mut long = Vec::new();
    for (path, text) in domain_sources("src")? {
        let lines = text.lines().count();
        if lines > MAX_FILE_LINES {
            long.push(format!("{}: {lines} lines (file)", path.display()));
        }
        for (at, name, len) in function_lengths(&text) {
            if len > MAX_FN_LINES {
                long.push(format!("{}:{at}: fn {name}, {len} lines", path.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "split these by use case or into named steps:\n{}",
        long.join("\n")
    );
    Ok(())
}

#[test]
fn function_lengths_are_measured_to_the_closing_brace() {
    let text = "fn a() {\n    x();\n}\n\n    pub async fn b(\n        y: u8,\n    ) {\n        if y {\n        }\n    }\n";
    let found = function_lengths(text);
    assert_eq!(found, vec![(1, "a".to_owned(), 3), (5, "b".to_owned(), 6)]);
}

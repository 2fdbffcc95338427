//! The shape the domain keeps so each capability could become its own crate: the platform
//! imports no capability, capabilities import one another in one direction only (no cycles),
//! and no file or function grows past what a reader takes in at once.

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

/// Which capabilities each capability names (`crate::<capability>` outside comments).
fn capability_imports() -> std::io::Result<std::collections::BTreeMap<String, Vec<String>>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&src)? {
        let path = entry?.path();
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        if stem != "lib" && stem != "platform" {
            names.push((stem, path));
        }
    }
    let known: Vec<String> = names.iter().map(|(n, _)| n.clone()).collect();
    let mut graph = std::collections::BTreeMap::new();
    for (name, path) in names {
        let mut files = Vec::new();
        if path.is_dir() {
            sources(&path, &mut files)?;
        } else {
            files.push(path);
        }
        let mut deps = std::collections::BTreeSet::new();
        for file in files {
            for line in std::fs::read_to_string(&file)?.lines() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                for dep in crate_paths(line) {
                    if dep != name && known.contains(&dep) {
                        deps.insert(dep);
                    }
                }
            }
        }
        graph.insert(name, deps.into_iter().collect());
    }
    Ok(graph)
}

/// A path of imports that comes back to where it started, if there is one.
fn find_cycle(graph: &std::collections::BTreeMap<String, Vec<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &std::collections::BTreeMap<String, Vec<String>>,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = std::collections::BTreeSet::new();
    graph
        .keys()
        .find_map(|start| visit(start, graph, &mut Vec::new(), &mut done))
}

// Each capability could become its own crate only if no two of them import each other, even
// through others.
#[test]
fn capabilities_import_each_other_in_one_direction() -> std::io::Result<()> {
    let graph = capability_imports()?;
    assert!(graph.contains_key("orders") && graph["orders"].contains(&"pricing".to_owned()));
    assert_eq!(
        find_cycle(&graph),
        None,
        "an import cycle between capabilities"
    );
    Ok(())
}

#[test]
fn cycles_are_found() {
    let graph = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(
        find_cycle(&graph),
        Some(
            vec!["a", "b", "c", "a"]
                .into_iter()
                .map(str::to_owned)
                .collect()
        )
    );
}

//! Every journey in `docs/examples/` runs, step by step, against a fresh `rouge serve` on the
//! embedded default, so the examples the README links never go stale. The step format (comment
//! directives above each named operation) is described in `docs/examples/README.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// One named operation of a journey file and what to do around it.
#[derive(Debug, Default)]
struct Step {
    operation: String,
    text: String,
    endpoint: Option<String>,
    token: Option<String>,
    variables: Option<String>,
    captures: Vec<(String, String)>,
    expects: Vec<(String, String)>,
    expect_error: Option<String>,
    after: Vec<String>,
}

fn directive<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.strip_prefix('#')?
        .trim_start()
        .strip_prefix(name)?
        .strip_prefix(':')
        .map(str::trim)
}

fn split_assignment(text: &str, sep: &str) -> (String, String) {
    let (left, right) = text
        .split_once(sep)
        .unwrap_or_else(|| panic!("`{text}` needs `{sep}`"));
    (left.trim().to_owned(), right.trim().to_owned())
}

/// The operations of a journey file in order, each with its own text (a journey may speak to
/// several endpoints, so each operation is sent alone, as GraphiQL sends the selected one) and
/// the directives in the comment block right above it.
fn parse(document: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut block: Vec<&str> = Vec::new();
    let mut in_operation = false;
    for line in document.lines() {
        if line.starts_with('#') {
            in_operation = false;
            block.push(line);
            continue;
        }
        let head = line.split(['(', '{', ' ']).collect::<Vec<_>>();
        if matches!(head.first(), Some(&"query") | Some(&"mutation")) {
            let operation = head
                .get(1)
                .filter(|name| !name.is_empty())
                .unwrap_or_else(|| panic!("every operation is named: `{line}`"));
            let mut step = Step {
                operation: (*operation).to_owned(),
                ..Step::default()
            };
            for line in &block {
                if let Some(v) = directive(line, "endpoint") {
                    step.endpoint = Some(v.to_owned());
                } else if let Some(v) = directive(line, "token") {
                    step.token = Some(v.to_owned());
                } else if let Some(v) = directive(line, "variables") {
                    step.variables = Some(v.to_owned());
                } else if let Some(v) = directive(line, "capture") {
                    step.captures.push(split_assignment(v, "="));
                } else if let Some(v) = directive(line, "expect-error") {
                    step.expect_error = Some(v.to_owned());
                } else if let Some(v) = directive(line, "expect") {
                    step.expects.push(split_assignment(v, "=="));
                } else if let Some(v) = directive(line, "after") {
                    step.after.push(v.to_owned());
                }
            }
            steps.push(step);
            in_operation = true;
        }
        if in_operation && let Some(step) = steps.last_mut() {
            step.text.push_str(line);
            step.text.push('\n');
        }
        block.clear();
    }
    steps
}

/// `a.b.0.c` inside a JSON value.
fn at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(value, |v, key| match key.parse::<usize>() {
            Ok(i) => v.get(i),
            Err(_) => v.get(key),
        })
}

/// Replaces `{{name}}` with what an earlier step captured (strings as they are, anything else as
/// JSON).
fn fill(text: &str, captured: &HashMap<String, Value>) -> String {
    let mut out = text.to_owned();
    for (name, value) in captured {
        let raw = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out = out.replace(&format!("{{{{{name}}}}}"), &raw);
    }
    assert!(
        !out.contains("{{"),
        "nothing captured for a placeholder in `{out}`"
    );
    out
}

async fn run_journey(http: &reqwest::Client, base: &str, file: &Path) {
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    let document = std::fs::read_to_string(file).unwrap();
    let steps = parse(&document);
    assert!(!steps.is_empty(), "{name} has no operations");
    // The demo stores are in Shanghai's zone: "today" is their day.
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let mut captured = HashMap::from([("today".to_owned(), json!(today.to_string()))]);
    let mut endpoint = String::new();
    let mut token: Option<String> = None;
    for step in steps {
        let context = format!("{name}, operation {}", step.operation);
        if let Some(e) = &step.endpoint {
            endpoint = e.clone();
        }
        assert!(!endpoint.is_empty(), "{context}: no `# endpoint:` yet");
        if let Some(t) = &step.token {
            token = (t != "none").then(|| t.clone());
        }
        let variables: Value = match &step.variables {
            Some(v) => serde_json::from_str(&fill(v, &captured))
                .unwrap_or_else(|e| panic!("{context}: variables are not JSON: {e}")),
            None => json!({}),
        };
        let mut request = http
            .post(format!("{base}/graphql/{endpoint}"))
            .json(&json!({ "query": step.text, "variables": variables }));
        if let Some(t) = &token {
            let bearer = captured
                .get(t)
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("{context}: no token captured as `{t}`"));
            request = request.bearer_auth(bearer);
        }
        let body: Value = request.send().await.unwrap().json().await.unwrap();
        match &step.expect_error {
            Some(code) => {
                assert_eq!(
                    at(&body, "errors.0.extensions.code").and_then(Value::as_str),
                    Some(code.as_str()),
                    "{context}: {body}"
                );
                continue;
            }
            None => assert!(body.get("errors").is_none(), "{context}: {body}"),
        }
        let data = &body["data"];
        for (var, path) in &step.captures {
            let value = at(data, path)
                .filter(|v| !v.is_null())
                .unwrap_or_else(|| panic!("{context}: nothing at `{path}` in {data}"));
            captured.insert(var.clone(), value.clone());
        }
        for (path, expected) in &step.expects {
            let expected: Value = serde_json::from_str(&fill(expected, &captured))
                .unwrap_or_else(|e| panic!("{context}: expected value is not JSON: {e}"));
            assert_eq!(
                at(data, path),
                Some(&expected),
                "{context}: `{path}` in {data}"
            );
        }
        for call in &step.after {
            let (method, path) = call.split_once(' ').expect("`METHOD /path`");
            let url = format!("{base}{}", fill(path.trim(), &captured));
            let response = http
                .request(method.parse().unwrap(), &url)
                .send()
                .await
                .unwrap();
            let status = response.status();
            assert!(
                status.is_success(),
                "{context}: {method} {url} answered {status}: {}",
                response.text().await.unwrap_or_default()
            );
        }
    }
}

fn journeys() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "graphql"))
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_journey_completes_on_a_fresh_serve() {
    let served = common::serve_fresh().await;
    let http = reqwest::Client::new();
    let files = journeys();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for who in ["consumer", "ba", "manager", "hq", "distributor"] {
        assert!(
            names.iter().any(|n| n.contains(who)),
            "a journey for {who}: {names:?}"
        );
    }
    for file in &files {
        run_journey(&http, &served.base, file).await;
    }
}

#[test]
fn steps_read_their_directives() {
    let steps = parse(
        "# endpoint: staff\n# token: ba\n# variables: {\"id\": \"{{x}}\"}\n# capture: y = a.0.b\n# expect: a.0.c == \"PAID\"\n# after: POST /dev/x/{{y}}\nmutation Pay($id: ID!) {\n  a(id: $id) { b }\n}\n\nquery Next { me { id } }\n",
    );
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0].operation, "Pay");
    assert_eq!(steps[0].endpoint.as_deref(), Some("staff"));
    assert_eq!(steps[0].token.as_deref(), Some("ba"));
    assert_eq!(steps[0].captures, vec![("y".into(), "a.0.b".into())]);
    assert_eq!(steps[0].expects, vec![("a.0.c".into(), "\"PAID\"".into())]);
    assert_eq!(steps[0].after, vec!["POST /dev/x/{{y}}".to_owned()]);
    assert!(steps[0].text.starts_with("mutation Pay") && steps[0].text.contains("a(id: $id)"));
    assert!(!steps[0].text.contains("Next"));
    assert_eq!(steps[1].operation, "Next");
    assert!(steps[1].endpoint.is_none() && steps[1].captures.is_empty());
    let captured = HashMap::from([("y".to_owned(), json!("N1")), ("n".to_owned(), json!(3))]);
    assert_eq!(fill("/p/{{y}}/{{n}}", &captured), "/p/N1/3");
}

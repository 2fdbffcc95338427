//! The production overlay as Kubernetes receives it: rendered by `kubectl kustomize` (the
//! renderer `kubectl apply -k` uses), not read file by file, so an override that matches nothing
//! or a patch that misses is caught. kubectl is required: a missing one fails the test
//! (`scripts/test` installs it); set `KUBECTL` to use another binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The image and release tag production runs.
const IMAGE: &str = "registry.example.com/rouge/rouge:0.1.0";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn render(overlay: &str) -> Vec<Value> {
    let kubectl = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".to_owned());
    let output = Command::new(&kubectl)
        .arg("kustomize")
        .arg(repo().join(overlay))
        .output()
        .unwrap_or_else(|e| {
            panic!("could not run `{kubectl} kustomize` ({e}): install kubectl (scripts/test does)")
        });
    assert!(
        output.status.success(),
        "kubectl kustomize {overlay} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| {
            let value: serde_yaml::Value = serde::Deserialize::deserialize(doc).unwrap();
            serde_json::to_value(value).unwrap()
        })
        .filter(|v| !v.is_null())
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in the rendered overlay"))
}

/// Every container of every workload, with the workload's kind and name.
fn containers(docs: &[Value]) -> Vec<(String, &Value)> {
    docs.iter()
        .filter(|d| d["kind"] == "Deployment" || d["kind"] == "Job")
        .flat_map(|d| {
            let owner = format!("{} {}", d["kind"], d["metadata"]["name"]);
            d["spec"]["template"]["spec"]["containers"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |c| (owner.clone(), c))
        })
        .collect()
}

#[test]
fn production_overlay_runs_the_release_image_everywhere() {
    let docs = render("k8s/overlays/production");
    let containers = containers(&docs);
    assert_eq!(containers.len(), 3, "api, worker and migration containers");
    for (owner, container) in containers {
        assert_eq!(container["image"], IMAGE, "{owner}");
    }
}

#[test]
fn production_overlay_serves_https_only() {
    let docs = render("k8s/overlays/production");
    let ingress = find(&docs, "Ingress", "rouge-api");
    let tls = ingress["spec"]["tls"]
        .as_array()
        .expect("the Ingress has a tls section (WeChat calls https URLs only)");
    let secret = tls[0]["secretName"].as_str().expect("a TLS secret name");
    assert!(!secret.is_empty());
    for rule in ingress["spec"]["rules"].as_array().unwrap() {
        let host = &rule["host"];
        assert!(
            tls.iter()
                .any(|t| t["hosts"].as_array().unwrap().contains(host)),
            "{host} has no certificate"
        );
    }
    // The template documents the certificate's Secret under the same name.
    let template = std::fs::read_to_string(repo().join("k8s/secret-template.yaml")).unwrap();
    assert!(
        template.contains(&format!("name: {secret}")),
        "k8s/secret-template.yaml documents {secret}"
    );
}

#[test]
fn production_overlay_starts_the_api_at_the_autoscalers_minimum() {
    let docs = render("k8s/overlays/production");
    let api = find(&docs, "Deployment", "rouge-api");
    let hpa = find(&docs, "HorizontalPodAutoscaler", "rouge-api");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "rouge-api");
    let replicas = api["spec"]["replicas"].as_i64().unwrap();
    let min = hpa["spec"]["minReplicas"].as_i64().unwrap();
    let max = hpa["spec"]["maxReplicas"].as_i64().unwrap();
    assert!(
        (min..=max).contains(&replicas),
        "api replicas {replicas}, autoscaler {min}..={max}"
    );
    let pdb = find(&docs, "PodDisruptionBudget", "rouge-api");
    assert!(pdb["spec"]["minAvailable"].as_i64().unwrap() < min);
}

#[test]
fn production_worker_is_probed_and_scraped() {
    let docs = render("k8s/overlays/production");
    let worker = find(&docs, "Deployment", "rouge-worker");
    let pod = &worker["spec"]["template"];
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["args"][0], "worker");
    let port = container["ports"]
        .as_array()
        .expect("the worker declares its port")
        .iter()
        .find(|p| p["name"] == "metrics")
        .expect("a port named metrics");
    let number = port["containerPort"].as_i64().unwrap();
    for (probe, path) in [
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
        ("startupProbe", "/healthz"),
    ] {
        assert_eq!(container[probe]["httpGet"]["path"], path, "{probe}");
        assert_eq!(container[probe]["httpGet"]["port"], "metrics", "{probe}");
    }
    let annotations = &pod["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"], "true");
    assert_eq!(annotations["prometheus.io/path"], "/metrics");
    assert_eq!(annotations["prometheus.io/port"], number.to_string());
    // The worker listens where the probes knock (rouge reads ROUGE_JOBS__WORKER_LISTEN).
    let config = find(&docs, "ConfigMap", "rouge-config");
    let listen = config["data"]["ROUGE_JOBS__WORKER_LISTEN"]
        .as_str()
        .expect("ROUGE_JOBS__WORKER_LISTEN in the ConfigMap");
    assert_eq!(listen, format!("0.0.0.0:{number}"));
    // And the API's probes are unchanged.
    let api = &find(&docs, "Deployment", "rouge-api")["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(api["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(api["readinessProbe"]["httpGet"]["path"], "/readyz");
}

/// The image's final stage, as instructions (continuation lines joined).
fn final_stage() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let joined = text.replace("\\\n", " ");
    let lines: Vec<String> = joined
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    let last_from = lines.iter().rposition(|l| l.starts_with("FROM ")).unwrap();
    lines[last_from..].to_vec()
}

/// No container runtime here, so the image is checked as written: its default command (`serve`,
/// the embedded default) runs as uid 10001 and finds a data directory that user owns, and listens
/// where a published port reaches it. (Running the binary as uid 10001 in such a directory is in
/// docs/operations.md.)
#[test]
fn image_serves_as_its_non_root_user_with_a_data_dir_it_owns() {
    let stage = final_stage();
    let instruction = |name: &str| {
        stage
            .iter()
            .filter(|l| l.starts_with(&format!("{name} ")))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(instruction("USER"), ["USER 10001:10001"]);
    assert_eq!(instruction("CMD"), [r#"CMD ["serve"]"#]);
    let env = instruction("ENV").join(" ");
    assert!(env.contains("ROUGE_DATA_DIR=/var/lib/rouge/data"), "{env}");
    assert!(env.contains("ROUGE_LISTEN=0.0.0.0:8080"), "{env}");
    assert!(
        env.contains("ROUGE_JOBS__WORKER_LISTEN=0.0.0.0:8081"),
        "{env}"
    );
    let run = instruction("RUN").join(" ");
    assert!(
        run.contains("install -d -o 10001 -g 10001") && run.contains("/var/lib/rouge/data"),
        "the data directory is created for uid 10001: {run}"
    );
    assert_eq!(instruction("WORKDIR"), ["WORKDIR /var/lib/rouge"]);
    // The USER comes after the RUN that creates the directories (RUN runs as root).
    let user_at = stage.iter().position(|l| l.starts_with("USER ")).unwrap();
    let run_at = stage.iter().rposition(|l| l.starts_with("RUN ")).unwrap();
    assert!(run_at < user_at);
}

#[test]
fn build_context_leaves_out_build_output_and_local_state() {
    let ignore = std::fs::read_to_string(repo().join(".dockerignore"))
        .expect(".dockerignore keeps target/ out of the build context");
    let patterns: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for needed in [
        "target/",
        ".git",
        "data/",
        "fuzz/artifacts/",
        "fuzz/corpus/",
    ] {
        assert!(patterns.contains(&needed), ".dockerignore lacks {needed}");
    }
    // Nothing the build needs is left out: every workspace member and the lock file stay.
    for kept in [
        "Cargo.toml",
        "Cargo.lock",
        "api",
        "domain",
        "entities",
        "graphql-schema",
        "wechat-integration",
        "tests",
        "bench",
        "fuzz",
        "api/assets",
    ] {
        assert!(
            !patterns.iter().any(|p| p.trim_end_matches('/') == kept),
            ".dockerignore must not leave out {kept}"
        );
    }
}

//! The public contract: the checked-in SDL matches the code, and the Kubernetes manifests
//! parse and point at the right probes and image.

use std::path::{Path, PathBuf};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Fails when graphql-schema/*.graphql is stale. It only compares: rewriting the files is
/// `scripts/export-schema`, never a mode of this test (a test that can rewrite its expectation
/// passes whatever the code does).
#[test]
fn exported_sdl_is_current() {
    let dir = repo().join("graphql-schema");
    let mut stale = Vec::new();
    for (name, sdl) in graphql_schema::sdl() {
        let path = dir.join(format!("{name}.graphql"));
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        if checked_in != sdl {
            stale.push(format!(
                "{}: {}",
                path.display(),
                first_difference(&checked_in, &sdl)
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "stale SDL, run `scripts/export-schema` and review `git diff graphql-schema`:\n{}",
        stale.join("\n")
    );
}

/// Where the checked-in text first differs from the generated one, as a one-line diff.
fn first_difference(checked_in: &str, generated: &str) -> String {
    let (old, new): (Vec<&str>, Vec<&str>) =
        (checked_in.lines().collect(), generated.lines().collect());
    let line = old
        .iter()
        .zip(&new)
        .position(|(a, b)| a != b)
        .unwrap_or(old.len().min(new.len()));
    format!(
        "line {}: checked in {:?}, generated {:?}",
        line + 1,
        old.get(line).copied().unwrap_or("<end of file>"),
        new.get(line).copied().unwrap_or("<end of file>")
    )
}

fn yaml_docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| {
            let value: serde_yaml::Value = serde::Deserialize::deserialize(doc).unwrap();
            serde_json::to_value(value).unwrap()
        })
        .filter(|v| !v.is_null())
        .collect()
}

#[test]
fn kubernetes_manifests_are_consistent() {
    let base = repo().join("k8s/base");
    let kustomization = &yaml_docs(&base.join("kustomization.yaml"))[0];
    let mut kinds = Vec::new();
    let mut deployments = Vec::new();
    for resource in kustomization["resources"].as_array().unwrap() {
        let path = base.join(resource.as_str().unwrap());
        assert!(path.exists(), "{} is listed but missing", path.display());
        for doc in yaml_docs(&path) {
            kinds.push(doc["kind"].as_str().unwrap().to_owned());
            if doc["kind"] == "Deployment" {
                deployments.push(doc);
            }
        }
    }
    for kind in [
        "Deployment",
        "Service",
        "ConfigMap",
        "Job",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Ingress",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} in k8s/base");
    }
    let api = deployments
        .iter()
        .find(|d| d["metadata"]["name"] == "rouge-api")
        .expect("rouge-api Deployment");
    let pod = &api["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert!(container["image"].as_str().unwrap().contains("rouge"));
    assert_eq!(container["args"][0], "serve");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert!(container["resources"]["limits"]["memory"].is_string());
    assert!(container["resources"]["requests"]["cpu"].is_string());
    let worker = deployments
        .iter()
        .find(|d| d["metadata"]["name"] == "rouge-worker")
        .expect("rouge-worker Deployment");
    assert_eq!(
        worker["spec"]["template"]["spec"]["containers"][0]["args"][0],
        "worker"
    );
    let secret = yaml_docs(&repo().join("k8s/secret-template.yaml"));
    assert_eq!(secret[0]["kind"], "Secret");
    for key in [
        "DATABASE_URL",
        "REDIS_URL",
        "ROUGE_AUTH__JWT_SECRET",
        "ROUGE_PII__DATA_KEY",
        "ROUGE_PII__INDEX_KEY",
        "ROUGE_WECHAT__APP_SECRET",
    ] {
        assert!(
            secret[0]["stringData"][key].is_string(),
            "secret template lacks {key}"
        );
    }
}

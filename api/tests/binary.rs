//! The real `rouge` binary, as a new user runs it: no configuration, embedded default, demo
//! data, fake WeChat; and production mode refusing unsafe configurations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::rouge;
use serde_json::{Value, json};
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_embedded_default_and_drains_on_sigterm() {
    let common::Served {
        mut child,
        base,
        mut lines,
        dir,
    } = common::serve_fresh().await;
    let mut printed = Vec::new();
    while printed.len() < 6 {
        match tokio::time::timeout(Duration::from_secs(5), lines.next_line()).await {
            Ok(Ok(Some(line))) => printed.push(line),
            _ => break,
        }
    }
    let printed = printed.join("\n");
    for path in [
        "/graphql/consumer",
        "/graphql/staff",
        "/graphql/distributor",
    ] {
        assert!(
            printed.contains(&format!("{base}{path}")),
            "prints {path}: {printed}"
        );
    }
    assert!(printed.contains("GraphiQL"), "{printed}");
    assert!(
        dir.path().join("data/rouge.db").exists(),
        "SQLite under ./data"
    );

    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let post = |path: &str, body: Value, token: Option<String>| {
        let mut req = http.post(format!("{base}{path}")).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    // The demo: a member logs in through the in-process fake WeChat, a BA finds a demo member.
    let login = post(
        "/graphql/consumer",
        json!({ "query": "mutation { login(code: \"test:demo-lily:1\") { accessToken member { id } } }" }),
        None,
    )
    .await;
    let token = login["data"]["login"]["accessToken"]
        .as_str()
        .expect("member login")
        .to_owned();
    let me = post(
        "/graphql/consumer",
        json!({ "query": "{ me { nickname skinType } }" }),
        Some(token),
    )
    .await;
    assert_eq!(
        me["data"]["me"],
        json!({ "nickname": "Lily", "skinType": "SENSITIVE" })
    );
    let staff = post(
        "/graphql/staff",
        json!({ "query": "mutation { login(username: \"ba-demo\", password: \"demo-password\") { accessToken } }" }),
        None,
    )
    .await;
    let ba = staff["data"]["login"]["accessToken"]
        .as_str()
        .expect("staff login")
        .to_owned();
    let found = post(
        "/graphql/staff",
        json!({ "query": "{ findMember(phone: \"13800000001\") { nickname } }" }),
        Some(ba),
    )
    .await;
    assert_eq!(found["data"]["findMember"]["nickname"], "Lily");

    // SIGTERM: the server drains and exits cleanly.
    let pid = child.id().unwrap();
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "exit status {exit:?}");
}

async fn refused(envs: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = rouge();
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env("ROUGE_ENV", "production");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .unwrap()
        .unwrap();
    assert!(!out.status.success(), "production must refuse {envs:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn production_refuses_demo_secrets_and_missing_keys() {
    let good = [
        ("DATABASE_URL", "postgres://rouge@127.0.0.1:1/rouge"),
        ("REDIS_URL", "redis://127.0.0.1:1/"),
        (
            "ROUGE_AUTH__JWT_SECRET",
            "a-real-secret-that-is-long-enough-0123456789",
        ),
        (
            "ROUGE_PII__DATA_KEY",
            "cHJvZHVjdGlvbi1kYXRhLWtleS0zMi1ieXRlcy1vayE=",
        ),
        (
            "ROUGE_PII__INDEX_KEY",
            "cHJvZHVjdGlvbi1pbmRleC1rZXktMzItYnl0ZXMtb2s=",
        ),
        (
            "ROUGE_SCAN__PACK_CODE_KEY",
            "a-real-pack-code-key-that-is-long-enough-0123",
        ),
        (
            "ROUGE_MEDIA__SIGNING_KEY",
            "a-real-media-signing-key-that-is-long-enough-0123",
        ),
        (
            "ROUGE_MEDIA__MASTER_KEY",
            "cHJvZHVjdGlvbi1tZWRpYS1rZXktMzItYnl0ZXMtb2s=",
        ),
        ("ROUGE_WECHAT__MODE", "live"),
        ("ROUGE_WECHAT__APP_ID", "wx1234567890"),
        ("ROUGE_WECHAT__APP_SECRET", "secret"),
        ("ROUGE_WECHAT__PAY__MCH_ID", "1900000109"),
        ("ROUGE_WECHAT__PAY__MERCHANT_SERIAL_NO", "SERIAL"),
        (
            "ROUGE_WECHAT__PAY__MERCHANT_PRIVATE_KEY",
            "-----BEGIN PRIVATE KEY-----",
        ),
        (
            "ROUGE_WECHAT__PAY__API_V3_KEY",
            "0123456789abcdef0123456789abcdef",
        ),
        (
            "ROUGE_WECHAT__PAY__PLATFORM_KEYS",
            "PUB_KEY_ID_1=-----BEGIN PUBLIC KEY-----",
        ),
        (
            "ROUGE_WECHAT__PAY__NOTIFY_URL",
            "https://api.rouge.example.com/wechat/pay/notify",
        ),
    ];
    let without = |key: &str| {
        good.iter()
            .copied()
            .filter(|(k, _)| *k != key)
            .collect::<Vec<_>>()
    };
    let with = |key: &str, value: &'static str| {
        good.iter()
            .copied()
            .map(|(k, v)| if k == key { (k, value) } else { (k, v) })
            .collect::<Vec<_>>()
    };
    let no_jwt = refused(&without("ROUGE_AUTH__JWT_SECRET")).await;
    assert!(no_jwt.contains("JWT"), "{no_jwt}");
    let demo_jwt = refused(&with(
        "ROUGE_AUTH__JWT_SECRET",
        api::config::demo::JWT_SECRET,
    ))
    .await;
    assert!(demo_jwt.contains("demo JWT key"), "{demo_jwt}");
    assert!(
        !demo_jwt.contains(api::config::demo::JWT_SECRET),
        "secrets are never printed: {demo_jwt}"
    );
    assert!(
        refused(&without("ROUGE_MEDIA__MASTER_KEY"))
            .await
            .contains("ROUGE_MEDIA__MASTER_KEY")
    );
    assert!(
        refused(&with(
            "ROUGE_MEDIA__MASTER_KEY",
            api::config::demo::MEDIA_MASTER_KEY
        ))
        .await
        .contains("not the demo keys")
    );
    let demo_pii = refused(&with(
        "ROUGE_PII__DATA_KEY",
        "cm91Z2UtZGVtby1waWktZGF0YS1rZXktMzJieXRlcyE=",
    ))
    .await;
    assert!(demo_pii.contains("demo personal-data key"), "{demo_pii}");
    assert!(
        refused(&without("ROUGE_PII__INDEX_KEY"))
            .await
            .contains("personal-data key")
    );
    assert!(
        refused(&with(
            "ROUGE_SCAN__PACK_CODE_KEY",
            "rouge-demo-pack-code-key-not-for-production"
        ))
        .await
        .contains("demo pack-code key")
    );
    assert!(
        refused(&with("ROUGE_WECHAT__MODE", "fake"))
            .await
            .contains("fake WeChat")
    );
    assert!(
        refused(&without("DATABASE_URL"))
            .await
            .contains("PostgreSQL")
    );
    assert!(refused(&without("REDIS_URL")).await.contains("Redis"));
    assert!(
        refused(&without("ROUGE_WECHAT__PAY__API_V3_KEY"))
            .await
            .contains("WeChat Pay")
    );
    let http_notify = refused(&with(
        "ROUGE_WECHAT__PAY__NOTIFY_URL",
        "http://insecure.example.com/n",
    ))
    .await;
    assert!(http_notify.contains("https"), "{http_notify}");
    // With everything set, it gets as far as the (unreachable) database, and says so.
    let unreachable = refused(&good).await;
    assert!(unreachable.contains("database"), "{unreachable}");
    assert!(!unreachable.contains("a-real-secret"), "{unreachable}");
}

#[tokio::test]
async fn export_schema_writes_the_three_sdl_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = rouge()
        .args(["export-schema", "--out"])
        .arg(dir.path())
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    for name in ["consumer", "staff", "distributor"] {
        let sdl = std::fs::read_to_string(dir.path().join(format!("{name}.graphql"))).unwrap();
        assert!(sdl.contains("type Query"), "{name}");
    }
}

/// `rouge worker` serves its own probes and metrics (for its Kubernetes Deployment) and stops
/// cleanly on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_serves_probes_and_metrics() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let migrated = rouge()
        .arg("migrate")
        .current_dir(dir.path())
        .output()
        .await
        .unwrap();
    assert!(migrated.status.success(), "{migrated:?}");
    let mut worker = rouge();
    worker
        .arg("worker")
        .env("ROUGE_JOBS__WORKER_LISTEN", "127.0.0.1:0");
    let (mut child, base, _lines) = common::spawn_until(
        worker,
        dir.path(),
        "rouge worker running; probes and metrics on ",
    )
    .await;

    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{base}{path}")).send();
    let health = get("/healthz").await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({ "database": "ok", "kv": "ok" })
    );
    let metrics = get("/metrics").await.unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    // Only the probes: the worker serves no GraphQL.
    assert_eq!(get("/graphql/staff").await.unwrap().status(), 404);

    let pid = child.id().unwrap();
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "exit status {exit:?}");
}

/// `rouge admin create` reads the password from standard input or a file (never argv), refuses
/// a weak one and a taken username without changing anything, and the account signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_create_makes_the_first_administrator() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let migrated = rouge()
        .arg("migrate")
        .current_dir(dir.path())
        .output()
        .await
        .unwrap();
    assert!(migrated.status.success(), "{migrated:?}");
    let create = |password: &'static str| {
        let dir = dir.path().to_owned();
        async move {
            let mut child = rouge()
                .args(["admin", "create", "--username", "chief-admin"])
                .args(["--display-name", "总部管理员", "--role", "HQ"])
                .current_dir(dir)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(password.as_bytes()).await.unwrap();
            drop(stdin);
            child.wait_with_output().await.unwrap()
        }
    };
    let weak = create("password123\n").await;
    assert!(!weak.status.success());
    assert!(
        String::from_utf8_lossy(&weak.stderr).contains("common passwords"),
        "{weak:?}"
    );
    let made = create("violet-harbour-42\n").await;
    assert!(made.status.success(), "{made:?}");
    assert!(String::from_utf8_lossy(&made.stdout).contains("chief-admin"));
    let again = create("violet-harbour-42\n").await;
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already taken"),
        "{again:?}"
    );

    let file = dir.path().join("pw");
    std::fs::write(&file, "another-harbour-43\n").unwrap();
    let from_file = rouge()
        .args([
            "admin",
            "create",
            "--username",
            "chief-finance",
            "--display-name",
            "财务",
        ])
        .args(["--role", "FINANCE", "--password-file"])
        .arg(&file)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(from_file.status.success(), "{from_file:?}");
}

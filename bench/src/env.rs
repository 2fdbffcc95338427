//! The bench environment: a fresh database on the bench PostgreSQL, the bench Redis, and the
//! release server started as a child process.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub fn admin_url() -> anyhow::Result<String> {
    std::env::var("ROUGE_TEST_DATABASE_URL")
        .context("run through scripts/bench (ROUGE_TEST_DATABASE_URL)")
}

pub fn redis_url() -> anyhow::Result<String> {
    std::env::var("ROUGE_TEST_REDIS_URL")
        .context("run through scripts/bench (ROUGE_TEST_REDIS_URL)")
}

/// Creates (or recreates) a database for a scenario and migrates it.
pub async fn fresh_database(name: &str) -> anyhow::Result<(String, DatabaseConnection)> {
    let admin_url = admin_url()?;
    let admin = api::connect_database(&admin_url, 1).await?;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;
    crate::truth::apply_commit_setting(&admin, name).await?;
    admin.close().await?;
    println!("database {name}: {}", crate::truth::commit_label());
    let (base, _) = admin_url.rsplit_once('/').context("database url")?;
    let url = format!("{base}/{name}");
    let db = api::connect_database(&url, 16).await?;
    api::migrate(&db).await?;
    Ok((url, db))
}

/// The consumers' (mini-program) GraphQL path.
pub const CONSUMER: &str = "/graphql/consumer";
/// The distributors' (their app) GraphQL path.
pub const DISTRIBUTOR: &str = "/graphql/distributor";

pub struct Server {
    pub base_url: String,
    pub child: Child,
}

impl Server {
    /// The full URL of one of the server's GraphQL paths.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Starts the release server on port 0 against a database, with Redis and the fake WeChat.
    pub async fn start(database_url: &str, extra_env: &[(&str, &str)]) -> anyhow::Result<Server> {
        let redis = redis_url()?;
        let prefix = format!("bench:{}:", uuid::Uuid::new_v4().simple());
        let mut env = vec![
            ("DATABASE_URL", database_url),
            ("REDIS_URL", redis.as_str()),
            ("ROUGE_KV__PREFIX", prefix.as_str()),
            ("ROUGE_DATABASE__MAX_CONNECTIONS", "32"),
            ("ROUGE_JOBS__IN_SERVE", "false"),
        ];
        env.extend_from_slice(extra_env);
        Self::spawn(&env).await
    }

    /// Starts the release server as the embedded default: SQLite under `data_dir` and the
    /// in-process key-value store (no DATABASE_URL, no REDIS_URL).
    pub async fn start_embedded(
        data_dir: &std::path::Path,
        extra_env: &[(&str, &str)],
    ) -> anyhow::Result<Server> {
        let dir = data_dir.display().to_string();
        let mut env = vec![("ROUGE_DATA_DIR", dir.as_str())];
        env.extend_from_slice(extra_env);
        Self::spawn(&env).await
    }

    async fn spawn(env: &[(&str, &str)]) -> anyhow::Result<Server> {
        let bin = std::env::var("ROUGE_BENCH_SERVER")
            .context("ROUGE_BENCH_SERVER (scripts/bench sets it)")?;
        Self::spawn_program(
            Command::new(bin).args(["serve", "--listen", "127.0.0.1:0"]),
            env,
        )
        .await
    }

    /// Starts `cmd` (a server printing `rouge listening on <url>` when ready) with `env`.
    pub async fn spawn_program(cmd: &mut Command, env: &[(&str, &str)]) -> anyhow::Result<Server> {
        cmd.env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().context("start the release server")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let base_url = tokio::time::timeout(Duration::from_secs(120), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = line.strip_prefix("rouge listening on ") {
                    return Ok::<_, anyhow::Error>(url.to_owned());
                }
            }
            bail!("the server exited before listening")
        })
        .await
        .context("the server did not start within two minutes")??;
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Server { base_url, child })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

pub fn http_client(connections: usize) -> anyhow::Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// Signs a member in through the fake WeChat (which creates the member on first login) and
/// returns the access token once the member has accepted the privacy policy; `who` makes the
/// member's openid.
pub async fn login_member(
    http: &reqwest::Client,
    endpoint: &str,
    who: &str,
) -> Result<String, String> {
    let body = serde_json::json!({
        "query": "mutation($c: String!) { login(code: $c) { accessToken } }",
        "variables": { "c": format!("test:{who}:{}", uuid::Uuid::new_v4().simple()) },
    });
    let data = graphql(http, endpoint, None, &body).await?;
    let token = data["data"]["login"]["accessToken"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "no access token".to_owned())?;
    // Without the current privacy policy accepted every other operation is refused.
    let accept = serde_json::json!({
        "query": "mutation($v: String!) { acceptPrivacyPolicy(version: $v) { privacyPolicyCurrent } }",
        "variables": { "v": domain::privacy::DEFAULT_POLICY_VERSION },
    });
    graphql(http, endpoint, Some(&token), &accept).await?;
    Ok(token)
}

/// Posts a GraphQL operation; Ok when it answered without errors.
/// A GraphQL answer checked without building it: data and no errors. For load loops, where
/// building every answer as a `Value` would spend the load generator's share of the cores
/// (the answers were checked in full before the load).
pub async fn graphql_ok(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: bytes::Bytes,
) -> Result<(), String> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        data: Option<serde::de::IgnoredAny>,
        errors: Option<serde::de::IgnoredAny>,
    }
    let mut req = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
    let envelope: Envelope = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    if !status.is_success() || envelope.errors.is_some() || envelope.data.is_none() {
        return Err(String::from_utf8_lossy(&bytes).chars().take(300).collect());
    }
    Ok(())
}

pub async fn graphql(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: &serde_json::Value,
) -> Result<serde_json::Value, String> {
    let mut req = http.post(url).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let value: serde_json::Value = resp.json().await.map_err(|e| e.to_string())?;
    if !status.is_success() || value.get("errors").is_some_and(|e| !e.is_null()) {
        return Err(format!("{status}: {value}").chars().take(300).collect());
    }
    Ok(value)
}

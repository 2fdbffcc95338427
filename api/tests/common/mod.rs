//! Starting the real `rouge` binary as a new user would: a clean environment and an empty
//! working directory, readiness taken from what it prints (never a sleep).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

pub fn rouge() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rouge"));
    // A clean environment: only what the test sets reaches the binary's configuration.
    for (key, _) in std::env::vars() {
        if key.starts_with("ROUGE_") || key == "DATABASE_URL" || key == "REDIS_URL" {
            cmd.env_remove(key);
        }
    }
    cmd.kill_on_drop(true);
    cmd
}

/// A `rouge serve` on the embedded default in its own empty folder, listening on a free port.
pub struct Served {
    pub child: Child,
    pub base: String,
    pub lines: Lines<BufReader<ChildStdout>>,
    pub dir: tempfile::TempDir,
}

/// Starts `cmd` in `dir` and waits until it prints a line starting with `banner`; returns the
/// child, the rest of that line (the address) and its remaining output.
pub async fn spawn_until(
    mut cmd: Command,
    dir: &std::path::Path,
    banner: &str,
) -> (Child, String, Lines<BufReader<ChildStdout>>) {
    let mut child = cmd
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let rest = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line.strip_prefix(banner) {
                return rest.to_owned();
            }
        }
        panic!("exited before printing `{banner}`");
    })
    .await
    .unwrap_or_else(|_| panic!("`{banner}` not printed within a minute"));
    (child, rest, lines)
}

pub async fn serve_fresh() -> Served {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = rouge();
    cmd.args(["serve", "--listen", "127.0.0.1:0"]);
    let (child, base, lines) = spawn_until(cmd, dir.path(), "rouge listening on ").await;
    Served {
        child,
        base,
        lines,
        dir,
    }
}

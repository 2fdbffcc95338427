//! `rouge admin create`: the first administrator of a deployment (and any later HQ or finance
//! account created from the command line). The password never travels on the command line,
//! where `ps` and shell history would keep it: it comes from standard input or a file.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use anyhow::Context as _;
use api::config::Config;
use clap::Subcommand;
use domain::accounts::{self, NewStaffAccount};
use domain::auth::StaffRole;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create an HQ (or FINANCE) account on the configured database. The password is read
    /// from --password-file or standard input (one line): at least 10 characters, not the
    /// username, not a common password. An existing username changes nothing.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        display_name: String,
        /// HQ or FINANCE.
        #[arg(long, default_value = "HQ")]
        role: String,
        /// A file holding the password (its first line).
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
}

fn role(text: &str) -> anyhow::Result<StaffRole> {
    match text.trim().to_uppercase().as_str() {
        "HQ" => Ok(StaffRole::Hq),
        "FINANCE" => Ok(StaffRole::Finance),
        other => anyhow::bail!(
            "--role {other}: the command line creates HQ or FINANCE accounts; store staff are created with createStaffAccount"
        ),
    }
}

/// The first line of the file or of standard input, without its line break.
fn read_password(file: Option<&PathBuf>) -> anyhow::Result<String> {
    let mut raw = String::new();
    match file {
        Some(path) => {
            raw = std::fs::read_to_string(path)
                .with_context(|| format!("could not read {}", path.display()))?;
        }
        None => {
            let mut stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprint!(
                    "Password for the new account (one line; --password-file avoids typing it): "
                );
            }
            stdin
                .read_to_string(&mut raw)
                .context("could not read the password from standard input")?;
        }
    }
    let line = raw.lines().next().unwrap_or_default().to_owned();
    if line.is_empty() {
        anyhow::bail!("no password given: pipe it on standard input or pass --password-file");
    }
    Ok(line)
}

pub async fn run(
    config: &Config,
    db: sea_orm::DatabaseConnection,
    cmd: AdminCommand,
) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::Create {
            username,
            display_name,
            role: role_text,
            password_file,
        } => {
            let role = role(&role_text)?;
            let pending = api::pending_migrations(&db).await?;
            if !pending.is_empty() {
                anyhow::bail!(
                    "the database is behind this release; run `rouge migrate` first (pending: {})",
                    pending.join(", ")
                );
            }
            let password = read_password(password_file.as_ref())?;
            let (state, wechat) = api::state_from_config(config, db, "http://127.0.0.1").await?;
            let created = accounts::create_first_admin(
                &state,
                NewStaffAccount {
                    username,
                    display_name,
                    role,
                    store_id: None,
                    phone: None,
                },
                &password,
            )
            .await;
            wechat.shutdown().await;
            let account = created.map_err(|e| anyhow::anyhow!("{e}; nothing was changed"))?;
            println!(
                "created {} account {} (id {}); sign in on the staff app with this password",
                role_text.trim().to_uppercase(),
                account.username,
                account.id
            );
            Ok(())
        }
    }
}

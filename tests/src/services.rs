//! Databases for tests: a fresh one per test. PostgreSQL databases are copied from a template
//! that is migrated once per migration set; SQLite files are migrated in a temporary folder.

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use sea_orm_migration::MigratorTrait;

use crate::Backend;

pub struct TestDb {
    conn: DatabaseConnection,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub fn connection(&self) -> DatabaseConnection {
        self.conn.clone()
    }
}

pub fn postgres_admin_url() -> String {
    std::env::var("ROUGE_TEST_DATABASE_URL")
        .expect("this test needs PostgreSQL: set ROUGE_TEST_DATABASE_URL (scripts/test starts one)")
}

fn with_database(admin_url: &str, name: &str) -> String {
    let (base, _) = admin_url.rsplit_once('/').expect("database url has a path");
    format!("{base}/{name}")
}

/// Names the template after the migrations it holds, so a changed migration set gets a new one.
fn template_name() -> String {
    let names: Vec<String> = entities::Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in names.join(",").bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("rouge_tpl_{hash:016x}")
}

async fn exec(db: &DatabaseConnection, sql: &str) -> Result<(), sea_orm::DbErr> {
    db.execute_unprepared(sql).await.map(|_| ())
}

async fn postgres_db() -> TestDb {
    let admin_url = postgres_admin_url();
    let admin = api::connect_database(&admin_url, 2)
        .await
        .expect("connect to test PostgreSQL");
    let template = template_name();
    // One process builds the template; the others wait on the advisory lock.
    exec(&admin, "SELECT pg_advisory_lock(72731)")
        .await
        .expect("lock");
    let exists = admin
        .query_one_raw(Statement::from_sql_and_values(
            admin.get_database_backend(),
            "SELECT 1 AS one FROM pg_database WHERE datname = $1",
            [template.clone().into()],
        ))
        .await
        .expect("query")
        .is_some();
    if !exists {
        let building = format!("{template}_building_{}", uuid::Uuid::new_v4().simple());
        exec(&admin, &format!("CREATE DATABASE {building}"))
            .await
            .expect("create template");
        let db = api::connect_database(&with_database(&admin_url, &building), 2)
            .await
            .expect("connect template");
        api::migrate(&db).await.expect("migrate template");
        db.close().await.expect("close template");
        exec(
            &admin,
            &format!("ALTER DATABASE {building} RENAME TO {template}"),
        )
        .await
        .expect("publish template");
    }
    exec(&admin, "SELECT pg_advisory_unlock(72731)")
        .await
        .expect("unlock");

    let name = format!("rouge_test_{}", uuid::Uuid::new_v4().simple());
    let mut attempts = 0;
    loop {
        match exec(
            &admin,
            &format!("CREATE DATABASE {name} TEMPLATE {template}"),
        )
        .await
        {
            Ok(()) => break,
            // The template is briefly busy while another test copies it.
            Err(err) if attempts < 50 && err.to_string().contains("being accessed") => {
                attempts += 1;
                tokio::task::yield_now().await;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(err) => panic!("could not create a test database: {err}"),
        }
    }
    admin.close().await.expect("close admin");
    let url = with_database(&admin_url, &name);
    let conn = api::connect_database(&url, 10)
        .await
        .expect("connect test database");
    TestDb {
        conn,
        url,
        _dir: None,
    }
}

async fn sqlite_db() -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/rouge.db?mode=rwc", dir.path().display());
    let conn = api::connect_database(&url, 8).await.expect("open SQLite");
    api::migrate(&conn).await.expect("migrate SQLite");
    TestDb {
        conn,
        url,
        _dir: Some(dir),
    }
}

pub async fn test_db(backend: Backend) -> TestDb {
    match backend {
        Backend::Embedded => sqlite_db().await,
        Backend::Production => postgres_db().await,
    }
}

/// A Redis server of the test's own, for tests that stop and restart it.
pub struct PrivateRedis {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<tokio::process::Child>,
}

impl PrivateRedis {
    pub async fn start() -> PrivateRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut redis = PrivateRedis {
            port,
            dir: tempfile::tempdir().expect("tempdir"),
            child: None,
        };
        redis.restart().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts (again) on the same port and waits until it answers PING.
    pub async fn restart(&mut self) {
        let bin =
            std::env::var("ROUGE_TEST_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = tokio::process::Command::new(bin)
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("this test starts its own redis-server (scripts/test installs it)");
        self.child = Some(child);
        let client = redis_client(&self.url());
        for _ in 0..500 {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
                let pong: Result<String, _> = redis::cmd("PING").query_async(&mut conn).await;
                if pong.is_ok() {
                    return;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("private redis-server did not start on port {}", self.port);
    }

    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("kill redis");
        }
    }
}

fn redis_client(url: &str) -> redis::Client {
    redis::Client::open(url).expect("redis url")
}

/// A PostgreSQL server of the test's own (initdb into a temporary folder under ROUGE_TEST_TMP,
/// binaries from PG_BIN), for tests that restart it. Run as the `postgres` user when we are root,
/// as scripts/services.sh does. Stopped when dropped.
pub struct PrivatePostgres {
    pub port: u16,
    bin: std::path::PathBuf,
    dir: tempfile::TempDir,
}

impl PrivatePostgres {
    pub async fn start() -> PrivatePostgres {
        let bin = std::env::var("PG_BIN").expect(
            "this test starts its own PostgreSQL: set PG_BIN to PostgreSQL's bin folder \
             (scripts/test and /tmp/rouge-env.sh export it)",
        );
        let base = std::env::var("ROUGE_TEST_TMP").expect(
            "this test starts its own PostgreSQL: set ROUGE_TEST_TMP to a folder the postgres \
             user may enter (scripts/test exports it)",
        );
        let dir = tempfile::Builder::new()
            .prefix("private-pg")
            .tempdir_in(base)
            .expect("temporary folder for PostgreSQL");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let pg = PrivatePostgres {
            port,
            bin: bin.into(),
            dir,
        };
        if let Some(uid) = postgres_uid_when_root() {
            std::os::unix::fs::chown(pg.dir.path(), Some(uid), None).expect("chown to postgres");
        }
        let data = pg.data();
        pg.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "rouge",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
        )
        .await;
        let (log, options) = (pg.log(), pg.options());
        pg.run(
            "pg_ctl",
            &[
                "-D", &data, "-l", &log, "-w", "-t", "60", "-o", &options, "start",
            ],
        )
        .await;
        pg
    }

    pub fn admin_url(&self) -> String {
        format!("postgres://rouge@127.0.0.1:{}/postgres", self.port)
    }

    /// `pg_ctl restart -m fast`: connections are terminated (57P01), the server stops and starts
    /// again. Returns once it accepts connections.
    pub async fn restart_fast(&self) {
        let (data, log, options) = (self.data(), self.log(), self.options());
        self.run(
            "pg_ctl",
            &[
                "-D", &data, "-l", &log, "-w", "-t", "60", "-m", "fast", "-o", &options, "restart",
            ],
        )
        .await;
    }

    fn data(&self) -> String {
        format!("{}/data", self.dir.path().display())
    }

    fn log(&self) -> String {
        format!("{}/pg.log", self.dir.path().display())
    }

    fn options(&self) -> String {
        format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            self.port,
            self.dir.path().display()
        )
    }

    async fn run(&self, program: &str, args: &[&str]) {
        let output = self
            .command(program, args)
            .output()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "could not run {program} from PG_BIN={}: {e}",
                    self.bin.display()
                )
            });
        assert!(
            output.status.success(),
            "{program} failed: {}{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(self.log()).unwrap_or_default()
        );
    }

    fn command(&self, program: &str, args: &[&str]) -> tokio::process::Command {
        let path = self.bin.join(program);
        // initdb and postgres refuse to run as root.
        let mut cmd = if postgres_uid_when_root().is_some() {
            let mut cmd = tokio::process::Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            tokio::process::Command::new(path)
        };
        cmd.args(args).stdin(std::process::Stdio::null());
        cmd
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data();
        let args = ["-D", data.as_str(), "-m", "immediate", "-w", "stop"];
        let path = self.bin.join("pg_ctl");
        let status = if postgres_uid_when_root().is_some() {
            std::process::Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(path)
                .args(args)
                .output()
        } else {
            std::process::Command::new(path).args(args).output()
        };
        if let Err(e) = status {
            eprintln!("could not stop the private PostgreSQL: {e}");
        }
    }
}

/// The postgres user's uid when this process runs as root (PostgreSQL refuses root).
fn postgres_uid_when_root() -> Option<u32> {
    let id = |args: &[&str]| {
        std::process::Command::new("id")
            .args(args)
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<u32>().ok())
    };
    if id(&["-u"]) != Some(0) {
        return None;
    }
    Some(
        id(&["-u", "postgres"])
            .expect("running as root needs a postgres user (scripts/services.sh makes one)"),
    )
}

/// A migrated database at `url` (for a private server).
pub async fn migrated_postgres(url: &str, max_connections: u32) -> TestDb {
    let conn = api::connect_database(url, max_connections)
        .await
        .expect("connect to the private PostgreSQL");
    api::migrate(&conn).await.expect("migrate");
    TestDb {
        conn,
        url: url.to_owned(),
        _dir: None,
    }
}

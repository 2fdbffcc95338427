//! `rouge`: serve, migrate, seed, admin, codes, export-schema.
// The staff schema's merged root types nest deeper than the default limit of 128.
#![recursion_limit = "256"]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use api::config::Config;
use clap::{Parser, Subcommand};

mod admin;
mod codes;

// Requests allocate many small, short-lived objects (GraphQL values, JSON); glibc's malloc
// spent a quarter of the server's time on them in the booking benchmark.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "rouge",
    about = "The Rouge backend: members, coupons, flash sales, bookings, scan-for-gift, campaigns, distributors"
)]
struct Cli {
    /// A TOML configuration file (also ROUGE_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server. With no configuration: SQLite under ./data, in-process store and
    /// fake WeChat, demo data seeded on first start.
    Serve {
        /// Address to listen on (also ROUGE_LISTEN); port 0 picks a free one.
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Apply pending database migrations (a release step in production).
    Migrate,
    /// Run the scheduled work (closing unpaid orders, refunds, points expiry, reminders,
    /// campaigns). Any number of workers may run: each task is leased to one at a time.
    /// Serves /healthz, /readyz and /metrics on ROUGE_JOBS__WORKER_LISTEN (127.0.0.1:8081).
    Worker,
    /// Load data.
    Seed {
        /// The demo stores, staff (hq-demo, finance-demo, manager-demo, ba-demo, ...), distributor (dist-demo) and members.
        #[arg(long)]
        demo: bool,
    },
    /// Scan-for-gift pack codes: the printer's file and the redemption export.
    Codes {
        #[command(subcommand)]
        command: codes::CodesCommand,
    },
    /// Accounts: `admin create` makes the first HQ account of a deployment.
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// Members' data rights requested through customer service.
    Members {
        #[command(subcommand)]
        command: MembersCommand,
    },
    /// Sales reports.
    Reports {
        #[command(subcommand)]
        command: ReportsCommand,
    },
    /// Write consumer.graphql, staff.graphql and distributor.graphql.
    ExportSchema {
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum MembersCommand {
    /// Write everything Rouge holds about a member (the document `exportMyData` returns) to a
    /// new file, readable by its owner only. The export is audited with --reference.
    Export {
        #[arg(long)]
        member: i64,
        #[arg(long)]
        out: PathBuf,
        /// The customer-service ticket the request came with, kept in the audit log.
        #[arg(long, default_value = "")]
        reference: String,
    },
}

#[derive(Subcommand)]
enum ReportsCommand {
    /// Export a sales report to a new CSV or XLSX file, as --staff sees it (her role's access
    /// and store scope), with a progress bar; audited. LINES: one row per sales fact, phones
    /// masked.
    Export {
        #[command(flatten)]
        report: api::reports_export::ReportArgs,
        /// Metrics, comma-separated (net_revenue, margin, margin_pct, orders, units,
        /// average_order_value, members, coupon_discount).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "net_revenue,margin,orders,units"
        )]
        metrics: Vec<String>,
        /// csv or xlsx.
        #[arg(long, default_value = "csv")]
        format: String,
        /// summary (the report's rows) or lines (one row per sales fact).
        #[arg(long, default_value = "summary")]
        detail: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Draw one metric of a sales report along its days, weeks or months as an SVG line chart
    /// (one line per store, BA, ...), as --staff sees it.
    Chart {
        #[command(flatten)]
        report: api::reports_export::ReportArgs,
        /// The metric drawn (net_revenue, orders, ...).
        #[arg(long, default_value = "net_revenue")]
        metric: String,
        /// The chart's title (default: the metric and the range).
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        out: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::ExportSchema { out } = &cli.command {
        return export_schema(out);
    }
    let config = Config::load(cli.config.as_deref())?;
    let telemetry = api::telemetry::init(&config.telemetry, config.log_format)?;
    let result = run(cli.command, config).await;
    // Sends the spans still buffered (off the async threads: the exporter blocks).
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    result
}

async fn run(command: Command, mut config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve { listen } => {
            if let Some(listen) = listen {
                config.listen = listen;
            }
            serve(config).await
        }
        Command::Worker => worker(config).await,
        Command::Migrate => {
            let db = open_database(&config).await?;
            api::migrate(&db).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Seed { demo } => {
            if !demo {
                anyhow::bail!("nothing to seed: pass --demo");
            }
            if config.is_production() {
                anyhow::bail!("demo data is never loaded in production");
            }
            let seeded = seed_demo(&config).await?;
            println!(
                "{}",
                if seeded {
                    "demo data loaded"
                } else {
                    "demo data was already there"
                }
            );
            Ok(())
        }
        Command::Codes { command } => {
            let db = open_database(&config).await?;
            codes::run(&config, db, command).await
        }
        Command::Admin { command } => {
            let db = open_database(&config).await?;
            admin::run(&config, db, command).await
        }
        Command::Members {
            command:
                MembersCommand::Export {
                    member,
                    out,
                    reference,
                },
        } => {
            let db = open_database(&config).await?;
            let (state, wechat) = api::state_from_config(&config, db, "http://127.0.0.1").await?;
            let written = api::members_export::write(&state, member, &reference, &out).await;
            wechat.shutdown().await;
            written?;
            println!("wrote member {member}'s data to {}", out.display());
            Ok(())
        }
        Command::Reports {
            command:
                ReportsCommand::Export {
                    report,
                    metrics,
                    format,
                    detail,
                    out,
                },
        } => {
            let req = api::reports_export::ExportRequest {
                report,
                metrics,
                format: api::reports_export::parse_format(&format)?,
                detail: api::reports_export::parse_detail(&detail)?,
            };
            let db = open_database(&config).await?;
            let (state, wechat) = api::state_from_config(&config, db, "http://127.0.0.1").await?;
            let written = api::reports_export::run(&state, &req, &out).await;
            wechat.shutdown().await;
            let rows = written?;
            println!("wrote {rows} rows to {}", out.display());
            Ok(())
        }
        Command::Reports {
            command:
                ReportsCommand::Chart {
                    report,
                    metric,
                    title,
                    out,
                },
        } => {
            let req = api::reports_export::ChartRequest {
                report,
                metric,
                title,
            };
            let db = open_database(&config).await?;
            let (state, wechat) = api::state_from_config(&config, db, "http://127.0.0.1").await?;
            let drawn = api::reports_export::chart(&state, &req, &out).await;
            wechat.shutdown().await;
            drawn?;
            println!("drew {}", out.display());
            Ok(())
        }
        Command::ExportSchema { .. } => Ok(()),
    }
}

/// `rouge seed --demo`: the demo data, with members whose openids the fake WeChat hands out.
#[cfg(feature = "demo")]
async fn seed_demo(config: &Config) -> anyhow::Result<bool> {
    let db = open_database(config).await?;
    api::migrate(&db).await?;
    let (state, _wechat) = api::state_from_config(config, db, "http://127.0.0.1").await?;
    api::demo::seed(&state).await
}

#[cfg(not(feature = "demo"))]
async fn seed_demo(_: &Config) -> anyhow::Result<bool> {
    anyhow::bail!("this build has no demo data (it was built without the `demo` feature)")
}

async fn open_database(config: &Config) -> anyhow::Result<sea_orm::DatabaseConnection> {
    if config.database.url.is_none() {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("could not create {}", config.data_dir.display()))?;
    }
    api::connect_database(&config.database_url(), config.database_pool_size()).await
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let db = open_database(&config).await?;
    if config.is_production() {
        let pending = api::pending_migrations(&db).await?;
        if !pending.is_empty() {
            anyhow::bail!(
                "the database is behind this release; run `rouge migrate` first (pending: {})",
                pending.join(", ")
            );
        }
    } else {
        api::migrate(&db).await?;
    }
    // Bind first: the fake WeChat needs our address to send payment notifications to.
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("could not listen on {}", config.listen))?;
    let base = api::local_url(&listener)?;
    let (state, wechat) = api::state_from_config(&config, db, &base).await?;
    #[cfg(feature = "demo")]
    if wechat.is_fake() && api::demo::seed(&state).await? {
        tracing::info!("demo data seeded (first start)");
    }
    println!("rouge listening on {base}");
    println!("  consumer GraphQL:    {base}/graphql/consumer");
    println!("  staff GraphQL:       {base}/graphql/staff");
    println!("  distributor GraphQL: {base}/graphql/distributor");
    if config.introspection() {
        println!("  GraphiQL:            open any of the three URLs above in a browser");
    }
    if wechat.is_fake() {
        println!("  WeChat: in-process fake (log in with codes like test:demo-lily:1)");
        println!(
            "  demo staff: hq-demo, finance-demo, manager-demo, ba-demo, ba-bj-demo, ba-gz-demo; distributor: dist-demo (password demo-password)"
        );
    }
    tracing::info!(
        env = ?config.env,
        database = if config.database_url().starts_with("postgres") { "postgresql" } else { "sqlite" },
        kv = if secrecy::ExposeSecret::expose_secret(&config.kv.url) == "memory" { "in-process" } else { "redis" },
        "started"
    );
    let (stop_jobs, jobs_stopped) = tokio::sync::watch::channel(false);
    let jobs = config
        .jobs
        .in_serve
        .then(|| tokio::spawn(api::run_worker(state.clone(), jobs_stopped)));
    #[cfg_attr(not(feature = "demo"), allow(unused_mut))]
    let mut options = api::http_options(&config);
    #[cfg(feature = "demo")]
    {
        options.dev_wechat_pay = wechat.dev_wechat_pay(&config);
        if options.dev_wechat_pay.is_some() {
            println!(
                "  fake WeChat Pay: POST {base}{}/<outTradeNo>/succeed or /fail",
                api::dev_pay::DEV_PAY_PREFIX
            );
        }
    }
    api::serve(
        state,
        options,
        listener,
        shutdown_signal(),
        Duration::from_secs(config.http.shutdown_grace_secs),
    )
    .await?;
    let _ = stop_jobs.send(true);
    if let Some(jobs) = jobs {
        let _ = jobs.await;
    }
    wechat.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

async fn worker(config: Config) -> anyhow::Result<()> {
    let db = open_database(&config).await?;
    if config.is_production() && !api::pending_migrations(&db).await?.is_empty() {
        anyhow::bail!("the database is behind this release; run `rouge migrate` first");
    }
    let (state, _wechat) =
        api::state_from_config(&config, db, &format!("http://{}", config.listen)).await?;
    // Probes and metrics for the worker's Deployment (ROUGE_JOBS__WORKER_LISTEN).
    let listener = tokio::net::TcpListener::bind(config.jobs.worker_listen)
        .await
        .with_context(|| format!("could not listen on {}", config.jobs.worker_listen))?;
    let probes_url = api::local_url(&listener)?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut probes_stopped = stopped.clone();
    let probes = tokio::spawn(api::serve_worker_probes(
        state.clone(),
        listener,
        async move {
            let _ = probes_stopped.wait_for(|stop| *stop).await;
        },
    ));
    let mut run = tokio::spawn(api::run_worker(state, stopped));
    println!("rouge worker running; probes and metrics on {probes_url}");
    // Scheduled work that ends on its own is a failure: exit, so the worker is restarted.
    let ended = tokio::select! {
        () = shutdown_signal() => None,
        ended = &mut run => Some(ended),
    };
    let _ = stop.send(true);
    let _ = probes.await;
    if let Some(ended) = ended {
        anyhow::bail!("the scheduled work stopped unexpectedly: {ended:?}");
    }
    let _ = run.await;
    Ok(())
}

/// SIGTERM (Kubernetes) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: draining in-flight requests");
}

fn export_schema(out: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    for (name, sdl) in graphql_schema::sdl() {
        let path = out.join(format!("{name}.graphql"));
        std::fs::write(&path, sdl)
            .with_context(|| format!("could not write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

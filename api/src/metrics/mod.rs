//! Prometheus metrics. The recorder is process-wide (the `metrics` macros write to it), so it is
//! installed once and shared by every server the process runs (tests run several).
//!
//! What is measured (the table in docs/operations.md lists every family):
//! - HTTP requests by route and status class;
//! - each GraphQL operation: duration by endpoint, operation name (bounded, see
//!   [`operation_label`]) and outcome (`ok` or the first error's `extensions.code`), and every
//!   GraphQL error by endpoint and code, whatever the HTTP status it travelled in;
//! - the worker's task passes: runs, failures, duration and lag ([`WorkerMetrics`]);
//! - the database pool and the key-value store, refreshed on every scrape ([`Metrics::refresh`]);
//! - the process (CPU, memory, file descriptors, start time) from Linux's /proc, on every scrape.

mod process;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use domain::AppState;
use domain::platform::jobs::{PassOutcome, TaskObserver};
use metrics::{describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sea_orm::{DatabaseBackend, DatabaseConnection};

#[derive(Clone)]
pub struct Metrics {
    handle: Option<Arc<PrometheusHandle>>,
}

static HANDLE: OnceLock<Option<Arc<PrometheusHandle>>> = OnceLock::new();

/// Distinct operation names kept per endpoint; later names are counted as `other`.
pub const MAX_OPERATION_NAMES: usize = 100;
/// Longer operation names are counted as `other`.
const MAX_OPERATION_NAME_LEN: usize = 64;
/// The label of an operation without a (valid) name.
pub const ANONYMOUS_OPERATION: &str = "anonymous";
/// The label of operations past [`MAX_OPERATION_NAMES`].
pub const OTHER_OPERATION: &str = "other";

/// Every family with its help text, given once at installation (`# HELP` lines).
fn describe() {
    describe_counter!(
        "http_requests_total",
        "HTTP requests answered, by route and status class"
    );
    describe_histogram!(
        "http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time to answer an HTTP request, by route"
    );
    describe_histogram!(
        "graphql_operation_duration_seconds",
        metrics::Unit::Seconds,
        "Time to run one GraphQL operation (parse, checks and execution), by endpoint, \
         operation name and outcome (ok or the first error's code)"
    );
    describe_counter!(
        "graphql_errors_total",
        "GraphQL errors returned to clients, by endpoint and extensions.code (whatever the \
         HTTP status)"
    );
    describe_counter!(
        "worker_task_runs_total",
        "Passes of a scheduled task, by task and outcome (ok, error)"
    );
    describe_counter!(
        "worker_task_failures_total",
        "Passes of a scheduled task that failed, by task"
    );
    describe_counter!(
        "worker_task_handled_total",
        "Things handled by a scheduled task's passes (orders closed, points expired, ...), by task"
    );
    describe_histogram!(
        "worker_task_duration_seconds",
        metrics::Unit::Seconds,
        "Time one pass of a scheduled task took, by task"
    );
    describe_histogram!(
        "worker_task_lag_seconds",
        metrics::Unit::Seconds,
        "How late a scheduled task's pass started after it was due, by task"
    );
    describe_gauge!(
        "worker_task_last_success_timestamp_seconds",
        metrics::Unit::Seconds,
        "Unix time of a scheduled task's last successful pass, by task"
    );
    describe_gauge!(
        "db_pool_connections",
        "Database pool connections, by state (idle, in_use)"
    );
    describe_gauge!(
        "db_pool_max_connections",
        "The database pool's maximum size"
    );
    describe_gauge!(
        "kv_up",
        "1 when the key-value store (Redis or in-process) answered a ping at the last scrape"
    );
    describe_gauge!(
        "kv_ping_seconds",
        metrics::Unit::Seconds,
        "Time the key-value store took to answer a ping at the last scrape"
    );
}

/// How often recorded histogram samples are folded into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The recorder keeps every histogram sample (two per request) in a queue until upkeep folds
/// it into the buckets; `install_recorder` leaves running upkeep to us. Without it the queue is
/// drained only when /metrics is scraped, so a server nobody scrapes (the embedded default, a
/// bench) grew by about 19 bytes a request without a plateau (issue 19's soak). A thread, not a
/// task: it needs no runtime and never waits behind requests.
fn spawn_upkeep(handle: Arc<PrometheusHandle>) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                handle.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "metrics upkeep not started; histograms drain on scrape only");
    }
}

impl Metrics {
    pub fn install() -> Self {
        let handle = HANDLE.get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    30.0,
                ])
                .ok()?
                .install_recorder()
                .map_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
                .ok()?;
            describe();
            let handle = Arc::new(handle);
            spawn_upkeep(Arc::clone(&handle));
            Some(handle)
        });
        Self {
            handle: handle.clone(),
        }
    }

    pub fn observe_request(&self, route: &'static str, status: u16, elapsed: Duration) {
        let status = match status {
            200..=299 => "2xx",
            400..=499 => "4xx",
            500..=599 => "5xx",
            _ => "other",
        };
        metrics::counter!("http_requests_total", "route" => route, "status" => status).increment(1);
        metrics::histogram!("http_request_duration_seconds", "route" => route)
            .record(elapsed.as_secs_f64());
    }

    /// One GraphQL operation: `operation` is a label from [`operation_label`], `codes` the
    /// `extensions.code` of each error in its response (empty when it succeeded).
    pub fn observe_operation(
        &self,
        endpoint: &'static str,
        operation: String,
        codes: &[&str],
        elapsed: Duration,
    ) {
        let outcome = codes
            .first()
            .map_or_else(|| "ok".to_owned(), |c| error_code_label(c));
        metrics::histogram!(
            "graphql_operation_duration_seconds",
            "endpoint" => endpoint,
            "operation" => operation,
            "outcome" => outcome,
        )
        .record(elapsed.as_secs_f64());
        for code in codes {
            metrics::counter!(
                "graphql_errors_total",
                "endpoint" => endpoint,
                "code" => error_code_label(code),
            )
            .increment(1);
        }
    }

    /// Brings the pool and key-value gauges up to date (called on each scrape).
    pub async fn refresh(&self, state: &AppState) {
        record_pool(&state.db);
        let started = Instant::now();
        let ping = tokio::time::timeout(Duration::from_secs(1), state.kv.ping()).await;
        let up = matches!(ping, Ok(Ok(())));
        metrics::gauge!("kv_up").set(if up { 1.0 } else { 0.0 });
        metrics::gauge!("kv_ping_seconds").set(started.elapsed().as_secs_f64());
    }

    /// The Prometheus text: every recorded family, then the process's own.
    pub fn render(&self) -> String {
        let mut text = self.handle.as_ref().map(|h| h.render()).unwrap_or_default();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&process::render());
        text
    }
}

/// Error codes are the server's own (`ErrorCode::as_str`: upper-case words); anything else (a
/// code no layer should produce) is one label, so a stray value cannot add series.
fn error_code_label(code: &str) -> String {
    let plausible =
        (1..=32).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
    if plausible { code } else { "OTHER" }.to_owned()
}

fn record_pool(db: &DatabaseConnection) {
    let (size, idle, max) = match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        DatabaseBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        _ => return,
    };
    let idle = u32::try_from(idle).unwrap_or(u32::MAX).min(size);
    metrics::gauge!("db_pool_connections", "state" => "idle").set(f64::from(idle));
    metrics::gauge!("db_pool_connections", "state" => "in_use").set(f64::from(size - idle));
    metrics::gauge!("db_pool_max_connections").set(f64::from(max));
}

/// The operation label for a GraphQL operation: its name when the document named and
/// validated it (`name` is `None` otherwise), `anonymous` without one, and `other` once an
/// endpoint has seen [`MAX_OPERATION_NAMES`] distinct names (or for an overlong name), so
/// clients cannot grow the series without bound.
pub fn operation_label(endpoint: &'static str, name: Option<&str>) -> String {
    static SEEN: OnceLock<Mutex<HashMap<&'static str, HashSet<String>>>> = OnceLock::new();
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return ANONYMOUS_OPERATION.to_owned();
    };
    if name.len() > MAX_OPERATION_NAME_LEN {
        return OTHER_OPERATION.to_owned();
    }
    let seen = SEEN.get_or_init(Default::default);
    let mut seen = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let names = seen.entry(endpoint).or_default();
    if names.contains(name) {
        return name.to_owned();
    }
    if names.len() >= MAX_OPERATION_NAMES {
        return OTHER_OPERATION.to_owned();
    }
    names.insert(name.to_owned());
    name.to_owned()
}

/// Records the worker's task passes.
pub struct WorkerMetrics;

impl TaskObserver for WorkerMetrics {
    fn pass(&self, task: &'static str, lag: Duration, elapsed: Duration, outcome: PassOutcome<'_>) {
        let ok = matches!(outcome, PassOutcome::Done(_));
        metrics::counter!("worker_task_runs_total", "task" => task, "outcome" => if ok { "ok" } else { "error" })
            .increment(1);
        metrics::histogram!("worker_task_duration_seconds", "task" => task)
            .record(elapsed.as_secs_f64());
        metrics::histogram!("worker_task_lag_seconds", "task" => task).record(lag.as_secs_f64());
        match outcome {
            PassOutcome::Done(handled) => {
                metrics::counter!("worker_task_handled_total", "task" => task).increment(handled);
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                metrics::gauge!("worker_task_last_success_timestamp_seconds", "task" => task)
                    .set(now.as_secs_f64());
            }
            PassOutcome::Failed(_) => {
                metrics::counter!("worker_task_failures_total", "task" => task).increment(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_bounded() {
        // An endpoint label of this test's own: the set of seen names is process-wide.
        let endpoint = "operation_names_are_bounded";
        assert_eq!(operation_label(endpoint, None), ANONYMOUS_OPERATION);
        assert_eq!(operation_label(endpoint, Some("")), ANONYMOUS_OPERATION);
        assert_eq!(
            operation_label(endpoint, Some(&"x".repeat(MAX_OPERATION_NAME_LEN + 1))),
            OTHER_OPERATION
        );
        for i in 0..MAX_OPERATION_NAMES {
            assert_eq!(
                operation_label(endpoint, Some(&format!("Op{i}"))),
                format!("Op{i}")
            );
        }
        assert_eq!(
            operation_label(endpoint, Some("OneTooMany")),
            OTHER_OPERATION
        );
        assert_eq!(
            operation_label(endpoint, Some("Op7")),
            "Op7",
            "known names stay"
        );
        assert_eq!(
            operation_label("operation_names_are_bounded_2", Some("OneTooMany")),
            "OneTooMany",
            "each endpoint has its own allowance"
        );
    }

    #[test]
    fn error_codes_are_labels_only_when_they_look_like_codes() {
        assert_eq!(error_code_label("BAD_USER_INPUT"), "BAD_USER_INPUT");
        assert_eq!(error_code_label("bad input"), "OTHER");
        assert_eq!(error_code_label(&"A".repeat(40)), "OTHER");
    }
}

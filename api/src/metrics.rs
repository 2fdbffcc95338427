//! Prometheus metrics. The recorder is process-wide (the `metrics` macros write to it), so it is
//! installed once and shared by every server the process runs (tests run several).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

#[derive(Clone)]
pub struct Metrics {
    handle: Option<Arc<PrometheusHandle>>,
}

static HANDLE: OnceLock<Option<Arc<PrometheusHandle>>> = OnceLock::new();

impl Metrics {
    pub fn install() -> Self {
        let handle = HANDLE.get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ])
                .ok()?
                .install_recorder()
                .map_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
                .ok()?;
            Some(Arc::new(handle))
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

    pub fn render(&self) -> String {
        self.handle.as_ref().map(|h| h.render()).unwrap_or_default()
    }
}

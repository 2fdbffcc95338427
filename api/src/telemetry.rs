//! Logs and distributed tracing. [`init`] installs the process's subscriber: the log lines
//! (text or JSON on stderr) and an OpenTelemetry layer, so every `tracing` span is also an
//! OpenTelemetry span with W3C trace and span ids.
//!
//! - Incoming: a request's `traceparent` header makes the request span a child of the caller's
//!   span ([`join_trace`]); the trace id is a field of the request span (so it is on every log
//!   line of the request) and the response carries a `traceparent` naming the server's span.
//! - Outgoing: calls to WeChat carry the current span's `traceparent` (the global propagator set
//!   here, used by `wechat-integration`).
//! - Export: with `telemetry.otlp_endpoint`, spans are batched on a background thread and posted
//!   as OTLP/HTTP protobuf to `<endpoint>/v1/traces`; without it, nothing leaves the process.

use std::time::Duration;

use anyhow::Context as _;
use opentelemetry::propagation::{Extractor, TextMapPropagator as _};
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use poem::http::HeaderMap;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::{LogFormat, TelemetryConfig};

/// The installed tracing: flush or shut it down to send what is still buffered.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Exports every finished span now (blocks until the collector answered or timed out).
    pub fn force_flush(&self) -> anyhow::Result<()> {
        self.provider
            .force_flush()
            .map_err(|e| anyhow::anyhow!("flushing spans failed: {e}"))
    }

    /// Exports what is left and stops the exporter (at process exit).
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "span export did not shut down cleanly");
        }
    }
}

/// Where an OTLP/HTTP collector takes spans: `<base>/v1/traces`.
pub fn traces_url(base: &url::Url) -> String {
    let base = base.as_str().trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{base}/v1/traces")
    }
}

/// Builds the tracer provider: sampling, `service.name`, and the OTLP exporter when configured.
pub fn tracer_provider(config: &TelemetryConfig) -> anyhow::Result<SdkTracerProvider> {
    let mut builder = SdkTracerProvider::builder()
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            config.sampling_ratio,
        ))))
        .with_resource(
            Resource::builder()
                .with_service_name(config.service_name.clone())
                .build(),
        );
    if let Some(endpoint) = &config.otlp_endpoint {
        // An https collector needs a TLS provider (reqwest is built without a default one).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(traces_url(endpoint))
            .with_timeout(Duration::from_secs(5))
            .build()
            .context("could not build the OTLP span exporter")?;
        builder = builder.with_batch_exporter(exporter);
    }
    Ok(builder.build())
}

/// Installs the process-wide subscriber (logs and spans) and the W3C trace-context propagator.
/// Fails if a subscriber is already installed.
pub fn init(config: &TelemetryConfig, format: LogFormat) -> anyhow::Result<Telemetry> {
    let provider = tracer_provider(config)?;
    let tracer = provider.tracer("rouge");
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let text = (format == LogFormat::Text)
        .then(|| tracing_subscriber::fmt::layer().with_writer(std::io::stderr));
    let json = (format == LogFormat::Json).then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .try_init()
        .context("a tracing subscriber is already installed")?;
    if let Some(endpoint) = &config.otlp_endpoint {
        tracing::info!(endpoint = %traces_url(endpoint), "exporting spans over OTLP");
    }
    Ok(Telemetry { provider })
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Makes `span` (a request's span, not yet entered) a child of the caller's span named in
/// the request's `traceparent`, if any, and records the trace id in its `trace_id` field.
/// Returns the `traceparent` naming `span`, for the response; `None` when tracing is not
/// installed (a library user that did not call [`init`]).
pub fn join_trace(span: &tracing::Span, headers: &HeaderMap) -> Option<String> {
    // The W3C propagator directly: incoming context is honoured even where `init` (which also
    // sets the global propagator for outgoing calls) was not called.
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
    let context = span.context();
    let otel_span = context.span();
    let ids = otel_span.span_context();
    if !ids.is_valid() {
        return None;
    }
    span.record("trace_id", tracing::field::display(ids.trace_id()));
    Some(format!(
        "00-{}-{}-{:02x}",
        ids.trace_id(),
        ids.span_id(),
        ids.trace_flags().to_u8()
    ))
}

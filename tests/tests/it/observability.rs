//! What an operator sees: the Prometheus metrics of the API and of the worker, and the trace
//! context a request joins, echoes, passes on to WeChat and exports over OTLP.
//!
//! The metrics recorder is process-wide. nextest runs each test in its own process, so counts
//! are exact there; under `cargo test` other tests add to the shared families, so each test
//! uses operation and task names of its own and compares error counters before and after.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use domain::AppState;
use domain::platform::jobs::{PeriodicTask, TaskError};
use rouge_tests::{Backend, TestApp, eventually, on_both_backends};
use serde_json::json;

/// One sample of the Prometheus text: family name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a value");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|p| !p.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').expect("label=value");
                    (k.to_owned(), v.trim_matches('"').to_owned())
                })
                .collect();
            Sample {
                name: name.to_owned(),
                labels,
                value: value.parse().unwrap_or_else(|_| panic!("value of {line}")),
            }
        })
        .collect()
}

/// The value of the series `name` whose labels include `labels` (summed over the others).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let matching: Vec<f64> = samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .collect();
    (!matching.is_empty()).then(|| matching.iter().sum())
}

async fn scrape(app: &TestApp, base: &str) -> (String, Vec<Sample>) {
    let resp = app
        .http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let samples = parse(&text);
    (text, samples)
}

/// Every family in the text has `# HELP` and `# TYPE` lines, and every sample belongs to one.
fn assert_every_family_documented(text: &str, samples: &[Sample]) {
    let declared = |prefix: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .filter_map(|rest| rest.split_whitespace().next())
            .map(str::to_owned)
            .collect()
    };
    let helps = declared("# HELP ");
    let types = declared("# TYPE ");
    for family in &types {
        assert!(helps.contains(family), "no # HELP for {family}:\n{text}");
    }
    for sample in samples {
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                sample
                    .name
                    .strip_suffix(suffix)
                    .filter(|f| types.iter().any(|t| t == f))
            })
            .unwrap_or(&sample.name);
        assert!(
            helps.iter().any(|h| h == family),
            "no # HELP for the family of {}:\n{text}",
            sample.name
        );
    }
}

/// After an operation that succeeds, one that fails validation, one refused by the domain
/// (bad input), one that needs a member and one with a forged token, the scrape shows each
/// operation by endpoint, name and outcome, the errors by code, and the process, pool and
/// key-value families, every family with its help text.
async fn metrics_count_operations_and_errors_by_code(backend: Backend) {
    let app = TestApp::start(backend).await;
    let suffix = match backend {
        Backend::Embedded => "Embedded",
        Backend::Production => "Production",
    };
    let (_, before) = scrape(&app, &app.base_url).await;
    let errors = |samples: &[Sample], code: &str| {
        value(
            samples,
            "graphql_errors_total",
            &[("endpoint", "consumer"), ("code", code)],
        )
        .unwrap_or(0.0)
    };

    let consumer = app.consumer();
    let ok = format!("Ping{suffix}");
    consumer
        .ok(&format!("query {ok} {{ __typename }}"), json!({}))
        .await;
    // Not valid against the schema: counted without its (client-chosen) name.
    let invalid = format!("Invalid{suffix}");
    let code = consumer
        .err(&format!("query {invalid} {{ noSuchField }}"), json!({}))
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    // Valid, refused by the domain.
    let bad = format!("BadProduct{suffix}");
    let code = consumer
        .err(
            &format!("query {bad} {{ product(id: \"not an id\") {{ id }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(code, "BAD_USER_INPUT");
    let me = format!("Me{suffix}");
    let code = consumer
        .err(&format!("query {me} {{ me {{ id }} }}"), json!({}))
        .await;
    assert_eq!(code, "UNAUTHENTICATED");
    // A forged token is refused with HTTP 401, before any operation runs.
    let forged = consumer
        .with_token("not-a-token")
        .raw("query Forged { __typename }", json!({}))
        .await;
    assert_eq!(forged["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");

    let (text, after) = scrape(&app, &app.base_url).await;
    let operation = |name: &str, outcome: &str| {
        value(
            &after,
            "graphql_operation_duration_seconds_count",
            &[
                ("endpoint", "consumer"),
                ("operation", name),
                ("outcome", outcome),
            ],
        )
    };
    assert_eq!(operation(&ok, "ok"), Some(1.0), "{text}");
    assert_eq!(operation(&bad, "BAD_USER_INPUT"), Some(1.0), "{text}");
    assert_eq!(operation(&me, "UNAUTHENTICATED"), Some(1.0), "{text}");
    assert_eq!(
        operation(&invalid, "BAD_USER_INPUT"),
        None,
        "an invalid document's name is not a label"
    );
    assert!(operation("anonymous", "BAD_USER_INPUT").is_some(), "{text}");
    assert!(
        operation("anonymous", "UNAUTHENTICATED").is_some(),
        "{text}"
    );
    assert_eq!(operation("Forged", "ok"), None);
    assert!(
        text.contains("graphql_operation_duration_seconds_bucket{"),
        "a histogram: {text}"
    );
    assert!(
        errors(&after, "BAD_USER_INPUT") - errors(&before, "BAD_USER_INPUT") >= 2.0,
        "{text}"
    );
    assert!(
        errors(&after, "UNAUTHENTICATED") - errors(&before, "UNAUTHENTICATED") >= 2.0,
        "{text}"
    );

    // The process.
    for family in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_start_time_seconds",
    ] {
        let v = value(&after, family, &[]).unwrap_or_else(|| panic!("{family}: {text}"));
        assert!(v >= 0.0, "{family}");
    }
    assert!(value(&after, "process_resident_memory_bytes", &[]).unwrap() > 1_000_000.0);
    assert!(value(&after, "process_open_fds", &[]).unwrap() >= 3.0);
    // The pool and the key-value store.
    assert!(
        value(&after, "db_pool_connections", &[("state", "idle")]).is_some(),
        "{text}"
    );
    assert!(
        value(&after, "db_pool_connections", &[("state", "in_use")]).is_some(),
        "{text}"
    );
    assert!(value(&after, "db_pool_max_connections", &[]).unwrap() >= 1.0);
    assert_eq!(value(&after, "kv_up", &[]), Some(1.0), "{text}");
    assert!(value(&after, "kv_ping_seconds", &[]).is_some());
    // HTTP requests as before.
    assert!(
        value(
            &after,
            "http_requests_total",
            &[("route", "graphql_consumer"), ("status", "4xx")]
        )
        .is_some(),
        "the forged token's 401: {text}"
    );
    assert_every_family_documented(&text, &after);
}

on_both_backends!(metrics_count_operations_and_errors_by_code);

/// A task that fails every pass.
struct FailingTask(&'static str);

#[async_trait]
impl PeriodicTask for FailingTask {
    fn name(&self) -> &'static str {
        self.0
    }
    fn every(&self) -> Duration {
        Duration::from_millis(20)
    }
    async fn run(&self, _: &AppState) -> Result<u64, TaskError> {
        Err("the test task fails".into())
    }
}

/// A real task run once, and a failing one on the scheduler: the worker's own listener shows
/// runs, failures, duration and lag by task.
async fn worker_metrics_show_runs_failures_duration_and_lag(backend: Backend) {
    let app = TestApp::start(backend).await;
    // The worker's probes and metrics listener, as `rouge worker` serves it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let worker_url = api::local_url(&listener).unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut probes_stopped = stopped.clone();
    let probes = tokio::spawn(api::serve_worker_probes(
        app.state.clone(),
        listener,
        async move {
            let _ = probes_stopped.wait_for(|s| *s).await;
        },
    ));

    let handled = api::worker::run_task_now(&app.state, &domain::payments::CloseOverdueOrders)
        .await
        .unwrap();
    let failing: &'static str = match backend {
        Backend::Embedded => "test-failing-task-embedded",
        Backend::Production => "test-failing-task-production",
    };
    let holder = format!("test-{}", uuid::Uuid::new_v4().simple());
    let scheduler = tokio::spawn(api::worker::schedule(
        app.state.clone(),
        vec![Arc::new(FailingTask(failing))],
        holder,
        stopped,
    ));
    eventually(30, "two failed passes of the test task", || async {
        let (_, samples) = scrape(&app, &worker_url).await;
        value(&samples, "worker_task_failures_total", &[("task", failing)])
            .is_some_and(|v| v >= 2.0)
    })
    .await;
    let _ = stop.send(true);
    scheduler.await.unwrap();
    probes.await.unwrap().unwrap();

    // The worker listener is gone; the same process-wide registry is on the API's /metrics.
    let (text, samples) = scrape(&app, &app.base_url).await;
    let task = "close-overdue-orders";
    assert!(
        value(
            &samples,
            "worker_task_runs_total",
            &[("task", task), ("outcome", "ok")]
        )
        .is_some_and(|v| v >= 1.0),
        "{text}"
    );
    assert!(
        value(
            &samples,
            "worker_task_duration_seconds_count",
            &[("task", task)]
        )
        .is_some_and(|v| v >= 1.0),
        "{text}"
    );
    assert!(
        value(&samples, "worker_task_lag_seconds_count", &[("task", task)])
            .is_some_and(|v| v >= 1.0),
        "{text}"
    );
    assert!(
        value(&samples, "worker_task_handled_total", &[("task", task)])
            .is_some_and(|v| v >= handled as f64),
        "{text}"
    );
    assert!(
        value(
            &samples,
            "worker_task_last_success_timestamp_seconds",
            &[("task", task)]
        )
        .is_some_and(|v| v > 1.7e9),
        "{text}"
    );
    let runs = value(
        &samples,
        "worker_task_runs_total",
        &[("task", failing), ("outcome", "error")],
    )
    .unwrap();
    let failures = value(&samples, "worker_task_failures_total", &[("task", failing)]).unwrap();
    assert_eq!(runs, failures, "every pass of the failing task failed");
    assert_eq!(
        value(
            &samples,
            "worker_task_runs_total",
            &[("task", failing), ("outcome", "ok")]
        ),
        None
    );
    assert_eq!(
        value(
            &samples,
            "worker_task_lag_seconds_count",
            &[("task", failing)]
        ),
        Some(runs),
        "a lag for every scheduled pass: {text}"
    );
    assert_every_family_documented(&text, &samples);
}

on_both_backends!(worker_metrics_show_runs_failures_duration_and_lag);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An OTLP/HTTP collector of our own: keeps the body of every `POST /v1/traces`.
async fn start_collector() -> (String, Arc<std::sync::Mutex<Vec<Vec<u8>>>>) {
    let received = Arc::new(std::sync::Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = api::local_url(&listener).unwrap();
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
    let sink = received.clone();
    let endpoint = poem::endpoint::make(move |mut req: poem::Request| {
        let sink = sink.clone();
        async move {
            if req.method() != poem::http::Method::POST || req.uri().path() != "/v1/traces" {
                return poem::Response::builder()
                    .status(poem::http::StatusCode::NOT_FOUND)
                    .finish();
            }
            let body = req.take_body().into_vec().await.unwrap_or_default();
            sink.lock().unwrap().push(body);
            poem::Response::builder()
                .content_type("application/x-protobuf")
                .finish()
        }
    });
    tokio::spawn(async move {
        let _ = poem::Server::new_with_acceptor(acceptor)
            .run(endpoint)
            .await;
    });
    (url, received)
}

/// A request with a `traceparent` joins the caller's trace: its span is the caller's span's
/// child, the response names it in its own `traceparent`, the call to WeChat carries the same
/// trace, and the spans reach an OTLP collector with the GraphQL operation's name.
///
/// This test installs the process-wide subscriber, so it is the only one that may (nextest
/// gives it a process of its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn traces_join_the_callers_trace_reach_wechat_and_are_exported() {
    let (collector, received) = start_collector().await;
    let config = api::config::TelemetryConfig {
        otlp_endpoint: Some(url::Url::parse(&collector).unwrap()),
        service_name: "rouge-under-test".to_owned(),
        sampling_ratio: 1.0,
    };
    let telemetry = api::telemetry::init(&config, api::config::LogFormat::Text)
        .expect("the only subscriber of this process");
    let app = TestApp::start(Backend::Embedded).await;

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let resp = app
        .http
        .post(format!("{}/graphql/consumer", app.base_url))
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .json(&json!({
            "query": "mutation TracedLogin($code: String!) { login(code: $code) { accessToken } }",
            "variables": { "code": "test:traced-lily:1" },
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let echoed = resp.headers()["traceparent"].to_str().unwrap().to_owned();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["data"]["login"]["accessToken"].is_string(), "{body}");
    let parts: Vec<&str> = echoed.split('-').collect();
    assert_eq!(parts.len(), 4, "{echoed}");
    assert_eq!(parts[0], "00");
    assert_eq!(parts[1], trace_id, "the caller's trace");
    assert_ne!(parts[2], caller_span, "the server's own span");
    assert_eq!(parts[3], "01", "sampled, as the caller asked");
    let server_span = parts[2].to_owned();

    // The call to WeChat's jscode2session carried the trace on.
    let to_wechat = app.wechat.received_traceparents();
    assert!(
        to_wechat
            .iter()
            .any(|(path, tp)| path == "/sns/jscode2session"
                && tp.starts_with(&format!("00-{trace_id}-"))),
        "{to_wechat:?}"
    );

    // Without a traceparent, a trace of its own.
    let fresh = app
        .http
        .post(format!("{}/graphql/consumer", app.base_url))
        .json(&json!({ "query": "query Fresh { __typename }" }))
        .send()
        .await
        .unwrap();
    let fresh = fresh.headers()["traceparent"].to_str().unwrap().to_owned();
    assert!(
        fresh.starts_with("00-") && !fresh.contains(trace_id),
        "{fresh}"
    );

    // Export what is buffered now (the exporter blocks: off the async threads).
    let telemetry = tokio::task::spawn_blocking(move || {
        telemetry.force_flush().expect("flush");
        telemetry
    })
    .await
    .unwrap();

    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message as _;
    let bodies = received.lock().unwrap().clone();
    assert!(!bodies.is_empty(), "the collector received spans");
    let mut spans = Vec::new();
    for body in &bodies {
        let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("OTLP protobuf");
        for resource in request.resource_spans {
            let service = resource
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|a| a.key == "service.name")
                .and_then(|a| a.value.clone())
                .and_then(|v| v.value);
            for scope in resource.scope_spans {
                for span in scope.spans {
                    spans.push((service.clone(), span));
                }
            }
        }
    }
    let ours: Vec<_> = spans
        .iter()
        .filter(|(_, s)| hex(&s.trace_id) == trace_id)
        .collect();
    let names: Vec<&str> = ours.iter().map(|(_, s)| s.name.as_str()).collect();
    let http = ours
        .iter()
        .find(|(_, s)| hex(&s.span_id) == server_span)
        .unwrap_or_else(|| panic!("the request's span among {names:?}"));
    assert_eq!(http.1.name, "POST graphql_consumer");
    assert_eq!(
        hex(&http.1.parent_span_id),
        caller_span,
        "a child of the caller's span"
    );
    assert!(
        matches!(
            &http.0,
            Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s))
                if s == "rouge-under-test"
        ),
        "service.name: {:?}",
        http.0
    );
    let operation = ours
        .iter()
        .find(|(_, s)| {
            s.attributes.iter().any(|a| {
                a.key == "graphql.operation.name"
                    && matches!(
                        a.value.as_ref().and_then(|v| v.value.as_ref()),
                        Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(v))
                            if v == "TracedLogin"
                    )
            })
        })
        .unwrap_or_else(|| panic!("the operation's span among {names:?}"));
    assert_eq!(operation.1.name, "mutation TracedLogin");
    assert_eq!(
        hex(&operation.1.parent_span_id),
        server_span,
        "the operation runs within the request"
    );
    assert!(
        !spans
            .iter()
            .any(|(_, s)| s.name == "query Fresh" && hex(&s.trace_id) == trace_id),
        "the second request is a trace of its own"
    );
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
}

//! The HTTP surface: the three GraphQL endpoints, probes, metrics, and the middleware every
//! request passes (request id and span, metrics, panic guard).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::{BatchRequest, BatchResponse, Executor, ServerError};
use domain::auth::Audience;
use domain::{AppState, ErrorCode, RequestMeta};
use graphql_schema::{RequestContext, SchemaLimits};
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::middleware::CatchPanic;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, handler};
use tracing::Instrument;

use crate::metrics::Metrics;

/// How the HTTP layer behaves; derived from configuration.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub limits: SchemaLimits,
    pub max_batch: usize,
    pub max_body_bytes: usize,
    pub execution_timeout: Duration,
    pub graphiql: bool,
    pub trust_forwarded_for: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            limits: SchemaLimits::default(),
            max_batch: 10,
            max_body_bytes: 256 * 1024,
            execution_timeout: Duration::from_secs(10),
            graphiql: true,
            trust_forwarded_for: false,
        }
    }
}

/// One GraphQL endpoint: a schema and the audience whose tokens it accepts.
struct GraphqlEndpoint<S> {
    schema: S,
    audience: Audience,
    options: Arc<HttpOptions>,
}

impl<S: Executor> GraphqlEndpoint<S> {
    async fn handle(&self, req: Request) -> Response {
        let path = req.uri().path().to_owned();
        if req.method() == Method::GET && self.options.graphiql {
            let page = async_graphql::http::GraphiQLSource::build()
                .endpoint(&path)
                .finish();
            return Response::builder()
                .content_type("text/html; charset=utf-8")
                .body(page);
        }
        if req.method() != Method::POST {
            return error_response(StatusCode::METHOD_NOT_ALLOWED, "use POST");
        }
        let meta = request_meta(&req, self.options.trust_forwarded_for);
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(|t| t.trim().to_owned());
        let body = match req
            .into_body()
            .into_bytes_limit(self.options.max_body_bytes)
            .await
        {
            Ok(body) => body,
            Err(poem::error::ReadBodyError::PayloadTooLarge) => {
                return error_response(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
            }
            Err(_) => {
                return error_response(StatusCode::BAD_REQUEST, "could not read the request body");
            }
        };
        let batch: BatchRequest = match serde_json::from_slice(&body) {
            Ok(batch) => batch,
            Err(_) => {
                return error_response(StatusCode::BAD_REQUEST, "malformed GraphQL request body");
            }
        };
        let operations = match &batch {
            BatchRequest::Single(_) => 1,
            BatchRequest::Batch(ops) => ops.len(),
        };
        if operations == 0 || operations > self.options.max_batch {
            return error_response(
                StatusCode::BAD_REQUEST,
                &format!("a batch holds 1 to {} operations", self.options.max_batch),
            );
        }
        let batch = match batch {
            BatchRequest::Single(r) => {
                BatchRequest::Single(r.data(RequestContext::new(self.audience, bearer, meta)))
            }
            BatchRequest::Batch(requests) => BatchRequest::Batch(
                requests
                    .into_iter()
                    .map(|r| {
                        r.data(RequestContext::new(
                            self.audience,
                            bearer.clone(),
                            meta.clone(),
                        ))
                    })
                    .collect(),
            ),
        };
        let response = match tokio::time::timeout(
            self.options.execution_timeout,
            self.schema.execute_batch(batch),
        )
        .await
        {
            Ok(response) => with_codes(response),
            Err(_) => {
                tracing::warn!("GraphQL execution timed out");
                return error_response_code(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::Unavailable,
                    "the request took too long",
                );
            }
        };
        match serde_json::to_vec(&response) {
            Ok(json) => Response::builder()
                .content_type("application/json")
                .body(json),
            Err(_) => error_response_code(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::Internal,
                "internal error",
            ),
        }
    }
}

impl<S: Executor> Endpoint for GraphqlEndpoint<S> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        Ok(self.handle(req).await)
    }
}

/// Errors raised before resolvers run (parse, validation, limits, argument types) get the
/// bad-input code, so every error a client sees has one.
fn with_codes(mut response: BatchResponse) -> BatchResponse {
    let fix = |errors: &mut Vec<ServerError>| {
        for error in errors {
            let has_code = error
                .extensions
                .as_ref()
                .is_some_and(|e| e.get("code").is_some());
            if !has_code {
                error
                    .extensions
                    .get_or_insert_with(Default::default)
                    .set("code", ErrorCode::BadUserInput.as_str());
            }
        }
    };
    match &mut response {
        BatchResponse::Single(r) => fix(&mut r.errors),
        BatchResponse::Batch(rs) => rs.iter_mut().for_each(|r| fix(&mut r.errors)),
    }
    response
}

fn error_response(status: StatusCode, message: &str) -> Response {
    error_response_code(status, ErrorCode::BadUserInput, message)
}

fn error_response_code(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code.as_str() } }]
    });
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(body.to_string())
}

fn request_meta(req: &Request, trust_forwarded_for: bool) -> RequestMeta {
    // A proxy may append its own header line rather than extend the client's: the last counts.
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok());
    let remote = match req.remote_addr().0 {
        poem::Addr::SocketAddr(addr) => Some(addr.ip()),
        _ => None,
    };
    RequestMeta {
        request_id: req
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default(),
        client_ip: crate::client_addr::client_ip(forwarded, remote, trust_forwarded_for),
    }
}

/// The request id, taken from `X-Request-Id` when the caller sent a sane one.
#[derive(Clone)]
pub struct RequestId(pub String);

fn request_id(req: &Request) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len()) && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// Where WeChat Pay posts payment and refund notifications.
pub const PAY_NOTIFY_PATH: &str = "/wechat/pay/notify";

/// WeChat Pay's notification: verified and applied by the domain; answered 204 when handled
/// (or already handled), 4xx when not trustworthy, 5xx when WeChat should deliver again later.
#[handler]
async fn pay_notify(
    req: &Request,
    body: poem::Body,
    state: poem::web::Data<&Arc<AppState>>,
) -> Response {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let headers = wechat_integration::NotificationHeaders {
        timestamp: header("wechatpay-timestamp"),
        nonce: header("wechatpay-nonce"),
        signature: header("wechatpay-signature"),
        serial: header("wechatpay-serial"),
    };
    let fail = |status: StatusCode, message: &str| {
        Response::builder()
            .status(status)
            .content_type("application/json")
            .body(serde_json::json!({ "code": "FAIL", "message": message }).to_string())
    };
    let Ok(body) = body.into_bytes_limit(64 * 1024).await else {
        return fail(StatusCode::BAD_REQUEST, "unreadable body");
    };
    match domain::payments::handle_notification(&state, &headers, &body).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(domain::payments::NotifyError::Rejected(reason)) => {
            tracing::warn!(%reason, "WeChat Pay notification rejected");
            fail(StatusCode::UNAUTHORIZED, "verification failed")
        }
        Err(domain::payments::NotifyError::Failed(reason)) => {
            tracing::error!(%reason, "WeChat Pay notification not applied");
            fail(StatusCode::INTERNAL_SERVER_ERROR, "try again")
        }
    }
}

#[handler]
fn healthz() -> &'static str {
    "ok"
}

#[handler]
async fn readyz(state: poem::web::Data<&Arc<AppState>>) -> Response {
    let probe = Duration::from_secs(2);
    let db = tokio::time::timeout(probe, state.db.ping()).await;
    let kv = tokio::time::timeout(probe, state.kv.ping()).await;
    let db_ok = matches!(db, Ok(Ok(())));
    let kv_ok = matches!(kv, Ok(Ok(())));
    let body = serde_json::json!({
        "database": if db_ok { "ok" } else { "unavailable" },
        "kv": if kv_ok { "ok" } else { "unavailable" },
    });
    let status = if db_ok && kv_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(body.to_string())
}

#[handler]
fn metrics_text(metrics: poem::web::Data<&Metrics>) -> Response {
    Response::builder()
        .content_type("text/plain; version=0.0.4")
        .body(metrics.render())
}

/// The whole application as one poem endpoint.
pub fn routes(state: Arc<AppState>, options: HttpOptions, metrics: Metrics) -> impl Endpoint {
    let options = Arc::new(options);
    let consumer = GraphqlEndpoint {
        schema: graphql_schema::consumer_schema(state.clone(), &options.limits),
        audience: Audience::Consumer,
        options: options.clone(),
    };
    let staff = GraphqlEndpoint {
        schema: graphql_schema::staff_schema(state.clone(), &options.limits),
        audience: Audience::Staff,
        options: options.clone(),
    };
    let distributor = GraphqlEndpoint {
        schema: graphql_schema::distributor_schema(state.clone(), &options.limits),
        audience: Audience::Distributor,
        options: options.clone(),
    };
    let observe_metrics = metrics.clone();
    Route::new()
        .at("/graphql/consumer", consumer)
        .at("/graphql/staff", staff)
        .at("/graphql/distributor", distributor)
        .at(PAY_NOTIFY_PATH, poem::post(pay_notify))
        .at("/healthz", healthz)
        .at("/readyz", readyz)
        .at("/metrics", metrics_text)
        .data(state)
        .data(metrics)
        .with(CatchPanic::new())
        .around(move |ep, mut req| {
            let metrics = observe_metrics.clone();
            async move {
                let id = request_id(&req);
                req.extensions_mut().insert(RequestId(id.clone()));
                let route = route_label(req.uri().path());
                let method = req.method().clone();
                let span = tracing::info_span!("http", request_id = %id, %method, path = %req.uri().path());
                let started = Instant::now();
                let result = ep.call(req).instrument(span.clone()).await;
                let mut response = match result {
                    Ok(r) => r.into_response(),
                    Err(e) => e.into_response(),
                };
                let status = response.status().as_u16();
                metrics.observe_request(route, status, started.elapsed());
                span.in_scope(|| tracing::debug!(status, elapsed_ms = started.elapsed().as_millis() as u64, "done"));
                if let Ok(value) = HeaderValue::from_str(&id) {
                    response.headers_mut().insert("x-request-id", value);
                }
                Ok(response)
            }
        })
}

/// Fixed labels, so metrics do not grow with arbitrary paths.
fn route_label(path: &str) -> &'static str {
    match path {
        "/graphql/consumer" => "graphql_consumer",
        "/graphql/staff" => "graphql_staff",
        "/graphql/distributor" => "graphql_distributor",
        "/healthz" => "healthz",
        "/readyz" => "readyz",
        "/metrics" => "metrics",
        PAY_NOTIFY_PATH => "pay_notify",
        _ => "other",
    }
}

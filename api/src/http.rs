//! The HTTP surface: the three GraphQL endpoints, probes, metrics, and the middleware every
//! request passes (request id, span joined to the caller's trace, metrics, panic guard).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument};
use async_graphql::{BatchRequest, BatchResponse, Executor, ServerError};
use domain::auth::{self, Audience, Principal};
use domain::login;
use domain::{AppState, DomainError, ErrorCode, RequestMeta};
use graphql_schema::error::{cap_message, localize, log_error};
use graphql_schema::locale::Locale;
use graphql_schema::operation::ExecutedOperation;
use graphql_schema::{RequestContext, SchemaLimits, limits};
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::middleware::CatchPanic;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, handler};
use tracing::Instrument;

use crate::checked_documents::CheckedDocuments;
use crate::metrics::{ANONYMOUS_OPERATION, Metrics, operation_label};
use crate::response_cache::{Kept, ResponseCache, ResponseKey};

/// How the HTTP layer behaves; derived from configuration.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub limits: SchemaLimits,
    pub max_batch: usize,
    pub max_body_bytes: usize,
    /// The body cap of a staff multipart upload (`uploadMedia`).
    pub max_upload_bytes: usize,
    pub execution_timeout: Duration,
    pub graphiql: bool,
    pub trust_forwarded_for: bool,
    /// The development payment routes (`/dev/wechat/pay/...`): only with the fake WeChat,
    /// never in production (see [`crate::dev_pay::DevWeChatPay::for_config`]).
    #[cfg(feature = "demo")]
    pub dev_wechat_pay: Option<crate::dev_pay::DevWeChatPay>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            limits: SchemaLimits::default(),
            max_batch: 10,
            max_body_bytes: 256 * 1024,
            max_upload_bytes: crate::media::MAX_UPLOAD_BYTES,
            execution_timeout: Duration::from_secs(10),
            graphiql: true,
            trust_forwarded_for: false,
            #[cfg(feature = "demo")]
            dev_wechat_pay: None,
        }
    }
}

/// Operations up to this long (most of what the apps send) are parsed in place, where a
/// thread hop would cost more than the parse.
const INLINE_CHECK_BYTES: usize = 1024;

/// One GraphQL endpoint: a schema and the audience whose tokens it accepts.
struct GraphqlEndpoint<S> {
    schema: S,
    audience: Audience,
    app: Arc<AppState>,
    options: Arc<HttpOptions>,
    metrics: Metrics,
    /// Kept answers: anonymous catalog reads (consumer), staff members' sales reports (staff).
    responses: Option<ResponseCache>,
    /// Documents that passed the parse and the limits, by their text.
    documents: CheckedDocuments,
}

/// The token of an `Authorization` header: `None` when there is no usable bearer token in it.
fn bearer_token(header: &HeaderValue) -> Option<&str> {
    let value = header.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?
        .trim();
    (!token.is_empty()).then_some(token)
}

impl<S: Executor> GraphqlEndpoint<S> {
    async fn handle(&self, req: Request) -> Response {
        if req.method() == Method::GET && self.options.graphiql {
            return crate::graphiql::page();
        }
        let started = Instant::now();
        // The language of every error message of this request (Accept-Language, endpoint).
        let locale = Locale::negotiate(
            req.headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
            self.audience,
        );
        if req.method() != Method::POST {
            let message = locale.pick("use POST", "请使用 POST 请求");
            return self.refuse(
                started,
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                message,
            );
        }
        let meta = request_meta(&req, self.options.trust_forwarded_for);
        // Some(None): a header was sent but holds no bearer token; refused like a bad token.
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| bearer_token(v).map(str::to_owned));
        if crate::media::is_multipart(&req) {
            let response = self
                .handle_upload(req, started, locale, meta, authorization)
                .await;
            // Refusals come before or while the body is read.
            return if response.status().is_success() {
                response
            } else {
                closing(response)
            };
        }
        let body = match req
            .into_body()
            .into_bytes_limit(self.options.max_body_bytes)
            .await
        {
            Ok(body) => body,
            Err(poem::error::ReadBodyError::PayloadTooLarge) => {
                let message = locale.pick("request body too large", "请求体过大");
                return closing(self.refuse(
                    started,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "BODY_TOO_LARGE",
                    message,
                ));
            }
            Err(_) => {
                let message = locale.pick("could not read the request body", "无法读取请求体");
                return self.refuse(started, StatusCode::BAD_REQUEST, "BODY_UNREADABLE", message);
            }
        };
        // Anonymous answers are kept on the consumer endpoint only.
        let anonymous_cache = self
            .responses
            .as_ref()
            .filter(|_| self.audience == Audience::Consumer);
        let kept_key = anonymous_cache.and_then(|_| {
            let generation = self.app.caches.listings.generation();
            ResponseCache::key(generation, authorization.is_none(), locale, &body)
        });
        if let (Some(cache), Some(key)) = (anonymous_cache, &kept_key)
            && let Some(kept) = cache.get(key).await
        {
            return self.answer_kept(kept, started);
        }
        let batch: BatchRequest = match serde_json::from_slice(&body) {
            Ok(batch) => batch,
            Err(_) => {
                let message =
                    locale.pick("malformed GraphQL request body", "GraphQL 请求体格式有误");
                return self.refuse(
                    started,
                    StatusCode::BAD_REQUEST,
                    "MALFORMED_REQUEST",
                    message,
                );
            }
        };
        // A token is checked before anything runs, even fields that need none: a token of
        // another audience, expired, revoked or forged is refused, never quietly ignored.
        let principal = match authorization {
            None => None,
            Some(token) => match self.authenticate(token.as_deref(), locale).await {
                Ok(principal) => Some(principal),
                Err((code, response)) => {
                    self.observe_refusal(started, code);
                    return response;
                }
            },
        };
        let keep = match (&batch, kept_key) {
            (BatchRequest::Single(request), Some(key)) => crate::response_cache::cacheable(request)
                .map(|name| {
                    (
                        key,
                        operation_label(self.audience.as_str(), name.as_deref()),
                    )
                }),
            _ => {
                self.report_key(&batch, principal.as_ref(), locale, &body)
                    .await
            }
        };
        if let (Some(cache), Some((key, _))) = (&self.responses, &keep)
            && key.is_owned()
            && let Some(kept) = cache.get(key).await
        {
            return self.answer_kept(kept, started);
        }
        self.execute_keeping(batch, principal, meta, locale, started, keep)
            .await
    }

    /// A kept answer, counted in the operation metrics like one that ran.
    fn answer_kept(&self, kept: Kept, started: Instant) -> Response {
        self.metrics
            .observe_operation(self.audience.as_str(), kept.label, &[], started.elapsed());
        Response::builder()
            .content_type("application/json")
            .body(kept.json)
    }

    /// The key of a staff member's sales-report request that may be answered from the cache
    /// (see `response_cache`), read at the current sales version; `None` otherwise.
    async fn report_key(
        &self,
        batch: &BatchRequest,
        principal: Option<&login::Authenticated>,
        locale: Locale,
        body: &bytes::Bytes,
    ) -> Option<(ResponseKey, String)> {
        self.responses.as_ref()?;
        let (BatchRequest::Single(request), Some(auth)) = (batch, principal) else {
            return None;
        };
        let Principal::Staff(staff) = &auth.principal else {
            return None;
        };
        if auth.password_change_required || auth.consent_required {
            return None;
        }
        let name = crate::response_cache::report_cacheable(request, body)?;
        let version = domain::reports::facts_version(&self.app).await.ok()?;
        let key = ResponseCache::staff_key(staff.staff_id, version, locale, body)?;
        Some((
            key,
            operation_label(self.audience.as_str(), name.as_deref()),
        ))
    }

    /// Runs a parsed request (JSON or multipart) for an authenticated caller (or none).
    async fn execute(
        &self,
        batch: BatchRequest,
        principal: Option<login::Authenticated>,
        meta: RequestMeta,
        locale: Locale,
        started: Instant,
    ) -> Response {
        self.execute_keeping(batch, principal, meta, locale, started, None)
            .await
    }

    /// Runs a parsed request; with `keep`, an answer without errors is kept under that key.
    async fn execute_keeping(
        &self,
        batch: BatchRequest,
        principal: Option<login::Authenticated>,
        meta: RequestMeta,
        locale: Locale,
        started: Instant,
        keep: Option<(ResponseKey, String)>,
    ) -> Response {
        let (single, requests) = match batch {
            BatchRequest::Single(r) => (true, vec![r]),
            BatchRequest::Batch(requests) => (false, requests),
        };
        if requests.is_empty() || requests.len() > self.options.max_batch {
            let max = self.options.max_batch;
            let message = match locale {
                Locale::En => format!("a batch holds 1 to {max} operations"),
                Locale::Zh => format!("一个批量请求须包含 1 到 {max} 个操作"),
            };
            return self.refuse(started, StatusCode::BAD_REQUEST, "BATCH_SIZE", &message);
        }
        // Parsing, the size check and execution all sit inside the time limit.
        let work = async {
            let mut responses = Vec::with_capacity(requests.len());
            for request in requests {
                let context =
                    RequestContext::authenticated(self.audience, principal.clone(), meta.clone());
                responses.push(self.run_operation(request, context, locale).await);
            }
            responses
        };
        let mut responses = match tokio::time::timeout(self.options.execution_timeout, work).await {
            Ok(responses) => responses,
            Err(elapsed) => {
                log_error(
                    ErrorCode::Unavailable,
                    &"GraphQL execution timed out",
                    Some(&elapsed),
                );
                self.observe_refusal(started, ErrorCode::Unavailable);
                return error_response_code(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::Unavailable,
                    "UNAVAILABLE",
                    locale.pick("the request took too long", "请求处理超时，请稍后重试"),
                );
            }
        };
        let response = match responses.pop() {
            Some(response) if single => BatchResponse::Single(response),
            last => {
                responses.extend(last);
                BatchResponse::Batch(responses)
            }
        };
        let keep = match &response {
            BatchResponse::Single(r) if r.errors.is_empty() => keep,
            _ => None,
        };
        match serde_json::to_vec(&response) {
            Ok(json) => {
                let json = bytes::Bytes::from(json);
                if let (Some(cache), Some((key, label))) = (&self.responses, keep) {
                    cache
                        .keep(
                            key,
                            Kept {
                                json: json.clone(),
                                label,
                            },
                        )
                        .await;
                }
                Response::builder()
                    .content_type("application/json")
                    .body(json)
            }
            Err(_) => error_response_code(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::Internal,
                "INTERNAL",
                locale.pick("internal error", ErrorCode::Internal.message_zh()),
            ),
        }
    }

    /// Runs one operation of a request, once parsed, in its own span (a child of the
    /// request's), and records its duration, name and outcome, and each of its errors by code.
    async fn run_operation(
        &self,
        mut request: async_graphql::Request,
        context: RequestContext,
        locale: Locale,
    ) -> async_graphql::Response {
        let started = Instant::now();
        let executed = ExecutedOperation::default();
        let response = match self.check(&mut request).await {
            Ok(doc) => {
                let (kind, name) = describe_operation(&doc, request.operation_name.as_deref());
                let name = name.map(str::to_owned);
                let span = tracing::info_span!(
                    "graphql",
                    otel.name = %format!("{kind} {}", name.as_deref().unwrap_or(ANONYMOUS_OPERATION)),
                    endpoint = self.audience.as_str(),
                    graphql.operation.name = name.as_deref(),
                    graphql.operation.type = kind,
                );
                request.set_parsed_query(doc);
                self.schema
                    .execute(request.data(context).data(locale).data(executed.clone()))
                    .instrument(span)
                    .await
            }
            Err(error) => async_graphql::Response::from_errors(vec![error]),
        };
        let mut response = with_codes(response);
        localize(&mut response.errors, locale);
        let codes: Vec<&str> = response
            .errors
            .iter()
            .map(|e| {
                e.extensions
                    .as_ref()
                    .and_then(|x| x.get("code"))
                    .and_then(|v| match v {
                        async_graphql::Value::String(s) => Some(s.as_str()),
                        _ => None,
                    })
                    .unwrap_or("INTERNAL")
            })
            .collect();
        let label = operation_label(self.audience.as_str(), executed.get().flatten());
        self.metrics
            .observe_operation(self.audience.as_str(), label, &codes, started.elapsed());
        response
    }

    /// A request refused before any operation ran (not POST, body unreadable or malformed,
    /// batch too large): a bad-input error, counted as an anonymous operation.
    fn refuse(
        &self,
        started: Instant,
        status: StatusCode,
        reason: &str,
        message: &str,
    ) -> Response {
        self.observe_refusal(started, ErrorCode::BadUserInput);
        error_response(status, reason, message)
    }

    fn observe_refusal(&self, started: Instant, code: ErrorCode) {
        self.metrics.observe_operation(
            self.audience.as_str(),
            ANONYMOUS_OPERATION.to_owned(),
            &[code.as_str()],
            started.elapsed(),
        );
    }

    /// Parses and sizes an operation before async-graphql sees it, whose validation expands
    /// every fragment spread; the parsed document is handed over so the text is parsed once.
    /// Long texts are parsed on the blocking pool, so parsing never holds a worker thread
    /// that other requests (`/healthz` among them) are waiting for.
    async fn check(
        &self,
        request: &mut async_graphql::Request,
    ) -> Result<ExecutableDocument, ServerError> {
        if request.query.len() <= INLINE_CHECK_BYTES {
            if let Some(doc) = self.documents.get(&request.query).await {
                return Ok(doc);
            }
            let checked = limits::check_query(&request.query, &self.options.limits);
            if let Ok(doc) = &checked {
                self.documents.keep(&request.query, doc).await;
            }
            return checked;
        }
        let query = std::mem::take(&mut request.query);
        let options = self.options.clone();
        let checked = tokio::task::spawn_blocking(move || {
            let checked = limits::check_query(&query, &options.limits);
            (query, checked)
        })
        .await;
        match checked {
            Ok((query, checked)) => {
                request.query = query;
                checked
            }
            Err(err) => {
                log_error(ErrorCode::Internal, &"query check failed", Some(&err));
                let mut error = ServerError::new("internal error", None);
                error
                    .extensions
                    .get_or_insert_with(Default::default)
                    .set("code", ErrorCode::Internal.as_str());
                Err(error)
            }
        }
    }

    /// Who holds the token, for this endpoint's audience; a refusal response (and its code)
    /// otherwise, in the request's language.
    async fn authenticate(
        &self,
        token: Option<&str>,
        locale: Locale,
    ) -> Result<login::Authenticated, (ErrorCode, Response)> {
        let result = match token {
            Some(token) => login::authenticate(&self.app, self.audience, token).await,
            None => Err(auth::AuthError::Unauthenticated),
        };
        let err = match result {
            Ok(principal) => return Ok(principal),
            Err(err) => err,
        };
        let code = err.code();
        log_error(
            code,
            &err,
            std::error::Error::source(&err).map(|s| s as &dyn std::fmt::Display),
        );
        Err(match code {
            ErrorCode::Unavailable => (
                code,
                error_response_code(
                    StatusCode::SERVICE_UNAVAILABLE,
                    code,
                    "UNAVAILABLE",
                    locale.pick(
                        "the service is temporarily unavailable; try again",
                        code.message_zh(),
                    ),
                ),
            ),
            ErrorCode::Internal => (
                code,
                error_response_code(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    code,
                    "INTERNAL",
                    locale.pick("internal error", code.message_zh()),
                ),
            ),
            _ => {
                let mut response = error_response_code(
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::Unauthenticated,
                    "TOKEN_INVALID",
                    locale.pick(
                        "the token is not valid for this endpoint; sign in again",
                        "登录凭证对该接口无效，请重新登录",
                    ),
                );
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
                (ErrorCode::Unauthenticated, response)
            }
        })
    }
}

impl<S: Executor> GraphqlEndpoint<S> {
    /// A GraphQL multipart request (file uploads): staff only, with the `x-rouge-client`
    /// header and a valid token, both checked before the body is read; the body is capped
    /// (whole request and file) and holds one file.
    async fn handle_upload(
        &self,
        req: Request,
        started: Instant,
        locale: Locale,
        meta: RequestMeta,
        authorization: Option<Option<String>>,
    ) -> Response {
        if self.audience != Audience::Staff {
            let message = locale.pick("uploads go to the staff endpoint", "请通过员工接口上传文件");
            return self.refuse(
                started,
                StatusCode::BAD_REQUEST,
                "MULTIPART_NOT_ALLOWED",
                message,
            );
        }
        if !req.headers().contains_key(crate::media::CLIENT_HEADER) {
            let message = locale.pick(
                "an upload needs the x-rouge-client header",
                "上传请求须带 x-rouge-client 请求头",
            );
            return self.refuse(
                started,
                StatusCode::BAD_REQUEST,
                "CLIENT_HEADER_REQUIRED",
                message,
            );
        }
        let principal = match self
            .authenticate(authorization.flatten().as_deref(), locale)
            .await
        {
            Ok(principal) => principal,
            Err((code, response)) => {
                self.observe_refusal(started, code);
                return response;
            }
        };
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let cap = self.options.max_upload_bytes;
        let body = match req.into_body().into_bytes_limit(cap).await {
            Ok(body) => body,
            Err(poem::error::ReadBodyError::PayloadTooLarge) => {
                let message = locale.pick("the upload is too large", "上传的文件过大");
                return self.refuse(
                    started,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "BODY_TOO_LARGE",
                    message,
                );
            }
            Err(_) => {
                let message = locale.pick("could not read the request body", "无法读取请求体");
                return self.refuse(started, StatusCode::BAD_REQUEST, "BODY_UNREADABLE", message);
            }
        };
        let options = async_graphql::http::MultipartOptions::default()
            .max_file_size(cap)
            .max_num_files(1);
        let batch = match async_graphql::http::receive_batch_body(
            content_type,
            futures::io::Cursor::new(body),
            options,
        )
        .await
        {
            Ok(batch) => batch,
            Err(_) => {
                let message = locale.pick("malformed multipart request", "multipart 请求格式有误");
                return self.refuse(
                    started,
                    StatusCode::BAD_REQUEST,
                    "MALFORMED_REQUEST",
                    message,
                );
            }
        };
        self.execute(batch, Some(principal), meta, locale, started)
            .await
    }
}

impl<S: Executor> Endpoint for GraphqlEndpoint<S> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        Ok(self.handle(req).await)
    }
}

/// The type of the operation a request runs and its name as the document gives it (the
/// request's `operationName`, or the name of the only operation), for the span.
fn describe_operation<'a>(
    doc: &'a ExecutableDocument,
    requested: Option<&'a str>,
) -> (&'static str, Option<&'a str>) {
    let (name, operation) = match (&doc.operations, requested) {
        (DocumentOperations::Single(op), requested) => (requested, Some(op)),
        (DocumentOperations::Multiple(ops), Some(name)) => (Some(name), ops.get(name)),
        (DocumentOperations::Multiple(ops), None) => match ops.iter().next() {
            Some((name, op)) if ops.len() == 1 => (Some(name.as_str()), Some(op)),
            _ => (None, None),
        },
    };
    let kind = match operation.map(|op| op.node.ty) {
        Some(async_graphql::parser::types::OperationType::Mutation) => "mutation",
        Some(async_graphql::parser::types::OperationType::Subscription) => "subscription",
        _ => "query",
    };
    (kind, name)
}

/// Errors raised before resolvers run (parse, validation, limits, argument types) get the
/// bad-input code, so every error a client sees has one; every message is capped.
fn with_codes(mut response: async_graphql::Response) -> async_graphql::Response {
    for error in &mut response.errors {
        cap_message(&mut error.message);
        let has_code = error
            .extensions
            .as_ref()
            .is_some_and(|e| e.get("code").is_some());
        if !has_code {
            log_error(ErrorCode::BadUserInput, &error.message, None);
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", ErrorCode::BadUserInput.as_str());
        }
    }
    response
}

/// A request refused before GraphQL runs, as bad input; `message` in the request's language.
/// An answer sent before the request body was read whole: the client may still be sending it,
/// so the connection closes after the answer. A keep-alive client would otherwise put the
/// connection back in its pool and its next request fail on a connection the server drops.
pub(crate) fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn error_response(status: StatusCode, reason: &str, message: &str) -> Response {
    error_response_code(status, ErrorCode::BadUserInput, reason, message)
}

fn error_response_code(
    status: StatusCode,
    code: ErrorCode,
    reason: &str,
    message: &str,
) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code.as_str(), "reason": reason } }]
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
/// (or already handled, or genuine but matching nothing, which is recorded for finance), 4xx
/// when not trustworthy, 5xx when WeChat should deliver again later.
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
        Ok(outcome) => {
            tracing::debug!(?outcome, "WeChat Pay notification handled");
            StatusCode::NO_CONTENT.into_response()
        }
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

/// The Prometheus text, with the pool and key-value gauges refreshed first.
#[handler]
async fn metrics_text(
    metrics: poem::web::Data<&Metrics>,
    state: poem::web::Data<&Arc<AppState>>,
) -> Response {
    metrics.refresh(&state).await;
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
        app: state.clone(),
        options: options.clone(),
        metrics: metrics.clone(),
        responses: Some(ResponseCache::default()),
        documents: CheckedDocuments::default(),
    };
    let staff = GraphqlEndpoint {
        schema: graphql_schema::staff_schema(state.clone(), &options.limits),
        audience: Audience::Staff,
        app: state.clone(),
        options: options.clone(),
        metrics: metrics.clone(),
        responses: Some(ResponseCache::new(crate::response_cache::REPORT_TTL)),
        documents: CheckedDocuments::default(),
    };
    let distributor = GraphqlEndpoint {
        schema: graphql_schema::distributor_schema(state.clone(), &options.limits),
        audience: Audience::Distributor,
        app: state.clone(),
        options: options.clone(),
        metrics: metrics.clone(),
        responses: None,
        documents: CheckedDocuments::default(),
    };
    let observe_metrics = metrics.clone();
    let mut route = Route::new();
    if options.graphiql {
        route = route.at(
            format!("{}/:file", crate::graphiql::ASSETS_PATH),
            poem::get(crate::graphiql::asset),
        );
    }
    #[cfg(feature = "demo")]
    if let Some(dev) = options.dev_wechat_pay.clone() {
        route = route.nest(crate::dev_pay::DEV_PAY_PREFIX, crate::dev_pay::routes(dev));
    }
    route
        .at("/graphql/consumer", consumer)
        .at("/graphql/staff", staff)
        .at("/graphql/distributor", distributor)
        .at(PAY_NOTIFY_PATH, poem::post(pay_notify))
        .at(
            format!("{}/*key", domain::media::MEDIA_PATH),
            poem::get(crate::media::object).put(crate::media::upload),
        )
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
                // Probes and scrapes are debug-level spans: at the default log level they
                // are neither logged nor exported as traces every few seconds.
                let span = if matches!(route, "healthz" | "readyz" | "metrics") {
                    tracing::debug_span!(
                        "http",
                        otel.name = %format!("{method} {route}"),
                        otel.kind = "server",
                        request_id = %id,
                        %method,
                        path = %req.uri().path(),
                        trace_id = tracing::field::Empty,
                        status = tracing::field::Empty,
                    )
                } else {
                    tracing::info_span!(
                        "http",
                        otel.name = %format!("{method} {route}"),
                        otel.kind = "server",
                        request_id = %id,
                        %method,
                        path = %req.uri().path(),
                        trace_id = tracing::field::Empty,
                        status = tracing::field::Empty,
                    )
                };
                // A child of the caller's span when it sent a `traceparent`.
                let traceparent = crate::telemetry::join_trace(&span, req.headers());
                let started = Instant::now();
                let result = ep.call(req).instrument(span.clone()).await;
                let mut response = match result {
                    Ok(r) => r.into_response(),
                    Err(e) => e.into_response(),
                };
                let status = response.status().as_u16();
                span.record("status", status);
                metrics.observe_request(route, status, started.elapsed());
                span.in_scope(|| {
                    tracing::debug!(
                        status,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "done"
                    )
                });
                if let Ok(value) = HeaderValue::from_str(&id) {
                    response.headers_mut().insert("x-request-id", value);
                }
                if let Some(value) = traceparent.and_then(|t| HeaderValue::from_str(&t).ok()) {
                    response.headers_mut().insert("traceparent", value);
                }
                Ok(response)
            }
        })
}

/// `rouge worker`'s own endpoints: liveness, readiness (database and key-value store) and
/// metrics, for its Deployment's probes and Prometheus; nothing else.
pub fn worker_routes(state: Arc<AppState>, metrics: Metrics) -> impl Endpoint {
    Route::new()
        .at("/healthz", healthz)
        .at("/readyz", readyz)
        .at("/metrics", metrics_text)
        .data(state)
        .data(metrics)
        .with(CatchPanic::new())
}

/// Fixed labels, so metrics do not grow with arbitrary paths.
fn route_label(path: &str) -> &'static str {
    if path.starts_with(crate::graphiql::ASSETS_PATH) {
        return "graphiql_assets";
    }
    #[cfg(feature = "demo")]
    if path.starts_with(crate::dev_pay::DEV_PAY_PREFIX) {
        return "dev_wechat_pay";
    }
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

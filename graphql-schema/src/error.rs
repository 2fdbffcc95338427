//! The one place domain errors become GraphQL errors: `extensions.code` from the error's
//! [`ErrorCode`], `extensions.reason` (a stable SCREAMING_SNAKE reason, see
//! [`domain::error_text`]), the message when it is meant for the caller, and a generic message
//! (with the cause in the log) when it is not. Also the one place request errors are logged
//! ([`log_error`]), the cap on what an error message may say, and the language of the message
//! ([`localize`]): every error carries its Chinese message beside the English one until the
//! HTTP layer, which knows the request's [`Locale`], picks one.

use std::borrow::Cow;
use std::sync::Arc;

use async_graphql::{ErrorExtensions, ServerError, Value};
use domain::error_text::{Explain, generic_reason, invalid_input_zh};
use domain::{DomainError, ErrorCode};
use tracing::Level;

use crate::locale::Locale;

/// Error messages are cut to this many characters: parser and validation messages may quote
/// names from the request, and a client never needs its request echoed back.
pub const MAX_ERROR_MESSAGE_CHARS: usize = 300;

/// How loudly a request error is logged. Client errors are the caller's business and only
/// useful when debugging; an unavailable dependency is a warning; anything internal an error.
pub fn log_level(code: ErrorCode) -> Level {
    match code {
        ErrorCode::Internal => Level::ERROR,
        ErrorCode::Unavailable => Level::WARN,
        ErrorCode::Unauthenticated
        | ErrorCode::Forbidden
        | ErrorCode::BadUserInput
        | ErrorCode::NotFound
        | ErrorCode::Conflict
        | ErrorCode::SoldOut
        | ErrorCode::LimitReached
        | ErrorCode::Expired
        | ErrorCode::RateLimited => Level::DEBUG,
    }
}

/// Logs a request error at its code's level: the one place request errors are logged. Called
/// inside the request's span, which carries the request id (`X-Request-Id`).
pub fn log_error(
    code: ErrorCode,
    error: &dyn std::fmt::Display,
    source: Option<&dyn std::fmt::Display>,
) {
    let source = source.map(ToString::to_string);
    let level = log_level(code);
    let code = code.as_str();
    match level {
        Level::ERROR => tracing::error!(%error, ?source, code, "request failed"),
        Level::WARN => tracing::warn!(%error, ?source, code, "request failed"),
        _ => tracing::debug!(%error, ?source, code, "request refused"),
    }
}

/// Cuts a message to [`MAX_ERROR_MESSAGE_CHARS`] characters.
pub fn cap_message(message: &mut String) {
    if let Some((at, _)) = message.char_indices().nth(MAX_ERROR_MESSAGE_CHARS) {
        message.truncate(at);
        message.push('…');
    }
}

/// A request-level error (parse, limits) with the bad-input code and `reason` (one of the
/// request-level reasons [`localize`] words in Chinese).
pub fn bad_input_error(reason: &'static str, message: impl Into<String>) -> ServerError {
    let mut error = ServerError::new(message, None);
    let extensions = error.extensions.get_or_insert_with(Default::default);
    extensions.set("code", ErrorCode::BadUserInput.as_str());
    extensions.set("reason", reason);
    error
}

/// The Chinese message of an error, carried (as its `source`, never serialized) from where the
/// error is made to [`localize`].
#[derive(Debug)]
struct MessageZh(Cow<'static, str>);

/// Request-level reasons whose English message names what was wrong: the Chinese keeps that
/// detail after a Chinese lead (the detail is for the developer of the client).
fn request_reason_zh(reason: &str) -> Option<&'static str> {
    Some(match reason {
        "GRAPHQL_PARSE_FAILED" => "请求的 GraphQL 语法有误",
        "GRAPHQL_VALIDATION_FAILED" => "请求不符合接口定义",
        "QUERY_TOO_LARGE" => "请求过大或嵌套过深",
        "INPUT_TOO_LARGE" => "请求中的输入过大",
        _ => return None,
    })
}

/// The code an error carries in `extensions.code`, if it is one of ours.
fn code_of(error: &ServerError) -> Option<ErrorCode> {
    let Some(Value::String(code)) = error.extensions.as_ref()?.get("code") else {
        return None;
    };
    ALL_CODES.into_iter().find(|c| c.as_str() == code)
}

const ALL_CODES: [ErrorCode; 11] = [
    ErrorCode::Unauthenticated,
    ErrorCode::Forbidden,
    ErrorCode::BadUserInput,
    ErrorCode::NotFound,
    ErrorCode::Conflict,
    ErrorCode::SoldOut,
    ErrorCode::LimitReached,
    ErrorCode::Expired,
    ErrorCode::RateLimited,
    ErrorCode::Unavailable,
    ErrorCode::Internal,
];

/// Gives every error of a response its `extensions.reason` and its message in `locale`. Runs
/// after the codes are set (an error async-graphql raised itself, which had no code, is a
/// validation error of the request): a domain or resolver error brings its Chinese message
/// along; request-level errors are worded here from their reason; anything else gets its
/// code's generic Chinese message.
pub fn localize(errors: &mut [ServerError], locale: Locale) {
    for error in errors {
        let code = code_of(error).unwrap_or(ErrorCode::Internal);
        let extensions = error.extensions.get_or_insert_with(Default::default);
        let reason = match extensions.get("reason") {
            Some(Value::String(reason)) => reason.clone(),
            _ => {
                let reason = if code == ErrorCode::BadUserInput && error.source.is_none() {
                    "GRAPHQL_VALIDATION_FAILED"
                } else {
                    generic_reason(code)
                };
                extensions.set("reason", reason);
                reason.to_owned()
            }
        };
        if locale == Locale::En {
            continue;
        }
        let zh = if let Some(MessageZh(zh)) = error.source::<MessageZh>() {
            zh.clone()
        } else if let Some(lead) = request_reason_zh(&reason) {
            Cow::Owned(format!("{lead}：{}", error.message))
        } else if code == ErrorCode::BadUserInput {
            invalid_input_zh(&error.message)
        } else {
            Cow::Borrowed(code.message_zh())
        };
        error.message = zh.into_owned();
        cap_message(&mut error.message);
    }
}

/// What resolvers return on failure. Built only from domain errors (or the few request-level
/// cases below), so every error a client sees carries a code.
#[derive(Clone, Debug)]
pub struct ApiError(async_graphql::Error);

impl ApiError {
    /// An error with its code, its code's generic reason, and its English message (the Chinese
    /// one is then the code's generic message, see [`localize`]).
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self(async_graphql::Error::new(message).extend_with(|_, e| {
            e.set("code", code.as_str());
            e.set("reason", generic_reason(code));
        }))
    }

    /// An error with its reason and its message in both languages.
    pub fn with_text(
        code: ErrorCode,
        reason: &'static str,
        english: impl Into<String>,
        chinese: impl Into<Cow<'static, str>>,
    ) -> Self {
        let mut error = async_graphql::Error::new(english).extend_with(|_, e| {
            e.set("code", code.as_str());
            e.set("reason", reason);
        });
        error.source = Some(Arc::new(MessageZh(chinese.into())));
        Self(error)
    }

    pub fn unauthenticated() -> Self {
        Self::with_text(
            ErrorCode::Unauthenticated,
            "SIGN_IN_REQUIRED",
            "sign-in required",
            ErrorCode::Unauthenticated.message_zh(),
        )
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        let message = message.into();
        let chinese = invalid_input_zh(&message);
        Self::with_text(ErrorCode::BadUserInput, "INVALID_INPUT", message, chinese)
    }
}

impl<E: DomainError> From<E> for ApiError {
    fn from(err: E) -> Self {
        let code = err.code();
        log_error(
            code,
            &err,
            std::error::Error::source(&err).map(|s| s as &dyn std::fmt::Display),
        );
        // Internal and unavailable errors get their code as reason and a generic text.
        let text = err.text();
        if code.is_client_facing() {
            Self::with_text(code, text.reason, err.to_string(), text.zh)
        } else {
            // The cause (SQL, host names, keys) stays in the log, tied to the request's span.
            let message = match code {
                ErrorCode::Unavailable => "the service is temporarily unavailable; try again",
                _ => "internal error",
            };
            Self::with_text(code, text.reason, message, text.zh)
        }
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        err.0
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Parses a GraphQL ID that names a row.
pub fn parse_id(id: &async_graphql::ID) -> ApiResult<i64> {
    id.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| ApiError::bad_input("malformed id"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ErrorCode; 11] = ALL_CODES;

    #[test]
    fn client_errors_are_logged_at_debug_and_internal_ones_loudly() {
        for code in ALL {
            let expected = match code {
                ErrorCode::Internal => Level::ERROR,
                ErrorCode::Unavailable => Level::WARN,
                _ => Level::DEBUG,
            };
            assert_eq!(log_level(code), expected, "{}", code.as_str());
            // Whatever a client is told is never louder than debug.
            assert_eq!(
                log_level(code) == Level::DEBUG,
                code.is_client_facing(),
                "{}",
                code.as_str()
            );
        }
    }

    /// An error as a resolver's failure reaches the response.
    fn served(err: ApiError) -> ServerError {
        async_graphql::Error::from(err).into_server_error(async_graphql::Pos::default())
    }

    fn reason(error: &ServerError) -> Option<String> {
        match error.extensions.as_ref()?.get("reason") {
            Some(Value::String(r)) => Some(r.clone()),
            _ => None,
        }
    }

    #[test]
    fn domain_errors_carry_their_reason_and_chinese_message_to_the_response() {
        let err = domain::booking::BookingError::SlotTaken;
        let mut zh = [served(ApiError::from(err))];
        localize(&mut zh, Locale::Zh);
        assert_eq!(zh[0].message, "该时段已被预约，请选择其他时段");
        assert_eq!(reason(&zh[0]).as_deref(), Some("SLOT_TAKEN"));
        assert_eq!(code_of(&zh[0]), Some(ErrorCode::Conflict));
        let mut en = [served(ApiError::from(
            domain::booking::BookingError::SlotTaken,
        ))];
        localize(&mut en, Locale::En);
        assert_eq!(
            en[0].message,
            "that time is no longer free; pick another slot"
        );
        assert_eq!(reason(&en[0]).as_deref(), Some("SLOT_TAKEN"));
    }

    #[test]
    fn internal_errors_say_only_their_code_in_either_language() {
        let err = domain::members::MembersError::CodeAllocation;
        let mut errors = [served(ApiError::from(err))];
        assert_eq!(errors[0].message, "internal error");
        localize(&mut errors, Locale::Zh);
        assert_eq!(errors[0].message, "系统内部错误");
        assert_eq!(reason(&errors[0]).as_deref(), Some("INTERNAL"));
    }

    #[test]
    fn request_errors_get_a_reason_and_a_chinese_lead() {
        // async-graphql's own validation errors reach here with the code the HTTP layer set.
        let mut validation = ServerError::new("Unknown field \"nope\"", None);
        validation
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", ErrorCode::BadUserInput.as_str());
        let mut errors = [
            validation,
            bad_input_error("GRAPHQL_PARSE_FAILED", "syntax error: expected name"),
            served(ApiError::bad_input("malformed id")),
            served(ApiError::new(ErrorCode::Forbidden, "no")),
        ];
        localize(&mut errors, Locale::Zh);
        let got: Vec<_> = errors
            .iter()
            .map(|e| (reason(e).unwrap_or_default(), e.message.clone()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "GRAPHQL_VALIDATION_FAILED".to_owned(),
                    "请求不符合接口定义：Unknown field \"nope\"".to_owned()
                ),
                (
                    "GRAPHQL_PARSE_FAILED".to_owned(),
                    "请求的 GraphQL 语法有误：syntax error: expected name".to_owned()
                ),
                ("INVALID_INPUT".to_owned(), "ID 格式不正确".to_owned()),
                ("ROLE_NOT_ALLOWED".to_owned(), "您无权执行此操作".to_owned()),
            ]
        );
    }

    #[test]
    fn messages_are_capped_on_a_character_boundary() {
        let mut short = "fine".to_owned();
        cap_message(&mut short);
        assert_eq!(short, "fine");
        let mut long = "码".repeat(1_000);
        cap_message(&mut long);
        assert_eq!(long.chars().count(), MAX_ERROR_MESSAGE_CHARS + 1);
        assert!(long.ends_with('…'));
    }
}

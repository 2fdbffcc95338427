//! The one place domain errors become GraphQL errors: `extensions.code` from the error's
//! [`ErrorCode`], the message when it is meant for the caller, and a generic message (with the
//! cause in the log) when it is not. Also the one place request errors are logged
//! ([`log_error`]) and the cap on what an error message may say.

use async_graphql::{ErrorExtensions, ServerError};
use domain::{DomainError, ErrorCode};
use tracing::Level;

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

/// A request-level error (parse, limits) with the bad-input code.
pub fn bad_input_error(message: impl Into<String>) -> ServerError {
    let mut error = ServerError::new(message, None);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", ErrorCode::BadUserInput.as_str());
    error
}

/// What resolvers return on failure. Built only from domain errors (or the few request-level
/// cases below), so every error a client sees carries a code.
#[derive(Clone, Debug)]
pub struct ApiError(async_graphql::Error);

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self(async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code.as_str())))
    }

    pub fn unauthenticated() -> Self {
        Self::new(ErrorCode::Unauthenticated, "sign-in required")
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadUserInput, message)
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
        if code.is_client_facing() {
            Self::new(code, err.to_string())
        } else {
            // The cause (SQL, host names, keys) stays in the log, tied to the request's span.
            let message = match code {
                ErrorCode::Unavailable => "the service is temporarily unavailable; try again",
                _ => "internal error",
            };
            Self::new(code, message)
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

    const ALL: [ErrorCode; 11] = [
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

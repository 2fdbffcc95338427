//! The one place domain errors become GraphQL errors: `extensions.code` from the error's
//! [`ErrorCode`], the message when it is meant for the caller, and a generic message (with the
//! cause in the log) when it is not.

use async_graphql::ErrorExtensions;
use domain::{DomainError, ErrorCode};

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
        if code.is_client_facing() {
            Self::new(code, err.to_string())
        } else {
            // The cause (SQL, host names, keys) stays in the log, tied to the request's span.
            tracing::error!(error = %err, source = ?std::error::Error::source(&err), code = code.as_str(), "request failed");
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

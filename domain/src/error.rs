//! The stable error codes every domain error maps to, and the storage errors all modules share.
//!
//! Each capability module has its own error enum; each variant says which [`ErrorCode`] it is.
//! The GraphQL layer turns that into `extensions.code` once, and never shows an internal cause.

use sea_orm::{DbErr, RuntimeErr, SqlErr};

use crate::kv::KvError;

/// The machine-readable codes clients branch on (ARCHITECTURE.md, "Errors").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    BadUserInput,
    NotFound,
    Conflict,
    SoldOut,
    LimitReached,
    Expired,
    RateLimited,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::NotFound => "NOT_FOUND",
            Self::Conflict => "CONFLICT",
            Self::SoldOut => "SOLD_OUT",
            Self::LimitReached => "LIMIT_REACHED",
            Self::Expired => "EXPIRED",
            Self::RateLimited => "RATE_LIMITED",
            Self::Unavailable => "UNAVAILABLE",
            Self::Internal => "INTERNAL",
        }
    }

    /// Whether the error's message may be shown to the caller. Internal and unavailable
    /// errors carry causes (SQL, hosts) that stay in the logs.
    pub const fn is_client_facing(self) -> bool {
        !matches!(self, Self::Internal | Self::Unavailable)
    }
}

/// Implemented by every domain module's error enum.
pub trait DomainError: std::error::Error + Send + Sync + 'static {
    fn code(&self) -> ErrorCode;
}

/// A failure of the database or the key-value store, sorted into what the caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached (pool exhausted, connection refused, time-out).
    #[error("database unavailable")]
    DbUnavailable(#[source] DbErr),
    /// A write lost a race with another one (serialization failure, SQLite busy).
    #[error("concurrent update, try again")]
    Contention(#[source] DbErr),
    #[error("database error")]
    Db(#[source] DbErr),
    #[error(transparent)]
    Kv(#[from] KvError),
}

impl StoreError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::DbUnavailable(_) | Self::Contention(_) => ErrorCode::Unavailable,
            Self::Db(_) => ErrorCode::Internal,
            Self::Kv(e) => e.code(),
        }
    }
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        match &err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => Self::DbUnavailable(err),
            _ if is_contention(&err) => Self::Contention(err),
            _ => Self::Db(err),
        }
    }
}

/// True when the database refused a write because of a unique constraint.
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Serialization failures (PostgreSQL 40001/40P01) and SQLite's busy/locked answers.
fn is_contention(err: &DbErr) -> bool {
    let runtime = match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
        _ => return false,
    };
    let Some(db) = runtime.as_database_error() else {
        return false;
    };
    match db.code().as_deref() {
        Some("40001" | "40P01") => true,
        // SQLITE_BUSY = 5, SQLITE_LOCKED = 6 (and their extended codes end in the same byte).
        Some(code) => code
            .parse::<i32>()
            .is_ok_and(|c| matches!(c & 0xff, 5 | 6) && db.message().contains("locked")),
        None => false,
    }
}

/// Lets a module error absorb database and key-value errors with `?`.
#[macro_export]
macro_rules! store_error_conversions {
    ($error:ty) => {
        impl From<sea_orm::DbErr> for $error {
            fn from(err: sea_orm::DbErr) -> Self {
                Self::Store($crate::error::StoreError::from(err))
            }
        }
        impl From<$crate::kv::KvError> for $error {
            fn from(err: $crate::kv::KvError) -> Self {
                Self::Store($crate::error::StoreError::from(err))
            }
        }
    };
}

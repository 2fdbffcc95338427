//! The stable error codes every domain error maps to, and the storage errors all modules share.
//!
//! Each capability module has its own error enum; each variant says which [`ErrorCode`] it is.
//! The GraphQL layer turns that into `extensions.code` once, and never shows an internal cause.

use sea_orm::{DbErr, RuntimeErr, SqlErr, SqlxError};

use crate::platform::kv::KvError;

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

    /// The Chinese message for an error of this code when nothing more specific is written
    /// (and always for internal and unavailable errors, whose causes stay in the logs).
    pub const fn message_zh(self) -> &'static str {
        match self {
            Self::Unauthenticated => "请先登录",
            Self::Forbidden => "您无权执行此操作",
            Self::BadUserInput => "请求内容有误",
            Self::NotFound => "找不到所请求的内容",
            Self::Conflict => "操作冲突，请刷新后重试",
            Self::SoldOut => "已售罄",
            Self::LimitReached => "已达到上限",
            Self::Expired => "已过期",
            Self::RateLimited => "操作过于频繁，请稍后再试",
            Self::Unavailable => "服务暂时不可用，请稍后重试",
            Self::Internal => "系统内部错误",
        }
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
        if is_contention(&err) {
            Self::Contention(err)
        } else if db_error_code(&err) == ErrorCode::Unavailable {
            Self::DbUnavailable(err)
        } else {
            Self::Db(err)
        }
    }
}

/// The one place a database failure is sorted: UNAVAILABLE when the database is away or busy
/// and a retry may succeed (a lost or refused connection, a pool time-out, an administrator
/// shutdown, a lost write race), INTERNAL for everything else (a bug or a broken schema).
/// Every module's error reaches its code through [`StoreError`], which asks here.
pub fn db_error_code(err: &DbErr) -> ErrorCode {
    if is_contention(err) || is_connection_lost(err) {
        ErrorCode::Unavailable
    } else {
        ErrorCode::Internal
    }
}

/// The database was not reachable, or the connection died under the statement (PostgreSQL
/// restarting, a network cut, the pool waiting too long for a connection).
fn is_connection_lost(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            sqlx_connection_lost(e)
        }
        DbErr::Exec(RuntimeErr::Internal(m))
        | DbErr::Query(RuntimeErr::Internal(m))
        | DbErr::Custom(m) => message_says_connection_lost(m),
        _ => false,
    }
}

fn sqlx_connection_lost(err: &SqlxError) -> bool {
    match err {
        SqlxError::Io(_)
        | SqlxError::Tls(_)
        | SqlxError::PoolTimedOut
        | SqlxError::PoolClosed
        | SqlxError::WorkerCrashed
        | SqlxError::BeginFailed => true,
        SqlxError::Database(db) => match db.code().as_deref() {
            // admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections
            Some("57P01" | "57P02" | "57P03" | "53300") => true,
            // Class 08: connection exceptions.
            Some(code) if code.starts_with("08") => true,
            _ => message_says_connection_lost(db.message()),
        },
        SqlxError::Protocol(m) => message_says_connection_lost(m),
        _ => false,
    }
}

/// For failures that only say so in words (wrapped by a driver or passed on as text).
fn message_says_connection_lost(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "pooltimedout",
        "pool timed out",
        "connection reset",
        "connection closed",
        "connection refused",
        "broken pipe",
        "unexpected eof",
        "terminating connection",
        "server closed the connection",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

/// True when the database refused a write because of a unique constraint.
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Says at the call site what a unique-constraint refusal of a write means: a taken code, a
/// reused idempotency key, a race another writer won. Every other failure keeps its usual sorting.
pub trait UniqueViolation<T> {
    /// A unique-constraint refusal becomes `conflict()`.
    fn on_unique_violation<E: From<DbErr>>(self, conflict: impl FnOnce() -> E) -> Result<T, E>;
    /// A unique-constraint refusal is an expected answer (another writer got there first): `None`.
    fn unless_duplicate<E: From<DbErr>>(self) -> Result<Option<T>, E>;
}

impl<T> UniqueViolation<T> for Result<T, DbErr> {
    fn on_unique_violation<E: From<DbErr>>(self, conflict: impl FnOnce() -> E) -> Result<T, E> {
        self.map_err(|e| {
            if is_unique_violation(&e) {
                conflict()
            } else {
                e.into()
            }
        })
    }

    fn unless_duplicate<E: From<DbErr>>(self) -> Result<Option<T>, E> {
        match self {
            Ok(value) => Ok(Some(value)),
            Err(e) if is_unique_violation(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

impl KvError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unavailable(_) => ErrorCode::Unavailable,
            Self::Protocol(_) => ErrorCode::Internal,
        }
    }
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
                Self::Store($crate::platform::error::StoreError::from(err))
            }
        }
        impl From<$crate::platform::kv::KvError> for $error {
            fn from(err: $crate::platform::kv::KvError) -> Self {
                Self::Store($crate::platform::error::StoreError::from(err))
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::sync::Arc;

    use sea_orm::sqlx::error::{DatabaseError, ErrorKind};
    use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr, SqlxError};

    use super::{ErrorCode, db_error_code};

    /// A server error with a SQLSTATE, as PostgreSQL sends them.
    #[derive(Debug)]
    struct Server(&'static str, &'static str);

    impl std::fmt::Display for Server {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.1)
        }
    }
    impl std::error::Error for Server {}
    impl DatabaseError for Server {
        fn message(&self) -> &str {
            self.1
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> ErrorKind {
            ErrorKind::Other
        }
    }

    fn query(e: SqlxError) -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(Arc::new(e)))
    }
    fn exec(e: SqlxError) -> DbErr {
        DbErr::Exec(RuntimeErr::SqlxError(Arc::new(e)))
    }
    fn server(code: &'static str, message: &'static str) -> SqlxError {
        SqlxError::Database(Box::new(Server(code, message)))
    }
    fn io(kind: std::io::ErrorKind) -> SqlxError {
        SqlxError::Io(std::io::Error::from(kind))
    }

    #[test]
    fn a_database_that_went_away_is_unavailable() {
        use std::io::ErrorKind::*;
        let away = [
            DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
            DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
            DbErr::Conn(RuntimeErr::SqlxError(Arc::new(io(ConnectionRefused)))),
            query(server(
                "57P01",
                "terminating connection due to administrator command",
            )),
            exec(server("57P02", "crash shutdown")),
            query(server("57P03", "the database system is starting up")),
            query(server("08006", "connection failure")),
            query(io(ConnectionReset)),
            exec(io(BrokenPipe)),
            exec(io(UnexpectedEof)),
            query(SqlxError::PoolTimedOut),
            query(SqlxError::PoolClosed),
            exec(SqlxError::Protocol(
                "connection closed while reading".into(),
            )),
            // Passed on as text by a layer that only kept the message.
            DbErr::Custom("error returned from database: PoolTimedOut".into()),
            DbErr::Exec(RuntimeErr::Internal("connection reset by peer".into())),
            // Lost write races are worth a retry too.
            exec(server("40001", "could not serialize access")),
        ];
        for err in away {
            assert_eq!(db_error_code(&err), ErrorCode::Unavailable, "{err:?}");
        }
    }

    #[test]
    fn faults_are_internal() {
        let faults = [
            query(server("42P01", "relation \"nope\" does not exist")),
            exec(server(
                "23505",
                "duplicate key value violates unique constraint",
            )),
            query(SqlxError::ColumnNotFound("x".into())),
            DbErr::RecordNotFound("order".into()),
            DbErr::Custom("bad data".into()),
            DbErr::Type("not a number".into()),
        ];
        for err in faults {
            assert_eq!(db_error_code(&err), ErrorCode::Internal, "{err:?}");
        }
    }
}

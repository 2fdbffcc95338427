//! The account statement as a file (CSV or XLSX) behind a signed link valid an hour. It is
//! written through the report exports' writer (`reports::Sink`: CSV through `csv`, XLSX in
//! constant memory) and stored the same way (a PRIVATE object, a signed link of
//! `reports::EXPORT_LINK_TTL_SECS`). Unlike a sales report it is written in the request: one
//! distributor's month is at most a few hundred lines, so there is nothing to queue (and the
//! report job queue runs jobs as a staff member, which a distributor is not).
//!
//! Layout: a header row, an OPENING row (balance = opening), one row per line (amount and the
//! balance after it), a CLOSING row (amount = the month's net, balance = closing).

use chrono::{DateTime, Duration, SecondsFormat, Utc};

use super::B2bError;
use super::statement::{AccountStatement, StatementLineKind, statement_of};
use crate::AppState;
use crate::auth::DistributorPrincipal;
use crate::reports::{Cell, EXPORT_LINK_TTL_SECS, ExportFormat, Sink};

/// A statement file ready to download.
#[derive(Debug, Clone)]
pub struct StatementExport {
    pub format: ExportFormat,
    pub month: String,
    /// Signed, valid until `expires_at`.
    pub url: String,
    pub expires_at: DateTime<Utc>,
    /// Statement lines in the file (without the header, opening and closing rows).
    pub lines: i64,
    pub opening_fen: i64,
    pub closing_fen: i64,
}

/// The columns of a statement file.
pub const STATEMENT_COLUMNS: &[&str] = &[
    "date (Asia/Shanghai)",
    "time (UTC)",
    "kind",
    "reference",
    "purchase order",
    "amount (FEN)",
    "balance (FEN)",
];

fn failed(e: impl std::fmt::Display) -> B2bError {
    B2bError::Export(e.to_string())
}

fn kind_name(kind: StatementLineKind) -> &'static str {
    match kind {
        StatementLineKind::Invoice => "INVOICE",
        StatementLineKind::Payment => "PAYMENT",
        StatementLineKind::CreditNote => "CREDIT_NOTE",
        StatementLineKind::Rebate => "REBATE",
    }
}

/// Writes `s` to `file`.
async fn write(
    s: &AccountStatement,
    format: ExportFormat,
    file: &std::path::Path,
) -> Result<(), B2bError> {
    let mut sink = Sink::open_sheet(format, file, "statement").map_err(failed)?;
    sink.header(STATEMENT_COLUMNS).map_err(failed)?;
    sink.row(&[
        Cell::text(s.first_day.to_string()),
        Cell::Empty,
        Cell::text("OPENING"),
        Cell::text(format!("{} {}", s.distributor_code, s.month)),
        Cell::Empty,
        Cell::Empty,
        Cell::Int(s.opening_fen),
    ])
    .map_err(failed)?;
    for l in &s.lines {
        sink.row(&[
            Cell::text(l.day().to_string()),
            Cell::text(l.at.to_rfc3339_opts(SecondsFormat::Millis, true)),
            Cell::text(kind_name(l.kind)),
            Cell::text(l.reference.clone()),
            l.purchase_order_no.clone().map_or(Cell::Empty, Cell::Text),
            Cell::Int(l.amount_fen),
            Cell::Int(l.balance_fen),
        ])
        .map_err(failed)?;
    }
    sink.row(&[
        Cell::text(s.last_day.to_string()),
        Cell::Empty,
        Cell::text("CLOSING"),
        Cell::text(format!("{} {}", s.distributor_code, s.month)),
        Cell::Empty,
        Cell::Int(s.closing_fen - s.opening_fen),
        Cell::Int(s.closing_fen),
    ])
    .map_err(failed)?;
    sink.finish(file).await.map_err(failed)
}

/// The caller's organisation's statement of `month` as a CSV or XLSX file (any role).
#[tracing::instrument(skip_all, err, fields(distributor_id = who.distributor_id))]
pub async fn export_account_statement(
    app: &AppState,
    who: &DistributorPrincipal,
    month: &str,
    format: ExportFormat,
) -> Result<StatementExport, B2bError> {
    let s = statement_of(app, who.distributor_id, month).await?;
    let dir = tempfile::tempdir().map_err(failed)?;
    let name = format!(
        "statement-{}-{}.{}",
        s.distributor_code
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>(),
        s.month,
        format.extension()
    );
    let file = dir.path().join(&name);
    write(&s, format, &file).await?;
    let key = app
        .media
        .store
        .put_private_file(&name, &file)
        .await
        .map_err(failed)?;
    let expires_at = app.clock.now() + Duration::seconds(EXPORT_LINK_TTL_SECS);
    Ok(StatementExport {
        format,
        month: s.month.clone(),
        url: app.media.store.url(&key, expires_at.timestamp()),
        expires_at,
        lines: i64::try_from(s.lines.len()).unwrap_or(i64::MAX),
        opening_fen: s.opening_fen,
        closing_fen: s.closing_fen,
    })
}

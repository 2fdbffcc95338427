//! The distributor's account statement (对账单, issue 15): a month in Asia/Shanghai with its
//! opening balance, dated and referenced lines and closing balance; also as a CSV or XLSX file
//! behind a signed link. Thin: the rules live in `domain::b2b::statement`.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use domain::b2b;
use domain::reports::ExportFormat;

use crate::context::{app, distributor, staff};
use crate::error::{ApiResult, parse_id};
use crate::scalars::{Date, DateTime, Fen};

/// What a statement line is.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum StatementLineKind {
    /// A shipment invoiced (发货开票): the balance goes up.
    Invoice,
    /// A payment received (回款): the balance goes down.
    Payment,
    /// A credit note (红字冲销, e.g. a return): the balance goes down.
    CreditNote,
    /// Rebate deducted from what is owed (返利抵扣): the balance goes down.
    Rebate,
}

impl From<b2b::StatementLineKind> for StatementLineKind {
    fn from(k: b2b::StatementLineKind) -> Self {
        match k {
            b2b::StatementLineKind::Invoice => Self::Invoice,
            b2b::StatementLineKind::Payment => Self::Payment,
            b2b::StatementLineKind::CreditNote => Self::CreditNote,
            b2b::StatementLineKind::Rebate => Self::Rebate,
        }
    }
}

/// One line of a statement.
#[derive(SimpleObject)]
pub struct StatementLine {
    pub at: DateTime,
    /// The line's day in Asia/Shanghai.
    pub day: Date,
    pub kind: StatementLineKind,
    /// The document: the shipment no of an invoice, the bank reference of a payment.
    pub reference: String,
    pub purchase_order_id: Option<ID>,
    pub purchase_order_no: Option<String>,
    /// Signed: positive raises what is owed, negative lowers it.
    pub amount_fen: Fen,
    /// What is owed after this line.
    pub balance_fen: Fen,
}

/// A month's account statement (对账单): what the distributor owes on credit. Opening balance
/// plus the lines' amounts is the closing balance. The lines are one month's of one
/// distributor, read whole (dated, oldest first).
#[derive(SimpleObject)]
pub struct AccountStatement {
    pub distributor_id: ID,
    pub distributor_code: String,
    pub distributor_name: String,
    /// `YYYY-MM`, in Asia/Shanghai.
    pub month: String,
    pub first_day: Date,
    pub last_day: Date,
    /// Owed at the start of the first day.
    pub opening_fen: Fen,
    /// Sum of the lines that raised the balance (invoices).
    pub invoiced_fen: Fen,
    /// Sum of the lines that lowered it (payments, credit notes, rebates), as a positive sum.
    pub credited_fen: Fen,
    /// Owed at the end of the last day (or now, for the current month).
    pub closing_fen: Fen,
    pub lines: Vec<StatementLine>,
}

impl From<b2b::AccountStatement> for AccountStatement {
    fn from(s: b2b::AccountStatement) -> Self {
        Self {
            distributor_id: s.distributor_id.into(),
            distributor_code: s.distributor_code,
            distributor_name: s.distributor_name,
            month: s.month,
            first_day: Date(s.first_day),
            last_day: Date(s.last_day),
            opening_fen: Fen(s.opening_fen),
            invoiced_fen: Fen(s.invoiced_fen),
            credited_fen: Fen(s.credited_fen),
            closing_fen: Fen(s.closing_fen),
            lines: s
                .lines
                .into_iter()
                .map(|l| StatementLine {
                    day: Date(l.day()),
                    at: l.at.into(),
                    kind: l.kind.into(),
                    reference: l.reference,
                    purchase_order_id: l.purchase_order_id.map(Into::into),
                    purchase_order_no: l.purchase_order_no,
                    amount_fen: Fen(l.amount_fen),
                    balance_fen: Fen(l.balance_fen),
                })
                .collect(),
        }
    }
}

#[derive(Default)]
pub struct DistributorStatementQuery;

#[Object]
impl DistributorStatementQuery {
    /// The organisation's account statement (对账单) of a month (`YYYY-MM`, Asia/Shanghai).
    async fn account_statement(
        &self,
        ctx: &Context<'_>,
        month: String,
    ) -> ApiResult<AccountStatement> {
        let who = distributor(ctx).await?;
        Ok(b2b::account_statement(app(ctx), who, &month).await?.into())
    }
}

#[derive(Default)]
pub struct StaffStatementQuery;

#[Object]
impl StaffStatementQuery {
    /// A distributor's account statement (对账单) of a month (`YYYY-MM`, Asia/Shanghai; HQ,
    /// finance).
    async fn distributor_statement(
        &self,
        ctx: &Context<'_>,
        distributor_id: ID,
        month: String,
    ) -> ApiResult<AccountStatement> {
        let staff = staff(ctx).await?;
        Ok(
            b2b::distributor_statement(app(ctx), staff, parse_id(&distributor_id)?, &month)
                .await?
                .into(),
        )
    }
}

/// A statement file (CSV or XLSX) behind a signed link valid an hour.
#[derive(SimpleObject)]
pub struct StatementExport {
    pub format: ExportFormat,
    pub month: String,
    /// Signed download link; valid until `expiresAt`.
    pub url: String,
    pub expires_at: DateTime,
    /// Statement lines in the file (besides the header, OPENING and CLOSING rows).
    pub lines: i64,
    pub opening_fen: Fen,
    pub closing_fen: Fen,
}

impl From<b2b::StatementExport> for StatementExport {
    fn from(e: b2b::StatementExport) -> Self {
        Self {
            format: e.format,
            month: e.month,
            url: e.url,
            expires_at: e.expires_at.into(),
            lines: e.lines,
            opening_fen: Fen(e.opening_fen),
            closing_fen: Fen(e.closing_fen),
        }
    }
}

#[derive(Default)]
pub struct DistributorStatementMutation;

#[Object]
impl DistributorStatementMutation {
    /// The organisation's account statement of a month as a CSV or XLSX file: a header, an
    /// OPENING row, one row per line (amount, balance after it) and a CLOSING row.
    async fn export_account_statement(
        &self,
        ctx: &Context<'_>,
        month: String,
        format: ExportFormat,
    ) -> ApiResult<StatementExport> {
        let who = distributor(ctx).await?;
        Ok(b2b::export_account_statement(app(ctx), who, &month, format)
            .await?
            .into())
    }
}

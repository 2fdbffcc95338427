//! The distributor's account statement (对账单) for a month in Asia/Shanghai: the balance owed
//! at the month's start, every line that moved it in the month (dated, referenced), and the
//! balance at its end. Opening + Σ lines = closing, always: the opening balance is the sum of
//! the same sources' lines before the month, so nothing is counted in one and missed in the
//! other. The balance is what the distributor owes on credit (its open receivables): shipment
//! invoices raise it, payments and credit notes (accepted returns) lower it. Rebate spent on an
//! order lowers that order's invoice, so it needs no line of its own. Orders of a prepaid
//! distributor (款到发货) write no receivable and so no statement line.
//!
//! The lines come from a list of sources ([`SOURCES`]), each reading one kind of record. A new
//! kind of money movement is one more [`StatementSource`] and one more entry in that list.

use async_trait::async_trait;
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::HashMap;

use super::B2bError;
use crate::AppState;
use crate::auth::{DistributorPrincipal, Permission, StaffPrincipal};
use crate::platform::clock::DEFAULT_ZONE;
use crate::platform::db::sum_i64;
use entities::credit_entry::{self, CreditEntryKind};
use entities::{distributor, distributor_payment, purchase_order, receivable, shipment};

/// What a statement line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// One dated, referenced line. `amount_fen` is signed: positive raises what is owed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    pub at: DateTime<Utc>,
    pub kind: StatementLineKind,
    /// The document: shipment no, payment reference, credit note no.
    pub reference: String,
    pub purchase_order_id: Option<i64>,
    pub purchase_order_no: Option<String>,
    pub amount_fen: i64,
    /// The balance after this line (filled in by the statement).
    pub balance_fen: i64,
}

impl StatementLine {
    /// The line's day in Asia/Shanghai.
    pub fn day(&self) -> NaiveDate {
        self.at.with_timezone(&DEFAULT_ZONE).date_naive()
    }
}

/// A month's statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountStatement {
    pub distributor_id: i64,
    pub distributor_code: String,
    pub distributor_name: String,
    /// `YYYY-MM`.
    pub month: String,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub opening_fen: i64,
    pub invoiced_fen: i64,
    /// Payments, credit notes and rebates, as a positive sum.
    pub credited_fen: i64,
    pub closing_fen: i64,
    pub lines: Vec<StatementLine>,
}

/// One kind of record that moves the balance.
#[async_trait]
pub(crate) trait StatementSource: Sync {
    /// The signed sum of the distributor's lines dated before `before`.
    async fn sum_before(
        &self,
        db: &DatabaseConnection,
        distributor_id: i64,
        before: DateTime<Utc>,
    ) -> Result<i64, B2bError>;
    /// The distributor's lines dated in `[from, to)`.
    async fn lines(
        &self,
        db: &DatabaseConnection,
        distributor_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<StatementLine>, B2bError>;
}

/// Every source of statement lines.
pub(crate) const SOURCES: &[&dyn StatementSource] = &[&Invoices, &Payments, &CreditNotes];

/// Shipment invoices: the receivables shipments wrote (credit orders only).
struct Invoices;

#[async_trait]
impl StatementSource for Invoices {
    async fn sum_before(
        &self,
        db: &DatabaseConnection,
        distributor_id: i64,
        before: DateTime<Utc>,
    ) -> Result<i64, B2bError> {
        let sum = amount_sum(
            db,
            receivable::Entity::find()
                .filter(receivable::Column::DistributorId.eq(distributor_id))
                .filter(receivable::Column::CreatedAt.lt(before)),
            receivable::Column::AmountFen,
        )
        .await?;
        Ok(sum)
    }

    async fn lines(
        &self,
        db: &DatabaseConnection,
        distributor_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<StatementLine>, B2bError> {
        let rows = receivable::Entity::find()
            .filter(receivable::Column::DistributorId.eq(distributor_id))
            .filter(receivable::Column::CreatedAt.gte(from))
            .filter(receivable::Column::CreatedAt.lt(to))
            .order_by_asc(receivable::Column::Id)
            .all(db)
            .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let shipment_nos: HashMap<i64, String> = shipment::Entity::find()
            .filter(shipment::Column::Id.is_in(rows.iter().map(|r| r.shipment_id)))
            .all(db)
            .await?
            .into_iter()
            .map(|s| (s.id, s.no))
            .collect();
        let order_nos: HashMap<i64, String> = purchase_order::Entity::find()
            .filter(purchase_order::Column::Id.is_in(rows.iter().map(|r| r.purchase_order_id)))
            .all(db)
            .await?
            .into_iter()
            .map(|o| (o.id, o.no))
            .collect();
        Ok(rows
            .into_iter()
            .map(|r| StatementLine {
                at: r.created_at,
                kind: StatementLineKind::Invoice,
                reference: shipment_nos
                    .get(&r.shipment_id)
                    .cloned()
                    .unwrap_or_else(|| format!("shipment {}", r.shipment_id)),
                purchase_order_id: Some(r.purchase_order_id),
                purchase_order_no: order_nos.get(&r.purchase_order_id).cloned(),
                amount_fen: r.amount_fen,
                balance_fen: 0,
            })
            .collect())
    }
}

/// Payments finance recorded.
struct Payments;

#[async_trait]
impl StatementSource for Payments {
    async fn sum_before(
        &self,
        db: &DatabaseConnection,
        distributor_id: i64,
        before: DateTime<Utc>,
    ) -> Result<i64, B2bError> {
        let sum = amount_sum(
            db,
            distributor_payment::Entity::find()
                .filter(distributor_payment::Column::DistributorId.eq(distributor_id))
                .filter(distributor_payment::Column::CreatedAt.lt(before)),
            distributor_payment::Column::AmountFen,
        )
        .await?;
        Ok(-sum)
    }

    async fn lines(
        &self,
        db: &DatabaseConnection,
        distributor_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<StatementLine>, B2bError> {
        Ok(distributor_payment::Entity::find()
            .filter(distributor_payment::Column::DistributorId.eq(distributor_id))
            .filter(distributor_payment::Column::CreatedAt.gte(from))
            .filter(distributor_payment::Column::CreatedAt.lt(to))
            .order_by_asc(distributor_payment::Column::Id)
            .all(db)
            .await?
            .into_iter()
            .map(|p| StatementLine {
                at: p.created_at,
                kind: StatementLineKind::Payment,
                reference: p.reference,
                purchase_order_id: None,
                purchase_order_no: None,
                amount_fen: -p.amount_fen,
                balance_fen: 0,
            })
            .collect())
    }
}

/// Credit notes (accepted returns) lower what is owed, as payments do.
struct CreditNotes;

#[async_trait]
impl StatementSource for CreditNotes {
    async fn sum_before(
        &self,
        db: &DatabaseConnection,
        distributor_id: i64,
        before: DateTime<Utc>,
    ) -> Result<i64, B2bError> {
        let sum = amount_sum(
            db,
            credit_entry::Entity::find()
                .filter(credit_entry::Column::DistributorId.eq(distributor_id))
                .filter(credit_entry::Column::Kind.eq(CreditEntryKind::CreditNote))
                .filter(credit_entry::Column::CreatedAt.lt(before)),
            credit_entry::Column::AmountFen,
        )
        .await?;
        Ok(-sum)
    }

    async fn lines(
        &self,
        db: &DatabaseConnection,
        distributor_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<StatementLine>, B2bError> {
        Ok(credit_entry::Entity::find()
            .filter(credit_entry::Column::DistributorId.eq(distributor_id))
            .filter(credit_entry::Column::Kind.eq(CreditEntryKind::CreditNote))
            .filter(credit_entry::Column::CreatedAt.gte(from))
            .filter(credit_entry::Column::CreatedAt.lt(to))
            .order_by_asc(credit_entry::Column::Id)
            .all(db)
            .await?
            .into_iter()
            .map(|c| StatementLine {
                at: c.created_at,
                kind: StatementLineKind::CreditNote,
                reference: c.source_ref,
                purchase_order_id: None,
                purchase_order_no: None,
                amount_fen: -c.amount_fen,
                balance_fen: 0,
            })
            .collect())
    }
}

/// Σ of a source's amount column over the rows a query selects (0 when none).
async fn amount_sum<E: EntityTrait>(
    db: &DatabaseConnection,
    rows: sea_orm::Select<E>,
    amount: E::Column,
) -> Result<i64, B2bError> {
    let sum: Option<i64> = rows
        .select_only()
        .column_as(sum_i64(amount), "s")
        .into_tuple()
        .one(db)
        .await?
        .flatten();
    Ok(sum.unwrap_or(0))
}

fn bad_month() -> B2bError {
    B2bError::InvalidInput("a month is written YYYY-MM".into())
}

/// The first and last day of a `YYYY-MM` month.
pub(crate) fn month_days(month: &str) -> Result<(NaiveDate, NaiveDate), B2bError> {
    if month.len() != 7 {
        return Err(bad_month());
    }
    let first =
        NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").map_err(|_| bad_month())?;
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    }
    .ok_or_else(bad_month)?;
    let last = next.pred_opt().ok_or_else(bad_month)?;
    Ok((first, last))
}

/// Midnight starting `day` in Asia/Shanghai, as UTC.
fn shanghai_midnight(day: NaiveDate) -> Result<DateTime<Utc>, B2bError> {
    let local = day.and_hms_opt(0, 0, 0).ok_or_else(bad_month)?;
    DEFAULT_ZONE
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(bad_month)
}

/// Builds the statement of `month` for a distributor (no permission checks: callers do them).
pub(crate) async fn statement_of(
    app: &AppState,
    distributor_id: i64,
    month: &str,
) -> Result<AccountStatement, B2bError> {
    let (first_day, last_day) = month_days(month)?;
    let today = app.clock.now().with_timezone(&DEFAULT_ZONE).date_naive();
    if first_day > today {
        return Err(B2bError::InvalidInput(
            "the month has not started yet".into(),
        ));
    }
    let dist = distributor::Entity::find_by_id(distributor_id)
        .one(&app.db)
        .await?
        .ok_or(B2bError::NotFound("distributor"))?;
    let from = shanghai_midnight(first_day)?;
    let to = shanghai_midnight(last_day.succ_opt().ok_or_else(bad_month)?)?;
    let mut opening_fen = 0;
    let mut lines = Vec::new();
    for source in SOURCES {
        opening_fen += source.sum_before(&app.db, distributor_id, from).await?;
        lines.extend(source.lines(&app.db, distributor_id, from, to).await?);
    }
    // Date order; on one instant, what is owed before what pays it.
    lines.sort_by(|a, b| {
        a.at.cmp(&b.at)
            .then(b.amount_fen.signum().cmp(&a.amount_fen.signum()))
            .then(a.reference.cmp(&b.reference))
    });
    let mut balance = opening_fen;
    let (mut invoiced_fen, mut credited_fen) = (0, 0);
    for line in &mut lines {
        balance += line.amount_fen;
        line.balance_fen = balance;
        if line.amount_fen >= 0 {
            invoiced_fen += line.amount_fen;
        } else {
            credited_fen -= line.amount_fen;
        }
    }
    Ok(AccountStatement {
        distributor_id,
        distributor_code: dist.code,
        distributor_name: dist.name,
        month: month.to_owned(),
        first_day,
        last_day,
        opening_fen,
        invoiced_fen,
        credited_fen,
        closing_fen: balance,
        lines,
    })
}

/// The caller's organisation's statement of `month` (any role of the organisation).
pub async fn account_statement(
    app: &AppState,
    who: &DistributorPrincipal,
    month: &str,
) -> Result<AccountStatement, B2bError> {
    statement_of(app, who.distributor_id, month).await
}

/// A distributor's statement of `month` (HQ, finance).
pub async fn distributor_statement(
    app: &AppState,
    staff: &StaffPrincipal,
    distributor_id: i64,
    month: &str,
) -> Result<AccountStatement, B2bError> {
    staff.require(Permission::ViewDistributors)?;
    statement_of(app, distributor_id, month).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_read_strictly() {
        assert_eq!(
            month_days("2026-02").unwrap(),
            (
                NaiveDate::from_ymd_opt(2026, 2, 1).unwrap(),
                NaiveDate::from_ymd_opt(2026, 2, 28).unwrap()
            )
        );
        assert_eq!(
            month_days("2026-12").unwrap().1,
            NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()
        );
        for bad in ["2026-2", "2026-13", "26-01", "2026-01-01", ""] {
            assert!(month_days(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_month_starts_at_shanghai_midnight() {
        let start = shanghai_midnight(NaiveDate::from_ymd_opt(2026, 4, 1).unwrap()).unwrap();
        assert_eq!(start.to_rfc3339(), "2026-03-31T16:00:00+00:00");
    }
}

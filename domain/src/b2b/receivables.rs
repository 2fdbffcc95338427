//! Receivables (应收): what shipments invoiced, due on the ship day + payment term, paid oldest
//! first. Receivables still open past their due day + the grace days put the account on hold:
//! submitting a new order is refused (`ACCOUNT_ON_HOLD`) until they are paid. The hold is
//! worked out when it is read or a submit asks (no worker needed), in Asia/Shanghai days.

use chrono::{DateTime, Days, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::B2bError;
use crate::AppState;
use crate::auth::{DistributorPrincipal, Permission, StaffPrincipal};
use crate::platform::clock::DEFAULT_ZONE;
use crate::platform::page::{IdKey, Keyset, Page};
use entities::{credit_account, distributor, receivable};

#[derive(Debug, Clone)]
pub struct Receivable {
    pub id: i64,
    pub purchase_order_id: i64,
    pub shipment_id: i64,
    pub amount_fen: i64,
    pub paid_fen: i64,
    pub due_on: NaiveDate,
    /// Open after its due day.
    pub overdue: bool,
    pub created_at: DateTime<Utc>,
}

/// Where a distributor's account stands: open and overdue receivables, and whether it is on
/// hold (overdue past the grace days).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountStanding {
    pub open_fen: i64,
    pub overdue_fen: i64,
    pub on_hold: bool,
    /// The oldest due day still open past the grace days.
    pub held_since_due_on: Option<NaiveDate>,
}

pub(crate) fn today(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&DEFAULT_ZONE).date_naive()
}

pub(crate) async fn standing_of<C: ConnectionTrait>(
    db: &C,
    distributor_id: i64,
    now: DateTime<Utc>,
) -> Result<AccountStanding, B2bError> {
    let grace = credit_account::Entity::find_by_id(distributor_id)
        .one(db)
        .await?
        .map_or(0, |c| c.grace_days);
    let today = today(now);
    let open = receivable::Entity::find()
        .filter(receivable::Column::DistributorId.eq(distributor_id))
        .filter(Expr::col(receivable::Column::PaidFen).lt(Expr::col(receivable::Column::AmountFen)))
        .order_by_asc(receivable::Column::DueOn)
        .all(db)
        .await?;
    let hold_before = today
        .checked_sub_days(Days::new(u64::try_from(grace).unwrap_or(0)))
        .unwrap_or(today);
    let mut s = AccountStanding {
        open_fen: 0,
        overdue_fen: 0,
        on_hold: false,
        held_since_due_on: None,
    };
    for r in open {
        let left = r.amount_fen - r.paid_fen;
        s.open_fen += left;
        if r.due_on < today {
            s.overdue_fen += left;
        }
        if r.due_on < hold_before {
            s.on_hold = true;
            s.held_since_due_on.get_or_insert(r.due_on);
        }
    }
    Ok(s)
}

/// Refuses when the account is on hold (called by submit, in its transaction, with the grace
/// days of the credit row it has read): one look for a receivable still open past its due day
/// and the grace, as [`standing_of`] decides it.
pub(crate) async fn ensure_not_on_hold<C: ConnectionTrait>(
    db: &C,
    distributor_id: i64,
    grace_days: i32,
    now: DateTime<Utc>,
) -> Result<(), B2bError> {
    let today = today(now);
    let hold_before = today
        .checked_sub_days(Days::new(u64::try_from(grace_days).unwrap_or(0)))
        .unwrap_or(today);
    let overdue = receivable::Entity::find()
        .select_only()
        .column(receivable::Column::Id)
        .filter(receivable::Column::DistributorId.eq(distributor_id))
        .filter(Expr::col(receivable::Column::PaidFen).lt(Expr::col(receivable::Column::AmountFen)))
        .filter(receivable::Column::DueOn.lt(hold_before))
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await?;
    if overdue.is_some() {
        return Err(B2bError::AccountOnHold);
    }
    Ok(())
}

/// The caller's organisation's standing.
pub async fn my_account_standing(
    app: &AppState,
    who: &DistributorPrincipal,
) -> Result<AccountStanding, B2bError> {
    standing_of(&app.db, who.distributor_id, app.clock.now()).await
}

/// A distributor's standing (HQ, finance).
pub async fn account_standing_for_staff(
    app: &AppState,
    staff: &StaffPrincipal,
    distributor_id: i64,
) -> Result<AccountStanding, B2bError> {
    staff.require(Permission::ViewDistributors)?;
    distributor::Entity::find_by_id(distributor_id)
        .one(&app.db)
        .await?
        .ok_or(B2bError::NotFound("distributor"))?;
    standing_of(&app.db, distributor_id, app.clock.now()).await
}

/// The caller's organisation's receivables, newest first (by id).
pub async fn my_receivables(
    app: &AppState,
    who: &DistributorPrincipal,
    page: Keyset<IdKey>,
) -> Result<Page<Receivable>, B2bError> {
    let mut q = receivable::Entity::find()
        .filter(receivable::Column::DistributorId.eq(who.distributor_id))
        .order_by_desc(receivable::Column::Id)
        .limit(page.fetch());
    if let Some(after) = page.after {
        q = q.filter(receivable::Column::Id.lt(after));
    }
    let page = page.page(q.all(&app.db).await?);
    let today = today(app.clock.now());
    let rows = page.items.clone();
    Ok(page.with(
        rows.into_iter()
            .map(|r| Receivable {
                overdue: r.paid_fen < r.amount_fen && r.due_on < today,
                id: r.id,
                purchase_order_id: r.purchase_order_id,
                shipment_id: r.shipment_id,
                amount_fen: r.amount_fen,
                paid_fen: r.paid_fen,
                due_on: r.due_on,
                created_at: r.created_at,
            })
            .collect(),
    ))
}

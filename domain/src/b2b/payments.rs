//! A distributor's payment (回款), recorded by finance or HQ, audited: one PAYMENT credit entry,
//! open receivables down by the amount, applied to the oldest receivables first. The same
//! reference (or idempotency key) again answers the first payment, also for two at once (the
//! unique `(distributor, reference)` decides); with another amount it is refused. Paying the
//! overdue receivables lifts the hold.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::json;

use super::B2bError;
use super::credit::MAX_LIMIT_FEN;
use crate::audit::{self, Action, Actor, SubjectKind};
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::error::UniqueViolation;
use crate::platform::{idempotency, validate};
use crate::{AppState, RequestMeta};
use entities::credit_entry::CreditEntryKind;
use entities::{credit_account, credit_entry, distributor, distributor_payment, receivable};

#[derive(Debug, Clone)]
pub struct DistributorPayment {
    pub id: i64,
    pub distributor_id: i64,
    pub amount_fen: i64,
    pub reference: String,
    pub recorded_at: DateTime<Utc>,
}

impl From<distributor_payment::Model> for DistributorPayment {
    fn from(p: distributor_payment::Model) -> Self {
        Self {
            id: p.id,
            distributor_id: p.distributor_id,
            amount_fen: p.amount_fen,
            reference: p.reference,
            recorded_at: p.created_at,
        }
    }
}

/// What one request asks for.
struct Ask<'a> {
    distributor_id: i64,
    amount_fen: i64,
    reference: &'a str,
    key: &'a str,
}

async fn recorded(app: &AppState, ask: &Ask<'_>) -> Result<Option<DistributorPayment>, B2bError> {
    use sea_orm::Condition;
    let Some(row) = distributor_payment::Entity::find()
        .filter(distributor_payment::Column::DistributorId.eq(ask.distributor_id))
        .filter(
            Condition::any()
                .add(distributor_payment::Column::Reference.eq(ask.reference))
                .add(distributor_payment::Column::IdempotencyKey.eq(ask.key)),
        )
        .order_by_asc(distributor_payment::Column::Id)
        .one(&app.db)
        .await?
    else {
        return Ok(None);
    };
    if row.amount_fen != ask.amount_fen || row.reference != ask.reference {
        return Err(B2bError::PaymentReferenceReused(row.reference));
    }
    Ok(Some(row.into()))
}

pub async fn record_distributor_payment(
    app: &AppState,
    meta: &RequestMeta,
    staff: &StaffPrincipal,
    distributor_id: i64,
    amount_fen: i64,
    reference: &str,
    idempotency_key: &str,
) -> Result<DistributorPayment, B2bError> {
    staff.require(Permission::ManageCredit)?;
    let key = validate::idempotency_key(idempotency_key).map_err(B2bError::InvalidInput)?;
    let reference = validate::text("reference", reference, 64).map_err(B2bError::InvalidInput)?;
    if !(1..=MAX_LIMIT_FEN).contains(&amount_fen) {
        return Err(B2bError::InvalidInput(format!(
            "amountFen must be between 1 and {MAX_LIMIT_FEN}"
        )));
    }
    distributor::Entity::find_by_id(distributor_id)
        .one(&app.db)
        .await?
        .ok_or(B2bError::NotFound("distributor"))?;
    let ask = Ask {
        distributor_id,
        amount_fen,
        reference: &reference,
        key,
    };
    idempotency::same_answer(|| recorded(app, &ask), || attempt(app, meta, staff, &ask)).await
}

async fn attempt(
    app: &AppState,
    meta: &RequestMeta,
    staff: &StaffPrincipal,
    ask: &Ask<'_>,
) -> Result<DistributorPayment, B2bError> {
    let now = app.clock.now();
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let payment = distributor_payment::ActiveModel {
        distributor_id: Set(ask.distributor_id),
        amount_fen: Set(ask.amount_fen),
        reference: Set(ask.reference.to_owned()),
        idempotency_key: Set(ask.key.to_owned()),
        recorded_by: Set(staff.staff_id),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .on_unique_violation(|| B2bError::PaymentReferenceReused(ask.reference.to_owned()))?;
    let changed = credit_account::Entity::update_many()
        .col_expr(
            credit_account::Column::OpenArFen,
            Expr::col(credit_account::Column::OpenArFen).sub(ask.amount_fen),
        )
        .col_expr(credit_account::Column::UpdatedAt, Expr::value(now))
        .filter(credit_account::Column::DistributorId.eq(ask.distributor_id))
        .filter(credit_account::Column::OpenArFen.gte(ask.amount_fen))
        .exec(&txn)
        .await?;
    if changed.rows_affected != 1 {
        return Err(B2bError::PaymentExceedsOpen);
    }
    credit_entry::ActiveModel {
        distributor_id: Set(ask.distributor_id),
        kind: Set(CreditEntryKind::Payment),
        amount_fen: Set(ask.amount_fen),
        source_ref: Set(format!("payment:{}", payment.id)),
        note: Set(Some(ask.reference.to_owned())),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let settled = apply_oldest_first(&txn, ask.distributor_id, ask.amount_fen).await?;
    let applied = settled.len();
    super::overrides::release_settled(&txn, &settled, now).await?;
    audit::record(
        &txn,
        app,
        meta,
        Actor::Staff(staff.staff_id),
        Action::DistributorPayment,
        (SubjectKind::Distributor, Some(ask.distributor_id)),
        json!({ "paymentId": payment.id, "amountFen": ask.amount_fen,
                "reference": ask.reference, "receivablesApplied": applied }),
    )
    .await?;
    txn.commit().await?;
    Ok(payment.into())
}

/// Fills the oldest open receivables with `amount` (a payment, or a return's credit note);
/// returns the order of each receivable it touched.
pub(crate) async fn apply_oldest_first<C: ConnectionTrait>(
    db: &C,
    distributor_id: i64,
    amount: i64,
) -> Result<Vec<i64>, B2bError> {
    let mut left = amount;
    let mut touched = Vec::new();
    for r in receivable::Entity::find()
        .filter(receivable::Column::DistributorId.eq(distributor_id))
        .filter(Expr::col(receivable::Column::PaidFen).lt(Expr::col(receivable::Column::AmountFen)))
        .order_by_asc(receivable::Column::DueOn)
        .order_by_asc(receivable::Column::Id)
        .all(db)
        .await?
    {
        if left == 0 {
            break;
        }
        let n = std::cmp::min(left, r.amount_fen - r.paid_fen);
        let changed = receivable::Entity::update_many()
            .col_expr(
                receivable::Column::PaidFen,
                Expr::col(receivable::Column::PaidFen).add(n),
            )
            .filter(receivable::Column::Id.eq(r.id))
            .filter(
                Expr::col(receivable::Column::PaidFen)
                    .add(n)
                    .lte(Expr::col(receivable::Column::AmountFen)),
            )
            .exec(db)
            .await?;
        if changed.rows_affected != 1 {
            return Err(B2bError::WrongState);
        }
        left -= n;
        touched.push(r.purchase_order_id);
    }
    Ok(touched)
}

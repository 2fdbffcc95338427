//! Credit: one row per distributor (`credit_accounts`), guarded by a database CHECK
//! (`reserved + open receivables <= limit + override`) and changed only by conditional updates,
//! each with an entry in the append-only credit ledger, in the same transaction. Finance sets
//! the terms (audited); prepaid distributors (款到发货) take no credit.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;

use super::B2bError;
use crate::audit::{self, Action, Actor, SubjectKind};
use crate::auth::{DistributorPrincipal, Permission, StaffPrincipal};
use crate::platform::validate;
use crate::{AppState, RequestMeta};
use entities::credit_entry::CreditEntryKind;
use entities::{credit_account, credit_entry, distributor};

/// The most a credit limit may be: ¥1,000,000,000.
pub const MAX_LIMIT_FEN: i64 = 100_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditStatus {
    pub limit_fen: i64,
    pub override_fen: i64,
    pub reserved_fen: i64,
    pub open_ar_fen: i64,
    /// What new orders may still take: limit + override - reserved - open receivables.
    pub available_fen: i64,
    pub prepaid: bool,
    pub payment_term_days: i32,
    pub grace_days: i32,
}

impl CreditStatus {
    pub(crate) fn of(row: Option<credit_account::Model>) -> Self {
        match row {
            Some(r) => Self {
                available_fen: r.limit_fen + r.override_fen - r.reserved_fen - r.open_ar_fen,
                limit_fen: r.limit_fen,
                override_fen: r.override_fen,
                reserved_fen: r.reserved_fen,
                open_ar_fen: r.open_ar_fen,
                prepaid: r.prepaid,
                payment_term_days: r.payment_term_days,
                grace_days: r.grace_days,
            },
            // No terms yet: nothing on credit.
            None => Self {
                limit_fen: 0,
                override_fen: 0,
                reserved_fen: 0,
                open_ar_fen: 0,
                available_fen: 0,
                prepaid: false,
                payment_term_days: 0,
                grace_days: 0,
            },
        }
    }
}

pub(crate) async fn status_of<C: ConnectionTrait>(
    db: &C,
    distributor_id: i64,
) -> Result<CreditStatus, B2bError> {
    Ok(CreditStatus::of(
        credit_account::Entity::find_by_id(distributor_id)
            .one(db)
            .await?,
    ))
}

/// The caller's own organisation's credit.
pub async fn credit_status(
    app: &AppState,
    who: &DistributorPrincipal,
) -> Result<CreditStatus, B2bError> {
    status_of(&app.db, who.distributor_id).await
}

/// A distributor's credit (HQ, finance).
pub async fn credit_status_for_staff(
    app: &AppState,
    staff: &StaffPrincipal,
    distributor_id: i64,
) -> Result<CreditStatus, B2bError> {
    staff.require(Permission::ViewDistributors)?;
    distributor::Entity::find_by_id(distributor_id)
        .one(&app.db)
        .await?
        .ok_or(B2bError::NotFound("distributor"))?;
    status_of(&app.db, distributor_id).await
}

#[derive(Debug, Clone)]
pub struct CreditTerms {
    pub limit_fen: i64,
    pub payment_term_days: i32,
    pub grace_days: i32,
    pub prepaid: bool,
}

/// Sets a distributor's credit terms (HQ, finance), with the reason, audited. A limit below the
/// credit already in use is refused and changes nothing.
pub async fn set_credit_terms(
    app: &AppState,
    meta: &RequestMeta,
    staff: &StaffPrincipal,
    distributor_id: i64,
    terms: CreditTerms,
    reason: &str,
) -> Result<CreditStatus, B2bError> {
    staff.require(Permission::ManageCredit)?;
    let reason = validate::text("reason", reason, 200).map_err(B2bError::InvalidInput)?;
    if !(0..=MAX_LIMIT_FEN).contains(&terms.limit_fen) {
        return Err(B2bError::InvalidInput(format!(
            "limitFen must be between 0 and {MAX_LIMIT_FEN}"
        )));
    }
    if !(0..=365).contains(&terms.payment_term_days) || !(0..=365).contains(&terms.grace_days) {
        return Err(B2bError::InvalidInput(
            "paymentTermDays and graceDays must be between 0 and 365".into(),
        ));
    }
    let now = app.clock.now();
    let txn = crate::platform::db::begin_write(&app.db).await?;
    distributor::Entity::find_by_id(distributor_id)
        .one(&txn)
        .await?
        .ok_or(B2bError::NotFound("distributor"))?;
    let before = credit_account::Entity::find_by_id(distributor_id)
        .one(&txn)
        .await?;
    let old_limit = before.as_ref().map_or(0, |b| b.limit_fen);
    match &before {
        None => {
            credit_account::ActiveModel {
                distributor_id: Set(distributor_id),
                limit_fen: Set(terms.limit_fen),
                override_fen: Set(0),
                reserved_fen: Set(0),
                open_ar_fen: Set(0),
                prepaid: Set(terms.prepaid),
                payment_term_days: Set(terms.payment_term_days),
                grace_days: Set(terms.grace_days),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await?;
        }
        Some(_) => {
            let changed = credit_account::Entity::update_many()
                .col_expr(
                    credit_account::Column::LimitFen,
                    Expr::value(terms.limit_fen),
                )
                .col_expr(credit_account::Column::Prepaid, Expr::value(terms.prepaid))
                .col_expr(
                    credit_account::Column::PaymentTermDays,
                    Expr::value(terms.payment_term_days),
                )
                .col_expr(
                    credit_account::Column::GraceDays,
                    Expr::value(terms.grace_days),
                )
                .col_expr(credit_account::Column::UpdatedAt, Expr::value(now))
                .filter(credit_account::Column::DistributorId.eq(distributor_id))
                .filter(
                    Expr::col(credit_account::Column::ReservedFen)
                        .add(Expr::col(credit_account::Column::OpenArFen))
                        .lte(Expr::col(credit_account::Column::OverrideFen).add(terms.limit_fen)),
                )
                .exec(&txn)
                .await?;
            if changed.rows_affected != 1 {
                return Err(B2bError::LimitBelowExposure);
            }
        }
    }
    entry(
        &txn,
        distributor_id,
        CreditEntryKind::Adjust,
        terms.limit_fen - old_limit,
        format!("terms:{}", uuid::Uuid::new_v4().simple()),
        Some(reason.clone()),
        now,
    )
    .await?;
    distributor::ActiveModel {
        id: Set(distributor_id),
        credit_limit_fen: Set(terms.limit_fen),
        ..Default::default()
    }
    .update(&txn)
    .await?;
    let snapshot = |limit: i64, prepaid: bool, term: i32, grace: i32| json!({ "limitFen": limit, "prepaid": prepaid, "paymentTermDays": term, "graceDays": grace });
    audit::record(
        &txn,
        app,
        meta,
        Actor::Staff(staff.staff_id),
        Action::DistributorCreditTerms,
        (SubjectKind::Distributor, Some(distributor_id)),
        json!({
            "before": before.as_ref().map(|b| snapshot(b.limit_fen, b.prepaid, b.payment_term_days, b.grace_days)),
            "after": snapshot(terms.limit_fen, terms.prepaid, terms.payment_term_days, terms.grace_days),
            "reason": reason,
        }),
    )
    .await?;
    let after = status_of(&txn, distributor_id).await?;
    txn.commit().await?;
    Ok(after)
}

/// Takes `amount` of the distributor's credit for `source_ref`, if the row allows it: one
/// conditional update (the CHECK stands behind it) and its ledger entry.
pub(crate) async fn reserve<C: ConnectionTrait>(
    db: &C,
    distributor_id: i64,
    amount: i64,
    source_ref: String,
    now: DateTime<Utc>,
) -> Result<(), B2bError> {
    let changed = credit_account::Entity::update_many()
        .col_expr(
            credit_account::Column::ReservedFen,
            Expr::col(credit_account::Column::ReservedFen).add(amount),
        )
        .col_expr(credit_account::Column::UpdatedAt, Expr::value(now))
        .filter(credit_account::Column::DistributorId.eq(distributor_id))
        .filter(
            Expr::col(credit_account::Column::ReservedFen)
                .add(Expr::col(credit_account::Column::OpenArFen))
                .add(amount)
                .lte(
                    Expr::col(credit_account::Column::LimitFen)
                        .add(Expr::col(credit_account::Column::OverrideFen)),
                ),
        )
        .exec(db)
        .await?;
    if changed.rows_affected != 1 {
        return Err(B2bError::CreditExceeded);
    }
    entry(
        db,
        distributor_id,
        CreditEntryKind::Reserve,
        amount,
        source_ref,
        None,
        now,
    )
    .await
}

async fn entry<C: ConnectionTrait>(
    db: &C,
    distributor_id: i64,
    kind: CreditEntryKind,
    amount_fen: i64,
    source_ref: String,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), B2bError> {
    credit_entry::ActiveModel {
        distributor_id: Set(distributor_id),
        kind: Set(kind),
        amount_fen: Set(amount_fen),
        source_ref: Set(source_ref),
        note: Set(note),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

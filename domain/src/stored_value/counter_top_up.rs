//! A BA records a top-up paid at the counter (cash, bank card, WeChat): credited at once.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use super::online_top_up::{credit, new_top_up_no, request_hash};
use super::{BalanceSource, StoredValueError, TopUp, TopUpStatus, invalid};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::error::is_unique_violation;
use crate::platform::{db, idempotency, validate};
use entities::order::PaymentMethod;
use entities::{member, top_up};

/// A counter top-up as the BA enters it: a plan or a free amount, and how it was paid.
#[derive(Debug, Clone, Copy)]
pub struct CounterTopUp {
    pub member_id: i64,
    pub plan_id: Option<i64>,
    pub amount_fen: Option<i64>,
    pub tender: PaymentMethod,
}

/// Credits a top-up the demo seed wrote as paid.
pub(crate) async fn credit_demo_top_up(
    txn: &sea_orm::DatabaseTransaction,
    row: &top_up::Model,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, StoredValueError> {
    credit(txn, row, BalanceSource::TopUpCounter, now).await
}

async fn recorded(
    app: &AppState,
    key: &str,
    hash: &str,
) -> Result<Option<TopUp>, StoredValueError> {
    let found = top_up::Entity::find()
        .filter(top_up::Column::IdempotencyKey.eq(key))
        .one(&app.db)
        .await?;
    match found {
        Some(row) if row.request_hash.as_deref() == Some(hash) => Ok(Some(row.into())),
        Some(_) => Err(StoredValueError::KeyReused),
        None => Ok(None),
    }
}

/// A BA (or manager) of a store records a top-up the member paid at the counter. The same
/// idempotency key returns the first top-up; the same key for another top-up is a conflict.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, member_id = input.member_id))]
pub async fn record_counter_top_up(
    app: &AppState,
    staff: &StaffPrincipal,
    input: CounterTopUp,
    idempotency_key: &str,
) -> Result<TopUp, StoredValueError> {
    staff.require(Permission::RecordSale)?;
    validate::idempotency_key(idempotency_key).map_err(invalid)?;
    let store_id = staff
        .store_id
        .ok_or_else(|| invalid("only staff of a store record counter top-ups"))?;
    if matches!(input.tender, PaymentMethod::Balance) {
        return Err(invalid("a top-up is paid with cash, a card or WeChat"));
    }
    let found = member::Entity::find_by_id(input.member_id)
        .filter(member::Column::ErasedAt.is_null())
        .one(&app.db)
        .await?;
    if found.is_none() {
        return Err(StoredValueError::NotFound("member"));
    }
    let (plan, principal, bonus) =
        super::plans::amounts(app, input.plan_id, input.amount_fen).await?;
    let key = format!("counter:{}:{idempotency_key}", staff.staff_id);
    let hash = request_hash(&(
        input.member_id,
        input.plan_id,
        input.amount_fen,
        sea_orm::ActiveEnum::to_value(&input.tender),
    ));
    idempotency::same_answer(
        || recorded(app, &key, &hash),
        || async {
            let now = app.clock.now();
            let txn = db::begin_write(&app.db).await?;
            let held = super::ledger::lock(&txn, input.member_id, now).await?;
            if held.principal_fen + principal > super::MAX_PRINCIPAL_FEN {
                return Err(StoredValueError::PrincipalLimit {
                    max_fen: super::MAX_PRINCIPAL_FEN,
                });
            }
            let row = top_up::ActiveModel {
                top_up_no: Set(new_top_up_no(now)),
                member_id: Set(input.member_id),
                plan_id: Set(plan.as_ref().map(|p| p.id)),
                tender: Set(input.tender),
                principal_fen: Set(principal),
                bonus_fen: Set(bonus),
                bonus_valid_days: Set(plan.as_ref().and_then(|p| p.bonus_valid_days)),
                status: Set(TopUpStatus::Paid),
                staff_id: Set(Some(staff.staff_id)),
                store_id: Set(Some(store_id)),
                idempotency_key: Set(Some(key.clone())),
                request_hash: Set(Some(hash.clone())),
                transaction_id: Set(None),
                paid_at: Set(Some(now)),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(&txn)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoredValueError::KeyReused
                } else {
                    e.into()
                }
            })?;
            credit(&txn, &row, BalanceSource::TopUpCounter, now).await?;
            txn.commit().await?;
            Ok(row.into())
        },
    )
    .await
}

//! Demo stored value (会员储值): two top-up plans and the named demo members with balances,
//! topped up at the SH001 counter (Lily with a plan's bonus, 小美 a free amount, partly spent
//! on nothing yet).

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set};

use super::SeedError;
use entities::order::PaymentMethod;
use entities::top_up::TopUpStatus;
use entities::{member, top_up, top_up_plan};

/// (code, name, pay, bonus, bonus valid days)
const PLANS: [(&str, &str, i64, i64, Option<i32>); 2] = [
    ("TOPUP-1000", "充1000送100", 100_000, 10_000, Some(365)),
    ("TOPUP-500", "充500送30", 50_000, 3_000, Some(180)),
];

/// (demo WeChat user, plan index or none, principal when no plan)
const BALANCES: [(&str, Option<usize>, i64); 2] =
    [("demo-lily", Some(0), 0), ("demo-mei", None, 20_000)];

pub(super) async fn seed(
    txn: &DatabaseTransaction,
    openid_for: &impl Fn(&str) -> String,
    now: DateTime<Utc>,
) -> Result<(), SeedError> {
    let mut plans = Vec::new();
    for (code, name, pay, bonus, days) in PLANS {
        let plan = top_up_plan::ActiveModel {
            code: Set(code.into()),
            name: Set(name.into()),
            pay_fen: Set(pay),
            bonus_fen: Set(bonus),
            bonus_valid_days: Set(days),
            active: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        plans.push(plan);
    }
    for (i, (user, plan, amount)) in BALANCES.into_iter().enumerate() {
        let Some(m) = member::Entity::find()
            .filter(member::Column::Openid.eq(openid_for(user)))
            .one(txn)
            .await?
        else {
            continue;
        };
        let plan = plan.map(|p| &plans[p]);
        let row = top_up::ActiveModel {
            top_up_no: Set(format!("TU-DEMO-{i}")),
            member_id: Set(m.id),
            plan_id: Set(plan.map(|p| p.id)),
            tender: Set(PaymentMethod::Cash),
            principal_fen: Set(plan.map_or(amount, |p| p.pay_fen)),
            bonus_fen: Set(plan.map_or(0, |p| p.bonus_fen)),
            bonus_valid_days: Set(plan.and_then(|p| p.bonus_valid_days)),
            status: Set(TopUpStatus::Paid),
            staff_id: Set(None),
            store_id: Set(None),
            idempotency_key: Set(None),
            request_hash: Set(None),
            transaction_id: Set(None),
            paid_at: Set(Some(now)),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        crate::stored_value::credit_demo_top_up(txn, &row, now)
            .await
            .map_err(|e| SeedError::Accounts(e.to_string()))?;
    }
    Ok(())
}

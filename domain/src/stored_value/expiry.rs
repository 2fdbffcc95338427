//! Bonus past its date is written off by a scheduled task: one ledger entry per member and
//! date, bonus only; principal never expires.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::ledger::{self, Change};
use super::{BalanceSource, StoredValueError};
use crate::AppState;
use crate::platform::db;
use entities::member_balance;

/// Writes off the bonus of every balance whose bonus is past its date; returns how many
/// balances it changed. Safe to run twice (each write-off is keyed by member and date).
pub async fn expire_bonus(app: &AppState) -> Result<u64, StoredValueError> {
    let now = app.clock.now();
    let mut done = 0;
    loop {
        let due: Vec<i64> = member_balance::Entity::find()
            .select_only()
            .column(member_balance::Column::MemberId)
            .filter(member_balance::Column::BonusFen.gt(0))
            .filter(member_balance::Column::BonusExpiresAt.lte(now))
            .order_by_asc(member_balance::Column::MemberId)
            .limit(500)
            .into_tuple()
            .all(&app.db)
            .await?;
        if due.is_empty() {
            return Ok(done);
        }
        for member_id in due {
            let txn = db::begin_write(&app.db).await?;
            let row = ledger::lock(&txn, member_id, now).await?;
            let Some(expired_at) = row.bonus_expires_at.filter(|at| *at <= now) else {
                continue;
            };
            if row.bonus_fen == 0 {
                continue;
            }
            ledger::apply(
                &txn,
                &Change {
                    member_id,
                    source: BalanceSource::BonusExpired,
                    principal_delta_fen: 0,
                    bonus_delta_fen: -row.bonus_fen,
                    reference: None,
                    key: &format!("bonus-expired:{member_id}:{}", expired_at.timestamp()),
                    staff_id: None,
                    bonus_valid_until: None,
                    at: now,
                },
            )
            .await?;
            txn.commit().await?;
            done += 1;
        }
    }
}

/// Scheduled: write off bonus past its date.
pub struct ExpireBonus;

#[async_trait::async_trait]
impl crate::platform::jobs::PeriodicTask for ExpireBonus {
    fn name(&self) -> &'static str {
        "expire-stored-value-bonus"
    }
    fn every(&self) -> std::time::Duration {
        std::time::Duration::from_secs(3600)
    }
    async fn run(&self, app: &AppState) -> Result<u64, crate::platform::jobs::TaskError> {
        Ok(expire_bonus(app).await?)
    }
}

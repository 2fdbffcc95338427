//! Points (积分) and tiers (会员等级). Points are a ledger, never a bare counter: the balance is
//! the sum of the entries. Each earning entry is also a lot with an expiry and a `remaining`
//! count; spending and reversals draw from the soonest-expiring lots first, and expiry writes a
//! negative entry for what a lot still holds. Every entry has an idempotency key per source
//! event, so a replayed event adds nothing. Tiers follow cumulative spend, up and down.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use crate::AppState;
use crate::auth::{AuthError, Permission, StaffPrincipal};
use crate::platform::db;
use crate::platform::error::{DomainError, ErrorCode, StoreError, UniqueViolation};
use crate::platform::page::{IdKey, Keyset, Page};
use entities::{member, points_ledger, tier};

#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
pub enum LoyaltyError {
    #[error("tier not found")]
    TierNotFound,
    #[error("member not found")]
    MemberNotFound,
    #[error("{0}")]
    InvalidInput(String),
    #[error("not enough points: the balance is {balance}")]
    InsufficientPoints { balance: i64 },
    #[error("this request was already made with other values")]
    KeyReused,
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_conversions!(LoyaltyError);

impl DomainError for LoyaltyError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::TierNotFound | Self::MemberNotFound => ErrorCode::NotFound,
            Self::InvalidInput(_) => ErrorCode::BadUserInput,
            Self::InsufficientPoints { .. } => ErrorCode::LimitReached,
            Self::KeyReused => ErrorCode::Conflict,
            Self::Auth(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}

pub use entities::points_ledger::PointsReason;

#[derive(Debug, Clone)]
pub struct PointsEntry {
    pub id: i64,
    pub delta: i64,
    pub reason: PointsReason,
    pub reference: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub remaining: i64,
    pub created_at: DateTime<Utc>,
}

impl From<points_ledger::Model> for PointsEntry {
    fn from(e: points_ledger::Model) -> Self {
        Self {
            id: e.id,
            delta: e.delta,
            reason: e.reason,
            reference: e.reference,
            expires_at: e.expires_at,
            remaining: e.remaining,
            created_at: e.created_at,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Tier {
    pub code: String,
    pub name: String,
    pub rank: i32,
    pub threshold_fen: i64,
    pub points_multiplier_pct: i32,
    pub discount_pct: i32,
}

impl From<tier::Model> for Tier {
    fn from(t: tier::Model) -> Self {
        Self {
            code: t.code,
            name: t.name,
            rank: t.rank,
            threshold_fen: t.threshold_fen,
            points_multiplier_pct: t.points_multiplier_pct,
            discount_pct: t.discount_pct,
        }
    }
}

/// How long earned points stay valid.
#[derive(Debug, Clone)]
pub struct LoyaltySettings {
    pub points_validity: chrono::Duration,
}

impl Default for LoyaltySettings {
    fn default() -> Self {
        Self {
            points_validity: chrono::Duration::days(365),
        }
    }
}

/// Points a paid amount earns: one per whole yuan, times the tier's multiplier.
pub fn points_for(amount_fen: i64, multiplier_pct: i32) -> i64 {
    (amount_fen / 100) * i64::from(multiplier_pct) / 100
}

/// Writes an earning entry (a lot). Returns false when the key was already used: nothing written.
/// One source event's effect on a member's points.
pub(crate) struct PointsEvent<'a> {
    pub member_id: i64,
    pub points: i64,
    pub reason: PointsReason,
    pub reference: &'a str,
    /// One entry per source event: a replay with the same key adds nothing.
    pub idempotency_key: &'a str,
    pub at: DateTime<Utc>,
}

pub(crate) async fn earn<C: ConnectionTrait>(
    db: &C,
    event: &PointsEvent<'_>,
    expires_at: Option<DateTime<Utc>>,
) -> Result<bool, StoreError> {
    if event.points <= 0 {
        return Ok(false);
    }
    let inserted = points_ledger::Entity::insert(earning_entry(event, expires_at))
        .on_conflict(earning_key_taken())
        .exec_without_returning(db)
        .await?;
    Ok(inserted == 1)
}

/// The ledger row an earning writes: a lot of `points`, all of it remaining.
pub(crate) fn earning_entry(
    event: &PointsEvent<'_>,
    expires_at: Option<DateTime<Utc>>,
) -> points_ledger::ActiveModel {
    points_ledger::ActiveModel {
        member_id: Set(event.member_id),
        delta: Set(event.points),
        reason: Set(event.reason),
        reference: Set(Some(event.reference.to_owned())),
        idempotency_key: Set(event.idempotency_key.to_owned()),
        expires_at: Set(expires_at),
        remaining: Set(event.points),
        created_at: Set(event.at),
        ..Default::default()
    }
}

/// An earning whose key was used already writes nothing.
pub(crate) fn earning_key_taken() -> OnConflict {
    OnConflict::column(points_ledger::Column::IdempotencyKey)
        .do_nothing()
        .to_owned()
}

/// Takes points out of the member's lots, soonest-expiring first (lots that never expire last),
/// and writes one negative entry. With `allow_debt` (reversing a refunded order) the balance may
/// go below zero; otherwise too few points is an error and nothing changes. Returns false when
/// the key was already used.
pub(crate) async fn deduct<C: ConnectionTrait>(
    db: &C,
    event: &PointsEvent<'_>,
    allow_debt: bool,
) -> Result<bool, LoyaltyError> {
    let PointsEvent {
        member_id,
        points,
        reason,
        reference,
        idempotency_key,
        at: now,
    } = *event;
    if points <= 0 {
        return Ok(false);
    }
    let already = points_ledger::Entity::find()
        .filter(points_ledger::Column::IdempotencyKey.eq(idempotency_key))
        .one(db)
        .await?;
    if already.is_some() {
        return Ok(false);
    }
    // Lock the member row so concurrent deductions for one member run one after the other.
    lock_member(db, member_id).await?;
    let lots = points_ledger::Entity::find()
        .filter(points_ledger::Column::MemberId.eq(member_id))
        .filter(points_ledger::Column::Remaining.gt(0))
        .filter(
            points_ledger::Column::ExpiresAt
                .gt(now)
                .or(points_ledger::Column::ExpiresAt.is_null()),
        )
        .order_by(
            Expr::col(points_ledger::Column::ExpiresAt).is_null(),
            sea_orm::Order::Asc,
        )
        .order_by_asc(points_ledger::Column::ExpiresAt)
        .order_by_asc(points_ledger::Column::Id)
        .all(db)
        .await?;
    let available: i64 = lots.iter().map(|l| l.remaining).sum();
    if !allow_debt && available < points {
        return Err(LoyaltyError::InsufficientPoints {
            balance: balance_in(db, member_id).await?,
        });
    }
    let mut need = points;
    for lot in lots {
        if need == 0 {
            break;
        }
        let take = std::cmp::min(need, lot.remaining);
        let updated = points_ledger::Entity::update_many()
            .col_expr(
                points_ledger::Column::Remaining,
                Expr::col(points_ledger::Column::Remaining).sub(take),
            )
            .filter(points_ledger::Column::Id.eq(lot.id))
            .filter(points_ledger::Column::Remaining.gte(take))
            .exec(db)
            .await?;
        if updated.rows_affected == 1 {
            need -= take;
        }
    }
    if need > 0 && !allow_debt {
        return Err(LoyaltyError::InsufficientPoints {
            balance: balance_in(db, member_id).await?,
        });
    }
    let inserted = points_ledger::ActiveModel {
        member_id: Set(member_id),
        delta: Set(-points),
        reason: Set(reason),
        reference: Set(Some(reference.to_owned())),
        idempotency_key: Set(idempotency_key.to_owned()),
        expires_at: Set(None),
        remaining: Set(0),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await;
    inserted.on_unique_violation(|| LoyaltyError::KeyReused)?;
    Ok(true)
}

/// Serialises writers for one member: an UPDATE takes the row lock on PostgreSQL (SQLite
/// write transactions are serial already).
pub(crate) async fn lock_member<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
) -> Result<(), StoreError> {
    member::Entity::update_many()
        .col_expr(member::Column::Id, Expr::col(member::Column::Id))
        .filter(member::Column::Id.eq(member_id))
        .exec(db)
        .await?;
    Ok(())
}

async fn balance_in<C: ConnectionTrait>(db: &C, member_id: i64) -> Result<i64, StoreError> {
    let sum: Option<Option<i64>> = points_ledger::Entity::find()
        .select_only()
        .column_as(db::sum_i64(points_ledger::Column::Delta), "balance")
        .filter(points_ledger::Column::MemberId.eq(member_id))
        .into_tuple()
        .one(db)
        .await?;
    Ok(sum.flatten().unwrap_or(0))
}

/// The member's points balance: the sum of the ledger.
pub async fn points_balance(app: &AppState, member_id: i64) -> Result<i64, LoyaltyError> {
    Ok(balance_in(&app.db, member_id).await?)
}

/// A member's points ledger, newest first (by id).
pub async fn ledger(
    app: &AppState,
    member_id: i64,
    page: Keyset<IdKey>,
) -> Result<Page<PointsEntry>, LoyaltyError> {
    let mut query = points_ledger::Entity::find()
        .filter(points_ledger::Column::MemberId.eq(member_id))
        .order_by_desc(points_ledger::Column::Id)
        .limit(page.fetch());
    if let Some(after) = page.after {
        query = query.filter(points_ledger::Column::Id.lt(after));
    }
    Ok(page.page(query.all(&app.db).await?).map(Into::into))
}

/// A BA redeems points for a reward at the counter. The idempotency key makes a retried
/// request harmless.
pub async fn redeem(
    app: &AppState,
    staff: &StaffPrincipal,
    member_id: i64,
    points: i64,
    reward: &str,
    idempotency_key: &str,
) -> Result<i64, LoyaltyError> {
    staff.require(Permission::RecordSale)?;
    if !(1..=10_000_000).contains(&points) {
        return Err(LoyaltyError::InvalidInput(
            "points must be between 1 and 10,000,000".into(),
        ));
    }
    let reward = reward.trim();
    if reward.is_empty() || reward.chars().count() > 64 {
        return Err(LoyaltyError::InvalidInput(
            "name the reward (1 to 64 characters)".into(),
        ));
    }
    crate::platform::validate::idempotency_key(idempotency_key)
        .map_err(LoyaltyError::InvalidInput)?;
    member::Entity::find_by_id(member_id)
        .filter(member::Column::ErasedAt.is_null())
        .one(&app.db)
        .await?
        .ok_or(LoyaltyError::MemberNotFound)?;
    let txn = db::begin_write(&app.db).await?;
    deduct(
        &txn,
        &PointsEvent {
            member_id,
            points,
            reason: PointsReason::Redeemed,
            reference: reward,
            idempotency_key: &format!("redeem:{member_id}:{idempotency_key}"),
            at: app.clock.now(),
        },
        false,
    )
    .await?;
    txn.commit().await?;
    points_balance(app, member_id).await
}

/// Expires what lots past their date still hold: one negative entry per lot (keyed by the lot,
/// so a second pass adds nothing). Returns how many lots expired.
pub async fn expire_points(app: &AppState) -> Result<u64, LoyaltyError> {
    let now = app.clock.now();
    let lots = points_ledger::Entity::find()
        .filter(points_ledger::Column::Remaining.gt(0))
        .filter(points_ledger::Column::ExpiresAt.lte(now))
        .order_by_asc(points_ledger::Column::Id)
        .limit(500)
        .all(&app.db)
        .await?;
    let mut expired = 0;
    for lot in lots {
        let txn = db::begin_write(&app.db).await?;
        let updated = points_ledger::Entity::update_many()
            .col_expr(points_ledger::Column::Remaining, Expr::value(0))
            .filter(points_ledger::Column::Id.eq(lot.id))
            .filter(points_ledger::Column::Remaining.eq(lot.remaining))
            .exec(&txn)
            .await?;
        if updated.rows_affected == 1 {
            points_ledger::Entity::insert(points_ledger::ActiveModel {
                member_id: Set(lot.member_id),
                delta: Set(-lot.remaining),
                reason: Set(PointsReason::Expired),
                reference: Set(Some(format!("lot:{}", lot.id))),
                idempotency_key: Set(format!("expire:{}", lot.id)),
                expires_at: Set(None),
                remaining: Set(0),
                created_at: Set(now),
                ..Default::default()
            })
            .on_conflict(
                OnConflict::column(points_ledger::Column::IdempotencyKey)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
            expired += 1;
        }
        txn.commit().await?;
    }
    Ok(expired)
}

pub async fn tier(app: &AppState, code: &str) -> Result<Tier, LoyaltyError> {
    tier::Entity::find()
        .filter(tier::Column::Code.eq(code))
        .one(&app.db)
        .await?
        .map(Into::into)
        .ok_or(LoyaltyError::TierNotFound)
}

pub async fn tiers(app: &AppState) -> Result<Vec<Tier>, LoyaltyError> {
    Ok(tier::Entity::find()
        .order_by_asc(tier::Column::Rank)
        .all(&app.db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Creates or changes a tier (HQ). Thresholds must rise with rank.
pub async fn upsert_tier(
    app: &AppState,
    staff: &StaffPrincipal,
    input: Tier,
) -> Result<Tier, LoyaltyError> {
    staff.require(Permission::ManageTiers)?;
    let code = input.code.trim().to_uppercase();
    if code.is_empty()
        || code.len() > 16
        || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(LoyaltyError::InvalidInput(
            "a tier code is 1 to 16 letters, digits or _".into(),
        ));
    }
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 16 {
        return Err(LoyaltyError::InvalidInput(
            "a tier name is 1 to 16 characters".into(),
        ));
    }
    if input.threshold_fen < 0
        || !(0..=1000).contains(&input.points_multiplier_pct)
        || !(0..=90).contains(&input.discount_pct)
    {
        return Err(LoyaltyError::InvalidInput(
            "threshold ≥ 0, points multiplier 0–1000 %, discount 0–90 %".into(),
        ));
    }
    let others: Vec<Tier> = tiers(app)
        .await?
        .into_iter()
        .filter(|t| t.code != code)
        .collect();
    let consistent = others.iter().all(|t| {
        (t.rank < input.rank && t.threshold_fen < input.threshold_fen)
            || (t.rank > input.rank && t.threshold_fen > input.threshold_fen)
    });
    if !consistent {
        return Err(LoyaltyError::InvalidInput(
            "ranks must be distinct and thresholds must rise with rank".into(),
        ));
    }
    let now = app.clock.now();
    let existing = tier::Entity::find()
        .filter(tier::Column::Code.eq(code.clone()))
        .one(&app.db)
        .await?;
    let row = match existing {
        Some(row) => {
            let mut row = row.into_active_model();
            row.name = Set(name.to_owned());
            row.rank = Set(input.rank);
            row.threshold_fen = Set(input.threshold_fen);
            row.points_multiplier_pct = Set(input.points_multiplier_pct);
            row.discount_pct = Set(input.discount_pct);
            row.update(&app.db).await?
        }
        None => {
            tier::ActiveModel {
                code: Set(code),
                name: Set(name.to_owned()),
                rank: Set(input.rank),
                threshold_fen: Set(input.threshold_fen),
                points_multiplier_pct: Set(input.points_multiplier_pct),
                discount_pct: Set(input.discount_pct),
                created_at: Set(now),
                ..Default::default()
            }
            .insert(&app.db)
            .await?
        }
    };
    Ok(row.into())
}

/// Adds `delta_fen` to the member's cumulative spend and moves them to the tier it reaches
/// (a refund's negative delta can move them down). Returns the tier code.
pub(crate) async fn add_spend<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
    delta_fen: i64,
) -> Result<String, StoreError> {
    member::Entity::update_many()
        .col_expr(
            member::Column::CumulativeSpendFen,
            Expr::col(member::Column::CumulativeSpendFen).add(delta_fen),
        )
        .filter(member::Column::Id.eq(member_id))
        .exec(db)
        .await?;
    let spend: Option<i64> = member::Entity::find_by_id(member_id)
        .select_only()
        .column(member::Column::CumulativeSpendFen)
        .into_tuple()
        .one(db)
        .await?;
    let spend = spend.unwrap_or(0);
    let reached = tier::Entity::find()
        .filter(tier::Column::ThresholdFen.lte(spend))
        .order_by_desc(tier::Column::Rank)
        .one(db)
        .await?;
    let code = reached.map_or_else(|| "MEMBER".to_owned(), |t| t.code);
    member::Entity::update_many()
        .col_expr(member::Column::TierCode, Expr::value(code.clone()))
        .filter(member::Column::Id.eq(member_id))
        .exec(db)
        .await?;
    Ok(code)
}

/// The tier a member holds now.
pub(crate) async fn member_tier<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
) -> Result<Option<tier::Model>, StoreError> {
    let code: Option<String> = member::Entity::find_by_id(member_id)
        .select_only()
        .column(member::Column::TierCode)
        .into_tuple()
        .one(db)
        .await?;
    let Some(code) = code else { return Ok(None) };
    Ok(tier::Entity::find()
        .filter(tier::Column::Code.eq(code))
        .one(db)
        .await?)
}

/// Scheduled: expire points lots past their date.
pub struct ExpirePoints;

#[async_trait::async_trait]
impl crate::platform::jobs::PeriodicTask for ExpirePoints {
    fn name(&self) -> &'static str {
        "expire-points"
    }
    fn every(&self) -> std::time::Duration {
        std::time::Duration::from_secs(3600)
    }
    async fn run(&self, app: &AppState) -> Result<u64, crate::platform::jobs::TaskError> {
        Ok(expire_points(app).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_whole_yuan_times_the_multiplier() {
        assert_eq!(points_for(29_999, 100), 299);
        assert_eq!(points_for(29_999, 150), 448);
        assert_eq!(points_for(99, 200), 0);
    }
}

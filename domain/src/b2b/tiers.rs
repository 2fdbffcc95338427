//! Distributor tiers (HQ): each tier orders from its own price list.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;

use super::B2bError;
use crate::audit::{self, Action, Actor, SubjectKind};
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::validate;
use crate::{AppState, RequestMeta};
use entities::{distributor, distributor_tier};

#[derive(Debug, Clone)]
pub struct DistributorTier {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub updated_at: DateTime<Utc>,
}

impl From<distributor_tier::Model> for DistributorTier {
    fn from(r: distributor_tier::Model) -> Self {
        Self {
            id: r.id,
            code: r.code,
            name: r.name,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Clone)]
pub struct TierInput {
    pub code: String,
    pub name: String,
}

/// Creates the tier with this code, or renames it when it exists.
pub async fn upsert_distributor_tier(
    app: &AppState,
    staff: &StaffPrincipal,
    input: TierInput,
) -> Result<DistributorTier, B2bError> {
    staff.require(Permission::ManageB2b)?;
    let code = validate::code("code", &input.code, 32).map_err(B2bError::InvalidInput)?;
    let name = validate::text("name", &input.name, 64).map_err(B2bError::InvalidInput)?;
    let now = app.clock.now();
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let existing = distributor_tier::Entity::find()
        .filter(distributor_tier::Column::Code.eq(&code))
        .one(&txn)
        .await?;
    let row = match existing {
        Some(row) => {
            let mut row: distributor_tier::ActiveModel = row.into();
            row.name = Set(name);
            row.updated_at = Set(now);
            row.update(&txn).await?
        }
        None => {
            distributor_tier::ActiveModel {
                code: Set(code),
                name: Set(name),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(&txn)
            .await?
        }
    };
    txn.commit().await?;
    Ok(row.into())
}

/// Every tier, by code (reference data: a handful).
pub async fn distributor_tiers(
    app: &AppState,
    staff: &StaffPrincipal,
) -> Result<Vec<DistributorTier>, B2bError> {
    staff.require(Permission::ViewDistributors)?;
    Ok(distributor_tier::Entity::find()
        .order_by_asc(distributor_tier::Column::Code)
        .all(&app.db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Puts a distributor on a tier (audited).
pub async fn assign_distributor_tier(
    app: &AppState,
    meta: &RequestMeta,
    staff: &StaffPrincipal,
    distributor_id: i64,
    tier_id: i64,
) -> Result<DistributorTier, B2bError> {
    staff.require(Permission::ManageB2b)?;
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let tier = distributor_tier::Entity::find_by_id(tier_id)
        .one(&txn)
        .await?
        .ok_or(B2bError::NotFound("tier"))?;
    let before = distributor::Entity::find_by_id(distributor_id)
        .one(&txn)
        .await?
        .ok_or(B2bError::NotFound("distributor"))?;
    distributor::ActiveModel {
        id: Set(distributor_id),
        tier_id: Set(Some(tier_id)),
        ..Default::default()
    }
    .update(&txn)
    .await?;
    audit::record(
        &txn,
        app,
        meta,
        Actor::Staff(staff.staff_id),
        Action::DistributorTierAssign,
        (SubjectKind::Distributor, Some(distributor_id)),
        json!({ "before": { "tierId": before.tier_id }, "after": { "tierId": tier_id } }),
    )
    .await?;
    txn.commit().await?;
    Ok(tier.into())
}

//! A distributor's minimum remaining shelf life (HQ): allocation gives it only batches that
//! will still be good that many days from the day of allocation (Asia/Shanghai). Audited.

use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::json;

use super::B2bError;
use crate::audit::{self, Action, Actor, SubjectKind};
use crate::auth::{Permission, StaffPrincipal};
use crate::{AppState, RequestMeta};
use entities::distributor;

/// Sets (or clears, with `None`) the days of shelf life a batch must have left to be allocated
/// to the distributor: 0 to 1,095.
pub async fn set_min_shelf_life(
    app: &AppState,
    meta: &RequestMeta,
    staff: &StaffPrincipal,
    distributor_id: i64,
    days: Option<i32>,
) -> Result<Option<i32>, B2bError> {
    staff.require(Permission::ManageB2b)?;
    if days.is_some_and(|d| !(0..=1095).contains(&d)) {
        return Err(B2bError::InvalidInput(
            "minShelfLifeDays must be between 0 and 1095".into(),
        ));
    }
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let before = distributor::Entity::find_by_id(distributor_id)
        .one(&txn)
        .await?
        .ok_or(B2bError::NotFound("distributor"))?;
    distributor::ActiveModel {
        id: Set(distributor_id),
        min_shelf_life_days: Set(days),
        ..Default::default()
    }
    .update(&txn)
    .await?;
    audit::record(
        &txn,
        app,
        meta,
        Actor::Staff(staff.staff_id),
        Action::DistributorShelfLife,
        (SubjectKind::Distributor, Some(distributor_id)),
        json!({ "before": before.min_shelf_life_days, "after": days }),
    )
    .await?;
    txn.commit().await?;
    Ok(days)
}

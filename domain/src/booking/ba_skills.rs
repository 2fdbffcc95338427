//! BAs' skills (services require skills), and the BAs of a store with theirs.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::services::check_skills;
use super::{BookingError, require_store, slots_changed};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal, StaffRole};
use crate::platform::db;
use entities::{ba_skill, staff_account};

/// A BA (or manager) of a store, for skills, shifts and blocks.
pub(super) async fn load_ba<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<staff_account::Model, BookingError> {
    staff_account::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|s| s.active && s.role != StaffRole::Hq && s.store_id.is_some())
        .ok_or(BookingError::NotFound("BA"))
}

/// Replaces a BA's skills.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, ba_id))]
pub async fn set_ba_skills(
    app: &AppState,
    staff: &StaffPrincipal,
    ba_id: i64,
    skills: Vec<String>,
) -> Result<Vec<String>, BookingError> {
    staff.require(Permission::ManageBookings)?;
    let skills = check_skills(&skills)?;
    let ba = load_ba(&app.db, ba_id).await?;
    require_store(staff, Permission::ManageBookings, ba.store_id.unwrap_or(0))?;
    let txn = db::begin_write(&app.db).await?;
    ba_skill::Entity::delete_many()
        .filter(ba_skill::Column::StaffId.eq(ba_id))
        .exec(&txn)
        .await?;
    if !skills.is_empty() {
        ba_skill::Entity::insert_many(skills.iter().map(|s| ba_skill::ActiveModel {
            staff_id: Set(ba_id),
            skill: Set(s.clone()),
        }))
        .exec_without_returning(&txn)
        .await?;
    }
    txn.commit().await?;
    if let Some(store_id) = ba.store_id {
        slots_changed(app, store_id).await;
    }
    Ok(skills)
}

/// A BA of a store with their skills.
#[derive(Debug, Clone)]
pub struct Ba {
    pub id: i64,
    pub display_name: String,
    pub skills: Vec<String>,
}

/// The BAs of a store (role BA, active), with their skills.
pub async fn store_bas<C: ConnectionTrait>(db: &C, store_id: i64) -> Result<Vec<Ba>, BookingError> {
    let rows = staff_account::Entity::find()
        .filter(staff_account::Column::StoreId.eq(store_id))
        .filter(staff_account::Column::Role.eq(StaffRole::Ba))
        .filter(staff_account::Column::Active.eq(true))
        .order_by_asc(staff_account::Column::Id)
        .all(db)
        .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut skills: HashMap<i64, Vec<String>> = HashMap::new();
    for s in ba_skill::Entity::find()
        .filter(ba_skill::Column::StaffId.is_in(ids))
        .all(db)
        .await?
    {
        skills.entry(s.staff_id).or_default().push(s.skill);
    }
    Ok(rows
        .into_iter()
        .map(|r| Ba {
            skills: skills.remove(&r.id).unwrap_or_default(),
            id: r.id,
            display_name: r.display_name,
        })
        .collect())
}

//! The services members book (HQ for every store, managers for their own).

use std::collections::BTreeSet;

use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::{BookingError, invalid, load_store, require_store, slots_changed};
use crate::AppState;
use crate::auth::{AuthError, Permission, StaffPrincipal, StaffRole};
use crate::platform::error::UniqueViolation;
use crate::platform::validate;
use entities::booking_service::{self, SkillList};
use entities::store;

#[derive(Debug, Clone)]
pub struct Service {
    pub id: i64,
    pub store_id: Option<i64>,
    pub code: String,
    pub name: String,
    pub duration_minutes: i32,
    pub buffer_minutes: i32,
    pub price_fen: i64,
    pub required_skills: Vec<String>,
    pub active: bool,
}

impl From<booking_service::Model> for Service {
    fn from(s: booking_service::Model) -> Self {
        Self {
            id: s.id,
            store_id: s.store_id,
            code: s.code,
            name: s.name,
            duration_minutes: s.duration_minutes,
            buffer_minutes: s.buffer_minutes,
            price_fen: s.price_fen,
            required_skills: s.required_skills.into_inner(),
            active: s.active,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewService {
    /// None: offered at every store (HQ only).
    pub store_id: Option<i64>,
    pub code: String,
    pub name: String,
    pub duration_minutes: i32,
    pub buffer_minutes: i32,
    pub price_fen: i64,
    pub required_skills: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ServiceChanges {
    pub name: Option<String>,
    pub duration_minutes: Option<i32>,
    pub buffer_minutes: Option<i32>,
    pub price_fen: Option<i64>,
    pub required_skills: Option<Vec<String>>,
    pub active: Option<bool>,
}

fn check_minutes(duration: i32, buffer: i32) -> Result<(), BookingError> {
    if !(5..=480).contains(&duration) || duration % 5 != 0 {
        return Err(invalid(
            "a duration is 5 to 480 minutes, in steps of 5 minutes",
        ));
    }
    if !(0..=120).contains(&buffer) || buffer % 5 != 0 {
        return Err(invalid(
            "a buffer is 0 to 120 minutes, in steps of 5 minutes",
        ));
    }
    Ok(())
}

/// The skills a service requires or a BA has: at most 10 codes, each once, in code order.
pub(super) fn check_skills(skills: &[String]) -> Result<Vec<String>, BookingError> {
    if skills.len() > 10 {
        return Err(invalid("at most 10 skills"));
    }
    let set: BTreeSet<String> = skills
        .iter()
        .map(|s| validate::code("skill", s, 32).map_err(invalid))
        .collect::<Result<_, _>>()?;
    Ok(set.into_iter().collect())
}

pub(crate) async fn load_service<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<booking_service::Model, BookingError> {
    booking_service::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(BookingError::NotFound("service"))
}

#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id))]
pub async fn create_service(
    app: &AppState,
    staff: &StaffPrincipal,
    input: NewService,
) -> Result<Service, BookingError> {
    staff.require(Permission::ManageBookings)?;
    match input.store_id {
        Some(store_id) => require_store(staff, Permission::ManageBookings, store_id)?,
        None if staff.role != StaffRole::Hq => return Err(AuthError::Forbidden.into()),
        None => {}
    }
    let code = validate::code("code", &input.code, 32).map_err(invalid)?;
    let name = validate::text("name", &input.name, 20).map_err(invalid)?;
    check_minutes(input.duration_minutes, input.buffer_minutes)?;
    if !(0..=10_000_000).contains(&input.price_fen) {
        return Err(invalid("a price is 0 (free) to 100,000 yuan"));
    }
    let skills = check_skills(&input.required_skills)?;
    if let Some(store_id) = input.store_id {
        load_store(&app.db, store_id).await?;
    }
    let now = app.clock.now();
    let row = booking_service::ActiveModel {
        store_id: Set(input.store_id),
        code: Set(code),
        name: Set(name),
        duration_minutes: Set(input.duration_minutes),
        buffer_minutes: Set(input.buffer_minutes),
        price_fen: Set(input.price_fen),
        required_skills: Set(SkillList(skills)),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .on_unique_violation(|| invalid("a service with this code exists"))?;
    Ok(row.into())
}

#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, service_id = id))]
pub async fn update_service(
    app: &AppState,
    staff: &StaffPrincipal,
    id: i64,
    changes: ServiceChanges,
) -> Result<Service, BookingError> {
    staff.require(Permission::ManageBookings)?;
    let row = load_service(&app.db, id).await?;
    match row.store_id {
        Some(store_id) => require_store(staff, Permission::ManageBookings, store_id)?,
        None if staff.role != StaffRole::Hq => return Err(AuthError::Forbidden.into()),
        None => {}
    }
    let duration = changes.duration_minutes.unwrap_or(row.duration_minutes);
    let buffer = changes.buffer_minutes.unwrap_or(row.buffer_minutes);
    check_minutes(duration, buffer)?;
    let mut active: booking_service::ActiveModel = row.into();
    if let Some(name) = changes.name {
        active.name = Set(validate::text("name", &name, 20).map_err(invalid)?);
    }
    if let Some(price) = changes.price_fen {
        if !(0..=10_000_000).contains(&price) {
            return Err(invalid("a price is 0 (free) to 100,000 yuan"));
        }
        active.price_fen = Set(price);
    }
    if let Some(skills) = changes.required_skills {
        active.required_skills = Set(SkillList(check_skills(&skills)?));
    }
    if let Some(a) = changes.active {
        active.active = Set(a);
    }
    active.duration_minutes = Set(duration);
    active.buffer_minutes = Set(buffer);
    active.updated_at = Set(app.clock.now());
    let updated = active.update(&app.db).await?;
    match updated.store_id {
        Some(store_id) => slots_changed(app, store_id).await,
        // An HQ service is offered everywhere (a rare change): every store's slots change.
        None => {
            let stores: Vec<i64> = store::Entity::find()
                .select_only()
                .column(store::Column::Id)
                .into_tuple()
                .all(&app.db)
                .await?;
            for store_id in stores {
                slots_changed(app, store_id).await;
            }
        }
    }
    Ok(updated.into())
}

/// The active services a store offers (its own and every store's).
pub async fn services(app: &AppState, store_id: i64) -> Result<Vec<Service>, BookingError> {
    Ok(booking_service::Entity::find()
        .filter(booking_service::Column::Active.eq(true))
        .filter(
            booking_service::Column::StoreId
                .eq(store_id)
                .or(booking_service::Column::StoreId.is_null()),
        )
        .order_by_asc(booking_service::Column::Id)
        .all(&app.db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

//! Demo data for the embedded default and `rouge seed --demo`: a few stores, staff, a
//! distributor, tiers and members. Demo accounts exist only when this runs; production never
//! calls it. Each step seeds one part, in one transaction.

mod catalog;
mod people;
mod places;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::AppState;
use crate::login::hash_password_async;
use crate::members::{SkinConcern, SkinType};
use crate::platform::error::StoreError;
use entities::staff_account;

pub const DEMO_PASSWORD: &str = "demo-password";

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not hash a demo password")]
    Hash,
    #[error("a demo account was refused: {0}")]
    Accounts(String),
    #[error(transparent)]
    Inventory(#[from] crate::inventory::InventoryError),
}

crate::store_error_conversions!(SeedError);

/// A member the demo creates, and the WeChat user whose `test:<user>:<nonce>` login code reaches them.
pub struct DemoMember {
    pub wechat_user: &'static str,
    pub nickname: &'static str,
    pub phone: &'static str,
    pub skin_type: SkinType,
    pub concerns: &'static [SkinConcern],
    pub allergies: &'static [&'static str],
}

pub const DEMO_MEMBERS: &[DemoMember] = &[
    DemoMember {
        wechat_user: "demo-lily",
        nickname: "Lily",
        phone: "13800000001",
        skin_type: SkinType::Sensitive,
        concerns: &[SkinConcern::Redness, SkinConcern::Dehydration],
        allergies: &["METHYLISOTHIAZOLINONE", "PARFUM"],
    },
    DemoMember {
        wechat_user: "demo-mei",
        nickname: "小美",
        phone: "13800000002",
        skin_type: SkinType::Oily,
        concerns: &[SkinConcern::Acne, SkinConcern::Pores],
        allergies: &[],
    },
    DemoMember {
        wechat_user: "demo-ying",
        nickname: "莹莹",
        phone: "13800000003",
        skin_type: SkinType::Dry,
        concerns: &[SkinConcern::Ageing],
        allergies: &["ALCOHOL DENAT."],
    },
];
/// Seeds the demo once; returns false when it was already there. `openid_for` maps a demo
/// WeChat user to the openid the (fake) WeChat gives it.
pub async fn demo(app: &AppState, openid_for: impl Fn(&str) -> String) -> Result<bool, SeedError> {
    let already = staff_account::Entity::find()
        .filter(staff_account::Column::Username.eq("hq-demo"))
        .one(&app.db)
        .await?
        .is_some();
    if already {
        return Ok(false);
    }
    let password = hash_password_async(DEMO_PASSWORD.into())
        .await
        .map_err(|_| SeedError::Hash)?;
    let now = app.clock.now();
    let txn = crate::platform::db::begin_write(&app.db).await?;
    places::tiers(&txn, now).await?;
    let places = places::stores_and_warehouse(&txn, now).await?;
    catalog::products_with_stock(&txn, &places.store_locations, places.warehouse, now).await?;
    crate::coupons::seed_demo(&txn, now).await?;
    let booking_ba = people::staff(app, &txn, &places.store_ids, &password).await?;
    people::distributor(app, &txn, &password).await?;
    if let (Some(gz), Some(ba)) = (places.store_ids.get(2).copied(), booking_ba) {
        crate::booking::seed_demo(&txn, gz, ba, now).await?;
    }
    people::members(app, &txn, &openid_for, now).await?;
    crate::scan_codes::seed_demo_batch(&txn, now).await?;
    txn.commit().await?;
    Ok(true)
}

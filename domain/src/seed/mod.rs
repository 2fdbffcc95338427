//! Demo data for the embedded default and `rouge seed --demo`: a few stores, staff, a
//! distributor, tiers and members. Demo accounts exist only when this runs; production never
//! calls it. Each step seeds one part, in one transaction.

mod b2b;
mod b2b_fulfilment;
mod b2b_insight;
mod catalog;
mod commission;
mod day_close;
mod people;
mod places;
mod product_pictures;
mod sales;
mod showcase;
mod stored_value;

pub use showcase::{LOW_STOCK_SKU, NEAR_EXPIRY_LOT, SHOWCASE_SCANNERS};

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
    #[error("a demo picture was refused: {0}")]
    Media(String),
    #[error("a demo account was refused: {0}")]
    Accounts(String),
    #[error(transparent)]
    Inventory(#[from] crate::inventory::InventoryError),
    #[error(transparent)]
    Coupons(Box<crate::coupons::CouponsError>),
    #[error(transparent)]
    FlashSales(Box<crate::flash_sales::FlashSalesError>),
    #[error("demo region: {0}")]
    Region(String),
    #[error("demo sales: {0}")]
    Sales(String),
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
        allergies: &["fragrance", "METHYLISOTHIAZOLINONE"],
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
        allergies: &["alcohol"],
    },
];
/// Seeds the demo once (`serve` on the demo and `rouge seed --demo`); returns false when it was
/// already there. The base (places, catalog, staff, booking set-up at every store, the three
/// named members) and the showcase every flow needs to show something (members across regions
/// with scans, flash sales with a paid grab, an in-store coupon, low stock, a lot near expiry).
/// `openid_for` maps a demo WeChat user to the openid the (fake) WeChat gives it.
pub async fn demo(app: &AppState, openid_for: impl Fn(&str) -> String) -> Result<bool, SeedError> {
    seed(app, &openid_for, true).await
}

/// The base of the demo only, without the showcase: what most end-to-end tests build on (their
/// counts of members, scans, sales and stock start from it).
pub async fn demo_base(
    app: &AppState,
    openid_for: impl Fn(&str) -> String,
) -> Result<bool, SeedError> {
    seed(app, &openid_for, false).await
}

async fn seed(
    app: &AppState,
    openid_for: &impl Fn(&str) -> String,
    showcase: bool,
) -> Result<bool, SeedError> {
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
    let bas = people::staff(app, &txn, &places.store_ids, &password).await?;
    people::distributor(app, &txn, &password).await?;
    b2b::seed(app, &txn, &password, now).await?;
    b2b_insight::seed(&txn, now).await?;
    crate::booking::seed_demo_shared(&txn, now).await?;
    for ((store_id, service), bas) in places.store_ids.iter().zip(DEMO_SERVICES).zip(&bas) {
        let store = crate::booking::DemoBookingStore {
            store_id: *store_id,
            service,
            bas,
        };
        crate::booking::seed_demo(&txn, &store, now).await?;
    }
    people::members(app, &txn, openid_for, now).await?;
    crate::scan_codes::seed_demo_batch(&txn, now).await?;
    if showcase {
        let at = showcase::ShowcasePlaces {
            store_locations: &places.store_locations,
            warehouse: places.warehouse,
        };
        showcase::seed(app, &txn, &at, openid_for, now).await?;
        stored_value::seed(&txn, openid_for, now).await?;
        sales::seed(app, &txn, &sales_stores(&places, &bas), now).await?;
    }
    txn.commit().await?;
    if showcase {
        sales::roll_up(app).await?;
        commission::seed(app, now).await?;
        day_close::seed(app).await?;
        product_pictures::seed(app).await?;
        b2b_fulfilment::seed(app).await?;
        // The members' segments and today's segment counts, as the nightly run keeps them, so
        // the segment reports show something on a fresh demo.
        crate::campaigns::insights::recompute(app, now)
            .await
            .map_err(|e| SeedError::Sales(format!("member insights: {e}")))?;
    }
    Ok(true)
}

/// The demo stores as the demo sales need them.
fn sales_stores<'a>(places: &'a places::Places, bas: &'a [Vec<i64>]) -> Vec<sales::SalesStore<'a>> {
    places
        .store_ids
        .iter()
        .zip(&places.store_locations)
        .zip(bas)
        .map(|((store_id, location_id), bas)| sales::SalesStore {
            store_id: *store_id,
            location_id: *location_id,
            bas,
        })
        .collect()
}

/// Each demo store's own service (code, name, minutes, buffer, price, skill), in store order
/// (SH001, BJ001, GZ001); the skin test is offered everywhere.
const DEMO_SERVICES: [(&str, &str, i32, i32, i64, &str); 3] = [
    ("MAKEUP-SH001", "专属妆容课", 45, 15, 9_900, "MAKEUP"),
    ("MAKEUP-BJ001", "专属妆容课", 45, 15, 9_900, "MAKEUP"),
    ("FACIAL-GZ001", "深层补水护理", 60, 15, 19_900, "FACIAL"),
];

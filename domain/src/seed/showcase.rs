//! The demo's showcase: data every flow needs to show something on a fresh `serve`: members
//! across regions who scanned packs (so regional insight passes its minimum group size), a live
//! and an upcoming flash sale with a paid grab on its way to an address, an in-store coupon held
//! by Lily, a SKU under its safety stock and a lot near expiry.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, Set,
};

use super::SeedError;
use crate::AppState;
use crate::inventory::{MovementKind, MovementSpec, apply_movement};
use crate::members::{Gender, SkinType, TagSource};
use crate::platform::regions;
use crate::scan_codes::{AgeBand, DemoScan, WhereBought};
use entities::{member, member_tag, sku, stock_batch, stock_level};

/// How many members scan in Shanghai (the demo distributor's territory), Beijing and Guangzhou:
/// (province, city, members).
pub const SHOWCASE_SCANNERS: [(&str, Option<&str>, usize); 3] = [
    ("上海", None, 13),
    ("北京", None, 4),
    ("广东", Some("广州"), 4),
];

/// The SKU left under its safety stock at the first store's counter, and how many units stay.
pub const LOW_STOCK_SKU: (&str, i64) = ("VELVET-LIP-P02", 2);
/// The SKU with a lot expiring soon, the lot, and in how many days.
pub const NEAR_EXPIRY_LOT: (&str, &str, i64) = ("CALM-TONER-150", "CALM-TONER-150-C", 60);

pub(super) struct ShowcasePlaces<'a> {
    pub store_locations: &'a [i64],
    pub warehouse: i64,
}

pub(super) async fn seed(
    app: &AppState,
    txn: &DatabaseTransaction,
    places: &ShowcasePlaces<'_>,
    openid_for: &impl Fn(&str) -> String,
    now: DateTime<Utc>,
) -> Result<(), SeedError> {
    stock_situations(txn, places, now).await?;
    let scans = scanners(app, txn, openid_for, now).await?;
    crate::scan_codes::seed_demo_scans(txn, &scans, app.settings.loyalty.points_validity).await?;
    if let Some(mei) = member_id(txn, &openid_for("demo-mei")).await? {
        let grab = crate::flash_sales::DemoGrab {
            member_id: mei,
            address: crate::orders::DeliveryAddress {
                recipient: "小美".into(),
                phone: "13800000002".into(),
                province: "上海市".into(),
                city: "上海市".into(),
                district: Some("静安区".into()),
                detail: "南京西路1515号 嘉里中心办公楼 12 层".into(),
            },
        };
        crate::flash_sales::seed_demo(app, txn, places.warehouse, &grab, now)
            .await
            .map_err(|e| SeedError::FlashSales(Box::new(e)))?;
    }
    let counter = crate::coupons::seed_demo_counter(txn, now).await?;
    if let Some(lily) = member_id(txn, &openid_for("demo-lily")).await? {
        let source = crate::coupons::IssueSource {
            kind: crate::coupons::CouponSource::Issue,
            key: "demo-counter-lily",
        };
        crate::coupons::grant_in(txn, counter, lily, source, false, now)
            .await
            .map_err(|e| SeedError::Coupons(Box::new(e)))?;
    }
    Ok(())
}

async fn member_id(txn: &DatabaseTransaction, openid: &str) -> Result<Option<i64>, SeedError> {
    Ok(member::Entity::find()
        .filter(member::Column::Openid.eq(openid))
        .one(txn)
        .await?
        .map(|m| m.id))
}

/// Members `demo-fan-01`... in the regions of [`SHOWCASE_SCANNERS`], each with a redeemed pack.
/// In Shanghai most share an age band and skin type, so every grouping passes the minimum group.
async fn scanners(
    app: &AppState,
    txn: &DatabaseTransaction,
    openid_for: &impl Fn(&str) -> String,
    now: DateTime<Utc>,
) -> Result<Vec<DemoScan>, SeedError> {
    let mut scans = Vec::new();
    let mut n = 0_i64;
    for (province, city, count) in SHOWCASE_SCANNERS {
        let place = regions::place(province, city).map_err(SeedError::Region)?;
        for i in 0..count {
            n += 1;
            let usual = province == "上海" && i < 11;
            let skin = if usual {
                SkinType::Combination
            } else {
                SkinType::Oily
            };
            let row = member::ActiveModel {
                member_code: Set(format!("MDEMO{:06}", 100 + n)),
                openid: Set(openid_for(&format!("demo-fan-{n:02}"))),
                unionid: Set(None),
                nickname: Set(Some(format!("会员{n:02}"))),
                gender: Set(Gender::Female),
                region_province: Set(Some(place.province.clone())),
                region_city: Set(place.city.clone()),
                region_code: Set(Some(place.code.to_string())),
                skin_type: Set(Some(skin)),
                skin_concerns: Set(0),
                marketing_consent: Set(true),
                marketing_consent_at: Set(Some(now)),
                tier_code: Set("MEMBER".into()),
                cumulative_spend_fen: Set(0),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(txn)
            .await?;
            crate::privacy::record_demo_consents(txn, app, row.id, now).await?;
            member_tag::ActiveModel {
                member_id: Set(row.id),
                name: Set(skin.tag().into()),
                source: Set(TagSource::System),
                created_by: Set(None),
                created_at: Set(now),
                ..Default::default()
            }
            .insert(txn)
            .await?;
            scans.push(DemoScan {
                member_id: row.id,
                place: place.clone(),
                age_band: if usual {
                    AgeBand::From25To29
                } else {
                    AgeBand::From30To34
                },
                skin_type: skin,
                where_bought: if usual {
                    WhereBought::BrandStore
                } else {
                    WhereBought::MiniProgram
                },
                at: now - Duration::hours(n),
            });
        }
    }
    Ok(scans)
}

/// A lot near expiry everywhere, and one SKU under its safety stock at the first store.
async fn stock_situations(
    txn: &DatabaseTransaction,
    places: &ShowcasePlaces<'_>,
    now: DateTime<Utc>,
) -> Result<(), SeedError> {
    let zone = crate::platform::clock::DEFAULT_ZONE;
    let today = now.with_timezone(&zone).date_naive();
    let (near_sku, lot, days) = NEAR_EXPIRY_LOT;
    if let Some(s) = sku_by_code(txn, near_sku).await? {
        let batch = stock_batch::ActiveModel {
            sku_id: Set(s.id),
            lot: Set(lot.into()),
            manufactured_on: Set(today - Duration::days(700)),
            expires_on: Set(today + Duration::days(days)),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        for location_id in places
            .store_locations
            .iter()
            .copied()
            .chain([places.warehouse])
        {
            movement(
                txn,
                (location_id, batch.id, s.id),
                6,
                MovementKind::Receipt,
                now,
            )
            .await?;
        }
    }
    let (low_sku, keep) = LOW_STOCK_SKU;
    let (Some(s), Some(counter)) = (
        sku_by_code(txn, low_sku).await?,
        places.store_locations.first().copied(),
    ) else {
        return Ok(());
    };
    let mut left = keep;
    let levels = stock_level::Entity::find()
        .filter(stock_level::Column::LocationId.eq(counter))
        .filter(stock_level::Column::SkuId.eq(s.id))
        .order_by_desc(stock_level::Column::BatchId)
        .all(txn)
        .await?;
    for level in levels {
        let stay = left.min(level.quantity);
        left -= stay;
        if level.quantity > stay {
            let delta = stay - level.quantity;
            movement(
                txn,
                (counter, level.batch_id, s.id),
                delta,
                MovementKind::Adjustment,
                now,
            )
            .await?;
        }
    }
    Ok(())
}

async fn sku_by_code(
    txn: &DatabaseTransaction,
    code: &str,
) -> Result<Option<sku::Model>, SeedError> {
    Ok(sku::Entity::find()
        .filter(sku::Column::Code.eq(code))
        .one(txn)
        .await?)
}

async fn movement(
    txn: &DatabaseTransaction,
    (location_id, batch_id, sku_id): (i64, i64, i64),
    delta: i64,
    kind: MovementKind,
    at: DateTime<Utc>,
) -> Result<(), SeedError> {
    apply_movement(
        txn,
        MovementSpec {
            location_id,
            batch_id,
            sku_id,
            delta,
            kind,
            reference: Some("demo seed"),
            staff_id: None,
            note: None,
            at,
        },
    )
    .await?;
    Ok(())
}

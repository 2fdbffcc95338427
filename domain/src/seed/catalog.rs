//! The demo catalogue: two categories, four products with ingredients and SKUs, and stock of
//! two lots at every location.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ActiveModelTrait, DatabaseTransaction, Set};

use super::SeedError;
use crate::inventory::{MovementKind, MovementSpec, apply_movement};
use crate::members::SkinType;
use entities::{category, product, product_ingredient, sku, stock_batch};

/// code, name, category, claims, suitable skin types, ingredients, SKUs (code, shade, size, price).
type DemoProduct<'a> = (
    &'a str,
    &'a str,
    i64,
    &'a [&'a str],
    &'a [SkinType],
    &'a [&'a str],
    &'a [(&'a str, Option<&'a str>, &'a str, i64)],
);

/// The demo's categories (skin care, make-up), by code.
pub(super) const DEMO_CATEGORY_CODES: [&str; 2] = ["SKINCARE", "MAKEUP"];

/// Two categories, four products with ingredients and SKUs, and stock at every location.
pub(super) async fn products_with_stock(
    txn: &DatabaseTransaction,
    store_locations: &[i64],
    warehouse: i64,
    now: DateTime<Utc>,
) -> Result<(), SeedError> {
    let skincare = category::ActiveModel {
        code: Set(DEMO_CATEGORY_CODES[0].into()),
        name: Set("护肤".into()),
        parent_id: Set(None),
        sort_order: Set(1),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let makeup = category::ActiveModel {
        code: Set(DEMO_CATEGORY_CODES[1].into()),
        name: Set("彩妆".into()),
        parent_id: Set(None),
        sort_order: Set(2),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let products = demo_products(skincare.id, makeup.id);
    let lot_dates = [
        (
            "A",
            NaiveDate::from_ymd_opt(2026, 3, 1),
            NaiveDate::from_ymd_opt(2028, 3, 1),
        ),
        (
            "B",
            NaiveDate::from_ymd_opt(2026, 6, 1),
            NaiveDate::from_ymd_opt(2029, 6, 1),
        ),
    ];
    for (code, name, category_id, claims, skin_types, ingredients, skus) in products {
        let row = product::ActiveModel {
            code: Set(code.into()),
            name: Set(name.into()),
            description: Set(String::new()),
            category_id: Set(category_id),
            efficacy_claims: Set(claims
                .iter()
                .map(|c| (*c).to_owned())
                .collect::<Vec<_>>()
                .into()),
            suitable_skin_types: Set(SkinType::to_bits(skin_types)),
            active: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        for (position, inci) in ingredients.iter().enumerate() {
            product_ingredient::ActiveModel {
                product_id: Set(row.id),
                position: Set(i32::try_from(position).unwrap_or(0)),
                inci_name: Set((*inci).into()),
            }
            .insert(txn)
            .await?;
        }
        for (sku_code, shade, size, price) in skus {
            let sku_row = sku::ActiveModel {
                product_id: Set(row.id),
                code: Set((*sku_code).into()),
                barcode: Set(None),
                shade: Set(shade.map(Into::into)),
                size: Set(Some((*size).into())),
                price_fen: Set(*price),
                cost_fen: Set(price / 4),
                safety_stock: Set(5),
                active: Set(true),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(txn)
            .await?;
            stock_sku(
                txn,
                sku_row.id,
                sku_code,
                &lot_dates,
                store_locations,
                warehouse,
                now,
            )
            .await?;
        }
    }
    Ok(())
}

/// The demo products, in their categories.
fn demo_products(skincare: i64, makeup: i64) -> [DemoProduct<'static>; 4] {
    [
        (
            "ROSE-SERUM",
            "玫瑰修护精华",
            skincare,
            &["修护", "舒缓"],
            &[SkinType::Dry, SkinType::Sensitive, SkinType::Normal],
            &["AQUA", "GLYCERIN", "ROSA DAMASCENA FLOWER WATER", "PARFUM"],
            &[
                ("ROSE-SERUM-30", None, "30ml", 42_000),
                ("ROSE-SERUM-50", None, "50ml", 62_000),
            ],
        ),
        (
            "CLEAR-CREAM",
            "清透控油面霜",
            skincare,
            &["控油", "保湿"],
            &[SkinType::Oily, SkinType::Combination],
            &["AQUA", "NIACINAMIDE", "ZINC PCA", "ALCOHOL DENAT."],
            &[("CLEAR-CREAM-50", None, "50ml", 32_000)],
        ),
        (
            "CALM-TONER",
            "舒敏爽肤水",
            skincare,
            &["舒缓", "补水"],
            &[SkinType::Sensitive, SkinType::Dry],
            &["AQUA", "PANTHENOL", "ALLANTOIN"],
            &[("CALM-TONER-150", None, "150ml", 22_000)],
        ),
        (
            "VELVET-LIP",
            "丝绒唇釉",
            makeup,
            &["持久", "显色"],
            &[],
            &["DIMETHICONE", "CI 15850", "METHYLISOTHIAZOLINONE"],
            &[
                ("VELVET-LIP-R01", Some("R01 正红"), "3g", 26_000),
                ("VELVET-LIP-P02", Some("P02 豆沙"), "3g", 26_000),
            ],
        ),
    ]
}

/// Two lots of a SKU, 20 units of each at every location.
async fn stock_sku(
    txn: &DatabaseTransaction,
    sku_id: i64,
    sku_code: &str,
    lot_dates: &[(&str, Option<NaiveDate>, Option<NaiveDate>)],
    store_locations: &[i64],
    warehouse: i64,
    now: DateTime<Utc>,
) -> Result<(), SeedError> {
    for (lot, made, expires) in lot_dates {
        let (Some(made), Some(expires)) = (made, expires) else {
            continue;
        };
        let batch = stock_batch::ActiveModel {
            sku_id: Set(sku_id),
            lot: Set(format!("{sku_code}-{lot}")),
            manufactured_on: Set(*made),
            expires_on: Set(*expires),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        for location_id in store_locations.iter().copied().chain([warehouse]) {
            apply_movement(
                txn,
                MovementSpec {
                    location_id,
                    batch_id: batch.id,
                    sku_id,
                    delta: 20,
                    kind: MovementKind::Receipt,
                    reference: Some("demo seed"),
                    staff_id: None,
                    note: None,
                    at: now,
                },
            )
            .await?;
        }
    }
    Ok(())
}

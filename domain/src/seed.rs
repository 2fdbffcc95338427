//! Demo data for the embedded default and `rouge seed --demo`: a few stores, staff, a
//! distributor, tiers and members. Demo accounts exist only when this runs; production never
//! calls it.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::AppState;
use crate::auth::StaffRole;
use crate::inventory::LocationKind;
use crate::login::hash_password_async;
use crate::members::{Gender, SkinConcern, SkinType, TagSource};
use crate::platform::error::StoreError;
use entities::{
    category, distributor, distributor_account, location, member, member_allergy, member_tag,
    product, product_ingredient, sku, staff_account, stock_batch, store, tier,
};

use crate::inventory::{MovementKind, MovementSpec, apply_movement};

pub const DEMO_PASSWORD: &str = "demo-password";

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not hash a demo password")]
    Hash,
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

    for (code, name, rank, threshold, multiplier, discount) in [
        ("SILVER", "银卡", 1, 200_000, 120, 3),
        ("GOLD", "金卡", 2, 800_000, 150, 5),
        ("BLACK", "黑卡", 3, 2_000_000, 200, 8),
    ] {
        tier::ActiveModel {
            code: Set(code.into()),
            name: Set(name.into()),
            rank: Set(rank),
            threshold_fen: Set(threshold),
            points_multiplier_pct: Set(multiplier),
            discount_pct: Set(discount),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }

    let mut store_ids = Vec::new();
    let mut store_locations = Vec::new();
    for (code, name, city, address) in [
        (
            "SH001",
            "上海静安嘉里中心店",
            "上海市",
            "静安区南京西路1515号",
        ),
        (
            "BJ001",
            "北京三里屯太古里店",
            "北京市",
            "朝阳区三里屯路19号",
        ),
        ("GZ001", "广州天环广场店", "广州市", "天河区天河路218号"),
    ] {
        let row = store::ActiveModel {
            code: Set(code.into()),
            name: Set(name.into()),
            city: Set(city.into()),
            address: Set(address.into()),
            timezone: Set(crate::platform::clock::DEFAULT_ZONE.name().into()),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let location = location::ActiveModel {
            code: Set(format!("{code}-COUNTER")),
            name: Set(name.into()),
            kind: Set(LocationKind::Store),
            store_id: Set(Some(row.id)),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        store_ids.push(row.id);
        store_locations.push(location.id);
    }
    let warehouse = location::ActiveModel {
        code: Set("WH-ONLINE".into()),
        name: Set("华东电商仓".into()),
        kind: Set(LocationKind::Warehouse),
        store_id: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    seed_catalog(&txn, &store_locations, warehouse.id, now).await?;
    crate::coupons::seed_demo(&txn, now).await?;

    for (username, display, role, store) in [
        ("hq-demo", "总部运营", StaffRole::Hq, None),
        (
            "manager-demo",
            "静安店长",
            StaffRole::Manager,
            store_ids.first().copied(),
        ),
        (
            "ba-demo",
            "静安美容顾问",
            StaffRole::Ba,
            store_ids.first().copied(),
        ),
    ] {
        staff_account::ActiveModel {
            username: Set(username.into()),
            password_hash: Set(password.clone()),
            display_name: Set(display.into()),
            role: Set(role),
            store_id: Set(store),
            active: Set(true),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }

    let dist = distributor::ActiveModel {
        code: Set("D-EAST-01".into()),
        name: Set("华东美妆贸易有限公司".into()),
        level: Set("A".into()),
        region: Set("上海市".into()),
        region_codes: Set(Some("310000".into())),
        credit_limit_fen: Set(50_000_000),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    distributor_account::ActiveModel {
        distributor_id: Set(dist.id),
        username: Set("dist-demo".into()),
        password_hash: Set(password.clone()),
        display_name: Set("华东采购".into()),
        active: Set(true),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;

    if let Some(gz) = store_ids.get(2).copied() {
        crate::booking::seed_demo(&txn, gz, &password, now).await?;
    }

    for (i, demo) in DEMO_MEMBERS.iter().enumerate() {
        let e164 = format!("+86{}", demo.phone);
        let row = member::ActiveModel {
            member_code: Set(format!("MDEMO{:06}", i + 1)),
            openid: Set(openid_for(demo.wechat_user)),
            unionid: Set(None),
            nickname: Set(Some(demo.nickname.into())),
            gender: Set(Gender::Female),
            skin_type: Set(Some(demo.skin_type)),
            skin_concerns: Set(SkinConcern::to_bits(demo.concerns)),
            marketing_consent: Set(true),
            marketing_consent_at: Set(Some(now)),
            phone_cipher: Set(Some(app.pii.encrypt(&e164))),
            phone_index: Set(Some(app.pii.blind_index(&e164))),
            phone_masked: Set(Some(format!(
                "{}****{}",
                &demo.phone[..3],
                &demo.phone[7..]
            ))),
            tier_code: Set("MEMBER".into()),
            cumulative_spend_fen: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        member_tag::ActiveModel {
            member_id: Set(row.id),
            name: Set(demo.skin_type.tag().into()),
            source: Set(TagSource::System),
            created_by: Set(None),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        for ingredient in demo.allergies {
            member_allergy::ActiveModel {
                member_id: Set(row.id),
                ingredient: Set((*ingredient).into()),
            }
            .insert(&txn)
            .await?;
        }
    }
    crate::scan_codes::seed_demo_batch(&txn, now).await?;
    txn.commit().await?;
    Ok(true)
}

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

/// Two categories, four products with ingredients and SKUs, and stock at every location.
async fn seed_catalog(
    txn: &sea_orm::DatabaseTransaction,
    store_locations: &[i64],
    warehouse: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), SeedError> {
    let skincare = category::ActiveModel {
        code: Set("SKINCARE".into()),
        name: Set("护肤".into()),
        parent_id: Set(None),
        sort_order: Set(1),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let makeup = category::ActiveModel {
        code: Set("MAKEUP".into()),
        name: Set("彩妆".into()),
        parent_id: Set(None),
        sort_order: Set(2),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let products: [DemoProduct; 4] = [
        (
            "ROSE-SERUM",
            "玫瑰修护精华",
            skincare.id,
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
            skincare.id,
            &["控油", "保湿"],
            &[SkinType::Oily, SkinType::Combination],
            &["AQUA", "NIACINAMIDE", "ZINC PCA", "ALCOHOL DENAT."],
            &[("CLEAR-CREAM-50", None, "50ml", 32_000)],
        ),
        (
            "CALM-TONER",
            "舒敏爽肤水",
            skincare.id,
            &["舒缓", "补水"],
            &[SkinType::Sensitive, SkinType::Dry],
            &["AQUA", "PANTHENOL", "ALLANTOIN"],
            &[("CALM-TONER-150", None, "150ml", 22_000)],
        ),
        (
            "VELVET-LIP",
            "丝绒唇釉",
            makeup.id,
            &["持久", "显色"],
            &[],
            &["DIMETHICONE", "CI 15850", "METHYLISOTHIAZOLINONE"],
            &[
                ("VELVET-LIP-R01", Some("R01 正红"), "3g", 26_000),
                ("VELVET-LIP-P02", Some("P02 豆沙"), "3g", 26_000),
            ],
        ),
    ];
    let lot_dates = [
        (
            "A",
            chrono::NaiveDate::from_ymd_opt(2026, 3, 1),
            chrono::NaiveDate::from_ymd_opt(2028, 3, 1),
        ),
        (
            "B",
            chrono::NaiveDate::from_ymd_opt(2026, 6, 1),
            chrono::NaiveDate::from_ymd_opt(2029, 6, 1),
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
            for (lot, made, expires) in &lot_dates {
                let (Some(made), Some(expires)) = (made, expires) else {
                    continue;
                };
                let batch = stock_batch::ActiveModel {
                    sku_id: Set(sku_row.id),
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
                            sku_id: sku_row.id,
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
        }
    }
    Ok(())
}

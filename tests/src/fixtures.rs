//! Business data tests build on, written through the domain services (as HQ would).

use chrono::NaiveDate;
use domain::auth::StaffPrincipal;
use domain::{catalog, inventory};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::TestApp;

pub async fn staff_principal(app: &TestApp, username: &str) -> StaffPrincipal {
    let row = entities::staff_account::Entity::find()
        .filter(entities::staff_account::Column::Username.eq(username))
        .one(app.db())
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no staff account {username}"));
    StaffPrincipal {
        staff_id: row.id,
        role: row.role,
        store_id: row.store_id,
        session_id: "fixture".into(),
    }
}

/// A small catalog with stock: one serum (with PARFUM) and one cream, at the demo store SH001
/// (whose counter is `store_location`) and an online warehouse.
pub struct Catalog {
    pub hq: StaffPrincipal,
    pub store_id: i64,
    pub store_location: i64,
    pub warehouse: i64,
    pub category: i64,
    pub serum: i64,
    pub serum_sku: i64,
    pub cream: i64,
    pub cream_sku: i64,
}

pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// 12:00 on a day in Shanghai (04:00 UTC).
pub fn shanghai_noon(day: &str) -> chrono::DateTime<chrono::Utc> {
    date(day).and_hms_opt(4, 0, 0).unwrap().and_utc()
}

/// A counter sale by `ba` to `member`, paid with `method`: `(sku id, quantity)` lines.
pub async fn counter_sale(
    app: &TestApp,
    ba: &StaffPrincipal,
    member: i64,
    lines: &[(i64, i32)],
    method: domain::orders::PaymentMethod,
) -> domain::orders::Order {
    let lines: Vec<domain::orders::LineInput> = lines
        .iter()
        .map(|&(sku_id, quantity)| domain::orders::LineInput { sku_id, quantity })
        .collect();
    let key = format!("sale-{}", uuid::Uuid::new_v4().simple());
    domain::orders::record_in_store_sale(&app.state, ba, member, &lines, method, true, &key)
        .await
        .unwrap()
}

/// Creates the catalog; `units` of each SKU are received at the store counter.
pub async fn catalog(app: &TestApp, units: i64) -> Catalog {
    let hq = staff_principal(app, "hq-demo").await;
    let state = &app.state;
    let store = entities::store::Entity::find()
        .filter(entities::store::Column::Code.eq("SH001"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let store_location = inventory::store_location(app.db(), store.id)
        .await
        .unwrap()
        .id;
    let warehouse = match inventory::delivery_warehouse(app.db()).await {
        Ok(w) => w.id,
        Err(_) => {
            inventory::create_warehouse(state, &hq, "WH-TEST", "测试仓")
                .await
                .unwrap()
                .id
        }
    };
    let category = catalog::create_category(
        state,
        &hq,
        catalog::NewCategory {
            code: format!("SKIN{}", uuid::Uuid::new_v4().simple())
                .chars()
                .take(12)
                .collect(),
            name: "护肤".into(),
            parent_id: None,
            sort_order: 1,
        },
    )
    .await
    .unwrap()
    .id;
    let suffix: String = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .chars()
        .take(6)
        .collect();
    let serum = catalog::create_product(
        state,
        &hq,
        catalog::NewProduct {
            code: format!("SERUM-{suffix}"),
            name: "玫瑰精华".into(),
            description: "舒缓修护".into(),
            category_id: category,
            efficacy_claims: vec!["舒缓".into(), "保湿".into()],
            suitable_skin_types: vec![
                domain::members::SkinType::Dry,
                domain::members::SkinType::Sensitive,
            ],
            ingredients: vec!["AQUA".into(), "GLYCERIN".into(), "Parfum".into()],
        },
    )
    .await
    .unwrap()
    .id;
    let cream = catalog::create_product(
        state,
        &hq,
        catalog::NewProduct {
            code: format!("CREAM-{suffix}"),
            name: "控油面霜".into(),
            description: String::new(),
            category_id: category,
            efficacy_claims: vec!["控油".into()],
            suitable_skin_types: vec![domain::members::SkinType::Oily],
            ingredients: vec!["AQUA".into(), "NIACINAMIDE".into()],
        },
    )
    .await
    .unwrap()
    .id;
    let sku = |product_id, code: String, price| catalog::NewSku {
        product_id,
        code,
        barcode: None,
        shade: None,
        size: Some("30ml".into()),
        price_fen: price,
        cost_fen: price / 4,
        safety_stock: 5,
    };
    let serum_sku = catalog::add_sku(state, &hq, sku(serum, format!("SERUM-{suffix}-30"), 29_900))
        .await
        .unwrap()
        .id;
    let cream_sku = catalog::add_sku(state, &hq, sku(cream, format!("CREAM-{suffix}-50"), 19_900))
        .await
        .unwrap()
        .id;
    if units > 0 {
        for sku_id in [serum_sku, cream_sku] {
            for location_id in [store_location, warehouse] {
                inventory::receive(
                    state,
                    &hq,
                    inventory::Receipt {
                        location_id,
                        sku_id,
                        lot: format!("L{suffix}"),
                        manufactured_on: date("2026-01-01"),
                        expires_on: date("2029-01-01"),
                        quantity: units,
                    },
                )
                .await
                .unwrap();
            }
        }
    }
    Catalog {
        hq,
        store_id: store.id,
        store_location,
        warehouse,
        category,
        serum,
        serum_sku,
        cream,
        cream_sku,
    }
}

/// Replaces a flash sale's counters in the key-value store with `counters` (what a Redis
/// restart, or counters rebuilt wrong, leaves the sale with).
pub async fn replace_flash_counters(
    app: &TestApp,
    sale_id: i64,
    counters: &domain::platform::kv::FlashCounters,
) {
    let key = domain::platform::kv::keys::flash_sale_counters(sale_id);
    app.state.kv.delete(&[&key]).await.unwrap();
    assert!(
        app.state
            .kv
            .flash_load(&key, counters, std::time::Duration::from_secs(600))
            .await
            .unwrap()
    );
}

/// `n` new members (created 16 at a time), as the principals their sessions would carry.
pub async fn members(app: &TestApp, n: usize) -> Vec<domain::auth::MemberPrincipal> {
    use futures::StreamExt;
    let run = uuid::Uuid::new_v4().simple().to_string();
    futures::stream::iter(0..n)
        .map(|i| {
            let state = app.state.clone();
            let openid = format!("flash-{run}-{i}");
            async move {
                let m = domain::members::find_or_create_by_openid(&state, &openid, None)
                    .await
                    .unwrap();
                domain::auth::MemberPrincipal {
                    member_id: m.id,
                    session_id: "fixture".into(),
                }
            }
        })
        .buffer_unordered(16)
        .collect()
        .await
}

/// A flash sale of the catalog's serum at ¥99, open from a minute ago for an hour.
pub async fn live_flash_sale(
    app: &TestApp,
    cat: &Catalog,
    stock: i32,
    limit: i32,
) -> domain::flash_sales::FlashSale {
    let now = app.state.clock.now();
    domain::flash_sales::schedule_flash_sale(
        &app.state,
        &cat.hq,
        domain::flash_sales::NewFlashSale {
            title: "玫瑰精华 秒杀".into(),
            sku_id: cat.serum_sku,
            price_fen: 9_900,
            stock,
            per_member_limit: limit,
            starts_at: now - chrono::Duration::minutes(1),
            ends_at: now + chrono::Duration::hours(1),
        },
    )
    .await
    .unwrap()
}

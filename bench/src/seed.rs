//! Catalogue rows the scenarios seed straight into the database (the same shape each time).

use chrono::{DateTime, Utc};
use entities::{category, location, product, sku};
use sea_orm::{ActiveModelTrait, DatabaseConnection, Set};

pub async fn category(
    db: &DatabaseConnection,
    code: &str,
    name: &str,
    sort_order: i32,
    now: DateTime<Utc>,
) -> anyhow::Result<category::Model> {
    Ok(category::ActiveModel {
        code: Set(code.into()),
        name: Set(name.into()),
        parent_id: Set(None),
        sort_order: Set(sort_order),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

pub async fn warehouse(
    db: &DatabaseConnection,
    code: &str,
    name: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<location::Model> {
    Ok(location::ActiveModel {
        code: Set(code.into()),
        name: Set(name.into()),
        kind: Set(entities::location::LocationKind::Warehouse),
        store_id: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// An active product for every skin type.
pub async fn product(
    db: &DatabaseConnection,
    code: &str,
    name: &str,
    category_id: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<product::Model> {
    Ok(product::ActiveModel {
        code: Set(code.into()),
        name: Set(name.into()),
        description: Set(String::new()),
        category_id: Set(category_id),
        efficacy_claims: Set(Vec::new().into()),
        suitable_skin_types: Set(0b11111),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// A 30ml SKU at ¥299.
pub async fn serum_sku(
    db: &DatabaseConnection,
    product_id: i64,
    code: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<sku::Model> {
    Ok(sku::ActiveModel {
        product_id: Set(product_id),
        code: Set(code.into()),
        barcode: Set(None),
        shade: Set(None),
        size: Set(Some("30ml".into())),
        price_fen: Set(29_900),
        cost_fen: Set(7_000),
        safety_stock: Set(5),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

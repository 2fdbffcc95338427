//! B2B demo data: a tier with a price list in force for the demo SKUs, credit terms for
//! dist-demo, and a second distributor (`dist-demo-2`, same password) in another territory so
//! the separation between organisations can be seen.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, QueryOrder, Set};

use super::SeedError;
use crate::AppState;
use crate::accounts;
use entities::price_list_item::PriceStep;
use entities::{credit_account, distributor, distributor_tier, price_list, price_list_item, sku};

/// Credit each demo distributor starts with: ¥500,000 and ¥200,000.
const DEMO_CREDIT_FEN: [i64; 2] = [50_000_000, 20_000_000];

pub(super) async fn seed(
    app: &AppState,
    txn: &DatabaseTransaction,
    password: &str,
    now: DateTime<Utc>,
) -> Result<(), SeedError> {
    let second = accounts::seed_distributor(
        txn,
        app,
        accounts::DistributorInput {
            code: "D-SOUTH-01".into(),
            name: "华南美妆商贸有限公司".into(),
            level: "B".into(),
            territory: vec!["440000".into()],
            contact_name: None,
            contact_phone: None,
        },
        ("dist-demo-2", "华南采购"),
        password,
    )
    .await
    .map_err(|e| SeedError::Accounts(e.to_string()))?;
    let tier = distributor_tier::ActiveModel {
        code: Set("A".into()),
        name: Set("A 级经销商".into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let list = price_list::ActiveModel {
        tier_id: Set(tier.id),
        version: Set(1),
        valid_from: Set(now - Duration::days(1)),
        created_by: Set(None),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let skus = sku::Entity::find()
        .order_by_asc(sku::Column::Id)
        .all(txn)
        .await?;
    // Tier price 55% of retail for 12 units up, 50% from 120 (阶梯价), in cases of 6.
    let items = skus.iter().map(|s| price_list_item::ActiveModel {
        price_list_id: Set(list.id),
        sku_id: Set(s.id),
        moq: Set(12),
        case_size: Set(6),
        ladder: Set(vec![
            PriceStep {
                min_qty: 12,
                unit_price_fen: s.price_fen * 55 / 100,
            },
            PriceStep {
                min_qty: 120,
                unit_price_fen: s.price_fen / 2,
            },
        ]
        .into()),
        ..Default::default()
    });
    if !skus.is_empty() {
        price_list_item::Entity::insert_many(items)
            .exec(txn)
            .await?;
    }
    let first = distributor::Entity::find()
        .order_by_asc(distributor::Column::Id)
        .one(txn)
        .await?;
    let ids = first.map(|d| d.id).into_iter().chain([second.id]);
    for (id, credit) in ids.zip(DEMO_CREDIT_FEN) {
        distributor::ActiveModel {
            id: Set(id),
            tier_id: Set(Some(tier.id)),
            credit_limit_fen: Set(credit),
            ..Default::default()
        }
        .update(txn)
        .await?;
        credit_account::ActiveModel {
            distributor_id: Set(id),
            limit_fen: Set(credit),
            override_fen: Set(0),
            reserved_fen: Set(0),
            open_ar_fen: Set(0),
            prepaid: Set(false),
            payment_term_days: Set(30),
            grace_days: Set(7),
            updated_at: Set(now),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

//! B2B insight demo data: two channel policies for tier A (a must-confirm 满减 left
//! unconfirmed, so the demo shows ordering blocked until dist-demo confirms, and a 搭赠), and a
//! 华南-only policy that dist-demo (上海) never sees but dist-demo-2 (广东) does, so policy scope by
//! region can be seen. Runs after `b2b::seed` (tier A exists).

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, Set,
};

use super::SeedError;
use entities::b2b_policy::PolicyRule;
use entities::{b2b_policy, distributor_tier, sku};

pub(super) async fn seed(txn: &DatabaseTransaction, now: DateTime<Utc>) -> Result<(), SeedError> {
    let Some(tier) = distributor_tier::Entity::find()
        .filter(distributor_tier::Column::Code.eq("A"))
        .one(txn)
        .await?
    else {
        return Ok(());
    };
    let Some(first_sku) = sku::Entity::find()
        .order_by_asc(sku::Column::Id)
        .one(txn)
        .await?
    else {
        return Ok(());
    };
    let policy = |name: &str, rule: PolicyRule, requires_ack: bool, regions: Option<&str>| {
        let kind = rule.kind();
        b2b_policy::ActiveModel {
            name: Set(name.to_owned()),
            kind: Set(kind),
            rule: Set(rule.into()),
            tier_id: Set(Some(tier.id)),
            valid_from: Set(now - Duration::days(1)),
            valid_to: Set(now + Duration::days(90)),
            priority: Set(if requires_ack { 10 } else { 0 }),
            requires_ack: Set(requires_ack),
            created_at: Set(now),
            distributor_kind: Set(None),
            region_codes: Set(regions.map(str::to_owned)),
            ..Default::default()
        }
    };
    for row in [
        policy(
            "季度政策：订满 ¥10,000 减 ¥500（须确认）",
            PolicyRule::OrderReduction {
                threshold_fen: 1_000_000,
                off_fen: 50_000,
            },
            true,
            None,
        ),
        policy(
            "新品搭赠：每订 60 件送 6 件",
            PolicyRule::BuyNGetM {
                sku_id: first_sku.id,
                buy: 60,
                gift_sku_id: first_sku.id,
                get: 6,
            },
            false,
            None,
        ),
        policy(
            "华南专享：订满 ¥5,000 减 ¥200",
            PolicyRule::OrderReduction {
                threshold_fen: 500_000,
                off_fen: 20_000,
            },
            false,
            Some("440000"),
        ),
    ] {
        row.insert(txn).await?;
    }
    Ok(())
}

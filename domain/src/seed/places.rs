//! Loyalty tiers, the demo stores with their counters, and the online warehouse.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, DatabaseTransaction, Set};

use super::SeedError;
use crate::inventory::LocationKind;
use entities::{location, store, tier};

/// The stores (Shanghai, Beijing, Guangzhou), their counters' stock locations and the warehouse.
pub(super) struct Places {
    pub store_ids: Vec<i64>,
    pub store_locations: Vec<i64>,
    pub warehouse: i64,
}

pub(super) async fn tiers(txn: &DatabaseTransaction, now: DateTime<Utc>) -> Result<(), SeedError> {
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
        .insert(txn)
        .await?;
    }

    Ok(())
}

pub(super) async fn stores_and_warehouse(
    txn: &DatabaseTransaction,
    now: DateTime<Utc>,
) -> Result<Places, SeedError> {
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
        .insert(txn)
        .await?;
        let location = location::ActiveModel {
            code: Set(format!("{code}-COUNTER")),
            name: Set(name.into()),
            kind: Set(LocationKind::Store),
            store_id: Set(Some(row.id)),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(txn)
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
    .insert(txn)
    .await?;
    Ok(Places {
        store_ids,
        store_locations,
        warehouse: warehouse.id,
    })
}

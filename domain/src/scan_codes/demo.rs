//! Demo scans: members across regions have redeemed packs of the demo batch (with the
//! mini-survey), so insight has rows, a distributor's territory passes the minimum group size,
//! and scans outside it show as cross-territory.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, QueryOrder, Set};

use super::{AgeBand, ScanEventOutcome, ScanFlag, WhereBought, batch_territory};
use crate::loyalty::{self, PointsEvent, PointsReason};
use crate::members::SkinType;
use crate::platform::clock::DEFAULT_ZONE;
use crate::platform::error::StoreError;
use crate::platform::regions::{self, Place};
use entities::{scan_code_batch, scan_event, scan_redemption};

/// One redeemed pack of the demo batch.
pub struct DemoScan {
    pub member_id: i64,
    pub place: Place,
    pub age_band: AgeBand,
    pub skin_type: SkinType,
    pub where_bought: WhereBought,
    pub at: DateTime<Utc>,
}

/// Redeems serials 1, 2, ... of the latest batch for `scans`, granting its points.
pub(crate) async fn seed_demo_scans(
    txn: &DatabaseTransaction,
    scans: &[DemoScan],
    points_validity: chrono::Duration,
) -> Result<(), StoreError> {
    let Some(batch) = scan_code_batch::Entity::find()
        .order_by_desc(scan_code_batch::Column::Id)
        .one(txn)
        .await?
    else {
        return Ok(());
    };
    let territory = batch_territory(&batch);
    for (serial, scan) in (1_i64..).zip(scans) {
        let cross = !territory.is_empty() && regions::outside(&territory, scan.place.code);
        scan_redemption::ActiveModel {
            batch_id: Set(batch.id),
            serial: Set(serial),
            member_id: Set(scan.member_id),
            sku_id: Set(batch.sku_id),
            province: Set(Some(scan.place.province.clone())),
            city: Set(scan.place.city.clone()),
            region_code: Set(Some(scan.place.code.to_string())),
            cross_territory: Set(cross),
            gift_kind: Set(batch.gift_kind),
            gift_points: Set(batch.gift_points),
            voucher_code: Set(None),
            voucher_redeemed_at: Set(None),
            voucher_redeemed_by: Set(None),
            voucher_store_id: Set(None),
            redeemed_at: Set(scan.at),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        scan_event::ActiveModel {
            batch_id: Set(batch.id),
            serial: Set(serial),
            member_id: Set(scan.member_id),
            sku_id: Set(batch.sku_id),
            lot: Set(batch.lot.clone()),
            distributor_id: Set(batch.distributor_id),
            province: Set(Some(scan.place.province.clone())),
            city: Set(scan.place.city.clone()),
            region_code: Set(Some(scan.place.code.to_string())),
            age_band: Set(Some(scan.age_band)),
            skin_type: Set(Some(scan.skin_type)),
            where_bought: Set(Some(scan.where_bought)),
            outcome: Set(ScanEventOutcome::Redeemed),
            gifted: Set(1),
            flag: Set(cross.then_some(ScanFlag::CrossTerritory)),
            day: Set(scan
                .at
                .with_timezone(&DEFAULT_ZONE)
                .date_naive()
                .format("%Y-%m-%d")
                .to_string()),
            scanned_at: Set(scan.at),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        loyalty::earn(
            txn,
            &PointsEvent {
                member_id: scan.member_id,
                points: batch.gift_points,
                reason: PointsReason::ScanGift,
                reference: &format!("scan:{}:{serial}", batch.id),
                idempotency_key: &format!("scan-gift:{}:{serial}", batch.id),
                at: scan.at,
            },
            Some(scan.at + points_validity),
        )
        .await?;
    }
    Ok(())
}

//! HQ's code batches: creating one, turning it on or off, listing; the operator's exports (the
//! printer file, the redemptions); the per-replica batch cache the scans read.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::{
    CodeBatch, Gift, GiftKind, MAX_CODES_PER_BATCH, PackCodeKey, ScanError, codes,
    distributor_territory, invalid, split_region,
};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal, StaffRole};
use crate::platform::error::StoreError;
use crate::platform::page::{IdKey, Keyset, Page};
use crate::platform::regions::{self, RegionCode};
use crate::platform::{db, validate};
use entities::{distributor, scan_code_batch, scan_redemption, sku, stock_batch};

/// What HQ asks for in `createCodeBatch`.
#[derive(Debug, Clone)]
pub struct NewBatch {
    pub name: String,
    pub sku_id: i64,
    pub count: i64,
    /// The stock batch (lot) the packs come from.
    pub stock_batch_id: Option<i64>,
    pub distributor_id: Option<i64>,
    /// Provinces the packs may be sold in; empty with a distributor: the distributor's region.
    pub territory: Vec<String>,
    pub gift: Gift,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub active: bool,
}

/// Creates a batch of pack codes (HQ). The codes follow from the batch id and the key.
#[tracing::instrument(skip_all, err, fields(sku_id = input.sku_id, count = input.count))]
pub async fn create_batch(
    app: &AppState,
    staff: &StaffPrincipal,
    input: NewBatch,
) -> Result<CodeBatch, ScanError> {
    staff.require(Permission::ManageScanCodes)?;
    let name = validate::text("name", &input.name, 64).map_err(ScanError::InvalidInput)?;
    if !(1..=MAX_CODES_PER_BATCH).contains(&input.count) {
        return Err(invalid(format!(
            "a batch holds 1 to {MAX_CODES_PER_BATCH} codes"
        )));
    }
    if input.valid_until <= input.valid_from {
        return Err(invalid("the validity window must end after it starts"));
    }
    let gift = checked_gift(input.gift.clone())?;
    sku::Entity::find_by_id(input.sku_id)
        .one(&app.db)
        .await?
        .ok_or(ScanError::SkuNotFound)?;
    if let Gift::Coupon { template_id } = gift
        && entities::coupon_template::Entity::find_by_id(template_id)
            .one(&app.db)
            .await?
            .is_none()
    {
        return Err(invalid("the batch's coupon template does not exist"));
    }
    let lot = lot_of(app, input.sku_id, input.stock_batch_id).await?;
    let territory = territory_of_batch(app, &input).await?;
    // Names for display, codes for comparing.
    let names: Vec<String> = territory
        .iter()
        .map(|c| match c.names() {
            (_, Some(city)) => city.to_owned(),
            (Some(province), None) => province.to_owned(),
            (None, None) => c.to_string(),
        })
        .collect();
    let territory_codes: Vec<String> = territory.iter().map(ToString::to_string).collect();
    let now = app.clock.now();
    let txn = db::begin_write(&app.db).await?;
    let row = scan_code_batch::ActiveModel {
        name: Set(name),
        sku_id: Set(input.sku_id),
        code_count: Set(input.count),
        stock_batch_id: Set(input.stock_batch_id),
        lot: Set(lot),
        distributor_id: Set(input.distributor_id),
        territory: Set(names.join("\n")),
        territory_codes: Set(Some(territory_codes.join("\n"))),
        gift_kind: Set(gift.kind()),
        gift_points: Set(gift.points()),
        coupon_template_id: Set(match gift {
            Gift::Coupon { template_id } => Some(template_id),
            _ => None,
        }),
        sample_name: Set(match &gift {
            Gift::Sample { name } => Some(name.clone()),
            _ => None,
        }),
        valid_from: Set(input.valid_from),
        valid_until: Set(input.valid_until),
        active: Set(input.active),
        created_by: Set(staff.staff_id),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    if row.id > codes::MAX_BATCH_ID {
        txn.rollback().await?;
        return Err(invalid("the code space for batches is used up"));
    }
    txn.commit().await?;
    Ok(row.try_into()?)
}

/// The gift rule within its limits.
fn checked_gift(gift: Gift) -> Result<Gift, ScanError> {
    Ok(match gift {
        Gift::Points(p) if (1..=100_000).contains(&p) => Gift::Points(p),
        Gift::Points(_) => return Err(invalid("a points gift is 1 to 100,000 points")),
        Gift::Coupon { template_id } if template_id > 0 => Gift::Coupon { template_id },
        Gift::Coupon { .. } => return Err(invalid("name the coupon template")),
        Gift::Sample { name } => Gift::Sample {
            name: validate::text("sample name", &name, 32).map_err(ScanError::InvalidInput)?,
        },
    })
}

/// The lot of the stock batch the packs come from (it must be of the batch's SKU).
async fn lot_of(
    app: &AppState,
    sku_id: i64,
    stock_batch_id: Option<i64>,
) -> Result<Option<String>, ScanError> {
    let Some(id) = stock_batch_id else {
        return Ok(None);
    };
    Ok(Some(
        stock_batch::Entity::find_by_id(id)
            .one(&app.db)
            .await?
            .filter(|b| b.sku_id == sku_id)
            .ok_or(ScanError::LotNotFound)?
            .lot,
    ))
}

/// The territory asked for, or the distributor's when none is; at most 40 regions.
async fn territory_of_batch(
    app: &AppState,
    input: &NewBatch,
) -> Result<Vec<RegionCode>, ScanError> {
    let mut codes = Vec::new();
    for p in &input.territory {
        let p = validate::field(validate::FieldKind::Region, "territory", p, None)
            .map_err(ScanError::InvalidInput)?;
        codes.push(regions::territory_entry(&p).map_err(ScanError::InvalidInput)?);
    }
    if let Some(id) = input.distributor_id {
        let d = distributor::Entity::find_by_id(id)
            .one(&app.db)
            .await?
            .ok_or(ScanError::DistributorNotFound)?;
        if codes.is_empty() {
            codes = distributor_territory(&d);
        }
    }
    codes.sort();
    codes.dedup();
    if codes.len() > 40 {
        return Err(invalid("a territory lists at most 40 regions"));
    }
    Ok(codes)
}

/// Turns a batch on or off (HQ). Scans of an inactive batch's codes are refused.
pub async fn set_batch_active(
    app: &AppState,
    staff: &StaffPrincipal,
    batch_id: i64,
    active: bool,
) -> Result<CodeBatch, ScanError> {
    staff.require(Permission::ManageScanCodes)?;
    let row = scan_code_batch::Entity::find_by_id(batch_id)
        .one(&app.db)
        .await?
        .ok_or(ScanError::BatchNotFound)?;
    let mut row = row.into_active_model();
    row.active = Set(active);
    row.updated_at = Set(app.clock.now());
    let row = row.update(&app.db).await?;
    app.caches.scan_batches.batches.invalidate(&batch_id).await;
    Ok(row.try_into()?)
}

/// Code batches, newest first (by id) (HQ).
pub async fn batches(
    app: &AppState,
    staff: &StaffPrincipal,
    page: Keyset<IdKey>,
) -> Result<Page<CodeBatch>, ScanError> {
    staff.require(Permission::ManageScanCodes)?;
    let mut query = scan_code_batch::Entity::find()
        .order_by_desc(scan_code_batch::Column::Id)
        .limit(page.fetch());
    if let Some(after) = page.after {
        query = query.filter(scan_code_batch::Column::Id.lt(after));
    }
    Ok(page
        .page(query.all(&app.db).await?)
        .try_map(CodeBatch::try_from)?)
}

/// A batch by id, for the CLI (which runs with operator rights, no principal).
pub async fn batch_for_operator(
    db: &sea_orm::DatabaseConnection,
    batch_id: i64,
) -> Result<CodeBatch, ScanError> {
    Ok(scan_code_batch::Entity::find_by_id(batch_id)
        .one(db)
        .await?
        .ok_or(ScanError::BatchNotFound)?
        .try_into()?)
}

/// A redeemed code, as the CLI exports it (no member identity).
#[derive(Debug, Clone)]
pub struct RedemptionRecord {
    pub id: i64,
    pub serial: i64,
    pub redeemed_at: DateTime<Utc>,
    pub province: Option<String>,
    pub city: Option<String>,
    pub cross_territory: bool,
    pub gift_kind: GiftKind,
    pub gift_points: i64,
    pub voucher_redeemed_at: Option<DateTime<Utc>>,
}

/// One page of a batch's redemptions after `after_id`, for streaming exports (operator).
pub async fn redemptions_after(
    db: &sea_orm::DatabaseConnection,
    batch_id: i64,
    after_id: i64,
    limit: u64,
) -> Result<Vec<RedemptionRecord>, ScanError> {
    Ok(scan_redemption::Entity::find()
        .filter(scan_redemption::Column::BatchId.eq(batch_id))
        .filter(scan_redemption::Column::Id.gt(after_id))
        .order_by_asc(scan_redemption::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(|r| RedemptionRecord {
            id: r.id,
            serial: r.serial,
            redeemed_at: r.redeemed_at,
            province: r.province,
            city: r.city,
            cross_territory: r.cross_territory,
            gift_kind: r.gift_kind,
            gift_points: r.gift_points,
            voucher_redeemed_at: r.voucher_redeemed_at,
        })
        .collect())
}

/// How many codes of a batch are redeemed (operator).
pub async fn redeemed_count(
    db: &sea_orm::DatabaseConnection,
    batch_id: i64,
) -> Result<u64, ScanError> {
    Ok(scan_redemption::Entity::find()
        .filter(scan_redemption::Column::BatchId.eq(batch_id))
        .count(db)
        .await?)
}

/// Streams a batch's printer file as CSV (`serial,code`), calling `progress` every 10,000
/// codes. Pure computation: a million codes need no database and constant memory.
pub fn write_codes_csv<W: std::io::Write>(
    key: &PackCodeKey,
    batch: &CodeBatch,
    out: W,
    mut progress: impl FnMut(u64),
) -> std::io::Result<u64> {
    use std::fmt::Write as _;
    use std::io::Write as _;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    out.write_all(b"serial,code\n")?;
    let batch_id = u32::try_from(batch.id).map_err(std::io::Error::other)?;
    let count = u32::try_from(batch.count).map_err(std::io::Error::other)?;
    let mut buf = [0u8; codes::CODE_LEN];
    let mut itoa = String::with_capacity(12);
    for serial in 0..count {
        key.encode_into(batch_id, serial, &mut buf);
        itoa.clear();
        let _ = write!(itoa, "{serial},");
        out.write_all(itoa.as_bytes())?;
        out.write_all(&buf)?;
        out.write_all(b"\n")?;
        if serial % 10_000 == 9_999 {
            progress(u64::from(serial) + 1);
        }
    }
    out.flush()?;
    progress(u64::from(count));
    Ok(u64::from(count))
}

/// The code of one pack (for tests, the bench and reprints).
pub fn code_for(key: &PackCodeKey, batch_id: i64, serial: i64) -> Option<String> {
    let b = u32::try_from(batch_id).ok()?;
    let s = u32::try_from(serial).ok()?;
    (batch_id <= codes::MAX_BATCH_ID && serial < MAX_CODES_PER_BATCH).then(|| key.code(b, s))
}

/// Batches are read on every scan and change rarely: each is kept for two seconds (a batch
/// turned off in another replica stops scanning within that time; in this one at once).
pub struct BatchCache {
    pub(super) batches: moka::future::Cache<i64, std::sync::Arc<Option<scan_code_batch::Model>>>,
}

impl Default for BatchCache {
    fn default() -> Self {
        Self {
            batches: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(std::time::Duration::from_secs(2))
                .build(),
        }
    }
}

pub(super) async fn cached_batch(
    app: &AppState,
    batch_id: i64,
) -> Result<std::sync::Arc<Option<scan_code_batch::Model>>, ScanError> {
    app.caches
        .scan_batches
        .batches
        .try_get_with(batch_id, async {
            scan_code_batch::Entity::find_by_id(batch_id)
                .one(&app.db)
                .await
                .map(std::sync::Arc::new)
        })
        .await
        .map_err(|e| ScanError::Store(StoreError::from((*e).clone())))
}

/// Demo data: a 1,000-code POINTS batch for the first SKU, shipped to the first distributor.
pub(crate) async fn seed_demo_batch<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some(first_sku) = sku::Entity::find()
        .order_by_asc(sku::Column::Id)
        .one(db)
        .await?
    else {
        return Ok(());
    };
    let dist = distributor::Entity::find()
        .order_by_asc(distributor::Column::Id)
        .one(db)
        .await?;
    let creator = entities::staff_account::Entity::find()
        .filter(entities::staff_account::Column::Role.eq(StaffRole::Hq))
        .one(db)
        .await?
        .map_or(0, |s| s.id);
    scan_code_batch::ActiveModel {
        name: Set("演示：扫码送积分".into()),
        sku_id: Set(first_sku.id),
        code_count: Set(1_000),
        stock_batch_id: Set(None),
        lot: Set(None),
        distributor_id: Set(dist.as_ref().map(|d| d.id)),
        territory: Set(dist
            .as_ref()
            .map(|d| split_region(&d.region).join("\n"))
            .unwrap_or_default()),
        territory_codes: Set(Some(
            dist.as_ref()
                .map(distributor_territory)
                .unwrap_or_default()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        )),
        gift_kind: Set(GiftKind::Points),
        gift_points: Set(50),
        coupon_template_id: Set(None),
        sample_name: Set(None),
        valid_from: Set(now),
        valid_until: Set(now + Duration::days(365)),
        active: Set(true),
        created_by: Set(creator),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_streams_every_code() {
        let key = PackCodeKey::new(b"k");
        let batch = CodeBatch {
            id: 3,
            name: "t".into(),
            sku_id: 1,
            count: 25_000,
            stock_batch_id: None,
            lot: None,
            distributor_id: None,
            territory: vec![],
            territory_codes: vec![],
            gift: Gift::Points(1),
            valid_from: Utc::now(),
            valid_until: Utc::now(),
            active: true,
            created_at: Utc::now(),
        };
        let mut out = Vec::new();
        let mut ticks = 0;
        let n = write_codes_csv(&key, &batch, &mut out, |_| ticks += 1).unwrap();
        assert_eq!(n, 25_000);
        assert_eq!(ticks, 3);
        let text = String::from_utf8(out).unwrap();
        let line = text.lines().nth(1235).unwrap();
        let (serial, code) = line.split_once(',').unwrap();
        assert_eq!(serial, "1234");
        assert_eq!(key.decode(code), Ok((3, 1234)));
    }
}

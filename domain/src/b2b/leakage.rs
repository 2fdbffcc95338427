//! Territory leakage (窜货): how many of a distributor's own packs (see
//! [`super::packs::shipped_to_condition`]) were first scanned by a consumer outside the
//! distributor's territory, per province and SKU, between two days in Asia/Shanghai (the scan
//! events' store-zone `day`). Counts only: never who scanned. A pack counts once, where it was
//! first scanned (the REDEEMED scan); scans without a region and a distributor without a
//! territory (anywhere) count nothing. A scan stated only at a coarser level than the territory
//! (a province for a city territory) is not held against the distributor.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect};

use super::B2bError;
use crate::AppState;
use crate::auth::{DistributorPrincipal, Permission, StaffPrincipal};
use crate::platform::regions::{self, RegionCode};
use entities::scan_event::ScanEventOutcome;
use entities::{distributor, scan_event};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeakageRow {
    pub sku_id: i64,
    /// GB/T 2260 code of the province the packs were scanned in, and its name.
    pub province_code: String,
    pub province: Option<String>,
    pub scans: i64,
}

#[derive(Debug, FromQueryResult)]
struct Group {
    region_code: Option<String>,
    sku_id: i64,
    scans: i64,
}

/// The caller's organisation's leakage.
pub async fn territory_leakage(
    app: &AppState,
    who: &DistributorPrincipal,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<Vec<LeakageRow>, B2bError> {
    leakage(app, who.distributor_id, from, to).await
}

/// One distributor's leakage (HQ, finance).
pub async fn territory_leakage_for_staff(
    app: &AppState,
    staff: &StaffPrincipal,
    distributor_id: i64,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<Vec<LeakageRow>, B2bError> {
    staff.require(Permission::ViewDistributors)?;
    leakage(app, distributor_id, from, to).await
}

async fn leakage(
    app: &AppState,
    distributor_id: i64,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<Vec<LeakageRow>, B2bError> {
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(B2bError::InvalidInput("from must not be after to".into()));
    }
    let dist = distributor::Entity::find_by_id(distributor_id)
        .one(&app.db)
        .await?
        .ok_or(B2bError::NotFound("distributor"))?;
    let territory = crate::scan_codes::distributor_territory(&dist);
    if territory.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = scan_event::Entity::find()
        .select_only()
        .column(scan_event::Column::RegionCode)
        .column(scan_event::Column::SkuId)
        .column_as(Expr::cust("COUNT(*)"), "scans")
        .filter(super::packs::shipped_to_condition(dist.id))
        .filter(scan_event::Column::Outcome.eq(ScanEventOutcome::Redeemed))
        .filter(scan_event::Column::RegionCode.is_not_null())
        .group_by(scan_event::Column::RegionCode)
        .group_by(scan_event::Column::SkuId);
    if let Some(from) = from {
        q = q.filter(scan_event::Column::Day.gte(from.format("%Y-%m-%d").to_string()));
    }
    if let Some(to) = to {
        q = q.filter(scan_event::Column::Day.lte(to.format("%Y-%m-%d").to_string()));
    }
    let groups = q.into_model::<Group>().all(&app.db).await?;
    let mut out: BTreeMap<(RegionCode, i64), i64> = BTreeMap::new();
    for g in groups {
        let Some(at) = g.region_code.as_deref().and_then(RegionCode::parse_stored) else {
            continue;
        };
        if regions::outside(&territory, at) {
            *out.entry((at.province(), g.sku_id)).or_default() += g.scans;
        }
    }
    let mut rows: Vec<LeakageRow> = out
        .into_iter()
        .map(|((province, sku_id), scans)| LeakageRow {
            sku_id,
            province_code: province.to_string(),
            province: province.names().0.map(str::to_owned),
            scans,
        })
        .collect();
    // Most leaked first; ties by province then SKU.
    rows.sort_by(|a, b| {
        b.scans
            .cmp(&a.scans)
            .then_with(|| a.province_code.cmp(&b.province_code))
            .then_with(|| a.sku_id.cmp(&b.sku_id))
    });
    Ok(rows)
}

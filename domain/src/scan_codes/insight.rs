//! Insight from the scan events: HQ sees every group; a distributor sees only its own
//! territory, only groups of at least [`MIN_GROUP_MEMBERS`] distinct members, and never who.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect};

use super::{AgeBand, ScanError, ScanFlag, WhereBought, distributor_territory};
use crate::AppState;
use crate::auth::{DistributorPrincipal, Permission, StaffPrincipal};
use crate::members::SkinType;
use crate::platform::db;
use crate::platform::page::{IdKey, Keyset, Page};
use crate::platform::regions::{self, RegionCode};
use entities::{distributor, scan_event};

/// The smallest group a distributor may see.
pub const MIN_GROUP_MEMBERS: i64 = 10;
const MAX_ROWS: u64 = 5_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InsightGroup {
    Sku,
    Lot,
    Province,
    City,
    AgeBand,
    SkinType,
    WhereBought,
    Day,
    Month,
}

#[derive(Debug, Clone, Default)]
pub struct InsightFilter {
    /// Store-zone days, inclusive.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub sku_id: Option<i64>,
    pub lot: Option<String>,
    pub batch_id: Option<i64>,
    /// Regions (provinces, cities or districts; names or GB/T 2260 codes) to keep.
    pub provinces: Vec<String>,
}

/// One group: the dimensions not grouped by are empty.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct InsightRow {
    pub sku_id: Option<i64>,
    pub lot: Option<String>,
    /// Display names of the groups' codes.
    pub province: Option<String>,
    pub city: Option<String>,
    pub province_code: Option<String>,
    pub city_code: Option<String>,
    pub age_band: Option<AgeBand>,
    pub skin_type: Option<SkinType>,
    pub where_bought: Option<WhereBought>,
    /// YYYY-MM-DD (by day) or YYYY-MM (by month).
    pub period: Option<String>,
    pub scans: i64,
    pub gifts: i64,
    pub members: i64,
}

fn dimension(g: InsightGroup) -> (Expr, &'static str) {
    use scan_event::Column as C;
    match g {
        InsightGroup::Sku => (Expr::col(C::SkuId), "sku_id"),
        InsightGroup::Lot => (Expr::col(C::Lot), "lot"),
        // Groups are codes: 上海 and 上海市 are one group.
        InsightGroup::Province => (Expr::cust(PROVINCE_CODE), "province_code"),
        InsightGroup::City => (Expr::cust(CITY_CODE), "city_code"),
        InsightGroup::AgeBand => (Expr::col(C::AgeBand), "age_band"),
        InsightGroup::SkinType => (Expr::col(C::SkinType), "skin_type"),
        InsightGroup::WhereBought => (Expr::col(C::WhereBought), "where_bought"),
        InsightGroup::Day => (Expr::col(C::Day), "period"),
        InsightGroup::Month => (Expr::cust("SUBSTR(day, 1, 7)"), "period"),
    }
}

const PROVINCE_CODE: &str = "SUBSTR(region_code, 1, 2) || '0000'";
const CITY_CODE: &str = "CASE WHEN SUBSTR(region_code, 3, 4) = '0000' THEN NULL ELSE SUBSTR(region_code, 1, 4) || '00' END";

/// Display names for the codes of a row.
fn with_names(mut row: InsightRow) -> InsightRow {
    let code = |c: &Option<String>| c.as_deref().and_then(RegionCode::parse_stored);
    if let Some(c) = code(&row.province_code) {
        row.province = c.names().0.map(str::to_owned);
    }
    if let Some(c) = code(&row.city_code) {
        row.city = c.names().1.map(str::to_owned);
    }
    row
}

/// Resolves filter regions; unknown ones are refused.
fn filter_codes(filter: &InsightFilter) -> Result<Vec<RegionCode>, ScanError> {
    filter
        .provinces
        .iter()
        .map(|p| regions::territory_entry(p).map_err(ScanError::InvalidInput))
        .collect()
}

const ALL_ALIASES: [&str; 10] = [
    "sku_id",
    "lot",
    "province",
    "city",
    "province_code",
    "city_code",
    "age_band",
    "skin_type",
    "where_bought",
    "period",
];

async fn aggregate(
    app: &AppState,
    filter: &InsightFilter,
    within: &[RegionCode],
    group_by: &[InsightGroup],
    min_members: Option<i64>,
) -> Result<Vec<InsightRow>, ScanError> {
    let mut groups: Vec<InsightGroup> = Vec::new();
    for g in group_by {
        if !groups.contains(g) {
            groups.push(*g);
        }
    }
    if groups.contains(&InsightGroup::Day) && groups.contains(&InsightGroup::Month) {
        return Err(ScanError::InvalidInput(
            "group by day or by month, not both".into(),
        ));
    }
    let mut q = scan_event::Entity::find().select_only();
    let chosen: Vec<(Expr, &'static str)> = groups.iter().map(|g| dimension(*g)).collect();
    for alias in ALL_ALIASES {
        match chosen.iter().find(|(_, a)| *a == alias) {
            Some((expr, _)) => {
                q = q.column_as(expr.clone(), alias).group_by(expr.clone());
            }
            None => q = q.column_as(Expr::cust("NULL"), alias),
        }
    }
    q = q
        .column_as(Expr::cust("COUNT(*)"), "scans")
        .column_as(db::sum_i64(scan_event::Column::Gifted), "gifts")
        .column_as(Expr::cust("COUNT(DISTINCT member_id)"), "members");
    if let Some(from) = filter.from {
        q = q.filter(scan_event::Column::Day.gte(from.format("%Y-%m-%d").to_string()));
    }
    if let Some(to) = filter.to {
        q = q.filter(scan_event::Column::Day.lte(to.format("%Y-%m-%d").to_string()));
    }
    if let Some(sku) = filter.sku_id {
        q = q.filter(scan_event::Column::SkuId.eq(sku));
    }
    if let Some(lot) = &filter.lot {
        q = q.filter(scan_event::Column::Lot.eq(lot.clone()));
    }
    if let Some(batch) = filter.batch_id {
        q = q.filter(scan_event::Column::BatchId.eq(batch));
    }
    if !within.is_empty() {
        let mut any = sea_orm::Condition::any();
        for code in within {
            any = any.add(scan_event::Column::RegionCode.like(code.like_pattern()));
        }
        q = q.filter(any);
    }
    if let Some(min) = min_members {
        q = q.having(Expr::cust("COUNT(DISTINCT member_id)").gte(min));
    }
    for (expr, _) in &chosen {
        q = q.order_by(expr.clone(), sea_orm::Order::Asc);
    }
    Ok(q.limit(MAX_ROWS)
        .into_model::<InsightRow>()
        .all(&app.db)
        .await?
        .into_iter()
        .map(with_names)
        .collect())
}

/// HQ: scans and gifts per SKU, lot, region, age band, skin type and over time.
#[tracing::instrument(skip_all, err)]
pub async fn scan_insight(
    app: &AppState,
    staff: &StaffPrincipal,
    filter: &InsightFilter,
    group_by: &[InsightGroup],
) -> Result<Vec<InsightRow>, ScanError> {
    staff.require(Permission::ManageScanCodes)?;
    let within = filter_codes(filter)?;
    aggregate(app, filter, &within, group_by, None).await
}

/// A distributor: the same, only in its territory, only groups of at least ten members.
#[tracing::instrument(skip_all, err, fields(distributor_id = who.distributor_id))]
pub async fn regional_insight(
    app: &AppState,
    who: &DistributorPrincipal,
    filter: &InsightFilter,
    group_by: &[InsightGroup],
) -> Result<Vec<InsightRow>, ScanError> {
    let d = distributor::Entity::find_by_id(who.distributor_id)
        .one(&app.db)
        .await?
        .ok_or(ScanError::DistributorNotFound)?;
    let territory = distributor_territory(&d);
    let asked = filter_codes(filter)?;
    // Only what lies in the territory: an asked region inside it, or the parts of the
    // territory inside an asked (larger) region.
    let mut within: Vec<RegionCode> = if asked.is_empty() {
        territory
    } else {
        asked
            .iter()
            .flat_map(|a| {
                if territory.iter().any(|t| t.contains(*a)) {
                    vec![*a]
                } else {
                    territory
                        .iter()
                        .copied()
                        .filter(|t| a.contains(*t))
                        .collect()
                }
            })
            .collect()
    };
    within.sort();
    within.dedup();
    if within.is_empty() {
        return Ok(Vec::new());
    }
    aggregate(app, filter, &within, group_by, Some(MIN_GROUP_MEMBERS)).await
}

/// Cross-territory scans (窜货) per distributor the batch shipped to, and where they were scanned.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct CrossTerritoryRow {
    pub distributor_id: Option<i64>,
    /// The display name of `province_code`.
    pub province: Option<String>,
    pub province_code: Option<String>,
    pub sku_id: i64,
    pub scans: i64,
}

pub async fn cross_territory_report(
    app: &AppState,
    staff: &StaffPrincipal,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<Vec<CrossTerritoryRow>, ScanError> {
    staff.require(Permission::ManageScanCodes)?;
    let mut q = scan_event::Entity::find()
        .select_only()
        .column(scan_event::Column::DistributorId)
        .column_as(Expr::cust("NULL"), "province")
        .column_as(Expr::cust(PROVINCE_CODE), "province_code")
        .column(scan_event::Column::SkuId)
        .column_as(Expr::cust("COUNT(*)"), "scans")
        .filter(scan_event::Column::Flag.eq(ScanFlag::CrossTerritory))
        .group_by(scan_event::Column::DistributorId)
        .group_by(Expr::cust(PROVINCE_CODE))
        .group_by(scan_event::Column::SkuId)
        .order_by_asc(scan_event::Column::DistributorId)
        .order_by_desc(Expr::cust("COUNT(*)"));
    if let Some(from) = from {
        q = q.filter(scan_event::Column::Day.gte(from.format("%Y-%m-%d").to_string()));
    }
    if let Some(to) = to {
        q = q.filter(scan_event::Column::Day.lte(to.format("%Y-%m-%d").to_string()));
    }
    Ok(q.limit(MAX_ROWS)
        .into_model::<CrossTerritoryRow>()
        .all(&app.db)
        .await?
        .into_iter()
        .map(|mut r| {
            r.province = r
                .province_code
                .as_deref()
                .and_then(RegionCode::parse_stored)
                .and_then(|c| c.names().0)
                .map(str::to_owned);
            r
        })
        .collect())
}

/// A flagged scan, for HQ follow-up.
#[derive(Debug, Clone)]
pub struct FlaggedScan {
    pub id: i64,
    pub batch_id: i64,
    pub serial: i64,
    pub member_id: i64,
    pub flag: ScanFlag,
    pub province: Option<String>,
    pub city: Option<String>,
    pub region_code: Option<String>,
    pub scanned_at: DateTime<Utc>,
}

pub async fn flagged_scans(
    app: &AppState,
    staff: &StaffPrincipal,
    flag: Option<ScanFlag>,
    page: Keyset<IdKey>,
) -> Result<Page<FlaggedScan>, ScanError> {
    staff.require(Permission::ManageScanCodes)?;
    let mut q = scan_event::Entity::find().filter(scan_event::Column::Flag.is_not_null());
    if let Some(flag) = flag {
        q = q.filter(scan_event::Column::Flag.eq(flag));
    }
    if let Some(after) = page.after {
        q = q.filter(scan_event::Column::Id.lt(after));
    }
    let rows = q
        .order_by_desc(scan_event::Column::Id)
        .limit(page.fetch())
        .all(&app.db)
        .await?;
    page.page(rows)
        .try_map(|e| -> Result<FlaggedScan, ScanError> {
            Ok(FlaggedScan {
                flag: e.flag.ok_or_else(|| {
                    sea_orm::DbErr::Type(format!("flagged scan {} has no flag", e.id))
                })?,
                id: e.id,
                batch_id: e.batch_id,
                serial: e.serial,
                member_id: e.member_id,
                province: e.province,
                city: e.city,
                region_code: e.region_code,
                scanned_at: e.scanned_at,
            })
        })
}

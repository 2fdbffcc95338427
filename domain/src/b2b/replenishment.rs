//! Replenishment advice (补货建议) per SKU on the distributor's price list, with the arithmetic
//! shown. Over the last `window_days` store-zone days (today included):
//! - sell-through: consumer first scans of the distributor's own packs
//!   ([`super::packs::shipped_to_condition`]);
//! - ordered: units on its orders (not cancelled or rejected, gifts left out).
//!
//! Scans are a floor of what sold (not every consumer scans) and orders show what the
//! distributor has been moving, so the daily demand is the larger of the two over the window.
//! Needed = ⌈daily demand × (cover days + lead time)⌉; in transit = units on its orders not yet
//! received (SUBMITTED to SHIPPED, gifts included); the gap needed − in transit, when positive,
//! is rounded up to whole cases and to at least the MOQ. Rouge does not know the distributor's
//! shelf stock, so it is not subtracted: the cover days say how much the distributor keeps.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect};

use super::B2bError;
use crate::AppState;
use crate::auth::DistributorPrincipal;
use crate::platform::clock::DEFAULT_ZONE;
use crate::platform::page::{IdKey, Keyset, Page};
use entities::purchase_order::PoStatus;
use entities::scan_event::ScanEventOutcome;
use entities::{price_list_item, purchase_order, purchase_order_line, scan_event};

/// How the advice is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplenishmentParams {
    pub window_days: i32,
    pub cover_days: i32,
    pub lead_time_days: i32,
}

impl Default for ReplenishmentParams {
    fn default() -> Self {
        Self {
            window_days: 28,
            cover_days: 14,
            lead_time_days: 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub sku_id: i64,
    /// Consumer first scans of own packs in the window.
    pub scans: i64,
    /// Units ordered in the window.
    pub ordered: i64,
    pub window_days: i32,
    /// max(scans, ordered) / window days.
    pub daily_demand: f64,
    pub cover_days: i32,
    pub lead_time_days: i32,
    /// ⌈max(scans, ordered) × (cover + lead time) / window⌉.
    pub needed: i64,
    pub in_transit: i64,
    pub case_size: i32,
    pub moq: i32,
    pub suggested_qty: i64,
    /// The arithmetic, in words.
    pub explain: String,
}

/// The pure arithmetic of one SKU.
pub(crate) fn suggest(
    sku_id: i64,
    (scans, ordered, in_transit): (i64, i64, i64),
    (case_size, moq): (i32, i32),
    p: ReplenishmentParams,
) -> Suggestion {
    let window = i64::from(p.window_days.max(1));
    let demand = scans.max(ordered);
    let horizon = i64::from(p.cover_days) + i64::from(p.lead_time_days);
    let needed = (demand * horizon + window - 1) / window;
    let gap = (needed - in_transit).max(0);
    let case = i64::from(case_size.max(1));
    let (suggested, rounding) = if gap == 0 {
        (0, "无需补货".to_owned())
    } else {
        let cases = (gap + case - 1) / case * case;
        let moq_cases = (i64::from(moq) + case - 1) / case * case;
        let q = cases.max(moq_cases);
        (
            q,
            format!("缺口 {gap} → 按整箱（每箱 {case}）{cases}，起订量 {moq} → {q}"),
        )
    };
    let daily = demand as f64 / window as f64;
    let explain = format!(
        "日均需求 = max(扫码 {scans}, 订货 {ordered}) / {window} 天 = {daily:.2}；\
         需要 = ⌈{demand} × ({} 天覆盖 + {} 天交期) / {window}⌉ = {needed}；\
         在途 {in_transit}；{rounding}",
        p.cover_days, p.lead_time_days
    );
    Suggestion {
        sku_id,
        scans,
        ordered,
        window_days: p.window_days,
        daily_demand: (daily * 100.0).round() / 100.0,
        cover_days: p.cover_days,
        lead_time_days: p.lead_time_days,
        needed,
        in_transit,
        case_size,
        moq,
        suggested_qty: suggested,
        explain,
    }
}

#[derive(Debug, FromQueryResult)]
struct SkuSum {
    sku_id: i64,
    n: i64,
}

fn sums(rows: Vec<SkuSum>) -> HashMap<i64, i64> {
    rows.into_iter().map(|r| (r.sku_id, r.n)).collect()
}

/// Suggestions for the SKUs on the caller's price list in force, by SKU id.
pub async fn replenishment_suggestions(
    app: &AppState,
    who: &DistributorPrincipal,
    params: ReplenishmentParams,
    page: Keyset<IdKey>,
) -> Result<Page<Suggestion>, B2bError> {
    if !(1..=180).contains(&params.window_days)
        || !(0..=180).contains(&params.cover_days)
        || !(0..=90).contains(&params.lead_time_days)
    {
        return Err(B2bError::InvalidInput(
            "windowDays 1..180, coverDays 0..180, leadTimeDays 0..90".into(),
        ));
    }
    let now = app.clock.now();
    let (dist, list) = super::catalog::list_for(&app.db, who, now).await?;
    let mut q = price_list_item::Entity::find()
        .filter(price_list_item::Column::PriceListId.eq(list.id))
        .order_by_asc(price_list_item::Column::SkuId)
        .limit(page.fetch());
    if let Some(after) = page.after {
        q = q.filter(price_list_item::Column::SkuId.gt(after));
    }
    let page = page.page(q.all(&app.db).await?);
    let skus: Vec<i64> = page.items.iter().map(|i| i.sku_id).collect();

    let today = now.with_timezone(&DEFAULT_ZONE).date_naive();
    let first_day = today - Duration::days(i64::from(params.window_days) - 1);
    let since = day_start(first_day).unwrap_or(now);

    let scans = sums(
        scan_event::Entity::find()
            .select_only()
            .column(scan_event::Column::SkuId)
            .column_as(Expr::cust("COUNT(*)"), "n")
            .filter(super::packs::shipped_to_condition(dist.id))
            .filter(scan_event::Column::Outcome.eq(ScanEventOutcome::Redeemed))
            .filter(scan_event::Column::Day.gte(first_day.format("%Y-%m-%d").to_string()))
            .filter(scan_event::Column::SkuId.is_in(skus.clone()))
            .group_by(scan_event::Column::SkuId)
            .into_model::<SkuSum>()
            .all(&app.db)
            .await?,
    );
    let order_units =
        |statuses: Vec<PoStatus>, since: Option<chrono::DateTime<Utc>>, gifts: bool| {
            let mut orders = sea_orm::sea_query::Query::select()
                .column(purchase_order::Column::Id)
                .from(purchase_order::Entity)
                .and_where(purchase_order::Column::DistributorId.eq(dist.id))
                .and_where(purchase_order::Column::Status.is_in(statuses))
                .to_owned();
            if let Some(since) = since {
                orders.and_where(purchase_order::Column::CreatedAt.gte(since));
            }
            let mut q = purchase_order_line::Entity::find()
                .select_only()
                .column(purchase_order_line::Column::SkuId)
                .column_as(Expr::cust("CAST(SUM(qty) AS BIGINT)"), "n")
                .filter(purchase_order_line::Column::PurchaseOrderId.in_subquery(orders))
                .filter(purchase_order_line::Column::SkuId.is_in(skus.clone()))
                .group_by(purchase_order_line::Column::SkuId);
            if !gifts {
                q = q.filter(purchase_order_line::Column::IsGift.eq(false));
            }
            q.into_model::<SkuSum>().all(&app.db)
        };
    use PoStatus as S;
    let live = vec![
        S::Submitted,
        S::Approved,
        S::Allocated,
        S::PartiallyShipped,
        S::Shipped,
    ];
    let mut counted = live.clone();
    counted.push(S::Received);
    let ordered = sums(order_units(counted, Some(since), false).await?);
    let in_transit = sums(order_units(live, None, true).await?);

    Ok(page.map(|item| {
        let get = |m: &HashMap<i64, i64>| m.get(&item.sku_id).copied().unwrap_or(0);
        suggest(
            item.sku_id,
            (get(&scans), get(&ordered), get(&in_transit)),
            (item.case_size, item.moq),
            params,
        )
    }))
}

fn day_start(day: NaiveDate) -> Option<chrono::DateTime<Utc>> {
    DEFAULT_ZONE
        .from_local_datetime(&day.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_rounds_up_to_cases_and_moq() {
        let p = ReplenishmentParams::default();
        // 56 scans in 28 days = 2/day; 17 days → 34; 6 in transit → 28; cases of 6 → 30.
        let s = suggest(1, (56, 20, 6), (6, 12), p);
        assert_eq!((s.needed, s.suggested_qty), (34, 30));
        assert!((s.daily_demand - 2.0).abs() < 1e-9);
        // A small gap still orders the MOQ in whole cases.
        let s = suggest(1, (3, 0, 0), (6, 12), p);
        assert_eq!((s.needed, s.suggested_qty), (2, 12));
        // Enough in transit: nothing.
        let s = suggest(1, (28, 0, 40), (6, 12), p);
        assert_eq!(s.suggested_qty, 0);
        assert!(s.explain.contains("在途 40"));
    }
}

//! Sales reports (issue 17): `salesReport` (HQ and finance every store, a manager her own),
//! `storePerformance`, `myPerformance` and `setBaTarget`. Money is `Fen`; every result carries
//! the definition of each metric it holds.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use domain::auth::Permission;
use domain::reports;

use crate::context::{app, staff};
use crate::error::{ApiResult, parse_id};
use crate::pagination;
use crate::scalars::{Date, DateTime, Fen};
use domain::reports::{ExportDetail, ExportFailure, ExportFormat, ExportStatus};

/// A figure a report computes (see `MetricDefinition` for each one's meaning).
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    NetRevenue,
    Margin,
    MarginPct,
    Orders,
    Units,
    AverageOrderValue,
    Members,
    CouponDiscount,
    NewMembers,
    RepurchaseRate,
    CouponRedemptions,
    CouponRoi,
    BookingsRedeemed,
    TurnoverDays,
}

impl From<Metric> for reports::Metric {
    fn from(m: Metric) -> Self {
        match m {
            Metric::NetRevenue => Self::NetRevenue,
            Metric::Margin => Self::Margin,
            Metric::MarginPct => Self::MarginPct,
            Metric::Orders => Self::Orders,
            Metric::Units => Self::Units,
            Metric::AverageOrderValue => Self::AverageOrderValue,
            Metric::Members => Self::Members,
            Metric::CouponDiscount => Self::CouponDiscount,
            Metric::NewMembers => Self::NewMembers,
            Metric::RepurchaseRate => Self::RepurchaseRate,
            Metric::CouponRedemptions => Self::CouponRedemptions,
            Metric::CouponRoi => Self::CouponRoi,
            Metric::BookingsRedeemed => Self::BookingsRedeemed,
            Metric::TurnoverDays => Self::TurnoverDays,
        }
    }
}

impl From<reports::Metric> for Metric {
    fn from(m: reports::Metric) -> Self {
        match m {
            reports::Metric::NetRevenue => Self::NetRevenue,
            reports::Metric::Margin => Self::Margin,
            reports::Metric::MarginPct => Self::MarginPct,
            reports::Metric::Orders => Self::Orders,
            reports::Metric::Units => Self::Units,
            reports::Metric::AverageOrderValue => Self::AverageOrderValue,
            reports::Metric::Members => Self::Members,
            reports::Metric::CouponDiscount => Self::CouponDiscount,
            reports::Metric::NewMembers => Self::NewMembers,
            reports::Metric::RepurchaseRate => Self::RepurchaseRate,
            reports::Metric::CouponRedemptions => Self::CouponRedemptions,
            reports::Metric::CouponRoi => Self::CouponRoi,
            reports::Metric::BookingsRedeemed => Self::BookingsRedeemed,
            reports::Metric::TurnoverDays => Self::TurnoverDays,
        }
    }
}

/// What a report groups by: one of DAY, WEEK (ISO, from Monday) or MONTH, and up to three in
/// all. PRODUCT, CATEGORY, CAMPAIGN (last touch), COUPON_TEMPLATE and PROVINCE (the member's
/// region code's province) are frozen on each sale; TIER and RFM_SEGMENT are the member's
/// current ones.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Day,
    Week,
    Month,
    Store,
    Ba,
    Sku,
    Category,
    Channel,
    Product,
    Province,
    Campaign,
    CouponTemplate,
    Tier,
    RfmSegment,
}

impl From<Dimension> for reports::Dimension {
    fn from(d: Dimension) -> Self {
        match d {
            Dimension::Day => Self::Day,
            Dimension::Week => Self::Week,
            Dimension::Month => Self::Month,
            Dimension::Store => Self::Store,
            Dimension::Ba => Self::Ba,
            Dimension::Sku => Self::Sku,
            Dimension::Category => Self::Category,
            Dimension::Channel => Self::Channel,
            Dimension::Product => Self::Product,
            Dimension::Province => Self::Province,
            Dimension::Campaign => Self::Campaign,
            Dimension::CouponTemplate => Self::CouponTemplate,
            Dimension::Tier => Self::Tier,
            Dimension::RfmSegment => Self::RfmSegment,
        }
    }
}

impl From<reports::Dimension> for Dimension {
    fn from(d: reports::Dimension) -> Self {
        match d {
            reports::Dimension::Day => Self::Day,
            reports::Dimension::Week => Self::Week,
            reports::Dimension::Month => Self::Month,
            reports::Dimension::Store => Self::Store,
            reports::Dimension::Ba => Self::Ba,
            reports::Dimension::Sku => Self::Sku,
            reports::Dimension::Category => Self::Category,
            reports::Dimension::Channel => Self::Channel,
            reports::Dimension::Product => Self::Product,
            reports::Dimension::Province => Self::Province,
            reports::Dimension::Campaign => Self::Campaign,
            reports::Dimension::CouponTemplate => Self::CouponTemplate,
            reports::Dimension::Tier => Self::Tier,
            reports::Dimension::RfmSegment => Self::RfmSegment,
        }
    }
}

/// Which day a refund counts on: its own (RETURN_DATE, the default: a closed period stays as
/// it was) or the day of its sale (SALE_DATE: the sale's period is restated).
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReturnsBasis {
    #[default]
    ReturnDate,
    SaleDate,
}

impl From<ReturnsBasis> for reports::ReturnsBasis {
    fn from(b: ReturnsBasis) -> Self {
        match b {
            ReturnsBasis::ReturnDate => Self::ReturnDate,
            ReturnsBasis::SaleDate => Self::SaleDate,
        }
    }
}

impl From<reports::ReturnsBasis> for ReturnsBasis {
    fn from(b: reports::ReturnsBasis) -> Self {
        match b {
            reports::ReturnsBasis::ReturnDate => Self::ReturnDate,
            reports::ReturnsBasis::SaleDate => Self::SaleDate,
        }
    }
}

/// A sales report: business days `from` to `to` (both included, Asia/Shanghai).
#[derive(InputObject)]
pub struct ReportQuery {
    pub metrics: Vec<Metric>,
    #[graphql(default)]
    pub group_by: Vec<Dimension>,
    pub from: Date,
    pub to: Date,
    /// Only these stores (a manager may name only her own, the default for her).
    pub store_ids: Option<Vec<ID>>,
    /// Also the totals of the period of the same length just before, and the change.
    #[graphql(default)]
    pub compare: bool,
    #[graphql(default)]
    pub returns_basis: ReturnsBasis,
}

/// One grouping key of a row: `key` is stable (an id, `2026-09-30`, `2026-09`, the Monday of
/// a week, a channel), `label` what people read.
#[derive(SimpleObject)]
pub struct ReportKey {
    pub dimension: Dimension,
    pub key: String,
    pub label: String,
}

/// One metric's figure: money metrics in `fen`, counts and percentages in `number`; both null
/// where the metric has no value (a ratio on a zero base).
#[derive(SimpleObject)]
pub struct ReportValue {
    pub metric: Metric,
    pub fen: Option<Fen>,
    pub number: Option<f64>,
}

impl From<reports::ReportValue> for ReportValue {
    fn from(v: reports::ReportValue) -> Self {
        Self {
            metric: v.metric.into(),
            fen: v.fen.map(Fen),
            number: v.number,
        }
    }
}

#[derive(SimpleObject)]
pub struct ReportRow {
    /// One per dimension, in the order asked.
    pub keys: Vec<ReportKey>,
    /// One per metric, in the order asked.
    pub values: Vec<ReportValue>,
    /// With `compare`: the same keys in the previous period (the time bucket at the same
    /// position), null where that period has no such bucket.
    pub previous: Option<Vec<ReportValue>>,
    /// With `compare`: the relative change against `previous` (0.25 is +25 %), null on a zero
    /// base.
    pub change: Option<Vec<ReportValue>>,
}

/// Where a report's figures were read from: a rollup (days still waiting for their recompute
/// read from the facts) or the facts, grouped in the database either way.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ReportSource {
    BaRollup,
    SkuRollup,
    CategoryRollup,
    Facts,
}

impl From<reports::ReportSource> for ReportSource {
    fn from(s: reports::ReportSource) -> Self {
        match s {
            reports::ReportSource::BaRollup => Self::BaRollup,
            reports::ReportSource::SkuRollup => Self::SkuRollup,
            reports::ReportSource::CategoryRollup => Self::CategoryRollup,
            reports::ReportSource::Facts => Self::Facts,
        }
    }
}

/// What a metric means and how to read it.
#[derive(SimpleObject)]
pub struct MetricDefinition {
    pub metric: Metric,
    /// FEN, COUNT, PERCENT, RATIO or DAYS.
    pub unit: String,
    /// Whether the rows add up to the total (distinct counts and ratios do not).
    pub additive: bool,
    pub text: String,
}

/// A report's rows (every time bucket of the range present, oldest first: a chart draws them
/// as they come), its totals and each metric's definition.
#[derive(SimpleObject)]
pub struct ReportResult {
    pub dimensions: Vec<Dimension>,
    pub metrics: Vec<Metric>,
    pub from: Date,
    pub to: Date,
    pub returns_basis: ReturnsBasis,
    pub rows: Vec<ReportRow>,
    pub totals: Vec<ReportValue>,
    /// The previous period's totals, when `compare` was asked.
    pub previous_totals: Option<Vec<ReportValue>>,
    /// The relative change against the previous period (`number`: 0.25 is +25 %), null on a
    /// zero base.
    pub change: Option<Vec<ReportValue>>,
    pub definitions: Vec<MetricDefinition>,
    pub served_from: ReportSource,
}

fn values(list: Vec<reports::ReportValue>) -> Vec<ReportValue> {
    list.into_iter().map(Into::into).collect()
}

impl From<reports::ReportResult> for ReportResult {
    fn from(r: reports::ReportResult) -> Self {
        let dims: Vec<Dimension> = r.dimensions.iter().map(|d| (*d).into()).collect();
        Self {
            rows: r
                .rows
                .into_iter()
                .map(|row| ReportRow {
                    keys: dims
                        .iter()
                        .zip(row.keys)
                        .map(|(d, k)| ReportKey {
                            dimension: *d,
                            key: k.key,
                            label: k.label,
                        })
                        .collect(),
                    values: values(row.values),
                    previous: row.previous.map(values),
                    change: row.change.map(values),
                })
                .collect(),
            dimensions: dims,
            metrics: r.metrics.into_iter().map(Into::into).collect(),
            from: Date(r.from),
            to: Date(r.to),
            returns_basis: r.basis.into(),
            totals: values(r.totals),
            previous_totals: r.previous_totals.map(values),
            change: r.change.map(values),
            served_from: r.source.into(),
            definitions: r
                .definitions
                .into_iter()
                .map(|d| MetricDefinition {
                    metric: d.metric.into(),
                    unit: d.unit.to_owned(),
                    additive: d.additive,
                    text: d.text.to_owned(),
                })
                .collect(),
        }
    }
}

/// A BA's month against her target.
#[derive(SimpleObject)]
pub struct BaPerformance {
    pub staff_id: ID,
    pub display_name: String,
    pub store_id: Option<ID>,
    /// `YYYY-MM`.
    pub month: String,
    pub net_revenue_fen: Fen,
    pub margin_fen: Fen,
    pub orders: i64,
    pub units: i64,
    /// Distinct members she sold to in the month.
    pub members: i64,
    /// Members who bought from her twice or more in the month ÷ members × 100; null without
    /// members.
    pub repurchase_rate_pct: Option<f64>,
    /// Bookings she redeemed at the counter in the month.
    pub bookings_redeemed: i64,
    pub target_fen: Option<Fen>,
    /// Net revenue ÷ target × 100; null without a target.
    pub attainment_pct: Option<f64>,
}

impl From<reports::BaPerformance> for BaPerformance {
    fn from(p: reports::BaPerformance) -> Self {
        Self {
            staff_id: p.staff_id.into(),
            display_name: p.display_name,
            store_id: p.store_id.map(Into::into),
            month: p.month,
            net_revenue_fen: Fen(p.net_revenue_fen),
            margin_fen: Fen(p.margin_fen),
            orders: p.orders,
            units: p.units,
            members: p.members,
            repurchase_rate_pct: p.repurchase_rate_pct,
            bookings_redeemed: p.bookings_redeemed,
            target_fen: p.target_fen.map(Fen),
            attainment_pct: p.attainment_pct,
        }
    }
}

/// A report export: queued, run by the worker, then a signed download link valid for an hour
/// (minted at each read; an altered or expired link answers 403).
#[derive(SimpleObject)]
pub struct ExportJob {
    pub id: ID,
    pub status: ExportStatus,
    pub format: ExportFormat,
    pub detail: ExportDetail,
    /// Data rows written so far.
    pub rows_done: i64,
    /// Data rows the export holds, once known.
    pub rows_total: Option<i64>,
    pub created_at: DateTime,
    pub finished_at: Option<DateTime>,
    /// The download link, when DONE.
    pub url: Option<String>,
    pub expires_at: Option<DateTime>,
    /// Why it FAILED: ERROR (the file could not be written; try again), TOO_MANY_ATTEMPTS (the
    /// export stopped its worker on every attempt: ask for a shorter range or a SUMMARY).
    pub failure: Option<ExportFailure>,
    /// Times a worker took it up (a job whose worker stopped is taken up again, at most
    /// three times).
    pub attempts: i32,
}

impl From<reports::ExportJob> for ExportJob {
    fn from(j: reports::ExportJob) -> Self {
        Self {
            id: j.id.into(),
            status: j.status,
            format: j.format,
            detail: j.detail,
            rows_done: j.rows_done,
            rows_total: j.rows_total,
            created_at: j.created_at.into(),
            finished_at: j.finished_at.map(Into::into),
            url: j.url,
            expires_at: j.expires_at.map(Into::into),
            failure: j.failure,
            attempts: j.attempts,
        }
    }
}

fn domain_query(query: &ReportQuery) -> ApiResult<reports::ReportQuery> {
    let store_ids = match &query.store_ids {
        Some(ids) => Some(ids.iter().map(parse_id).collect::<ApiResult<Vec<i64>>>()?),
        None => None,
    };
    Ok(reports::ReportQuery {
        metrics: query.metrics.iter().map(|m| (*m).into()).collect(),
        group_by: query.group_by.iter().map(|d| (*d).into()).collect(),
        from: query.from.0,
        to: query.to.0,
        store_ids,
        compare: query.compare,
        basis: query.returns_basis.into(),
    })
}

/// A member past her own buying cycle (the mean gap between her purchase days, as the
/// repurchase reminder computes it), and why.
#[derive(SimpleObject)]
pub struct ChurnRisk {
    pub member_id: ID,
    /// Distinct days she bought on (at the store asked).
    pub purchase_days: i64,
    pub first_purchase: Date,
    pub last_purchase: Date,
    /// Her usual gap between purchases, in days.
    pub usual_cycle_days: i64,
    /// When she would have bought again on her cycle.
    pub due: Date,
    pub days_overdue: i64,
    /// The same in words: last purchase, usual cycle, days overdue.
    pub reason: String,
}

impl From<reports::ChurnRisk> for ChurnRisk {
    fn from(r: reports::ChurnRisk) -> Self {
        Self {
            reason: r.reason(),
            member_id: r.member_id.into(),
            purchase_days: r.purchase_days,
            first_purchase: Date(r.first_purchase),
            last_purchase: Date(r.last_purchase),
            usual_cycle_days: r.usual_cycle_days,
            due: Date(r.due),
            days_overdue: r.days_overdue,
        }
    }
}

#[derive(Default)]
pub struct StaffReportsQuery;

#[Object]
impl StaffReportsQuery {
    /// Sales grouped by up to three dimensions over business days (HQ and finance every store,
    /// finance without member counts; a manager her own store; a BA is refused: she has
    /// `myPerformance`).
    async fn sales_report(&self, ctx: &Context<'_>, query: ReportQuery) -> ApiResult<ReportResult> {
        let staff = staff(ctx).await?;
        let q = domain_query(&query)?;
        Ok(reports::sales_report(app(ctx), staff, &q).await?.into())
    }

    /// Members past their own buying cycle, most overdue first (HQ any store or all; a
    /// manager her own store, the default for her).
    async fn churn_risk(
        &self,
        ctx: &Context<'_>,
        store_id: Option<ID>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, ChurnRisk>> {
        let staff = staff(ctx).await?;
        let page = pagination::staff_keyset(
            staff,
            &[Permission::ViewSalesReports],
            first,
            after.as_deref(),
        )?;
        let store = store_id.as_ref().map(parse_id).transpose()?;
        let risks = reports::churn_risk(app(ctx), staff, store, page).await?;
        Ok(pagination::connection(
            risks,
            &page,
            |r| r.member_id,
            Into::into,
        ))
    }

    /// One of the caller's report exports (another's id is NOT_FOUND).
    async fn export_job(&self, ctx: &Context<'_>, id: ID) -> ApiResult<ExportJob> {
        let staff = staff(ctx).await?;
        let id = parse_id(&id)?;
        Ok(reports::export_job(app(ctx), staff, id).await?.into())
    }

    /// The caller's own sales for a month (`YYYY-MM`), from the rollups (a minute behind).
    async fn my_performance(&self, ctx: &Context<'_>, month: String) -> ApiResult<BaPerformance> {
        let staff = staff(ctx).await?;
        Ok(reports::my_performance(app(ctx), staff, &month)
            .await?
            .into())
    }

    /// Each BA of a store for a month (a manager only her own store).
    async fn store_performance(
        &self,
        ctx: &Context<'_>,
        store_id: ID,
        month: String,
    ) -> ApiResult<Vec<BaPerformance>> {
        let staff = staff(ctx).await?;
        let id = parse_id(&store_id)?;
        Ok(reports::store_performance(app(ctx), staff, id, &month)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// How many members each RFM segment held over time, by DAY, WEEK or MONTH over business
    /// days `from` to `to` (HQ all stores or one; a manager her store: members whose exclusive
    /// BA works there). Every bucket is listed, oldest first.
    async fn rfm_segment_counts(
        &self,
        ctx: &Context<'_>,
        store_id: Option<ID>,
        grain: Dimension,
        from: Date,
        to: Date,
    ) -> ApiResult<Vec<RfmSegmentBucket>> {
        let staff = staff(ctx).await?;
        let store = store_id.as_ref().map(parse_id).transpose()?;
        let counts =
            reports::rfm_segment_counts(app(ctx), staff, store, grain.into(), (from.0, to.0))
                .await?;
        Ok(counts
            .into_iter()
            .map(|c| RfmSegmentBucket::of(grain, c))
            .collect())
    }

    /// Stock turnover days and expiry losses of one location over business days `from` to `to`
    /// (HQ and finance any location, a manager her store's).
    async fn inventory_turnover(
        &self,
        ctx: &Context<'_>,
        location_id: ID,
        from: Date,
        to: Date,
    ) -> ApiResult<InventoryTurnover> {
        let staff = staff(ctx).await?;
        let id = parse_id(&location_id)?;
        Ok(
            reports::inventory_turnover(app(ctx), staff, id, from.0, to.0)
                .await?
                .into(),
        )
    }
}

/// How many members an RFM segment held on the bucket's day with counts.
#[derive(SimpleObject)]
pub struct RfmSegmentCount {
    pub segment: domain::campaigns::RfmSegment,
    /// Null when the bucket has no counts.
    pub members: Option<i32>,
}

/// One time bucket of RFM segment counts: the last day in it with counts (the nightly member
/// insights keep them), and every segment's members that day. Counts are levels: a week or a
/// month shows its last counted day, never a sum.
#[derive(SimpleObject)]
pub struct RfmSegmentBucket {
    pub bucket: ReportKey,
    /// The day the counts are from; null when the bucket has none (no nightly run in it yet).
    pub counted_on: Option<Date>,
    pub segments: Vec<RfmSegmentCount>,
}

impl RfmSegmentBucket {
    fn of(grain: Dimension, c: reports::SegmentCounts) -> Self {
        Self {
            bucket: ReportKey {
                dimension: grain,
                key: c.bucket.key,
                label: c.bucket.label,
            },
            counted_on: c.counted_on.map(Date),
            segments: c
                .members
                .into_iter()
                .map(|(segment, members)| RfmSegmentCount {
                    segment,
                    members: members.map(|n| i32::try_from(n).unwrap_or(i32::MAX)),
                })
                .collect(),
        }
    }
}

/// A location's stock turnover over a range; `definition` says how each figure is computed.
#[derive(SimpleObject)]
pub struct InventoryTurnover {
    pub location_id: ID,
    pub from: Date,
    pub to: Date,
    /// Days of the range with a nightly stock snapshot.
    pub snapshot_days: i32,
    /// The average of the snapshots' values, at cost then.
    pub average_stock_value_fen: Option<Fen>,
    /// Cost of goods sold over the range (cost at sale, refunds netted).
    pub cogs_fen: Fen,
    /// Average stock value ÷ COGS per day; null without sales or snapshots.
    pub turnover_days: Option<f64>,
    pub expiry_loss_units: i32,
    pub expiry_loss_fen: Fen,
    pub definition: String,
}

impl From<reports::InventoryTurnover> for InventoryTurnover {
    fn from(t: reports::InventoryTurnover) -> Self {
        Self {
            location_id: ID(t.location_id.to_string()),
            from: Date(t.from),
            to: Date(t.to),
            snapshot_days: i32::try_from(t.snapshot_days).unwrap_or(i32::MAX),
            average_stock_value_fen: t.average_stock_value_fen.map(Fen),
            cogs_fen: Fen(t.cogs_fen),
            turnover_days: t.turnover_days,
            expiry_loss_units: i32::try_from(t.expiry_loss_units).unwrap_or(i32::MAX),
            expiry_loss_fen: Fen(t.expiry_loss_fen),
            definition: t.definition.to_owned(),
        }
    }
}

#[derive(Default)]
pub struct StaffReportsMutation;

#[Object]
impl StaffReportsMutation {
    /// Queues an export of a sales report to CSV or XLSX (the same access and store scope as
    /// `salesReport`): SUMMARY holds the report's rows and totals, LINES one row per sales fact
    /// (members by id and masked phone; not for finance). Every export is audited. Follow it
    /// with `exportJob(id)`.
    async fn export_report(
        &self,
        ctx: &Context<'_>,
        query: ReportQuery,
        format: ExportFormat,
        #[graphql(default_with = "ExportDetail::Summary")] detail: ExportDetail,
    ) -> ApiResult<ExportJob> {
        let staff = staff(ctx).await?;
        let q = domain_query(&query)?;
        Ok(reports::export_report(app(ctx), staff, &q, format, detail)
            .await?
            .into())
    }

    /// Sets a BA's net revenue target for a month (HQ; a manager for her own store's BAs).
    async fn set_ba_target(
        &self,
        ctx: &Context<'_>,
        ba_id: ID,
        month: String,
        target_fen: Fen,
    ) -> ApiResult<BaPerformance> {
        let staff = staff(ctx).await?;
        let id = parse_id(&ba_id)?;
        Ok(
            reports::set_ba_target(app(ctx), staff, id, &month, target_fen.0)
                .await?
                .into(),
        )
    }
}

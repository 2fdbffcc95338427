//! The database does the adding: every report figure is one SQL `GROUP BY`, on PostgreSQL and
//! SQLite alike, over the cheapest table that answers it exactly. Additive figures and orders
//! over day, store, BA and channel come from the BA-day rollup; over category (with store and
//! channel) from the category-day rollup; additive figures over SKU and product from the SKU-day
//! rollup; everything else (distinct members, orders across SKUs, coupons, repurchase, the
//! SALE_DATE basis, the province/campaign/coupon/tier/RFM dimensions) from the facts. New
//! members, and members by month, are statements of their own (`member_counts.rs`). A rollup row is only as fresh as its day's last recompute, so the days still queued
//! for one are read from the facts instead: a rollup-served answer equals the fact-served one
//! at every moment. Facts are never loaded into Rust.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, QueryResult};
use sea_orm::{
    ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Statement, Value,
};

use super::ReportsError;
use super::metrics::{Dimension, Metric, ReturnsBasis};
use entities::sales_dirty_day;

/// Where a report's figures are read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReportSource {
    /// `sales_rollup_ba_days` (day, store, BA, channel), dirty days from the facts.
    BaRollup,
    /// `sales_rollup_sku_days` (day, store, SKU, channel, category), dirty days from the facts.
    SkuRollup,
    /// `sales_rollup_category_days` (day, store, channel, category) with distinct orders, dirty
    /// days from the facts.
    CategoryRollup,
    /// `sales_facts`, grouped in SQL.
    Facts,
}

impl ReportSource {
    fn table(self) -> &'static str {
        match self {
            Self::BaRollup => "sales_rollup_ba_days",
            Self::SkuRollup => "sales_rollup_sku_days",
            Self::CategoryRollup => "sales_rollup_category_days",
            Self::Facts => "sales_facts",
        }
    }

    fn has_dimension(self, d: Dimension) -> bool {
        use Dimension as D;
        match self {
            Self::BaRollup => d.is_time() || matches!(d, D::Store | D::Ba | D::Channel),
            Self::SkuRollup => {
                d.is_time()
                    || matches!(d, D::Store | D::Sku | D::Channel | D::Product | D::Category)
            }
            Self::CategoryRollup => d.is_time() || matches!(d, D::Store | D::Channel | D::Category),
            Self::Facts => true,
        }
    }

    fn has_metric(self, m: Metric) -> bool {
        use Metric as M;
        // Bookings, stock values and new members are read by statements of their own whatever
        // the source.
        let additive = matches!(
            m,
            M::NetRevenue
                | M::Margin
                | M::MarginPct
                | M::Units
                | M::CouponDiscount
                | M::BookingsRedeemed
                | M::TurnoverDays
                | M::NewMembers
        );
        match self {
            // Orders are additive over days, stores, BAs and channels (one order, one of each);
            // an order is counted once in each of its categories.
            Self::BaRollup | Self::CategoryRollup => {
                additive || matches!(m, M::Orders | M::AverageOrderValue)
            }
            Self::SkuRollup => additive,
            Self::Facts => true,
        }
    }

    /// The cheapest source that answers the query exactly.
    pub fn for_query(metrics: &[Metric], dims: &[Dimension], basis: ReturnsBasis) -> Self {
        if basis == ReturnsBasis::SaleDate {
            // The rollups are by the day the event happened.
            return Self::Facts;
        }
        // Members by month are read apart, from the member-month rows, whatever the source.
        let apart = super::member_counts::months_answer_members(metrics, dims, basis);
        // Smallest first: a category query reads the category rows, not the SKU rows.
        [Self::BaRollup, Self::CategoryRollup, Self::SkuRollup]
            .into_iter()
            .find(|s| {
                metrics
                    .iter()
                    .filter(|m| !(apart && **m == Metric::Members))
                    .all(|m| s.has_metric(*m))
                    && dims.iter().all(|d| s.has_dimension(*d))
            })
            .unwrap_or(Self::Facts)
    }
}

/// The sums behind every metric of one group.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Agg {
    pub net_fen: i64,
    pub cost_fen: i64,
    pub coupon_fen: i64,
    pub units: i64,
    pub orders: i64,
    pub members: i64,
    pub new_members: i64,
    /// Orders that used a coupon, and their net revenue and cost.
    pub coupon_orders: i64,
    pub coupon_net_fen: i64,
    pub coupon_cost_fen: i64,
    /// Members with at least one order, and with at least two.
    pub buyers: i64,
    pub repeaters: i64,
    pub bookings_redeemed: i64,
    /// Σ of the snapshotted stock values over the bucket's snapshot days, and how many days.
    pub stock_value_fen: i64,
    pub stock_days: i64,
}

impl Agg {
    /// Adds the sums of a disjoint part (only additive sources are ever merged).
    fn merge(&mut self, o: &Self) {
        self.net_fen += o.net_fen;
        self.cost_fen += o.cost_fen;
        self.coupon_fen += o.coupon_fen;
        self.units += o.units;
        self.orders += o.orders;
        self.members += o.members;
        self.new_members += o.new_members;
        self.coupon_orders += o.coupon_orders;
        self.coupon_net_fen += o.coupon_net_fen;
        self.coupon_cost_fen += o.coupon_cost_fen;
        self.buyers += o.buyers;
        self.repeaters += o.repeaters;
        self.bookings_redeemed += o.bookings_redeemed;
        self.stock_value_fen += o.stock_value_fen;
        self.stock_days += o.stock_days;
    }
}

/// What to read: the range, the stores, the basis and the metrics asked.
pub struct Ask<'a> {
    pub basis: ReturnsBasis,
    pub stores: Option<&'a [i64]>,
    pub metrics: &'a [Metric],
    pub source: ReportSource,
}

/// Groups keyed by the non-time keys (in `dims` order) then the time bucket's first day
/// (`from` without a time dimension).
pub type Groups = BTreeMap<Vec<String>, BTreeMap<NaiveDate, Agg>>;

/// Bound values with the backend's placeholders.
pub(super) struct Binds {
    pub backend: DbBackend,
    pub values: Vec<Value>,
}

impl Binds {
    pub fn new(backend: DbBackend) -> Self {
        Self {
            backend,
            values: Vec::new(),
        }
    }

    /// ` AND f.store_id IN (…)` for a store scope (nothing for none; an empty scope reads nothing).
    pub fn store_clause(&mut self, stores: Option<&[i64]>) -> String {
        match stores {
            None => String::new(),
            Some([]) => " AND 1 = 0".to_owned(),
            Some(ids) => {
                let list: Vec<String> = ids.iter().map(|id| self.bind(*id)).collect();
                format!(" AND f.store_id IN ({})", list.join(", "))
            }
        }
    }

    pub fn bind(&mut self, v: impl Into<Value>) -> String {
        self.values.push(v.into());
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".to_owned(),
        }
    }
}

/// A time bucket's first day as `YYYY-MM-DD` text.
pub(super) fn time_expr(backend: DbBackend, d: Dimension, col: &str) -> String {
    match (backend, d) {
        (DbBackend::Postgres, Dimension::Week) => {
            format!("to_char(date_trunc('week', {col}), 'YYYY-MM-DD')")
        }
        (DbBackend::Postgres, Dimension::Month) => format!("to_char({col}, 'YYYY-MM-01')"),
        (DbBackend::Postgres, _) => format!("to_char({col}, 'YYYY-MM-DD')"),
        (_, Dimension::Week) => format!(
            "date({col}, '-' || ((CAST(strftime('%w', {col}) AS INTEGER) + 6) % 7) || ' days')"
        ),
        (_, Dimension::Month) => format!("(substr({col}, 1, 7) || '-01')"),
        (_, _) => format!("CAST({col} AS TEXT)"),
    }
}

/// A non-time key as text ('' for none). Rollups store 0 for "no store/BA"; SKU, product and
/// category ids are copied from the facts as they are.
pub(super) fn key_expr(source: ReportSource, d: Dimension) -> String {
    let id = |col: &str| format!("COALESCE(CAST(f.{col} AS TEXT), '')");
    let maybe = |col: &str| match source {
        ReportSource::Facts => id(col),
        _ => format!("COALESCE(CAST(NULLIF(f.{col}, 0) AS TEXT), '')"),
    };
    match d {
        Dimension::Store => maybe("store_id"),
        Dimension::Ba => maybe("ba_id"),
        Dimension::Sku => id("sku_id"),
        Dimension::Product => id("product_id"),
        Dimension::Category => id("category_id"),
        Dimension::Campaign => id("campaign_id"),
        Dimension::CouponTemplate => id("coupon_template_id"),
        Dimension::Channel => "f.channel".to_owned(),
        Dimension::Province => "COALESCE(substr(f.region_code, 1, 2) || '0000', '')".to_owned(),
        Dimension::Tier => "COALESCE(m.tier_code, '')".to_owned(),
        Dimension::RfmSegment => "COALESCE(mi.rfm_segment, '')".to_owned(),
        Dimension::Day | Dimension::Week | Dimension::Month => String::new(),
    }
}

pub(super) fn joins(source: ReportSource, dims: &[Dimension]) -> String {
    let mut sql = String::new();
    if source != ReportSource::Facts {
        return sql;
    }
    if dims.contains(&Dimension::Tier) {
        sql.push_str(" LEFT JOIN members m ON m.id = f.member_id");
    }
    if dims.contains(&Dimension::RfmSegment) {
        sql.push_str(" LEFT JOIN member_insights mi ON mi.member_id = f.member_id");
    }
    sql
}

/// Which of the range's days to read.
pub(super) enum Days<'a> {
    All,
    Only(&'a [NaiveDate]),
    Except(&'a [NaiveDate]),
}

/// The facts' day column a report's range and buckets are on.
pub(super) fn date_col(basis: ReturnsBasis) -> &'static str {
    match basis {
        ReturnsBasis::ReturnDate => "f.business_date",
        ReturnsBasis::SaleDate => "f.sale_date",
    }
}

/// `SUM` as BIGINT on both backends (PostgreSQL sums BIGINT as NUMERIC).
fn sum(expr: &str, alias: &str) -> String {
    format!("CAST(COALESCE(SUM({expr}), 0) AS BIGINT) AS {alias}")
}

fn select_sums(source: ReportSource, metrics: &[Metric]) -> String {
    const SOLD: &str = "f.event <> 'REFUND'";
    let coupon = "f.coupon_template_id IS NOT NULL";
    let mut cols = vec![sum("f.net_fen", "net_fen"), sum("f.cost_fen", "cost_fen")];
    match source {
        ReportSource::Facts => {
            // Distinct counts cost a sort each over the range's facts: only those asked for.
            let asked = |ms: &[Metric]| ms.iter().any(|m| metrics.contains(m));
            cols.push(sum("f.coupon_discount_fen", "coupon_fen"));
            cols.push(sum("f.quantity", "units"));
            if asked(&[Metric::Orders, Metric::AverageOrderValue]) {
                cols.push(format!(
                    "COUNT(DISTINCT CASE WHEN {SOLD} THEN f.order_id END) AS orders"
                ));
            }
            // With the repurchase rate, its buyers are these members (one pass less).
            if asked(&[Metric::Members]) && !metrics.contains(&Metric::RepurchaseRate) {
                cols.push(format!(
                    "COUNT(DISTINCT CASE WHEN {SOLD} THEN f.member_id END) AS members"
                ));
            }
            if asked(&[Metric::CouponRedemptions]) {
                cols.push(format!(
                    "COUNT(DISTINCT CASE WHEN {SOLD} AND {coupon} THEN f.order_id END) AS coupon_orders"
                ));
            }
            cols.push(sum(
                &format!("CASE WHEN {coupon} THEN f.net_fen ELSE 0 END"),
                "coupon_net_fen",
            ));
            cols.push(sum(
                &format!("CASE WHEN {coupon} THEN f.cost_fen ELSE 0 END"),
                "coupon_cost_fen",
            ));
        }
        ReportSource::BaRollup | ReportSource::CategoryRollup => {
            cols.push(sum("f.coupon_discount_fen", "coupon_fen"));
            cols.push(sum("f.units", "units"));
            cols.push(sum("f.orders", "orders"));
        }
        ReportSource::SkuRollup => {
            cols.push(sum("f.coupon_discount_fen", "coupon_fen"));
            cols.push(sum("f.units", "units"));
        }
    }
    cols.join(", ")
}

fn read_agg(row: &QueryResult) -> Result<Agg, ReportsError> {
    let get = |name: &str| -> Result<i64, ReportsError> {
        Ok(row
            .try_get::<Option<i64>>("", name)
            .ok()
            .flatten()
            .unwrap_or(0))
    };
    Ok(Agg {
        net_fen: get("net_fen")?,
        cost_fen: get("cost_fen")?,
        coupon_fen: get("coupon_fen")?,
        units: get("units")?,
        orders: get("orders")?,
        members: get("members")?,
        new_members: get("new_members")?,
        coupon_orders: get("coupon_orders")?,
        coupon_net_fen: get("coupon_net_fen")?,
        coupon_cost_fen: get("coupon_cost_fen")?,
        buyers: get("buyers")?,
        repeaters: get("repeaters")?,
        bookings_redeemed: 0,
        stock_value_fen: get("stock_value_fen")?,
        stock_days: get("stock_days")?,
    })
}

/// The key columns of a grouped query: non-time dimensions first, then the time bucket.
pub(super) struct Keys {
    pub exprs: Vec<String>,
    pub time: Option<Dimension>,
}

impl Keys {
    pub fn new(
        backend: DbBackend,
        source: ReportSource,
        dims: &[Dimension],
        date_col: &str,
    ) -> Self {
        let mut exprs: Vec<String> = dims
            .iter()
            .filter(|d| !d.is_time())
            .map(|d| key_expr(source, *d))
            .collect();
        let time = dims.iter().copied().find(|d| d.is_time());
        if let Some(t) = time {
            exprs.push(time_expr(backend, t, date_col));
        }
        Self { exprs, time }
    }

    pub fn select(&self) -> String {
        self.exprs
            .iter()
            .enumerate()
            .map(|(i, e)| format!("{e} AS k{i}, "))
            .collect()
    }

    pub fn group_by(&self, extra: &str) -> String {
        let mut all = self.exprs.clone();
        if !extra.is_empty() {
            all.push(extra.to_owned());
        }
        if all.is_empty() {
            String::new()
        } else {
            format!(" GROUP BY {}", all.join(", "))
        }
    }

    /// The row's (non-time keys, bucket).
    fn read(
        &self,
        row: &QueryResult,
        from: NaiveDate,
    ) -> Result<(Vec<String>, NaiveDate), ReportsError> {
        let mut keys = Vec::with_capacity(self.exprs.len());
        for i in 0..self.exprs.len() {
            let k: Option<String> = row
                .try_get("", &format!("k{i}"))
                .map_err(ReportsError::from)?;
            keys.push(k.unwrap_or_default());
        }
        let bucket = match self.time {
            Some(_) => {
                let text = keys.pop().unwrap_or_default();
                NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| {
                    ReportsError::from(sea_orm::DbErr::Type(format!("bad bucket {text}")))
                })?
            }
            None => from,
        };
        Ok((keys, bucket))
    }
}

/// `WHERE` over the range, the stores and the days.
pub(super) fn filter(
    b: &mut Binds,
    date_col: &str,
    from: NaiveDate,
    to: NaiveDate,
    stores: Option<&[i64]>,
    days: &Days<'_>,
) -> String {
    let mut sql = format!(
        " WHERE {date_col} BETWEEN {} AND {}",
        b.bind(from),
        b.bind(to)
    );
    sql.push_str(&b.store_clause(stores));
    match days {
        Days::All => {}
        Days::Only(list) | Days::Except(list) if list.is_empty() => {
            if matches!(days, Days::Only(_)) {
                sql.push_str(" AND 1 = 0");
            }
        }
        Days::Only(list) | Days::Except(list) => {
            let not = if matches!(days, Days::Except(_)) {
                "NOT "
            } else {
                ""
            };
            let list: Vec<String> = list.iter().map(|d| b.bind(*d)).collect();
            sql.push_str(&format!(" AND {date_col} {not}IN ({})", list.join(", ")));
        }
    }
    sql
}

pub(super) async fn run<C: ConnectionTrait>(
    db: &C,
    sql: String,
    values: Vec<Value>,
    keys: &Keys,
    from: NaiveDate,
    into: &mut Groups,
) -> Result<(), ReportsError> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    for row in &rows {
        let (k, bucket) = keys.read(row, from)?;
        let agg = read_agg(row)?;
        into.entry(k)
            .or_default()
            .entry(bucket)
            .or_default()
            .merge(&agg);
    }
    Ok(())
}

/// The days of the range still waiting for their rollups.
async fn dirty_days<C: ConnectionTrait>(
    db: &C,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<NaiveDate>, ReportsError> {
    Ok(sales_dirty_day::Entity::find()
        .select_only()
        .column(sales_dirty_day::Column::BusinessDate)
        .filter(sales_dirty_day::Column::BusinessDate.between(from, to))
        .into_tuple()
        .all(db)
        .await?)
}

/// The sums grouped by `dims` over `from..=to`, read on `db` (the report's one snapshot).
pub async fn grouped<C: ConnectionTrait>(
    db: &C,
    ask: &Ask<'_>,
    dims: &[Dimension],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Groups, ReportsError> {
    let backend = db.get_database_backend();
    let mut groups = Groups::new();
    // Members by month come from the member-month rows where they can (a statement of their own).
    let members_apart = super::member_counts::months_answer_members(ask.metrics, dims, ask.basis);
    let main_metrics: Vec<Metric> = ask
        .metrics
        .iter()
        .copied()
        .filter(|m| !(members_apart && *m == Metric::Members))
        .collect();
    let date_col = date_col(ask.basis);
    // The days still waiting for their rollups: read from the facts by a rollup source and by
    // the member-month rows alike.
    let dirty = if ask.source == ReportSource::Facts && !members_apart {
        Vec::new()
    } else {
        dirty_days(db, from, to).await?
    };
    let mut parts = vec![(ask.source, Days::All)];
    if ask.source != ReportSource::Facts {
        parts = vec![
            (ask.source, Days::Except(&dirty)),
            (ReportSource::Facts, Days::Only(&dirty)),
        ];
    }
    for (source, days) in parts {
        if matches!(days, Days::Only(list) if list.is_empty()) {
            continue;
        }
        let keys = Keys::new(backend, source, dims, date_col);
        let mut b = Binds::new(backend);
        let mut sql = format!(
            "SELECT {}{} FROM {} f{}",
            keys.select(),
            select_sums(source, &main_metrics),
            source.table(),
            joins(source, dims),
        );
        sql.push_str(&filter(&mut b, date_col, from, to, ask.stores, &days));
        sql.push_str(&keys.group_by(""));
        run(db, sql, b.values, &keys, from, &mut groups).await?;
    }
    if ask.metrics.contains(&Metric::RepurchaseRate) {
        repurchase(db, ask, dims, from, to, &mut groups).await?;
    }
    if ask.metrics.contains(&Metric::NewMembers) {
        super::member_counts::new_members(db, ask, dims, from, to, &mut groups).await?;
    }
    if members_apart {
        let range = (from, to);
        super::member_counts::members_by_month(db, ask, dims, range, &dirty, &mut groups).await?;
    }
    if ask.metrics.contains(&Metric::BookingsRedeemed) {
        super::bookings_redeemed::count_into(db, ask.stores, dims, from, to, &mut groups).await?;
    }
    if ask.metrics.contains(&Metric::TurnoverDays) {
        super::turnover::stock_values_into(db, ask.stores, dims, from, to, &mut groups).await?;
    }
    Ok(groups)
}

/// Members with ≥ 1 and ≥ 2 orders per group: one inner GROUP BY member, one outer by group.
async fn repurchase<C: ConnectionTrait>(
    db: &C,
    ask: &Ask<'_>,
    dims: &[Dimension],
    from: NaiveDate,
    to: NaiveDate,
    groups: &mut Groups,
) -> Result<(), ReportsError> {
    let backend = db.get_database_backend();
    let date_col = date_col(ask.basis);
    let inner_keys = Keys::new(backend, ReportSource::Facts, dims, date_col);
    let mut b = Binds::new(backend);
    let mut inner = format!(
        "SELECT {}COUNT(DISTINCT f.order_id) AS n FROM sales_facts f{}",
        inner_keys.select(),
        joins(ReportSource::Facts, dims),
    );
    inner.push_str(&filter(&mut b, date_col, from, to, ask.stores, &Days::All));
    inner.push_str(" AND f.event <> 'REFUND'");
    inner.push_str(&inner_keys.group_by("f.member_id"));
    let outer_cols: Vec<String> = (0..inner_keys.exprs.len())
        .map(|i| format!("k{i}"))
        .collect();
    let outer_keys = Keys {
        exprs: outer_cols.clone(),
        time: inner_keys.time,
    };
    let sql = format!(
        "SELECT {}CAST(COUNT(*) AS BIGINT) AS buyers, \
         CAST(SUM(CASE WHEN n >= 2 THEN 1 ELSE 0 END) AS BIGINT) AS repeaters FROM ({inner}) x{}",
        outer_keys.select(),
        outer_keys.group_by(""),
    );
    let mut part = Groups::new();
    run(db, sql, b.values, &outer_keys, from, &mut part).await?;
    for (k, by_time) in part {
        for (bucket, agg) in by_time {
            let slot = groups
                .entry(k.clone())
                .or_default()
                .entry(bucket)
                .or_default();
            slot.buyers = agg.buyers;
            slot.repeaters = agg.repeaters;
            // Buyers are the members with a sale in the group: the MEMBERS figure, exactly.
            if ask.metrics.contains(&Metric::Members) {
                slot.members = agg.buyers;
            }
        }
    }
    Ok(())
}

//! The metrics dictionary: what each metric means, in one place, returned with every result.

/// A figure a report computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
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

/// What a report groups by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
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

impl Dimension {
    pub const fn is_time(self) -> bool {
        matches!(self, Self::Day | Self::Week | Self::Month)
    }
}

/// A metric's or dimension's name as the API spells it (`BOOKINGS_REDEEMED`).
pub fn api_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Metrics read from tables as they are now (bookings, stock values), not from the sales facts:
/// an answer holding one is not a function of the facts and is never kept.
pub const LIVE_METRICS: [Metric; 2] = [Metric::BookingsRedeemed, Metric::TurnoverDays];
/// Dimensions read from members as they are now (current tier and RFM segment).
pub const LIVE_DIMENSIONS: [Dimension; 2] = [Dimension::Tier, Dimension::RfmSegment];

/// The API names of [`LIVE_METRICS`] and [`LIVE_DIMENSIONS`]: a request naming none of them asks
/// only for figures of the sales facts.
pub fn live_names() -> Vec<String> {
    LIVE_METRICS
        .iter()
        .map(api_name)
        .chain(LIVE_DIMENSIONS.iter().map(api_name))
        .collect()
}

impl Metric {
    /// The dimensions a metric that is not read from the sales facts can be grouped by; `None`
    /// for the facts' metrics (every dimension).
    pub const fn dimensions(self) -> Option<&'static [Dimension]> {
        use Dimension as D;
        match self {
            Self::BookingsRedeemed => Some(&[D::Day, D::Week, D::Month, D::Store, D::Ba]),
            Self::TurnoverDays => Some(&[D::Day, D::Week, D::Month, D::Store, D::Sku]),
            _ => None,
        }
    }
}

/// Which day a refund counts on: its own (the default: a period once closed stays as it
/// was) or its sale's (the period of the sale is restated).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReturnsBasis {
    #[default]
    ReturnDate,
    SaleDate,
}

/// A metric's definition and unit, as returned with every result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricDefinition {
    pub metric: Metric,
    /// `FEN`, `COUNT`, `PERCENT`, `RATIO` or `DAYS`.
    pub unit: &'static str,
    /// Whether buckets add up to the total (distinct counts and ratios do not).
    pub additive: bool,
    pub text: &'static str,
}

impl Metric {
    pub const fn is_money(self) -> bool {
        matches!(
            self,
            Self::NetRevenue | Self::Margin | Self::AverageOrderValue | Self::CouponDiscount
        )
    }

    pub fn definition(self) -> MetricDefinition {
        let (unit, additive, text) = match self {
            Self::NetRevenue => (
                "FEN",
                true,
                "What members paid for the lines sold, after every discount, minus what was refunded (refunds are negative on their own day, or on the sale's day with basis SALE_DATE).",
            ),
            Self::Margin => (
                "FEN",
                true,
                "Net revenue minus the cost of the units, at each line's unit cost when the order was placed; a refund takes back its share of both.",
            ),
            Self::MarginPct => (
                "PERCENT",
                false,
                "Margin ÷ net revenue × 100; null when net revenue is 0.",
            ),
            Self::Orders => (
                "COUNT",
                true,
                "Orders with a sale (or gift) in the bucket; refunds do not reduce it. Not additive across SKUs or categories (one order holds several).",
            ),
            Self::Units => ("COUNT", true, "Units sold minus units refunded."),
            Self::AverageOrderValue => (
                "FEN",
                false,
                "Net revenue ÷ orders; null when there are no orders.",
            ),
            Self::Members => (
                "COUNT",
                false,
                "Distinct members with a sale in the bucket: never summed across buckets (the total counts each member once).",
            ),
            Self::CouponDiscount => (
                "FEN",
                true,
                "What coupons took off the lines sold, minus the coupons' share of refunds.",
            ),
            Self::NewMembers => (
                "COUNT",
                false,
                "Distinct members whose first purchase with the brand (any store, any channel) falls in the bucket.",
            ),
            Self::RepurchaseRate => (
                "PERCENT",
                false,
                "Members with two or more orders in the bucket ÷ members with at least one × 100; null without buyers.",
            ),
            Self::CouponRedemptions => (
                "COUNT",
                true,
                "Orders in the bucket that used a coupon (an order with several coupons counts once). Not additive across SKUs or categories.",
            ),
            Self::CouponRoi => (
                "RATIO",
                false,
                "(Net revenue − cost) of the lines of orders that used a coupon ÷ the coupon discount given; a return on the discount, not causal uplift. Null when no discount was given.",
            ),
            Self::BookingsRedeemed => (
                "COUNT",
                true,
                "Bookings redeemed at the counter in the bucket (the store's business day of the redemption), credited to the BA who redeemed them. Groups by time, store and BA only.",
            ),
            Self::TurnoverDays => (
                "DAYS",
                false,
                "Stock turnover days (库存周转天数) = average stock value ÷ cost of goods sold per day. Stock value: the stock snapshotted each business day at each SKU's cost that day (a store's locations; warehouses count under no store), averaged over the bucket's days with a snapshot. Cost of goods sold: the cost at sale of the units sold in the bucket, minus refunds, ÷ the bucket's days within the range. Null without sales or snapshots. Groups by time, store and SKU only.",
            ),
        };
        MetricDefinition {
            metric: self,
            unit,
            additive,
            text,
        }
    }
}

/// The definitions of `metrics`, in their order.
pub fn definitions(metrics: &[Metric]) -> Vec<MetricDefinition> {
    metrics.iter().map(|m| m.definition()).collect()
}

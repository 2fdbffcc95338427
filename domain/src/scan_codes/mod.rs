//! Scan-for-gift (扫码有礼). HQ creates a batch of pack codes for a SKU (optionally a lot, the
//! distributor and territory it ships to) with a gift rule; the codes are derived from
//! (batch, serial) with a keyed MAC ([`codes`]) and never stored. A member's first valid scan
//! redeems the code and grants the gift in one transaction: the unique (batch, serial) row makes
//! that exactly-once on both backends, and the points entry has an idempotency key per code.
//! Later scans answer "already redeemed" (when and where it was first scanned) and are kept.
//! Guessing is throttled and then blocked per member and device; scans outside the batch's
//! territory are flagged as cross-territory selling (窜货). Insight is aggregated from the scan
//! events; distributors see only their territory and only groups of at least ten members.

mod batches;
pub mod codes;
mod demo;
mod insight;
mod scan;
mod throttle;
mod vouchers;
mod wxacode;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveEnum, DbErr};
use wechat_integration::WeChatError;

use crate::auth::AuthError;
use crate::coupons::CouponsError;
use crate::members::SkinType;
use crate::platform::error::{DomainError, ErrorCode, StoreError};
use crate::platform::regions::{self, RegionCode};
use crate::platform::validate;
use entities::{distributor, scan_code_batch};

pub(crate) use batches::seed_demo_batch;
pub use batches::{
    BatchCache, NewBatch, RedemptionRecord, batch_for_operator, batches, code_for, create_batch,
    redeemed_count, redemptions_after, set_batch_active, write_codes_csv,
};
pub use codes::{CodeError, DEMO_PACK_CODE_KEY, MAX_CODES_PER_BATCH, PackCodeKey};
pub(crate) use demo::{DemoScan, seed_demo_scans};
pub use entities::scan_code_batch::GiftKind;
pub use entities::scan_event::{AgeBand, ScanEventOutcome, ScanFlag, WhereBought};
pub use insight::{
    CrossTerritoryRow, FlaggedScan, InsightFilter, InsightGroup, InsightRow, MIN_GROUP_MEMBERS,
    cross_territory_report, flagged_scans, regional_insight, scan_insight,
};
pub use scan::{ScanInput, ScanOutcome, ScanRegion, ScanStatus, scan};
pub use vouchers::{SampleVoucher, my_sample_vouchers, redeem_sample_voucher};
pub use wxacode::{WxaTarget, wxacode, wxacode_image};

#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
pub enum ScanError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("this is not a pack code; check it and scan again")]
    Malformed,
    #[error("this code is not one of ours")]
    UnknownCode,
    #[error("code batch not found")]
    BatchNotFound,
    #[error("SKU not found")]
    SkuNotFound,
    #[error("stock batch (lot) not found for this SKU")]
    LotNotFound,
    #[error("distributor not found")]
    DistributorNotFound,
    #[error("this code's campaign is not active")]
    Inactive,
    #[error("this code's campaign has not started yet")]
    NotYetValid,
    #[error("this code's campaign has ended")]
    Expired,
    #[error("too many scans; try again in a minute")]
    RateLimited,
    #[error("too many unknown codes; try again later")]
    Throttled,
    #[error("scanning is blocked for a while after too many unknown codes")]
    Blocked,
    #[error("today's gift limit is reached; scan again tomorrow")]
    DailyCapReached,
    /// The batch's coupon could not be given (sold out, ended, inactive).
    #[error(transparent)]
    Coupon(#[from] CouponsError),
    #[error("sample voucher not found")]
    VoucherNotFound,
    #[error("this sample voucher was already redeemed")]
    VoucherUsed,
    #[error("WeChat refused the mini-program code request: {0}")]
    WeChatRefused(String),
    #[error("WeChat is unavailable")]
    WeChat(#[source] WeChatError),
    /// WeChat's daily mini-program code quota is used up (errcode 45009); until the next
    /// store day no code is asked for.
    #[error("today's mini-program code quota is used up")]
    CodeQuotaReached,
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_conversions!(ScanError);

impl DomainError for ScanError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidInput(_) | Self::Malformed | Self::WeChatRefused(_) => {
                ErrorCode::BadUserInput
            }
            Self::UnknownCode
            | Self::BatchNotFound
            | Self::SkuNotFound
            | Self::LotNotFound
            | Self::DistributorNotFound
            | Self::VoucherNotFound => ErrorCode::NotFound,
            Self::Inactive | Self::NotYetValid | Self::VoucherUsed => ErrorCode::Conflict,
            Self::Expired => ErrorCode::Expired,
            Self::RateLimited | Self::Throttled | Self::Blocked => ErrorCode::RateLimited,
            Self::DailyCapReached | Self::CodeQuotaReached => ErrorCode::LimitReached,
            Self::WeChat(_) => ErrorCode::Unavailable,
            Self::Coupon(e) => e.code(),
            Self::Auth(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}

fn invalid(msg: impl Into<String>) -> ScanError {
    ScanError::InvalidInput(msg.into())
}

/// The pack-code key and the abuse limits.
#[derive(Debug, Clone)]
pub struct ScanSettings {
    pub key: PackCodeKey,
    /// Scans one member may make per minute.
    pub scans_per_minute: i64,
    /// Gifts one member may receive per store-zone day.
    pub daily_gift_cap: i64,
    /// Unknown codes within `unknown_window` after which a member (or device) is throttled.
    pub unknown_throttle: i64,
    pub unknown_window: std::time::Duration,
    /// Unknown codes within a day after which a member (or device) is blocked for `block_for`.
    pub unknown_block: i64,
    pub block_for: std::time::Duration,
}

impl Default for ScanSettings {
    fn default() -> Self {
        Self {
            key: PackCodeKey::default(),
            scans_per_minute: 30,
            daily_gift_cap: 20,
            unknown_throttle: 10,
            unknown_window: std::time::Duration::from_secs(15 * 60),
            unknown_block: 30,
            block_for: std::time::Duration::from_secs(24 * 3600),
        }
    }
}

/// What the first valid scan of a code gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gift {
    Points(i64),
    /// A coupon of this template.
    Coupon {
        template_id: i64,
    },
    /// A sample the member collects at a store counter with a voucher.
    Sample {
        name: String,
    },
}

impl Gift {
    pub const fn kind(&self) -> GiftKind {
        match self {
            Self::Points(_) => GiftKind::Points,
            Self::Coupon { .. } => GiftKind::Coupon,
            Self::Sample { .. } => GiftKind::Sample,
        }
    }

    /// The batch's gift; a COUPON batch without a template or a SAMPLE batch without a name is
    /// a stored row Rouge cannot read, like an unknown kind.
    fn from_row(b: &scan_code_batch::Model) -> Result<Self, DbErr> {
        let missing = |what: &str| {
            DbErr::Type(format!(
                "code batch {} is a {} gift without {what}",
                b.id,
                b.gift_kind.to_value()
            ))
        };
        Ok(match b.gift_kind {
            GiftKind::Points => Self::Points(b.gift_points),
            GiftKind::Coupon => Self::Coupon {
                template_id: b
                    .coupon_template_id
                    .ok_or_else(|| missing("a coupon template"))?,
            },
            GiftKind::Sample => Self::Sample {
                name: b
                    .sample_name
                    .clone()
                    .ok_or_else(|| missing("a sample name"))?,
            },
        })
    }

    /// The points a gift gives (zero unless POINTS).
    const fn points(&self) -> i64 {
        match self {
            Self::Points(p) => *p,
            _ => 0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CodeBatch {
    pub id: i64,
    pub name: String,
    pub sku_id: i64,
    pub count: i64,
    pub stock_batch_id: Option<i64>,
    pub lot: Option<String>,
    pub distributor_id: Option<i64>,
    pub territory: Vec<String>,
    /// The territory as GB/T 2260 codes (what scans are compared with).
    pub territory_codes: Vec<RegionCode>,
    pub gift: Gift,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

fn territory_of(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A batch's territory codes; rows from before codes fall back to their names.
fn batch_territory(b: &scan_code_batch::Model) -> Vec<RegionCode> {
    match &b.territory_codes {
        Some(codes) => regions::stored_codes(codes),
        None => regions::codes_of_names(&territory_of(&b.territory)),
    }
}

/// A distributor's territory codes; rows from before codes fall back to their names.
pub fn distributor_territory(d: &distributor::Model) -> Vec<RegionCode> {
    match &d.region_codes {
        Some(codes) => regions::stored_codes(codes),
        None => regions::codes_of_names(&split_region(&d.region)),
    }
}

/// A distributor's region field may list several provinces (comma, 、 or ; separated).
pub(crate) fn split_region(region: &str) -> Vec<String> {
    region
        .split([',', '，', '、', ';', '；', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl TryFrom<scan_code_batch::Model> for CodeBatch {
    type Error = DbErr;

    fn try_from(b: scan_code_batch::Model) -> Result<Self, DbErr> {
        Ok(Self {
            gift: Gift::from_row(&b)?,
            territory_codes: batch_territory(&b),
            territory: territory_of(&b.territory),
            id: b.id,
            name: b.name,
            sku_id: b.sku_id,
            count: b.code_count,
            stock_batch_id: b.stock_batch_id,
            lot: b.lot,
            distributor_id: b.distributor_id,
            valid_from: b.valid_from,
            valid_until: b.valid_until,
            active: b.active,
            created_at: b.created_at,
        })
    }
}

/// The optional mini-survey answered with a scan.
#[derive(Debug, Clone, Default)]
pub struct Survey {
    pub age_band: Option<AgeBand>,
    pub skin_type: Option<SkinType>,
    pub where_bought: Option<WhereBought>,
}

fn text_opt(field: &str, v: Option<String>, max: usize) -> Result<Option<String>, ScanError> {
    v.filter(|s| !s.trim().is_empty())
        .map(|s| validate::text(field, &s, max).map_err(ScanError::InvalidInput))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_split_on_common_separators() {
        assert_eq!(
            split_region("上海市, 江苏省、浙江省"),
            vec!["上海市", "江苏省", "浙江省"]
        );
    }
}

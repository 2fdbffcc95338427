//! Scan-for-gift (扫码有礼). HQ creates a batch of pack codes for a SKU (optionally a lot, the
//! distributor and territory it ships to) with a gift rule; the codes are derived from
//! (batch, serial) with a keyed MAC ([`codes`]) and never stored. A member's first valid scan
//! redeems the code and grants the gift in one transaction: the unique (batch, serial) row makes
//! that exactly-once on both backends, and the points entry has an idempotency key per code.
//! Later scans answer "already redeemed" (when and where it was first scanned) and are kept.
//! Guessing is throttled and then blocked per member and device; scans outside the batch's
//! territory are flagged as cross-territory selling (窜货). Insight is aggregated from the scan
//! events; distributors see only their territory and only groups of at least ten members.

pub mod codes;
mod insight;

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use rand::Rng;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use wechat_integration::{WeChatError, WeChatErrorKind, WxaCodeRequest};

use crate::auth::{AuthError, MemberPrincipal, Permission, StaffPrincipal};
use crate::clock::DEFAULT_ZONE;
use crate::coupons::{self, CouponsError};
use crate::error::{DomainError, ErrorCode, StoreError};
use crate::kv::keys::{self, ScanSubject};
use crate::loyalty::{self, PointsEvent, PointsReason};
use crate::members::SkinType;
use crate::regions::{self, Place, RegionCode};
use crate::{AppState, RequestMeta, db, validate};
use entities::{
    distributor, member, scan_code_batch, scan_event, scan_redemption, sku, stock_batch,
};

pub use codes::{CodeError, DEMO_PACK_CODE_KEY, MAX_CODES_PER_BATCH, PackCodeKey};
pub use insight::{
    CrossTerritoryRow, FlaggedScan, InsightFilter, InsightGroup, InsightRow, MIN_GROUP_MEMBERS,
    cross_territory_report, flagged_scans, regional_insight, scan_insight,
};

#[derive(Debug, thiserror::Error)]
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
            Self::DailyCapReached => ErrorCode::LimitReached,
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
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Points(_) => "POINTS",
            Self::Coupon { .. } => "COUPON",
            Self::Sample { .. } => "SAMPLE",
        }
    }

    fn from_row(b: &scan_code_batch::Model) -> Self {
        match b.gift_kind.as_str() {
            "COUPON" => Self::Coupon {
                template_id: b.coupon_template_id.unwrap_or(0),
            },
            "SAMPLE" => Self::Sample {
                name: b.sample_name.clone().unwrap_or_default(),
            },
            _ => Self::Points(b.gift_points),
        }
    }
}

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

impl From<scan_code_batch::Model> for CodeBatch {
    fn from(b: scan_code_batch::Model) -> Self {
        Self {
            gift: Gift::from_row(&b),
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
        }
    }
}

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }
        impl $name {
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

text_enum!(
    /// The mini-survey's age bands.
    AgeBand {
        Under18 = "UNDER_18",
        From18To24 = "AGE_18_24",
        From25To29 = "AGE_25_29",
        From30To34 = "AGE_30_34",
        From35To39 = "AGE_35_39",
        From40To49 = "AGE_40_49",
        From50 = "AGE_50_PLUS",
    }
);

text_enum!(
    /// Where the member says they bought the pack.
    WhereBought {
        BrandStore = "BRAND_STORE",
        DepartmentStore = "DEPARTMENT_STORE",
        MiniProgram = "MINI_PROGRAM",
        Ecommerce = "ECOMMERCE",
        Gift = "GIFT",
        Other = "OTHER",
    }
);

/// The optional mini-survey answered with a scan.
#[derive(Debug, Clone, Default)]
pub struct Survey {
    pub age_band: Option<AgeBand>,
    pub skin_type: Option<SkinType>,
    pub where_bought: Option<WhereBought>,
}

/// A coarse region: province and city only, never a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRegion {
    pub province: String,
    pub city: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ScanInput {
    pub code: String,
    pub survey: Survey,
    /// Stated by the member or coarse from the client; none: the member's profile region.
    pub region: Option<ScanRegion>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanStatus {
    /// This scan redeemed the code and granted the gift.
    Redeemed,
    /// The code was redeemed before (a genuineness answer: when and where).
    AlreadyRedeemed,
}

#[derive(Debug, Clone)]
pub struct ScanOutcome {
    pub status: ScanStatus,
    pub batch_id: i64,
    pub serial: i64,
    pub sku_id: i64,
    pub lot: Option<String>,
    pub gift: Gift,
    /// For a SAMPLE gift, the voucher to show at the counter (only to the redeeming member).
    pub voucher_code: Option<String>,
    pub first_scanned_at: DateTime<Utc>,
    pub first_province: Option<String>,
    pub first_city: Option<String>,
    pub first_region_code: Option<String>,
    /// Whether the calling member redeemed it (now or earlier).
    pub redeemed_by_you: bool,
}

fn text_opt(field: &str, v: Option<String>, max: usize) -> Result<Option<String>, ScanError> {
    v.filter(|s| !s.trim().is_empty())
        .map(|s| validate::text(field, &s, max).map_err(ScanError::InvalidInput))
        .transpose()
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
    let gift = match input.gift {
        Gift::Points(p) if (1..=100_000).contains(&p) => Gift::Points(p),
        Gift::Points(_) => return Err(invalid("a points gift is 1 to 100,000 points")),
        Gift::Coupon { template_id } if template_id > 0 => Gift::Coupon { template_id },
        Gift::Coupon { .. } => return Err(invalid("name the coupon template")),
        Gift::Sample { name } => Gift::Sample {
            name: validate::text("sample name", &name, 32).map_err(ScanError::InvalidInput)?,
        },
    };
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
    let lot = match input.stock_batch_id {
        Some(id) => Some(
            stock_batch::Entity::find_by_id(id)
                .one(&app.db)
                .await?
                .filter(|b| b.sku_id == input.sku_id)
                .ok_or(ScanError::LotNotFound)?
                .lot,
        ),
        None => None,
    };
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
    // Names for display, codes for comparing.
    let territory: Vec<String> = codes
        .iter()
        .map(|c| match c.names() {
            (_, Some(city)) => city.to_owned(),
            (Some(province), None) => province.to_owned(),
            (None, None) => c.to_string(),
        })
        .collect();
    let territory_codes: Vec<String> = codes.iter().map(ToString::to_string).collect();
    let now = app.clock.now();
    let txn = db::begin_write(&app.db).await?;
    let row = scan_code_batch::ActiveModel {
        name: Set(name),
        sku_id: Set(input.sku_id),
        code_count: Set(input.count),
        stock_batch_id: Set(input.stock_batch_id),
        lot: Set(lot),
        distributor_id: Set(input.distributor_id),
        territory: Set(territory.join("\n")),
        territory_codes: Set(Some(territory_codes.join("\n"))),
        gift_kind: Set(gift.kind().to_owned()),
        gift_points: Set(match gift {
            Gift::Points(p) => p,
            _ => 0,
        }),
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
    Ok(row.into())
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
    Ok(row.into())
}

pub async fn batches(app: &AppState, staff: &StaffPrincipal) -> Result<Vec<CodeBatch>, ScanError> {
    staff.require(Permission::ManageScanCodes)?;
    Ok(scan_code_batch::Entity::find()
        .order_by_desc(scan_code_batch::Column::Id)
        .limit(200)
        .all(&app.db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// A batch by id, for the CLI (which runs with operator rights, no principal).
pub async fn batch_for_operator(
    db: &sea_orm::DatabaseConnection,
    batch_id: i64,
) -> Result<CodeBatch, ScanError> {
    scan_code_batch::Entity::find_by_id(batch_id)
        .one(db)
        .await?
        .map(Into::into)
        .ok_or(ScanError::BatchNotFound)
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
    pub gift_kind: String,
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
    batches: moka::future::Cache<i64, std::sync::Arc<Option<scan_code_batch::Model>>>,
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

async fn cached_batch(
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

// --- throttling -----------------------------------------------------------------------------

fn subjects(who: &MemberPrincipal, meta: &RequestMeta) -> Vec<(ScanSubject, i64)> {
    // An address may carry many members (an office or carrier NAT), so its limits are 20×.
    let mut s = vec![(ScanSubject::Member(who.member_id), 1)];
    if let Some(ip) = meta.client_ip {
        s.push((ScanSubject::Address(ip), 20));
    }
    s
}

async fn count_of(app: &AppState, key: &str) -> Result<i64, ScanError> {
    Ok(app
        .kv
        .get(key)
        .await?
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(0))
}

/// The value an unknown-code counter is set to while its subject is blocked: one read tells
/// blocked, throttled and fine apart.
const BLOCKED: i64 = 1 << 40;

/// Refuses a blocked or throttled member or device, then counts this scan against the
/// per-member rate limit.
async fn check_throttle(
    app: &AppState,
    who: &MemberPrincipal,
    meta: &RequestMeta,
) -> Result<(), ScanError> {
    let s = &app.settings.scan;
    for (subject, factor) in subjects(who, meta) {
        let unknown = count_of(app, &keys::scan_unknown(subject)).await?;
        if unknown >= BLOCKED {
            return Err(ScanError::Blocked);
        }
        if unknown >= s.unknown_throttle * factor {
            return Err(ScanError::Throttled);
        }
    }
    let n = app
        .kv
        .incr_window(
            &keys::scan_rate(who.member_id),
            std::time::Duration::from_secs(60),
        )
        .await?;
    if n > s.scans_per_minute {
        return Err(ScanError::RateLimited);
    }
    Ok(())
}

/// Counts an unknown code against the member and device; past the day's limit, blocks them.
async fn note_unknown(
    app: &AppState,
    who: &MemberPrincipal,
    meta: &RequestMeta,
) -> Result<(), ScanError> {
    let s = &app.settings.scan;
    for (subject, factor) in subjects(who, meta) {
        app.kv
            .incr_window(&keys::scan_unknown(subject), s.unknown_window)
            .await?;
        let day = app
            .kv
            .incr_window(
                &keys::scan_unknown_day(subject),
                std::time::Duration::from_secs(24 * 3600),
            )
            .await?;
        if day >= s.unknown_block * factor {
            app.kv
                .set(
                    &keys::scan_unknown(subject),
                    BLOCKED.to_string().as_bytes(),
                    Some(s.block_for),
                )
                .await?;
            tracing::warn!(subject = %subject, "scan-for-gift: blocked after too many unknown codes");
        }
    }
    Ok(())
}

// --- scanning -------------------------------------------------------------------------------

fn store_day(at: DateTime<Utc>) -> String {
    at.with_timezone(&DEFAULT_ZONE)
        .date_naive()
        .format("%Y-%m-%d")
        .to_string()
}

fn day_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let local = at.with_timezone(&DEFAULT_ZONE).date_naive();
    DEFAULT_ZONE
        .from_local_datetime(&local.and_time(NaiveTime::MIN))
        .earliest()
        .map_or(at - Duration::hours(24), |d| d.with_timezone(&Utc))
}

fn normalise_region(r: ScanRegion) -> Result<Place, ScanError> {
    use validate::FieldKind;
    let province = validate::field(FieldKind::Region, "region.province", &r.province, None)
        .map_err(ScanError::InvalidInput)?;
    let city = validate::field_opt(FieldKind::Region, "region.city", r.city.as_deref())
        .map_err(ScanError::InvalidInput)?;
    regions::place(&province, city.as_deref())
        .map_err(|e| ScanError::InvalidInput(format!("region: {e}")))
}

/// The coarse region of a scan: what the member or client stated, else the profile's. A
/// profile region the table does not know has no code: kept by name, never flagged.
async fn region_for(
    app: &AppState,
    member_id: i64,
    stated: Option<Place>,
) -> Result<Option<ScanPlace>, ScanError> {
    if let Some(p) = stated {
        return Ok(Some(ScanPlace {
            code: Some(p.code),
            province: p.province,
            city: p.city,
        }));
    }
    type Row = (Option<String>, Option<String>, Option<String>);
    let row: Option<Row> = member::Entity::find_by_id(member_id)
        .select_only()
        .column(member::Column::RegionProvince)
        .column(member::Column::RegionCity)
        .column(member::Column::RegionCode)
        .into_tuple()
        .one(&app.db)
        .await?;
    Ok(row.and_then(|(p, c, code)| {
        let province = p?;
        let code = code
            .as_deref()
            .and_then(RegionCode::parse_stored)
            .or_else(|| regions::place(&province, c.as_deref()).ok().map(|p| p.code));
        Some(ScanPlace {
            code,
            province,
            city: c,
        })
    }))
}

/// Where a scan happened, as recorded.
#[derive(Debug, Clone)]
struct ScanPlace {
    code: Option<RegionCode>,
    province: String,
    city: Option<String>,
}

fn random_voucher() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut rng = rand::thread_rng();
    let body: String = (0..12)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..32)]))
        .collect();
    format!("SV{body}")
}

/// Grants a COUPON gift inside the redemption's transaction, keyed by the code, so the coupon
/// and the redemption commit together or not at all. The template's total is kept; its
/// per-member limit is not (each pack is a purchase; the daily gift cap guards abuse).
async fn grant_coupon_gift<C: ConnectionTrait>(
    txn: &C,
    member_id: i64,
    template_id: i64,
    idempotency_key: &str,
    now: DateTime<Utc>,
) -> Result<(), ScanError> {
    let source = coupons::IssueSource {
        kind: coupons::CouponSource::Scan,
        key: idempotency_key,
    };
    match coupons::grant_in(txn, template_id, member_id, source, false, now).await? {
        coupons::GrantAttempt::Granted(_) | coupons::GrantAttempt::Existing(_) => Ok(()),
        // A concurrent claim of the same template by this member: the scan is rolled back and
        // the member can scan again.
        coupons::GrantAttempt::Collided => Err(ScanError::Store(StoreError::Contention(
            sea_orm::DbErr::Custom("coupon gift collided with a concurrent claim".into()),
        ))),
    }
}

struct EventFacts<'a> {
    batch: &'a scan_code_batch::Model,
    serial: i64,
    member_id: i64,
    region: Option<&'a ScanPlace>,
    survey: &'a Survey,
    outcome: &'static str,
    gifted: bool,
    flag: Option<&'static str>,
    at: DateTime<Utc>,
}

fn event(f: EventFacts<'_>) -> scan_event::ActiveModel {
    scan_event::ActiveModel {
        batch_id: Set(f.batch.id),
        serial: Set(f.serial),
        member_id: Set(f.member_id),
        sku_id: Set(f.batch.sku_id),
        lot: Set(f.batch.lot.clone()),
        distributor_id: Set(f.batch.distributor_id),
        province: Set(f.region.map(|r| r.province.clone())),
        city: Set(f.region.and_then(|r| r.city.clone())),
        region_code: Set(f.region.and_then(|r| r.code).map(|c| c.to_string())),
        age_band: Set(f.survey.age_band.map(|a| a.as_str().to_owned())),
        skin_type: Set(f.survey.skin_type.map(|s| s.as_str().to_owned())),
        where_bought: Set(f.survey.where_bought.map(|w| w.as_str().to_owned())),
        outcome: Set(f.outcome.to_owned()),
        gifted: Set(i32::from(f.gifted)),
        flag: Set(f.flag.map(str::to_owned)),
        day: Set(store_day(f.at)),
        scanned_at: Set(f.at),
        ..Default::default()
    }
}

/// A member scans a pack code. The first valid scan redeems it and grants the gift in the same
/// transaction; later ones answer "already redeemed" with when and where it was first scanned.
#[tracing::instrument(skip_all, err, fields(member_id = who.member_id))]
pub async fn scan(
    app: &AppState,
    who: &MemberPrincipal,
    meta: &RequestMeta,
    input: ScanInput,
) -> Result<ScanOutcome, ScanError> {
    check_throttle(app, who, meta).await?;
    let (batch_id, serial) = match app.settings.scan.key.decode(&input.code) {
        Ok(v) => (i64::from(v.0), i64::from(v.1)),
        Err(CodeError::Malformed) => return Err(ScanError::Malformed),
        Err(CodeError::Forged) => {
            note_unknown(app, who, meta).await?;
            return Err(ScanError::UnknownCode);
        }
    };
    let stated = input.region.map(normalise_region).transpose()?;
    let cached = cached_batch(app, batch_id).await?;
    let Some(batch) = cached.as_ref().as_ref().filter(|b| serial < b.code_count) else {
        note_unknown(app, who, meta).await?;
        return Err(ScanError::UnknownCode);
    };
    let now = app.clock.now();
    if !batch.active {
        return Err(ScanError::Inactive);
    }
    if now < batch.valid_from {
        return Err(ScanError::NotYetValid);
    }
    if now >= batch.valid_until {
        return Err(ScanError::Expired);
    }
    let region = region_for(app, who.member_id, stated).await?;
    let existing = scan_redemption::Entity::find()
        .filter(scan_redemption::Column::BatchId.eq(batch_id))
        .filter(scan_redemption::Column::Serial.eq(serial))
        .one(&app.db)
        .await?;
    if existing.is_none()
        && let Some(outcome) =
            redeem(app, who, batch, serial, region.as_ref(), &input.survey).await?
    {
        return Ok(outcome);
    }
    // Redeemed before (or just now by a concurrent scan): a genuineness answer.
    let first = match existing {
        Some(r) => r,
        None => scan_redemption::Entity::find()
            .filter(scan_redemption::Column::BatchId.eq(batch_id))
            .filter(scan_redemption::Column::Serial.eq(serial))
            .one(&app.db)
            .await?
            .ok_or_else(|| {
                ScanError::Store(StoreError::Db(sea_orm::DbErr::RecordNotFound(
                    "redemption vanished".into(),
                )))
            })?,
    };
    let mine = first.member_id == who.member_id;
    let (outcome, flag) = if mine {
        ("REPEAT", None)
    } else {
        ("OTHER_MEMBER", Some("OTHER_MEMBER"))
    };
    scan_event::Entity::insert(event(EventFacts {
        batch,
        serial,
        member_id: who.member_id,
        region: region.as_ref(),
        survey: &input.survey,
        outcome,
        gifted: false,
        flag,
        at: now,
    }))
    .exec_without_returning(&app.db)
    .await?;
    Ok(ScanOutcome {
        status: ScanStatus::AlreadyRedeemed,
        batch_id,
        serial,
        sku_id: batch.sku_id,
        lot: batch.lot.clone(),
        gift: Gift::from_row(batch),
        voucher_code: if mine { first.voucher_code } else { None },
        first_scanned_at: first.redeemed_at,
        first_province: first.province,
        first_city: first.city,
        first_region_code: first.region_code,
        redeemed_by_you: mine,
    })
}

/// Claims the code and grants the gift in one transaction. None when another scan claimed it
/// first (nothing written).
async fn redeem(
    app: &AppState,
    who: &MemberPrincipal,
    batch: &scan_code_batch::Model,
    serial: i64,
    region: Option<&ScanPlace>,
    survey: &Survey,
) -> Result<Option<ScanOutcome>, ScanError> {
    // Microseconds: what both databases keep, so the first scan's answer equals later ones.
    let now = chrono::SubsecRound::trunc_subsecs(app.clock.now(), 6);
    let territory = batch_territory(batch);
    let cross = region
        .and_then(|r| r.code)
        .is_some_and(|at| regions::outside(&territory, at));
    let gift = Gift::from_row(batch);
    let voucher = matches!(gift, Gift::Sample { .. }).then(random_voucher);
    let txn = db::begin_write(&app.db).await?;
    // One member's gifts are counted one after the other, so the daily cap is exact.
    loyalty::lock_member(&txn, who.member_id).await?;
    let today = scan_redemption::Entity::find()
        .filter(scan_redemption::Column::MemberId.eq(who.member_id))
        .filter(scan_redemption::Column::RedeemedAt.gte(day_start(now)))
        .count(&txn)
        .await?;
    if i64::try_from(today).unwrap_or(i64::MAX) >= app.settings.scan.daily_gift_cap {
        txn.rollback().await?;
        return Err(ScanError::DailyCapReached);
    }
    let claimed = scan_redemption::Entity::insert(scan_redemption::ActiveModel {
        batch_id: Set(batch.id),
        serial: Set(serial),
        member_id: Set(who.member_id),
        sku_id: Set(batch.sku_id),
        province: Set(region.map(|r| r.province.clone())),
        city: Set(region.and_then(|r| r.city.clone())),
        region_code: Set(region.and_then(|r| r.code).map(|c| c.to_string())),
        cross_territory: Set(cross),
        gift_kind: Set(gift.kind().to_owned()),
        gift_points: Set(match gift {
            Gift::Points(p) => p,
            _ => 0,
        }),
        voucher_code: Set(voucher.clone()),
        voucher_redeemed_at: Set(None),
        voucher_redeemed_by: Set(None),
        voucher_store_id: Set(None),
        redeemed_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([
            scan_redemption::Column::BatchId,
            scan_redemption::Column::Serial,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if claimed != 1 {
        txn.rollback().await?;
        return Ok(None);
    }
    let key = format!("scan-gift:{}:{serial}", batch.id);
    match &gift {
        Gift::Points(points) => {
            loyalty::earn(
                &txn,
                &PointsEvent {
                    member_id: who.member_id,
                    points: *points,
                    reason: PointsReason::ScanGift,
                    reference: &format!("scan:{}:{serial}", batch.id),
                    idempotency_key: &key,
                    at: now,
                },
                Some(now + app.settings.loyalty.points_validity),
            )
            .await?;
        }
        Gift::Coupon { template_id } => {
            grant_coupon_gift(&txn, who.member_id, *template_id, &key, now).await?;
        }
        // The voucher is the redemption row itself.
        Gift::Sample { .. } => {}
    }
    scan_event::Entity::insert(event(EventFacts {
        batch,
        serial,
        member_id: who.member_id,
        region,
        survey,
        outcome: "REDEEMED",
        gifted: true,
        flag: cross.then_some("CROSS_TERRITORY"),
        at: now,
    }))
    .exec_without_returning(&txn)
    .await?;
    txn.commit().await?;
    if cross {
        tracing::info!(
            batch_id = batch.id,
            serial,
            "scan-for-gift: cross-territory scan"
        );
    }
    Ok(Some(ScanOutcome {
        status: ScanStatus::Redeemed,
        batch_id: batch.id,
        serial,
        sku_id: batch.sku_id,
        lot: batch.lot.clone(),
        gift,
        voucher_code: voucher,
        first_scanned_at: now,
        first_province: region.map(|r| r.province.clone()),
        first_city: region.and_then(|r| r.city.clone()),
        first_region_code: region.and_then(|r| r.code).map(|c| c.to_string()),
        redeemed_by_you: true,
    }))
}

// --- sample vouchers ------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct SampleVoucher {
    pub code: String,
    pub member_id: i64,
    pub sample_name: String,
    pub sku_id: i64,
    pub issued_at: DateTime<Utc>,
    pub redeemed_at: Option<DateTime<Utc>>,
    pub store_id: Option<i64>,
}

async fn voucher_view<C: ConnectionTrait>(
    db: &C,
    r: scan_redemption::Model,
) -> Result<SampleVoucher, ScanError> {
    let name: Option<Option<String>> = scan_code_batch::Entity::find_by_id(r.batch_id)
        .select_only()
        .column(scan_code_batch::Column::SampleName)
        .into_tuple()
        .one(db)
        .await?;
    Ok(SampleVoucher {
        code: r.voucher_code.unwrap_or_default(),
        member_id: r.member_id,
        sample_name: name.flatten().unwrap_or_default(),
        sku_id: r.sku_id,
        issued_at: r.redeemed_at,
        redeemed_at: r.voucher_redeemed_at,
        store_id: r.voucher_store_id,
    })
}

/// The member's sample vouchers, newest first.
pub async fn my_sample_vouchers(
    app: &AppState,
    who: &MemberPrincipal,
) -> Result<Vec<SampleVoucher>, ScanError> {
    let rows = scan_redemption::Entity::find()
        .filter(scan_redemption::Column::MemberId.eq(who.member_id))
        .filter(scan_redemption::Column::VoucherCode.is_not_null())
        .order_by_desc(scan_redemption::Column::Id)
        .limit(100)
        .all(&app.db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(voucher_view(&app.db, r).await?);
    }
    Ok(out)
}

/// A BA hands out the sample at the counter: the voucher is used once.
#[tracing::instrument(skip_all, err)]
pub async fn redeem_sample_voucher(
    app: &AppState,
    staff: &StaffPrincipal,
    voucher_code: &str,
) -> Result<SampleVoucher, ScanError> {
    staff.require(Permission::RecordSale)?;
    let code = voucher_code.trim().to_uppercase();
    if code.is_empty() || code.len() > 32 {
        return Err(ScanError::VoucherNotFound);
    }
    let now = app.clock.now();
    let txn = app.db.begin().await?;
    let updated = scan_redemption::Entity::update_many()
        .col_expr(
            scan_redemption::Column::VoucherRedeemedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .col_expr(
            scan_redemption::Column::VoucherRedeemedBy,
            sea_orm::sea_query::Expr::value(staff.staff_id),
        )
        .col_expr(
            scan_redemption::Column::VoucherStoreId,
            sea_orm::sea_query::Expr::value(staff.store_id),
        )
        .filter(scan_redemption::Column::VoucherCode.eq(code.clone()))
        .filter(scan_redemption::Column::VoucherRedeemedAt.is_null())
        .exec(&txn)
        .await?;
    let row = scan_redemption::Entity::find()
        .filter(scan_redemption::Column::VoucherCode.eq(code))
        .one(&txn)
        .await?
        .ok_or(ScanError::VoucherNotFound)?;
    if updated.rows_affected != 1 {
        return Err(ScanError::VoucherUsed);
    }
    let view = voucher_view(&txn, row).await?;
    txn.commit().await?;
    Ok(view)
}

// --- mini-program codes (wxacode) -----------------------------------------------------------

/// What a mini-program code opens.
#[derive(Debug, Clone)]
pub enum WxaTarget {
    /// The scan page for a batch's display (e.g. a shelf talker).
    Batch(i64),
    /// The scan page at a store's display.
    Store(String),
}

/// Makes a mini-program code through WeChat; returns the JPEG as base64. Scenes stay ≤ 32
/// characters (WECHAT.md §5).
pub async fn wxacode(
    app: &AppState,
    staff: &StaffPrincipal,
    target: WxaTarget,
    page: Option<String>,
) -> Result<String, ScanError> {
    staff.require(Permission::ManageScanCodes)?;
    let scene = match target {
        WxaTarget::Batch(id) => {
            scan_code_batch::Entity::find_by_id(id)
                .one(&app.db)
                .await?
                .ok_or(ScanError::BatchNotFound)?;
            format!("scan=b{id}")
        }
        WxaTarget::Store(code) => {
            let code = validate::code("store code", &code, 24).map_err(ScanError::InvalidInput)?;
            format!("scan=s{code}")
        }
    };
    let page = text_opt("page", page, 128)?;
    if page
        .as_deref()
        .is_some_and(|p| p.starts_with('/') || p.contains('?'))
    {
        return Err(invalid("a page has no leading / and no query"));
    }
    let jpeg = app
        .wechat
        .wxacode_unlimited(&WxaCodeRequest {
            scene,
            page,
            check_path: false,
            env_version: None,
            width: Some(430),
        })
        .await
        .map_err(|e| match e.kind() {
            WeChatErrorKind::InvalidScene | WeChatErrorKind::InvalidPage => {
                ScanError::WeChatRefused(e.to_string())
            }
            _ => ScanError::WeChat(e),
        })?;
    Ok(base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        jpeg,
    ))
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
        .filter(entities::staff_account::Column::Role.eq(entities::staff_account::StaffRole::Hq))
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
        gift_kind: Set("POINTS".into()),
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
    fn the_store_day_is_in_shanghai() {
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 17, 0, 0).unwrap();
        assert_eq!(store_day(at), "2026-03-02");
        assert_eq!(
            day_start(at),
            Utc.with_ymd_and_hms(2026, 3, 1, 16, 0, 0).unwrap()
        );
    }

    #[test]
    fn regions_split_on_common_separators() {
        assert_eq!(
            split_region("上海市, 江苏省、浙江省"),
            vec!["上海市", "江苏省", "浙江省"]
        );
    }

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

//! Scan-for-gift: HQ's code batches, insight and fraud reports; the member's scan; the BA's
//! sample voucher at the counter; the distributor's de-identified regional insight.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use domain::auth::Permission;
use domain::scan_codes::{self as scan, Gift};
pub use domain::scan_codes::{AgeBand, GiftKind, ScanFlag, WhereBought};

use crate::context::{app, distributor, member, meta, staff};
use crate::error::{ApiError, ApiResult, parse_id};
use crate::members::SkinType;
use crate::pagination;
use crate::scalars::Date;
use crate::scalars::DateTime;

#[derive(SimpleObject)]
pub struct GiftRule {
    pub kind: GiftKind,
    pub points: Option<i64>,
    pub coupon_template_id: Option<ID>,
    pub sample_name: Option<String>,
}

impl From<Gift> for GiftRule {
    fn from(g: Gift) -> Self {
        match g {
            Gift::Points(p) => Self {
                kind: GiftKind::Points,
                points: Some(p),
                coupon_template_id: None,
                sample_name: None,
            },
            Gift::Coupon { template_id } => Self {
                kind: GiftKind::Coupon,
                points: None,
                coupon_template_id: Some(template_id.into()),
                sample_name: None,
            },
            Gift::Sample { name } => Self {
                kind: GiftKind::Sample,
                points: None,
                coupon_template_id: None,
                sample_name: Some(name),
            },
        }
    }
}

/// A batch of pack codes (the codes themselves come from `rouge codes generate`).
#[derive(SimpleObject)]
pub struct CodeBatch {
    pub id: ID,
    pub name: String,
    pub sku_id: ID,
    pub count: i64,
    pub stock_batch_id: Option<ID>,
    pub lot: Option<String>,
    pub distributor_id: Option<ID>,
    /// Regions the packs may be sold in (display names); empty: anywhere.
    pub territory: Vec<String>,
    /// The same regions as GB/T 2260 codes (310000 Shanghai, 440300 Shenzhen).
    pub territory_codes: Vec<String>,
    pub gift: GiftRule,
    pub valid_from: DateTime,
    pub valid_until: DateTime,
    pub active: bool,
    pub created_at: DateTime,
}

impl From<scan::CodeBatch> for CodeBatch {
    fn from(b: scan::CodeBatch) -> Self {
        Self {
            id: b.id.into(),
            name: b.name,
            sku_id: b.sku_id.into(),
            count: b.count,
            stock_batch_id: b.stock_batch_id.map(Into::into),
            lot: b.lot,
            distributor_id: b.distributor_id.map(Into::into),
            territory: b.territory,
            territory_codes: b.territory_codes.iter().map(ToString::to_string).collect(),
            gift: b.gift.into(),
            valid_from: b.valid_from.into(),
            valid_until: b.valid_until.into(),
            active: b.active,
            created_at: b.created_at.into(),
        }
    }
}

#[derive(InputObject)]
pub struct GiftRuleInput {
    pub kind: GiftKind,
    /// For POINTS.
    pub points: Option<i64>,
    /// For COUPON.
    pub coupon_template_id: Option<ID>,
    /// For SAMPLE.
    pub sample_name: Option<String>,
}

#[derive(InputObject)]
pub struct CreateCodeBatchInput {
    pub name: String,
    pub sku_id: ID,
    pub count: i64,
    /// The stock batch (lot) the packs come from.
    pub stock_batch_id: Option<ID>,
    /// The distributor the packs ship to.
    pub distributor_id: Option<ID>,
    /// Regions the packs may be sold in: provinces (上海, 上海市, Shanghai or 310000) or
    /// listed cities; empty with a distributor: the distributor's region.
    #[graphql(default)]
    pub territory: Vec<String>,
    pub gift: GiftRuleInput,
    pub valid_from: DateTime,
    pub valid_until: DateTime,
    #[graphql(default = true)]
    pub active: bool,
}

/// The optional mini-survey.
#[derive(InputObject, Default)]
pub struct ScanSurveyInput {
    pub age_band: Option<AgeBand>,
    pub skin_type: Option<SkinType>,
    pub where_bought: Option<WhereBought>,
}

/// A coarse region (province, city); precise positions are never sent or stored.
#[derive(InputObject)]
pub struct ScanRegionInput {
    /// A name in any common spelling (上海, 上海市, Shanghai) or a GB/T 2260 code; unknown
    /// provinces are refused.
    pub province: String,
    /// A city name or code; a city the table does not list keeps the province's code.
    pub city: Option<String>,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum ScanStatus {
    /// This scan redeemed the code; the gift is granted.
    Redeemed,
    /// The code was redeemed before: see when and where (a genuineness check).
    AlreadyRedeemed,
}

#[derive(SimpleObject)]
pub struct ScanResult {
    pub status: ScanStatus,
    pub sku_id: ID,
    pub lot: Option<String>,
    pub gift: GiftRule,
    /// For a SAMPLE gift: the voucher to show at a store counter (only to the member who redeemed).
    pub voucher_code: Option<String>,
    pub first_scanned_at: DateTime,
    pub first_scan_province: Option<String>,
    pub first_scan_city: Option<String>,
    /// GB/T 2260 code of the first scan's region (the city when known, else the province).
    pub first_scan_region_code: Option<String>,
    pub redeemed_by_you: bool,
}

impl From<scan::ScanOutcome> for ScanResult {
    fn from(o: scan::ScanOutcome) -> Self {
        Self {
            status: match o.status {
                scan::ScanStatus::Redeemed => ScanStatus::Redeemed,
                scan::ScanStatus::AlreadyRedeemed => ScanStatus::AlreadyRedeemed,
            },
            sku_id: o.sku_id.into(),
            lot: o.lot,
            gift: o.gift.into(),
            voucher_code: o.voucher_code,
            first_scanned_at: o.first_scanned_at.into(),
            first_scan_province: o.first_province,
            first_scan_city: o.first_city,
            first_scan_region_code: o.first_region_code,
            redeemed_by_you: o.redeemed_by_you,
        }
    }
}

#[derive(SimpleObject)]
pub struct SampleVoucher {
    pub code: String,
    pub sample_name: String,
    pub sku_id: ID,
    pub issued_at: DateTime,
    pub redeemed_at: Option<DateTime>,
    pub store_id: Option<ID>,
}

impl From<scan::SampleVoucher> for SampleVoucher {
    fn from(v: scan::SampleVoucher) -> Self {
        Self {
            code: v.code,
            sample_name: v.sample_name,
            sku_id: v.sku_id.into(),
            issued_at: v.issued_at.into(),
            redeemed_at: v.redeemed_at.map(Into::into),
            store_id: v.store_id.map(Into::into),
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
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

impl From<InsightGroup> for scan::InsightGroup {
    fn from(g: InsightGroup) -> Self {
        match g {
            InsightGroup::Sku => Self::Sku,
            InsightGroup::Lot => Self::Lot,
            InsightGroup::Province => Self::Province,
            InsightGroup::City => Self::City,
            InsightGroup::AgeBand => Self::AgeBand,
            InsightGroup::SkinType => Self::SkinType,
            InsightGroup::WhereBought => Self::WhereBought,
            InsightGroup::Day => Self::Day,
            InsightGroup::Month => Self::Month,
        }
    }
}

#[derive(InputObject, Default)]
pub struct InsightFilterInput {
    /// Store-zone days, inclusive.
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub sku_id: Option<ID>,
    pub lot: Option<String>,
    pub batch_id: Option<ID>,
    /// Regions to keep: provinces or cities, by name (上海, 上海市, Shanghai) or GB/T 2260 code.
    #[graphql(default)]
    pub provinces: Vec<String>,
}

impl InsightFilterInput {
    fn into_domain(self) -> ApiResult<scan::InsightFilter> {
        Ok(scan::InsightFilter {
            from: self.from.map(|d| d.0),
            to: self.to.map(|d| d.0),
            sku_id: self.sku_id.as_ref().map(parse_id).transpose()?,
            lot: self.lot,
            batch_id: self.batch_id.as_ref().map(parse_id).transpose()?,
            provinces: self.provinces,
        })
    }
}

/// One group of scans; the dimensions not grouped by are null. Never a member's identity.
#[derive(SimpleObject)]
pub struct InsightRow {
    pub sku_id: Option<ID>,
    pub lot: Option<String>,
    /// Display names of the group's region codes.
    pub province: Option<String>,
    pub city: Option<String>,
    /// GB/T 2260 codes: groups are by code, so 上海 and 上海市 are one group.
    pub province_code: Option<String>,
    pub city_code: Option<String>,
    pub age_band: Option<AgeBand>,
    pub skin_type: Option<SkinType>,
    pub where_bought: Option<WhereBought>,
    /// YYYY-MM-DD or YYYY-MM.
    pub period: Option<String>,
    pub scans: i64,
    pub gifts: i64,
    /// Distinct members in the group.
    pub members: i64,
}

fn rows(list: Vec<scan::InsightRow>) -> Vec<InsightRow> {
    list.into_iter()
        .map(|r| InsightRow {
            sku_id: r.sku_id.map(Into::into),
            lot: r.lot,
            province: r.province,
            city: r.city,
            province_code: r.province_code,
            city_code: r.city_code,
            age_band: r.age_band,
            skin_type: r.skin_type,
            where_bought: r.where_bought,
            period: r.period,
            scans: r.scans,
            gifts: r.gifts,
            members: r.members,
        })
        .collect()
}

#[derive(SimpleObject)]
pub struct CrossTerritoryRow {
    /// The distributor the batch shipped to.
    pub distributor_id: Option<ID>,
    /// Where the packs were scanned.
    pub province: Option<String>,
    pub province_code: Option<String>,
    pub sku_id: ID,
    pub scans: i64,
}

#[derive(SimpleObject)]
pub struct FlaggedScan {
    pub id: ID,
    pub batch_id: ID,
    pub serial: i64,
    pub member_id: ID,
    pub flag: ScanFlag,
    pub province: Option<String>,
    pub city: Option<String>,
    pub region_code: Option<String>,
    pub scanned_at: DateTime,
}

fn groups(list: Vec<InsightGroup>) -> Vec<scan::InsightGroup> {
    list.into_iter().map(Into::into).collect()
}

#[derive(Default)]
pub struct ConsumerScanCodesMutation;

#[Object]
impl ConsumerScanCodesMutation {
    /// Scans a pack code: the first valid scan redeems it and grants the gift.
    async fn scan_code(
        &self,
        ctx: &Context<'_>,
        code: String,
        survey: Option<ScanSurveyInput>,
        region: Option<ScanRegionInput>,
    ) -> ApiResult<ScanResult> {
        let me = member(ctx).await?;
        let survey = survey.unwrap_or_default();
        let input = scan::ScanInput {
            code,
            survey: scan::Survey {
                age_band: survey.age_band,
                skin_type: survey.skin_type,
                where_bought: survey.where_bought,
            },
            region: region.map(|r| scan::ScanRegion {
                province: r.province,
                city: r.city,
            }),
        };
        Ok(scan::scan(app(ctx), me, meta(ctx)?, input).await?.into())
    }
}

#[derive(Default)]
pub struct ConsumerScanCodesQuery;

#[Object]
impl ConsumerScanCodesQuery {
    /// Sample vouchers from scanned packs, to show at a store counter, newest first.
    async fn my_sample_vouchers(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, SampleVoucher>> {
        let me = member(ctx).await?;
        let page = pagination::keyset(first, after.as_deref())?;
        let list = scan::my_sample_vouchers(app(ctx), me, page).await?;
        Ok(pagination::connection(
            list,
            &page,
            |(id, _)| *id,
            |(_, v)| v.into(),
        ))
    }
}

#[derive(Default)]
pub struct StaffScanCodesQuery;

#[Object]
impl StaffScanCodesQuery {
    /// Code batches, newest first (HQ).
    async fn code_batches(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, CodeBatch>> {
        let staff = staff(ctx).await?;
        let page = pagination::staff_keyset(
            staff,
            &[Permission::ManageScanCodes],
            first,
            after.as_deref(),
        )?;
        let list = scan::batches(app(ctx), staff, page).await?;
        Ok(pagination::connection(list, &page, |b| b.id, Into::into))
    }

    /// Scans and gifts grouped by SKU, lot, region, age band, skin type and time (HQ).
    async fn scan_insight(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] filter: InsightFilterInput,
        group_by: Vec<InsightGroup>,
    ) -> ApiResult<Vec<InsightRow>> {
        let staff = staff(ctx).await?;
        Ok(rows(
            scan::scan_insight(app(ctx), staff, &filter.into_domain()?, &groups(group_by)).await?,
        ))
    }

    /// Cross-territory scans (窜货) per distributor, SKU and province (HQ).
    async fn cross_territory_report(
        &self,
        ctx: &Context<'_>,
        from: Option<Date>,
        to: Option<Date>,
    ) -> ApiResult<Vec<CrossTerritoryRow>> {
        let staff = staff(ctx).await?;
        Ok(
            scan::cross_territory_report(app(ctx), staff, from.map(|d| d.0), to.map(|d| d.0))
                .await?
                .into_iter()
                .map(|r| CrossTerritoryRow {
                    distributor_id: r.distributor_id.map(Into::into),
                    province: r.province,
                    province_code: r.province_code,
                    sku_id: r.sku_id.into(),
                    scans: r.scans,
                })
                .collect(),
        )
    }

    /// Flagged scans, newest first (HQ).
    async fn flagged_scans(
        &self,
        ctx: &Context<'_>,
        flag: Option<ScanFlag>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, FlaggedScan>> {
        let staff = staff(ctx).await?;
        let page = pagination::staff_keyset(
            staff,
            &[Permission::ManageScanCodes],
            first,
            after.as_deref(),
        )?;
        let list = scan::flagged_scans(app(ctx), staff, flag, page).await?;
        Ok(pagination::connection(
            list,
            &page,
            |f| f.id,
            |f| FlaggedScan {
                id: f.id.into(),
                batch_id: f.batch_id.into(),
                serial: f.serial,
                member_id: f.member_id.into(),
                flag: f.flag,
                province: f.province,
                city: f.city,
                region_code: f.region_code,
                scanned_at: f.scanned_at.into(),
            },
        ))
    }
}

#[derive(Default)]
pub struct StaffScanCodesMutation;

#[Object]
impl StaffScanCodesMutation {
    /// Creates a batch of pack codes with its gift rule (HQ).
    async fn create_code_batch(
        &self,
        ctx: &Context<'_>,
        input: CreateCodeBatchInput,
    ) -> ApiResult<CodeBatch> {
        let staff = staff(ctx).await?;
        staff
            .require(Permission::ManageScanCodes)
            .map_err(ApiError::from)?;
        let gift =
            match input.gift.kind {
                GiftKind::Points => Gift::Points(
                    input
                        .gift
                        .points
                        .ok_or_else(|| ApiError::bad_input("a POINTS gift needs points"))?,
                ),
                GiftKind::Coupon => Gift::Coupon {
                    template_id: parse_id(input.gift.coupon_template_id.as_ref().ok_or_else(
                        || ApiError::bad_input("a COUPON gift needs couponTemplateId"),
                    )?)?,
                },
                GiftKind::Sample => Gift::Sample {
                    name: input
                        .gift
                        .sample_name
                        .ok_or_else(|| ApiError::bad_input("a SAMPLE gift needs sampleName"))?,
                },
            };
        let new = scan::NewBatch {
            name: input.name,
            sku_id: parse_id(&input.sku_id)?,
            count: input.count,
            stock_batch_id: input.stock_batch_id.as_ref().map(parse_id).transpose()?,
            distributor_id: input.distributor_id.as_ref().map(parse_id).transpose()?,
            territory: input.territory,
            gift,
            valid_from: input.valid_from.0,
            valid_until: input.valid_until.0,
            active: input.active,
        };
        Ok(scan::create_batch(app(ctx), staff, new).await?.into())
    }

    /// Turns a batch on or off (HQ).
    async fn set_code_batch_active(
        &self,
        ctx: &Context<'_>,
        batch_id: ID,
        active: bool,
    ) -> ApiResult<CodeBatch> {
        let staff = staff(ctx).await?;
        Ok(
            scan::set_batch_active(app(ctx), staff, parse_id(&batch_id)?, active)
                .await?
                .into(),
        )
    }

    /// Hands out a sample at the counter against the member's voucher (BA).
    async fn redeem_sample_voucher(
        &self,
        ctx: &Context<'_>,
        code: String,
    ) -> ApiResult<SampleVoucher> {
        let staff = staff(ctx).await?;
        Ok(scan::redeem_sample_voucher(app(ctx), staff, &code)
            .await?
            .into())
    }

    /// A mini-program code (base64 JPEG) for a batch's or a store's display (HQ).
    #[graphql(deprecation = "use createScanWxacodeAsset: a stored image with immutable links")]
    async fn create_scan_wxacode(
        &self,
        ctx: &Context<'_>,
        batch_id: Option<ID>,
        store_code: Option<String>,
        page: Option<String>,
    ) -> ApiResult<String> {
        let staff = staff(ctx).await?;
        let target = wxa_target(staff, batch_id, store_code)?;
        Ok(scan::wxacode(app(ctx), staff, target, page).await?)
    }

    /// A mini-program code for a batch's or a store's display (HQ), stored as a PUBLIC image:
    /// JPEG sizes 256/512 (and the code's own width) with immutable links. When WeChat's daily
    /// quota of codes is used up: LIMIT_REACHED `WXACODE_QUOTA_REACHED` until the next day
    /// (Asia/Shanghai); stored codes keep working.
    async fn create_scan_wxacode_asset(
        &self,
        ctx: &Context<'_>,
        batch_id: Option<ID>,
        store_code: Option<String>,
        page: Option<String>,
    ) -> ApiResult<crate::media::MediaAsset> {
        let staff = staff(ctx).await?;
        let target = wxa_target(staff, batch_id, store_code)?;
        let jpeg = scan::wxacode_image(app(ctx), staff, target, page).await?;
        Ok(domain::media::store_wxacode(app(ctx), staff, jpeg)
            .await?
            .into())
    }
}

#[derive(Default)]
pub struct DistributorScanCodesQuery;

#[Object]
impl DistributorScanCodesQuery {
    /// Scans in your territory, de-identified: only groups of at least 10 members.
    async fn regional_insight(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] filter: InsightFilterInput,
        group_by: Vec<InsightGroup>,
    ) -> ApiResult<Vec<InsightRow>> {
        let who = distributor(ctx).await?;
        Ok(rows(
            scan::regional_insight(app(ctx), who, &filter.into_domain()?, &groups(group_by))
                .await?,
        ))
    }
}

fn wxa_target(
    staff: &domain::auth::StaffPrincipal,
    batch_id: Option<ID>,
    store_code: Option<String>,
) -> ApiResult<scan::WxaTarget> {
    staff
        .require(Permission::ManageScanCodes)
        .map_err(ApiError::from)?;
    match (batch_id, store_code) {
        (Some(id), None) => Ok(scan::WxaTarget::Batch(parse_id(&id)?)),
        (None, Some(code)) => Ok(scan::WxaTarget::Store(code)),
        _ => Err(ApiError::bad_input("give either batchId or storeCode")),
    }
}

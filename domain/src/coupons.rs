//! Coupons (券): HQ defines templates; members claim copies in the claim centre, HQ or an
//! automation (birthday, campaigns, scan-for-gift) issues them; a copy is used once, on an
//! online order or at the counter (the member shows a short-lived signed QR), and a refund or
//! an order closed unpaid gives it back while it is still valid.
//!
//! Limits hold under concurrency on both backends: a claim holds the template row until commit,
//! looks its idempotency key up first (a retry gets the first copy, never LIMIT_REACHED or
//! SOLD_OUT for it), then moves the template's `issued` counter with a conditional UPDATE
//! (`issued < total`); each member's copies are numbered with a unique (template, member, seq)
//! index, so two claims can never both take a member's last copy.
//! Using a coupon is a conditional UPDATE from AVAILABLE to USED: exactly one use wins.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::auth::{AuthError, MemberPrincipal, Permission, StaffPrincipal};
use crate::error::{DomainError, ErrorCode, StoreError, UniqueViolation};
use crate::inventory::{self, MovementKind};
use crate::orders::{self, Channel, Discount, DiscountKind, DraftLine, LineInput, OrdersError};
use crate::signed_codes::CodeError;
use crate::{AppState, db, idempotency, validate};
use entities::{category, coupon, coupon_template, member, order, product, sku};

#[derive(Debug, thiserror::Error)]
pub enum CouponsError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("this coupon belongs to another member")]
    NotYours,
    #[error("{0}")]
    Expired(String),
    #[error("the coupon {0} was already used")]
    AlreadyUsed(String),
    #[error("all coupons of this kind have been given out")]
    SoldOut,
    #[error("you already hold as many of these coupons as one member may")]
    LimitReached,
    #[error(transparent)]
    Orders(Box<OrdersError>),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_conversions!(CouponsError);

impl DomainError for CouponsError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidInput(_) => ErrorCode::BadUserInput,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::NotYours => ErrorCode::Forbidden,
            Self::Expired(_) => ErrorCode::Expired,
            Self::AlreadyUsed(_) => ErrorCode::Conflict,
            Self::SoldOut => ErrorCode::SoldOut,
            Self::LimitReached => ErrorCode::LimitReached,
            Self::Orders(e) => e.code(),
            Self::Auth(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}

impl From<OrdersError> for CouponsError {
    fn from(e: OrdersError) -> Self {
        Self::Orders(Box::new(e))
    }
}

impl From<inventory::InventoryError> for CouponsError {
    fn from(e: inventory::InventoryError) -> Self {
        Self::Orders(Box::new(e.into()))
    }
}

fn invalid(msg: impl Into<String>) -> CouponsError {
    CouponsError::InvalidInput(msg.into())
}

/// How long a coupon QR shown at the counter stays valid; the mini-program refreshes it.
pub const CODE_TTL: Duration = Duration::minutes(3);
/// The kind tag of coupon QR codes (see `signed_codes`).
pub const CODE_KIND: &str = "CP";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CouponKind {
    /// 满减: spend `threshold_fen` on eligible products, get `reduction_fen` off.
    ThresholdReduction,
    /// 折扣: `percent_off` off eligible products, at most `cap_fen`, optionally from a threshold.
    PercentDiscount,
    /// 无门槛: `amount_fen` off.
    Cash,
    /// 兑换: a gift SKU handed out at the counter.
    Gift,
}

impl CouponKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ThresholdReduction => "THRESHOLD_REDUCTION",
            Self::PercentDiscount => "PERCENT_DISCOUNT",
            Self::Cash => "CASH",
            Self::Gift => "GIFT",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "THRESHOLD_REDUCTION" => Some(Self::ThresholdReduction),
            "PERCENT_DISCOUNT" => Some(Self::PercentDiscount),
            "CASH" => Some(Self::Cash),
            "GIFT" => Some(Self::Gift),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CouponStatus {
    Available,
    Used,
    Expired,
}

impl CouponStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Available => "AVAILABLE",
            Self::Used => "USED",
            Self::Expired => "EXPIRED",
        }
    }
}

/// Where a coupon is valid; `None` fields of a fixed window are not allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validity {
    Fixed {
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    },
    DaysFromIssue(i32),
}

/// Where a coupon applies; an empty list means all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub sku_ids: Vec<i64>,
    pub category_ids: Vec<i64>,
    pub channels: Vec<Channel>,
    pub store_ids: Vec<i64>,
}

#[derive(Debug, Clone)]
pub struct NewTemplate {
    pub name: String,
    pub kind: CouponKind,
    pub threshold_fen: Option<i64>,
    pub reduction_fen: Option<i64>,
    pub percent_off: Option<i32>,
    pub cap_fen: Option<i64>,
    pub amount_fen: Option<i64>,
    pub gift_sku_id: Option<i64>,
    pub total_quantity: i64,
    pub per_member_limit: i32,
    pub validity: Validity,
    pub scope: Scope,
    pub stacks_with_coupons: bool,
    pub stacks_with_flash_sale: bool,
    pub birthday: bool,
}

#[derive(Debug, Clone)]
pub struct Template {
    pub id: i64,
    pub name: String,
    pub kind: CouponKind,
    pub threshold_fen: Option<i64>,
    pub reduction_fen: Option<i64>,
    pub percent_off: Option<i32>,
    pub cap_fen: Option<i64>,
    pub amount_fen: Option<i64>,
    pub gift_sku_id: Option<i64>,
    pub total_quantity: i64,
    pub issued: i64,
    pub per_member_limit: i32,
    pub validity: Validity,
    pub scope: Scope,
    pub stacks_with_coupons: bool,
    pub stacks_with_flash_sale: bool,
    pub birthday: bool,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

fn json_ids(s: &str) -> Vec<i64> {
    serde_json::from_str(s).unwrap_or_default()
}

impl From<coupon_template::Model> for Template {
    fn from(t: coupon_template::Model) -> Self {
        let validity = match (t.valid_from, t.valid_until, t.valid_days) {
            (Some(from), Some(until), _) => Validity::Fixed { from, until },
            (_, _, days) => Validity::DaysFromIssue(days.unwrap_or(0)),
        };
        let channels: Vec<String> = serde_json::from_str(&t.channels).unwrap_or_default();
        Self {
            id: t.id,
            kind: CouponKind::parse(&t.kind).unwrap_or(CouponKind::Cash),
            threshold_fen: t.threshold_fen,
            reduction_fen: t.reduction_fen,
            percent_off: t.percent_off,
            cap_fen: t.cap_fen,
            amount_fen: t.amount_fen,
            gift_sku_id: t.gift_sku_id,
            total_quantity: t.total_quantity,
            issued: t.issued,
            per_member_limit: t.per_member_limit,
            validity,
            scope: Scope {
                sku_ids: json_ids(&t.sku_ids),
                category_ids: json_ids(&t.category_ids),
                channels: channels.iter().filter_map(|c| Channel::parse(c)).collect(),
                store_ids: json_ids(&t.store_ids),
            },
            stacks_with_coupons: t.stacks_with_coupons,
            stacks_with_flash_sale: t.stacks_with_flash_sale,
            birthday: t.birthday,
            active: t.active,
            created_at: t.created_at,
            name: t.name,
        }
    }
}

impl Template {
    fn allows_channel(&self, channel: Channel) -> bool {
        self.scope.channels.is_empty() || self.scope.channels.contains(&channel)
    }

    fn allows_store(&self, store_id: Option<i64>) -> bool {
        self.scope.store_ids.is_empty()
            || store_id.is_some_and(|s| self.scope.store_ids.contains(&s))
    }

    /// When a copy issued now is valid.
    fn window_for(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        match self.validity {
            Validity::Fixed { from, until } => (from, until),
            Validity::DaysFromIssue(days) => (now, now + Duration::days(i64::from(days))),
        }
    }

    /// Whether copies can still be handed out: active, and a fixed window not yet over.
    fn issuable(&self, now: DateTime<Utc>) -> Result<(), CouponsError> {
        if !self.active {
            return Err(invalid(format!("the coupon {} is not active", self.name)));
        }
        if let Validity::Fixed { until, .. } = self.validity
            && until <= now
        {
            return Err(CouponsError::Expired(format!(
                "the coupon {} has ended",
                self.name
            )));
        }
        Ok(())
    }
}

/// A member's coupon with its template.
#[derive(Debug, Clone)]
pub struct Coupon {
    pub id: i64,
    pub template: Template,
    pub member_id: i64,
    /// AVAILABLE copies past their end show as EXPIRED.
    pub status: CouponStatus,
    pub source: String,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub issued_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub used_order_id: Option<i64>,
    pub used_store_id: Option<i64>,
    pub discount_fen: i64,
}

fn status_of(row: &coupon::Model, now: DateTime<Utc>) -> CouponStatus {
    match row.status.as_str() {
        "USED" => CouponStatus::Used,
        "EXPIRED" => CouponStatus::Expired,
        _ if row.valid_until <= now => CouponStatus::Expired,
        _ => CouponStatus::Available,
    }
}

fn to_coupon(row: coupon::Model, template: Template, now: DateTime<Utc>) -> Coupon {
    Coupon {
        status: status_of(&row, now),
        id: row.id,
        template,
        member_id: row.member_id,
        source: row.source,
        valid_from: row.valid_from,
        valid_until: row.valid_until,
        issued_at: row.issued_at,
        used_at: row.used_at,
        used_order_id: row.used_order_id,
        used_store_id: row.used_store_id,
        discount_fen: row.discount_fen,
    }
}

async fn templates_by_id<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = i64>,
) -> Result<HashMap<i64, Template>, CouponsError> {
    let ids: BTreeSet<i64> = ids.into_iter().collect();
    Ok(coupon_template::Entity::find()
        .filter(coupon_template::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, Template::from(t)))
        .collect())
}

async fn with_templates<C: ConnectionTrait>(
    db: &C,
    rows: Vec<coupon::Model>,
    now: DateTime<Utc>,
) -> Result<Vec<Coupon>, CouponsError> {
    let templates = templates_by_id(db, rows.iter().map(|r| r.template_id)).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let t = templates.get(&r.template_id)?.clone();
            Some(to_coupon(r, t, now))
        })
        .collect())
}

async fn template_row<C: ConnectionTrait>(
    db: &C,
    id: i64,
) -> Result<coupon_template::Model, CouponsError> {
    coupon_template::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(CouponsError::NotFound("coupon template"))
}

// ---------------------------------------------------------------------------------------------
// Templates (HQ)

fn positive(field: &str, v: Option<i64>) -> Result<i64, CouponsError> {
    match v {
        Some(v) if (1..=100_000_000).contains(&v) => Ok(v),
        _ => Err(invalid(format!(
            "{field} must be a positive amount in fen (at most 1,000,000 yuan)"
        ))),
    }
}

fn check_template(t: &NewTemplate) -> Result<String, CouponsError> {
    let name = crate::validate::text("name", &t.name, 40).map_err(CouponsError::InvalidInput)?;
    match t.kind {
        CouponKind::ThresholdReduction => {
            let threshold = positive("thresholdFen", t.threshold_fen)?;
            let reduction = positive("reductionFen", t.reduction_fen)?;
            if reduction >= threshold {
                return Err(invalid("reductionFen must be below thresholdFen"));
            }
        }
        CouponKind::PercentDiscount => {
            if !t.percent_off.is_some_and(|p| (1..=99).contains(&p)) {
                return Err(invalid("percentOff must be between 1 and 99"));
            }
            positive("capFen", t.cap_fen)?;
            if t.threshold_fen.is_some() {
                positive("thresholdFen", t.threshold_fen)?;
            }
        }
        CouponKind::Cash => {
            positive("amountFen", t.amount_fen)?;
        }
        CouponKind::Gift => {
            if t.gift_sku_id.is_none() {
                return Err(invalid("a gift coupon names its giftSkuId"));
            }
            if t.scope.channels.contains(&Channel::Online) {
                return Err(invalid("gift coupons are handed out in store only"));
            }
        }
    }
    if !(1..=10_000_000).contains(&t.total_quantity) {
        return Err(invalid("totalQuantity must be between 1 and 10,000,000"));
    }
    if !(1..=100).contains(&t.per_member_limit) {
        return Err(invalid("perMemberLimit must be between 1 and 100"));
    }
    match t.validity {
        Validity::Fixed { from, until } if until <= from => {
            return Err(invalid(
                "the validity window is empty: validUntil must be after validFrom",
            ));
        }
        Validity::DaysFromIssue(days) if !(1..=3650).contains(&days) => {
            return Err(invalid("validDays must be between 1 and 3650"));
        }
        _ => {}
    }
    for list in [&t.scope.sku_ids, &t.scope.category_ids, &t.scope.store_ids] {
        if list.len() > 200 {
            return Err(invalid("a scope lists at most 200 ids"));
        }
    }
    Ok(name)
}

fn ids_json(ids: &[i64]) -> String {
    let set: BTreeSet<i64> = ids.iter().copied().collect();
    serde_json::to_string(&set).unwrap_or_else(|_| "[]".into())
}

/// HQ defines a coupon template.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id))]
pub async fn create_template(
    app: &AppState,
    staff: &StaffPrincipal,
    input: NewTemplate,
) -> Result<Template, CouponsError> {
    staff.require(Permission::ManageCoupons)?;
    let name = check_template(&input)?;
    if let Some(gift) = input.gift_sku_id.filter(|_| input.kind == CouponKind::Gift) {
        sku::Entity::find_by_id(gift)
            .one(&app.db)
            .await?
            .ok_or_else(|| invalid("the gift SKU does not exist"))?;
    }
    let now = app.clock.now();
    let kind = input.kind;
    let pick = |k: CouponKind, v: Option<i64>| if kind == k { v } else { None };
    let (from, until, days) = match input.validity {
        Validity::Fixed { from, until } => (Some(from), Some(until), None),
        Validity::DaysFromIssue(d) => (None, None, Some(d)),
    };
    let channels: BTreeSet<&str> = input.scope.channels.iter().map(|c| c.as_str()).collect();
    let row = coupon_template::ActiveModel {
        name: Set(name),
        kind: Set(kind.as_str().to_owned()),
        threshold_fen: Set(match kind {
            CouponKind::ThresholdReduction | CouponKind::PercentDiscount => input.threshold_fen,
            _ => None,
        }),
        reduction_fen: Set(pick(CouponKind::ThresholdReduction, input.reduction_fen)),
        percent_off: Set(input
            .percent_off
            .filter(|_| kind == CouponKind::PercentDiscount)),
        cap_fen: Set(pick(CouponKind::PercentDiscount, input.cap_fen)),
        amount_fen: Set(pick(CouponKind::Cash, input.amount_fen)),
        gift_sku_id: Set(pick(CouponKind::Gift, input.gift_sku_id)),
        total_quantity: Set(input.total_quantity),
        issued: Set(0),
        per_member_limit: Set(input.per_member_limit),
        valid_from: Set(from),
        valid_until: Set(until),
        valid_days: Set(days),
        sku_ids: Set(ids_json(&input.scope.sku_ids)),
        category_ids: Set(ids_json(&input.scope.category_ids)),
        channels: Set(serde_json::to_string(&channels).unwrap_or_else(|_| "[]".into())),
        store_ids: Set(ids_json(&input.scope.store_ids)),
        stacks_with_coupons: Set(input.stacks_with_coupons),
        stacks_with_flash_sale: Set(input.stacks_with_flash_sale),
        birthday: Set(input.birthday),
        active: Set(true),
        created_by: Set(Some(staff.staff_id)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await?;
    Ok(row.into())
}

/// HQ switches a template on or off; an inactive template can no longer be claimed or issued
/// (copies already held stay usable).
pub async fn set_template_active(
    app: &AppState,
    staff: &StaffPrincipal,
    template_id: i64,
    active: bool,
) -> Result<Template, CouponsError> {
    staff.require(Permission::ManageCoupons)?;
    let row = template_row(&app.db, template_id).await?;
    let mut m: coupon_template::ActiveModel = row.into();
    m.active = Set(active);
    m.updated_at = Set(app.clock.now());
    Ok(m.update(&app.db).await?.into())
}

/// Every template, newest first (HQ).
pub async fn templates(
    app: &AppState,
    staff: &StaffPrincipal,
) -> Result<Vec<Template>, CouponsError> {
    staff.require(Permission::ManageCoupons)?;
    Ok(coupon_template::Entity::find()
        .order_by_desc(coupon_template::Column::Id)
        .limit(500)
        .all(&app.db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

pub async fn template(
    app: &AppState,
    staff: &StaffPrincipal,
    template_id: i64,
) -> Result<Template, CouponsError> {
    staff.require(Permission::ManageCoupons)?;
    Ok(template_row(&app.db, template_id).await?.into())
}

// ---------------------------------------------------------------------------------------------
// Claiming and issuing

/// Where a coupon came from, and the key that makes issuing it idempotent: one copy per
/// (template, member, kind, key). Claims use CLAIM and the member's idempotency key; other
/// modules pass their own kind (e.g. "SCAN", "CAMPAIGN") and a key of their choosing.
#[derive(Debug, Clone, Copy)]
pub struct IssueSource<'a> {
    pub kind: &'a str,
    pub key: &'a str,
}

/// What issuing a template to a list of members did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueOutcome {
    /// Copies given now.
    pub issued: u64,
    /// Members who already had a copy from this source (an idempotent repeat).
    pub already: u64,
    /// Members at their per-member limit.
    pub limit_reached: u64,
    /// Members left without one because the template ran out.
    pub sold_out: u64,
    /// Ids that are not members.
    pub unknown_members: u64,
}

async fn held<C: ConnectionTrait>(db: &C, template_id: i64, member_id: i64) -> Result<u64, DbErr> {
    coupon::Entity::find()
        .filter(coupon::Column::TemplateId.eq(template_id))
        .filter(coupon::Column::MemberId.eq(member_id))
        .count(db)
        .await
}

fn issue_key(template_id: i64, member_id: i64, source: IssueSource<'_>) -> String {
    format!("{template_id}:{member_id}:{}:{}", source.kind, source.key)
}

/// What one attempt to give a copy inside a caller's transaction did.
pub(crate) enum GrantAttempt {
    Granted(Box<coupon::Model>),
    /// This source key already gave the member a copy: that copy, nothing new.
    Existing(Box<coupon::Model>),
    /// A concurrent grant to the same member took the same number (or this very key): the
    /// transaction must be rolled back and the whole attempt made again.
    Collided,
}

/// Gives one copy of a template to a member inside the caller's transaction: holds the template
/// row (until commit), answers with the copy this source key already gave if there is one, and
/// only then takes one from the template's total and, when asked, keeps to the member's limit,
/// so a retry never meets the limit or the total its first attempt used up. Other modules
/// (scan-for-gift) use it so the coupon and their own record commit together.
pub(crate) async fn grant_in<C: ConnectionTrait>(
    txn: &C,
    template_id: i64,
    member_id: i64,
    source: IssueSource<'_>,
    enforce_member_limit: bool,
    now: DateTime<Utc>,
) -> Result<GrantAttempt, CouponsError> {
    let tpl = Template::from(template_row(txn, template_id).await?);
    tpl.issuable(now)?;
    // The lock every grant of this template queues on (SQLite's write lock already is one).
    coupon_template::Entity::update_many()
        .col_expr(
            coupon_template::Column::Id,
            Expr::col(coupon_template::Column::Id),
        )
        .filter(coupon_template::Column::Id.eq(template_id))
        .exec(txn)
        .await?;
    if let Some(existing) = by_issue_key(txn, &issue_key(template_id, member_id, source)).await? {
        return Ok(GrantAttempt::Existing(Box::new(existing)));
    }
    let limit = u64::try_from(tpl.per_member_limit).unwrap_or(0);
    if enforce_member_limit && held(txn, template_id, member_id).await? >= limit {
        return Err(CouponsError::LimitReached);
    }
    let taken = coupon_template::Entity::update_many()
        .col_expr(
            coupon_template::Column::Issued,
            Expr::col(coupon_template::Column::Issued).add(1),
        )
        .filter(coupon_template::Column::Id.eq(template_id))
        .filter(
            Expr::col(coupon_template::Column::Issued)
                .lt(Expr::col(coupon_template::Column::TotalQuantity)),
        )
        .exec(txn)
        .await?;
    if taken.rows_affected == 0 {
        return Err(CouponsError::SoldOut);
    }
    // Counted again after the template row is ours: claims committed meanwhile are seen.
    let count = held(txn, template_id, member_id).await?;
    if enforce_member_limit && count >= limit {
        return Err(CouponsError::LimitReached);
    }
    let (valid_from, valid_until) = tpl.window_for(now);
    let inserted = coupon::ActiveModel {
        template_id: Set(template_id),
        member_id: Set(member_id),
        seq: Set(i32::try_from(count + 1).unwrap_or(i32::MAX)),
        status: Set(CouponStatus::Available.as_str().to_owned()),
        source: Set(source.kind.to_owned()),
        issue_key: Set(issue_key(template_id, member_id, source)),
        source_key: Set(Some(source.key.to_owned())),
        valid_from: Set(valid_from),
        valid_until: Set(valid_until),
        issued_at: Set(now),
        used_at: Set(None),
        used_order_id: Set(None),
        used_store_id: Set(None),
        used_by_staff: Set(None),
        discount_fen: Set(0),
        ..Default::default()
    }
    .insert(txn)
    .await;
    Ok(match inserted.unless_duplicate::<CouponsError>()? {
        Some(row) => GrantAttempt::Granted(Box::new(row)),
        None => GrantAttempt::Collided,
    })
}

async fn by_issue_key<C: ConnectionTrait>(
    db: &C,
    key: &str,
) -> Result<Option<coupon::Model>, DbErr> {
    coupon::Entity::find()
        .filter(coupon::Column::IssueKey.eq(key))
        .one(db)
        .await
}

/// Gives one copy of a template to a member, once per source key. Returns the copy and
/// whether it was created now.
async fn grant(
    app: &AppState,
    template_id: i64,
    member_id: i64,
    source: IssueSource<'_>,
    enforce_member_limit: bool,
) -> Result<(coupon::Model, bool), CouponsError> {
    let key = issue_key(template_id, member_id, source);
    idempotency::same_answer(
        || async {
            Ok(by_issue_key(&app.db, &key)
                .await?
                .map(|existing| (existing, false)))
        },
        || grant_new(app, template_id, member_id, source, enforce_member_limit),
    )
    .await
}

async fn grant_new(
    app: &AppState,
    template_id: i64,
    member_id: i64,
    source: IssueSource<'_>,
    enforce_member_limit: bool,
) -> Result<(coupon::Model, bool), CouponsError> {
    for _ in 0..8 {
        let txn = db::begin_write(&app.db).await?;
        let attempt = grant_in(
            &txn,
            template_id,
            member_id,
            source,
            enforce_member_limit,
            app.clock.now(),
        )
        .await?;
        match attempt {
            GrantAttempt::Granted(row) => {
                txn.commit().await?;
                return Ok((*row, true));
            }
            GrantAttempt::Existing(row) => return Ok((*row, false)),
            // Another claim of this member (or this very key) won the same number: look again.
            GrantAttempt::Collided => drop(txn),
        }
    }
    Err(StoreError::Contention(DbErr::Custom("coupon claim kept colliding".into())).into())
}

/// Copies another module gave from one source (e.g. kind "CAMPAIGN", key the campaign id):
/// how many were issued and how many of those have been used.
pub async fn issued_from_source(
    app: &AppState,
    kind: &str,
    key: &str,
) -> Result<(i64, i64), CouponsError> {
    let from_source = || {
        coupon::Entity::find()
            .filter(coupon::Column::Source.eq(kind))
            .filter(coupon::Column::SourceKey.eq(key))
    };
    let issued = from_source().count(&app.db).await?;
    let used = from_source()
        .filter(coupon::Column::Status.eq(CouponStatus::Used.as_str()))
        .count(&app.db)
        .await?;
    Ok((
        i64::try_from(issued).unwrap_or(i64::MAX),
        i64::try_from(used).unwrap_or(i64::MAX),
    ))
}

/// Templates a member can claim now, with how many they hold.
#[derive(Debug, Clone)]
pub struct Claimable {
    pub template: Template,
    pub held: i32,
    pub left: i64,
}

/// The claim centre: active templates with copies left, except birthday ones.
pub async fn claimable_coupons(
    app: &AppState,
    me: &MemberPrincipal,
) -> Result<Vec<Claimable>, CouponsError> {
    let now = app.clock.now();
    let rows = coupon_template::Entity::find()
        .filter(coupon_template::Column::Active.eq(true))
        .filter(coupon_template::Column::Birthday.eq(false))
        .filter(
            Expr::col(coupon_template::Column::Issued)
                .lt(Expr::col(coupon_template::Column::TotalQuantity)),
        )
        .order_by_desc(coupon_template::Column::Id)
        .limit(200)
        .all(&app.db)
        .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let held: Vec<(i64, i64)> = coupon::Entity::find()
        .select_only()
        .column(coupon::Column::TemplateId)
        .column_as(coupon::Column::Id.count(), "n")
        .filter(coupon::Column::MemberId.eq(me.member_id))
        .filter(coupon::Column::TemplateId.is_in(ids))
        .group_by(coupon::Column::TemplateId)
        .into_tuple()
        .all(&app.db)
        .await?;
    let held: HashMap<i64, i64> = held.into_iter().collect();
    Ok(rows
        .into_iter()
        .map(Template::from)
        .filter(|t| t.issuable(now).is_ok())
        .map(|t| Claimable {
            held: i32::try_from(held.get(&t.id).copied().unwrap_or(0)).unwrap_or(i32::MAX),
            left: t.total_quantity - t.issued,
            template: t,
        })
        .collect())
}

/// A member claims a copy. The same idempotency key returns the same copy, whatever the limit
/// and total say by then; SOLD_OUT when the template has none left, LIMIT_REACHED when the
/// member holds their limit.
#[tracing::instrument(skip_all, err, fields(member_id = me.member_id, template_id))]
pub async fn claim_coupon(
    app: &AppState,
    me: &MemberPrincipal,
    template_id: i64,
    idempotency_key: &str,
) -> Result<Coupon, CouponsError> {
    validate::idempotency_key(idempotency_key).map_err(invalid)?;
    let tpl = Template::from(template_row(&app.db, template_id).await?);
    if tpl.birthday {
        return Err(invalid(
            "birthday coupons are given in the birthday month, not claimed",
        ));
    }
    let (row, _) = grant(
        app,
        template_id,
        me.member_id,
        IssueSource {
            kind: "CLAIM",
            key: idempotency_key,
        },
        true,
    )
    .await?;
    let now = app.clock.now();
    Ok(to_coupon(row, tpl, now))
}

/// Issues a template to members (for HQ lists, campaign segments, scan-for-gift...), once per
/// (template, member, source kind and key), within the template's total and each member's
/// limit. Members at their limit or beyond the total are counted, not failed.
#[tracing::instrument(skip_all, err, fields(template_id, members = member_ids.len(), source = source.kind))]
pub async fn issue_to_members(
    app: &AppState,
    template_id: i64,
    member_ids: &[i64],
    source: IssueSource<'_>,
) -> Result<IssueOutcome, CouponsError> {
    if source.kind.is_empty() || source.key.is_empty() || source.key.len() > 100 {
        return Err(invalid(
            "an issue source has a kind and a key of 1 to 100 characters",
        ));
    }
    let unique: BTreeSet<i64> = member_ids.iter().copied().collect();
    let known: HashSet<i64> = member::Entity::find()
        .select_only()
        .column(member::Column::Id)
        .filter(member::Column::Id.is_in(unique.iter().copied()))
        .into_tuple::<i64>()
        .all(&app.db)
        .await?
        .into_iter()
        .collect();
    let mut outcome = IssueOutcome::default();
    let mut sold_out = false;
    for member_id in unique {
        if !known.contains(&member_id) {
            outcome.unknown_members += 1;
            continue;
        }
        if sold_out {
            outcome.sold_out += 1;
            continue;
        }
        match grant(
            app,
            template_id,
            member_id,
            source,
            source.kind != "BIRTHDAY",
        )
        .await
        {
            Ok((_, true)) => outcome.issued += 1,
            Ok((_, false)) => outcome.already += 1,
            Err(CouponsError::LimitReached) => outcome.limit_reached += 1,
            Err(CouponsError::SoldOut) => {
                sold_out = true;
                outcome.sold_out += 1;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(outcome)
}

/// One copy for one member from another module (e.g. a scan-for-gift prize): the copy, new or
/// the one this source already gave.
pub async fn issue_one(
    app: &AppState,
    template_id: i64,
    member_id: i64,
    source: IssueSource<'_>,
) -> Result<Coupon, CouponsError> {
    let (row, _) = grant(app, template_id, member_id, source, true).await?;
    let tpl = Template::from(template_row(&app.db, template_id).await?);
    Ok(to_coupon(row, tpl, app.clock.now()))
}

/// HQ issues a template to a list of members; the key makes a retried request harmless.
pub async fn issue_coupons(
    app: &AppState,
    staff: &StaffPrincipal,
    template_id: i64,
    member_ids: &[i64],
    idempotency_key: &str,
) -> Result<IssueOutcome, CouponsError> {
    staff.require(Permission::ManageCoupons)?;
    validate::idempotency_key(idempotency_key).map_err(invalid)?;
    if member_ids.is_empty() || member_ids.len() > 10_000 {
        return Err(invalid("issue to 1 to 10,000 members at a time"));
    }
    template_row(&app.db, template_id).await?;
    issue_to_members(
        app,
        template_id,
        member_ids,
        IssueSource {
            kind: "ISSUE",
            key: idempotency_key,
        },
    )
    .await
}

/// The member's coupons, optionally of one status, soonest to expire first.
pub async fn my_coupons(
    app: &AppState,
    me: &MemberPrincipal,
    status: Option<CouponStatus>,
) -> Result<Vec<Coupon>, CouponsError> {
    let now = app.clock.now();
    let mut q = coupon::Entity::find().filter(coupon::Column::MemberId.eq(me.member_id));
    q = match status {
        Some(CouponStatus::Available) => q
            .filter(coupon::Column::Status.eq("AVAILABLE"))
            .filter(coupon::Column::ValidUntil.gt(now)),
        Some(CouponStatus::Used) => q.filter(coupon::Column::Status.eq("USED")),
        Some(CouponStatus::Expired) => q.filter(
            coupon::Column::Status
                .eq("EXPIRED")
                .or(coupon::Column::Status
                    .eq("AVAILABLE")
                    .and(coupon::Column::ValidUntil.lte(now))),
        ),
        None => q,
    };
    let rows = q
        .order_by_asc(coupon::Column::ValidUntil)
        .order_by_asc(coupon::Column::Id)
        .limit(500)
        .all(&app.db)
        .await?;
    with_templates(&app.db, rows, now).await
}

// ---------------------------------------------------------------------------------------------
// Birthday coupons

/// Members read per page by the birthday task.
const BIRTHDAY_PAGE: u64 = 1_000;

/// Issues every active birthday template to the members whose birthday month it is (in the
/// business zone), once per member and year. Returns how many copies it gave.
pub async fn issue_birthday_coupons(app: &AppState) -> Result<u64, CouponsError> {
    let local = app.clock.now().with_timezone(&crate::clock::DEFAULT_ZONE);
    let (year, month) = (local.year(), local.month());
    let templates = coupon_template::Entity::find()
        .filter(coupon_template::Column::Birthday.eq(true))
        .filter(coupon_template::Column::Active.eq(true))
        .all(&app.db)
        .await?;
    if templates.is_empty() {
        return Ok(0);
    }
    // Members born this month, a page at a time by id, the month read in SQL: never all
    // members in memory.
    use crate::campaigns::SegmentRuleExt as _;
    let born_now = crate::campaigns::SegmentRule::BirthdayMonth {
        months: vec![month],
    }
    .condition(app.db.get_database_backend());
    let key = year.to_string();
    let mut given = 0;
    for tpl in templates {
        let mut cursor = 0_i64;
        loop {
            let page: Vec<i64> = member::Entity::find()
                .select_only()
                .column(member::Column::Id)
                .filter(born_now.clone())
                .filter(member::Column::Id.gt(cursor))
                .order_by_asc(member::Column::Id)
                .limit(BIRTHDAY_PAGE)
                .into_tuple()
                .all(&app.db)
                .await?;
            let Some(&last) = page.last() else {
                break;
            };
            cursor = last;
            let done: HashSet<i64> = coupon::Entity::find()
                .select_only()
                .column(coupon::Column::MemberId)
                .filter(coupon::Column::TemplateId.eq(tpl.id))
                .filter(coupon::Column::Source.eq("BIRTHDAY"))
                .filter(coupon::Column::MemberId.is_in(page.iter().copied()))
                .filter(coupon::Column::SourceKey.eq(key.as_str()))
                .into_tuple::<i64>()
                .all(&app.db)
                .await?
                .into_iter()
                .collect();
            let due: Vec<i64> = page.into_iter().filter(|m| !done.contains(m)).collect();
            if due.is_empty() {
                continue;
            }
            let outcome = issue_to_members(
                app,
                tpl.id,
                &due,
                IssueSource {
                    kind: "BIRTHDAY",
                    key: &key,
                },
            )
            .await?;
            given += outcome.issued;
            if outcome.sold_out > 0 {
                tracing::warn!(
                    template_id = tpl.id,
                    left_out = outcome.sold_out,
                    "birthday coupon template ran out"
                );
                break;
            }
        }
    }
    Ok(given)
}

/// Scheduled: birthday coupons for the month.
pub struct BirthdayCoupons;

#[async_trait::async_trait]
impl crate::jobs::PeriodicTask for BirthdayCoupons {
    fn name(&self) -> &'static str {
        "birthday-coupons"
    }
    fn every(&self) -> std::time::Duration {
        std::time::Duration::from_secs(3600)
    }
    async fn run(&self, app: &AppState) -> Result<u64, crate::jobs::TaskError> {
        Ok(issue_birthday_coupons(app).await?)
    }
}

// ---------------------------------------------------------------------------------------------
// Pricing: which coupons apply to an order, and for how much

/// An order line as coupons see it.
#[derive(Debug, Clone)]
pub(crate) struct ScopedLine {
    pub sku_id: i64,
    /// The product's category and its parents.
    pub categories: Vec<i64>,
    pub subtotal_fen: i64,
}

/// What an order offers coupons.
pub(crate) struct Basket<'a> {
    pub channel: Channel,
    pub store_id: Option<i64>,
    pub lines: &'a [ScopedLine],
    /// Already taken off (tier price, flash-sale price).
    pub discounted_fen: i64,
    pub has_flash_sale: bool,
}

impl Basket<'_> {
    fn subtotal(&self) -> i64 {
        self.lines.iter().map(|l| l.subtotal_fen).sum()
    }
}

pub(crate) async fn scoped_lines<C: ConnectionTrait>(
    db: &C,
    lines: &[DraftLine],
) -> Result<Vec<ScopedLine>, CouponsError> {
    let sku_ids: Vec<i64> = lines.iter().map(|l| l.sku_id).collect();
    let skus: HashMap<i64, i64> = sku::Entity::find()
        .select_only()
        .column(sku::Column::Id)
        .column(sku::Column::ProductId)
        .filter(sku::Column::Id.is_in(sku_ids))
        .into_tuple::<(i64, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let products: HashMap<i64, i64> = product::Entity::find()
        .select_only()
        .column(product::Column::Id)
        .column(product::Column::CategoryId)
        .filter(product::Column::Id.is_in(skus.values().copied()))
        .into_tuple::<(i64, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let parents: HashMap<i64, Option<i64>> = category::Entity::find()
        .select_only()
        .column(category::Column::Id)
        .column(category::Column::ParentId)
        .into_tuple::<(i64, Option<i64>)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(lines
        .iter()
        .map(|l| {
            let mut categories = Vec::new();
            let mut next = skus.get(&l.sku_id).and_then(|p| products.get(p)).copied();
            while let Some(c) = next {
                if categories.contains(&c) || categories.len() > 8 {
                    break;
                }
                categories.push(c);
                next = parents.get(&c).copied().flatten();
            }
            ScopedLine {
                sku_id: l.sku_id,
                categories,
                subtotal_fen: l.unit_price_fen * i64::from(l.quantity),
            }
        })
        .collect())
}

fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// The discount one coupon gives on a basket, or why it does not apply.
fn evaluate(
    c: &coupon::Model,
    t: &Template,
    basket: &Basket<'_>,
    now: DateTime<Utc>,
) -> Result<i64, CouponsError> {
    let name = &t.name;
    match c.status.as_str() {
        "USED" => return Err(CouponsError::AlreadyUsed(name.clone())),
        "EXPIRED" => {
            return Err(CouponsError::Expired(format!(
                "the coupon {name} has expired"
            )));
        }
        _ => {}
    }
    if c.valid_until <= now {
        return Err(CouponsError::Expired(format!(
            "the coupon {name} has expired"
        )));
    }
    if c.valid_from > now {
        return Err(invalid(format!("the coupon {name} is not valid yet")));
    }
    if t.kind == CouponKind::Gift {
        return Err(invalid(format!(
            "the coupon {name} is a gift coupon: it is redeemed at the counter, not on an order"
        )));
    }
    if !t.allows_channel(basket.channel) {
        let channel = match basket.channel {
            Channel::Online => "online",
            Channel::InStore => "in store",
        };
        return Err(invalid(format!(
            "the coupon {name} cannot be used {channel}"
        )));
    }
    if !t.allows_store(basket.store_id) {
        return Err(invalid(format!(
            "the coupon {name} is not valid at this store"
        )));
    }
    if basket.has_flash_sale && !t.stacks_with_flash_sale {
        return Err(invalid(format!(
            "the coupon {name} does not combine with flash-sale prices"
        )));
    }
    let eligible: i64 = basket
        .lines
        .iter()
        .filter(|l| {
            (t.scope.sku_ids.is_empty() && t.scope.category_ids.is_empty())
                || t.scope.sku_ids.contains(&l.sku_id)
                || l.categories
                    .iter()
                    .any(|c| t.scope.category_ids.contains(c))
        })
        .map(|l| l.subtotal_fen)
        .sum();
    if eligible == 0 {
        return Err(invalid(format!(
            "the coupon {name} does not apply to any product in this order (out of scope)"
        )));
    }
    let threshold = t.threshold_fen.unwrap_or(0);
    if eligible < threshold {
        return Err(invalid(format!(
            "the coupon {name} needs {} yuan of eligible products; this order has {} (below threshold)",
            yuan(threshold),
            yuan(eligible)
        )));
    }
    let amount = match t.kind {
        CouponKind::ThresholdReduction => t.reduction_fen.unwrap_or(0),
        CouponKind::PercentDiscount => {
            let off = eligible * i64::from(t.percent_off.unwrap_or(0)) / 100;
            t.cap_fen.map_or(off, |cap| std::cmp::min(off, cap))
        }
        CouponKind::Cash => t.amount_fen.unwrap_or(0),
        CouponKind::Gift => 0,
    };
    Ok(std::cmp::min(amount, eligible))
}

/// The discount lines of a set of coupons on a basket: each must apply, more than one only if
/// all stack, one per template; the total never exceeds what is left to pay.
fn combine(
    chosen: &[(coupon::Model, Template)],
    basket: &Basket<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<(i64, Discount)>, CouponsError> {
    let mut templates = HashSet::new();
    for (_, t) in chosen {
        if !templates.insert(t.id) {
            return Err(invalid(format!(
                "only one coupon {} can be used on an order",
                t.name
            )));
        }
        if chosen.len() > 1 && !t.stacks_with_coupons {
            return Err(invalid(format!(
                "the coupon {} cannot be combined with other coupons",
                t.name
            )));
        }
    }
    let mut left = std::cmp::max(basket.subtotal() - basket.discounted_fen, 0);
    let mut out = Vec::new();
    for (c, t) in chosen {
        let amount = std::cmp::min(evaluate(c, t, basket, now)?, left);
        left -= amount;
        out.push((
            c.id,
            Discount {
                kind: DiscountKind::Coupon,
                label: t.name.clone(),
                amount_fen: amount,
                reference: Some(c.id.to_string()),
            },
        ));
    }
    Ok(out)
}

/// The member's coupons with these ids, checked to be theirs.
async fn owned<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
    ids: &[i64],
) -> Result<Vec<(coupon::Model, Template)>, CouponsError> {
    let unique: BTreeSet<i64> = ids.iter().copied().collect();
    if unique.len() != ids.len() {
        return Err(invalid("the same coupon is listed twice"));
    }
    if ids.len() > 10 {
        return Err(invalid("at most 10 coupons on one order"));
    }
    let rows = coupon::Entity::find()
        .filter(coupon::Column::Id.is_in(unique))
        .all(db)
        .await?;
    if rows.len() != ids.len() {
        return Err(CouponsError::NotFound("coupon"));
    }
    if rows.iter().any(|r| r.member_id != member_id) {
        return Err(CouponsError::NotYours);
    }
    let templates = templates_by_id(db, rows.iter().map(|r| r.template_id)).await?;
    let mut out = Vec::new();
    for id in ids {
        let row = rows
            .iter()
            .find(|r| r.id == *id)
            .ok_or(CouponsError::NotFound("coupon"))?;
        let t = templates
            .get(&row.template_id)
            .ok_or(CouponsError::NotFound("coupon template"))?;
        out.push((row.clone(), t.clone()));
    }
    Ok(out)
}

/// Coupon discount lines for an order being placed, checked against the member's coupons.
/// Returns (coupon id, discount) pairs; the caller marks them used with [`mark_used`] in the
/// order's transaction.
pub(crate) async fn discounts_for_order<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
    coupon_ids: &[i64],
    basket: &Basket<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<(i64, Discount)>, CouponsError> {
    if coupon_ids.is_empty() {
        return Ok(vec![]);
    }
    let chosen = owned(db, member_id, coupon_ids).await?;
    combine(&chosen, basket, now)
}

/// The best combination of the member's usable coupons: the largest discount (ties: fewer
/// coupons). Every single coupon is tried, and the set of all stacking ones (one per template,
/// the best of each); since discounts add up, that covers the best stacking set.
async fn best_combination<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
    basket: &Basket<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<(i64, Discount)>, CouponsError> {
    let rows = coupon::Entity::find()
        .filter(coupon::Column::MemberId.eq(member_id))
        .filter(coupon::Column::Status.eq("AVAILABLE"))
        .filter(coupon::Column::ValidUntil.gt(now))
        .filter(coupon::Column::ValidFrom.lte(now))
        .order_by_asc(coupon::Column::ValidUntil)
        .limit(200)
        .all(db)
        .await?;
    let templates = templates_by_id(db, rows.iter().map(|r| r.template_id)).await?;
    let mut usable: Vec<(coupon::Model, Template, i64)> = Vec::new();
    for row in rows {
        let Some(t) = templates.get(&row.template_id) else {
            continue;
        };
        if let Ok(amount) = evaluate(&row, t, basket, now)
            && amount > 0
        {
            usable.push((row, t.clone(), amount));
        }
    }
    let mut best: Vec<(i64, Discount)> = Vec::new();
    let mut best_total = 0;
    let consider = |set: Vec<(coupon::Model, Template)>,
                    best: &mut Vec<(i64, Discount)>,
                    best_total: &mut i64| {
        if let Ok(lines) = combine(&set, basket, now) {
            let total: i64 = lines.iter().map(|(_, d)| d.amount_fen).sum();
            if total > *best_total || (total == *best_total && lines.len() < best.len()) {
                *best_total = total;
                *best = lines;
            }
        }
    };
    for (c, t, _) in &usable {
        consider(vec![(c.clone(), t.clone())], &mut best, &mut best_total);
    }
    // Soonest-expiring first (the query's order), the best copy per template.
    let mut per_template: HashMap<i64, (coupon::Model, Template, i64)> = HashMap::new();
    for (c, t, amount) in usable.into_iter().filter(|(_, t, _)| t.stacks_with_coupons) {
        match per_template.get(&t.id) {
            Some((_, _, a)) if *a >= amount => {}
            _ => {
                per_template.insert(t.id, (c, t, amount));
            }
        }
    }
    let mut stack: Vec<(coupon::Model, Template, i64)> = per_template.into_values().collect();
    stack.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.id.cmp(&b.0.id)));
    if stack.len() > 1 {
        consider(
            stack.into_iter().map(|(c, t, _)| (c, t)).collect(),
            &mut best,
            &mut best_total,
        );
    }
    Ok(best)
}

/// Marks coupons used by an order, in the order's transaction. A coupon used meanwhile (by a
/// concurrent order or at the counter) is a CONFLICT and the whole order rolls back.
pub(crate) async fn mark_used(
    txn: &DatabaseTransaction,
    member_id: i64,
    used: &[(i64, Discount)],
    order_id: Option<i64>,
    store_id: Option<i64>,
    staff_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), CouponsError> {
    for (coupon_id, d) in used {
        let updated = coupon::Entity::update_many()
            .col_expr(coupon::Column::Status, Expr::value("USED"))
            .col_expr(coupon::Column::UsedAt, Expr::value(now))
            .col_expr(coupon::Column::UsedOrderId, Expr::value(order_id))
            .col_expr(coupon::Column::UsedStoreId, Expr::value(store_id))
            .col_expr(coupon::Column::UsedByStaff, Expr::value(staff_id))
            .col_expr(coupon::Column::DiscountFen, Expr::value(d.amount_fen))
            .filter(coupon::Column::Id.eq(*coupon_id))
            .filter(coupon::Column::MemberId.eq(member_id))
            .filter(coupon::Column::Status.eq("AVAILABLE"))
            .filter(coupon::Column::ValidUntil.gt(now))
            .exec(txn)
            .await?;
        if updated.rows_affected != 1 {
            return Err(CouponsError::AlreadyUsed(d.label.clone()));
        }
    }
    Ok(())
}

/// Gives back the coupons an order used, when the order is fully refunded or closed unpaid:
/// still-valid ones become AVAILABLE again, the others EXPIRED. Called in that transaction.
pub(crate) async fn release_for_order<C: ConnectionTrait>(
    db: &C,
    order_id: i64,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let mut released = 0;
    for (status, still_valid) in [("AVAILABLE", true), ("EXPIRED", false)] {
        let validity = if still_valid {
            coupon::Column::ValidUntil.gt(now)
        } else {
            coupon::Column::ValidUntil.lte(now)
        };
        let r = coupon::Entity::update_many()
            .col_expr(coupon::Column::Status, Expr::value(status))
            .col_expr(
                coupon::Column::UsedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                coupon::Column::UsedOrderId,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(
                coupon::Column::UsedStoreId,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(
                coupon::Column::UsedByStaff,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(coupon::Column::DiscountFen, Expr::value(0i64))
            .filter(coupon::Column::UsedOrderId.eq(order_id))
            .filter(coupon::Column::Status.eq("USED"))
            .filter(validity)
            .exec(db)
            .await?;
        released += r.rows_affected;
    }
    Ok(released)
}

// ---------------------------------------------------------------------------------------------
// Previewing an online order

#[derive(Debug, Clone)]
pub struct PreviewLine {
    pub sku_id: i64,
    pub product_name: String,
    pub sku_label: String,
    pub quantity: i32,
    pub unit_price_fen: i64,
    pub line_total_fen: i64,
}

#[derive(Debug, Clone)]
pub struct OrderPreview {
    pub lines: Vec<PreviewLine>,
    pub subtotal_fen: i64,
    /// Tier price and the coupons priced (the ones asked for, or else the best combination).
    pub discounts: Vec<Discount>,
    pub discount_fen: i64,
    pub total_fen: i64,
    /// The coupons priced in `discounts`.
    pub coupon_ids: Vec<i64>,
    /// The best valid combination of the member's coupons, and what it takes off.
    pub best_coupon_ids: Vec<i64>,
    pub best_coupon_discount_fen: i64,
}

/// Prices an online order before it is placed: the tier price, the coupons given (checked as
/// `placeOrder` checks them) or, when none are given, the best combination of the member's.
pub async fn preview_order(
    app: &AppState,
    me: &MemberPrincipal,
    lines: &[LineInput],
    pickup_store_id: Option<i64>,
    coupon_ids: Option<&[i64]>,
) -> Result<OrderPreview, CouponsError> {
    let lines = orders::merge_lines(lines)?;
    let draft = orders::price_lines(&app.db, &lines).await?;
    let subtotal: i64 = draft
        .iter()
        .map(|l| l.unit_price_fen * i64::from(l.quantity))
        .sum();
    let tier = orders::tier_discount(&app.db, me.member_id, subtotal).await?;
    let scoped = scoped_lines(&app.db, &draft).await?;
    let basket = Basket {
        channel: Channel::Online,
        store_id: pickup_store_id,
        lines: &scoped,
        discounted_fen: tier.iter().map(|d| d.amount_fen).sum(),
        has_flash_sale: false,
    };
    let now = app.clock.now();
    let best = best_combination(&app.db, me.member_id, &basket, now).await?;
    let chosen = match coupon_ids {
        Some(ids) => discounts_for_order(&app.db, me.member_id, ids, &basket, now).await?,
        None => best.clone(),
    };
    let mut discounts = tier;
    discounts.extend(chosen.iter().map(|(_, d)| d.clone()));
    let discount_fen = discounts.iter().map(|d| d.amount_fen).sum::<i64>();
    let discount_fen = std::cmp::min(discount_fen, subtotal);
    Ok(OrderPreview {
        lines: draft
            .into_iter()
            .map(|l| PreviewLine {
                line_total_fen: l.unit_price_fen * i64::from(l.quantity),
                sku_id: l.sku_id,
                product_name: l.product_name,
                sku_label: l.sku_label,
                quantity: l.quantity,
                unit_price_fen: l.unit_price_fen,
            })
            .collect(),
        subtotal_fen: subtotal,
        discounts,
        discount_fen,
        total_fen: subtotal - discount_fen,
        coupon_ids: chosen.iter().map(|(id, _)| *id).collect(),
        best_coupon_discount_fen: best.iter().map(|(_, d)| d.amount_fen).sum(),
        best_coupon_ids: best.into_iter().map(|(id, _)| id).collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// At the counter

/// A coupon QR for the counter: a signed code naming the coupon, valid for [`CODE_TTL`].
pub async fn coupon_code(
    app: &AppState,
    me: &MemberPrincipal,
    coupon_id: i64,
) -> Result<(String, DateTime<Utc>), CouponsError> {
    let row = coupon::Entity::find_by_id(coupon_id)
        .one(&app.db)
        .await?
        .ok_or(CouponsError::NotFound("coupon"))?;
    if row.member_id != me.member_id {
        return Err(CouponsError::NotYours);
    }
    let tpl = Template::from(template_row(&app.db, row.template_id).await?);
    let now = app.clock.now();
    match status_of(&row, now) {
        CouponStatus::Available => {}
        CouponStatus::Used => return Err(CouponsError::AlreadyUsed(tpl.name)),
        CouponStatus::Expired => {
            return Err(CouponsError::Expired(format!(
                "the coupon {} has expired",
                tpl.name
            )));
        }
    }
    if !tpl.allows_channel(Channel::InStore) {
        return Err(invalid(format!(
            "the coupon {} cannot be used in store",
            tpl.name
        )));
    }
    let expires = now + CODE_TTL;
    Ok((app.codes.issue(CODE_KIND, coupon_id, expires), expires))
}

/// The coupon a counter code names; EXPIRED when the QR is stale.
pub(crate) fn coupon_id_of_code(app: &AppState, code: &str) -> Result<i64, CouponsError> {
    app.codes
        .verify(CODE_KIND, code, app.clock.now())
        .map_err(|e| match e {
            CodeError::Expired => CouponsError::Expired(
                "the coupon code has expired; ask the member to refresh it".into(),
            ),
            CodeError::Malformed | CodeError::Forged => invalid("this is not a valid coupon code"),
        })
}

/// Coupon ids behind counter codes, for a sale to `member_id` (FORBIDDEN when a coupon is
/// someone else's).
pub(crate) async fn coupon_ids_of_codes(
    app: &AppState,
    member_id: i64,
    codes: &[String],
) -> Result<Vec<i64>, CouponsError> {
    let ids = codes
        .iter()
        .map(|c| coupon_id_of_code(app, c))
        .collect::<Result<Vec<_>, _>>()?;
    owned(&app.db, member_id, &ids).await?;
    Ok(ids)
}

/// What a BA sees after scanning a coupon QR.
pub async fn inspect_coupon_code(
    app: &AppState,
    staff: &StaffPrincipal,
    code: &str,
) -> Result<Coupon, CouponsError> {
    staff.require(Permission::RecordSale)?;
    let id = coupon_id_of_code(app, code)?;
    let row = coupon::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .ok_or(CouponsError::NotFound("coupon"))?;
    let mut list = with_templates(&app.db, vec![row], app.clock.now()).await?;
    list.pop().ok_or(CouponsError::NotFound("coupon"))
}

/// A BA redeems a gift coupon (兑换券) at the counter: the gift leaves the store's stock and
/// the coupon is used, once (of concurrent scans, exactly one wins; the others get CONFLICT).
/// Price coupons are applied to a counter sale instead (`record_in_store_sale` with codes).
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id))]
pub async fn redeem_at_counter(
    app: &AppState,
    staff: &StaffPrincipal,
    code: &str,
) -> Result<Coupon, CouponsError> {
    staff.require(Permission::RecordSale)?;
    let store_id = staff
        .store_id
        .ok_or_else(|| invalid("only staff of a store redeem coupons at the counter"))?;
    let id = coupon_id_of_code(app, code)?;
    let row = coupon::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .ok_or(CouponsError::NotFound("coupon"))?;
    let tpl = Template::from(template_row(&app.db, row.template_id).await?);
    let now = app.clock.now();
    match status_of(&row, now) {
        CouponStatus::Available => {}
        CouponStatus::Used => return Err(CouponsError::AlreadyUsed(tpl.name)),
        CouponStatus::Expired => {
            return Err(CouponsError::Expired(format!(
                "the coupon {} has expired",
                tpl.name
            )));
        }
    }
    if row.valid_from > now {
        return Err(invalid(format!("the coupon {} is not valid yet", tpl.name)));
    }
    if tpl.kind != CouponKind::Gift {
        return Err(invalid(format!(
            "the coupon {} takes money off a sale: apply it when recording the sale",
            tpl.name
        )));
    }
    if !tpl.allows_channel(Channel::InStore) || !tpl.allows_store(Some(store_id)) {
        return Err(invalid(format!(
            "the coupon {} is not valid at this store",
            tpl.name
        )));
    }
    let location = inventory::store_location(&app.db, store_id).await?;
    let txn = db::begin_write(&app.db).await?;
    mark_used(
        &txn,
        row.member_id,
        &[(
            id,
            Discount {
                kind: DiscountKind::Coupon,
                label: tpl.name.clone(),
                amount_fen: 0,
                reference: None,
            },
        )],
        None,
        Some(store_id),
        Some(staff.staff_id),
        now,
    )
    .await?;
    if let Some(gift) = tpl.gift_sku_id {
        let reference = format!("COUPON-{id}");
        inventory::take_fefo(
            &txn,
            inventory::Withdrawal {
                location_id: location.id,
                sku_id: gift,
                quantity: 1,
                kind: MovementKind::Adjustment,
                reference: Some(&reference),
                staff_id: Some(staff.staff_id),
                at: now,
            },
        )
        .await?;
    }
    txn.commit().await?;
    let row = coupon::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .ok_or(CouponsError::NotFound("coupon"))?;
    Ok(to_coupon(row, tpl, now))
}

// ---------------------------------------------------------------------------------------------
// Report

#[derive(Debug, Clone)]
pub struct CouponReport {
    pub template: Template,
    /// Copies given out by any means.
    pub issued: i64,
    /// Of which claimed by members in the claim centre.
    pub claimed: i64,
    /// Used on an order or at the counter.
    pub redeemed: i64,
    /// Ended unused.
    pub expired: i64,
    /// Still usable.
    pub available: i64,
    pub discount_fen: i64,
    /// What the paid orders that used it brought in (after refunds).
    pub revenue_fen: i64,
    pub orders: i64,
}

/// status, source, valid until, order used on, discount given
type ReportRow = (String, String, DateTime<Utc>, Option<i64>, i64);

/// HQ's figures for one template.
pub async fn coupon_report(
    app: &AppState,
    staff: &StaffPrincipal,
    template_id: i64,
) -> Result<CouponReport, CouponsError> {
    staff.require(Permission::ManageCoupons)?;
    let template = Template::from(template_row(&app.db, template_id).await?);
    let now = app.clock.now();
    let rows: Vec<ReportRow> = coupon::Entity::find()
        .select_only()
        .column(coupon::Column::Status)
        .column(coupon::Column::Source)
        .column(coupon::Column::ValidUntil)
        .column(coupon::Column::UsedOrderId)
        .column(coupon::Column::DiscountFen)
        .filter(coupon::Column::TemplateId.eq(template_id))
        .into_tuple()
        .all(&app.db)
        .await?;
    let mut report = CouponReport {
        template,
        issued: 0,
        claimed: 0,
        redeemed: 0,
        expired: 0,
        available: 0,
        discount_fen: 0,
        revenue_fen: 0,
        orders: 0,
    };
    let mut order_ids = BTreeSet::new();
    for (status, source, valid_until, order_id, discount) in rows {
        report.issued += 1;
        if source == "CLAIM" {
            report.claimed += 1;
        }
        match status.as_str() {
            "USED" => {
                report.redeemed += 1;
                report.discount_fen += discount;
                order_ids.extend(order_id);
            }
            "EXPIRED" => report.expired += 1,
            _ if valid_until <= now => report.expired += 1,
            _ => report.available += 1,
        }
    }
    let paid = [
        orders::OrderStatus::Paid.as_str(),
        orders::OrderStatus::PartiallyRefunded.as_str(),
    ];
    let figures: Vec<(i64, i64)> = order::Entity::find()
        .select_only()
        .column(order::Column::TotalFen)
        .column(order::Column::RefundedFen)
        .filter(order::Column::Id.is_in(order_ids))
        .filter(order::Column::Status.is_in(paid))
        .into_tuple()
        .all(&app.db)
        .await?;
    report.orders = i64::try_from(figures.len()).unwrap_or(i64::MAX);
    report.revenue_fen = figures.iter().map(|(t, r)| t - r).sum();
    Ok(report)
}

/// Two demo templates: 满300减50 in every channel, and a stacking 20-yuan cash coupon online.
pub(crate) async fn seed_demo<C: ConnectionTrait>(db: &C, now: DateTime<Utc>) -> Result<(), DbErr> {
    for (name, kind, threshold, reduction, amount, channels, stacks, total, limit) in [
        (
            "满300减50",
            CouponKind::ThresholdReduction,
            Some(30_000),
            Some(5_000),
            None,
            "[]",
            false,
            1_000,
            1,
        ),
        (
            "无门槛20元",
            CouponKind::Cash,
            None,
            None,
            Some(2_000),
            "[\"ONLINE\"]",
            true,
            500,
            2,
        ),
    ] {
        coupon_template::ActiveModel {
            name: Set(name.into()),
            kind: Set(kind.as_str().into()),
            threshold_fen: Set(threshold),
            reduction_fen: Set(reduction),
            percent_off: Set(None),
            cap_fen: Set(None),
            amount_fen: Set(amount),
            gift_sku_id: Set(None),
            total_quantity: Set(total),
            issued: Set(0),
            per_member_limit: Set(limit),
            valid_from: Set(None),
            valid_until: Set(None),
            valid_days: Set(Some(30)),
            sku_ids: Set("[]".into()),
            category_ids: Set("[]".into()),
            channels: Set(channels.into()),
            store_ids: Set("[]".into()),
            stacks_with_coupons: Set(stacks),
            stacks_with_flash_sale: Set(false),
            birthday: Set(false),
            active: Set(true),
            created_by: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tpl(kind: CouponKind) -> Template {
        Template {
            id: 1,
            name: "t".into(),
            kind,
            threshold_fen: None,
            reduction_fen: None,
            percent_off: None,
            cap_fen: None,
            amount_fen: None,
            gift_sku_id: None,
            total_quantity: 10,
            issued: 0,
            per_member_limit: 1,
            validity: Validity::DaysFromIssue(7),
            scope: Scope::default(),
            stacks_with_coupons: true,
            stacks_with_flash_sale: false,
            birthday: false,
            active: true,
            created_at: Utc::now(),
        }
    }

    fn copy(id: i64, template_id: i64, now: DateTime<Utc>) -> coupon::Model {
        coupon::Model {
            id,
            template_id,
            member_id: 1,
            seq: 1,
            status: "AVAILABLE".into(),
            source: "CLAIM".into(),
            issue_key: id.to_string(),
            source_key: None,
            valid_from: now - Duration::days(1),
            valid_until: now + Duration::days(1),
            issued_at: now,
            used_at: None,
            used_order_id: None,
            used_store_id: None,
            used_by_staff: None,
            discount_fen: 0,
        }
    }

    #[test]
    fn each_kind_prices_its_way_and_says_why_not() {
        let now = Utc::now();
        let lines = [
            ScopedLine {
                sku_id: 1,
                categories: vec![10],
                subtotal_fen: 20_000,
            },
            ScopedLine {
                sku_id: 2,
                categories: vec![20, 10],
                subtotal_fen: 15_000,
            },
        ];
        let basket = Basket {
            channel: Channel::Online,
            store_id: None,
            lines: &lines,
            discounted_fen: 0,
            has_flash_sale: false,
        };
        let mut t = tpl(CouponKind::ThresholdReduction);
        t.threshold_fen = Some(30_000);
        t.reduction_fen = Some(5_000);
        assert_eq!(evaluate(&copy(1, 1, now), &t, &basket, now).unwrap(), 5_000);
        t.scope.sku_ids = vec![1];
        let e = evaluate(&copy(1, 1, now), &t, &basket, now).unwrap_err();
        assert!(e.to_string().contains("below threshold"), "{e}");
        t.scope.sku_ids = vec![3];
        let e = evaluate(&copy(1, 1, now), &t, &basket, now).unwrap_err();
        assert!(e.to_string().contains("out of scope"), "{e}");
        t.scope.sku_ids = vec![];
        t.scope.category_ids = vec![20];
        t.threshold_fen = Some(10_000);
        assert_eq!(evaluate(&copy(1, 1, now), &t, &basket, now).unwrap(), 5_000);

        let mut p = tpl(CouponKind::PercentDiscount);
        p.percent_off = Some(20);
        p.cap_fen = Some(5_000);
        assert_eq!(evaluate(&copy(1, 1, now), &p, &basket, now).unwrap(), 5_000);
        p.cap_fen = Some(100_000);
        assert_eq!(evaluate(&copy(1, 1, now), &p, &basket, now).unwrap(), 7_000);

        let mut c = tpl(CouponKind::Cash);
        c.amount_fen = Some(1_000);
        c.scope.channels = vec![Channel::InStore];
        assert!(matches!(
            evaluate(&copy(1, 1, now), &c, &basket, now),
            Err(CouponsError::InvalidInput(_))
        ));
        let mut expired = copy(1, 1, now);
        expired.valid_until = now;
        assert!(matches!(
            evaluate(&expired, &p, &basket, now),
            Err(CouponsError::Expired(_))
        ));
        let mut used = copy(1, 1, now);
        used.status = "USED".into();
        assert!(matches!(
            evaluate(&used, &p, &basket, now),
            Err(CouponsError::AlreadyUsed(_))
        ));
    }

    #[test]
    fn combinations_stack_only_when_every_coupon_stacks_and_never_exceed_the_total() {
        let now = Utc::now();
        let lines = [ScopedLine {
            sku_id: 1,
            categories: vec![],
            subtotal_fen: 3_000,
        }];
        let basket = Basket {
            channel: Channel::Online,
            store_id: None,
            lines: &lines,
            discounted_fen: 500,
            has_flash_sale: false,
        };
        let mut a = tpl(CouponKind::Cash);
        a.amount_fen = Some(2_000);
        let mut b = tpl(CouponKind::Cash);
        b.id = 2;
        b.amount_fen = Some(2_000);
        let lines = combine(
            &[(copy(1, 1, now), a.clone()), (copy(2, 2, now), b.clone())],
            &basket,
            now,
        )
        .unwrap();
        let amounts: Vec<i64> = lines.iter().map(|(_, d)| d.amount_fen).collect();
        assert_eq!(amounts, vec![2_000, 500]);
        b.stacks_with_coupons = false;
        assert!(
            combine(
                &[(copy(1, 1, now), a.clone()), (copy(2, 2, now), b)],
                &basket,
                now
            )
            .is_err()
        );
        assert!(
            combine(
                &[(copy(1, 1, now), a.clone()), (copy(2, 1, now), a)],
                &basket,
                now
            )
            .is_err()
        );
    }

    #[test]
    fn templates_refuse_bad_amounts_and_windows() {
        let now = Utc::now();
        let base = NewTemplate {
            name: "满300减50".into(),
            kind: CouponKind::ThresholdReduction,
            threshold_fen: Some(30_000),
            reduction_fen: Some(5_000),
            percent_off: None,
            cap_fen: None,
            amount_fen: None,
            gift_sku_id: None,
            total_quantity: 100,
            per_member_limit: 1,
            validity: Validity::DaysFromIssue(30),
            scope: Scope::default(),
            stacks_with_coupons: false,
            stacks_with_flash_sale: false,
            birthday: false,
        };
        assert!(check_template(&base).is_ok());
        let mut t = base.clone();
        t.reduction_fen = Some(30_000);
        assert!(check_template(&t).is_err());
        let mut t = base.clone();
        t.kind = CouponKind::PercentDiscount;
        t.percent_off = Some(100);
        t.cap_fen = Some(1_000);
        assert!(check_template(&t).is_err());
        t.percent_off = Some(0);
        assert!(check_template(&t).is_err());
        t.percent_off = Some(15);
        assert!(check_template(&t).is_ok());
        let mut t = base.clone();
        t.validity = Validity::Fixed {
            from: now,
            until: now,
        };
        assert!(check_template(&t).is_err());
        let mut t = base;
        t.kind = CouponKind::Cash;
        t.amount_fen = Some(-5);
        assert!(check_template(&t).is_err());
    }
}

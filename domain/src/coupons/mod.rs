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
//!
//! One use case per file: `templates` (HQ defines them), `issuing` (claims, HQ and other
//! modules' issues, the member's coupons), `birthday` (the monthly task), `pricing` (which
//! coupons apply to an order, marking them used and giving them back), `preview` (pricing an
//! online order before it is placed), `counter` (QR codes, gift redemption), `report`.

mod birthday;
mod counter;
mod issuing;
mod preview;
mod pricing;
mod report;
mod templates;

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Query, SelectStatement};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use crate::auth::AuthError;
use crate::inventory;
use crate::platform::error::{DomainError, ErrorCode, StoreError};
use crate::pricing::{Channel, PricingError};
use entities::order::{self, OrderStatus};
use entities::{coupon, coupon_template};

pub use birthday::{BirthdayCoupons, issue_birthday_coupons};
pub(crate) use counter::coupon_ids_of_codes;
pub use counter::{coupon_code, inspect_coupon_code, redeem_at_counter};
pub use entities::coupon::{CouponSource, CouponStatus};
pub use entities::coupon_template::CouponKind;
pub use issuing::{
    Claimable, IssueOutcome, IssueSource, claim_coupon, claimable_coupons, issue_coupons,
    issue_one, issue_to_members, issued_from_source, my_coupons,
};
pub(crate) use issuing::{GrantAttempt, grant_in};
pub use preview::{OrderPreview, PreviewLine, preview_order};
pub(crate) use pricing::{Basket, discounts_for_order, mark_used, release_for_order, scoped_lines};
pub use report::{CouponReport, coupon_report};
pub use templates::{create_template, set_template_active, template, templates};
pub(crate) use templates::{seed_demo, seed_demo_counter};

#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
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
    /// Pricing the lines a coupon applies to (unknown SKU, bad quantities).
    #[error(transparent)]
    Pricing(#[from] PricingError),
    /// Stock for a gift at the counter.
    #[error(transparent)]
    Inventory(#[from] inventory::InventoryError),
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
            Self::Pricing(e) => e.code(),
            Self::Inventory(e) => e.code(),
            Self::Auth(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}

fn invalid(msg: impl Into<String>) -> CouponsError {
    CouponsError::InvalidInput(msg.into())
}

/// How long a coupon QR shown at the counter stays valid; the mini-program refreshes it.
pub const CODE_TTL: Duration = Duration::minutes(3);
/// The kind tag of coupon QR codes (see `signed_codes`).
pub const CODE_KIND: &str = "CP";

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

/// A stored template whose validity or channels Rouge cannot read is an error (INTERNAL),
/// never a default.
impl TryFrom<coupon_template::Model> for Template {
    type Error = DbErr;

    fn try_from(t: coupon_template::Model) -> Result<Self, DbErr> {
        let validity = match (t.valid_from, t.valid_until, t.valid_days) {
            (Some(from), Some(until), _) => Validity::Fixed { from, until },
            (_, _, Some(days)) => Validity::DaysFromIssue(days),
            (_, _, None) => {
                return Err(DbErr::Type(format!(
                    "coupon template {} has neither a validity window nor valid days",
                    t.id
                )));
            }
        };
        let channels = t.channels.0.clone();
        Ok(Self {
            id: t.id,
            kind: t.kind,
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
                sku_ids: t.sku_ids.into_inner(),
                category_ids: t.category_ids.into_inner(),
                channels,
                store_ids: t.store_ids.into_inner(),
            },
            stacks_with_coupons: t.stacks_with_coupons,
            stacks_with_flash_sale: t.stacks_with_flash_sale,
            birthday: t.birthday,
            active: t.active,
            created_at: t.created_at,
            name: t.name,
        })
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
    /// AVAILABLE copies past their end show as EXPIRED; USED copies whose order awaits payment
    /// show as RESERVED.
    pub status: CouponStatus,
    pub source: CouponSource,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub issued_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub used_order_id: Option<i64>,
    pub used_store_id: Option<i64>,
    pub discount_fen: i64,
}

/// The status a member sees: an AVAILABLE copy past its end is EXPIRED.
fn shown_status(
    stored: CouponStatus,
    valid_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> CouponStatus {
    match stored {
        CouponStatus::Available if valid_until <= now => CouponStatus::Expired,
        status => status,
    }
}

fn status_of(row: &coupon::Model, now: DateTime<Utc>) -> CouponStatus {
    shown_status(row.status, row.valid_until, now)
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
    let rows = coupon_template::Entity::find()
        .filter(coupon_template::Column::Id.is_in(ids))
        .all(db)
        .await?;
    let mut templates = HashMap::with_capacity(rows.len());
    for row in rows {
        templates.insert(row.id, Template::try_from(row)?);
    }
    Ok(templates)
}

/// The ids of orders still awaiting payment: the coupons they took show as RESERVED.
fn pending_order_ids() -> SelectStatement {
    Query::select()
        .column(order::Column::Id)
        .from(order::Entity)
        .and_where(order::Column::Status.eq(OrderStatus::PendingPayment))
        .to_owned()
}

/// Which of these rows' orders still await payment.
async fn pending_orders_of<C: ConnectionTrait>(
    db: &C,
    rows: &[coupon::Model],
) -> Result<HashSet<i64>, CouponsError> {
    let ids: BTreeSet<i64> = rows
        .iter()
        .filter(|r| r.status == CouponStatus::Used)
        .filter_map(|r| r.used_order_id)
        .collect();
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    Ok(order::Entity::find()
        .select_only()
        .column(order::Column::Id)
        .filter(order::Column::Id.is_in(ids))
        .filter(order::Column::Status.eq(OrderStatus::PendingPayment))
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// The coupons as the member sees them, with their templates.
async fn with_templates<C: ConnectionTrait>(
    db: &C,
    rows: Vec<coupon::Model>,
    now: DateTime<Utc>,
) -> Result<Vec<Coupon>, CouponsError> {
    let templates = templates_by_id(db, rows.iter().map(|r| r.template_id)).await?;
    let pending = pending_orders_of(db, &rows).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let t = templates.get(&r.template_id)?.clone();
            let reserved = r.status == CouponStatus::Used
                && r.used_order_id.is_some_and(|o| pending.contains(&o));
            let mut coupon = to_coupon(r, t, now);
            if reserved {
                coupon.status = CouponStatus::Reserved;
            }
            Some(coupon)
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

/// The template with this id, read as the domain sees it.
async fn load_template<C: ConnectionTrait>(db: &C, id: i64) -> Result<Template, CouponsError> {
    Ok(Template::try_from(template_row(db, id).await?)?)
}

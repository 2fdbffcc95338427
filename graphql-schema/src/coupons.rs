//! Coupons: HQ templates, issuing and reports; the members' claim centre, their coupons, the
//! counter QR and order previews; BAs redeem gift coupons at the counter.

use crate::scalars::{DateTime, Fen};
use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use domain::auth::Permission;
use domain::coupons::{self, CouponKind, CouponSource, CouponStatus};

use crate::context::{app, member, staff};
use crate::error::{ApiError, ApiResult, parse_id};
use crate::orders::{Channel, DiscountLine, PlaceOrderInput};
use crate::pagination;

fn ids(list: &[i64]) -> Vec<ID> {
    list.iter().map(|i| (*i).into()).collect()
}

#[derive(SimpleObject)]
pub struct CouponTemplate {
    pub id: ID,
    pub name: String,
    pub kind: CouponKind,
    pub threshold_fen: Option<i64>,
    pub reduction_fen: Option<i64>,
    pub percent_off: Option<i32>,
    pub cap_fen: Option<i64>,
    pub amount_fen: Option<i64>,
    pub gift_sku_id: Option<ID>,
    pub total_quantity: i64,
    pub issued: i64,
    pub per_member_limit: i32,
    /// A fixed validity window...
    pub valid_from: Option<DateTime>,
    pub valid_until: Option<DateTime>,
    /// ...or this many days from issue.
    pub valid_days: Option<i32>,
    /// Scope; an empty list means all.
    pub sku_ids: Vec<ID>,
    pub category_ids: Vec<ID>,
    pub channels: Vec<Channel>,
    pub store_ids: Vec<ID>,
    pub stacks_with_coupons: bool,
    pub stacks_with_flash_sale: bool,
    /// Given automatically in the member's birthday month.
    pub birthday: bool,
    pub active: bool,
    pub created_at: DateTime,
}

impl From<coupons::Template> for CouponTemplate {
    fn from(t: coupons::Template) -> Self {
        let (valid_from, valid_until, valid_days) = match t.validity {
            coupons::Validity::Fixed { from, until } => (Some(from), Some(until), None),
            coupons::Validity::DaysFromIssue(d) => (None, None, Some(d)),
        };
        Self {
            id: t.id.into(),
            name: t.name,
            kind: t.kind,
            threshold_fen: t.threshold_fen,
            reduction_fen: t.reduction_fen,
            percent_off: t.percent_off,
            cap_fen: t.cap_fen,
            amount_fen: t.amount_fen,
            gift_sku_id: t.gift_sku_id.map(Into::into),
            total_quantity: t.total_quantity,
            issued: t.issued,
            per_member_limit: t.per_member_limit,
            valid_from: valid_from.map(Into::into),
            valid_until: valid_until.map(Into::into),
            valid_days,
            sku_ids: ids(&t.scope.sku_ids),
            category_ids: ids(&t.scope.category_ids),
            channels: t.scope.channels,
            store_ids: ids(&t.scope.store_ids),
            stacks_with_coupons: t.stacks_with_coupons,
            stacks_with_flash_sale: t.stacks_with_flash_sale,
            birthday: t.birthday,
            active: t.active,
            created_at: t.created_at.into(),
        }
    }
}

#[derive(SimpleObject)]
pub struct Coupon {
    pub id: ID,
    pub template: CouponTemplate,
    pub status: CouponStatus,
    /// Where the coupon came from.
    pub source: CouponSource,
    pub valid_from: DateTime,
    pub valid_until: DateTime,
    pub issued_at: DateTime,
    pub used_at: Option<DateTime>,
    pub used_order_id: Option<ID>,
    pub used_store_id: Option<ID>,
    pub discount_fen: i64,
}

impl From<coupons::Coupon> for Coupon {
    fn from(c: coupons::Coupon) -> Self {
        Self {
            id: c.id.into(),
            template: c.template.into(),
            status: c.status,
            source: c.source,
            valid_from: c.valid_from.into(),
            valid_until: c.valid_until.into(),
            issued_at: c.issued_at.into(),
            used_at: c.used_at.map(Into::into),
            used_order_id: c.used_order_id.map(Into::into),
            used_store_id: c.used_store_id.map(Into::into),
            discount_fen: c.discount_fen,
        }
    }
}

#[derive(SimpleObject)]
pub struct ClaimableCoupon {
    pub template: CouponTemplate,
    /// Copies the member already holds.
    pub held: i32,
    /// Copies left to claim.
    pub left: i64,
}

/// The QR the member shows at the counter; refresh it before `expiresAt`.
#[derive(SimpleObject)]
pub struct CouponCode {
    pub code: String,
    pub expires_at: DateTime,
}

#[derive(SimpleObject)]
pub struct PreviewLine {
    pub sku_id: ID,
    pub product_name: String,
    pub sku_label: String,
    pub quantity: i32,
    pub unit_price_fen: i64,
    pub line_total_fen: i64,
}

#[derive(SimpleObject)]
pub struct OrderPreview {
    pub lines: Vec<PreviewLine>,
    pub subtotal_fen: i64,
    /// Tier price and one line per coupon priced.
    pub discounts: Vec<DiscountLine>,
    pub discount_fen: i64,
    pub total_fen: i64,
    /// The coupons priced: those asked for, or else the best combination.
    pub coupon_ids: Vec<ID>,
    /// The best valid combination of the member's coupons for this order.
    pub best_coupon_ids: Vec<ID>,
    pub best_coupon_discount_fen: i64,
}

#[derive(SimpleObject)]
pub struct IssueOutcome {
    pub issued: i64,
    /// Members who already had a copy from this request.
    pub already: i64,
    pub limit_reached: i64,
    pub sold_out: i64,
    pub unknown_members: i64,
}

impl From<coupons::IssueOutcome> for IssueOutcome {
    fn from(o: coupons::IssueOutcome) -> Self {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        Self {
            issued: n(o.issued),
            already: n(o.already),
            limit_reached: n(o.limit_reached),
            sold_out: n(o.sold_out),
            unknown_members: n(o.unknown_members),
        }
    }
}

#[derive(SimpleObject)]
pub struct CouponReport {
    pub template: CouponTemplate,
    pub issued: i64,
    pub claimed: i64,
    pub redeemed: i64,
    pub expired: i64,
    pub available: i64,
    /// Discount given by redeemed copies.
    pub discount_fen: Fen,
    /// Paid orders that used the template, after refunds.
    pub revenue_fen: Fen,
    pub orders: i64,
}

#[derive(InputObject)]
pub struct CouponTemplateInput {
    pub name: String,
    pub kind: CouponKind,
    pub threshold_fen: Option<i64>,
    pub reduction_fen: Option<i64>,
    pub percent_off: Option<i32>,
    pub cap_fen: Option<i64>,
    pub amount_fen: Option<i64>,
    pub gift_sku_id: Option<ID>,
    pub total_quantity: i64,
    #[graphql(default = 1)]
    pub per_member_limit: i32,
    /// Give validFrom and validUntil, or validDays.
    pub valid_from: Option<DateTime>,
    pub valid_until: Option<DateTime>,
    pub valid_days: Option<i32>,
    #[graphql(default)]
    pub sku_ids: Vec<ID>,
    #[graphql(default)]
    pub category_ids: Vec<ID>,
    #[graphql(default)]
    pub channels: Vec<Channel>,
    #[graphql(default)]
    pub store_ids: Vec<ID>,
    #[graphql(default = false)]
    pub stacks_with_coupons: bool,
    #[graphql(default = false)]
    pub stacks_with_flash_sale: bool,
    #[graphql(default = false)]
    pub birthday: bool,
}

fn parse_ids(list: &[ID]) -> ApiResult<Vec<i64>> {
    list.iter().map(parse_id).collect()
}

impl CouponTemplateInput {
    fn into_domain(self) -> ApiResult<coupons::NewTemplate> {
        let validity = match (self.valid_from, self.valid_until, self.valid_days) {
            (Some(from), Some(until), None) => coupons::Validity::Fixed {
                from: from.0,
                until: until.0,
            },
            (None, None, Some(days)) => coupons::Validity::DaysFromIssue(days),
            _ => {
                return Err(ApiError::bad_input(
                    "give either validFrom and validUntil, or validDays",
                ));
            }
        };
        Ok(coupons::NewTemplate {
            name: self.name,
            kind: self.kind,
            threshold_fen: self.threshold_fen,
            reduction_fen: self.reduction_fen,
            percent_off: self.percent_off,
            cap_fen: self.cap_fen,
            amount_fen: self.amount_fen,
            gift_sku_id: self.gift_sku_id.as_ref().map(parse_id).transpose()?,
            total_quantity: self.total_quantity,
            per_member_limit: self.per_member_limit,
            validity,
            scope: coupons::Scope {
                sku_ids: parse_ids(&self.sku_ids)?,
                category_ids: parse_ids(&self.category_ids)?,
                channels: self.channels,
                store_ids: parse_ids(&self.store_ids)?,
            },
            stacks_with_coupons: self.stacks_with_coupons,
            stacks_with_flash_sale: self.stacks_with_flash_sale,
            birthday: self.birthday,
        })
    }
}

impl From<coupons::CouponReport> for CouponReport {
    fn from(r: coupons::CouponReport) -> Self {
        Self {
            template: r.template.into(),
            issued: r.issued,
            claimed: r.claimed,
            redeemed: r.redeemed,
            expired: r.expired,
            available: r.available,
            discount_fen: r.discount_fen.into(),
            revenue_fen: r.revenue_fen.into(),
            orders: r.orders,
        }
    }
}

#[derive(Default)]
pub struct ConsumerCouponsQuery;

#[Object]
impl ConsumerCouponsQuery {
    /// The claim centre: coupons the member can claim now, newest template first.
    async fn claimable_coupons(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, ClaimableCoupon>> {
        let me = member(ctx).await?;
        let page = pagination::keyset(first, after.as_deref())?;
        let list = coupons::claimable_coupons(app(ctx), me, page).await?;
        Ok(pagination::connection(
            list,
            &page,
            |c| c.template.id,
            |c| ClaimableCoupon {
                template: c.template.into(),
                held: c.held,
                left: c.left,
            },
        ))
    }

    /// The member's coupons, soonest to expire first.
    async fn my_coupons(
        &self,
        ctx: &Context<'_>,
        status: Option<CouponStatus>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, Coupon>> {
        let me = member(ctx).await?;
        let page = pagination::keyset(first, after.as_deref())?;
        let list = coupons::my_coupons(app(ctx), me, status, page).await?;
        Ok(pagination::connection(
            list,
            &page,
            |c| (c.valid_until, c.id),
            Into::into,
        ))
    }

    /// A short-lived signed code for the coupon's QR at the counter.
    async fn coupon_code(&self, ctx: &Context<'_>, coupon_id: ID) -> ApiResult<CouponCode> {
        let me = member(ctx).await?;
        let (code, expires_at) = coupons::coupon_code(app(ctx), me, parse_id(&coupon_id)?).await?;
        Ok(CouponCode {
            code,
            expires_at: expires_at.into(),
        })
    }

    /// Prices an order before it is placed: with `input.couponIds` (checked as placeOrder
    /// checks them) or, without, the best combination of the member's coupons.
    async fn preview_order(
        &self,
        ctx: &Context<'_>,
        input: PlaceOrderInput,
    ) -> ApiResult<OrderPreview> {
        let me = member(ctx).await?;
        let lines = crate::orders::lines(&input.lines)?;
        let store = input.pickup_store_id.as_ref().map(parse_id).transpose()?;
        let coupon_ids = input.coupon_ids.as_deref().map(parse_ids).transpose()?;
        let p = coupons::preview_order(app(ctx), me, &lines, store, coupon_ids.as_deref()).await?;
        Ok(OrderPreview {
            lines: p
                .lines
                .into_iter()
                .map(|l| PreviewLine {
                    sku_id: l.sku_id.into(),
                    product_name: l.product_name,
                    sku_label: l.sku_label,
                    quantity: l.quantity,
                    unit_price_fen: l.unit_price_fen,
                    line_total_fen: l.line_total_fen,
                })
                .collect(),
            subtotal_fen: p.subtotal_fen,
            discounts: p
                .discounts
                .into_iter()
                .map(|d| DiscountLine {
                    kind: d.kind,
                    label: d.label,
                    amount_fen: d.amount_fen,
                })
                .collect(),
            discount_fen: p.discount_fen,
            total_fen: p.total_fen,
            coupon_ids: ids(&p.coupon_ids),
            best_coupon_ids: ids(&p.best_coupon_ids),
            best_coupon_discount_fen: p.best_coupon_discount_fen,
        })
    }
}

#[derive(Default)]
pub struct ConsumerCouponsMutation;

#[Object]
impl ConsumerCouponsMutation {
    /// Claims a coupon; retrying with the same key returns the same coupon. SOLD_OUT when none
    /// are left, LIMIT_REACHED when the member holds as many as one member may.
    async fn claim_coupon(
        &self,
        ctx: &Context<'_>,
        template_id: ID,
        idempotency_key: String,
    ) -> ApiResult<Coupon> {
        let me = member(ctx).await?;
        Ok(
            coupons::claim_coupon(app(ctx), me, parse_id(&template_id)?, &idempotency_key)
                .await?
                .into(),
        )
    }
}

#[derive(Default)]
pub struct StaffCouponsQuery;

#[Object]
impl StaffCouponsQuery {
    /// Every coupon template, newest first (HQ).
    async fn coupon_templates(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, CouponTemplate>> {
        let staff = staff(ctx).await?;
        let page =
            pagination::staff_keyset(staff, &[Permission::ManageCoupons], first, after.as_deref())?;
        let list = coupons::templates(app(ctx), staff, page).await?;
        Ok(pagination::connection(list, &page, |t| t.id, Into::into))
    }

    /// Issued, claimed, redeemed and expired copies, discount given and revenue (HQ).
    async fn coupon_report(&self, ctx: &Context<'_>, template_id: ID) -> ApiResult<CouponReport> {
        let staff = staff(ctx).await?;
        Ok(
            coupons::coupon_report(app(ctx), staff, parse_id(&template_id)?)
                .await?
                .into(),
        )
    }

    /// The coupon behind a scanned QR, before it is applied or redeemed.
    async fn inspect_coupon_code(&self, ctx: &Context<'_>, code: String) -> ApiResult<Coupon> {
        let staff = staff(ctx).await?;
        Ok(coupons::inspect_coupon_code(app(ctx), staff, &code)
            .await?
            .into())
    }
}

#[derive(Default)]
pub struct StaffCouponsMutation;

#[Object]
impl StaffCouponsMutation {
    /// Defines a coupon template (HQ).
    async fn create_coupon_template(
        &self,
        ctx: &Context<'_>,
        input: CouponTemplateInput,
    ) -> ApiResult<CouponTemplate> {
        let staff = staff(ctx).await?;
        // Refuse the wrong role before saying what is wrong with the input.
        staff.require(Permission::ManageCoupons)?;
        let input = input.into_domain()?;
        Ok(coupons::create_template(app(ctx), staff, input)
            .await?
            .into())
    }

    /// Switches a template on or off (HQ); coupons already held stay usable.
    async fn set_coupon_template_active(
        &self,
        ctx: &Context<'_>,
        template_id: ID,
        active: bool,
    ) -> ApiResult<CouponTemplate> {
        let staff = staff(ctx).await?;
        Ok(
            coupons::set_template_active(app(ctx), staff, parse_id(&template_id)?, active)
                .await?
                .into(),
        )
    }

    /// Gives a template to members (HQ), within its total and each member's limit; retrying
    /// with the same key gives nobody a second copy.
    async fn issue_coupons(
        &self,
        ctx: &Context<'_>,
        template_id: ID,
        member_ids: Vec<ID>,
        idempotency_key: String,
    ) -> ApiResult<IssueOutcome> {
        let staff = staff(ctx).await?;
        Ok(coupons::issue_coupons(
            app(ctx),
            staff,
            parse_id(&template_id)?,
            &parse_ids(&member_ids)?,
            &idempotency_key,
        )
        .await?
        .into())
    }

    /// Redeems a gift coupon from the member's QR at the counter: the gift leaves the store's
    /// stock. Price coupons go on a sale instead (recordInStoreSale couponCodes).
    async fn redeem_coupon_at_counter(&self, ctx: &Context<'_>, code: String) -> ApiResult<Coupon> {
        let staff = staff(ctx).await?;
        Ok(coupons::redeem_at_counter(app(ctx), staff, &code)
            .await?
            .into())
    }
}

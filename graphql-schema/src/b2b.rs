//! Distributor B2B ordering: the distributor's catalog, credit, quotes and purchase orders, and
//! HQ's and finance's tiers, price lists and credit terms. Thin: the rules live in
//! `domain::b2b`.

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use domain::b2b::{self, PoStatus, PolicyKind, PolicyRule};
use entities::b2b_policy::RebateMode;

use crate::context::{app, distributor, meta, staff};
use crate::error::{ApiError, ApiResult, parse_id};
use crate::pagination;
use crate::scalars::{Date, DateTime, Fen};

/// How much of a SKU the brand's warehouses hold, as a band (never the count).
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    InStock,
    Low,
    /// Switched off: cannot be ordered.
    Out,
    /// None in stock now: an order is backordered.
    Backorder,
}

impl From<b2b::Availability> for Availability {
    fn from(a: b2b::Availability) -> Self {
        match a {
            b2b::Availability::InStock => Self::InStock,
            b2b::Availability::Low => Self::Low,
            b2b::Availability::Out => Self::Out,
            b2b::Availability::Backorder => Self::Backorder,
        }
    }
}

/// One step of a quantity ladder (阶梯价): from `minQty` units of the SKU on one order up.
#[derive(SimpleObject, InputObject, Clone, Copy)]
#[graphql(input_name = "PriceStepInput")]
pub struct PriceStep {
    pub min_qty: i32,
    pub unit_price_fen: i64,
}

impl From<b2b::PriceStep> for PriceStep {
    fn from(s: b2b::PriceStep) -> Self {
        Self {
            min_qty: s.min_qty,
            unit_price_fen: s.unit_price_fen,
        }
    }
}

/// A SKU the distributor may order, at its tier's price.
#[derive(SimpleObject)]
pub struct B2bSku {
    pub sku_id: ID,
    pub sku_code: String,
    pub product_name: String,
    pub shade: Option<String>,
    pub size: Option<String>,
    /// A unit's price at the minimum order quantity.
    pub unit_price_fen: i64,
    pub ladder: Vec<PriceStep>,
    /// Minimum units per order.
    pub moq: i32,
    /// Units per case: orders are whole cases.
    pub case_size: i32,
    pub availability: Availability,
    pub price_list_version: i32,
}

impl From<b2b::B2bSku> for B2bSku {
    fn from(s: b2b::B2bSku) -> Self {
        Self {
            sku_id: s.sku_id.into(),
            sku_code: s.sku_code,
            product_name: s.product_name,
            shade: s.shade,
            size: s.size,
            unit_price_fen: s.unit_price_fen,
            ladder: s.ladder.into_iter().map(Into::into).collect(),
            moq: s.moq,
            case_size: s.case_size,
            availability: s.availability.into(),
            price_list_version: s.price_list_version,
        }
    }
}

/// A distributor's credit (信用额度).
#[derive(SimpleObject)]
pub struct CreditStatus {
    pub limit_fen: Fen,
    /// Extra credit granted on top of the limit.
    pub override_fen: Fen,
    /// Held by submitted orders.
    pub reserved_fen: Fen,
    /// Open receivables.
    pub open_ar_fen: Fen,
    /// What new orders may still take.
    pub available_fen: Fen,
    /// Pays before shipping (款到发货): orders take no credit.
    pub prepaid: bool,
    pub payment_term_days: i32,
    pub grace_days: i32,
}

impl From<b2b::CreditStatus> for CreditStatus {
    fn from(c: b2b::CreditStatus) -> Self {
        Self {
            limit_fen: c.limit_fen.into(),
            override_fen: c.override_fen.into(),
            reserved_fen: c.reserved_fen.into(),
            open_ar_fen: c.open_ar_fen.into(),
            available_fen: c.available_fen.into(),
            prepaid: c.prepaid,
            payment_term_days: c.payment_term_days,
            grace_days: c.grace_days,
        }
    }
}

#[derive(InputObject)]
pub struct PurchaseOrderLineInput {
    pub sku_id: ID,
    pub qty: i32,
}

#[derive(InputObject)]
pub struct PurchaseOrderInput {
    /// Lines; the same SKU on several lines is priced on its total quantity.
    pub lines: Vec<PurchaseOrderLineInput>,
    /// Rebate (返利) to pay part of the order with: at most what is available and the
    /// policies' cap (`Quote.rebateCapFen`). Left out: none. Edits are priced without rebate.
    pub rebate_fen: Option<Fen>,
}

fn rebate_of(input: &PurchaseOrderInput) -> i64 {
    input.rebate_fen.map_or(0, |f| f.0)
}

fn lines(input: &PurchaseOrderInput) -> ApiResult<Vec<b2b::LineInput>> {
    input
        .lines
        .iter()
        .map(|l| {
            Ok(b2b::LineInput {
                sku_id: parse_id(&l.sku_id)?,
                qty: l.qty,
            })
        })
        .collect()
}

/// One SKU of a quote, its quantity summed over the input lines.
#[derive(SimpleObject)]
pub struct QuoteLine {
    pub sku_id: ID,
    pub qty: i32,
    pub list_unit_price_fen: i64,
    pub unit_price_fen: i64,
    pub line_total_fen: i64,
    pub availability: Availability,
}

/// One line of the price explanation (阶梯价, and later 满减, 搭赠, rebate use).
#[derive(SimpleObject)]
pub struct PricingStep {
    pub sku_id: Option<ID>,
    /// The policy applied (none for a ladder step).
    pub policy_id: Option<ID>,
    pub kind: String,
    pub label: String,
    /// What it took off the list price.
    pub amount_fen: i64,
}

/// An order priced as submit will price it. Submit with `hash`: if anything it covers moved
/// (price list, stock band, whether the credit covers it), submit answers CONFLICT
/// (`QUOTE_CHANGED`) and the client quotes again.
#[derive(SimpleObject)]
pub struct Quote {
    pub hash: String,
    pub price_list_version: i32,
    pub lines: Vec<QuoteLine>,
    /// Gift units the policies add (price 0).
    pub gifts: Vec<QuoteLine>,
    pub subtotal_fen: i64,
    pub discount_fen: i64,
    pub total_fen: i64,
    pub explain: Vec<PricingStep>,
    pub prepaid: bool,
    /// Credit available now, and what would remain after this order.
    pub credit_available_fen: Fen,
    pub credit_after_fen: Fen,
    pub credit_sufficient: bool,
    /// Must-confirm policies not yet acknowledged: submit is refused until an OWNER or BUYER
    /// calls acknowledgePolicy.
    pub unacknowledged_policy_ids: Vec<ID>,
    /// Rebate this order spends (hashed), the most it may spend (the policies' cap, hashed)
    /// and what the account has available now.
    pub rebate_used_fen: Fen,
    pub rebate_cap_fen: Fen,
    pub rebate_available_fen: Fen,
}

fn quote_line(l: b2b::QuoteLine) -> QuoteLine {
    QuoteLine {
        sku_id: l.sku_id.into(),
        qty: l.qty,
        list_unit_price_fen: l.list_unit_price_fen,
        unit_price_fen: l.unit_price_fen,
        line_total_fen: l.line_total_fen,
        availability: l.availability.into(),
    }
}

impl From<b2b::Quote> for Quote {
    fn from(q: b2b::Quote) -> Self {
        Self {
            hash: q.hash,
            price_list_version: q.price_list_version,
            lines: q.lines.into_iter().map(quote_line).collect(),
            gifts: q.gifts.into_iter().map(quote_line).collect(),
            subtotal_fen: q.subtotal_fen,
            discount_fen: q.discount_fen,
            total_fen: q.total_fen,
            explain: q
                .explain
                .into_iter()
                .map(|s| PricingStep {
                    sku_id: s.sku_id.map(Into::into),
                    policy_id: s.policy_id.map(Into::into),
                    kind: s.kind.into(),
                    label: s.label,
                    amount_fen: s.amount_fen,
                })
                .collect(),
            prepaid: q.prepaid,
            credit_available_fen: q.credit_available_fen.into(),
            credit_after_fen: q.credit_after_fen.into(),
            credit_sufficient: q.credit_sufficient,
            unacknowledged_policy_ids: q
                .unacknowledged_policy_ids
                .into_iter()
                .map(Into::into)
                .collect(),
            rebate_used_fen: Fen(q.rebate_used_fen),
            rebate_cap_fen: Fen(q.rebate_cap_fen),
            rebate_available_fen: Fen(q.rebate_available_fen),
        }
    }
}

#[derive(SimpleObject)]
pub struct PurchaseOrderLine {
    pub id: ID,
    pub sku_id: ID,
    pub qty: i32,
    pub unit_price_fen: i64,
    pub line_total_fen: i64,
    pub is_gift: bool,
}

/// One step of an order's status history.
#[derive(SimpleObject)]
pub struct PurchaseOrderEvent {
    pub status: PoStatus,
    pub actor_kind: domain::audit::ActorKind,
    pub at: DateTime,
    pub note: Option<String>,
}

/// A purchase order (订货单).
#[derive(SimpleObject)]
pub struct PurchaseOrder {
    pub id: ID,
    pub no: String,
    pub status: PoStatus,
    /// The hash of the quote it was submitted with.
    pub quote_hash: String,
    pub subtotal_fen: i64,
    pub discount_fen: i64,
    pub total_fen: i64,
    /// Credit this order holds (0 when prepaid).
    pub credit_reserved_fen: i64,
    pub created_at: DateTime,
    pub lines: Vec<PurchaseOrderLine>,
    /// Status history, oldest first.
    pub events: Vec<PurchaseOrderEvent>,
}

impl From<b2b::PurchaseOrder> for PurchaseOrder {
    fn from(o: b2b::PurchaseOrder) -> Self {
        Self {
            id: o.id.into(),
            no: o.no,
            status: o.status,
            quote_hash: o.quote_hash,
            subtotal_fen: o.subtotal_fen,
            discount_fen: o.discount_fen,
            total_fen: o.total_fen,
            credit_reserved_fen: o.credit_reserved_fen,
            created_at: o.created_at.into(),
            lines: o
                .lines
                .into_iter()
                .map(|l| PurchaseOrderLine {
                    id: l.id.into(),
                    sku_id: l.sku_id.into(),
                    qty: l.qty,
                    unit_price_fen: l.unit_price_fen,
                    line_total_fen: l.line_total_fen,
                    is_gift: l.is_gift,
                })
                .collect(),
            events: o
                .events
                .into_iter()
                .map(|e| PurchaseOrderEvent {
                    status: e.status,
                    actor_kind: e.actor_kind,
                    at: e.at.into(),
                    note: e.note,
                })
                .collect(),
        }
    }
}

#[derive(Default)]
pub struct DistributorB2bQuery;

#[Object]
impl DistributorB2bQuery {
    /// What the organisation may order, at its tier's prices, by SKU id.
    #[graphql(name = "b2bCatalog")]
    async fn b2b_catalog(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
        category_id: Option<ID>,
    ) -> ApiResult<Connection<String, B2bSku>> {
        let who = distributor(ctx).await?;
        let page = pagination::keyset(first, after.as_deref())?;
        let category = category_id.as_ref().map(parse_id).transpose()?;
        let list = b2b::b2b_catalog(app(ctx), who, page, category).await?;
        Ok(pagination::connection(
            list,
            &page,
            |s| s.sku_id,
            Into::into,
        ))
    }

    /// The organisation's credit.
    async fn my_credit(&self, ctx: &Context<'_>) -> ApiResult<CreditStatus> {
        let who = distributor(ctx).await?;
        Ok(b2b::credit_status(app(ctx), who).await?.into())
    }

    /// Prices an order as submit will, with the hash to submit it with.
    async fn quote_purchase_order(
        &self,
        ctx: &Context<'_>,
        input: PurchaseOrderInput,
    ) -> ApiResult<Quote> {
        let who = distributor(ctx).await?;
        let lines = lines(&input)?;
        Ok(
            b2b::quote_with_rebate(app(ctx), who, &lines, rebate_of(&input))
                .await?
                .into(),
        )
    }

    /// The organisation's purchase orders, newest first.
    async fn purchase_orders(
        &self,
        ctx: &Context<'_>,
        status: Option<Vec<PoStatus>>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, PurchaseOrder>> {
        let who = distributor(ctx).await?;
        let page = pagination::keyset(first, after.as_deref())?;
        let list = b2b::purchase_orders(app(ctx), who, status.unwrap_or_default(), page).await?;
        Ok(pagination::connection(list, &page, |o| o.id, Into::into))
    }

    /// The policies for the organisation in force on `activeOn` (a day in Asia/Shanghai; now
    /// when left out), with when it acknowledged each (a closed list: the few in force).
    async fn my_policies(
        &self,
        ctx: &Context<'_>,
        active_on: Option<Date>,
    ) -> ApiResult<Vec<Policy>> {
        let who = distributor(ctx).await?;
        Ok(b2b::my_policies(app(ctx), who, active_on.map(|d| d.0))
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// One of the organisation's purchase orders, with its status history.
    async fn purchase_order(&self, ctx: &Context<'_>, id: ID) -> ApiResult<PurchaseOrder> {
        let who = distributor(ctx).await?;
        Ok(b2b::purchase_order(app(ctx), who, parse_id(&id)?)
            .await?
            .into())
    }

    /// The marketing materials HQ attached to a policy addressed to the organisation, in the
    /// order attached (a closed list: at most 20 per policy), each with download links valid
    /// for 5 minutes. A policy not addressed to the organisation is NOT_FOUND.
    async fn marketing_materials(
        &self,
        ctx: &Context<'_>,
        policy_id: ID,
    ) -> ApiResult<Vec<PolicyMaterial>> {
        let who = distributor(ctx).await?;
        Ok(
            b2b::marketing_materials(app(ctx), who, parse_id(&policy_id)?)
                .await?
                .into_iter()
                .map(Into::into)
                .collect(),
        )
    }
}

/// A marketing material (营销物料) attached to a policy: an image with signed download links.
#[derive(SimpleObject)]
pub struct PolicyMaterial {
    pub id: ID,
    pub policy_id: ID,
    pub title: String,
    pub width: i32,
    pub height: i32,
    /// largest first; the links stop working at `expiresAt`
    pub variants: Vec<crate::media::MediaVariant>,
    pub expires_at: DateTime,
    pub created_at: DateTime,
}

impl From<b2b::Material> for PolicyMaterial {
    fn from(m: b2b::Material) -> Self {
        Self {
            id: m.id.into(),
            policy_id: m.policy_id.into(),
            title: m.title,
            width: m.width,
            height: m.height,
            variants: m.variants.into_iter().map(Into::into).collect(),
            expires_at: DateTime(m.expires_at),
            created_at: DateTime(m.created_at),
        }
    }
}

#[derive(Default)]
pub struct DistributorB2bMutation;

#[Object]
impl DistributorB2bMutation {
    /// Submits an order priced by `quotePurchaseOrder` (OWNER or BUYER). CONFLICT
    /// (`QUOTE_CHANGED`) when the quote moved; the same idempotency key answers the same order.
    async fn submit_purchase_order(
        &self,
        ctx: &Context<'_>,
        input: PurchaseOrderInput,
        quote_hash: String,
        idempotency_key: String,
    ) -> ApiResult<PurchaseOrder> {
        let who = distributor(ctx).await?;
        let lines = lines(&input)?;
        let spend = (lines.as_slice(), rebate_of(&input));
        Ok(
            b2b::submit_with_rebate(app(ctx), who, spend, &quote_hash, &idempotency_key)
                .await?
                .into(),
        )
    }

    /// Changes a submitted or approved order (OWNER or BUYER) to the lines of a new quote: it
    /// takes that quote's hash and goes back to SUBMITTED (an approval never covers an edit);
    /// the credit it holds moves by the difference.
    async fn update_purchase_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: PurchaseOrderInput,
        quote_hash: String,
    ) -> ApiResult<PurchaseOrder> {
        let who = distributor(ctx).await?;
        let lines = lines(&input)?;
        if rebate_of(&input) != 0 {
            return Err(ApiError::bad_input("an edit is priced without rebate"));
        }
        Ok(
            b2b::update_purchase_order(app(ctx), who, parse_id(&id)?, &lines, &quote_hash)
                .await?
                .into(),
        )
    }

    /// Confirms a must-confirm policy (强制确认) for the organisation (OWNER or BUYER); again
    /// changes nothing.
    async fn acknowledge_policy(&self, ctx: &Context<'_>, policy_id: ID) -> ApiResult<Policy> {
        let who = distributor(ctx).await?;
        Ok(
            b2b::acknowledge_policy(app(ctx), who, parse_id(&policy_id)?)
                .await?
                .into(),
        )
    }

    /// Cancels an order before allocation (OWNER or BUYER); its credit is given back.
    async fn cancel_purchase_order(&self, ctx: &Context<'_>, id: ID) -> ApiResult<PurchaseOrder> {
        let who = distributor(ctx).await?;
        Ok(b2b::cancel_purchase_order(app(ctx), who, parse_id(&id)?)
            .await?
            .into())
    }
}

/// A channel policy (渠道政策). The rule's numbers are set for its kind only.
#[derive(SimpleObject)]
pub struct Policy {
    pub id: ID,
    pub name: String,
    pub kind: PolicyKind,
    /// None: every tier.
    pub tier_id: Option<ID>,
    pub valid_from: DateTime,
    pub valid_to: DateTime,
    pub priority: i32,
    /// Must be confirmed (强制确认) before the distributor may order.
    pub requires_ack: bool,
    /// When the caller's organisation confirmed it (distributor reads).
    pub acknowledged_at: Option<DateTime>,
    /// ORDER_REDUCTION: an order from this subtotal...
    pub threshold_fen: Option<i64>,
    /// ...gets this much off, once.
    pub off_fen: Option<i64>,
    /// BUY_N_GET_M: every full `buy` units of `skuId` bring `get` units of `giftSkuId`.
    pub sku_id: Option<ID>,
    pub buy: Option<i32>,
    pub gift_sku_id: Option<ID>,
    pub get: Option<i32>,
    /// Only distributors of this kind (null: every kind).
    pub distributor_kind: Option<b2b::DistributorKind>,
    /// Only distributors whose territory overlaps these regions (empty: everywhere).
    pub regions: Vec<String>,
    /// What the rule does, in words (a rebate's mode and cap included).
    pub explanation: String,
    /// VOLUME_REBATE: from `thresholdFen` of a quarter's received value, `rateBp` basis points
    /// (300 = 3%) of the whole value (WHOLE) or of the part above the threshold (MARGINAL).
    pub rate_bp: Option<i32>,
    pub mode: Option<RebateMode>,
    /// SCAN_REBATE: fen per first consumer scan inside the territory of a pack shipped to
    /// the distributor.
    pub fen_per_scan: Option<i64>,
    /// Rebate policies: at most this percent of an order may be paid with rebate.
    pub max_use_percent: Option<i32>,
}

impl From<b2b::Policy> for Policy {
    fn from(p: b2b::Policy) -> Self {
        let mut out = Self {
            id: p.id.into(),
            name: p.name,
            kind: p.kind,
            tier_id: p.tier_id.map(Into::into),
            valid_from: p.valid_from.into(),
            valid_to: p.valid_to.into(),
            priority: p.priority,
            requires_ack: p.requires_ack,
            acknowledged_at: p.acknowledged_at.map(Into::into),
            threshold_fen: None,
            off_fen: None,
            sku_id: None,
            buy: None,
            gift_sku_id: None,
            get: None,
            distributor_kind: p.distributor_kind,
            regions: p.regions,
            explanation: p.explanation,
            rate_bp: None,
            mode: None,
            fen_per_scan: None,
            max_use_percent: None,
        };
        match p.rule {
            PolicyRule::OrderReduction {
                threshold_fen,
                off_fen,
            } => {
                out.threshold_fen = Some(threshold_fen);
                out.off_fen = Some(off_fen);
            }
            PolicyRule::BuyNGetM {
                sku_id,
                buy,
                gift_sku_id,
                get,
            } => {
                out.sku_id = Some(sku_id.into());
                out.buy = Some(buy);
                out.gift_sku_id = Some(gift_sku_id.into());
                out.get = Some(get);
            }
            PolicyRule::VolumeRebate {
                threshold_fen,
                rate_bp,
                mode,
                max_use_percent,
            } => {
                out.threshold_fen = Some(threshold_fen);
                out.rate_bp = Some(rate_bp);
                out.mode = Some(mode);
                out.max_use_percent = Some(max_use_percent);
            }
            PolicyRule::ScanRebate {
                fen_per_scan,
                max_use_percent,
            } => {
                out.fen_per_scan = Some(fen_per_scan);
                out.max_use_percent = Some(max_use_percent);
            }
        }
        out
    }
}

#[derive(InputObject)]
pub struct PolicyInput {
    pub name: String,
    pub kind: PolicyKind,
    /// Left out: every tier.
    pub tier_id: Option<ID>,
    pub valid_from: DateTime,
    pub valid_to: DateTime,
    #[graphql(default)]
    pub priority: i32,
    #[graphql(default)]
    pub requires_ack: bool,
    /// ORDER_REDUCTION only.
    pub threshold_fen: Option<i64>,
    pub off_fen: Option<i64>,
    /// BUY_N_GET_M only.
    pub sku_id: Option<ID>,
    pub buy: Option<i32>,
    pub gift_sku_id: Option<ID>,
    pub get: Option<i32>,
    /// Left out: every kind of distributor.
    pub distributor_kind: Option<b2b::DistributorKind>,
    /// Provinces or cities (names or GB/T 2260 codes); left out or empty: everywhere.
    #[graphql(default)]
    pub regions: Vec<String>,
    /// VOLUME_REBATE only (with `thresholdFen`).
    pub rate_bp: Option<i32>,
    pub mode: Option<RebateMode>,
    /// SCAN_REBATE only.
    pub fen_per_scan: Option<i64>,
    /// VOLUME_REBATE and SCAN_REBATE: the most of an order rebate may pay, in percent
    /// (left out: 0, rebate from this policy's distributors may not be spent).
    pub max_use_percent: Option<i32>,
}

fn rule_of(input: &PolicyInput) -> ApiResult<PolicyRule> {
    let missing = || ApiError::bad_input("the rule's fields for this kind are required");
    Ok(match input.kind {
        PolicyKind::OrderReduction => PolicyRule::OrderReduction {
            threshold_fen: input.threshold_fen.ok_or_else(missing)?,
            off_fen: input.off_fen.ok_or_else(missing)?,
        },
        PolicyKind::BuyNGetM => PolicyRule::BuyNGetM {
            sku_id: parse_id(input.sku_id.as_ref().ok_or_else(missing)?)?,
            buy: input.buy.ok_or_else(missing)?,
            gift_sku_id: parse_id(input.gift_sku_id.as_ref().ok_or_else(missing)?)?,
            get: input.get.ok_or_else(missing)?,
        },
        PolicyKind::VolumeRebate => PolicyRule::VolumeRebate {
            threshold_fen: input.threshold_fen.ok_or_else(missing)?,
            rate_bp: input.rate_bp.ok_or_else(missing)?,
            mode: input.mode.ok_or_else(missing)?,
            max_use_percent: input.max_use_percent.unwrap_or(0),
        },
        PolicyKind::ScanRebate => PolicyRule::ScanRebate {
            fen_per_scan: input.fen_per_scan.ok_or_else(missing)?,
            max_use_percent: input.max_use_percent.unwrap_or(0),
        },
    })
}

/// A distributor tier (经销商等级).
#[derive(SimpleObject)]
pub struct DistributorTier {
    pub id: ID,
    pub code: String,
    pub name: String,
    pub updated_at: DateTime,
}

impl From<b2b::DistributorTier> for DistributorTier {
    fn from(t: b2b::DistributorTier) -> Self {
        Self {
            id: t.id.into(),
            code: t.code,
            name: t.name,
            updated_at: t.updated_at.into(),
        }
    }
}

#[derive(InputObject)]
pub struct DistributorTierInput {
    pub code: String,
    pub name: String,
}

#[derive(InputObject)]
pub struct PriceListItemInput {
    pub sku_id: ID,
    pub moq: i32,
    pub case_size: i32,
    /// Rising `minQty`; the first step at or below the MOQ.
    pub ladder: Vec<PriceStep>,
}

/// A published price-list version.
#[derive(SimpleObject)]
pub struct PriceList {
    pub id: ID,
    pub tier_id: ID,
    pub version: i32,
    pub valid_from: DateTime,
    pub item_count: i32,
}

#[derive(InputObject)]
pub struct CreditTermsInput {
    pub limit_fen: Fen,
    pub payment_term_days: i32,
    pub grace_days: i32,
    #[graphql(default)]
    pub prepaid: bool,
}

#[derive(Default)]
pub struct StaffB2bQuery;

#[Object]
impl StaffB2bQuery {
    /// Every organisation's purchase orders, newest first (HQ, finance); what waits for
    /// approval is `status: [SUBMITTED]`.
    async fn purchase_order_queue(
        &self,
        ctx: &Context<'_>,
        status: Option<Vec<PoStatus>>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, PurchaseOrder>> {
        let staff = staff(ctx).await?;
        let page = pagination::staff_keyset(
            staff,
            &[domain::auth::Permission::ViewDistributors],
            first,
            after.as_deref(),
        )?;
        let list =
            b2b::purchase_order_queue(app(ctx), staff, status.unwrap_or_default(), page).await?;
        Ok(pagination::connection(list, &page, |o| o.id, Into::into))
    }

    /// Every distributor tier, by code.
    async fn distributor_tiers(&self, ctx: &Context<'_>) -> ApiResult<Vec<DistributorTier>> {
        let staff = staff(ctx).await?;
        Ok(b2b::distributor_tiers(app(ctx), staff)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// A distributor's credit (HQ, finance).
    async fn distributor_credit(
        &self,
        ctx: &Context<'_>,
        distributor_id: ID,
    ) -> ApiResult<CreditStatus> {
        let staff = staff(ctx).await?;
        Ok(
            b2b::credit_status_for_staff(app(ctx), staff, parse_id(&distributor_id)?)
                .await?
                .into(),
        )
    }
}

#[derive(Default)]
pub struct StaffB2bMutation;

#[Object]
impl StaffB2bMutation {
    /// Approves a submitted order as quoted with `quoteHash` (HQ). An order edited since
    /// carries another hash: CONFLICT (`QUOTE_CHANGED`); an order no longer submitted (another
    /// approver was first): CONFLICT (`PO_WRONG_STATE`).
    async fn approve_purchase_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        quote_hash: String,
    ) -> ApiResult<PurchaseOrder> {
        let staff = staff(ctx).await?;
        Ok(
            b2b::approve_purchase_order(app(ctx), staff, parse_id(&id)?, &quote_hash)
                .await?
                .into(),
        )
    }

    /// Creates a channel policy (HQ): ORDER_REDUCTION (满减) or BUY_N_GET_M (搭赠, rounded
    /// down, a SKU's lines summed first).
    async fn create_policy(&self, ctx: &Context<'_>, input: PolicyInput) -> ApiResult<Policy> {
        let staff = staff(ctx).await?;
        let rule = rule_of(&input)?;
        let tier_id = input.tier_id.as_ref().map(parse_id).transpose()?;
        let input = b2b::PolicyInput {
            name: input.name,
            rule,
            tier_id,
            valid_from: input.valid_from.0,
            valid_to: input.valid_to.0,
            priority: input.priority,
            requires_ack: input.requires_ack,
            distributor_kind: input.distributor_kind,
            regions: input.regions,
        };
        Ok(b2b::create_policy(app(ctx), staff, input).await?.into())
    }

    /// Attaches an uploaded MARKETING_MATERIAL (`uploadMedia`, stored PRIVATE) to a policy
    /// with a title of 1 to 100 characters (HQ); at most 20 per policy, each asset once.
    async fn attach_policy_material(
        &self,
        ctx: &Context<'_>,
        policy_id: ID,
        asset_id: ID,
        title: String,
    ) -> ApiResult<PolicyMaterial> {
        let staff = staff(ctx).await?;
        Ok(b2b::attach_policy_material(
            app(ctx),
            staff,
            parse_id(&policy_id)?,
            parse_id(&asset_id)?,
            &title,
        )
        .await?
        .into())
    }

    /// Rejects a submitted or approved order, with the reason (HQ); its credit is given back.
    async fn reject_purchase_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> ApiResult<PurchaseOrder> {
        let staff = staff(ctx).await?;
        Ok(
            b2b::reject_purchase_order(app(ctx), staff, parse_id(&id)?, &reason)
                .await?
                .into(),
        )
    }

    /// Creates the tier with this code, or renames it (HQ).
    async fn upsert_distributor_tier(
        &self,
        ctx: &Context<'_>,
        input: DistributorTierInput,
    ) -> ApiResult<DistributorTier> {
        let staff = staff(ctx).await?;
        let input = b2b::TierInput {
            code: input.code,
            name: input.name,
        };
        Ok(b2b::upsert_distributor_tier(app(ctx), staff, input)
            .await?
            .into())
    }

    /// Puts a distributor on a tier (HQ, audited).
    async fn assign_distributor_tier(
        &self,
        ctx: &Context<'_>,
        distributor_id: ID,
        tier_id: ID,
    ) -> ApiResult<DistributorTier> {
        let staff = staff(ctx).await?;
        Ok(b2b::assign_distributor_tier(
            app(ctx),
            meta(ctx)?,
            staff,
            parse_id(&distributor_id)?,
            parse_id(&tier_id)?,
        )
        .await?
        .into())
    }

    /// Publishes a new version of a tier's price list, in force from `validFrom` (a day in
    /// Asia/Shanghai, today or later). Orders keep the version they were priced with.
    async fn publish_price_list(
        &self,
        ctx: &Context<'_>,
        tier_id: ID,
        valid_from: Date,
        items: Vec<PriceListItemInput>,
    ) -> ApiResult<PriceList> {
        let staff = staff(ctx).await?;
        let items = items
            .into_iter()
            .map(|i| {
                Ok(b2b::PriceListItemInput {
                    sku_id: parse_id(&i.sku_id)?,
                    moq: i.moq,
                    case_size: i.case_size,
                    ladder: i
                        .ladder
                        .into_iter()
                        .map(|s| b2b::PriceStep {
                            min_qty: s.min_qty,
                            unit_price_fen: s.unit_price_fen,
                        })
                        .collect(),
                })
            })
            .collect::<ApiResult<Vec<_>>>()?;
        let list =
            b2b::publish_price_list(app(ctx), staff, parse_id(&tier_id)?, valid_from.0, items)
                .await?;
        Ok(PriceList {
            id: list.id.into(),
            tier_id: list.tier_id.into(),
            version: list.version,
            valid_from: list.valid_from.into(),
            item_count: i32::try_from(list.item_count).unwrap_or(i32::MAX),
        })
    }

    /// Sets a distributor's credit terms, with the reason (HQ, finance; audited). A limit below
    /// the credit in use is refused.
    async fn set_credit_terms(
        &self,
        ctx: &Context<'_>,
        distributor_id: ID,
        terms: CreditTermsInput,
        reason: String,
    ) -> ApiResult<CreditStatus> {
        let staff = staff(ctx).await?;
        let terms = b2b::CreditTerms {
            limit_fen: terms.limit_fen.0,
            payment_term_days: terms.payment_term_days,
            grace_days: terms.grace_days,
            prepaid: terms.prepaid,
        };
        Ok(b2b::set_credit_terms(
            app(ctx),
            meta(ctx)?,
            staff,
            parse_id(&distributor_id)?,
            terms,
            &reason,
        )
        .await?
        .into())
    }
}

//! B2B fulfilment (issue 15): allocation, shipment with pack-code ranges, receipt, receivables
//! and payments. Thin resolvers over `domain::b2b`.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use domain::b2b::{self, PoStatus};

use crate::context::{app, distributor, meta, staff};
use crate::error::{ApiResult, parse_id};
use crate::pagination;
use crate::scalars::{Date, DateTime, Fen};

/// How far one order line has come.
#[derive(SimpleObject)]
pub struct FulfilmentLine {
    pub line_id: ID,
    pub sku_id: ID,
    pub is_gift: bool,
    pub ordered_qty: i32,
    pub allocated_qty: i32,
    /// Could not be allocated yet (no stock with enough shelf life).
    pub backordered_qty: i32,
    pub shipped_qty: i32,
    pub received_qty: i32,
    pub damaged_qty: i32,
    /// Shipped but neither received nor damaged (once the receipt is confirmed).
    pub short_qty: i32,
}

/// Units of one stock batch allocated to a line.
#[derive(SimpleObject)]
pub struct AllocatedBatch {
    pub line_id: ID,
    pub stock_batch_id: ID,
    pub lot: String,
    pub expires_on: Date,
    pub qty: i32,
    pub shipped_qty: i32,
}

/// Pack codes shipped on a line: serials `serialFrom..=serialTo` of a code batch.
#[derive(SimpleObject)]
pub struct ShippedCodeRange {
    pub line_id: ID,
    pub code_batch_id: ID,
    pub serial_from: i64,
    pub serial_to: i64,
}

#[derive(SimpleObject)]
pub struct Shipment {
    pub id: ID,
    pub no: String,
    /// What this shipment invoiced (a receivable, for orders on credit).
    pub invoice_fen: Fen,
    pub shipped_at: DateTime,
    pub code_ranges: Vec<ShippedCodeRange>,
}

/// A purchase order's fulfilment: lines, allocated batches, shipments.
#[derive(SimpleObject)]
pub struct Fulfilment {
    pub purchase_order_id: ID,
    pub status: PoStatus,
    pub lines: Vec<FulfilmentLine>,
    pub allocations: Vec<AllocatedBatch>,
    pub shipments: Vec<Shipment>,
}

impl From<b2b::Fulfilment> for Fulfilment {
    fn from(f: b2b::Fulfilment) -> Self {
        Self {
            purchase_order_id: f.purchase_order_id.into(),
            status: f.status,
            lines: f
                .lines
                .into_iter()
                .map(|l| FulfilmentLine {
                    line_id: l.line_id.into(),
                    sku_id: l.sku_id.into(),
                    is_gift: l.is_gift,
                    ordered_qty: l.ordered_qty,
                    allocated_qty: l.allocated_qty,
                    backordered_qty: l.backordered_qty,
                    shipped_qty: l.shipped_qty,
                    received_qty: l.received_qty,
                    damaged_qty: l.damaged_qty,
                    short_qty: l.short_qty,
                })
                .collect(),
            allocations: f
                .allocations
                .into_iter()
                .map(|a| AllocatedBatch {
                    line_id: a.line_id.into(),
                    stock_batch_id: a.stock_batch_id.into(),
                    lot: a.lot,
                    expires_on: Date(a.expires_on),
                    qty: a.qty,
                    shipped_qty: a.shipped_qty,
                })
                .collect(),
            shipments: f
                .shipments
                .into_iter()
                .map(|s| Shipment {
                    id: s.id.into(),
                    no: s.no,
                    invoice_fen: s.invoice_fen.into(),
                    shipped_at: s.shipped_at.into(),
                    code_ranges: s
                        .ranges
                        .into_iter()
                        .map(|r| ShippedCodeRange {
                            line_id: r.line_id.into(),
                            code_batch_id: r.code_batch_id.into(),
                            serial_from: r.serial_from,
                            serial_to: r.serial_to,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// Pack codes of one order line packed in a carton: serials `serialFrom..=serialTo` of a code
/// batch of the line's SKU; `qty` must be the range's size.
#[derive(InputObject)]
pub struct CartonLineInput {
    pub line_id: ID,
    pub code_batch_id: ID,
    pub serial_from: i64,
    pub serial_to: i64,
    pub qty: i32,
}

#[derive(InputObject)]
pub struct CartonInput {
    pub lines: Vec<CartonLineInput>,
}

/// What arrived of one line (a line left out arrived whole).
#[derive(InputObject)]
pub struct ReceiptLineInput {
    pub line_id: ID,
    pub received_qty: i32,
    #[graphql(default)]
    pub damaged_qty: i32,
}

/// A receivable (应收) from a shipment.
#[derive(SimpleObject)]
pub struct Receivable {
    pub id: ID,
    pub purchase_order_id: ID,
    pub shipment_id: ID,
    pub amount_fen: Fen,
    pub paid_fen: Fen,
    /// A day in Asia/Shanghai: ship day + payment term.
    pub due_on: Date,
    pub overdue: bool,
    pub created_at: DateTime,
}

impl From<b2b::Receivable> for Receivable {
    fn from(r: b2b::Receivable) -> Self {
        Self {
            id: r.id.into(),
            purchase_order_id: r.purchase_order_id.into(),
            shipment_id: r.shipment_id.into(),
            amount_fen: r.amount_fen.into(),
            paid_fen: r.paid_fen.into(),
            due_on: Date(r.due_on),
            overdue: r.overdue,
            created_at: r.created_at.into(),
        }
    }
}

/// Open and overdue receivables; on hold (no new orders) when overdue past the grace days.
#[derive(SimpleObject)]
pub struct AccountStanding {
    pub open_fen: Fen,
    pub overdue_fen: Fen,
    pub on_hold: bool,
    pub held_since_due_on: Option<Date>,
}

impl From<b2b::AccountStanding> for AccountStanding {
    fn from(s: b2b::AccountStanding) -> Self {
        Self {
            open_fen: s.open_fen.into(),
            overdue_fen: s.overdue_fen.into(),
            on_hold: s.on_hold,
            held_since_due_on: s.held_since_due_on.map(Date),
        }
    }
}

/// A distributor's payment (回款).
#[derive(SimpleObject)]
pub struct DistributorPayment {
    pub id: ID,
    pub distributor_id: ID,
    pub amount_fen: Fen,
    pub reference: String,
    pub recorded_at: DateTime,
}

impl From<b2b::DistributorPayment> for DistributorPayment {
    fn from(p: b2b::DistributorPayment) -> Self {
        Self {
            id: p.id.into(),
            distributor_id: p.distributor_id.into(),
            amount_fen: p.amount_fen.into(),
            reference: p.reference,
            recorded_at: p.recorded_at.into(),
        }
    }
}

#[derive(Default)]
pub struct StaffFulfilmentQuery;

#[Object]
impl StaffFulfilmentQuery {
    /// A purchase order's fulfilment (HQ, finance).
    async fn purchase_order_fulfilment(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Fulfilment> {
        let staff = staff(ctx).await?;
        Ok(
            b2b::purchase_order_fulfilment_for_staff(app(ctx), staff, parse_id(&id)?)
                .await?
                .into(),
        )
    }

    /// A distributor's receivables standing and hold (HQ, finance).
    async fn distributor_account_standing(
        &self,
        ctx: &Context<'_>,
        distributor_id: ID,
    ) -> ApiResult<AccountStanding> {
        let staff = staff(ctx).await?;
        Ok(
            b2b::account_standing_for_staff(app(ctx), staff, parse_id(&distributor_id)?)
                .await?
                .into(),
        )
    }
}

#[derive(Default)]
pub struct StaffFulfilmentMutation;

#[Object]
impl StaffFulfilmentMutation {
    /// Allocates an approved order from the central warehouse, first-expiry-first-out within
    /// the distributor's minimum shelf life (HQ); what cannot be allocated is backordered.
    /// Called again on an allocated order, fills its backorders.
    async fn allocate_purchase_order(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Fulfilment> {
        let staff = staff(ctx).await?;
        Ok(
            b2b::allocate_purchase_order(app(ctx), staff, parse_id(&id)?)
                .await?
                .into(),
        )
    }

    /// Ships cartons of an allocated order (HQ), binding pack-code ranges to its lines; the
    /// shipment invoices its share of the order (a receivable due after the payment term).
    async fn ship_purchase_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        cartons: Vec<CartonInput>,
    ) -> ApiResult<Fulfilment> {
        let staff = staff(ctx).await?;
        let mut list = Vec::with_capacity(cartons.len());
        for c in cartons {
            let mut lines = Vec::with_capacity(c.lines.len());
            for l in c.lines {
                lines.push(b2b::CartonLine {
                    line_id: parse_id(&l.line_id)?,
                    code_batch_id: parse_id(&l.code_batch_id)?,
                    serial_from: l.serial_from,
                    serial_to: l.serial_to,
                    qty: l.qty,
                });
            }
            list.push(b2b::Carton { lines });
        }
        Ok(
            b2b::ship_purchase_order(app(ctx), meta(ctx)?, staff, parse_id(&id)?, &list)
                .await?
                .into(),
        )
    }

    /// Records a distributor's payment (HQ, finance; audited): applied to the oldest
    /// receivables. The same reference again answers the first payment.
    async fn record_distributor_payment(
        &self,
        ctx: &Context<'_>,
        distributor_id: ID,
        amount_fen: Fen,
        reference: String,
        idempotency_key: String,
    ) -> ApiResult<DistributorPayment> {
        let staff = staff(ctx).await?;
        Ok(b2b::record_distributor_payment(
            app(ctx),
            meta(ctx)?,
            staff,
            parse_id(&distributor_id)?,
            amount_fen.0,
            &reference,
            &idempotency_key,
        )
        .await?
        .into())
    }

    /// Sets the days of shelf life a batch must have left to be allocated to a distributor
    /// (HQ; audited); null clears it.
    async fn set_min_shelf_life(
        &self,
        ctx: &Context<'_>,
        distributor_id: ID,
        days: Option<i32>,
    ) -> ApiResult<Option<i32>> {
        let staff = staff(ctx).await?;
        Ok(b2b::set_min_shelf_life(
            app(ctx),
            meta(ctx)?,
            staff,
            parse_id(&distributor_id)?,
            days,
        )
        .await?)
    }
}

#[derive(Default)]
pub struct DistributorFulfilmentQuery;

#[Object]
impl DistributorFulfilmentQuery {
    /// The fulfilment of one of the organisation's orders.
    async fn purchase_order_fulfilment(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Fulfilment> {
        let who = distributor(ctx).await?;
        Ok(
            b2b::purchase_order_fulfilment(app(ctx), who, parse_id(&id)?)
                .await?
                .into(),
        )
    }

    /// The organisation's receivables, newest first.
    async fn my_receivables(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, Receivable>> {
        let who = distributor(ctx).await?;
        let page = pagination::keyset(first, after.as_deref())?;
        let list = b2b::my_receivables(app(ctx), who, page).await?;
        Ok(pagination::connection(list, &page, |r| r.id, Into::into))
    }

    /// Open and overdue receivables, and whether ordering is on hold.
    async fn my_account_standing(&self, ctx: &Context<'_>) -> ApiResult<AccountStanding> {
        let who = distributor(ctx).await?;
        Ok(b2b::my_account_standing(app(ctx), who).await?.into())
    }
}

#[derive(Default)]
pub struct DistributorFulfilmentMutation;

#[Object]
impl DistributorFulfilmentMutation {
    /// Confirms receipt of a shipped order (OWNER or BUYER), with short or damaged units per
    /// line.
    async fn confirm_receipt(
        &self,
        ctx: &Context<'_>,
        id: ID,
        lines: Option<Vec<ReceiptLineInput>>,
    ) -> ApiResult<Fulfilment> {
        let who = distributor(ctx).await?;
        let mut list = Vec::new();
        for l in lines.unwrap_or_default() {
            list.push(b2b::ReceiptLine {
                line_id: parse_id(&l.line_id)?,
                received_qty: l.received_qty,
                damaged_qty: l.damaged_qty,
            });
        }
        Ok(b2b::confirm_receipt(app(ctx), who, parse_id(&id)?, &list)
            .await?
            .into())
    }
}

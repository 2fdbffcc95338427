//! Flash sales (秒杀): HQ schedules them; members see the current ones and grab units: a winner
//! is answered at once with a grab ticket, and the order at the flash price (to pay within the
//! payment time-out) follows within two seconds (`flashSaleOrder`).

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use domain::auth::Permission;
use domain::flash_sales;

use crate::context::{app, member, staff};
use crate::error::{ApiResult, parse_id};
use crate::orders::Order;
use crate::pagination;
use crate::scalars::DateTime;

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum FlashSaleStatus {
    Scheduled,
    Live,
    Ended,
}

impl From<flash_sales::FlashSaleStatus> for FlashSaleStatus {
    fn from(s: flash_sales::FlashSaleStatus) -> Self {
        match s {
            flash_sales::FlashSaleStatus::Scheduled => Self::Scheduled,
            flash_sales::FlashSaleStatus::Live => Self::Live,
            flash_sales::FlashSaleStatus::Ended => Self::Ended,
        }
    }
}

#[derive(SimpleObject)]
pub struct FlashSale {
    pub id: ID,
    pub title: String,
    pub sku_id: ID,
    pub price_fen: i64,
    /// The sale's units.
    pub stock: i32,
    /// Units held by orders that are not closed (unpaid orders that close give theirs back), as
    /// last settled: counted in bulk every 20 seconds while the sale is active, not by each order.
    pub sold: i32,
    pub per_member_limit: i32,
    pub starts_at: DateTime,
    pub ends_at: DateTime,
    pub status: FlashSaleStatus,
}

impl From<flash_sales::FlashSale> for FlashSale {
    fn from(s: flash_sales::FlashSale) -> Self {
        Self {
            id: s.id.into(),
            title: s.title,
            sku_id: s.sku_id.into(),
            price_fen: s.price_fen,
            stock: s.stock,
            sold: s.sold,
            per_member_limit: s.per_member_limit,
            starts_at: s.starts_at.into(),
            ends_at: s.ends_at.into(),
            status: s.status.into(),
        }
    }
}

/// A winning grab: the ticket a winner gets at once. The units are the member's from then on;
/// the order at the flash price is written by a background writer, exactly once per ticket,
/// and shows here (`flashSaleOrder`) and in `myOrders` within 2 seconds (`orderExpectedBy`).
#[derive(SimpleObject)]
pub struct FlashSaleGrab {
    /// The ticket: ask `flashSaleOrder(ticket: …)` for its order.
    pub ticket: ID,
    pub sale_id: ID,
    /// The units reserved for the member.
    pub quantity: i32,
    /// PENDING until the order is written, then ORDERED (or FAILED, with `failure`: the order
    /// could not be written and the units went back to the sale; rare: the counters had granted
    /// what the database could not hold).
    pub status: flash_sales::TicketStatus,
    pub failure: Option<flash_sales::TicketFailure>,
    pub grabbed_at: DateTime,
    /// When the order is expected to exist: 2 seconds after the grab.
    pub order_expected_by: DateTime,
    /// When the order was written (or the ticket failed).
    pub order_written_at: Option<DateTime>,
    /// The order, once written (null while PENDING and when FAILED).
    pub order: Option<Order>,
}

impl FlashSaleGrab {
    fn new(t: flash_sales::GrabTicket, order: Option<domain::orders::Order>) -> Self {
        Self {
            ticket: t.id.into(),
            sale_id: t.sale_id.into(),
            quantity: t.quantity,
            status: t.status,
            failure: t.failure,
            grabbed_at: t.grabbed_at.into(),
            order_expected_by: t.order_expected_by.into(),
            order_written_at: t.order_written_at.map(Into::into),
            order: order.map(Into::into),
        }
    }
}

#[derive(InputObject)]
pub struct ScheduleFlashSaleInput {
    pub title: String,
    pub sku_id: ID,
    /// The flash price of one unit, in fen.
    pub price_fen: i64,
    /// Units on sale.
    pub stock: i32,
    pub per_member_limit: i32,
    pub starts_at: DateTime,
    pub ends_at: DateTime,
}

#[derive(Default)]
pub struct ConsumerFlashSalesQuery;

#[Object]
impl ConsumerFlashSalesQuery {
    /// Flash sales that have not ended, soonest start first.
    async fn flash_sales(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, FlashSale>> {
        member(ctx).await?;
        let page = pagination::keyset(first, after.as_deref())?;
        let list = flash_sales::current_flash_sales(app(ctx), page).await?;
        Ok(pagination::connection(
            list,
            &page,
            |s| (s.starts_at, s.id),
            Into::into,
        ))
    }

    async fn flash_sale(&self, ctx: &Context<'_>, id: ID) -> ApiResult<FlashSale> {
        member(ctx).await?;
        Ok(flash_sales::flash_sale(app(ctx), parse_id(&id)?)
            .await?
            .into())
    }

    /// The member's grab ticket and its order once written. While the ticket is PENDING this
    /// waits up to 2 seconds for the order (answering as soon as it is written), so one call
    /// after `grabFlashSale` normally returns the order. NOT_FOUND for another member's ticket.
    async fn flash_sale_order(&self, ctx: &Context<'_>, ticket: ID) -> ApiResult<FlashSaleGrab> {
        let me = member(ctx).await?;
        let (ticket, order) =
            flash_sales::flash_sale_order(app(ctx), me, parse_id(&ticket)?).await?;
        Ok(FlashSaleGrab::new(ticket, order))
    }
}

#[derive(Default)]
pub struct ConsumerFlashSalesMutation;

#[Object]
impl ConsumerFlashSalesMutation {
    /// Grabs units of a flash sale. A winner is answered at once with a grab ticket (status
    /// PENDING): the units are hers, and the order at the flash price (to pay within the payment
    /// time-out) is written within 2 seconds: `flashSaleOrder(ticket)` returns it (waiting for
    /// it if need be) and it shows in `myOrders`. Errors: BAD_USER_INPUT (not started yet),
    /// EXPIRED (ended), SOLD_OUT, LIMIT_REACHED, RATE_LIMITED, UNAVAILABLE. The same idempotency
    /// key replays the first answer (the same ticket, with its order once written); with another
    /// quantity it is a CONFLICT.
    async fn grab_flash_sale(
        &self,
        ctx: &Context<'_>,
        sale_id: ID,
        #[graphql(default = 1)] quantity: i32,
        idempotency_key: String,
    ) -> ApiResult<FlashSaleGrab> {
        let me = member(ctx).await?;
        let state = ctx.data_unchecked::<std::sync::Arc<domain::AppState>>();
        let ticket = flash_sales::grab_flash_sale(
            state,
            me,
            parse_id(&sale_id)?,
            quantity,
            &idempotency_key,
        )
        .await?;
        let order = flash_sales::order_of(state, &ticket).await?;
        Ok(FlashSaleGrab::new(ticket, order))
    }
}

#[derive(Default)]
pub struct StaffFlashSalesQuery;

#[Object]
impl StaffFlashSalesQuery {
    /// Every flash sale, newest first (HQ).
    async fn flash_sales(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, FlashSale>> {
        let staff = staff(ctx).await?;
        let page = pagination::staff_keyset(
            staff,
            &[Permission::ManageFlashSales],
            first,
            after.as_deref(),
        )?;
        let list = flash_sales::all_flash_sales(app(ctx), staff, page).await?;
        Ok(pagination::connection(list, &page, |s| s.id, Into::into))
    }
}

#[derive(Default)]
pub struct StaffFlashSalesMutation;

#[Object]
impl StaffFlashSalesMutation {
    /// Schedules a flash sale (HQ). Its counters are warmed before it starts.
    async fn schedule_flash_sale(
        &self,
        ctx: &Context<'_>,
        input: ScheduleFlashSaleInput,
    ) -> ApiResult<FlashSale> {
        let staff = staff(ctx).await?;
        Ok(flash_sales::schedule_flash_sale(
            app(ctx),
            staff,
            flash_sales::NewFlashSale {
                title: input.title,
                sku_id: parse_id(&input.sku_id)?,
                price_fen: input.price_fen,
                stock: input.stock,
                per_member_limit: input.per_member_limit,
                starts_at: input.starts_at.0,
                ends_at: input.ends_at.0,
            },
        )
        .await?
        .into())
    }
}

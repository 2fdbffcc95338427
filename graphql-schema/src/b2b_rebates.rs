//! Distributor rebates (返利): the distributor's account and ledger, HQ's and finance's view of
//! any distributor's, and the quarter's settlement. Thin: the rules live in
//! `domain::b2b::rebates`.

use async_graphql::connection::Connection;
use async_graphql::{ComplexObject, Context, ID, Object, SimpleObject};
use domain::b2b;
use entities::rebate_entry::RebateEntryKind;

use crate::context::{app, distributor, meta, staff};
use crate::error::{ApiResult, parse_id};
use crate::pagination;
use crate::scalars::{DateTime, Fen};

/// A distributor's rebate account (返利账户). Always accrued + owed = pending + available +
/// held + used.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct RebateAccount {
    pub distributor_id: ID,
    /// Everything accrued, net of reversals.
    pub accrued_fen: Fen,
    /// Accrued, waiting for its quarter's settlement.
    pub pending_fen: Fen,
    /// Settled: may pay for orders.
    pub available_fen: Fen,
    /// Held by orders not yet shipped.
    pub held_fen: Fen,
    /// Spent on shipped orders.
    pub used_fen: Fen,
    /// Taken back after settlement (a return) beyond what was available: later settlements
    /// pay it off first.
    pub owed_fen: Fen,
    #[graphql(skip)]
    pub inner: b2b::RebateAccount,
}

impl From<b2b::RebateAccount> for RebateAccount {
    fn from(a: b2b::RebateAccount) -> Self {
        Self {
            distributor_id: a.distributor_id.into(),
            accrued_fen: Fen(a.accrued_fen),
            pending_fen: Fen(a.pending_fen),
            available_fen: Fen(a.available_fen),
            held_fen: Fen(a.held_fen),
            used_fen: Fen(a.used_fen),
            owed_fen: Fen(a.owed_fen),
            inner: a,
        }
    }
}

#[ComplexObject]
impl RebateAccount {
    /// The ledger, newest first: every accrual, reversal, settlement and use.
    async fn ledger(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, RebateEntry>> {
        let page = pagination::keyset(first, after.as_deref())?;
        let list = b2b::rebate_ledger(app(ctx), &self.inner, page).await?;
        Ok(pagination::connection(list, &page, |e| e.id, Into::into))
    }
}

/// One ledger entry (append-only; one per event and kind).
#[derive(SimpleObject)]
pub struct RebateEntry {
    pub id: ID,
    pub kind: RebateEntryKind,
    /// The quarter in Asia/Shanghai the amount belongs to (`2026Q1`).
    pub quarter: String,
    /// The rebate policy that earned it (accruals).
    pub policy_id: Option<ID>,
    /// Signed: what it added to (or took from) the account's column it moves.
    pub amount_fen: Fen,
    /// The event: `receipt:<order>:p<policy>`, `scan:<scan>:p<policy>`, `po:<order>`,
    /// `settle:<quarter>:...`, `return:<return>:p<policy>`.
    pub source_ref: String,
    pub note: Option<String>,
    pub created_at: DateTime,
}

impl From<b2b::RebateEntry> for RebateEntry {
    fn from(e: b2b::RebateEntry) -> Self {
        Self {
            id: e.id.into(),
            kind: e.kind,
            quarter: e.quarter,
            policy_id: e.policy_id.map(Into::into),
            amount_fen: Fen(e.amount_fen),
            source_ref: e.source_ref,
            note: e.note,
            created_at: e.created_at.into(),
        }
    }
}

/// What one settlement did (a second settlement of a quarter pays only the difference).
#[derive(SimpleObject)]
pub struct RebateSettlement {
    pub quarter: String,
    pub distributors_paid: i64,
    /// Made available by this settlement.
    pub settled_fen: Fen,
    /// Corrections the recompute from the facts wrote to the ledger.
    pub adjusted_fen: Fen,
}

#[derive(Default)]
pub struct DistributorRebatesQuery;

#[Object]
impl DistributorRebatesQuery {
    /// The organisation's rebate account and ledger.
    async fn rebate_account(&self, ctx: &Context<'_>) -> ApiResult<RebateAccount> {
        let who = distributor(ctx).await?;
        Ok(b2b::rebate_account(app(ctx), who).await?.into())
    }
}

#[derive(Default)]
pub struct StaffRebatesQuery;

#[Object]
impl StaffRebatesQuery {
    /// A distributor's rebate account and ledger (HQ, finance).
    async fn distributor_rebate_account(
        &self,
        ctx: &Context<'_>,
        distributor_id: ID,
    ) -> ApiResult<RebateAccount> {
        let me = staff(ctx).await?;
        Ok(
            b2b::distributor_rebate_account(app(ctx), me, parse_id(&distributor_id)?)
                .await?
                .into(),
        )
    }
}

#[derive(Default)]
pub struct StaffRebatesMutation;

#[Object]
impl StaffRebatesMutation {
    /// Settles an ended quarter (`2026Q1`, Asia/Shanghai) for every distributor (HQ, finance;
    /// audited): recomputed from receipts, returns and scans, only what was not settled before
    /// becomes available. Again: pays only the difference.
    async fn settle_rebates(
        &self,
        ctx: &Context<'_>,
        quarter: String,
    ) -> ApiResult<RebateSettlement> {
        let me = staff(ctx).await?;
        let s = b2b::settle_rebates(app(ctx), meta(ctx)?, me, &quarter).await?;
        Ok(RebateSettlement {
            quarter: s.quarter,
            distributors_paid: s.distributors_paid,
            settled_fen: Fen(s.settled_fen),
            adjusted_fen: Fen(s.adjusted_fen),
        })
    }

    /// Accepts a requested return (HQ; audited): stock back, a credit note, the rebate
    /// accrued on the units reversed. Once.
    #[graphql(name = "acceptB2bReturn")]
    async fn accept_b2b_return(&self, ctx: &Context<'_>, id: ID) -> ApiResult<B2bReturn> {
        let me = staff(ctx).await?;
        Ok(
            b2b::accept_b2b_return(app(ctx), meta(ctx)?, me, parse_id(&id)?)
                .await?
                .into(),
        )
    }
}

/// Units of one order line to return.
#[derive(async_graphql::InputObject)]
pub struct ReturnLineInput {
    pub line_id: ID,
    pub qty: i32,
}

#[derive(SimpleObject)]
pub struct ReturnLine {
    pub line_id: ID,
    pub qty: i32,
}

/// A return after receipt (退货): requested by the distributor, accepted by HQ (stock back, a
/// credit note on open receivables, the volume rebate on the units reversed).
#[derive(SimpleObject)]
pub struct B2bReturn {
    pub id: ID,
    pub purchase_order_id: ID,
    pub status: entities::b2b_return::ReturnStatus,
    pub reason: String,
    /// The units at the order's prices.
    pub value_fen: Fen,
    /// What the credit note took off open receivables (0 until accepted).
    pub credit_note_fen: Fen,
    pub lines: Vec<ReturnLine>,
    pub requested_at: DateTime,
    pub accepted_at: Option<DateTime>,
}

impl From<b2b::B2bReturn> for B2bReturn {
    fn from(r: b2b::B2bReturn) -> Self {
        Self {
            id: r.id.into(),
            purchase_order_id: r.purchase_order_id.into(),
            status: r.status,
            reason: r.reason,
            value_fen: Fen(r.value_fen),
            credit_note_fen: Fen(r.credit_note_fen),
            lines: r
                .lines
                .into_iter()
                .map(|(line, qty)| ReturnLine {
                    line_id: line.into(),
                    qty,
                })
                .collect(),
            requested_at: r.requested_at.into(),
            accepted_at: r.accepted_at.map(Into::into),
        }
    }
}

#[derive(Default)]
pub struct DistributorRebatesMutation;

#[Object]
impl DistributorRebatesMutation {
    /// Asks to return received units of a RECEIVED order (OWNER or BUYER), with the reason.
    async fn return_purchase_order_lines(
        &self,
        ctx: &Context<'_>,
        id: ID,
        lines: Vec<ReturnLineInput>,
        reason: String,
    ) -> ApiResult<B2bReturn> {
        let who = distributor(ctx).await?;
        let lines = lines
            .iter()
            .map(|l| {
                Ok(b2b::ReturnLineInput {
                    line_id: parse_id(&l.line_id)?,
                    qty: l.qty,
                })
            })
            .collect::<ApiResult<Vec<_>>>()?;
        Ok(
            b2b::return_purchase_order_lines(app(ctx), who, parse_id(&id)?, &lines, &reason)
                .await?
                .into(),
        )
    }
}

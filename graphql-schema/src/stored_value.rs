//! Member stored value (会员储值): balance and ledger, top-up plans and terms, top-ups online
//! (WeChat Pay) and at the counter, orders paid by balance, the unused principal paid back.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use domain::platform::page::{IdKey, Keyset, Page};
use domain::stored_value::{self, BalanceSource, TopUpStatus};

use crate::context::{app, member, meta, public_read, staff};
use crate::error::{ApiResult, parse_id};
use crate::orders::Order;
use crate::pagination;
use crate::payments::PaymentParams;
use crate::scalars::{DateTime, Fen};

pub use domain::orders::PaymentMethod;

/// A member's stored value: principal (本金, money paid in; never expires) and bonus (赠送金,
/// from top-up plans; may expire). Spending takes principal first.
#[derive(SimpleObject)]
pub struct Balance {
    pub principal_fen: Fen,
    /// Bonus still valid.
    pub bonus_fen: Fen,
    pub total_fen: Fen,
    /// When the bonus held expires (null: it does not, or there is none).
    pub bonus_expires_at: Option<DateTime>,
}

impl From<stored_value::Balance> for Balance {
    fn from(b: stored_value::Balance) -> Self {
        Self {
            principal_fen: Fen(b.principal_fen),
            bonus_fen: Fen(b.bonus_fen),
            total_fen: Fen(b.total_fen()),
            bonus_expires_at: b.bonus_expires_at.map(Into::into),
        }
    }
}

/// One change of a member's stored value.
#[derive(SimpleObject)]
pub struct BalanceEntry {
    pub id: ID,
    pub source: BalanceSource,
    pub principal_delta_fen: i64,
    pub bonus_delta_fen: i64,
    /// The order or top-up number.
    pub reference: Option<String>,
    pub created_at: DateTime,
}

fn entries(
    list: Page<stored_value::LedgerEntry>,
    page: &Keyset<IdKey>,
) -> Connection<String, BalanceEntry> {
    pagination::connection(
        list,
        page,
        |e| e.id,
        |e| BalanceEntry {
            id: e.id.into(),
            source: e.source,
            principal_delta_fen: e.principal_delta_fen,
            bonus_delta_fen: e.bonus_delta_fen,
            reference: e.reference,
            created_at: e.created_at.into(),
        },
    )
}

/// A top-up plan (充1000送100).
#[derive(SimpleObject)]
pub struct TopUpPlan {
    pub id: ID,
    pub code: String,
    pub name: String,
    pub pay_fen: i64,
    pub bonus_fen: i64,
    /// Days the bonus stays valid after the top-up (null: it does not expire).
    pub bonus_valid_days: Option<i32>,
    pub active: bool,
}

impl From<stored_value::TopUpPlan> for TopUpPlan {
    fn from(p: stored_value::TopUpPlan) -> Self {
        Self {
            id: p.id.into(),
            code: p.code,
            name: p.name,
            pay_fen: p.pay_fen,
            bonus_fen: p.bonus_fen,
            bonus_valid_days: p.bonus_valid_days,
            active: p.active,
        }
    }
}

/// The terms shown before a top-up; `startTopUp` takes the version accepted.
#[derive(SimpleObject)]
pub struct TopUpTerms {
    pub version: String,
    pub text: String,
}

#[derive(SimpleObject)]
pub struct TopUp {
    pub id: ID,
    pub top_up_no: String,
    pub member_id: ID,
    pub tender: PaymentMethod,
    pub principal_fen: i64,
    pub bonus_fen: i64,
    pub status: TopUpStatus,
    pub created_at: DateTime,
}

impl From<stored_value::TopUp> for TopUp {
    fn from(t: stored_value::TopUp) -> Self {
        Self {
            id: t.id.into(),
            top_up_no: t.top_up_no,
            member_id: t.member_id.into(),
            tender: t.tender,
            principal_fen: t.principal_fen,
            bonus_fen: t.bonus_fen,
            status: t.status,
            created_at: t.created_at.into(),
        }
    }
}

/// A top-up waiting for WeChat Pay, and what wx.requestPayment takes.
#[derive(SimpleObject)]
pub struct TopUpPayment {
    pub top_up: TopUp,
    pub payment: PaymentParams,
}

fn terms() -> TopUpTerms {
    TopUpTerms {
        version: stored_value::TERMS_VERSION.to_owned(),
        text: stored_value::TERMS_ZH.to_owned(),
    }
}

fn optional_id(id: Option<ID>) -> ApiResult<Option<i64>> {
    id.as_ref().map(parse_id).transpose()
}

#[derive(Default)]
pub struct ConsumerStoredValueQuery;

#[Object]
impl ConsumerStoredValueQuery {
    /// The member's stored value.
    async fn my_balance(&self, ctx: &Context<'_>) -> ApiResult<Balance> {
        let me = member(ctx).await?;
        Ok(stored_value::my_balance(app(ctx), me).await?.into())
    }

    /// Every change of the member's stored value, newest first.
    async fn my_balance_ledger(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, BalanceEntry>> {
        let me = member(ctx).await?;
        let page = pagination::keyset(first, after.as_deref())?;
        Ok(entries(
            stored_value::my_balance_ledger(app(ctx), me, page).await?,
            &page,
        ))
    }

    /// The top-up plans on offer, smallest first.
    async fn top_up_plans(&self, ctx: &Context<'_>) -> ApiResult<Vec<TopUpPlan>> {
        public_read(ctx).await?;
        Ok(stored_value::top_up_plans(app(ctx), false)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// The stored-value terms: show them before a top-up.
    async fn top_up_terms(&self, ctx: &Context<'_>) -> ApiResult<TopUpTerms> {
        public_read(ctx).await?;
        Ok(terms())
    }
}

#[derive(Default)]
pub struct ConsumerStoredValueMutation;

#[Object]
impl ConsumerStoredValueMutation {
    /// Starts a top-up with WeChat Pay: a plan, or an amount without bonus (one of the two),
    /// after the member accepted the terms (`topUpTerms.version`). The balance is credited
    /// when WeChat Pay tells us it is paid. Retrying with the same key pays the same top-up.
    async fn start_top_up(
        &self,
        ctx: &Context<'_>,
        plan_id: Option<ID>,
        amount_fen: Option<i64>,
        accepted_terms_version: String,
        idempotency_key: String,
    ) -> ApiResult<TopUpPayment> {
        let me = member(ctx).await?;
        let (top_up, p) = stored_value::start_top_up(
            app(ctx),
            me,
            (optional_id(plan_id)?, amount_fen),
            &accepted_terms_version,
            &idempotency_key,
        )
        .await?;
        Ok(TopUpPayment {
            top_up: top_up.into(),
            payment: PaymentParams {
                time_stamp: p.time_stamp,
                nonce_str: p.nonce_str,
                package: p.package,
                sign_type: p.sign_type,
                pay_sign: p.pay_sign,
            },
        })
    }

    /// Pays an unpaid order from the member's stored value: all of it (`amountFen` left out),
    /// or part of it, then `payOrder` for the rest with WeChat Pay. Once per order.
    async fn pay_order_with_balance(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        amount_fen: Option<i64>,
    ) -> ApiResult<Order> {
        let me = member(ctx).await?;
        Ok(
            domain::payments::pay_order_with_balance(
                app(ctx),
                me,
                parse_id(&order_id)?,
                amount_fen,
            )
            .await?
            .into(),
        )
    }
}

#[derive(Default)]
pub struct StaffStoredValueQuery;

#[Object]
impl StaffStoredValueQuery {
    /// A member's stored value (the read is audited).
    async fn member_balance(&self, ctx: &Context<'_>, member_id: ID) -> ApiResult<Balance> {
        let staff = staff(ctx).await?;
        Ok(
            stored_value::member_balance(app(ctx), staff, meta(ctx)?, parse_id(&member_id)?)
                .await?
                .into(),
        )
    }

    /// Every top-up plan, inactive ones too, smallest first.
    async fn top_up_plans(&self, ctx: &Context<'_>) -> ApiResult<Vec<TopUpPlan>> {
        staff(ctx).await?;
        Ok(stored_value::top_up_plans(app(ctx), true)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

#[derive(InputObject)]
pub struct TopUpPlanInput {
    pub code: String,
    pub name: String,
    pub pay_fen: i64,
    #[graphql(default)]
    pub bonus_fen: i64,
    /// Days the bonus stays valid after each top-up (null: it does not expire).
    pub bonus_valid_days: Option<i32>,
    #[graphql(default = true)]
    pub active: bool,
}

#[derive(InputObject)]
pub struct CounterTopUpInput {
    pub member_id: ID,
    /// A plan, or `amountFen` (without bonus): one of the two.
    pub plan_id: Option<ID>,
    pub amount_fen: Option<i64>,
    /// CASH, CARD or WECHAT.
    pub tender: PaymentMethod,
}

#[derive(Default)]
pub struct StaffStoredValueMutation;

#[Object]
impl StaffStoredValueMutation {
    /// Creates or changes a top-up plan by code (HQ); changes apply to later top-ups.
    async fn upsert_top_up_plan(
        &self,
        ctx: &Context<'_>,
        input: TopUpPlanInput,
    ) -> ApiResult<TopUpPlan> {
        let staff = staff(ctx).await?;
        Ok(stored_value::upsert_top_up_plan(
            app(ctx),
            staff,
            stored_value::TopUpPlanInput {
                code: input.code,
                name: input.name,
                pay_fen: input.pay_fen,
                bonus_fen: input.bonus_fen,
                bonus_valid_days: input.bonus_valid_days,
                active: input.active,
            },
        )
        .await?
        .into())
    }

    /// Records a top-up the member paid at the counter (a BA or manager of a store). Retrying
    /// with the same key returns the same top-up.
    async fn record_counter_top_up(
        &self,
        ctx: &Context<'_>,
        input: CounterTopUpInput,
        idempotency_key: String,
    ) -> ApiResult<TopUp> {
        let staff = staff(ctx).await?;
        Ok(stored_value::record_counter_top_up(
            app(ctx),
            staff,
            stored_value::CounterTopUp {
                member_id: parse_id(&input.member_id)?,
                plan_id: optional_id(input.plan_id)?,
                amount_fen: input.amount_fen,
                tender: input.tender,
            },
            &idempotency_key,
        )
        .await?
        .into())
    }

    /// Pays a member's whole unused principal back on her request (manager or HQ; the money
    /// goes back through the tender it came in, outside Rouge); the bonus is forfeited.
    /// Returns the principal paid back.
    async fn return_member_principal(
        &self,
        ctx: &Context<'_>,
        member_id: ID,
        idempotency_key: String,
    ) -> ApiResult<Fen> {
        let staff = staff(ctx).await?;
        Ok(Fen(stored_value::return_principal(
            app(ctx),
            staff,
            meta(ctx)?,
            parse_id(&member_id)?,
            &idempotency_key,
        )
        .await?))
    }
}

//! The store's day close (日结): a day's takings by tender, refunds, top-ups (a liability, not
//! revenue), expected against counted cash, expenses (费用), adjustments, and the month.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use domain::day_close::{self, DayEventKind, ExpenseCategory};

use crate::context::{app, staff};
use crate::error::{ApiResult, parse_id};
use crate::scalars::{Date, DateTime, Fen};

/// Money by tender. Stored value (会员储值) is principal (本金) and bonus (赠送金) apart.
#[derive(SimpleObject)]
pub struct TenderAmounts {
    pub wechat_pay_fen: Fen,
    pub cash_fen: Fen,
    pub bank_card_fen: Fen,
    pub alipay_fen: Fen,
    /// Principal and bonus together.
    pub stored_value_fen: Fen,
    pub stored_value_principal_fen: Fen,
    pub stored_value_bonus_fen: Fen,
    pub total_fen: Fen,
}

impl From<day_close::Tenders> for TenderAmounts {
    fn from(t: day_close::Tenders) -> Self {
        Self {
            wechat_pay_fen: Fen(t.wechat_fen),
            cash_fen: Fen(t.cash_fen),
            bank_card_fen: Fen(t.card_fen),
            alipay_fen: Fen(t.alipay_fen),
            stored_value_fen: Fen(t.stored_value_fen()),
            stored_value_principal_fen: Fen(t.stored_value_principal_fen),
            stored_value_bonus_fen: Fen(t.stored_value_bonus_fen),
            total_fen: Fen(t.total_fen()),
        }
    }
}

/// A store's money of a business day (or of the adjustments a day carries).
#[derive(SimpleObject)]
pub struct StoreDayFigures {
    /// Paid orders by the tender that paid them, after discounts.
    pub sales: TenderAmounts,
    pub sales_count: i64,
    /// What coupons took off the sales (a discount, not a tender).
    pub coupon_discount_fen: Fen,
    /// Settled refunds by the tender they went back to.
    pub refunds: TenderAmounts,
    pub refunds_count: i64,
    /// Sales − refunds, every tender.
    pub net_takings_fen: Fen,
    /// Top-up principal taken in, by tender. A top-up is a liability (the member's stored
    /// value), not revenue: revenue counts when the balance is spent (`sales.storedValueFen`).
    pub top_ups: TenderAmounts,
    /// Bonus (赠送金) given with the top-ups: no money was taken for it.
    pub top_up_bonus_fen: Fen,
    pub top_ups_count: i64,
    pub expenses_fen: Fen,
    pub expenses_count: i64,
    /// Cash sales − cash refunds + cash top-ups (expenses are not paid from the till).
    pub cash_fen: Fen,
}

impl From<day_close::DayFigures> for StoreDayFigures {
    fn from(f: day_close::DayFigures) -> Self {
        Self {
            sales: f.sales.into(),
            sales_count: f.sales_count,
            coupon_discount_fen: Fen(f.coupon_discount_fen),
            refunds: f.refunds.into(),
            refunds_count: f.refunds_count,
            net_takings_fen: Fen(f.net_takings_fen()),
            top_ups: f.top_ups.into(),
            top_up_bonus_fen: Fen(f.top_up_bonus_fen),
            top_ups_count: f.top_ups_count,
            expenses_fen: Fen(f.expenses_fen),
            expenses_count: f.expenses_count,
            cash_fen: Fen(f.cash_fen()),
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum StoreDayStatus {
    Open,
    Closed,
}

impl From<day_close::DayStatus> for StoreDayStatus {
    fn from(s: day_close::DayStatus) -> Self {
        match s {
            day_close::DayStatus::Open => Self::Open,
            day_close::DayStatus::Closed => Self::Closed,
        }
    }
}

/// A money event of an earlier, closed day recorded after its close (a late WeChat Pay
/// notification, a sale after an early close): carried by the next open day.
#[derive(SimpleObject)]
pub struct StoreDayAdjustment {
    pub kind: DayEventKind,
    /// The closed day the event belongs to.
    pub event_date: Date,
    /// Order, refund or top-up number, or the expense category.
    pub reference: String,
    pub amount_fen: Fen,
}

/// A store expense (费用).
#[derive(SimpleObject)]
pub struct StoreExpense {
    pub id: ID,
    pub store_id: ID,
    pub date: Date,
    pub category: ExpenseCategory,
    pub amount_fen: Fen,
    pub note: Option<String>,
    pub recorded_by: ID,
    pub created_at: DateTime,
}

impl From<day_close::Expense> for StoreExpense {
    fn from(e: day_close::Expense) -> Self {
        Self {
            id: e.id.into(),
            store_id: e.store_id.into(),
            date: Date(e.date),
            category: e.category,
            amount_fen: Fen(e.amount_fen),
            note: e.note,
            recorded_by: e.recorded_by.into(),
            created_at: e.created_at.into(),
        }
    }
}

/// How a day was closed.
#[derive(SimpleObject)]
pub struct StoreDayClose {
    pub closed_at: DateTime,
    pub closed_by: ID,
    pub counted_cash_fen: Fen,
    /// Counted − expected cash.
    pub difference_fen: Fen,
    pub difference_reason: Option<String>,
    pub note: Option<String>,
}

/// A store's business day (its zone): open (live figures) or closed (frozen at the close).
#[derive(SimpleObject)]
pub struct StoreDay {
    pub store_id: ID,
    pub date: Date,
    pub status: StoreDayStatus,
    /// The day's own money events.
    pub figures: StoreDayFigures,
    /// What the adjustments add (events of earlier closed days recorded after their close).
    pub adjustment_figures: StoreDayFigures,
    pub adjustments: Vec<StoreDayAdjustment>,
    /// Cash the drawer should hold from the day and its adjustments.
    pub expected_cash_fen: Fen,
    pub expenses: Vec<StoreExpense>,
    /// Null while the day is open.
    pub close: Option<StoreDayClose>,
}

impl From<day_close::StoreDay> for StoreDay {
    fn from(d: day_close::StoreDay) -> Self {
        Self {
            store_id: d.store_id.into(),
            date: Date(d.date),
            status: d.status.into(),
            figures: d.figures.into(),
            adjustment_figures: d.adjustment_figures.into(),
            adjustments: d
                .adjustments
                .into_iter()
                .map(|a| StoreDayAdjustment {
                    kind: a.kind,
                    event_date: Date(a.event_date),
                    reference: a.reference,
                    amount_fen: Fen(a.amount_fen),
                })
                .collect(),
            expected_cash_fen: Fen(d.expected_cash_fen),
            expenses: d.expenses.into_iter().map(Into::into).collect(),
            close: d.close.map(|c| StoreDayClose {
                closed_at: c.closed_at.into(),
                closed_by: c.closed_by.into(),
                counted_cash_fen: Fen(c.counted_cash_fen),
                difference_fen: Fen(c.difference_fen),
                difference_reason: c.difference_reason,
                note: c.note,
            }),
        }
    }
}

/// One day of a month.
#[derive(SimpleObject)]
pub struct StoreMonthDay {
    pub date: Date,
    pub status: StoreDayStatus,
    pub figures: StoreDayFigures,
    pub adjustment_figures: StoreDayFigures,
    /// Counted − expected cash (closed days).
    pub cash_difference_fen: Option<Fen>,
}

/// Expenses of one category.
#[derive(SimpleObject)]
pub struct ExpenseTotal {
    pub category: ExpenseCategory,
    pub amount_fen: Fen,
}

/// A store's month: each day up to today, totals counting every event once (a closed day's
/// frozen figures plus the adjustments later days carry), cash differences, expenses.
#[derive(SimpleObject)]
pub struct StoreMonth {
    pub store_id: ID,
    /// `YYYY-MM`.
    pub month: String,
    pub days: Vec<StoreMonthDay>,
    pub totals: StoreDayFigures,
    /// Σ counted − expected cash of the closed days.
    pub cash_difference_fen: Fen,
    pub closed_days: i64,
    pub expenses_by_category: Vec<ExpenseTotal>,
}

#[derive(Default)]
pub struct StaffDayCloseQuery;

#[Object]
impl StaffDayCloseQuery {
    /// A store's business day (finance and HQ any store, a manager her own): an open day's live
    /// figures with the adjustments it carries; a closed day's frozen figures and its close.
    async fn store_day(&self, ctx: &Context<'_>, store_id: ID, date: Date) -> ApiResult<StoreDay> {
        let staff = staff(ctx).await?;
        Ok(
            day_close::store_day(app(ctx), staff, parse_id(&store_id)?, date.0)
                .await?
                .into(),
        )
    }

    /// A store's month (`YYYY-MM`): days, totals, cash differences, expenses by category.
    async fn store_month(
        &self,
        ctx: &Context<'_>,
        store_id: ID,
        month: String,
    ) -> ApiResult<StoreMonth> {
        let staff = staff(ctx).await?;
        let m = day_close::store_month(app(ctx), staff, parse_id(&store_id)?, &month).await?;
        Ok(StoreMonth {
            store_id: m.store_id.into(),
            month: m.month,
            days: m
                .days
                .into_iter()
                .map(|d| StoreMonthDay {
                    date: Date(d.date),
                    status: d.status.into(),
                    figures: d.figures.into(),
                    adjustment_figures: d.adjustment_figures.into(),
                    cash_difference_fen: d.cash_difference_fen.map(Fen),
                })
                .collect(),
            totals: m.totals.into(),
            cash_difference_fen: Fen(m.cash_difference_fen),
            closed_days: m.closed_days,
            expenses_by_category: m
                .expenses_by_category
                .into_iter()
                .map(|(category, amount)| ExpenseTotal {
                    category,
                    amount_fen: Fen(amount),
                })
                .collect(),
        })
    }
}

#[derive(InputObject)]
pub struct StoreExpenseInput {
    pub store_id: ID,
    pub date: Date,
    pub category: ExpenseCategory,
    pub amount_fen: i64,
    pub note: Option<String>,
}

#[derive(Default)]
pub struct StaffDayCloseMutation;

#[Object]
impl StaffDayCloseMutation {
    /// Closes a store's business day (its manager, or HQ): the figures are frozen; what is
    /// recorded later for the day becomes an adjustment on the next open day. A difference
    /// between counted and expected cash needs `differenceReason`. A closed day: CONFLICT.
    async fn close_store_day(
        &self,
        ctx: &Context<'_>,
        store_id: ID,
        date: Date,
        counted_cash_fen: Fen,
        note: Option<String>,
        difference_reason: Option<String>,
    ) -> ApiResult<StoreDay> {
        let staff = staff(ctx).await?;
        Ok(day_close::close_store_day(
            app(ctx),
            staff,
            day_close::CloseDay {
                store_id: parse_id(&store_id)?,
                date: date.0,
                counted_cash_fen: counted_cash_fen.0,
                note,
                difference_reason,
            },
        )
        .await?
        .into())
    }

    /// Records a store expense (费用) on an open day (its manager, or HQ); a closed day:
    /// CONFLICT.
    async fn record_store_expense(
        &self,
        ctx: &Context<'_>,
        input: StoreExpenseInput,
    ) -> ApiResult<StoreExpense> {
        let staff = staff(ctx).await?;
        Ok(day_close::record_store_expense(
            app(ctx),
            staff,
            day_close::NewExpense {
                store_id: parse_id(&input.store_id)?,
                date: input.date.0,
                category: input.category,
                amount_fen: input.amount_fen,
                note: input.note,
            },
        )
        .await?
        .into())
    }
}

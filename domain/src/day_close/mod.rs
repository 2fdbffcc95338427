//! The store's day close (日结, issue 18): a store's takings of one business day by tender, its
//! refunds and top-ups, the cash expected against the cash counted, and the store's expenses
//! (费用). A closed day is locked: its figures are frozen at the close, and a money event
//! recorded later for it (a late WeChat notification, a sale after an early close) is an
//! adjustment on the next open day. Business days are the store's zone (Asia/Shanghai).
//!
//! One use case per file: [`events`] (the money events of a store's days, read from orders,
//! refunds, top-ups and expenses), [`close`] (`close_store_day`), [`view`] (`store_day`,
//! `store_month`), [`expenses`] (`record_store_expense`).

use chrono::{NaiveDate, Utc};
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};

use crate::auth::{AuthError, Permission, StaffPrincipal};
use crate::platform::error::{DomainError, ErrorCode, StoreError};
use entities::order::PaymentMethod;
use entities::store;

mod close;
mod events;
mod expenses;
mod view;

pub use close::{CloseDay, close_store_day};
pub use entities::store_day_close_item::DayEventKind;
pub use entities::store_expense::ExpenseCategory;
pub use events::DayEvent;
pub use expenses::{Expense, NewExpense, record_store_expense};
pub use view::{DayClose, DayStatus, MonthDay, StoreDay, StoreMonth, store_day, store_month};

/// How many closed days before an open day are searched for events recorded after their close
/// (an adjustment of a day closed longer ago than this is not looked for).
pub const ADJUSTMENT_LOOKBACK_DAYS: i64 = 62;

#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
pub enum DayCloseError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("a day that has not begun cannot be closed or given expenses")]
    FutureDay,
    #[error(
        "the cash counted differs from the cash expected by {difference_fen} fen: give a reason"
    )]
    DifferenceReasonRequired { difference_fen: i64 },
    #[error("this store's day is already closed")]
    AlreadyClosed,
    #[error("this store's day is closed: record it on an open day")]
    DayClosed,
    #[error("a stored money event could not be read")]
    Corrupt(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_conversions!(DayCloseError);

impl DomainError for DayCloseError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidInput(_) | Self::FutureDay | Self::DifferenceReasonRequired { .. } => {
                ErrorCode::BadUserInput
            }
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::AlreadyClosed | Self::DayClosed => ErrorCode::Conflict,
            Self::Corrupt(_) => ErrorCode::Internal,
            Self::Auth(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}

fn invalid(msg: impl Into<String>) -> DayCloseError {
    DayCloseError::InvalidInput(msg.into())
}

/// Money by tender. Stored value is kept as principal (本金) and bonus (赠送金) apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenders {
    pub wechat_fen: i64,
    pub cash_fen: i64,
    pub card_fen: i64,
    pub alipay_fen: i64,
    pub stored_value_principal_fen: i64,
    pub stored_value_bonus_fen: i64,
}

impl Tenders {
    pub fn add(&mut self, tender: PaymentMethod, amount_fen: i64) {
        match tender {
            PaymentMethod::Wechat => self.wechat_fen += amount_fen,
            PaymentMethod::Cash => self.cash_fen += amount_fen,
            PaymentMethod::Card => self.card_fen += amount_fen,
            PaymentMethod::Alipay => self.alipay_fen += amount_fen,
            PaymentMethod::Balance => self.stored_value_principal_fen += amount_fen,
        }
    }

    pub fn stored_value_fen(&self) -> i64 {
        self.stored_value_principal_fen + self.stored_value_bonus_fen
    }

    pub fn total_fen(&self) -> i64 {
        self.wechat_fen + self.cash_fen + self.card_fen + self.alipay_fen + self.stored_value_fen()
    }

    fn plus(&mut self, o: &Self) {
        self.wechat_fen += o.wechat_fen;
        self.cash_fen += o.cash_fen;
        self.card_fen += o.card_fen;
        self.alipay_fen += o.alipay_fen;
        self.stored_value_principal_fen += o.stored_value_principal_fen;
        self.stored_value_bonus_fen += o.stored_value_bonus_fen;
    }
}

/// A store's money of a day (or of the adjustments a day carries).
///
/// A top-up is money taken in for a liability (the member's stored value), not revenue: it is
/// shown apart, and revenue counts when the balance is spent (`sales.stored_value_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayFigures {
    /// Paid orders by the tender that paid them (amounts after discounts).
    pub sales: Tenders,
    pub sales_count: i64,
    /// What coupons took off the day's sales (a discount, not a tender).
    pub coupon_discount_fen: i64,
    /// Settled refunds by the tender they went back to (positive amounts).
    pub refunds: Tenders,
    pub refunds_count: i64,
    /// Principal paid in by tender (top-ups never pay with stored value).
    pub top_ups: Tenders,
    /// Bonus (赠送金) given with the top-ups: no money was taken for it.
    pub top_up_bonus_fen: i64,
    pub top_ups_count: i64,
    pub expenses_fen: i64,
    pub expenses_count: i64,
}

impl DayFigures {
    /// Cash the drawer should have gained: cash sales − cash refunds + cash top-ups. Expenses
    /// are not paid from the till.
    pub fn cash_fen(&self) -> i64 {
        self.sales.cash_fen - self.refunds.cash_fen + self.top_ups.cash_fen
    }

    /// Sales − refunds, every tender.
    pub fn net_takings_fen(&self) -> i64 {
        self.sales.total_fen() - self.refunds.total_fen()
    }

    pub fn plus(&mut self, o: &Self) {
        self.sales.plus(&o.sales);
        self.sales_count += o.sales_count;
        self.coupon_discount_fen += o.coupon_discount_fen;
        self.refunds.plus(&o.refunds);
        self.refunds_count += o.refunds_count;
        self.top_ups.plus(&o.top_ups);
        self.top_up_bonus_fen += o.top_up_bonus_fen;
        self.top_ups_count += o.top_ups_count;
        self.expenses_fen += o.expenses_fen;
        self.expenses_count += o.expenses_count;
    }
}

/// A closed day's frozen figures, as stored with the close.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The day's own events.
    pub own: DayFigures,
    /// Events of earlier closed days recorded after their close, taken in by this day.
    pub adjustments: DayFigures,
}

/// The store, checked against who asks: a store-bound role only her own store (FORBIDDEN
/// otherwise); an unknown store NOT_FOUND.
async fn store_for(
    db: &sea_orm::DatabaseConnection,
    staff: &StaffPrincipal,
    permission: Permission,
    store_id: i64,
) -> Result<store::Model, DayCloseError> {
    staff.require(permission)?;
    if !staff.sees_every_store() && staff.store_id != Some(store_id) {
        return Err(AuthError::Forbidden.into());
    }
    store::Entity::find_by_id(store_id)
        .one(db)
        .await?
        .ok_or(DayCloseError::NotFound("store"))
}

fn zone(store: &store::Model) -> chrono_tz::Tz {
    store
        .timezone
        .parse::<chrono_tz::Tz>()
        .unwrap_or(crate::platform::clock::DEFAULT_ZONE)
}

/// The store's business day now.
fn today(store: &store::Model, now: chrono::DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&zone(store)).date_naive()
}

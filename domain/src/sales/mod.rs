//! Sales facts and their rollups (issue 17): one immutable fact per line event (SALE, REFUND,
//! GIFT), written in the transaction of the payment, refund or counter sale that moved the
//! money, with attribution and cost frozen as they were; and rollups per day kept current by a
//! dirty-day queue the worker drains. Reports (`crate::reports`) read both.
//!
//! This module imports no other capability: orders call [`record_sale`] and [`record_refund`]
//! (one call each) inside their own transactions.

mod facts;
mod rollups;

pub use entities::sales_fact::SalesEvent;
pub use facts::{business_date, keep_first_purchase, record_refund, record_sale};
pub use rollups::{RollupSales, recompute_day, recompute_day_with, recompute_dirty_days};

use crate::platform::error::{DomainError, ErrorCode, StoreError};

#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
pub enum SalesError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_conversions!(SalesError);

impl DomainError for SalesError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Store(e) => e.code(),
        }
    }
}

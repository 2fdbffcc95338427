//! Member stored value (会员储值): a member tops up (online with WeChat Pay, or at the counter),
//! a top-up plan may add a bonus (充1000送100), and the balance pays orders online and at the
//! counter. Principal (本金) and bonus (赠送金) are kept apart: spending takes principal first,
//! then bonus; a refund gives each back exactly (principal before bonus when only part of an
//! order is refunded); bonus may expire, principal never. The balance is one row per member
//! guarded by CHECKs (never below zero), changed only by conditional updates, each with an
//! append-only ledger entry in the same transaction ([`ledger`]).
//!
//! The rules for single-purpose prepaid cards this follows are in docs/stored-value.md.
//!
//! One use case per file: [`balance`] (reads), [`plans`] (HQ's top-up plans and the terms),
//! [`online_top_up`] (WeChat Pay), [`counter_top_up`] (recorded by a BA), [`spend`] (orders
//! and counter sales paid by balance, and their refunds), [`expiry`] (bonus past its date),
//! [`principal_return`] (the unused principal paid back on request).

use chrono::{DateTime, Utc};

use crate::auth::AuthError;
use crate::platform::error::{DomainError, ErrorCode, StoreError};

mod balance;
mod counter_top_up;
mod expiry;
mod ledger;
mod online_top_up;
mod plans;
mod principal_return;
mod spend;

pub use balance::{member_balance, my_balance, my_balance_ledger};
pub(crate) use counter_top_up::credit_demo_top_up;
pub use counter_top_up::{CounterTopUp, record_counter_top_up};
pub use entities::balance_ledger::BalanceSource;
pub use entities::top_up::TopUpStatus;
pub use expiry::{ExpireBonus, expire_bonus};
pub use online_top_up::{TopUpMatch, is_top_up_no, start_top_up, top_up_paid};
pub use plans::{TERMS_VERSION, TERMS_ZH, TopUpPlanInput, top_up_plans, upsert_top_up_plan};
pub use principal_return::return_principal;
pub use spend::{
    BalanceSpend, give_back, give_back_on_close, give_back_on_refund, order_balance_part,
    paid_by_balance, pay_with_balance, wechat_share,
};

/// The most principal a member may hold (¥5,000, the limit of a registered single-purpose card,
/// 单用途商业预付卡管理办法 art. 17).
pub const MAX_PRINCIPAL_FEN: i64 = 500_000;

#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
pub enum StoredValueError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("not enough stored value: {available_fen} fen available")]
    Insufficient { available_fen: i64 },
    #[error("a member holds at most {max_fen} fen of principal")]
    PrincipalLimit { max_fen: i64 },
    #[error("the top-up terms (version {0}) must be accepted first")]
    TermsNotAccepted(&'static str),
    #[error("this idempotency key was already used for a different request")]
    KeyReused,
    #[error("WeChat Pay is unavailable; try again")]
    PayUnavailable(#[source] wechat_integration::WeChatError),
    #[error("WeChat Pay refused: {0}")]
    PayRefused(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_conversions!(StoredValueError);

impl DomainError for StoredValueError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidInput(_) | Self::TermsNotAccepted(_) => ErrorCode::BadUserInput,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Insufficient { .. } | Self::PrincipalLimit { .. } => ErrorCode::LimitReached,
            Self::KeyReused => ErrorCode::Conflict,
            Self::PayUnavailable(_) => ErrorCode::Unavailable,
            Self::PayRefused(_) => ErrorCode::Internal,
            Self::Auth(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}

fn invalid(msg: impl Into<String>) -> StoredValueError {
    StoredValueError::InvalidInput(msg.into())
}

/// A member's stored value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    pub member_id: i64,
    pub principal_fen: i64,
    /// Bonus still valid (bonus past its date counts as zero until the expiry job writes it off).
    pub bonus_fen: i64,
    pub bonus_expires_at: Option<DateTime<Utc>>,
}

impl Balance {
    pub fn total_fen(&self) -> i64 {
        self.principal_fen + self.bonus_fen
    }
}

/// One ledger entry.
#[derive(Debug, Clone)]
pub struct LedgerEntry {
    pub id: i64,
    pub source: BalanceSource,
    pub principal_delta_fen: i64,
    pub bonus_delta_fen: i64,
    pub reference: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<entities::balance_ledger::Model> for LedgerEntry {
    fn from(m: entities::balance_ledger::Model) -> Self {
        Self {
            id: m.id,
            source: m.source,
            principal_delta_fen: m.principal_delta_fen,
            bonus_delta_fen: m.bonus_delta_fen,
            reference: m.reference,
            created_at: m.created_at,
        }
    }
}

/// A top-up plan as members and HQ see it.
#[derive(Debug, Clone)]
pub struct TopUpPlan {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub pay_fen: i64,
    pub bonus_fen: i64,
    pub bonus_valid_days: Option<i32>,
    pub active: bool,
}

impl From<entities::top_up_plan::Model> for TopUpPlan {
    fn from(m: entities::top_up_plan::Model) -> Self {
        Self {
            id: m.id,
            code: m.code,
            name: m.name,
            pay_fen: m.pay_fen,
            bonus_fen: m.bonus_fen,
            bonus_valid_days: m.bonus_valid_days,
            active: m.active,
        }
    }
}

/// One top-up.
#[derive(Debug, Clone)]
pub struct TopUp {
    pub id: i64,
    pub top_up_no: String,
    pub member_id: i64,
    pub tender: entities::order::PaymentMethod,
    pub principal_fen: i64,
    pub bonus_fen: i64,
    pub status: TopUpStatus,
    pub created_at: DateTime<Utc>,
}

impl From<entities::top_up::Model> for TopUp {
    fn from(m: entities::top_up::Model) -> Self {
        Self {
            id: m.id,
            top_up_no: m.top_up_no,
            member_id: m.member_id,
            tender: m.tender,
            principal_fen: m.principal_fen,
            bonus_fen: m.bonus_fen,
            status: m.status,
            created_at: m.created_at,
        }
    }
}

//! Commission (业绩提成, issue 18): versioned plans HQ writes ([`plans`]), BAs' monthly inputs
//! for seed 004's formula ([`inputs`]), the month computed from the sales facts, counter
//! top-ups and redeemed services ([`gather`] reads, [`compute`] is pure), a preview
//! ([`preview`]), the lock that writes immutable statements ([`lock`]) and the statements as
//! staff read them ([`statements`]). The rules and decisions are in docs/commission.md.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::auth::AuthError;
use crate::platform::error::{DomainError, ErrorCode, StoreError};

mod compute;
mod gather;
mod inputs;
mod lock;
mod plan_list;
mod plans;
mod preview;
mod principal_returns;
mod statements;

pub use compute::largest_remainder;
pub use entities::commission_line::{CommissionLineKind, CommissionSource, SplitRole};
pub use entities::commission_plan::TierMode;
pub use entities::commission_plan_rule::{
    Bracket, CommissionBase, CommissionItemKind, CommissionMethod,
};
pub use inputs::{CommissionInputs, set_commission_inputs};
pub use lock::lock_commission_month;
pub use plan_list::commission_plans;
pub use plans::{PlanInput, RuleInput, upsert_commission_plan};
pub use preview::preview_commission;
pub use statements::{commission_statement, my_commission};

#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
pub enum CommissionError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("month {0} is already locked for commission")]
    MonthLocked(String),
    #[error("another plan version was written at the same time; try again")]
    VersionRace,
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_conversions!(CommissionError);

impl DomainError for CommissionError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidInput(_) => ErrorCode::BadUserInput,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::MonthLocked(_) | Self::VersionRace => ErrorCode::Conflict,
            Self::Auth(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}

fn invalid(msg: impl Into<String>) -> CommissionError {
    CommissionError::InvalidInput(msg.into())
}

/// A rule of a plan version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub item_kind: CommissionItemKind,
    pub base: CommissionBase,
    pub method: CommissionMethod,
    pub rate_bp: Option<i32>,
    pub brackets: Vec<Bracket>,
}

/// One version of a commission plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub id: i64,
    pub store_id: Option<i64>,
    pub version: i32,
    pub effective_month: String,
    pub name: String,
    pub tier_mode: TierMode,
    pub designated_share_bp: i32,
    pub assistant_share_bp: i32,
    pub base_salary_rate_bp: i32,
    pub rules: Vec<Rule>,
    pub created_at: DateTime<Utc>,
}

/// Where a statement stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementStatus {
    /// Computed with a plan HQ is trying out.
    Preview,
    /// Computed live with the plan in force; changes until the month is locked.
    Open,
    /// Written by the lock; never changes.
    Locked,
}

/// One explained line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub position: i32,
    pub source: CommissionSource,
    pub source_id: Option<i64>,
    pub kind: CommissionLineKind,
    pub item_kind: Option<CommissionItemKind>,
    pub split: SplitRole,
    pub business_date: Option<NaiveDate>,
    pub base_fen: i64,
    pub share_bp: i32,
    pub rate_bp: Option<i32>,
    pub amount_fen: i64,
    pub rule_label: String,
}

/// A BA's month at a store: Σ lines = total, in fen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub staff_id: i64,
    pub staff_name: String,
    pub store_id: i64,
    pub month: String,
    pub status: StatementStatus,
    pub plan_id: i64,
    pub plan_version: i32,
    pub total_fen: i64,
    pub locked_at: Option<DateTime<Utc>>,
    pub lines: Vec<Line>,
}

/// A store's month: every BA's statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Month {
    pub store_id: i64,
    pub month: String,
    pub status: StatementStatus,
    pub plan_id: i64,
    pub plan_version: i32,
    pub total_fen: i64,
    pub locked_at: Option<DateTime<Utc>>,
    /// By staff id.
    pub statements: Vec<Statement>,
}

/// The first day of a `YYYY-MM` month and the first day of the next.
pub(crate) fn month_bounds(month: &str) -> Result<(NaiveDate, NaiveDate), CommissionError> {
    let bad = || invalid("a month is written YYYY-MM");
    if month.len() != 7 {
        return Err(bad());
    }
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").map_err(|_| bad())?;
    Ok((first, next_month_start(first).ok_or_else(bad)?))
}

fn next_month_start(first: NaiveDate) -> Option<NaiveDate> {
    if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    }
}

/// `YYYY-MM` of a day.
pub(crate) fn month_of(day: NaiveDate) -> String {
    day.format("%Y-%m").to_string()
}

//! Distributor B2B ordering (issue 15): tiers and versioned price lists, the catalog a
//! distributor orders from, credit (one row per distributor guarded by a CHECK, an append-only
//! ledger), quotes bound to a hash, and purchase orders. One use case per file; everything a
//! distributor reads or does is scoped to its own organisation (another's ids are NOT_FOUND).
//! See docs/b2b.md for the flows and rules.

mod allocate;
mod catalog;
mod credit;
mod edit;
mod execution;
mod exposure;
mod fulfilment;
mod leakage;
mod lifecycle;
mod materials;
mod orders;
mod overrides;
pub mod packs;
mod payments;
mod policies;
mod price_lists;
mod pricing;
mod quote;
mod rebates;
mod receipt;
mod receivables;
mod replenishment;
mod scope;
mod shelf_life;
mod ship;
mod statement;
mod statement_file;
mod submit;
mod tiers;

pub use allocate::allocate_purchase_order;
pub use catalog::{Availability, B2bSku, b2b_catalog};
pub use credit::{
    CreditStatus, CreditTerms, credit_status, credit_status_for_staff, set_credit_terms,
};
pub use edit::update_purchase_order;
pub use entities::credit_entry::CreditEntryKind;
pub use entities::price_list_item::PriceStep;
pub use entities::purchase_order::PoStatus;
pub use execution::{PolicyExecution, policy_execution};
pub use exposure::{CreditExposure, credit_exposure};
pub use fulfilment::{
    AllocatedBatch, Fulfilment, FulfilmentLine, Shipment, ShippedRange, purchase_order_fulfilment,
    purchase_order_fulfilment_for_staff,
};
pub use leakage::{LeakageRow, territory_leakage, territory_leakage_for_staff};
pub use lifecycle::{
    approve_purchase_order, cancel_purchase_order, purchase_order_queue, reject_purchase_order,
};
pub use materials::{Material, attach_policy_material, marketing_materials};
pub use orders::{PoEvent, PoLine, PurchaseOrder, purchase_order, purchase_orders};
pub use overrides::{CreditOverride, grant_credit_override, release_credit_override};
pub use payments::{DistributorPayment, record_distributor_payment};
pub use policies::{
    Policy, PolicyInput, PolicyKind, PolicyRule, acknowledge_policy, create_policy, my_policies,
};
pub use price_lists::{PriceList, PriceListItemInput, publish_price_list};
pub use pricing::PricingCache;
pub use quote::{
    LineInput, PricingStep, Quote, QuoteLine, quote_purchase_order, quote_with_rebate,
};
pub use rebates::{
    AccrueScanRebates, RebateAccount, RebateEntry, Recomputed, Settlement, accrue_scan_rebates,
    distributor_rebate_account, quarter_bounds, quarter_of, rebate_account, rebate_ledger,
    recompute_quarter, recompute_quarter_all, settle_rebates,
};
pub use rebates::{B2bReturn, ReturnLineInput, accept_b2b_return, return_purchase_order_lines};
pub use receipt::{ReceiptLine, confirm_receipt};
pub use receivables::{
    AccountStanding, Receivable, account_standing_for_staff, my_account_standing, my_receivables,
};
pub use replenishment::{ReplenishmentParams, Suggestion, replenishment_suggestions};
pub use scope::{DistributorKind, set_distributor_kind};
pub use shelf_life::set_min_shelf_life;
pub use ship::{Carton, CartonLine, ship_purchase_order};
pub use statement::{
    AccountStatement, StatementLine, StatementLineKind, account_statement, distributor_statement,
};
pub use statement_file::{StatementExport, export_account_statement};
pub use submit::{submit_purchase_order, submit_with_rebate};
pub use tiers::{
    DistributorTier, TierInput, assign_distributor_tier, distributor_tiers, upsert_distributor_tier,
};

use sea_orm::{ConnectionTrait, EntityTrait};

use crate::auth::{AuthError, DistributorPrincipal, DistributorRole};
use crate::platform::error::{DomainError, ErrorCode, StoreError};
use entities::distributor_account;

#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
pub enum B2bError {
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("not allowed: {0}")]
    NotAllowed(&'static str),
    #[error("no price list is in force for this distributor's tier")]
    NoPriceList,
    #[error("SKU {0} is not on this distributor's price list")]
    NotOnPriceList(i64),
    #[error("SKU {sku_id}: at least {moq} units per order")]
    BelowMoq { sku_id: i64, moq: i32 },
    #[error("SKU {sku_id}: order whole cases of {case_size}")]
    NotWholeCases { sku_id: i64, case_size: i32 },
    #[error("the quote changed (prices, stock or credit): quote again")]
    QuoteChanged,
    #[error("the order is beyond the credit available")]
    CreditExceeded,
    #[error("the new limit is below the credit already in use")]
    LimitBelowExposure,
    #[error("a policy must be confirmed before ordering")]
    PolicyNotAcknowledged,
    #[error("the order's status does not allow this")]
    WrongState,
    #[error("this idempotency key was used for another order")]
    IdempotencyKeyReused,
    // Fulfilment (allocate, ship, receive) and payments.
    #[error("pack codes {from}..{to} of code batch {batch_id} were shipped before")]
    CodesAlreadyShipped { batch_id: i64, from: i64, to: i64 },
    #[error("carton line {line_id}: {reason}")]
    CartonMismatch { line_id: i64, reason: &'static str },
    #[error("payment reference {0} was recorded with another amount")]
    PaymentReferenceReused(String),
    #[error("the payment is more than the open receivables")]
    PaymentExceedsOpen,
    #[error("the account is on hold: receivables overdue past the grace period")]
    AccountOnHold,
    #[error("this order already has a credit override")]
    CreditOverrideExists,
    /// Writing or storing a statement file failed (the cause is logged, never shown).
    #[error("export failed: {0}")]
    Export(String),
    // Rebates.
    #[error("not enough rebate available")]
    RebateInsufficient,
    #[error("at most {cap_fen} fen of this order may be paid with rebate")]
    RebateOverCap { cap_fen: i64 },
    #[error("the quarter has not ended yet")]
    QuarterNotEnded,
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_conversions!(B2bError);

impl DomainError for B2bError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidInput(_)
            | Self::NotOnPriceList(_)
            | Self::BelowMoq { .. }
            | Self::NotWholeCases { .. } => ErrorCode::BadUserInput,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::NotAllowed(_) => ErrorCode::Forbidden,
            Self::NoPriceList
            | Self::QuoteChanged
            | Self::LimitBelowExposure
            | Self::WrongState
            | Self::PolicyNotAcknowledged
            | Self::IdempotencyKeyReused => ErrorCode::Conflict,
            Self::CodesAlreadyShipped { .. }
            | Self::PaymentReferenceReused(_)
            | Self::AccountOnHold
            | Self::CreditOverrideExists => ErrorCode::Conflict,
            Self::CartonMismatch { .. } | Self::PaymentExceedsOpen => ErrorCode::BadUserInput,
            Self::RebateOverCap { .. } => ErrorCode::BadUserInput,
            Self::RebateInsufficient => ErrorCode::LimitReached,
            Self::QuarterNotEnded => ErrorCode::Conflict,
            Self::CreditExceeded => ErrorCode::LimitReached,
            Self::Export(_) => ErrorCode::Internal,
            Self::Auth(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}

/// The caller's own active account, which must be an OWNER or BUYER to order (a VIEWER reads).
pub(crate) async fn buyer<C: ConnectionTrait>(
    db: &C,
    who: &DistributorPrincipal,
) -> Result<distributor_account::Model, B2bError> {
    let me = distributor_account::Entity::find_by_id(who.account_id)
        .one(db)
        .await?
        .filter(|a| a.active && a.distributor_id == who.distributor_id)
        .ok_or(B2bError::NotFound("account"))?;
    match me.role {
        DistributorRole::Owner | DistributorRole::Buyer => Ok(me),
        DistributorRole::Viewer => Err(B2bError::NotAllowed(
            "only an OWNER or BUYER orders for the organisation",
        )),
    }
}

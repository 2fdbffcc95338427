//! Submitting a purchase order: the quote is priced again inside the write transaction and must
//! hash to what the distributor saw (else CONFLICT: quote again); the credit is reserved in the
//! same transaction by one conditional update of the credit row. Same idempotency key, same
//! order.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use super::orders::{PurchaseOrder, load};
use super::quote::{LineInput, price_using};
use super::{B2bError, buyer, credit};
use crate::AppState;
use crate::audit::ActorKind;
use crate::auth::DistributorPrincipal;
use crate::platform::clock::DEFAULT_ZONE;
use crate::platform::error::UniqueViolation;
use crate::platform::{idempotency, validate};
use entities::purchase_order::PoStatus;
use entities::{purchase_order, purchase_order_event, purchase_order_line};

/// The order `key` created for the caller's organisation, if any; a key used for a different
/// quote is refused.
async fn recorded(
    app: &AppState,
    who: &DistributorPrincipal,
    key: &str,
    quote_hash: &str,
) -> Result<Option<PurchaseOrder>, B2bError> {
    let Some(row) = purchase_order::Entity::find()
        .filter(purchase_order::Column::DistributorId.eq(who.distributor_id))
        .filter(purchase_order::Column::IdempotencyKey.eq(key))
        .one(&app.db)
        .await?
    else {
        return Ok(None);
    };
    if row.quote_hash != quote_hash {
        return Err(B2bError::IdempotencyKeyReused);
    }
    Ok(load(&app.db, vec![row]).await?.pop())
}

pub async fn submit_purchase_order(
    app: &AppState,
    who: &DistributorPrincipal,
    lines: &[LineInput],
    quote_hash: &str,
    idempotency_key: &str,
) -> Result<PurchaseOrder, B2bError> {
    submit_with_rebate(app, who, (lines, 0), quote_hash, idempotency_key).await
}

/// [`submit_purchase_order`] paying `rebate_fen` of the order with rebate, held in the submit
/// transaction (two orders spending one balance: one is refused).
pub async fn submit_with_rebate(
    app: &AppState,
    who: &DistributorPrincipal,
    (lines, rebate_fen): (&[LineInput], i64),
    quote_hash: &str,
    idempotency_key: &str,
) -> Result<PurchaseOrder, B2bError> {
    let key = validate::idempotency_key(idempotency_key).map_err(B2bError::InvalidInput)?;
    let account = buyer(&app.db, who).await?;
    idempotency::same_answer(
        || recorded(app, who, key, quote_hash),
        || attempt(app, who, account.id, (lines, rebate_fen), quote_hash, key),
    )
    .await
}

async fn attempt(
    app: &AppState,
    who: &DistributorPrincipal,
    account_id: i64,
    (lines, rebate_fen): (&[LineInput], i64),
    quote_hash: &str,
    key: &str,
) -> Result<PurchaseOrder, B2bError> {
    let now = app.clock.now();
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let fresh = price_using(app, &txn, who, lines, rebate_fen, now).await?;
    if fresh.hash != quote_hash {
        return Err(B2bError::QuoteChanged);
    }
    if !fresh.unacknowledged_policy_ids.is_empty() {
        return Err(B2bError::PolicyNotAcknowledged);
    }
    if !fresh.credit_sufficient {
        return Err(B2bError::CreditExceeded);
    }
    super::receivables::ensure_not_on_hold(&txn, who.distributor_id, fresh.grace_days, now).await?;
    let reserved = if fresh.prepaid { 0 } else { fresh.total_fen };
    let no = format!(
        "PO{}{}",
        now.with_timezone(&DEFAULT_ZONE).format("%Y%m%d"),
        &uuid::Uuid::new_v4().simple().to_string()[..8].to_ascii_uppercase()
    );
    let order = purchase_order::ActiveModel {
        no: Set(no),
        distributor_id: Set(who.distributor_id),
        status: Set(PoStatus::Submitted),
        quote_hash: Set(fresh.hash.clone()),
        price_list_id: Set(fresh.price_list_id),
        subtotal_fen: Set(fresh.subtotal_fen),
        discount_fen: Set(fresh.discount_fen),
        total_fen: Set(fresh.total_fen),
        credit_reserved_fen: Set(reserved),
        rebate_used_fen: Set(fresh.rebate_used_fen),
        idempotency_key: Set(key.to_owned()),
        created_by: Set(account_id),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .on_unique_violation(|| B2bError::IdempotencyKeyReused)?;
    let rows = fresh
        .lines
        .iter()
        .map(|l| purchase_order_line::ActiveModel {
            purchase_order_id: Set(order.id),
            sku_id: Set(l.sku_id),
            qty: Set(l.qty),
            unit_price_fen: Set(l.unit_price_fen),
            line_total_fen: Set(l.line_total_fen),
            is_gift: Set(false),
            ..Default::default()
        });
    let gift_rows = fresh
        .gifts
        .iter()
        .map(|l| purchase_order_line::ActiveModel {
            purchase_order_id: Set(order.id),
            sku_id: Set(l.sku_id),
            qty: Set(l.qty),
            unit_price_fen: Set(0),
            line_total_fen: Set(0),
            is_gift: Set(true),
            ..Default::default()
        });
    purchase_order_line::Entity::insert_many(rows.chain(gift_rows))
        .exec(&txn)
        .await?;
    super::execution::record_applied(&txn, (order.id, false), who.distributor_id, &fresh).await?;
    super::rebates::hold(
        &txn,
        who.distributor_id,
        order.id,
        fresh.rebate_used_fen,
        now,
    )
    .await?;
    purchase_order_event::ActiveModel {
        purchase_order_id: Set(order.id),
        status: Set(PoStatus::Submitted),
        actor_kind: Set(ActorKind::Distributor),
        actor_id: Set(Some(account_id)),
        note: Set(None),
        at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    if reserved > 0 {
        credit::reserve(
            &txn,
            who.distributor_id,
            reserved,
            format!("po:{}", order.id),
            now,
        )
        .await?;
    }
    let order = load(&txn, vec![order])
        .await?
        .pop()
        .ok_or(B2bError::NotFound("purchase order"))?;
    txn.commit().await?;
    Ok(order)
}

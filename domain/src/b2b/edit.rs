//! Editing a purchase order before allocation (OWNER or BUYER): the new lines are priced again
//! and must match the quote the distributor saw; the order takes the new quote's hash and goes
//! back to SUBMITTED, so an approval given to the old hash never covers the edit. The credit
//! held moves by the difference, by the same conditional updates and ledger entries.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use super::orders::{PurchaseOrder, load};
use super::quote::{LineInput, price};
use super::{B2bError, buyer, credit};
use crate::AppState;
use crate::audit::ActorKind;
use crate::auth::DistributorPrincipal;
use entities::credit_entry::CreditEntryKind;
use entities::purchase_order::PoStatus;
use entities::{
    credit_account, credit_entry, purchase_order, purchase_order_event, purchase_order_line,
};

pub async fn update_purchase_order(
    app: &AppState,
    who: &DistributorPrincipal,
    id: i64,
    lines: &[LineInput],
    quote_hash: &str,
) -> Result<PurchaseOrder, B2bError> {
    let account = buyer(&app.db, who).await?;
    let now = app.clock.now();
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let order = purchase_order::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .filter(|o| o.distributor_id == who.distributor_id)
        .ok_or(B2bError::NotFound("purchase order"))?;
    if !matches!(order.status, PoStatus::Submitted | PoStatus::Approved) {
        return Err(B2bError::WrongState);
    }
    let fresh = price(app, &txn, who, lines, now).await?;
    if fresh.hash != quote_hash {
        return Err(B2bError::QuoteChanged);
    }
    if !fresh.unacknowledged_policy_ids.is_empty() {
        return Err(B2bError::PolicyNotAcknowledged);
    }
    if !fresh.credit_sufficient {
        return Err(B2bError::CreditExceeded);
    }
    let reserved = if fresh.prepaid { 0 } else { fresh.total_fen };
    let changed = purchase_order::Entity::update_many()
        .col_expr(
            purchase_order::Column::Status,
            Expr::value(PoStatus::Submitted),
        )
        .col_expr(
            purchase_order::Column::QuoteHash,
            Expr::value(fresh.hash.clone()),
        )
        .col_expr(
            purchase_order::Column::PriceListId,
            Expr::value(fresh.price_list_id),
        )
        .col_expr(
            purchase_order::Column::SubtotalFen,
            Expr::value(fresh.subtotal_fen),
        )
        .col_expr(
            purchase_order::Column::DiscountFen,
            Expr::value(fresh.discount_fen),
        )
        .col_expr(
            purchase_order::Column::TotalFen,
            Expr::value(fresh.total_fen),
        )
        .col_expr(
            purchase_order::Column::CreditReservedFen,
            Expr::value(reserved),
        )
        .col_expr(purchase_order::Column::RebateUsedFen, Expr::value(0))
        .col_expr(purchase_order::Column::UpdatedAt, Expr::value(now))
        .filter(purchase_order::Column::Id.eq(id))
        .filter(purchase_order::Column::QuoteHash.eq(order.quote_hash.clone()))
        .filter(purchase_order::Column::Status.is_in([PoStatus::Submitted, PoStatus::Approved]))
        .exec(&txn)
        .await?;
    if changed.rows_affected != 1 {
        return Err(B2bError::WrongState);
    }
    move_credit(
        &txn,
        who.distributor_id,
        id,
        reserved - order.credit_reserved_fen,
        now,
    )
    .await?;
    // An edit is priced without rebate: what the order held goes back.
    let edit_ref = uuid::Uuid::new_v4().simple().to_string();
    super::rebates::release_hold(&txn, &order, Some(&edit_ref), now).await?;
    replace_lines(&txn, id, &fresh).await?;
    super::execution::record_applied(&txn, (id, true), who.distributor_id, &fresh).await?;
    purchase_order_event::ActiveModel {
        purchase_order_id: Set(id),
        status: Set(PoStatus::Submitted),
        actor_kind: Set(ActorKind::Distributor),
        actor_id: Set(Some(account.id)),
        note: Set(Some("edited".into())),
        at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let row = purchase_order::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(B2bError::NotFound("purchase order"))?;
    let out = load(&txn, vec![row])
        .await?
        .pop()
        .ok_or(B2bError::NotFound("purchase order"))?;
    txn.commit().await?;
    Ok(out)
}

/// Moves the credit an edited order holds by `delta` (more: a conditional reserve; less: a
/// release), each with its ledger entry.
async fn move_credit<C: sea_orm::ConnectionTrait>(
    txn: &C,
    distributor_id: i64,
    id: i64,
    delta: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), B2bError> {
    let source = format!("po:{id}:edit:{}", uuid::Uuid::new_v4().simple());
    if delta > 0 {
        credit::reserve(txn, distributor_id, delta, source, now).await?;
    } else if delta < 0 {
        let back = -delta;
        let done = credit_account::Entity::update_many()
            .col_expr(
                credit_account::Column::ReservedFen,
                Expr::col(credit_account::Column::ReservedFen).sub(back),
            )
            .col_expr(credit_account::Column::UpdatedAt, Expr::value(now))
            .filter(credit_account::Column::DistributorId.eq(distributor_id))
            .filter(credit_account::Column::ReservedFen.gte(back))
            .exec(txn)
            .await?;
        if done.rows_affected != 1 {
            return Err(B2bError::WrongState);
        }
        credit_entry::ActiveModel {
            distributor_id: Set(distributor_id),
            kind: Set(CreditEntryKind::Release),
            amount_fen: Set(back),
            source_ref: Set(source),
            note: Set(None),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

/// The order's lines become the new quote's lines and gifts.
async fn replace_lines<C: sea_orm::ConnectionTrait>(
    txn: &C,
    id: i64,
    fresh: &super::quote::Quote,
) -> Result<(), B2bError> {
    purchase_order_line::Entity::delete_many()
        .filter(purchase_order_line::Column::PurchaseOrderId.eq(id))
        .exec(txn)
        .await?;
    let rows = fresh
        .lines
        .iter()
        .map(|l| purchase_order_line::ActiveModel {
            purchase_order_id: Set(id),
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
            purchase_order_id: Set(id),
            sku_id: Set(l.sku_id),
            qty: Set(l.qty),
            unit_price_fen: Set(0),
            line_total_fen: Set(0),
            is_gift: Set(true),
            ..Default::default()
        });
    purchase_order_line::Entity::insert_many(rows.chain(gift_rows))
        .exec(txn)
        .await?;
    Ok(())
}

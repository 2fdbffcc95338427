//! Orders paid by balance (online, alone or with WeChat Pay for the rest; counter sales) and
//! the balance part given back by a refund or when an unpaid order closes. Called by orders
//! and payments inside their own transaction, so the order and the balance change together.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::ledger::{self, Change, spendable};
use super::{BalanceSource, StoredValueError};
use entities::order_balance_payment;

/// An order (or part of it) paid by the member's stored value.
#[derive(Debug, Clone, Copy)]
pub struct BalanceSpend<'a> {
    pub member_id: i64,
    pub order_id: i64,
    pub order_no: &'a str,
    pub amount_fen: i64,
    /// [`BalanceSource::OrderPayment`] or [`BalanceSource::CounterSale`].
    pub source: BalanceSource,
    pub staff_id: Option<i64>,
    pub at: DateTime<Utc>,
}

/// Takes `amount_fen` from the member's balance for an order, principal first, then bonus
/// still valid; records the part on the order. Too little is an error and changes nothing
/// (the caller's transaction rolls back). Returns (principal, bonus) taken.
pub async fn pay_with_balance<C: ConnectionTrait>(
    db: &C,
    spend: BalanceSpend<'_>,
) -> Result<(i64, i64), StoredValueError> {
    if spend.amount_fen <= 0 {
        return Err(super::invalid("a balance payment is more than 0 fen"));
    }
    // One round trip: the row locked (no row holds nothing). Whether the order was paid by
    // balance already is the unique key of its part below.
    let row = ledger::held(db, spend.member_id)
        .await?
        .map(|row| (spendable(&row, spend.at), row));
    let available = row.as_ref().map_or(0, |(held, _)| held.total_fen());
    let Some((held, row)) = row.filter(|_| available >= spend.amount_fen) else {
        // Only on the refusal path: a second balance part of the same order is refused as
        // such (its balance is usually spent by the first), not as a short balance.
        if order_balance_part(db, spend.order_id).await?.is_some() {
            return Err(super::invalid("this order is already paid by balance"));
        }
        return Err(StoredValueError::Insufficient {
            available_fen: available,
        });
    };
    let principal = std::cmp::min(held.principal_fen, spend.amount_fen);
    let bonus = spend.amount_fen - principal;
    order_balance_payment::Entity::insert(order_balance_payment::ActiveModel {
        order_id: Set(spend.order_id),
        member_id: Set(spend.member_id),
        principal_fen: Set(principal),
        bonus_fen: Set(bonus),
        refunded_principal_fen: Set(0),
        refunded_bonus_fen: Set(0),
        created_at: Set(spend.at),
    })
    .exec_without_returning(db)
    .await
    .map_err(|e| {
        if crate::platform::error::is_unique_violation(&e) {
            super::invalid("this order is already paid by balance")
        } else {
            e.into()
        }
    })?;
    ledger::apply_locked(
        db,
        &Change {
            member_id: spend.member_id,
            source: spend.source,
            principal_delta_fen: -principal,
            bonus_delta_fen: -bonus,
            reference: Some(spend.order_no),
            key: &format!("order-pay:{}", spend.order_no),
            staff_id: spend.staff_id,
            bonus_valid_until: None,
            at: spend.at,
        },
        &row,
    )
    .await?;
    Ok((principal, bonus))
}

/// What the balance paid of an order, if anything.
pub async fn order_balance_part<C: ConnectionTrait>(
    db: &C,
    order_id: i64,
) -> Result<Option<order_balance_payment::Model>, StoredValueError> {
    Ok(order_balance_payment::Entity::find_by_id(order_id)
        .one(db)
        .await?)
}

/// Gives back up to `amount_fen` of what the balance paid of an order, principal before
/// bonus, never more than is left to give back; once per `key` (a refund number, or the
/// order's close). Returns (principal, bonus) given back.
pub async fn give_back<C: ConnectionTrait>(
    db: &C,
    order_id: i64,
    order_no: &str,
    amount_fen: i64,
    (source, key): (BalanceSource, &str),
    at: DateTime<Utc>,
) -> Result<(i64, i64), StoredValueError> {
    let Some(part) = order_balance_part(db, order_id).await? else {
        return Ok((0, 0));
    };
    let wanted = std::cmp::max(amount_fen, 0);
    let principal = std::cmp::min(part.principal_fen - part.refunded_principal_fen, wanted);
    let bonus = std::cmp::min(part.bonus_fen - part.refunded_bonus_fen, wanted - principal);
    if principal + bonus == 0 {
        return Ok((0, 0));
    }
    let applied = ledger::apply(
        db,
        &Change {
            member_id: part.member_id,
            source,
            principal_delta_fen: principal,
            bonus_delta_fen: bonus,
            reference: Some(order_no),
            key: &format!("order-back:{key}"),
            staff_id: None,
            bonus_valid_until: None,
            at,
        },
    )
    .await?;
    if !applied {
        return Ok((0, 0));
    }
    let updated = order_balance_payment::Entity::update_many()
        .col_expr(
            order_balance_payment::Column::RefundedPrincipalFen,
            Expr::col(order_balance_payment::Column::RefundedPrincipalFen).add(principal),
        )
        .col_expr(
            order_balance_payment::Column::RefundedBonusFen,
            Expr::col(order_balance_payment::Column::RefundedBonusFen).add(bonus),
        )
        .filter(order_balance_payment::Column::OrderId.eq(order_id))
        .filter(order_balance_payment::Column::RefundedPrincipalFen.eq(part.refunded_principal_fen))
        .filter(order_balance_payment::Column::RefundedBonusFen.eq(part.refunded_bonus_fen))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        // Another give-back of this order moved first: the caller's transaction rolls back.
        return Err(super::invalid(
            "the order's balance part changed; try again",
        ));
    }
    Ok((principal, bonus))
}

/// How much of an order the balance paid (0 when none): WeChat Pay is asked for the rest.
pub async fn paid_by_balance<C: ConnectionTrait>(
    db: &C,
    order_id: i64,
) -> Result<i64, sea_orm::DbErr> {
    Ok(order_balance_payment::Entity::find_by_id(order_id)
        .one(db)
        .await?
        .map_or(0, |p| p.total_fen()))
}

/// An unpaid order closed: what the balance paid of it goes back.
pub async fn give_back_on_close<C: ConnectionTrait>(
    db: &C,
    order: &entities::order::Model,
    at: DateTime<Utc>,
) -> Result<(), StoredValueError> {
    give_back(
        db,
        order.id,
        &order.order_no,
        order.total_fen,
        (
            BalanceSource::OrderClosed,
            &format!("close:{}", order.order_no),
        ),
        at,
    )
    .await?;
    Ok(())
}

/// A refund of `amount_fen` settled: the balance part of it (what is left of what the balance
/// paid, up to the amount; principal before bonus) goes back to the balance.
pub async fn give_back_on_refund<C: ConnectionTrait>(
    db: &C,
    order: &entities::order::Model,
    refund_no: &str,
    amount_fen: i64,
    at: DateTime<Utc>,
) -> Result<(), StoredValueError> {
    give_back(
        db,
        order.id,
        &order.order_no,
        amount_fen,
        (BalanceSource::OrderRefund, &format!("refund:{refund_no}")),
        at,
    )
    .await?;
    Ok(())
}

/// How a refund of `amount_fen` splits: (the part WeChat Pay refunds, what WeChat Pay was paid
/// of the order). The balance part is refunded first. Refunds of the order still processing
/// (other than `this_refund_id`) are counted as taking the balance part first too: called in
/// the refund's claim transaction with the order row locked, two partial refunds at once then
/// split the order between the tenders exactly instead of both counting the same balance part.
pub async fn wechat_share<C: ConnectionTrait>(
    db: &C,
    order: &entities::order::Model,
    amount_fen: i64,
    this_refund_id: i64,
) -> Result<(i64, i64), sea_orm::DbErr> {
    use entities::refund;
    let Some(part) = order_balance_payment::Entity::find_by_id(order.id)
        .one(db)
        .await?
    else {
        return Ok((amount_fen, order.total_fen));
    };
    let processing: i64 = refund::Entity::find()
        .filter(refund::Column::OrderId.eq(order.id))
        .filter(refund::Column::Status.eq(entities::refund::RefundStatus::Processing))
        .filter(refund::Column::Id.ne(this_refund_id))
        .all(db)
        .await?
        .iter()
        .map(|r| r.amount_fen)
        .sum();
    let left = std::cmp::max(
        part.total_fen() - part.refunded_principal_fen - part.refunded_bonus_fen - processing,
        0,
    );
    let to_balance = std::cmp::min(left, amount_fen);
    Ok((amount_fen - to_balance, order.total_fen - part.total_fen()))
}

//! `placeOrder` with stored value as a tender (`balanceFen`): the order is placed and at most
//! `balance_fen` of it paid from the member's balance in the same call ([`super::balance`]).
//! When the balance covers the whole order it is paid at once; otherwise WeChat Pay is asked
//! for the rest through `payOrder`.

use super::{PaymentsError, pay_order_with_balance};
use crate::AppState;
use crate::auth::MemberPrincipal;
use crate::orders::{self, Order, OrderStatus, OrdersError};
use crate::stored_value::{self, StoredValueError};

/// Places the order and pays up to `balance_fen` of it from the balance. A retry with the same
/// idempotency key and the same amount returns the order as it is; another amount: CONFLICT.
/// A balance that does not hold `min(balance_fen, total)` is refused (LIMIT_REACHED,
/// `INSUFFICIENT_BALANCE`); the order stays placed, awaiting payment (a retry with the same key
/// tries the balance again; unpaid, it closes when its payment time is over).
#[tracing::instrument(skip_all, err, fields(member_id = me.member_id))]
pub async fn place_order_with_balance(
    app: &AppState,
    me: &MemberPrincipal,
    input: orders::PlaceOrder,
    coupon_ids: &[i64],
    idempotency_key: &str,
    balance_fen: i64,
) -> Result<Order, PaymentsError> {
    if balance_fen < 1 {
        return Err(PaymentsError::InvalidInput(
            "balanceFen is at least 1 fen".into(),
        ));
    }
    let held = stored_value::my_balance(app, me)
        .await
        .map_err(OrdersError::from)?;
    let order =
        orders::place_order_with_coupons(app, me, input, coupon_ids, idempotency_key).await?;
    let amount = std::cmp::min(balance_fen, order.total_fen);
    let part = stored_value::paid_by_balance(&app.db, order.id).await?;
    if part > 0 || order.status != OrderStatus::PendingPayment {
        // A retry of the same request: the order as it is, unless it asked for another part.
        return if part == amount {
            Ok(order)
        } else {
            Err(OrdersError::KeyReused.into())
        };
    }
    if held.total_fen() < amount {
        return Err(OrdersError::from(StoredValueError::Insufficient {
            available_fen: held.total_fen(),
        })
        .into());
    }
    pay_order_with_balance(app, me, order.id, Some(amount)).await
}

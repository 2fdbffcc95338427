//! A member pays one of their unpaid orders: the parameters for wx.requestPayment.

use sea_orm::{EntityTrait, QuerySelect};
use wechat_integration::{ClientPaymentParams, JsapiOrder};

use super::{PaymentsError, pay_error};
use crate::AppState;
use crate::auth::MemberPrincipal;
use crate::orders::{self, OrderStatus, OrdersError};
use crate::platform::kv::keys;
use entities::member;

/// The parameters the mini-program passes to wx.requestPayment for one of the member's unpaid orders.
#[tracing::instrument(skip_all, err, fields(member_id = me.member_id, order_id))]
pub async fn pay_order(
    app: &AppState,
    me: &MemberPrincipal,
    order_id: i64,
) -> Result<ClientPaymentParams, PaymentsError> {
    let row = orders::row(app, order_id).await?;
    if row.member_id != me.member_id {
        return Err(OrdersError::NotYours.into());
    }
    match row.status {
        OrderStatus::PendingPayment => {}
        OrderStatus::Closed => return Err(OrdersError::PaymentExpired.into()),
        _ => return Err(OrdersError::WrongState("already paid".into()).into()),
    }
    // A grabbed flash-sale order is created before the member says where it goes.
    if row.fulfilment == orders::FulfilmentKind::Delivery && row.delivery_address.is_none() {
        return Err(OrdersError::DeliveryAddressMissing.into());
    }
    let deadline = row.pay_deadline.ok_or(OrdersError::PaymentExpired)?;
    if deadline <= app.clock.now() {
        return Err(OrdersError::PaymentExpired.into());
    }
    let openid: Option<String> = member::Entity::find_by_id(me.member_id)
        .select_only()
        .column(member::Column::Openid)
        .into_tuple()
        .one(&app.db)
        .await?;
    let openid = openid.ok_or(OrdersError::NotFound("member"))?;
    // Before WeChat hears of it: a balance payment of the whole order must close it.
    let until = (deadline - app.clock.now())
        .to_std()
        .unwrap_or_default()
        .saturating_add(std::time::Duration::from_secs(3600));
    app.kv
        .set(
            &keys::wechat_payment_started(&row.order_no),
            b"1",
            Some(until),
        )
        .await?;
    let prepay_id = app
        .pay
        .jsapi_prepay(&JsapiOrder {
            description: format!("Rouge 订单 {}", row.order_no),
            out_trade_no: row.order_no.clone(),
            amount_fen: row.total_fen
                - crate::stored_value::paid_by_balance(&app.db, row.id).await?,
            payer_openid: openid,
            time_expire: Some(deadline),
            attach: None,
        })
        .await
        .map_err(pay_error)?;
    Ok(app
        .pay
        .client_payment_params(&prepay_id)
        .map_err(pay_error)?)
}

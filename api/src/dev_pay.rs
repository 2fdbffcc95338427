//! Development-only WeChat Pay tools (the `demo` build, fake WeChat, never in production):
//! `POST /dev/wechat/pay/{outTradeNo}/succeed` and `.../fail` let a front-end developer finish a
//! payment from the mini-program simulator as the payer would.
//!
//! - `succeed`: the fake WeChat Pay marks the trade SUCCESS and sends its signed, encrypted
//!   TRANSACTION.SUCCESS notification to `/wechat/pay/notify`, the handler live WeChat calls;
//!   the order becomes PAID there (points, stock and coupons as for any payment). The answer
//!   waits for the order to read PAID (200), or says the notification is still on its way (202).
//! - `fail`: the trade becomes PAYERROR, as a refused bank payment does at WeChat. WeChat Pay
//!   notifies successful payments only, so nothing is sent: the order stays PENDING_PAYMENT
//!   until the payment timeout closes it (and its trade), and the trade cannot be paid any more.
//!
//! 404 for an order number Rouge or WeChat Pay does not know (call `payOrder` first); 409 when the
//! order or its trade is not awaiting payment.

use std::sync::Arc;
use std::time::Duration;

use domain::AppState;
use domain::orders::OrderStatus;
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Response, Route, handler};
use serde_json::{Value, json};
use wechat_integration::fake::{FakeError, FakeWeChat};

use crate::config::{Config, WeChatMode};

/// Where the routes are mounted.
pub const DEV_PAY_PREFIX: &str = "/dev/wechat/pay";

/// How long `succeed` waits for the notification to be applied before answering 202.
const APPLY_WAIT: Duration = Duration::from_secs(5);

/// The fake WeChat the development payment routes drive.
#[derive(Clone)]
pub struct DevWeChatPay {
    fake: FakeWeChat,
}

impl std::fmt::Debug for DevWeChatPay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevWeChatPay").finish_non_exhaustive()
    }
}

impl DevWeChatPay {
    /// The tools for a server on `config`: only with the fake WeChat (`fake` is the one the
    /// server's clients talk to) and never in production.
    pub fn for_config(config: &Config, fake: Option<&FakeWeChat>) -> Option<Self> {
        if config.is_production() || config.wechat.mode != WeChatMode::Fake {
            return None;
        }
        fake.map(|fake| Self { fake: fake.clone() })
    }
}

/// The routes, to nest under [`DEV_PAY_PREFIX`] (they need the app state as data).
pub(crate) fn routes(dev: DevWeChatPay) -> impl poem::Endpoint {
    use poem::EndpointExt as _;
    Route::new()
        .at("/:out_trade_no/succeed", poem::post(succeed))
        .at("/:out_trade_no/fail", poem::post(fail))
        .data(dev)
}

fn answer(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(body.to_string())
}

fn refused(status: StatusCode, code: &str, message: &str) -> Response {
    answer(status, &json!({ "error": code, "message": message }))
}

async fn order_status(state: &AppState, no: &str) -> Result<Option<OrderStatus>, Response> {
    domain::orders::status_by_number(state, no)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "dev pay: order lookup failed");
            refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "UNAVAILABLE",
                "try again",
            )
        })
}

/// The order, which must be awaiting payment.
async fn awaiting_payment(state: &AppState, no: &str) -> Result<(), Response> {
    match order_status(state, no).await? {
        None => Err(refused(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "no order has this number",
        )),
        Some(OrderStatus::PendingPayment) => Ok(()),
        Some(status) => Err(answer(
            StatusCode::CONFLICT,
            &json!({
                "error": "NOT_AWAITING_PAYMENT",
                "message": "the order is not awaiting payment",
                "orderStatus": status.as_str(),
            }),
        )),
    }
}

/// A refusal of the fake WeChat Pay, as an answer.
fn fake_refused(dev: &DevWeChatPay, no: &str, e: &FakeError) -> Response {
    match e {
        FakeError::NoOrder(_) => refused(
            StatusCode::NOT_FOUND,
            "NO_TRADE",
            "WeChat Pay has no trade for this order: call payOrder first",
        ),
        FakeError::NotPayable(_) => answer(
            StatusCode::CONFLICT,
            &json!({
                "error": "TRADE_NOT_PAYABLE",
                "message": "the WeChat Pay trade is not awaiting payment",
                "tradeState": dev.fake.trade_state(no),
            }),
        ),
    }
}

/// The payer pays: the fake sends the success notification through the real notify path.
#[handler]
async fn succeed(
    Path(no): Path<String>,
    state: Data<&Arc<AppState>>,
    dev: Data<&DevWeChatPay>,
) -> Response {
    if let Err(refusal) = awaiting_payment(&state, &no).await {
        return refusal;
    }
    if let Err(e) = dev.fake.pay(&no).await {
        return fake_refused(&dev, &no, &e);
    }
    let deadline = tokio::time::Instant::now() + APPLY_WAIT;
    let mut status = None;
    while tokio::time::Instant::now() < deadline {
        status = order_status(&state, &no).await.ok().flatten();
        if status != Some(OrderStatus::PendingPayment) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let applied = status.is_some_and(|s| s != OrderStatus::PendingPayment);
    answer(
        if applied {
            StatusCode::OK
        } else {
            StatusCode::ACCEPTED
        },
        &json!({
            "outTradeNo": no,
            "tradeState": "SUCCESS",
            "notification": if applied { "applied" } else { "sent" },
            "orderStatus": status.map(OrderStatus::as_str),
        }),
    )
}

/// The payment fails: the trade becomes PAYERROR, and (as at WeChat) nothing is notified.
#[handler]
async fn fail(
    Path(no): Path<String>,
    state: Data<&Arc<AppState>>,
    dev: Data<&DevWeChatPay>,
) -> Response {
    if let Err(refusal) = awaiting_payment(&state, &no).await {
        return refusal;
    }
    if let Err(e) = dev.fake.fail_payment(&no) {
        return fake_refused(&dev, &no, &e);
    }
    answer(
        StatusCode::OK,
        &json!({
            "outTradeNo": no,
            "tradeState": "PAYERROR",
            "notification": "none",
            "orderStatus": OrderStatus::PendingPayment.as_str(),
        }),
    )
}

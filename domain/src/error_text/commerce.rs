//! Reasons and Chinese messages of the errors around selling: orders, payments, coupons,
//! pricing, the catalog, stock, flash sales and points.
//!
//! Each function answers for every variant of its enum; the last arm (`_ => None`) only
//! matters for a variant added since (the module's test names it).

use std::borrow::Cow;

use super::people::auth;
use super::words::{beijing, invalid_input_zh, not_found, taken};
use super::{Text, t};
use crate::catalog::CatalogError;
use crate::coupons::CouponsError;
use crate::flash_sales::FlashSalesError;
use crate::inventory::InventoryError;
use crate::loyalty::LoyaltyError;
use crate::orders::OrdersError;
use crate::payments::PaymentsError;
use crate::pricing::PricingError;
use crate::stored_value::StoredValueError;

#[allow(unreachable_patterns)]
pub(super) fn orders(e: &OrdersError) -> Option<Text> {
    use OrdersError as E;
    match e {
        E::InvalidInput(m) => t("INVALID_INPUT", invalid_input_zh(m)),
        E::NotFound(what) => t("NOT_FOUND", not_found(what)),
        E::NotYours => t("ORDER_NOT_YOURS", "该订单属于其他会员"),
        E::SoldOut(sku) => t("OUT_OF_STOCK", format!("SKU {sku} 库存不足")),
        E::WrongState(_) => t("ORDER_WRONG_STATE", "订单当前的状态不允许此操作"),
        E::PaymentExpired => t("PAYMENT_EXPIRED", "订单的支付时间已过"),
        E::DeliveryAddressMissing => t("DELIVERY_ADDRESS_MISSING", "请先填写收货地址再付款"),
        E::KeyReused => t("IDEMPOTENCY_KEY_REUSED", "该幂等键已用于另一笔订单"),
        E::AllergensNotAcknowledged(list) => t(
            "ALLERGENS_NOT_ACKNOWLEDGED",
            format!("这些商品含有会员的过敏成分：{list}；请先与会员确认"),
        ),
        E::PayRefused(m) => t("WECHAT_PAY_REFUSED", format!("微信支付拒绝了该请求：{m}")),
        E::Loyalty(e) => loyalty(e),
        E::Catalog(e) => catalog(e),
        E::Auth(e) => auth(e),
        E::Coupons(e) => coupons(e),
        E::StoredValue(e) => stored_value(e),
        E::PayUnavailable(_) | E::Pii(_) | E::Store(_) => None,
        _ => None,
    }
}

#[allow(unreachable_patterns)]
pub(super) fn payments(e: &PaymentsError) -> Option<Text> {
    match e {
        PaymentsError::Orders(e) => orders(e),
        PaymentsError::RefundNotFound => t("NOT_FOUND", not_found("refund")),
        PaymentsError::InvalidInput(m) => t("INVALID_INPUT", invalid_input_zh(m)),
        PaymentsError::Auth(e) => auth(e),
        PaymentsError::Store(_) => None,
        _ => None,
    }
}

#[allow(unreachable_patterns)]
pub(super) fn coupons(e: &CouponsError) -> Option<Text> {
    use CouponsError as E;
    match e {
        E::InvalidInput(m) => t("INVALID_INPUT", coupon_sentence(m)),
        E::NotFound(what) => t("NOT_FOUND", not_found(what)),
        E::NotYours => t("COUPON_NOT_YOURS", "该优惠券属于其他会员"),
        E::Expired(m) => t("COUPON_EXPIRED", coupon_sentence(m)),
        E::AlreadyUsed(name) => t("COUPON_ALREADY_USED", format!("优惠券“{name}”已使用")),
        E::SoldOut => t("COUPON_SOLD_OUT", "该优惠券已被领完"),
        E::LimitReached => t("COUPON_LIMIT_REACHED", "您持有的该优惠券已达每人上限"),
        E::Pricing(e) => pricing(e),
        E::Inventory(e) => inventory(e),
        E::Auth(e) => auth(e),
        E::Store(_) => None,
        _ => None,
    }
}

/// The coupon sentences that name a coupon ("the coupon {name} has expired"), which the
/// coupon module words in several places; the rest as invalid input.
fn coupon_sentence(m: &str) -> Cow<'static, str> {
    if m == "the coupon code has expired; ask the member to refresh it" {
        return Cow::Borrowed("优惠券码已过期，请让会员在小程序中刷新");
    }
    let Some(rest) = m.strip_prefix("the coupon ") else {
        return invalid_input_zh(m);
    };
    let pairs = [
        (" has expired", "已过期"),
        (" has ended", "已结束"),
        (" is not valid yet", "尚未生效"),
        (" is not active", "未启用"),
    ];
    for (suffix, zh) in pairs {
        if let Some(name) = rest.strip_suffix(suffix) {
            return Cow::Owned(format!("优惠券“{name}”{zh}"));
        }
    }
    invalid_input_zh(m)
}

#[allow(unreachable_patterns)]
pub(super) fn pricing(e: &PricingError) -> Option<Text> {
    match e {
        PricingError::InvalidInput(m) => t("INVALID_INPUT", invalid_input_zh(m)),
        PricingError::NotFound(what) => t("NOT_FOUND", not_found(what)),
        PricingError::Loyalty(e) => loyalty(e),
        PricingError::Store(_) => None,
        _ => None,
    }
}

#[allow(unreachable_patterns)]
pub(super) fn catalog(e: &CatalogError) -> Option<Text> {
    match e {
        CatalogError::InvalidInput(m) => t("INVALID_INPUT", invalid_input_zh(m)),
        CatalogError::NotFound(what) => t("NOT_FOUND", not_found(what)),
        CatalogError::Taken(what) => t("ALREADY_TAKEN", taken(what)),
        CatalogError::Inventory(e) => inventory(e),
        CatalogError::Shared(e) => catalog(e),
        CatalogError::Auth(e) => auth(e),
        CatalogError::Store(_) => None,
        _ => None,
    }
}

#[allow(unreachable_patterns)]
pub(super) fn inventory(e: &InventoryError) -> Option<Text> {
    match e {
        InventoryError::InvalidInput(m) => t("INVALID_INPUT", invalid_input_zh(m)),
        InventoryError::NotFound(what) => t("NOT_FOUND", not_found(what)),
        InventoryError::Insufficient { sku_id } => {
            t("OUT_OF_STOCK", format!("该库位的 SKU {sku_id} 库存不足"))
        }
        InventoryError::Taken(what) => t("ALREADY_TAKEN", taken(what)),
        InventoryError::Auth(e) => auth(e),
        InventoryError::Store(_) => None,
        _ => None,
    }
}

#[allow(unreachable_patterns)]
pub(super) fn flash_sales(e: &FlashSalesError) -> Option<Text> {
    use FlashSalesError as E;
    match e {
        E::InvalidInput(m) => t("INVALID_INPUT", invalid_input_zh(m)),
        E::NotFound(what) => t("NOT_FOUND", not_found(what)),
        E::NotStarted(at) => t(
            "FLASH_SALE_NOT_STARTED",
            format!("秒杀尚未开始，将于 {} 开始", beijing(*at)),
        ),
        E::Ended => t("FLASH_SALE_ENDED", "秒杀已结束"),
        E::SoldOut => t("FLASH_SALE_SOLD_OUT", "已抢光"),
        E::LimitReached => t("FLASH_SALE_LIMIT_REACHED", "您已达到该秒杀的每人限购数量"),
        E::KeyReused => t("IDEMPOTENCY_KEY_REUSED", "该幂等键已用于不同的数量"),
        E::InProgress => t(
            "REQUEST_IN_PROGRESS",
            "使用该幂等键的第一个请求仍在处理中，请稍后重试",
        ),
        E::Throttled => t("TOO_MANY_ATTEMPTS", "尝试次数过多，请稍后再试"),
        E::Shared(e) => flash_sales(e),
        E::Orders(e) => orders(e),
        E::Auth(e) => auth(e),
        E::CountersDown(_) | E::ShuttingDown | E::Store(_) => None,
        _ => None,
    }
}

#[allow(unreachable_patterns)]
pub(super) fn loyalty(e: &LoyaltyError) -> Option<Text> {
    use LoyaltyError as E;
    match e {
        E::TierNotFound => t("NOT_FOUND", "找不到会员等级"),
        E::MemberNotFound => t("NOT_FOUND", not_found("member")),
        E::InvalidInput(m) => t("INVALID_INPUT", invalid_input_zh(m)),
        E::InsufficientPoints { balance } => t(
            "INSUFFICIENT_POINTS",
            format!("积分不足：当前余额为 {balance}"),
        ),
        E::KeyReused => t("IDEMPOTENCY_KEY_REUSED", "该请求已用其他参数提交过"),
        E::Auth(e) => auth(e),
        E::Store(_) => None,
        _ => None,
    }
}

#[allow(unreachable_patterns)]
pub(super) fn stored_value(e: &StoredValueError) -> Option<Text> {
    use StoredValueError as E;
    match e {
        E::InvalidInput(m) => t("INVALID_INPUT", invalid_input_zh(m)),
        E::NotFound(what) => t("NOT_FOUND", not_found(what)),
        E::Insufficient { available_fen } => t(
            "INSUFFICIENT_BALANCE",
            format!("储值余额不足：可用 {} 元", yuan(*available_fen)),
        ),
        E::PrincipalLimit { max_fen } => t(
            "BALANCE_LIMIT_REACHED",
            format!("储值本金余额不能超过 {} 元", yuan(*max_fen)),
        ),
        E::TermsNotAccepted(version) => t(
            "TERMS_NOT_ACCEPTED",
            format!("请先阅读并同意储值须知（版本 {version}）"),
        ),
        E::KeyReused => t("IDEMPOTENCY_KEY_REUSED", "该幂等键已用于另一笔储值请求"),
        E::PayRefused(m) => t("WECHAT_PAY_REFUSED", format!("微信支付拒绝了该请求：{m}")),
        E::Auth(e) => auth(e),
        E::PayUnavailable(_) | E::Store(_) => None,
        _ => None,
    }
}

/// Fen as yuan with two decimals.
fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, (fen % 100).abs())
}

//! Reasons and Chinese messages of distributor B2B ordering (tiers, price lists, credit,
//! quotes and purchase orders).

use super::people::auth;
use super::words::{invalid_input_zh, not_found};
use super::{Text, t};
use crate::b2b::B2bError;

#[allow(unreachable_patterns)]
pub(super) fn b2b(e: &B2bError) -> Option<Text> {
    use B2bError as E;
    match e {
        E::InvalidInput(m) => t("INVALID_INPUT", invalid_input_zh(m)),
        E::NotFound(what) => t("NOT_FOUND", not_found(what)),
        E::NotAllowed(_) => t(
            "ORDERING_ROLE_NOT_ALLOWED",
            "只有经销商的负责人（OWNER）或采购（BUYER）可以下单",
        ),
        E::NoPriceList => t(
            "NO_PRICE_LIST",
            "您的经销商等级当前没有生效的价格表，请联系品牌方",
        ),
        E::NotOnPriceList(sku) => t(
            "SKU_NOT_ORDERABLE",
            format!("SKU {sku} 不在您的价格表上或已停售"),
        ),
        E::BelowMoq { sku_id, moq } => {
            t("BELOW_MOQ", format!("SKU {sku_id} 每单至少订购 {moq} 件"))
        }
        E::NotWholeCases { sku_id, case_size } => t(
            "NOT_WHOLE_CASES",
            format!("SKU {sku_id} 须按整箱订购（每箱 {case_size} 件）"),
        ),
        E::QuoteChanged => t(
            "QUOTE_CHANGED",
            "价格、库存或信用额度已变化，请重新报价后再提交",
        ),
        E::CreditExceeded => t("CREDIT_LIMIT_EXCEEDED", "订单金额超出可用信用额度"),
        E::LimitBelowExposure => t(
            "CREDIT_LIMIT_BELOW_EXPOSURE",
            "新的信用额度低于已占用的额度",
        ),
        E::PolicyNotAcknowledged => t(
            "POLICY_NOT_ACKNOWLEDGED",
            "有需要确认的渠道政策：请负责人或采购先确认（acknowledgePolicy）再下单",
        ),
        E::WrongState => t("PO_WRONG_STATE", "订货单当前的状态不允许此操作"),
        E::IdempotencyKeyReused => t("IDEMPOTENCY_KEY_REUSED", "该幂等键已用于另一笔订单"),
        E::CreditOverrideExists => t(
            "CREDIT_OVERRIDE_EXISTS",
            "该订货单已有临时信用额度，不能重复授予",
        ),
        E::Auth(e) => auth(e),
        E::Store(_) => None,
        _ => None,
    }
}

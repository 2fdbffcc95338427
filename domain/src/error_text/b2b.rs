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
        E::CodesAlreadyShipped { batch_id, from, to } => t(
            "CODES_ALREADY_SHIPPED",
            format!("码批次 {batch_id} 的序号 {from}–{to} 已发过货，不能重复发货"),
        ),
        E::CartonMismatch { line_id, reason } => t(
            "CARTON_MISMATCH",
            format!(
                "订货行 {line_id} 的装箱与订单不符：{}",
                carton_reason_zh(reason)
            ),
        ),
        E::PaymentReferenceReused(reference) => t(
            "PAYMENT_REFERENCE_REUSED",
            format!("回款凭证号 {reference} 已按另一金额登记过"),
        ),
        E::PaymentExceedsOpen => t("PAYMENT_EXCEEDS_OPEN", "回款金额超过未结应收款"),
        E::AccountOnHold => t(
            "ACCOUNT_ON_HOLD",
            "有应收款逾期超过宽限期，账户已暂停下单；回款后自动恢复",
        ),
        E::CreditOverrideExists => t(
            "CREDIT_OVERRIDE_EXISTS",
            "该订货单已有临时信用额度，不能重复授予",
        ),
        E::RebateInsufficient => t(
            "REBATE_INSUFFICIENT",
            "可用返利不足，请减少本单抵扣的返利金额",
        ),
        E::RebateOverCap { cap_fen } => t(
            "REBATE_OVER_CAP",
            format!("本单最多可用返利抵扣 {cap_fen} 分（返利政策规定的上限）"),
        ),
        E::QuarterNotEnded => t("QUARTER_NOT_ENDED", "该季度尚未结束，结束后才能结算返利"),
        E::Auth(e) => auth(e),
        E::Store(_) | E::Export(_) => None,
        _ => None,
    }
}

/// The Chinese for the reasons `CartonMismatch` gives (the English stays in the logs).
fn carton_reason_zh(reason: &str) -> &'static str {
    match reason {
        "codes of another SKU" => "码批次属于另一个 SKU",
        "serials beyond the code batch" => "序号超出码批次范围",
        "quantity differs from the serial range" => "数量与序号区间不一致",
        "more than allocated and not yet shipped" => "超过已分配未发货的数量",
        "not a line of this order" => "不是本订单的订货行",
        "serial ranges overlap in the cartons" => "装箱中的序号区间相互重叠",
        _ => "请检查装箱明细",
    }
}

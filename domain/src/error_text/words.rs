//! The Chinese for the words and sentences errors carry as data: what was not found, which
//! code is taken, a booking's state, a time, and the most common invalid-input sentences.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

/// "找不到{thing}" for the names the modules give to `NotFound`.
pub(super) fn not_found(what: &str) -> Cow<'static, str> {
    match thing(what) {
        Some(thing) => Cow::Owned(format!("找不到{thing}")),
        None => Cow::Borrowed("找不到所请求的内容"),
    }
}

/// "{code}已被占用" for the names the modules give to `Taken`.
pub(super) fn taken(what: &str) -> Cow<'static, str> {
    match thing(what) {
        Some(thing) => Cow::Owned(format!("{thing}已被占用")),
        None => Cow::Borrowed("该编码已被占用"),
    }
}

fn thing(what: &str) -> Option<&'static str> {
    Some(match what {
        "coupon" => "优惠券",
        "image" => "图片",
        "coupon template" => "优惠券模板",
        "SKU" => "该 SKU",
        "product" => "商品",
        "order" => "订单",
        "refund" => "退款",
        "subscription template" => "订阅消息模板",
        "store" => "门店",
        "stock level" => "库存记录",
        "service" => "服务项目",
        "member" => "会员",
        "top-up plan" => "储值方案",
        "category" => "品类",
        "parent category" => "上级品类",
        "campaign" => "营销活动",
        "booking" => "预约",
        "store stock location" => "门店库位",
        "location" => "库位",
        "delivery warehouse" => "发货仓",
        "shift" => "排班",
        "block" => "停约时段",
        "batch" => "批次",
        "code batch" => "码批次",
        "flash sale" => "秒杀活动",
        "grab ticket" => "抢购凭证",
        "BA" => "美容顾问（BA）",
        "commission plan" => "提成方案",
        "commission month" => "提成月份",
        "location code" => "库位编码",
        "store code" => "门店编码",
        "product code" => "商品编码",
        "category code" => "品类编码",
        "SKU code or barcode" => "SKU 编码或条码",
        "purchase order" => "订货单",
        "purchase order line" => "订货行",
        "rebate account" => "返利账户",
        "return" => "退货单",
        "tier" => "经销商等级",
        "policy" => "渠道政策",
        "distributor" => "经销商",
        "account" => "账号",
        _ => return None,
    })
}

/// A booking's state as `BookingError::WrongState` words it (lower case, spaces).
pub(super) fn booking_state(state: &str) -> Cow<'static, str> {
    let zh = match state {
        "booked" => "已预约",
        "checked in" => "已签到",
        "completed" => "已完成",
        "cancelled" => "已取消",
        "no show" => "已爽约",
        _ => return Cow::Borrowed("预约当前的状态不允许此操作"),
    };
    Cow::Owned(format!("预约{zh}，不能执行此操作"))
}

/// A time as members read it: Beijing time, to the minute.
pub(super) fn beijing(at: DateTime<Utc>) -> String {
    at.with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m-%d %H:%M（北京时间）")
        .to_string()
}

/// The Chinese of an invalid-input sentence: the common ones a member or a counter meets are
/// translated; the rest (mostly staff set-up forms) keep their English detail after a Chinese
/// lead, which beats hiding what was wrong.
pub fn invalid_input_zh(english: &str) -> Cow<'static, str> {
    match known_sentence(english) {
        Some(zh) => Cow::Borrowed(zh),
        None if english.is_empty() => Cow::Borrowed("请求内容有误"),
        None => Cow::Owned(format!("请求内容有误：{english}")),
    }
}

fn known_sentence(english: &str) -> Option<&'static str> {
    Some(match english {
        "malformed id" => "ID 格式不正确",
        "malformed cursor" => "分页游标格式不正确",
        "first must be positive" => "first 必须为正数",
        "first must be between 1 and 50" => "first 须在 1 到 50 之间",
        "first must be 1 to 100" => "first 须在 1 到 100 之间",
        "give either a plan or an amount" => "请选择储值方案或填写金额（二选一）",
        "a top-up is between 100 and 500,000 fen" => "单次储值金额须在 1 元到 5000 元之间",
        "a top-up is paid with cash, a card or WeChat" => "储值须以现金、银行卡或微信支付",
        "the member has no unused principal" => "该会员没有可退还的储值本金",
        "this order is already paid by balance" => "该订单已使用储值余额支付",
        "an order has 1 to 20 lines" => "一笔订单须有 1 到 20 个商品行",
        "a quantity is between 1 and 99" => "数量须在 1 到 99 之间",
        "at most 99 units of one SKU" => "同一 SKU 最多购买 99 件",
        "the same coupon is listed twice" => "同一张优惠券不能重复使用",
        "at most 10 coupons on one order" => "一笔订单最多使用 10 张优惠券",
        "this is not a valid coupon code" => "这不是有效的优惠券码",
        "give either pickupStoreId or delivery" => "请选择到店自提门店或填写收货地址（二选一）",
        "delivery phone is not a phone number" => "收货电话不是有效的电话号码",
        "that time has passed" => "该时间已过",
        "members book 1 to 90 days ahead" => "可预约 1 到 90 天内的时段",
        "birthday must be a past date after 1900" => "生日须为 1900 年之后的过去日期",
        "nothing to update" => "没有需要修改的内容",
        "a phone number has digits only" => "手机号只能包含数字",
        "not a mainland China mobile number" => "不是中国大陆手机号",
        "not a phone number" => "不是有效的电话号码",
        "give either phone or memberCode" => "请提供手机号或会员码（二选一）",
        "give either batchId or storeCode" => "请提供 batchId 或 storeCode（二选一）",
        "name at least one line to refund" => "请至少选择一个要退款的商品行",
        "a refund line is not on this order" => "退款的商品行不在该订单中",
        "refund at least one unit" => "请至少退款一件",
        "more units than are left to refund on a line" => "退款数量超过该商品行可退数量",
        "unknown time zone" => "未知的时区",
        _ => return None,
    })
}

//! Reasons and Chinese messages of the commission errors.

use std::borrow::Cow;

use super::people::auth;
use super::words::not_found;
use super::{Text, t};
use crate::commission::CommissionError;

fn input_zh(english: &str) -> Cow<'static, str> {
    Cow::Borrowed(match english {
        "a month is written YYYY-MM" => "月份格式应为 YYYY-MM",
        "a plan name is 1 to 60 characters" => "方案名称须为 1 到 60 个字符",
        "a share is between 0 and 10,000 basis points" => "分成比例须在 0 到 10000 基点之间",
        "the designated and assistant shares must add up to 10,000 basis points" => {
            "指定导购与协助导购的分成比例之和必须为 100%（10000 基点）"
        }
        "a rate is between 0 and 10,000 basis points" => "提成比例须在 0 到 10000 基点之间",
        "a plan has at least one rule" => "方案至少需要一条规则",
        "one rule per item kind" => "每种项目类型只能有一条规则",
        "a FLAT rule has a rate and no brackets" => "固定比例规则只填比例，不填阶梯",
        "a TIERED rule has brackets and no single rate" => "阶梯规则只填阶梯，不填单一比例",
        "a TIERED rule has 1 to 20 brackets" => "阶梯规则须有 1 到 20 个阶梯",
        "the first bracket starts at 0" => "第一个阶梯须从 0 开始",
        "brackets start in ascending order" => "阶梯起点须按从小到大排列",
        "a bracket starts at most at ¥1,000,000,000" => "阶梯起点最多为 10 亿元",
        "an amount is between 0 and ¥1,000,000" => "金额须在 0 到 100 万元之间",
        "a month can be locked once it is over" => "月份结束后才能锁定提成",
        "the month does not exist in the store's zone" => "该月份在门店时区中无效",
        _ => return Cow::Owned(format!("提成请求有误：{english}")),
    })
}

#[allow(unreachable_patterns)]
pub(super) fn commission(e: &CommissionError) -> Option<Text> {
    match e {
        CommissionError::InvalidInput(m) => t("INVALID_COMMISSION_INPUT", input_zh(m)),
        CommissionError::NotFound(what) => t("NOT_FOUND", not_found(what)),
        CommissionError::MonthLocked(m) => t(
            "COMMISSION_MONTH_LOCKED",
            format!("{m} 的提成已锁定，不能再修改"),
        ),
        CommissionError::VersionRace => t("COMMISSION_PLAN_RACE", "另一个方案版本刚刚写入，请重试"),
        CommissionError::Auth(e) => auth(e),
        CommissionError::Store(_) => None,
        _ => None,
    }
}

//! Reasons and Chinese messages of the store day close's errors.

use std::borrow::Cow;

use super::people::auth;
use super::words::{invalid_input_zh, not_found};
use super::{Text, t};
use crate::day_close::DayCloseError;

fn input_zh(english: &str) -> Cow<'static, str> {
    Cow::Borrowed(match english {
        "a month is written YYYY-MM" => "月份格式应为 YYYY-MM",
        "an expense is between 1 fen and ¥1,000,000" => "费用金额须在 0.01 元到 100 万元之间",
        "counted cash is between 0 and ¥10,000,000" => "清点现金须在 0 到 1000 万元之间",
        other => return invalid_input_zh(other),
    })
}

#[allow(unreachable_patterns)]
pub(super) fn day_close(e: &DayCloseError) -> Option<Text> {
    match e {
        DayCloseError::InvalidInput(m) => t("INVALID_INPUT", input_zh(m)),
        DayCloseError::NotFound(what) => t("NOT_FOUND", not_found(what)),
        DayCloseError::FutureDay => t("DAY_NOT_BEGUN", "该营业日尚未开始，不能日结或记录费用"),
        DayCloseError::DifferenceReasonRequired { difference_fen } => t(
            "DIFFERENCE_REASON_REQUIRED",
            format!(
                "清点现金与应有现金相差 {:.2} 元，请填写差异原因",
                *difference_fen as f64 / 100.0
            ),
        ),
        DayCloseError::AlreadyClosed => t("DAY_ALREADY_CLOSED", "该门店当天已日结"),
        DayCloseError::DayClosed => t("DAY_CLOSED", "该营业日已日结，请记录在未日结的营业日"),
        DayCloseError::Corrupt(_) => None,
        DayCloseError::Auth(e) => auth(e),
        DayCloseError::Store(_) => None,
        _ => None,
    }
}

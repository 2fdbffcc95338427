//! Reasons and Chinese messages of the sales facts' and reports' errors.

use std::borrow::Cow;

use super::people::auth;
use super::words::not_found;
use super::{Text, t};
use crate::reports::ReportsError;
use crate::sales::SalesError;

fn query_zh(english: &str) -> Cow<'static, str> {
    Cow::Borrowed(match english {
        "ask for at least one metric" => "请至少选择一个指标",
        "group by at most three dimensions" => "最多按三个维度分组",
        "a dimension is named twice" => "同一维度不能重复",
        "group by one of day, week or month" => "日、周、月只能选择其一",
        "the range ends before it starts" => "结束日期早于开始日期",
        "a report covers at most two years" => "报表的日期范围最长两年",
        "a month is written YYYY-MM" => "月份格式应为 YYYY-MM",
        "a target is between 0 and ¥1,000,000,000" => "目标金额须在 0 到 10 亿元之间",
        "more lines than one XLSX sheet holds: export CSV or a shorter range" => {
            "明细行数超过一个 XLSX 工作表的上限，请导出 CSV 或缩短日期范围"
        }
        "the export's owner is no longer active" => "导出任务的发起人账号已停用",
        other if other.starts_with("the report has more than") => {
            "报表行数过多，请缩小日期范围或减少分组维度"
        }
        _ => return Cow::Owned(format!("报表查询条件有误：{english}")),
    })
}

#[allow(unreachable_patterns)]
pub(super) fn reports(e: &ReportsError) -> Option<Text> {
    match e {
        ReportsError::InvalidQuery(m) => t("INVALID_REPORT_QUERY", query_zh(m)),
        ReportsError::NotFound(what) => t("NOT_FOUND", not_found(what)),
        ReportsError::Auth(e) => auth(e),
        // Internal: the generic message; the cause goes to the log only.
        ReportsError::Store(_) | ReportsError::Export(_) => None,
        _ => None,
    }
}

#[allow(unreachable_patterns)]
pub(super) fn sales(e: &SalesError) -> Option<Text> {
    match e {
        SalesError::Store(_) => None,
        _ => None,
    }
}

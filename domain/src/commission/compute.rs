//! The month's arithmetic, with no database: who earns on each item (designated and assistant
//! shares), each rule's rate (flat, whole-month tier, marginal tier in the order things
//! happened), and rounding. Amounts are carried exactly in 1/10⁸ fen (a base in fen × a share in
//! basis points × a rate in basis points); each statement's total is the exact sum rounded half
//! away from zero, and its lines are rounded by largest remainder so they add up to it.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::{
    CommissionBase, CommissionItemKind, CommissionLineKind, CommissionMethod, CommissionSource,
    Line, Plan, Rule, SplitRole, TierMode,
};

/// 1 fen in the exact unit.
const SCALE: i128 = 100_000_000;
/// 100% in basis points.
const WHOLE: i32 = 10_000;

/// One thing commission may be earned on, in the order it happened.
#[derive(Debug, Clone)]
pub(super) struct Item {
    pub source: CommissionSource,
    pub source_id: i64,
    pub item_kind: CommissionItemKind,
    /// EARNED, CLAWBACK or ADJUSTMENT.
    pub kind: CommissionLineKind,
    pub business_date: NaiveDate,
    /// For an adjustment: the locked month the refunded sale belongs to.
    pub locked_month: Option<String>,
    pub net_fen: i64,
    pub cost_fen: i64,
    /// The member's designated (exclusive) BA, or the BA the member booked.
    pub designated: Option<i64>,
    /// The BA who served: recorded the sale or top-up, redeemed the booking.
    pub served: Option<i64>,
}

/// A BA of the store, with the month's inputs.
#[derive(Debug, Clone)]
pub(super) struct Person {
    pub staff_id: i64,
    pub name: String,
    pub base_salary_fen: i64,
    pub rating_bonus_fen: i64,
}

/// A statement before it is stored or shown.
#[derive(Debug, Clone)]
pub(super) struct Draft {
    pub staff_id: i64,
    pub staff_name: String,
    pub total_fen: i64,
    pub lines: Vec<Line>,
}

/// `total` = the exact sum rounded half away from zero; the parts rounded down, then one fen
/// more to the largest remainders (earlier first on ties) until they add up to `total`.
pub fn largest_remainder(exact: &[i128], scale: i128) -> (i64, Vec<i64>) {
    let sum: i128 = exact.iter().sum();
    let total = if sum < 0 {
        -round_half_up(-sum, scale)
    } else {
        round_half_up(sum, scale)
    };
    let mut parts: Vec<i128> = exact.iter().map(|e| e.div_euclid(scale)).collect();
    let mut order: Vec<usize> = (0..exact.len()).collect();
    order.sort_by(|&a, &b| {
        exact[b]
            .rem_euclid(scale)
            .cmp(&exact[a].rem_euclid(scale))
            .then(a.cmp(&b))
    });
    let mut diff = total - parts.iter().sum::<i128>();
    // Within [0, n] by construction; the loops only guard the arithmetic.
    let mut i = 0;
    while diff > 0 && !order.is_empty() {
        parts[order[i % order.len()]] += 1;
        diff -= 1;
        i += 1;
    }
    let mut i = 0;
    while diff < 0 && !order.is_empty() {
        parts[order[order.len() - 1 - i % order.len()]] -= 1;
        diff += 1;
        i += 1;
    }
    let fen = |v: i128| i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX });
    (fen(total), parts.into_iter().map(fen).collect())
}

fn round_half_up(n: i128, d: i128) -> i128 {
    let (q, r) = (n.div_euclid(d), n.rem_euclid(d));
    if 2 * r >= d { q + 1 } else { q }
}

/// "¥1234.56" (negative "-¥…").
pub(super) fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let a = fen.unsigned_abs();
    format!("{sign}¥{}.{:02}", a / 100, a % 100)
}

fn pct(bp: i32) -> String {
    format!("{}.{:02}%", bp / 100, bp % 100)
}

fn kind_zh(k: CommissionItemKind) -> &'static str {
    match k {
        CommissionItemKind::Product => "产品",
        CommissionItemKind::Service => "服务",
        CommissionItemKind::TopUp => "储值",
    }
}

fn base_zh(b: CommissionBase) -> &'static str {
    match b {
        CommissionBase::NetRevenue => "净销售额",
        CommissionBase::Margin => "毛利",
    }
}

/// Who earns on an item, and which share: the designated BA and the one who served when they
/// differ and both work at the store; otherwise the one of them who does, whole.
fn recipients(
    plan: &Plan,
    item: &Item,
    people: &BTreeMap<i64, &Person>,
) -> Vec<(i64, i32, SplitRole)> {
    let here = |id: Option<i64>| id.filter(|i| people.contains_key(i));
    match (here(item.designated), here(item.served)) {
        (Some(d), Some(s)) if d != s => [
            (d, plan.designated_share_bp, SplitRole::Designated),
            (s, plan.assistant_share_bp, SplitRole::Assistant),
        ]
        .into_iter()
        .filter(|(_, share, _)| *share > 0)
        .collect(),
        (Some(one), _) | (None, Some(one)) => vec![(one, WHOLE, SplitRole::Sole)],
        (None, None) => Vec::new(),
    }
}

/// Index of the bracket a credited base (1/10⁴ fen) falls in.
fn bracket_at(brackets: &[super::Bracket], x: i128) -> usize {
    brackets
        .iter()
        .rposition(|b| i128::from(b.from_fen) * i128::from(WHOLE) <= x)
        .unwrap_or(0)
}

fn rate_of(brackets: &[super::Bracket], i: usize) -> i32 {
    brackets.get(i).map_or(0, |b| b.rate_bp)
}

/// Marginal commission (1/10⁸ fen) on a credited base from 0 to `x` (1/10⁴ fen); below zero
/// the first bracket's rate.
fn marginal(brackets: &[super::Bracket], x: i128) -> i128 {
    if x <= 0 {
        return x * i128::from(rate_of(brackets, 0));
    }
    let mut total = 0;
    for (k, b) in brackets.iter().enumerate() {
        let lo = i128::from(b.from_fen) * i128::from(WHOLE);
        if x <= lo {
            break;
        }
        let hi = brackets
            .get(k + 1)
            .map_or(x, |n| (i128::from(n.from_fen) * i128::from(WHOLE)).min(x));
        total += (hi - lo) * i128::from(b.rate_bp);
    }
    total
}

struct Pending {
    line: Line,
    exact: i128,
}

fn base_of(rule: &Rule, item: &Item) -> i64 {
    match rule.base {
        CommissionBase::NetRevenue => item.net_fen,
        CommissionBase::Margin => item.net_fen - item.cost_fen,
    }
}

/// The lines one rule gives one BA, in the order things happened.
fn rule_lines(plan: &Plan, rule: &Rule, mine: &[(&Item, i32, SplitRole)], out: &mut Vec<Pending>) {
    let credited = |item: &Item, share: i32| i128::from(base_of(rule, item)) * i128::from(share);
    let month_base: i128 = mine.iter().map(|(i, s, _)| credited(i, *s)).sum();
    let whole_rate = match (rule.method, plan.tier_mode) {
        (CommissionMethod::Flat, _) => Some(rule.rate_bp.unwrap_or(0)),
        (CommissionMethod::Tiered, TierMode::WholeMonth) => Some(rate_of(
            &rule.brackets,
            bracket_at(&rule.brackets, month_base),
        )),
        (CommissionMethod::Tiered, TierMode::Marginal) => None,
    };
    let head = format!("{} · {}", kind_zh(rule.item_kind), base_zh(rule.base));
    let mut running: i128 = 0;
    for (item, share, split) in mine {
        let c = credited(item, *share);
        let (exact, rate_bp, how) = if let Some(rate) = whole_rate {
            let how = if rule.method == CommissionMethod::Tiered {
                let reached = rule.brackets[bracket_at(&rule.brackets, month_base)].from_fen;
                format!(
                    " × {}（整月阶梯：本月基数 {} 达到 {} 档）",
                    pct(rate),
                    yuan(i64::try_from(month_base / i128::from(WHOLE)).unwrap_or(0)),
                    yuan(reached)
                )
            } else {
                format!(" × {}", pct(rate))
            };
            (c * i128::from(rate), Some(rate), how)
        } else {
            let (from, to) = (running, running + c);
            running = to;
            let (lo, hi) = (from.min(to), from.max(to));
            let first = bracket_at(&rule.brackets, lo);
            let last = if hi > lo {
                bracket_at(&rule.brackets, hi - 1)
            } else {
                first
            };
            let rate = (first == last).then(|| rate_of(&rule.brackets, first));
            let rates = match rate {
                Some(r) => pct(r),
                None => format!(
                    "{}→{}",
                    pct(rate_of(&rule.brackets, first)),
                    pct(rate_of(&rule.brackets, last))
                ),
            };
            let how = format!(
                "（累进阶梯：本月累计 {} → {}，按 {}）",
                yuan(i64::try_from(from / i128::from(WHOLE)).unwrap_or(0)),
                yuan(i64::try_from(to / i128::from(WHOLE)).unwrap_or(0)),
                rates
            );
            (
                marginal(&rule.brackets, to) - marginal(&rule.brackets, from),
                rate,
                how,
            )
        };
        let share_note = match split {
            SplitRole::Sole => String::new(),
            SplitRole::Designated => format!("，指定导购分成 {}", pct(*share)),
            SplitRole::Assistant => format!("，协助导购分成 {}", pct(*share)),
        };
        let top_up = item.item_kind == CommissionItemKind::TopUp;
        let prefix = match (item.kind, &item.locked_month) {
            (CommissionLineKind::Adjustment, Some(m)) if top_up => {
                format!("已锁定月份 {m} 的储值本金退还：")
            }
            (CommissionLineKind::Adjustment, Some(m))
                if super::month_of(item.business_date) == *m =>
            {
                format!("已锁定月份 {m} 锁定后入账：")
            }
            (CommissionLineKind::Adjustment, Some(m)) => format!("已锁定月份 {m} 的销售退款：",),
            (CommissionLineKind::Clawback, _) if top_up => "储值本金退还追回：".to_owned(),
            (CommissionLineKind::Clawback, _) => "退款追回：".to_owned(),
            _ => String::new(),
        };
        out.push(Pending {
            line: Line {
                position: 0,
                source: item.source,
                source_id: Some(item.source_id),
                kind: item.kind,
                item_kind: Some(item.item_kind),
                split: *split,
                business_date: Some(item.business_date),
                base_fen: base_of(rule, item),
                share_bp: *share,
                rate_bp,
                amount_fen: 0,
                rule_label: format!("{prefix}{head}{how}{share_note}"),
            },
            exact,
        });
    }
}

fn fixed(source: CommissionSource, base_fen: i64, rate_bp: Option<i32>, label: String) -> Pending {
    let rate = rate_bp.unwrap_or(WHOLE);
    Pending {
        line: Line {
            position: 0,
            source,
            source_id: None,
            kind: CommissionLineKind::Fixed,
            item_kind: None,
            split: SplitRole::Sole,
            business_date: None,
            base_fen,
            share_bp: WHOLE,
            rate_bp,
            amount_fen: 0,
            rule_label: label,
        },
        exact: i128::from(base_fen) * i128::from(WHOLE) * i128::from(rate),
    }
}

/// Every BA's statement for the month (one per person, by staff id, even when empty).
pub(super) fn statements(plan: &Plan, people: &[Person], items: &[Item]) -> Vec<Draft> {
    let by_id: BTreeMap<i64, &Person> = people.iter().map(|p| (p.staff_id, p)).collect();
    let mut earned: BTreeMap<i64, Vec<(&Item, i32, SplitRole)>> = BTreeMap::new();
    for item in items {
        for (staff, share, split) in recipients(plan, item, &by_id) {
            earned.entry(staff).or_default().push((item, share, split));
        }
    }
    by_id
        .values()
        .map(|person| {
            let mut pending = Vec::new();
            let mine = earned.remove(&person.staff_id).unwrap_or_default();
            for rule in &plan.rules {
                let of_kind: Vec<_> = mine
                    .iter()
                    .filter(|(i, _, _)| i.item_kind == rule.item_kind)
                    .copied()
                    .collect();
                rule_lines(plan, rule, &of_kind, &mut pending);
            }
            if person.base_salary_fen > 0 && plan.base_salary_rate_bp > 0 {
                pending.push(fixed(
                    CommissionSource::BaseSalary,
                    person.base_salary_fen,
                    Some(plan.base_salary_rate_bp),
                    format!(
                        "基础工资 {} × {}",
                        yuan(person.base_salary_fen),
                        pct(plan.base_salary_rate_bp)
                    ),
                ));
            }
            if person.rating_bonus_fen > 0 {
                pending.push(fixed(
                    CommissionSource::RatingBonus,
                    person.rating_bonus_fen,
                    None,
                    "评价加分".to_owned(),
                ));
            }
            let exact: Vec<i128> = pending.iter().map(|p| p.exact).collect();
            let (total_fen, amounts) = largest_remainder(&exact, SCALE);
            let lines = pending
                .into_iter()
                .zip(amounts)
                .enumerate()
                .map(|(i, (p, amount_fen))| Line {
                    position: i32::try_from(i + 1).unwrap_or(i32::MAX),
                    amount_fen,
                    ..p.line
                })
                .collect();
            Draft {
                staff_id: person.staff_id,
                staff_name: person.name.clone(),
                total_fen,
                lines,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{SCALE, largest_remainder, marginal};
    use crate::commission::Bracket;

    #[test]
    fn lines_add_up_to_the_rounded_total() {
        // Three lines of 1.6665 fen: total 5, the parts 2, 2, 1.
        let third = 166_650_000;
        let (total, parts) = largest_remainder(&[third, third, third], SCALE);
        assert_eq!(total, 5);
        assert_eq!(parts, vec![2, 2, 1]);
        // Negative and positive mixed.
        let (total, parts) = largest_remainder(&[-150_000_000, 40_000_000, 40_000_000], SCALE);
        assert_eq!(total, -1);
        assert_eq!(parts.iter().sum::<i64>(), -1);
        let (total, parts) = largest_remainder(&[], SCALE);
        assert_eq!((total, parts.len()), (0, 0));
    }

    #[test]
    fn marginal_brackets_add_each_part_at_its_rate() {
        let b = [
            Bracket {
                from_fen: 0,
                rate_bp: 300,
            },
            Bracket {
                from_fen: 1_000_000,
                rate_bp: 500,
            },
        ];
        // ¥15,000: ¥10,000 at 3% + ¥5,000 at 5% = ¥550.
        let c = marginal(&b, 1_500_000 * 10_000);
        assert_eq!(c, 55_000 * SCALE);
        assert_eq!(marginal(&b, -100 * 10_000), -3 * SCALE);
    }
}

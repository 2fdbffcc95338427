//! Distributor rebates (返利): accrued per event into an append-only ledger (`rebate_entries`,
//! unique `(kind, source_ref)`, each entry in its Asia/Shanghai quarter) with one balance row
//! per distributor (`rebate_accounts`, every column CHECKed ≥ 0) changed only by conditional
//! updates in the same transaction as the entry.
//!
//! - VOLUME_REBATE (季度返点) accrues on receipt: the quarter's received value (at the order's
//!   prices, less accepted returns) decides the rebate, WHOLE (retroactive) or MARGINAL (above
//!   the threshold); each receipt or return writes the difference to what the ledger holds.
//! - SCAN_REBATE (动销返利) accrues per first consumer scan, inside the distributor's territory,
//!   of a pack shipped to it (`packs::shipped_to_condition`), by a worker reading scan events
//!   after a cursor (the scan path stays as it was).
//! - `settleRebates(quarter)` recomputes the quarter from the facts, corrects the ledger if it
//!   drifted (ADJUST) and makes available only what was not settled before (SETTLE).
//! - Orders spend available rebate (capped by the policies' `maxUsePercent`): held at submit,
//!   given back on cancel or reject, used at shipment.
//! - Returns after receipt reverse the rebate accrued on the units.

mod account;
mod accrue;
mod facts;
mod ledger;
mod recompute_all;
mod returns;
mod settle;
mod spend;

pub use account::{
    RebateAccount, RebateEntry, distributor_rebate_account, rebate_account, rebate_ledger,
};
pub use accrue::{AccrueScanRebates, accrue_scan_rebates};
pub use facts::{Recomputed, recompute_quarter};
pub use recompute_all::recompute_quarter_all;
pub use returns::{B2bReturn, ReturnLineInput, accept_b2b_return, return_purchase_order_lines};
pub use settle::{Settlement, settle_rebates};

pub(crate) use accrue::on_receipt;
pub(crate) use spend::{RebateUse, consume_hold, hold, rebate_use, release_hold};

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};

use super::B2bError;
use crate::platform::clock::DEFAULT_ZONE;
use entities::b2b_policy::{PolicyRule, RebateMode};

/// The most a policy may pay per scan (¥1,000) and its highest rate (50%).
const MAX_FEN_PER_SCAN: i64 = 100_000;
const MAX_RATE_BP: i32 = 5_000;

/// The quarter (`2026Q1`) an instant falls in, in Asia/Shanghai.
pub fn quarter_of(at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&DEFAULT_ZONE);
    format!("{}Q{}", local.year(), (local.month() - 1) / 3 + 1)
}

/// The instants a quarter (`2026Q1`) starts and ends at (Asia/Shanghai midnights).
pub fn quarter_bounds(quarter: &str) -> Result<(DateTime<Utc>, DateTime<Utc>), B2bError> {
    let bad = || B2bError::InvalidInput("quarter must look like 2026Q1".into());
    let (year, q) = quarter.split_once('Q').ok_or_else(bad)?;
    let year: i32 = year.parse().map_err(|_| bad())?;
    let q: u32 = q.parse().map_err(|_| bad())?;
    if !(2000..=2999).contains(&year) || !(1..=4).contains(&q) {
        return Err(bad());
    }
    let start = NaiveDate::from_ymd_opt(year, (q - 1) * 3 + 1, 1).ok_or_else(bad)?;
    let end = if q == 4 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, q * 3 + 1, 1)
    }
    .ok_or_else(bad)?;
    let at = |d: NaiveDate| {
        DEFAULT_ZONE
            .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    };
    Ok((at(start).ok_or_else(bad)?, at(end).ok_or_else(bad)?))
}

/// What a volume rebate pays on a quarter's value.
pub(crate) fn volume_rebate(
    value_fen: i64,
    threshold_fen: i64,
    rate_bp: i32,
    mode: RebateMode,
) -> i64 {
    if value_fen < threshold_fen || value_fen <= 0 {
        return 0;
    }
    let base = match mode {
        RebateMode::Whole => value_fen,
        RebateMode::Marginal => value_fen - threshold_fen,
    };
    let paid = i128::from(base) * i128::from(rate_bp) / 10_000;
    i64::try_from(paid).unwrap_or(i64::MAX)
}

/// A rebate rule's numbers must make sense.
pub(crate) fn check_rule(rule: &PolicyRule) -> Result<(), String> {
    let cap_ok = |p: i32| (0..=100).contains(&p);
    match rule {
        PolicyRule::VolumeRebate {
            threshold_fen,
            rate_bp,
            max_use_percent,
            ..
        } => {
            if *threshold_fen < 0 || !(1..=MAX_RATE_BP).contains(rate_bp) {
                return Err(format!(
                    "thresholdFen must be 0 or more and rateBp between 1 and {MAX_RATE_BP}"
                ));
            }
            if !cap_ok(*max_use_percent) {
                return Err("maxUsePercent must be between 0 and 100".into());
            }
        }
        PolicyRule::ScanRebate {
            fen_per_scan,
            max_use_percent,
        } => {
            if !(1..=MAX_FEN_PER_SCAN).contains(fen_per_scan) {
                return Err(format!(
                    "fenPerScan must be between 1 and {MAX_FEN_PER_SCAN}"
                ));
            }
            if !cap_ok(*max_use_percent) {
                return Err("maxUsePercent must be between 0 and 100".into());
            }
        }
        PolicyRule::OrderReduction { .. } | PolicyRule::BuyNGetM { .. } => {}
    }
    Ok(())
}

fn yuan(fen: i64) -> String {
    if fen % 100 == 0 {
        format!("{}", fen / 100)
    } else {
        format!("{}.{:02}", fen / 100, (fen % 100).abs())
    }
}

fn percent(bp: i32) -> String {
    if bp % 100 == 0 {
        format!("{}%", bp / 100)
    } else {
        format!("{}.{:02}%", bp / 100, bp % 100)
    }
}

/// What a policy's rule does, in words (shown with the policy).
pub(crate) fn explain_rule(name: &str, rule: &PolicyRule) -> String {
    match rule {
        PolicyRule::OrderReduction {
            threshold_fen,
            off_fen,
        } => format!(
            "{name}：订单满 {} 元减 {} 元",
            yuan(*threshold_fen),
            yuan(*off_fen)
        ),
        PolicyRule::BuyNGetM { buy, get, .. } => {
            format!("{name}：每满 {buy} 件赠 {get} 件（向下取整，同一 SKU 多行合并计算）")
        }
        PolicyRule::VolumeRebate {
            threshold_fen,
            rate_bp,
            mode,
            max_use_percent,
        } => {
            let how = match mode {
                RebateMode::Whole => "全额返：达标后按本季度全部签收金额计",
                RebateMode::Marginal => "超额返：只按超出门槛的签收金额计",
            };
            format!(
                "{name}：季度签收满 {} 元返 {}（{how}）；返利每单最多抵扣 {max_use_percent}%",
                yuan(*threshold_fen),
                percent(*rate_bp)
            )
        }
        PolicyRule::ScanRebate {
            fen_per_scan,
            max_use_percent,
        } => format!(
            "{name}：本经销商发出的产品在其区域内被消费者首次扫码，每次返 {} 元（区域外扫码不返）；返利每单最多抵扣 {max_use_percent}%",
            yuan(*fen_per_scan)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarters_are_shanghai_quarters() {
        // 2026-03-31 23:30 in Shanghai is 15:30 UTC: still Q1.
        let late = Utc.with_ymd_and_hms(2026, 3, 31, 15, 30, 0).unwrap();
        assert_eq!(quarter_of(late), "2026Q1");
        // 2026-03-31 16:30 UTC is 1 April 00:30 in Shanghai: Q2.
        let next = Utc.with_ymd_and_hms(2026, 3, 31, 16, 30, 0).unwrap();
        assert_eq!(quarter_of(next), "2026Q2");
        let (from, to) = quarter_bounds("2026Q1").unwrap();
        assert_eq!(from, Utc.with_ymd_and_hms(2025, 12, 31, 16, 0, 0).unwrap());
        assert_eq!(to, Utc.with_ymd_and_hms(2026, 3, 31, 16, 0, 0).unwrap());
        assert!(late < to && next >= to);
        assert_eq!(
            quarter_bounds("2026Q4").unwrap().1,
            Utc.with_ymd_and_hms(2026, 12, 31, 16, 0, 0).unwrap()
        );
        for bad in ["2026Q5", "2026", "Q1", "abcdQ1", "2026Q0"] {
            assert!(quarter_bounds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn whole_is_retroactive_and_marginal_is_above_the_threshold() {
        let t = 500_000_000;
        assert_eq!(volume_rebate(t - 1, t, 300, RebateMode::Whole), 0);
        assert_eq!(volume_rebate(t, t, 300, RebateMode::Whole), 15_000_000);
        assert_eq!(
            volume_rebate(600_000_000, t, 300, RebateMode::Whole),
            18_000_000
        );
        assert_eq!(
            volume_rebate(600_000_000, t, 300, RebateMode::Marginal),
            3_000_000
        );
        assert_eq!(volume_rebate(t - 1, t, 300, RebateMode::Marginal), 0);
    }
}

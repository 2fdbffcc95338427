//! Open slots, computed in memory from one store's setup and the busy time in a window:
//! opening hours (minus closure days) ∩ a qualified BA's shifts, on the store's slot grid in its
//! own zone, where the service and its buffer do not overlap the BA's bookings or blocks.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// One open start time and the BAs free for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub ba_ids: Vec<i64>,
}

/// The open slots of a window at any time of day, as cached for searches.
#[derive(Debug)]
pub(crate) struct OpenSlots {
    pub horizon_days: i32,
    pub slots: Vec<Slot>,
}

/// Time intervals [start, end) per BA.
pub type Intervals = HashMap<i64, Vec<(DateTime<Utc>, DateTime<Utc>)>>;

/// Everything the computation needs, read in one go for a store and a window.
#[derive(Debug, Clone)]
pub struct SlotInputs {
    pub zone: Tz,
    pub slot_minutes: i64,
    pub duration_minutes: i64,
    pub buffer_minutes: i64,
    pub from: NaiveDate,
    pub days: i64,
    /// Slots must start after this.
    pub not_before: DateTime<Utc>,
    /// Weekday (1 = Monday) → (opens, closes) in minutes from local midnight.
    pub opening: HashMap<u32, (i64, i64)>,
    pub closures: HashSet<NaiveDate>,
    /// The qualified BAs, in the order they are offered.
    pub bas: Vec<i64>,
    pub shifts: Intervals,
    /// Bookings (start, held-until) and blocks per BA.
    pub busy: Intervals,
}

/// A local wall-clock time on a day as a UTC instant; `None` in a daylight-saving gap.
pub fn local_instant(zone: Tz, date: NaiveDate, minute: i64) -> Option<DateTime<Utc>> {
    let naive = date.and_hms_opt(0, 0, 0)? + Duration::minutes(minute);
    zone.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// Sorts and merges intervals so each list is ordered and non-overlapping.
fn merged(mut list: Vec<(DateTime<Utc>, DateTime<Utc>)>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    list.sort();
    let mut out: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::with_capacity(list.len());
    for (s, e) in list {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

fn covered(list: &[(DateTime<Utc>, DateTime<Utc>)], s: DateTime<Utc>, e: DateTime<Utc>) -> bool {
    // The last interval starting at or before s must reach e.
    let i = list.partition_point(|iv| iv.0 <= s);
    i > 0 && list[i - 1].1 >= e
}

fn overlaps(list: &[(DateTime<Utc>, DateTime<Utc>)], s: DateTime<Utc>, e: DateTime<Utc>) -> bool {
    // The first interval ending after s overlaps when it starts before e.
    let i = list.partition_point(|iv| iv.1 <= s);
    i < list.len() && list[i].0 < e
}

/// The open slots of the window, in time order.
pub fn compute(inputs: SlotInputs) -> Vec<Slot> {
    let shifts: HashMap<i64, Vec<_>> = inputs
        .shifts
        .into_iter()
        .map(|(ba, l)| (ba, merged(l)))
        .collect();
    let busy: HashMap<i64, Vec<_>> = inputs
        .busy
        .into_iter()
        .map(|(ba, l)| (ba, merged(l)))
        .collect();
    let step = inputs.slot_minutes.max(5);
    let mut slots = Vec::new();
    for offset in 0..inputs.days {
        let Some(day) = inputs.from.checked_add_signed(Duration::days(offset)) else {
            break;
        };
        if inputs.closures.contains(&day) {
            continue;
        }
        let Some(&(opens, closes)) = inputs.opening.get(&day.weekday().number_from_monday()) else {
            continue;
        };
        // The first grid point at or after opening time.
        let mut minute = (opens + step - 1) / step * step;
        while minute + inputs.duration_minutes <= closes {
            let start_minute = minute;
            minute += step;
            let Some(start) = local_instant(inputs.zone, day, start_minute) else {
                continue;
            };
            if start <= inputs.not_before {
                continue;
            }
            let end = start + Duration::minutes(inputs.duration_minutes);
            let hold = end + Duration::minutes(inputs.buffer_minutes);
            let ba_ids: Vec<i64> = inputs
                .bas
                .iter()
                .copied()
                .filter(|ba| {
                    shifts.get(ba).is_some_and(|l| covered(l, start, end))
                        && !busy.get(ba).is_some_and(|l| overlaps(l, start, hold))
                })
                .collect();
            if !ba_ids.is_empty() {
                slots.push(Slot {
                    starts_at: start,
                    ends_at: end,
                    ba_ids,
                });
            }
        }
    }
    slots
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(zone: Tz, d: &str, hm: &str) -> DateTime<Utc> {
        let date = NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
        let (h, m) = hm.split_once(':').unwrap();
        local_instant(
            zone,
            date,
            h.parse::<i64>().unwrap() * 60 + m.parse::<i64>().unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn slots_follow_shifts_hours_and_busy_time() {
        let z = chrono_tz::Asia::Shanghai;
        let day = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(); // a Monday
        let inputs = SlotInputs {
            zone: z,
            slot_minutes: 30,
            duration_minutes: 60,
            buffer_minutes: 15,
            from: day,
            days: 2,
            not_before: at(z, "2026-12-01", "00:00"),
            opening: [(1, (600, 1200)), (2, (600, 1200))].into_iter().collect(),
            closures: [day.succ_opt().unwrap()].into_iter().collect(),
            bas: vec![1, 2],
            shifts: [
                (
                    1,
                    vec![(at(z, "2026-12-07", "10:00"), at(z, "2026-12-07", "14:00"))],
                ),
                (
                    2,
                    vec![(at(z, "2026-12-07", "14:00"), at(z, "2026-12-07", "18:00"))],
                ),
            ]
            .into_iter()
            .collect(),
            busy: [(
                1,
                vec![(at(z, "2026-12-07", "11:00"), at(z, "2026-12-07", "12:15"))],
            )]
            .into_iter()
            .collect(),
        };
        let slots = compute(inputs);
        let starts: Vec<(String, Vec<i64>)> = slots
            .iter()
            .map(|s| {
                (
                    s.starts_at.with_timezone(&z).format("%H:%M").to_string(),
                    s.ba_ids.clone(),
                )
            })
            .collect();
        let expect: Vec<(String, Vec<i64>)> = [
            ("12:30", vec![1]),
            ("13:00", vec![1]),
            ("14:00", vec![2]),
            ("14:30", vec![2]),
            ("15:00", vec![2]),
            ("15:30", vec![2]),
            ("16:00", vec![2]),
            ("16:30", vec![2]),
            ("17:00", vec![2]),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b))
        .collect();
        assert_eq!(starts, expect);
    }
}

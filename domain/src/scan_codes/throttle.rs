//! Guessing is throttled, then blocked, per member and per device (client address).

use super::ScanError;
use crate::auth::MemberPrincipal;
use crate::platform::kv::keys::{self, ScanSubject};
use crate::{AppState, RequestMeta};

fn subjects(who: &MemberPrincipal, meta: &RequestMeta) -> Vec<(ScanSubject, i64)> {
    // An address may carry many members (an office or carrier NAT), so its limits are 20×.
    let mut s = vec![(ScanSubject::Member(who.member_id), 1)];
    if let Some(ip) = meta.client_ip {
        s.push((ScanSubject::Address(ip), 20));
    }
    s
}

async fn count_of(app: &AppState, key: String) -> Result<i64, ScanError> {
    Ok(app
        .kv
        .get(&key)
        .await?
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(0))
}

/// The value an unknown-code counter is set to while its subject is blocked: one read tells
/// blocked, throttled and fine apart.
const BLOCKED: i64 = 1 << 40;

/// Refuses a blocked or throttled member or device, then counts this scan against the
/// per-member rate limit.
pub(super) async fn check_throttle(
    app: &AppState,
    who: &MemberPrincipal,
    meta: &RequestMeta,
) -> Result<(), ScanError> {
    let s = &app.settings.scan;
    let subjects = subjects(who, meta);
    // The member's and the device's counters are read at once (one round trip's wait, not two).
    let counts = futures::future::try_join_all(
        subjects
            .iter()
            .map(|(subject, _)| count_of(app, keys::scan_unknown(*subject))),
    )
    .await?;
    for ((_, factor), unknown) in subjects.iter().zip(counts) {
        if unknown >= BLOCKED {
            return Err(ScanError::Blocked);
        }
        if unknown >= s.unknown_throttle * factor {
            return Err(ScanError::Throttled);
        }
    }
    let n = app
        .kv
        .incr_window(
            &keys::scan_rate(who.member_id),
            std::time::Duration::from_secs(60),
        )
        .await?;
    if n > s.scans_per_minute {
        return Err(ScanError::RateLimited);
    }
    Ok(())
}

/// Counts an unknown code against the member and device; past the day's limit, blocks them.
pub(super) async fn note_unknown(
    app: &AppState,
    who: &MemberPrincipal,
    meta: &RequestMeta,
) -> Result<(), ScanError> {
    let s = &app.settings.scan;
    for (subject, factor) in subjects(who, meta) {
        app.kv
            .incr_window(&keys::scan_unknown(subject), s.unknown_window)
            .await?;
        let day = app
            .kv
            .incr_window(
                &keys::scan_unknown_day(subject),
                std::time::Duration::from_secs(24 * 3600),
            )
            .await?;
        if day >= s.unknown_block * factor {
            app.kv
                .set(
                    &keys::scan_unknown(subject),
                    BLOCKED.to_string().as_bytes(),
                    Some(s.block_for),
                )
                .await?;
            tracing::warn!(subject = %subject, "scan-for-gift: blocked after too many unknown codes");
        }
    }
    Ok(())
}

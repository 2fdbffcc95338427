//! Asking WeChat for mini-program codes (`getwxacodeunlimit`) under its daily quota: once
//! WeChat answers 45009, a key-value flag for the store day (Asia/Shanghai) stops every replica
//! from calling again until the next day starts; callers get `SHARE_CODE_QUOTA_REACHED`
//! (LIMIT_REACHED) instead, and what was stored already (posters, code assets) keeps working.

use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, Utc};
use wechat_integration::{WeChatErrorKind, WxaCodeRequest};

use super::MediaError;
use crate::AppState;
use crate::platform::clock::DEFAULT_ZONE;
use crate::platform::kv::keys;

fn store_day(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&DEFAULT_ZONE).date_naive()
}

/// How long until the store day after `now` starts (at least a minute).
fn rest_of_day(now: DateTime<Utc>) -> Duration {
    let next = store_day(now)
        .checked_add_days(Days::new(1))
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|t| t.and_local_timezone(DEFAULT_ZONE).earliest())
        .map(|t| t.with_timezone(&Utc));
    let secs = next.map_or(86_400, |n| (n - now).num_seconds());
    Duration::from_secs(u64::try_from(secs).unwrap_or(0).max(60))
}

/// Whether WeChat said today's code quota is used up.
pub async fn quota_reached(app: &AppState) -> Result<bool, MediaError> {
    quota_stopped(app).await.map_err(super::internal)
}

/// The same flag, with the key-value store's own error (for callers outside media).
pub async fn quota_stopped(app: &AppState) -> Result<bool, crate::platform::kv::KvError> {
    let key = keys::wxacode_quota_stop(store_day(app.clock.now()));
    Ok(app.kv.get(&key).await?.is_some())
}

/// WeChat answered 45009: no replica asks for a code again until the next store day starts.
/// (Staff display codes, `scan_codes::wxacode`, share the flag with posters.)
pub async fn record_quota_stop(app: &AppState) {
    let now = app.clock.now();
    let key = keys::wxacode_quota_stop(store_day(now));
    if let Err(kv) = app.kv.set(&key, b"45009", Some(rest_of_day(now))).await {
        tracing::error!(error = %kv, "could not record the wxacode quota stop");
    }
    tracing::warn!("WeChat wxacode daily quota reached; codes stop until tomorrow");
}

/// The code's image bytes, or `CodeQuotaReached` without calling WeChat when the day's quota
/// is used up.
pub async fn generate(app: &AppState, req: &WxaCodeRequest) -> Result<Vec<u8>, MediaError> {
    if quota_reached(app).await? {
        return Err(MediaError::CodeQuotaReached);
    }
    match app.wechat.wxacode_unlimited(req).await {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == WeChatErrorKind::DailyQuota => {
            record_quota_stop(app).await;
            Err(MediaError::CodeQuotaReached)
        }
        Err(e) => Err(MediaError::WeChat(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_stop_lasts_until_shanghai_midnight() {
        // 2026-12-05 23:30 in Shanghai is 15:30 UTC: half an hour left
        let now = Utc
            .with_ymd_and_hms(2026, 12, 5, 15, 30, 0)
            .single()
            .expect("time");
        assert_eq!(rest_of_day(now), Duration::from_secs(1800));
        assert_eq!(store_day(now).to_string(), "2026-12-05");
        // 16:30 UTC is already the 6th in Shanghai
        let later = Utc
            .with_ymd_and_hms(2026, 12, 5, 16, 30, 0)
            .single()
            .expect("time");
        assert_eq!(store_day(later).to_string(), "2026-12-06");
    }
}

//! Every key the services keep in the key-value store, built in one place so that no two
//! capabilities can collide and an operator can read the whole key space here. The store adds
//! its own prefix (`kv.prefix`) in front of each.

use std::net::IpAddr;

use chrono::NaiveDate;

/// A session's record (the access token points at it).
pub fn session(sid: &str) -> String {
    format!("session:{sid}")
}

/// The refresh token of a session.
pub fn session_refresh(sid: &str) -> String {
    format!("session-refresh:{sid}")
}

/// Failed logins of one account of one audience (consumer, staff, distributor).
pub fn login_failures(audience: &str, username: &str) -> String {
    format!("login-failures:{audience}:{}", username.to_lowercase())
}

/// Wrong current passwords given to `changeMyPassword` by one account (staff or distributor).
pub fn password_checks(audience: &str, account_id: i64) -> String {
    format!("password-checks:{audience}:{account_id}")
}

/// A staff or distributor account's revocation stamp: a random value replaced on every change to
/// the account (active, role, store, password, its organisation). A session remembers the stamp
/// it last saw; a different one sends the session back to the database before it is trusted.
pub fn account_stamp(audience: &str, account_id: i64) -> String {
    format!("account-stamp:{audience}:{account_id}")
}

/// Failed logins from one address, whatever the account.
pub fn login_failures_from(ip: IpAddr) -> String {
    format!("login-failures-ip:{ip}")
}

/// The lease a periodic task's runner holds so that one replica runs it at a time.
pub fn lease(task: &str) -> String {
    format!("lease:{task}")
}

/// A flash sale's counters (stock, window, per-member units). The hash tag keeps all of one
/// sale's keys in one Redis Cluster slot, which its scripts need.
pub fn flash_sale_counters(sale_id: i64) -> String {
    format!("flash:{{{sale_id}}}")
}

/// A member's grab attempts on a sale in the current second (same slot as the sale's counters).
pub fn flash_sale_grab_rate(sale_id: i64, member_id: i64) -> String {
    format!("{}:rl:{member_id}", flash_sale_counters(sale_id))
}

/// Members whose counters disagreed with the database at the last reconcile pass.
pub fn flash_sale_suspects(sale_id: i64) -> String {
    format!("{}:suspects", flash_sale_counters(sale_id))
}

/// The version of a store's booking window; bumping it drops every replica's cached slots.
pub fn booking_window_version(store_id: i64) -> String {
    format!("booking:slots:v:{store_id}")
}

/// Set while a WeChat Pay order started for one of our orders may still be paid: a balance
/// payment of the whole order closes it only then.
pub fn wechat_payment_started(order_no: &str) -> String {
    format!("wechat:payment-started:{order_no}")
}

/// WeChat's access token of one mini-program, shared by the replicas.
pub fn wechat_access_token(app_id: &str) -> String {
    format!("wechat:access-token:{app_id}")
}

/// Set when WeChat says the day's subscription-message quota is used up: sends wait until it goes.
pub const CAMPAIGN_DAILY_QUOTA_STOP: &str = "campaigns:daily-quota-stop";

/// Set for a store day once WeChat said the mini-program code quota (45009) is used up.
pub fn wxacode_quota_stop(day: NaiveDate) -> String {
    format!("wechat:wxacode-quota-stop:{day}")
}

/// A member's `exportMyData` calls on one store day.
pub fn member_export(member_id: i64, day: NaiveDate) -> String {
    format!("member-export:{member_id}:{day}")
}

/// Taken by the replica that recomputes member insights on a given store day.
pub fn member_insights_run(day: NaiveDate) -> String {
    format!("campaigns:insights:{day}")
}

/// Who a scan throttle counts: one member, or one client address.
#[derive(Debug, Clone, Copy)]
pub enum ScanSubject {
    Member(i64),
    Address(IpAddr),
}

impl std::fmt::Display for ScanSubject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Member(id) => write!(f, "m:{id}"),
            Self::Address(ip) => write!(f, "ip:{ip}"),
        }
    }
}

/// Unknown codes a subject scanned in the short window (or the block marker once blocked).
pub fn scan_unknown(subject: ScanSubject) -> String {
    format!("scan-unknown:{subject}")
}

/// Unknown codes a subject scanned in the last day.
pub fn scan_unknown_day(subject: ScanSubject) -> String {
    format!("scan-unknown-day:{subject}")
}

/// A member's scans in the rate window.
pub fn scan_rate(member_id: i64) -> String {
    format!("scan-rate:{}", ScanSubject::Member(member_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The stored key space is a contract with running replicas during a rolling upgrade.
    #[test]
    fn keys_keep_their_stored_shape() {
        let ip: IpAddr = "10.0.0.7".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert_eq!(session("abc"), "session:abc");
        assert_eq!(session_refresh("abc"), "session-refresh:abc");
        assert_eq!(
            login_failures("staff", "Li.Na"),
            "login-failures:staff:li.na"
        );
        assert_eq!(login_failures_from(ip), "login-failures-ip:10.0.0.7");
        assert_eq!(account_stamp("staff", 7), "account-stamp:staff:7");
        assert_eq!(lease("dispatch"), "lease:dispatch");
        assert_eq!(flash_sale_counters(42), "flash:{42}");
        assert_eq!(flash_sale_grab_rate(42, 7), "flash:{42}:rl:7");
        assert_eq!(flash_sale_suspects(42), "flash:{42}:suspects");
        assert_eq!(booking_window_version(3), "booking:slots:v:3");
        assert_eq!(wechat_access_token("wx1"), "wechat:access-token:wx1");
        assert_eq!(scan_unknown(ScanSubject::Member(9)), "scan-unknown:m:9");
        assert_eq!(
            scan_unknown_day(ScanSubject::Address(ip)),
            "scan-unknown-day:ip:10.0.0.7"
        );
        assert_eq!(scan_rate(9), "scan-rate:m:9");
        let day = NaiveDate::from_ymd_opt(2026, 12, 5);
        assert_eq!(
            day.map(member_insights_run).as_deref(),
            Some("campaigns:insights:2026-12-05")
        );
    }
}

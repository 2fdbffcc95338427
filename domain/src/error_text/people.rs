//! Reasons and Chinese messages of the errors around people: sign-in, members, bookings,
//! consents, audit, distributors, campaigns and pack scans.
//!
//! Each function answers for every variant of its enum; the last arm (`_ => None`) only
//! matters for a variant added since (the module's test names it).

use super::words::{beijing, booking_state, invalid_input_zh, not_found};
use super::{Text, t};
use crate::accounts::AccountsError;
use crate::audit::AuditError;
use crate::auth::AuthError;
use crate::booking::BookingError;
use crate::campaigns::CampaignsError;
use crate::distributors::DistributorsError;
use crate::erasure::ErasureError;
use crate::members::MembersError;
use crate::privacy::PrivacyError;
use crate::scan_codes::ScanError;
use crate::subscriptions::SubscriptionsError;

#[allow(unreachable_patterns)]
pub(super) fn auth(e: &AuthError) -> Option<Text> {
    use AuthError as E;
    match e {
        E::Unauthenticated => t("SIGN_IN_REQUIRED", "请先登录"),
        E::BadCredentials => t("BAD_CREDENTIALS", "用户名或密码错误"),
        E::AccountDisabled => t("ACCOUNT_DISABLED", "该账号已停用"),
        E::PasswordChangeRequired => t(
            "PASSWORD_CHANGE_REQUIRED",
            "该账号仍在使用一次性密码：请先通过 changeMyPassword 修改密码",
        ),
        E::Throttled => t("SIGN_IN_THROTTLED", "登录失败次数过多，请稍后再试"),
        E::InvalidWeChatCode => t(
            "WECHAT_CODE_INVALID",
            "微信登录凭证无效或已过期，请重新调用 wx.login",
        ),
        E::WeChatCodeUsed => t(
            "WECHAT_CODE_USED",
            "微信登录凭证已被使用，请重新调用 wx.login",
        ),
        E::WeChatRefused => t("WECHAT_ACCOUNT_REFUSED", "微信拒绝了该账号"),
        E::WeChatRateLimited => t("WECHAT_RATE_LIMITED", "微信请求过于频繁，请稍后再试"),
        E::InvalidRefreshToken => t("REFRESH_TOKEN_INVALID", "登录已失效，请重新登录"),
        E::RefreshReuse => t(
            "REFRESH_TOKEN_REUSED",
            "刷新令牌已被使用过，会话已结束，请重新登录",
        ),
        E::Forbidden => t("ROLE_NOT_ALLOWED", "您的角色无权执行此操作"),
        // Not client-facing: the code's generic text.
        E::WeChatUnavailable(_) | E::Store(_) | E::Internal(_) => None,
        _ => None,
    }
}

#[allow(unreachable_patterns)]
pub(super) fn members(e: &MembersError) -> Option<Text> {
    use MembersError as E;
    match e {
        E::NotFound => t("NOT_FOUND", not_found("member")),
        E::InvalidInput(m) => t("INVALID_INPUT", invalid_input_zh(m)),
        E::PhoneTaken => t("PHONE_TAKEN", "该手机号已绑定其他会员"),
        E::SystemTag => t("SYSTEM_TAG", "系统标签由 Rouge 自动设置，不能手动修改"),
        E::TagNotFound => t("NOT_FOUND", "该会员没有这个标签"),
        E::SensitiveConsentRequired => t(
            "SENSITIVE_CONSENT_REQUIRED",
            "肌肤困扰和过敏成分属于敏感个人信息，需会员本人先同意后才能记录",
        ),
        E::Auth(e) => auth(e),
        E::CodeAllocation | E::Pii(_) | E::Store(_) => None,
        _ => None,
    }
}

#[allow(unreachable_patterns)]
pub(super) fn booking(e: &BookingError) -> Option<Text> {
    use BookingError as E;
    match e {
        E::InvalidInput(m) => t("INVALID_INPUT", invalid_input_zh(m)),
        E::NotFound(what) => t("NOT_FOUND", not_found(what)),
        E::NotYours => t("BOOKING_NOT_YOURS", "该预约属于其他会员"),
        E::OtherStore => t("BOOKING_OTHER_STORE", "该预约属于其他门店"),
        E::SlotTaken => t("SLOT_TAKEN", "该时段已被预约，请选择其他时段"),
        E::SlotUnavailable => t("SLOT_UNAVAILABLE", "该时段不开放预约"),
        E::WrongState(state) => t("BOOKING_WRONG_STATE", booking_state(state)),
        E::AlreadyCheckedIn => t("ALREADY_CHECKED_IN", "该预约已签到"),
        E::TooLate(minutes) => t(
            "CHANGE_TOO_LATE",
            format!("预约最晚可在开始前 {minutes} 分钟修改或取消"),
        ),
        E::CodeExpired => t("CHECK_IN_CODE_EXPIRED", "签到码已过期，请在小程序中刷新"),
        E::BadCode => t("CHECK_IN_CODE_INVALID", "这不是预约签到码"),
        E::KeyReused => t("IDEMPOTENCY_KEY_REUSED", "该幂等键已用于另一个预约"),
        E::NoShowLimit(until) => t(
            "NO_SHOW_LIMIT",
            format!("多次爽约，预约功能暂停至 {}", beijing(*until)),
        ),
        E::MemberOverlap => t("MEMBER_OVERLAP", "您在该时间已有预约"),
        E::Shared(e) => booking(e),
        E::Auth(e) => auth(e),
        E::Store(_) => None,
        _ => None,
    }
}

#[allow(unreachable_patterns)]
pub(super) fn subscriptions(e: &SubscriptionsError) -> Option<Text> {
    match e {
        SubscriptionsError::InvalidInput(m) => t("INVALID_INPUT", invalid_input_zh(m)),
        SubscriptionsError::Store(_) => None,
        _ => None,
    }
}

#[allow(unreachable_patterns)]
pub(super) fn audit(e: &AuditError) -> Option<Text> {
    match e {
        AuditError::Auth(e) => auth(e),
        AuditError::Store(_) => None,
        _ => None,
    }
}

#[allow(unreachable_patterns)]
pub(super) fn distributors(e: &DistributorsError) -> Option<Text> {
    match e {
        DistributorsError::NotFound => t("NOT_FOUND", "找不到经销商"),
        DistributorsError::Store(_) => None,
        _ => None,
    }
}

#[allow(unreachable_patterns)]
pub(super) fn campaigns(e: &CampaignsError) -> Option<Text> {
    use CampaignsError as E;
    match e {
        E::InvalidInput(m) => t("INVALID_INPUT", invalid_input_zh(m)),
        E::InvalidValue(rule) => t(
            "TEMPLATE_VALUE_REFUSED",
            format!("模板取值不符合微信的规则：{rule}"),
        ),
        E::NotFound(what) => t("NOT_FOUND", not_found(what)),
        E::Conflict(m) => t("CAMPAIGN_CONFLICT", format!("操作冲突：{m}")),
        E::CouponsUnavailable(m) => t(
            "CAMPAIGN_COUPON_UNAVAILABLE",
            format!("活动的优惠券无法发放：{m}"),
        ),
        E::Coupons(e) => super::commerce::coupons(e),
        E::Auth(e) => auth(e),
        E::Store(_) => None,
        _ => None,
    }
}

#[allow(unreachable_patterns)]
pub(super) fn scan(e: &ScanError) -> Option<Text> {
    use ScanError as E;
    match e {
        E::InvalidInput(m) => t("INVALID_INPUT", invalid_input_zh(m)),
        E::Malformed => t("CODE_MALFORMED", "这不是包装码，请检查后重新扫描"),
        E::UnknownCode => t("CODE_UNKNOWN", "该码不是我们的产品码"),
        E::BatchNotFound => t("NOT_FOUND", "找不到码批次"),
        E::SkuNotFound => t("NOT_FOUND", "找不到该 SKU"),
        E::LotNotFound => t("NOT_FOUND", "找不到该 SKU 的库存批次"),
        E::DistributorNotFound => t("NOT_FOUND", "找不到经销商"),
        E::Inactive => t("SCAN_CAMPAIGN_INACTIVE", "该码的活动未启用"),
        E::NotYetValid => t("SCAN_CAMPAIGN_NOT_STARTED", "该码的活动尚未开始"),
        E::Expired => t("SCAN_CAMPAIGN_ENDED", "该码的活动已结束"),
        E::RateLimited => t("SCAN_RATE_LIMITED", "扫码太频繁，请一分钟后再试"),
        E::Throttled => t("SCAN_THROTTLED", "无效码过多，请稍后再试"),
        E::Blocked => t("SCAN_BLOCKED", "无效码过多，扫码功能已暂时锁定"),
        E::DailyCapReached => t("DAILY_GIFT_CAP_REACHED", "今日礼品已达上限，请明天再扫"),
        E::Coupon(e) => super::commerce::coupons(e),
        E::VoucherNotFound => t("NOT_FOUND", "找不到小样兑换券"),
        E::VoucherUsed => t("VOUCHER_ALREADY_REDEEMED", "该小样兑换券已兑换"),
        E::WeChatRefused(m) => t("WXACODE_REFUSED", format!("微信拒绝了小程序码请求：{m}")),
        E::CodeQuotaReached => t(
            "WXACODE_QUOTA_REACHED",
            "今日小程序码生成次数已达上限，已生成的码仍可使用，新码请明天再试",
        ),
        E::Auth(e) => auth(e),
        E::WeChat(_) | E::Store(_) => None,
        _ => None,
    }
}

#[allow(unreachable_patterns)]
pub(super) fn accounts(e: &AccountsError) -> Option<Text> {
    use AccountsError as E;
    match e {
        E::Auth(e) => auth(e),
        E::Invalid(m) => t("INVALID_INPUT", invalid_input_zh(m)),
        E::WeakPassword(_) => t(
            "WEAK_PASSWORD",
            "密码太弱：至少 10 个字符，不能包含用户名，也不能是常见密码",
        ),
        E::UsernameTaken(name) => t("USERNAME_TAKEN", format!("用户名 {name} 已被占用")),
        E::CodeTaken(code) => t(
            "DISTRIBUTOR_CODE_TAKEN",
            format!("经销商编码 {code} 已被占用"),
        ),
        E::WrongPassword => t("WRONG_PASSWORD", "当前密码不正确"),
        E::TooManyAttempts => t(
            "PASSWORD_CHECKS_THROTTLED",
            "当前密码输错次数过多，请十五分钟后再试",
        ),
        E::NotFound => t("NOT_FOUND", not_found("account")),
        E::DistributorNotFound => t("NOT_FOUND", not_found("distributor")),
        E::StoreNotFound => t("NOT_FOUND", not_found("store")),
        E::NotAllowed(_) => t(
            "ACCOUNT_SCOPE_NOT_ALLOWED",
            "您的角色或所属门店、机构无权管理该账号",
        ),
        E::Hash | E::Store(_) => None,
        _ => None,
    }
}

#[allow(unreachable_patterns)]
pub(super) fn privacy(e: &PrivacyError) -> Option<Text> {
    use PrivacyError as E;
    match e {
        E::ConsentRequired => t("CONSENT_REQUIRED", "请先阅读并同意最新的隐私政策"),
        E::OutdatedVersion => t(
            "POLICY_VERSION_OUTDATED",
            "该版本不是当前版本，请重新阅读并同意当前版本",
        ),
        E::SensitiveConsentRequired => t(
            "SENSITIVE_CONSENT_REQUIRED",
            "肌肤困扰和过敏成分属于敏感个人信息，需会员本人先同意后才能记录",
        ),
        E::MemberNotFound => t("NOT_FOUND", not_found("member")),
        E::ExportLimitReached(_) => t(
            "EXPORT_LIMIT_REACHED",
            "今天导出个人信息的次数已达上限，请明天再试",
        ),
        E::Auth(e) => auth(e),
        E::Pii(_) | E::Store(_) => None,
        _ => None,
    }
}

#[allow(unreachable_patterns)]
pub(super) fn erasure(e: &ErasureError) -> Option<Text> {
    use ErasureError as E;
    match e {
        E::NotFound => t("NOT_FOUND", not_found("member")),
        E::AlreadyErased => t("ALREADY_ERASED", "该会员的个人信息已被删除"),
        E::InvalidInput(m) => t("INVALID_INPUT", invalid_input_zh(m)),
        E::Auth(e) => auth(e),
        E::Store(_) => None,
        _ => None,
    }
}

//! Who is calling and what they may do: the audiences, principals, staff roles and
//! permissions, the access-token claims, and the errors of authentication and authorisation.
//! Pure: nothing here reads the database or the key-value store, and no other capability is
//! imported. Signing in, sessions and token issue are [`crate::login`].

mod tokens;

use serde::{Deserialize, Serialize};
use wechat_integration::{WeChatError, WeChatErrorKind};

/// The staff role column, stored as `HQ`, `MANAGER` or `BA`.
pub use entities::staff_account::StaffRole;
pub use tokens::{AccessToken, TokenKeys};

use crate::platform::error::{DomainError, ErrorCode, StoreError};

/// Which front end a token was issued for. A token of one audience is refused by the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Audience {
    Consumer,
    Staff,
    Distributor,
}

impl Audience {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Consumer => "consumer",
            Self::Staff => "staff",
            Self::Distributor => "distributor",
        }
    }
}

/// Things staff do that not every role may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    ReadMembers,
    /// Phone number and birthday: every read is audited.
    ReadMemberPersonalData,
    EditMemberProfile,
    TagMembers,
    ReadAuditLog,
    /// Products, SKUs, categories, stores and warehouses.
    ManageCatalog,
    /// Receive, move and adjust stock (a manager only at their own store).
    ManageStock,
    ViewStock,
    /// Record an in-store sale at the counter.
    RecordSale,
    RefundOrders,
    AssignExclusiveBa,
    ManageTiers,
    /// Coupon templates, issuing coupons to members, coupon reports.
    ManageCoupons,
    /// Schedule flash sales (HQ).
    ManageFlashSales,
    /// Pack-code batches for scan-for-gift, their export, insight and fraud reports.
    ManageScanCodes,
    /// Subscription-message templates, segments, campaigns and automations.
    ManageCampaigns,
    /// WeChat Pay notifications that matched nothing (finance, HQ).
    ReadPaymentExceptions,
    /// Booking services, opening hours, closures, BA skills, shifts and blocks (a manager
    /// only at their own store).
    ManageBookings,
    /// Check members in and redeem their bookings at the counter (own store).
    ServeBookings,
    /// The day's bookings, utilisation and no-shows (a manager at their own store).
    ViewBookingReports,
}

impl Permission {
    /// The one place that says which role may do what.
    pub const fn allowed_for(self, role: StaffRole) -> bool {
        use Permission::*;
        match self {
            ReadMembers
            | EditMemberProfile
            | TagMembers
            | ReadMemberPersonalData
            | ViewStock
            | RecordSale
            | ServeBookings => true,
            ManageStock | RefundOrders | AssignExclusiveBa | ManageBookings
            | ViewBookingReports => {
                matches!(role, StaffRole::Hq | StaffRole::Manager)
            }
            ReadAuditLog
            | ManageCatalog
            | ManageTiers
            | ManageCoupons
            | ManageFlashSales
            | ManageScanCodes
            | ManageCampaigns
            | ReadPaymentExceptions => {
                matches!(role, StaffRole::Hq)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberPrincipal {
    pub member_id: i64,
    pub session_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffPrincipal {
    pub staff_id: i64,
    pub role: StaffRole,
    pub store_id: Option<i64>,
    pub session_id: String,
}

impl StaffPrincipal {
    pub fn require(&self, permission: Permission) -> Result<(), AuthError> {
        if permission.allowed_for(self.role) {
            Ok(())
        } else {
            Err(AuthError::Forbidden)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistributorPrincipal {
    pub account_id: i64,
    pub distributor_id: i64,
    pub session_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Member(MemberPrincipal),
    Staff(StaffPrincipal),
    Distributor(DistributorPrincipal),
}

impl Principal {
    pub fn session_id(&self) -> &str {
        match self {
            Self::Member(p) => &p.session_id,
            Self::Staff(p) => &p.session_id,
            Self::Distributor(p) => &p.session_id,
        }
    }
}

#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
pub enum AuthError {
    #[error("sign-in required")]
    Unauthenticated,
    #[error("wrong username or password")]
    BadCredentials,
    #[error("this account is disabled")]
    AccountDisabled,
    #[error("too many failed sign-ins; try again later")]
    Throttled,
    #[error("the WeChat code is invalid or has expired; call wx.login again")]
    InvalidWeChatCode,
    #[error("the WeChat code was already used; call wx.login again")]
    WeChatCodeUsed,
    #[error("WeChat refused this account")]
    WeChatRefused,
    #[error("WeChat is rate limiting; try again shortly")]
    WeChatRateLimited,
    #[error("WeChat is unavailable")]
    WeChatUnavailable(#[source] WeChatError),
    #[error("the refresh token is not valid")]
    InvalidRefreshToken,
    #[error("the refresh token was already used; the session has been ended")]
    RefreshReuse,
    #[error("your role may not do this")]
    Forbidden,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

crate::store_error_conversions!(AuthError);

impl DomainError for AuthError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Unauthenticated
            | Self::BadCredentials
            | Self::InvalidRefreshToken
            | Self::RefreshReuse => ErrorCode::Unauthenticated,
            Self::AccountDisabled | Self::WeChatRefused | Self::Forbidden => ErrorCode::Forbidden,
            Self::Throttled | Self::WeChatRateLimited => ErrorCode::RateLimited,
            Self::InvalidWeChatCode | Self::WeChatCodeUsed => ErrorCode::BadUserInput,
            Self::WeChatUnavailable(_) => ErrorCode::Unavailable,
            Self::Store(e) => e.code(),
            Self::Internal(_) => ErrorCode::Internal,
        }
    }
}

/// Sorts a WeChat failure on a code exchange (login or phone number) into what the caller can do.
pub(crate) fn wechat_code_error(err: WeChatError) -> AuthError {
    match err.kind() {
        WeChatErrorKind::InvalidCode => AuthError::InvalidWeChatCode,
        WeChatErrorKind::CodeUsed => AuthError::WeChatCodeUsed,
        WeChatErrorKind::Blocked => AuthError::WeChatRefused,
        WeChatErrorKind::RateLimited => AuthError::WeChatRateLimited,
        _ => AuthError::WeChatUnavailable(err),
    }
}

//! Who is calling and what they may do: the audiences, principals, staff roles and
//! permissions, the access-token claims, and the errors of authentication and authorisation.
//! Pure: nothing here reads the database or the key-value store, and no other capability is
//! imported. Signing in, sessions and token issue are [`crate::login`].

mod tokens;

use serde::{Deserialize, Serialize};
use wechat_integration::{WeChatError, WeChatErrorKind};

/// A distributor account's role in its organisation: `OWNER`, `BUYER` or `VIEWER`.
pub use entities::distributor_account::DistributorRole;
/// The staff role column, stored as `HQ`, `FINANCE`, `MANAGER` or `BA`.
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

/// Things staff do that not every role may. Each GraphQL operation of the staff schema names
/// the one it needs (`graphql_schema::access`); services check it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::VariantArray)]
pub enum Permission {
    /// Categories, products, SKUs, tiers, stores and locations.
    ViewCatalog,
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
    /// Orders and their refunds (a BA or manager those of their own store).
    ViewOrders,
    /// Counter work: in-store sales, points, coupon and sample redemption.
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
    /// A store's booking services, set-up and shifts as the counter sees them.
    ViewBookings,
    /// Check members in and redeem their bookings at the counter (own store).
    ServeBookings,
    /// The day's bookings, utilisation and no-shows (a manager at their own store).
    ViewBookingReports,
    /// Staff accounts: HQ everyone, a manager the BAs of her own store.
    ManageStaff,
    /// Distributor organisations and their accounts (HQ).
    ManageDistributors,
    /// Distributor organisations with their credit (HQ and finance).
    ViewDistributors,
    /// Erase a member's personal data on a request (HQ).
    EraseMembers,
    /// Sales reports and store performance (HQ and finance every store, a manager her own).
    ViewSalesReports,
    /// One's own sales performance for a month.
    ViewOwnPerformance,
    /// BAs' monthly sales targets (a manager only at her own store).
    SetSalesTargets,
    /// Upload images (the service checks the purpose: product images need ManageCatalog).
    UploadMedia,
    /// Record, see (audited) and erase members' skin photos, for members of the own store.
    KeepSkinPhotos,
    /// B2B tiers and price lists (HQ).
    ManageB2b,
    /// Distributor credit terms (HQ and finance; audited).
    ManageCredit,
    /// Settle a quarter's distributor rebates (HQ and finance; audited).
    SettleRebates,
    /// Commission plans and BAs' monthly commission inputs (HQ).
    ManageCommission,
    /// Lock a store's commission month (HQ and finance).
    LockCommission,
    /// Commission previews and statements (HQ and finance every store, a manager her own).
    ViewCommission,
    /// Close a store's business day and record its expenses (a manager her own store).
    CloseStoreDay,
    /// A store's day close and month: takings, cash, expenses (finance and HQ every store, a
    /// manager her own).
    ViewStoreMoney,
}

impl Permission {
    /// Every permission, for tests and documentation that walk the table (derived: a new
    /// variant is in it without anyone remembering to add it).
    pub const ALL: &'static [Self] = <Self as strum::VariantArray>::VARIANTS;

    /// The one place that says which role may do what. FINANCE sees money (orders, refunds,
    /// payments, stock, distributors) and nothing about members.
    pub const fn allowed_for(self, role: StaffRole) -> bool {
        use Permission::*;
        use StaffRole::{Ba, Finance, Hq, Manager};
        match self {
            ViewCatalog | ViewStock | ViewOrders => true,
            ReadMembers
            | EditMemberProfile
            | TagMembers
            | ReadMemberPersonalData
            | RecordSale
            | ViewBookings
            | ServeBookings
            | UploadMedia
            | KeepSkinPhotos => matches!(role, Hq | Manager | Ba),
            ManageStock | RefundOrders | AssignExclusiveBa | ManageBookings
            | ViewBookingReports | ManageStaff => matches!(role, Hq | Manager),
            ReadPaymentExceptions | ViewDistributors | ManageCredit | SettleRebates => {
                matches!(role, Hq | Finance)
            }
            ViewSalesReports => matches!(role, Hq | Manager | Finance),
            ViewOwnPerformance => matches!(role, Manager | Ba),
            SetSalesTargets => matches!(role, Hq | Manager),
            LockCommission => matches!(role, Hq | Finance),
            ViewCommission => matches!(role, Hq | Manager | Finance),
            CloseStoreDay => matches!(role, Hq | Manager),
            ViewStoreMoney => matches!(role, Hq | Manager | Finance),
            ReadAuditLog | ManageCatalog | ManageTiers | ManageCoupons | ManageFlashSales
            | ManageScanCodes | ManageCampaigns | ManageDistributors | EraseMembers | ManageB2b
            | ManageCommission => {
                matches!(role, Hq)
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
    /// HQ and finance are bound to no store: they see every store's orders and stock.
    pub fn sees_every_store(&self) -> bool {
        matches!(self.role, StaffRole::Hq | StaffRole::Finance)
    }

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
    #[error("this account still has its one-time password: change it with changeMyPassword first")]
    PasswordChangeRequired,
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
            Self::AccountDisabled
            | Self::WeChatRefused
            | Self::Forbidden
            | Self::PasswordChangeRequired => ErrorCode::Forbidden,
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

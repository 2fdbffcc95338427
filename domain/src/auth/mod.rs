//! Who is calling: WeChat login for members, passwords for staff and distributors, sessions,
//! access and refresh tokens, and what each staff role may do.

mod passwords;
mod sessions;
mod tokens;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use wechat_integration::{WeChatError, WeChatErrorKind};

pub use passwords::{hash as hash_password, hash_async as hash_password_async};
pub use sessions::SessionRecord;
pub use tokens::{AccessToken, TokenKeys};

use crate::error::{DomainError, ErrorCode, StoreError};
use crate::kv::keys;
use crate::{AppState, RequestMeta, members};
use entities::{distributor_account, staff_account};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StaffRole {
    /// Head office: marketing and operations, every store.
    Hq,
    /// Store manager: their store's staff, bookings and reports.
    Manager,
    /// Beauty advisor at the counter.
    Ba,
}

impl StaffRole {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Hq => "HQ",
            Self::Manager => "MANAGER",
            Self::Ba => "BA",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "HQ" => Some(Self::Hq),
            "MANAGER" => Some(Self::Manager),
            "BA" => Some(Self::Ba),
            _ => None,
        }
    }

    /// The one place that says which role may do what.
    pub const fn can(self, permission: Permission) -> bool {
        use Permission::*;
        match permission {
            ReadMembers
            | EditMemberProfile
            | TagMembers
            | ReadMemberPersonalData
            | ViewStock
            | RecordSale
            | ServeBookings => true,
            ManageStock | RefundOrders | AssignExclusiveBa | ManageBookings
            | ViewBookingReports => {
                matches!(self, Self::Hq | Self::Manager)
            }
            ReadAuditLog
            | ManageCatalog
            | ManageTiers
            | ManageCoupons
            | ManageFlashSales
            | ManageScanCodes
            | ManageCampaigns
            | ReadPaymentExceptions => {
                matches!(self, Self::Hq)
            }
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
        if self.role.can(permission) {
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

#[derive(Debug, thiserror::Error)]
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

/// What a successful login or refresh hands to the client.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    pub access_token: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_token: String,
}

#[derive(Debug, Clone)]
pub struct StaffAccount {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: StaffRole,
    pub store_id: Option<i64>,
}

impl StaffAccount {
    fn from_row(row: staff_account::Model) -> Result<Self, AuthError> {
        let role = StaffRole::parse(&row.role)
            .ok_or_else(|| AuthError::Internal(format!("unknown staff role {}", row.role)))?;
        Ok(Self {
            id: row.id,
            username: row.username,
            display_name: row.display_name,
            role,
            store_id: row.store_id,
        })
    }
}

#[derive(Debug, Clone)]
pub struct DistributorAccount {
    pub id: i64,
    pub distributor_id: i64,
    pub username: String,
    pub display_name: String,
}

async fn issue(
    app: &AppState,
    record: &SessionRecord,
    sid: String,
    refresh_token: String,
) -> Result<IssuedSession, AuthError> {
    let now = app.clock.now();
    let ttl = app.settings.auth.access_ttl;
    let access_token = app
        .tokens
        .issue(
            &AccessToken {
                audience: record.audience,
                subject: record.subject,
                session_id: sid,
            },
            now,
            ttl,
        )
        .map_err(|e| AuthError::Internal(e.to_string()))?;
    Ok(IssuedSession {
        access_token,
        access_expires_at: now + ttl,
        refresh_token,
    })
}

/// Logs a member in with a wx.login code, creating the member on first sight.
#[tracing::instrument(skip_all, err)]
pub async fn consumer_login(
    app: &AppState,
    code: &str,
) -> Result<(IssuedSession, members::Member), AuthError> {
    if code.is_empty() || code.len() > 128 {
        return Err(AuthError::InvalidWeChatCode);
    }
    let wx = app
        .wechat
        .code_to_session(code)
        .await
        .map_err(wechat_code_error)?;
    let member = members::find_or_create_by_openid(app, &wx.openid, wx.unionid.as_deref())
        .await
        .map_err(|e| match e {
            members::MembersError::Store(s) => AuthError::Store(s),
            other => AuthError::Internal(other.to_string()),
        })?;
    let record = SessionRecord {
        audience: Audience::Consumer,
        subject: member.id,
        role: None,
        store_id: None,
        distributor_id: None,
        created_at: app.clock.now(),
        wechat_session_key: Some(secrecy::ExposeSecret::expose_secret(&wx.session_key).to_owned()),
    };
    let (sid, refresh) = sessions::create(app, &record).await?;
    Ok((issue(app, &record, sid, refresh).await?, member))
}

/// The budget of password attempts per account name and per client address, reserved before the
/// password is checked. Each reservation is one atomic increment that returns the new count
/// (a Lua script on Redis, one lock in process), so parallel attempts can never all read a count
/// under the limit and all go on: exactly `limit` attempts pass per window. A correct password
/// gives its reservation back; a wrong one keeps it (it is a failure).
struct Throttle {
    keys: Vec<String>,
}

impl Throttle {
    async fn reserve(
        app: &AppState,
        audience: Audience,
        username: &str,
        meta: &RequestMeta,
    ) -> Result<Self, AuthError> {
        let limits = &app.settings.auth;
        let mut taken = Self { keys: Vec::new() };
        for (key, limit) in throttle_keys(audience, username, meta, limits) {
            let count = match app.kv.incr_window(&key, limits.login_failure_window).await {
                Ok(count) => count,
                Err(err) => {
                    taken.release(app).await;
                    return Err(err.into());
                }
            };
            if count > i64::from(limit) {
                // The attempt does not happen: the budgets already taken for it are given back.
                taken.release(app).await;
                return Err(AuthError::Throttled);
            }
            taken.keys.push(key);
        }
        Ok(taken)
    }

    async fn release(self, app: &AppState) {
        for key in &self.keys {
            if let Err(err) = app.kv.decr_window(key).await {
                tracing::warn!(error = %err, "could not give back a login attempt");
            }
        }
    }
}

fn throttle_keys(
    audience: Audience,
    username: &str,
    meta: &RequestMeta,
    limits: &AuthSettings,
) -> Vec<(String, u32)> {
    let mut keys = vec![(
        keys::login_failures(audience.as_str(), username),
        limits.login_failures_per_account,
    )];
    if let Some(ip) = meta.client_ip {
        // An address may fail for many accounts (an office NAT), so its limit is higher.
        keys.push((
            keys::login_failures_from(ip),
            limits.login_failures_per_address,
        ));
    }
    keys
}

fn valid_credentials_shape(username: &str, password: &str) -> bool {
    (1..=64).contains(&username.len()) && (1..=256).contains(&password.len())
}

/// A password login's checks, the same for staff and distributors: shape, throttle, the
/// account's hash (a dummy one when there is no account, so timing reveals nothing), active.
async fn check_password<T>(
    app: &AppState,
    meta: &RequestMeta,
    audience: Audience,
    (username, password): (&str, &str),
    account: impl std::future::Future<Output = Result<Option<T>, sea_orm::DbErr>>,
    hash_and_active: impl Fn(&T) -> (String, bool),
) -> Result<T, AuthError> {
    if !valid_credentials_shape(username, password) {
        return Err(AuthError::BadCredentials);
    }
    let throttle = Throttle::reserve(app, audience, username, meta).await?;
    let row = match account.await {
        Ok(row) => row,
        Err(err) => {
            throttle.release(app).await;
            return Err(err.into());
        }
    };
    let stored = row.as_ref().map(&hash_and_active);
    let ok = passwords::verify(password.to_owned(), stored.as_ref().map(|(h, _)| h.clone())).await;
    match (row, stored) {
        (Some(row), Some((_, active))) if ok => {
            throttle.release(app).await;
            if active {
                Ok(row)
            } else {
                Err(AuthError::AccountDisabled)
            }
        }
        _ => Err(AuthError::BadCredentials),
    }
}

#[tracing::instrument(skip_all, err, fields(username = %username))]
pub async fn staff_login(
    app: &AppState,
    meta: &RequestMeta,
    username: &str,
    password: &str,
) -> Result<(IssuedSession, StaffAccount), AuthError> {
    let account = staff_account::Entity::find()
        .filter(staff_account::Column::Username.eq(username))
        .one(&app.db);
    let row = check_password(
        app,
        meta,
        Audience::Staff,
        (username, password),
        account,
        |r| (r.password_hash.clone(), r.active),
    )
    .await?;
    let account = StaffAccount::from_row(row)?;
    let record = SessionRecord {
        audience: Audience::Staff,
        subject: account.id,
        role: Some(account.role.as_str().to_owned()),
        store_id: account.store_id,
        distributor_id: None,
        created_at: app.clock.now(),
        wechat_session_key: None,
    };
    let (sid, refresh) = sessions::create(app, &record).await?;
    Ok((issue(app, &record, sid, refresh).await?, account))
}

#[tracing::instrument(skip_all, err, fields(username = %username))]
pub async fn distributor_login(
    app: &AppState,
    meta: &RequestMeta,
    username: &str,
    password: &str,
) -> Result<(IssuedSession, DistributorAccount), AuthError> {
    let account = distributor_account::Entity::find()
        .filter(distributor_account::Column::Username.eq(username))
        .one(&app.db);
    let row = check_password(
        app,
        meta,
        Audience::Distributor,
        (username, password),
        account,
        |r| (r.password_hash.clone(), r.active),
    )
    .await?;
    let record = SessionRecord {
        audience: Audience::Distributor,
        subject: row.id,
        role: None,
        store_id: None,
        distributor_id: Some(row.distributor_id),
        created_at: app.clock.now(),
        wechat_session_key: None,
    };
    let (sid, refresh) = sessions::create(app, &record).await?;
    let account = DistributorAccount {
        id: row.id,
        distributor_id: row.distributor_id,
        username: row.username,
        display_name: row.display_name,
    };
    Ok((issue(app, &record, sid, refresh).await?, account))
}

/// Rotates a refresh token. Staff and distributor accounts are re-read, so a disabled account
/// or a changed role takes effect at the latest on the next refresh.
#[tracing::instrument(skip_all, err)]
pub async fn refresh(
    app: &AppState,
    audience: Audience,
    refresh_token: &str,
) -> Result<IssuedSession, AuthError> {
    if refresh_token.len() > 256 {
        return Err(AuthError::InvalidRefreshToken);
    }
    let (sid, mut record, new_refresh) = sessions::rotate(app, audience, refresh_token).await?;
    match audience {
        Audience::Consumer => {}
        Audience::Staff => {
            let row = staff_account::Entity::find_by_id(record.subject)
                .one(&app.db)
                .await?;
            let Some(row) = row.filter(|r| r.active) else {
                sessions::revoke(app, &sid).await?;
                return Err(AuthError::AccountDisabled);
            };
            let account = StaffAccount::from_row(row)?;
            record.role = Some(account.role.as_str().to_owned());
            record.store_id = account.store_id;
            sessions::store(app, &sid, &record).await?;
        }
        Audience::Distributor => {
            let row = distributor_account::Entity::find_by_id(record.subject)
                .one(&app.db)
                .await?;
            if !row.is_some_and(|r| r.active) {
                sessions::revoke(app, &sid).await?;
                return Err(AuthError::AccountDisabled);
            }
        }
    }
    issue(app, &record, sid, new_refresh).await
}

pub async fn logout(app: &AppState, principal: &Principal) -> Result<(), AuthError> {
    sessions::revoke(app, principal.session_id()).await
}

/// Resolves a bearer token for an endpoint's audience into who is calling, checking that the
/// session still exists.
pub async fn authenticate(
    app: &AppState,
    audience: Audience,
    bearer: &str,
) -> Result<Principal, AuthError> {
    let token = app
        .tokens
        .verify(bearer, audience, app.clock.now())
        .ok_or(AuthError::Unauthenticated)?;
    let record = sessions::load(app, &token.session_id)
        .await?
        .filter(|r| r.audience == audience && r.subject == token.subject)
        .ok_or(AuthError::Unauthenticated)?;
    let session_id = token.session_id;
    Ok(match audience {
        Audience::Consumer => Principal::Member(MemberPrincipal {
            member_id: record.subject,
            session_id,
        }),
        Audience::Staff => Principal::Staff(StaffPrincipal {
            staff_id: record.subject,
            role: record
                .role
                .as_deref()
                .and_then(StaffRole::parse)
                .ok_or(AuthError::Unauthenticated)?,
            store_id: record.store_id,
            session_id,
        }),
        Audience::Distributor => Principal::Distributor(DistributorPrincipal {
            account_id: record.subject,
            distributor_id: record.distributor_id.ok_or(AuthError::Unauthenticated)?,
            session_id,
        }),
    })
}

pub async fn staff_account(
    app: &AppState,
    staff: &StaffPrincipal,
) -> Result<StaffAccount, AuthError> {
    let row = staff_account::Entity::find_by_id(staff.staff_id)
        .one(&app.db)
        .await?
        .ok_or(AuthError::Unauthenticated)?;
    StaffAccount::from_row(row)
}

pub async fn distributor_account(
    app: &AppState,
    distributor: &DistributorPrincipal,
) -> Result<DistributorAccount, AuthError> {
    let row = distributor_account::Entity::find_by_id(distributor.account_id)
        .one(&app.db)
        .await?
        .ok_or(AuthError::Unauthenticated)?;
    Ok(DistributorAccount {
        id: row.id,
        distributor_id: row.distributor_id,
        username: row.username,
        display_name: row.display_name,
    })
}

/// Lifetimes and login throttling. A successful login does not clear the failure counts on
/// purpose: knowing one password must not reset the budget for guessing others.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub access_ttl: chrono::Duration,
    pub refresh_ttl: std::time::Duration,
    pub login_failures_per_account: u32,
    /// Failed logins per client address, across accounts.
    pub login_failures_per_address: u32,
    pub login_failure_window: std::time::Duration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            access_ttl: chrono::Duration::minutes(15),
            refresh_ttl: std::time::Duration::from_secs(30 * 24 * 3600),
            login_failures_per_account: 5,
            login_failures_per_address: 50,
            login_failure_window: std::time::Duration::from_secs(15 * 60),
        }
    }
}

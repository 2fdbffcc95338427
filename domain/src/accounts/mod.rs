//! The people who sign in with a password: staff accounts (HQ, finance, store managers, BAs) and
//! distributor organisations with their accounts. Every change is audited with before and after
//! values (never a password or its hash) and takes effect on the account's very next request
//! ([`crate::login::account_changed`]). New accounts get a one-time password that must be
//! changed before anything else; the first HQ account comes from `rouge admin create`.

mod distributors;
pub mod passwords;
mod staff;
mod team;

use serde::Serialize;

pub use distributors::{
    DistributorDetails, DistributorInput, DistributorUpdate, create_distributor,
    create_distributor_account, distributor_accounts, list_distributors,
    reset_distributor_password, seed_distributor, set_distributor_account_active,
    set_distributor_active, update_distributor,
};
pub use staff::{
    NewStaffAccount, StaffFilter, StaffUpdate, change_my_password, create_first_admin,
    create_staff_account, list_staff, reset_staff_password, seed_staff_account, set_staff_active,
    update_staff_account,
};
pub use team::{
    change_distributor_password, create_team_account, deactivate_team_account, my_team,
};

use crate::auth::AuthError;
use crate::platform::error::{DomainError, ErrorCode, StoreError};

#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
pub enum AccountsError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    WeakPassword(String),
    #[error("the username {0} is already taken")]
    UsernameTaken(String),
    #[error("the distributor code {0} is already taken")]
    CodeTaken(String),
    #[error("the current password is wrong")]
    WrongPassword,
    #[error("too many wrong current passwords; try again in a quarter of an hour")]
    TooManyAttempts,
    #[error("account not found")]
    NotFound,
    #[error("distributor not found")]
    DistributorNotFound,
    #[error("store not found")]
    StoreNotFound,
    #[error("{0}")]
    NotAllowed(&'static str),
    #[error("could not hash the password")]
    Hash,
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_conversions!(AccountsError);

impl DomainError for AccountsError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Auth(e) => e.code(),
            Self::Invalid(_) | Self::WeakPassword(_) | Self::WrongPassword => {
                ErrorCode::BadUserInput
            }
            Self::UsernameTaken(_) | Self::CodeTaken(_) => ErrorCode::Conflict,
            Self::NotFound | Self::DistributorNotFound | Self::StoreNotFound => ErrorCode::NotFound,
            Self::NotAllowed(_) => ErrorCode::Forbidden,
            Self::TooManyAttempts => ErrorCode::RateLimited,
            Self::Hash => ErrorCode::Internal,
            Self::Store(e) => e.code(),
        }
    }
}

/// 3 to 64 characters: lower-case letters, digits, `.`, `-` and `_`, starting with a letter or
/// digit. Login names are compared exactly, so upper case is refused rather than folded.
pub(crate) fn username(raw: &str) -> Result<String, AccountsError> {
    let v = raw.trim();
    let ok = (3..=64).contains(&v.len())
        && v.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && v.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(v.to_owned())
    } else {
        Err(AccountsError::Invalid(
            "a username is 3 to 64 lower-case letters, digits, '.', '-' or '_', starting with a letter or digit"
                .into(),
        ))
    }
}

pub(crate) fn display_name(raw: &str) -> Result<String, AccountsError> {
    crate::platform::validate::field(
        crate::platform::validate::FieldKind::Name,
        "displayName",
        raw,
        None,
    )
    .map_err(AccountsError::Invalid)
}

/// A phone number: encrypted for storage, with a masked copy for display.
pub(crate) fn phone(
    app: &crate::AppState,
    raw: Option<&str>,
) -> Result<Option<(String, String)>, AccountsError> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
        return Ok(None);
    };
    let e164 = crate::members::normalise_phone(raw)
        .map_err(|_| AccountsError::Invalid("phone must be a mobile number".into()))?;
    let digits: Vec<char> = e164.chars().filter(char::is_ascii_digit).collect();
    let masked = if digits.len() >= 7 {
        let head: String = digits[digits.len() - 11.min(digits.len())..][..3]
            .iter()
            .collect();
        let tail: String = digits[digits.len() - 4..].iter().collect();
        format!("{head}****{tail}")
    } else {
        "****".into()
    };
    Ok(Some((app.pii.encrypt(&e164), masked)))
}

/// Hashes off the async workers.
pub(crate) async fn hash(password: &str) -> Result<String, AccountsError> {
    crate::login::hash_password_async(password.to_owned())
        .await
        .map_err(|_| AccountsError::Hash)
}

/// Before/after of a change, for the audit entry: only the fields that differ.
pub(crate) fn changes<T: Serialize>(before: &T, after: &T) -> serde_json::Value {
    let (Ok(serde_json::Value::Object(b)), Ok(serde_json::Value::Object(a))) =
        (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return serde_json::Value::Null;
    };
    let mut old = serde_json::Map::new();
    let mut new = serde_json::Map::new();
    for (key, value) in &a {
        if b.get(key) != Some(value) {
            old.insert(key.clone(), b.get(key).cloned().unwrap_or_default());
            new.insert(key.clone(), value.clone());
        }
    }
    serde_json::json!({ "before": old, "after": new })
}

/// Wrong current passwords `changeMyPassword` takes per account in [`PASSWORD_CHECK_WINDOW`].
pub const PASSWORD_CHECKS: i64 = 5;
/// The window of [`PASSWORD_CHECKS`].
pub const PASSWORD_CHECK_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Checks the current password given to `changeMyPassword`, within a budget of wrong ones per
/// account (a stolen session cannot guess the password it would need to take the account over).
/// The attempt is reserved before the check with one atomic increment, so parallel guesses get
/// exactly the budget; a right password gives its reservation back.
pub(crate) async fn check_current_password(
    app: &crate::AppState,
    audience: crate::auth::Audience,
    account_id: i64,
    given: &str,
    stored_hash: &str,
) -> Result<(), AccountsError> {
    let key = crate::platform::kv::keys::password_checks(audience.as_str(), account_id);
    let n = app.kv.incr_window(&key, PASSWORD_CHECK_WINDOW).await?;
    if n > PASSWORD_CHECKS {
        app.kv.decr_window(&key).await?;
        return Err(AccountsError::TooManyAttempts);
    }
    if crate::login::verify_password(given, stored_hash).await {
        app.kv.decr_window(&key).await?;
        Ok(())
    } else {
        Err(AccountsError::WrongPassword)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lower_case_and_plain() {
        assert_eq!(username(" ba-wang.01 ").unwrap(), "ba-wang.01");
        for bad in ["ab", "Anna", "-anna", "an na", "王芳", &"a".repeat(65)] {
            assert!(username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn changes_list_only_what_differs() {
        #[derive(Serialize)]
        struct S {
            a: i32,
            b: &'static str,
        }
        let c = changes(&S { a: 1, b: "x" }, &S { a: 2, b: "x" });
        assert_eq!(
            c,
            serde_json::json!({ "before": { "a": 1 }, "after": { "a": 2 } })
        );
    }
}

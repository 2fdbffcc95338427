//! Staff and distributor passwords: argon2id hashes, verified off the async runtime.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Verified against when the username is unknown, so a wrong username costs the same time as a
/// wrong password and does not reveal which accounts exist.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash("not-a-real-password").unwrap_or_default());

pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

fn verify_blocking(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Checks `password` against a stored hash, or against a dummy one when there is none.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    let known = stored.is_some();
    let phc = stored.unwrap_or_else(|| DUMMY_HASH.clone());
    tokio::task::spawn_blocking(move || verify_blocking(&password, &phc) && known)
        .await
        .unwrap_or(false)
}

/// Hashing is as slow as verifying: keep it off the async workers too.
pub async fn hash_async(password: String) -> Result<String, argon2::password_hash::Error> {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .unwrap_or(Err(argon2::password_hash::Error::Crypto))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verifies_the_right_password_only() {
        let phc = hash("demo-password").unwrap();
        assert!(verify("demo-password".into(), Some(phc.clone())).await);
        assert!(!verify("demo-passwore".into(), Some(phc)).await);
        assert!(!verify("not-a-real-password".into(), None).await);
    }
}

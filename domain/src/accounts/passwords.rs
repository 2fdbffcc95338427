//! What a chosen password must be, and the one-time passwords Rouge hands out.

use std::collections::HashSet;
use std::sync::LazyLock;

use rand::Rng;

/// Shipped with the binary; compared case-insensitively.
const COMMON: &str = include_str!("common_passwords.txt");

static COMMON_SET: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    COMMON
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
});

pub const MIN_CHARS: usize = 10;
pub const MAX_CHARS: usize = 128;

/// Why a password is refused, said to the person choosing it; `None` when it will do.
pub fn weakness(username: &str, password: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Some(format!(
            "the password must have at least {MIN_CHARS} characters"
        ));
    }
    if chars > MAX_CHARS {
        return Some(format!(
            "the password must have at most {MAX_CHARS} characters"
        ));
    }
    if password.chars().any(char::is_control) {
        return Some("the password must not contain control characters".into());
    }
    let lower = password.to_lowercase();
    let user = username.trim().to_lowercase();
    if !user.is_empty() && (lower == user || (user.chars().count() >= 3 && lower.contains(&user))) {
        return Some("the password must not be or contain the username".into());
    }
    if COMMON_SET.contains(lower.as_str()) {
        return Some("this password is on the list of common passwords; choose another".into());
    }
    let mut distinct: Vec<char> = lower.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 4 {
        return Some("the password must use at least 4 different characters".into());
    }
    None
}

/// A one-time password: 16 characters without look-alikes (about 90 bits).
pub fn one_time() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    (0..16)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        assert!(weakness("anna", "short").is_some());
        assert!(weakness("annabelle-hq", "annabelle-hq").is_some());
        assert!(weakness("anna", "xxANNAxx-2026").is_some());
        assert!(weakness("ba1", "1234567890").is_some());
        assert!(weakness("ba1", "Password123").is_some());
        assert!(weakness("ba1", "qwertyuiop").is_some());
        assert!(weakness("ba1", "aaaaaaaaaaaa").is_some());
        assert!(COMMON_SET.len() > 300, "{}", COMMON_SET.len());
        assert_eq!(weakness("anna", "violet-harbour-42"), None);
    }

    #[test]
    fn one_time_passwords_pass_the_rules() {
        let a = one_time();
        assert_eq!(a.chars().count(), 16);
        assert_ne!(a, one_time());
        assert_eq!(weakness("someone", &a), None);
    }
}

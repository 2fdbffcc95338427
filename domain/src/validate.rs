//! Input checks every capability uses; each module turns the message into its own error.

/// Trimmed text of 1 to `max` printable characters (counted as characters, not bytes).
pub fn text(field: &str, value: &str, max: usize) -> Result<String, String> {
    let v = value.trim();
    let chars = v.chars().count();
    if chars == 0 || chars > max || v.chars().any(char::is_control) {
        return Err(format!("{field} must be 1 to {max} printable characters"));
    }
    Ok(v.to_owned())
}

/// An upper-cased code of 1 to `max` ASCII letters, digits, - or _.
pub fn code(field: &str, value: &str, max: usize) -> Result<String, String> {
    let v = value.trim().to_uppercase();
    if v.is_empty()
        || v.len() > max
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "{field} must be 1 to {max} letters, digits, - or _"
        ));
    }
    Ok(v)
}

/// An idempotency key a client sends with a request that creates something: 8 to 64 visible
/// ASCII characters (a UUID fits; spaces, control characters and anything longer do not).
pub fn idempotency_key(key: &str) -> Result<&str, String> {
    if (8..=64).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(key)
    } else {
        Err("an idempotency key is 8 to 64 visible ASCII characters".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_counts_characters_and_refuses_control_characters() {
        assert_eq!(text("name", "  玫瑰精华 ", 4).unwrap(), "玫瑰精华");
        assert!(text("name", "玫瑰精华液", 4).is_err());
        assert!(text("name", "   ", 4).is_err());
        assert!(text("name", "a\u{0}b", 4).is_err());
    }

    #[test]
    fn codes_are_upper_cased_ascii() {
        assert_eq!(code("code", " sku-01_a ", 10).unwrap(), "SKU-01_A");
        assert!(code("code", "sku 01", 10).is_err());
        assert!(code("code", "码", 10).is_err());
        assert!(code("code", "ABCDEFGHIJK", 10).is_err());
    }

    #[test]
    fn idempotency_keys_are_8_to_64_visible_ascii_characters() {
        assert!(idempotency_key("0b5c6f0e-4a55-4b8e-9d43-2a6f1f0c9e11").is_ok());
        assert!(idempotency_key(&"k".repeat(64)).is_ok());
        for bad in [
            "",
            "short",
            "key with space",
            "key\u{0}nul-1234",
            "键键键键键键键键",
        ] {
            assert!(idempotency_key(bad).is_err(), "{bad:?}");
        }
        assert!(idempotency_key(&"k".repeat(65)).is_err());
        assert!(idempotency_key(&"k".repeat(300)).is_err());
    }
}

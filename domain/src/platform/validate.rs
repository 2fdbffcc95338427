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

/// Every string a client may send is at most this many characters, whatever the field: the
/// GraphQL layer checks each string value of an operation (variables and literals) against it
/// before anything runs, so a field nobody thought of still cannot carry a megabyte.
pub const MAX_ANY_STRING_CHARS: usize = 4_096;

/// The ceiling every client string meets: at most [`MAX_ANY_STRING_CHARS`] characters and no
/// control characters other than tab and line breaks (NUL also breaks PostgreSQL text).
pub fn within_ceiling(field: &str, value: &str) -> Result<(), String> {
    if value.chars().count() > MAX_ANY_STRING_CHARS {
        return Err(format!(
            "{field} is longer than {MAX_ANY_STRING_CHARS} characters"
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(format!("{field} contains control characters"));
    }
    Ok(())
}

/// What a client-sent string is. Each kind has one length cap and one character rule
/// ([`FieldKind::rule`]), so tightening a kind tightens every field of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A person's or thing's name: recipient, product, template, sample.
    Name,
    /// A province, city or district as typed (a name, short name, pinyin or GB/T 2260 code).
    Region,
    /// A district (区/县) of an address.
    District,
    /// The street part of an address.
    AddressLine,
    /// A phone number as typed.
    Phone,
    /// A short single-line remark: reasons, labels.
    Note,
    /// Multi-line text: descriptions, notes.
    FreeText,
    /// An upper-cased business code: SKU, store, tier codes.
    Code,
    /// An http(s) URL or mini-program page path.
    Url,
}

/// Which characters a kind allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharRule {
    /// Any printable character, no control characters, one line.
    SingleLine,
    /// Printable characters plus line breaks and tabs.
    MultiLine,
    /// ASCII letters, digits, - and _.
    AsciiCode,
    /// Visible ASCII, no spaces (idempotency keys have their own rule: [`idempotency_key`]).
    AsciiVisible,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldRule {
    pub max_chars: usize,
    pub chars: CharRule,
}

impl FieldKind {
    pub const fn rule(self) -> FieldRule {
        let (max_chars, chars) = match self {
            Self::Name => (64, CharRule::SingleLine),
            Self::Region => (32, CharRule::SingleLine),
            Self::District => (32, CharRule::SingleLine),
            Self::AddressLine => (128, CharRule::SingleLine),
            Self::Phone => (20, CharRule::SingleLine),
            Self::Note => (200, CharRule::SingleLine),
            Self::FreeText => (2_000, CharRule::MultiLine),
            Self::Code => (40, CharRule::AsciiCode),
            Self::Url => (512, CharRule::AsciiVisible),
        };
        FieldRule { max_chars, chars }
    }
}

/// Checks a trimmed, non-empty value of `kind` (capped at the kind's maximum, or `max` when
/// that is tighter) and returns it trimmed. The message names the field.
pub fn field(
    kind: FieldKind,
    field: &str,
    value: &str,
    max: Option<usize>,
) -> Result<String, String> {
    let rule = kind.rule();
    let max = max.map_or(rule.max_chars, |m| m.min(rule.max_chars));
    let v = value.trim();
    let chars = v.chars().count();
    let allowed = match rule.chars {
        CharRule::SingleLine => v.chars().all(|c| !c.is_control()),
        CharRule::MultiLine => v
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t')),
        CharRule::AsciiCode => v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        CharRule::AsciiVisible => v.chars().all(|c| c.is_ascii_graphic()),
    };
    if chars == 0 || chars > max {
        return Err(format!("{field} must be 1 to {max} characters"));
    }
    if !allowed {
        let what = match rule.chars {
            CharRule::SingleLine => "printable characters on one line",
            CharRule::MultiLine => "printable characters",
            CharRule::AsciiCode => "letters, digits, - or _",
            CharRule::AsciiVisible => "visible ASCII characters without spaces",
        };
        return Err(format!("{field} must be {what}"));
    }
    Ok(v.to_owned())
}

/// [`field`] for an optional value; blank counts as absent.
pub fn field_opt(
    kind: FieldKind,
    name: &str,
    value: Option<&str>,
) -> Result<Option<String>, String> {
    value
        .filter(|v| !v.trim().is_empty())
        .map(|v| field(kind, name, v, None))
        .transpose()
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

    #[test]
    fn field_kinds_cap_length_and_characters() {
        assert_eq!(
            field(FieldKind::District, "district", " 黄浦区 ", None).unwrap(),
            "黄浦区"
        );
        let long = "区".repeat(33);
        let err = field(FieldKind::District, "delivery.district", &long, None).unwrap_err();
        assert!(err.contains("delivery.district"), "{err}");
        assert!(field(FieldKind::Name, "name", "a\nb", None).is_err());
        assert!(field(FieldKind::FreeText, "notes", "a\nb", None).is_ok());
        assert!(field(FieldKind::FreeText, "notes", "a\u{0}b", None).is_err());
        assert!(field(FieldKind::Code, "code", "SKU 1", None).is_err());
        assert!(field(FieldKind::Name, "name", "abcde", Some(4)).is_err());
        assert_eq!(
            field_opt(FieldKind::District, "d", Some("  ")).unwrap(),
            None
        );
    }

    #[test]
    fn the_ceiling_holds_for_every_string() {
        assert!(within_ceiling("x", &"a".repeat(MAX_ANY_STRING_CHARS)).is_ok());
        assert!(within_ceiling("x", &"a".repeat(MAX_ANY_STRING_CHARS + 1)).is_err());
        assert!(within_ceiling("x", "line\nbreak\ttab").is_ok());
        assert!(within_ceiling("x", "nul\u{0}").is_err());
    }
}

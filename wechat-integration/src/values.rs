//! The value rules of subscription-message template keys (WECHAT.md §4). A value that breaks
//! its key's rule makes WeChat answer 47003; checking first lets a campaign refuse to start.

/// Why a value does not fit its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {rule}")]
pub struct ValueRuleError {
    pub key: String,
    pub rule: String,
}

fn fail(key: &str, rule: &str) -> Result<(), ValueRuleError> {
    Err(ValueRuleError {
        key: key.to_owned(),
        rule: rule.to_owned(),
    })
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0xF900..=0xFAFF)
}

fn is_time_or_date(value: &str) -> bool {
    // "2026-11-22", "2026-11-22 10:00", "2026年11月22日", "10:00", and ranges joined by ~.
    value.split('~').all(|part| {
        let p = part.trim();
        !p.is_empty()
            && p.chars().any(|c| c.is_ascii_digit())
            && p.chars().all(|c| {
                c.is_ascii_digit()
                    || matches!(
                        c,
                        '-' | ':' | ' ' | '/' | '.' | '年' | '月' | '日' | '时' | '分' | '秒'
                    )
            })
    })
}

/// "沪A12345", "粤BD12345": the first and last may be Chinese, the rest letters or digits.
fn is_car_number(value: &str) -> bool {
    let chars: Vec<char> = value.chars().collect();
    let last = chars.len().saturating_sub(1);
    chars.len() <= 8
        && chars
            .iter()
            .enumerate()
            .all(|(i, &c)| c.is_ascii_alphanumeric() || ((i == 0 || i == last) && is_cjk(c)))
}

/// Up to 32 digits, may have decimals.
fn is_number(value: &str) -> bool {
    let digits = value.chars().filter(char::is_ascii_digit).count();
    (1..=32).contains(&digits)
        && value.chars().all(|c| c.is_ascii_digit() || c == '.')
        && value.matches('.').count() <= 1
}

fn is_amount(value: &str) -> bool {
    let v = value.strip_suffix('元').unwrap_or(value);
    let v = v
        .strip_prefix('¥')
        .or_else(|| v.strip_prefix('￥'))
        .or_else(|| v.strip_prefix('$'))
        .unwrap_or(v);
    let digits = v.chars().filter(char::is_ascii_digit).count();
    !v.is_empty()
        && digits > 0
        && digits <= 10
        && v.chars().all(|c| c.is_ascii_digit() || c == '.')
        && v.matches('.').count() <= 1
}

/// Checks one value against the rule its key's kind sets; the kind is the key without its
/// trailing number (`thing2` is a `thing`).
pub fn check_subscribe_value(key: &str, value: &str) -> Result<(), ValueRuleError> {
    let kind = key.trim_end_matches(|c: char| c.is_ascii_digit());
    let chars = value.chars().count();
    if chars == 0 {
        return fail(key, "a value cannot be empty");
    }
    match kind {
        "thing" if chars > 20 => fail(key, "thing: at most 20 characters"),
        "number" if !is_number(value) => fail(key, "number: at most 32 digits, may have decimals"),
        "letter" if chars > 32 || !value.chars().all(|c| c.is_ascii_alphabetic()) => {
            fail(key, "letter: at most 32 letters")
        }
        "symbol" if chars > 5 || value.chars().any(|c| c.is_alphanumeric()) => {
            fail(key, "symbol: at most 5 symbols")
        }
        "character_string" if chars > 32 || !value.chars().all(|c| c.is_ascii_graphic()) => fail(
            key,
            "character_string: at most 32 letters, digits or symbols",
        ),
        "time" | "date" if !is_time_or_date(value) => {
            fail(key, "time/date: a formatted date or time (a range with ~)")
        }
        "amount" if !is_amount(value) => fail(
            key,
            "amount: one currency symbol and at most 10 digits, may end in 元",
        ),
        "phone_number"
            if chars > 17
                || !value
                    .chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ')) =>
        {
            fail(key, "phone_number: at most 17 digits, + or -")
        }
        "car_number" if !is_car_number(value) => fail(
            key,
            "car_number: at most 8 characters, letters and digits (Chinese first or last)",
        ),
        "name" => {
            let all_cjk = value.chars().all(is_cjk);
            // Latin names may carry symbols and spaces: "Lily Wang", "O'Neil", "Jean-Luc".
            let latin = value
                .chars()
                .all(|c| c.is_ascii_alphabetic() || c == ' ' || c.is_ascii_punctuation());
            if (all_cjk && chars <= 10) || (latin && chars <= 20 && !all_cjk) {
                Ok(())
            } else {
                fail(key, "name: at most 10 Chinese characters or 20 letters")
            }
        }
        "phrase" if chars > 5 || !value.chars().all(is_cjk) => {
            fail(key, "phrase: at most 5 Chinese characters")
        }
        "thing" | "number" | "letter" | "symbol" | "character_string" | "time" | "date"
        | "amount" | "phone_number" | "car_number" | "phrase" => Ok(()),
        // A key of a kind WeChat does not define is most likely a typo in our template.
        _ => fail(key, "unknown key kind"),
    }
}

#[cfg(test)]
mod tests {
    use super::check_subscribe_value as check;

    #[test]
    fn things_count_characters_not_bytes() {
        assert!(check("thing1", "玫瑰修护精华到店体验预约提醒您").is_ok());
        assert!(check("thing1", &"玫".repeat(20)).is_ok());
        assert!(check("thing1", &"玫".repeat(21)).is_err());
        assert!(check("thing1", "").is_err());
    }

    #[test]
    fn amounts_times_and_phrases() {
        for ok in ["¥100.00", "100元", "￥99", "12.5"] {
            assert!(check("amount3", ok).is_ok(), "{ok}");
        }
        for bad in ["¥¥100", "12345678901", "一百元", "1.2.3"] {
            assert!(check("amount3", bad).is_err(), "{bad}");
        }
        assert!(check("time2", "2026-11-22 10:00").is_ok());
        assert!(check("time2", "2026-11-22 10:00 ~ 2026-11-22 11:00").is_ok());
        assert!(check("date4", "2026年11月22日").is_ok());
        assert!(check("time2", "tomorrow").is_err());
        assert!(check("phrase5", "已预约").is_ok());
        assert!(check("phrase5", "预约成功啦了").is_err());
        assert!(check("phrase5", "ok").is_err());
    }

    #[test]
    fn names_numbers_and_strings() {
        assert!(check("name1", "王小美").is_ok());
        assert!(check("name1", "Lily Wang").is_ok());
        assert!(check("name1", "王小美Lily").is_err());
        assert!(check("name1", &"王".repeat(11)).is_err());
        assert!(check("number1", "123456").is_ok());
        assert!(check("number1", "12a").is_err());
        assert!(check("character_string9", "R20261122ABC").is_ok());
        assert!(check("character_string9", "订单").is_err());
        assert!(check("phone_number1", "+86 138-0013-8000").is_ok());
        assert!(check("letter1", "ABC").is_ok());
        assert!(check("symbol1", "≥≤±×÷÷").is_err());
        assert!(check("car_number1", "沪A12345").is_ok());
        assert!(check("mystery1", "x").is_err());
    }

    #[test]
    fn every_kind_at_its_limit() {
        let cases: &[(&str, &str, bool)] = &[
            ("thing2", &"a".repeat(20), true),
            ("thing2", &"a".repeat(21), false),
            ("thing2", "预约 10:00 @上海店!", true),
            ("number3", &"9".repeat(32), true),
            ("number3", &"9".repeat(33), false),
            ("number3", "3.14", true),
            ("number3", "3.1.4", false),
            ("number3", "-3", false),
            ("letter4", &"z".repeat(32), true),
            ("letter4", &"z".repeat(33), false),
            ("letter4", "abc1", false),
            ("symbol5", "%%%%%", true),
            ("symbol5", "≥≤", true),
            ("symbol5", "a", false),
            ("character_string6", &"A1-_".repeat(8), true),
            ("character_string6", &"A".repeat(33), false),
            ("character_string6", "has space", false),
            ("time7", "15:01", true),
            ("time7", "2026-11-22 10:00", true),
            ("time7", "2026-11-22 10:00~2026-11-22 12:00", true),
            ("time7", "10:00 ~ 12:00", true),
            ("time7", "2019年10月1日 15:01", true),
            ("time7", "10:00~", false),
            ("time7", "soon", false),
            ("date8", "2026-11-22", true),
            ("date8", "2026/11/22", true),
            ("date8", "2026-11-22 ~ 2026-11-30", true),
            ("amount9", "¥100.00", true),
            ("amount9", "￥100.00", true),
            ("amount9", "100元", true),
            ("amount9", "¥100.00元", true),
            ("amount9", "8.88", true),
            ("amount9", "¥12345678901", false),
            ("amount9", "¥", false),
            ("amount9", "100美元", false),
            ("phone_number10", "13800138000", true),
            ("phone_number10", "+86-21-6666 8888", true),
            ("phone_number10", &"1".repeat(18), false),
            ("phone_number10", "call me", false),
            ("car_number11", "粤BD12345", true),
            ("car_number11", "粤B1234学", true),
            ("car_number11", "粤B12345678", false),
            ("car_number11", "粤B12-345", false),
            ("name12", &"王".repeat(10), true),
            ("name12", &"a".repeat(20), true),
            ("name12", &"a".repeat(21), false),
            ("name12", "Jean-Luc O'Neil", true),
            ("phrase13", "已发货", true),
            ("phrase13", "五个汉字啊", true),
            ("phrase13", "六个汉字啊啊", false),
            ("phrase13", "ok了", false),
        ];
        for (key, value, ok) in cases {
            let r = check(key, value);
            assert_eq!(r.is_ok(), *ok, "{key} = {value:?}: {r:?}");
            if let Err(e) = r {
                assert_eq!(&e.key, key, "the error names the key");
                assert!(!e.rule.is_empty());
            }
        }
    }
}

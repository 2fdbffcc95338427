//! Scalars shared by the three schemas: `Date`, `DateTime` (UTC, milliseconds) and `Fen` (money
//! beyond 32 bits). See docs/api-style.md.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{NaiveDate, SecondsFormat, Utc};

/// A calendar date, `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date(pub NaiveDate);

#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Date)
                .map_err(|_| InputValueError::custom("a date is YYYY-MM-DD")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

/// An instant, always sent in UTC as RFC 3339 with milliseconds: `2026-12-05T08:30:00.000Z`.
/// Accepted as any RFC 3339 time with an offset (`2026-12-05T16:30:00+08:00` is the same
/// instant); finer than milliseconds is kept as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime(pub chrono::DateTime<Utc>);

/// How every `DateTime` is written: UTC, `Z`, three fraction digits.
pub fn format_instant(at: &chrono::DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[Scalar(
    name = "DateTime",
    specified_by_url = "https://www.rfc-editor.org/rfc/rfc3339"
)]
/// An instant in UTC, RFC 3339 with millisecond precision: `2026-12-05T08:30:00.000Z`. Inputs may
/// carry any offset (`2026-12-05T16:30:00+08:00`); outputs are always UTC with `Z`.
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|at| DateTime(at.with_timezone(&Utc)))
                .map_err(|_| {
                    InputValueError::custom(
                        "a time is RFC 3339 with an offset, e.g. 2026-12-05T08:30:00.000Z",
                    )
                }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(format_instant(&self.0))
    }
}

impl From<chrono::DateTime<Utc>> for DateTime {
    fn from(at: chrono::DateTime<Utc>) -> Self {
        Self(at)
    }
}

impl From<DateTime> for chrono::DateTime<Utc> {
    fn from(at: DateTime) -> Self {
        at.0
    }
}

/// An amount of money in fen (1/100 yuan) that may exceed 32 bits: sums, totals and report
/// values. Sent as a JSON string of digits (`"3000000000"`) so JavaScript keeps it exact;
/// accepted as such a string or as an integer, within the signed 64-bit range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Fen(pub i64);

#[Scalar(name = "Fen")]
/// Money in fen (1/100 yuan), 64-bit. Output: a string of digits with an optional minus sign
/// (`"3000000000"` is ¥30,000,000.00). Input: that string or an integer.
impl ScalarType for Fen {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => parse_fen(s)
                .map(Fen)
                .ok_or_else(|| InputValueError::custom("fen are whole digits within 64 bits")),
            Value::Number(n) => n
                .as_i64()
                .map(Fen)
                .ok_or_else(|| InputValueError::custom("fen are whole digits within 64 bits")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(_) | Value::Number(_))
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

/// Digits with an optional leading minus; nothing else (no `+`, spaces or fractions).
fn parse_fen(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || digits.len() > 19 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl From<i64> for Fen {
    fn from(fen: i64) -> Self {
        Self(fen)
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{Number, ScalarType, Value};
    use chrono::TimeZone;

    use super::{DateTime, Fen};

    #[test]
    fn fen_leaves_as_a_string_and_enters_as_either() {
        let big = 9_007_199_254_740_993_i64; // 2^53 + 1: not exact as a JSON double
        assert_eq!(Fen(big).to_value(), Value::String(big.to_string()));
        assert_eq!(
            Fen::parse(Value::String(big.to_string())).ok(),
            Some(Fen(big))
        );
        assert_eq!(
            Fen::parse(Value::Number(Number::from(3_000_000_000_i64))).ok(),
            Some(Fen(3_000_000_000))
        );
        assert_eq!(
            Fen::parse(Value::String("-150".into())).ok(),
            Some(Fen(-150))
        );
        assert_eq!(
            Fen::parse(Value::String(i64::MAX.to_string())).ok(),
            Some(Fen(i64::MAX))
        );
        for bad in [
            "",
            "-",
            "1.5",
            "+3",
            " 3",
            "1e3",
            "9223372036854775808",
            "abc",
        ] {
            assert!(Fen::parse(Value::String(bad.into())).is_err(), "{bad:?}");
        }
        assert!(Fen::parse(Value::Number(Number::from_f64(1.5).unwrap())).is_err());
        assert!(Fen::parse(Value::Boolean(true)).is_err());
    }

    #[test]
    fn times_leave_in_utc_with_milliseconds() {
        let at = chrono::Utc.with_ymd_and_hms(2026, 12, 5, 8, 30, 0).unwrap();
        assert_eq!(
            DateTime(at).to_value(),
            Value::String("2026-12-05T08:30:00.000Z".into())
        );
        let fine = at + chrono::Duration::microseconds(123_456);
        assert_eq!(
            DateTime(fine).to_value(),
            Value::String("2026-12-05T08:30:00.123Z".into())
        );
        let local = DateTime::parse(Value::String("2026-12-05T16:30:00+08:00".into()));
        assert_eq!(local.ok(), Some(DateTime(at)));
        assert!(DateTime::parse(Value::String("2026-12-05 08:30".into())).is_err());
    }
}

//! The one pagination style: Relay connections. Every list that can grow takes `first` (default
//! [`DEFAULT_FIRST`], at most [`MAX_FIRST`]) and `after` (the `endCursor` of the previous page)
//! and returns `XConnection { edges { cursor node } nodes pageInfo }`. A cursor is opaque:
//! base64 (URL-safe, no padding) of the row's keyset position (`i:<id>` for lists ordered by id,
//! `t:<unix nanoseconds>:<id>` for lists ordered by a time). Out-of-range `first` and cursors
//! that do not decode to this list's kind of position are BAD_USER_INPUT. See
//! docs/api-style.md for which lists are connections.

use async_graphql::OutputType;
use async_graphql::connection::{Connection, Edge};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use domain::auth::{Permission, StaffPrincipal};
use domain::platform::page::{Keyset, Page};

use crate::error::{ApiError, ApiResult};

/// Rows a page holds when `first` is not given.
pub const DEFAULT_FIRST: i32 = 20;
/// The most rows one page may ask for.
pub const MAX_FIRST: i32 = 100;

/// A keyset position that can travel as a cursor.
pub trait CursorKey: Sized {
    fn encode(&self) -> String;
    fn decode(raw: &str) -> Option<Self>;
}

impl CursorKey for i64 {
    fn encode(&self) -> String {
        format!("i:{self}")
    }

    fn decode(raw: &str) -> Option<Self> {
        raw.strip_prefix("i:")?.parse().ok()
    }
}

impl CursorKey for (DateTime<Utc>, i64) {
    fn encode(&self) -> String {
        // Nanoseconds: the keyset compares the stored value exactly, whatever its precision.
        let nanos = self.0.timestamp_nanos_opt().unwrap_or(i64::MAX);
        format!("t:{nanos}:{}", self.1)
    }

    fn decode(raw: &str) -> Option<Self> {
        let (nanos, id) = raw.strip_prefix("t:")?.split_once(':')?;
        let at = DateTime::from_timestamp_nanos(nanos.parse().ok()?);
        Some((at, id.parse().ok()?))
    }
}

/// The cursor of a position.
pub fn cursor<K: CursorKey>(key: &K) -> String {
    URL_SAFE_NO_PAD.encode(key.encode())
}

/// The position a cursor stands for, if it is one of this list's.
pub fn decode_cursor<K: CursorKey>(cursor: &str) -> ApiResult<K> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|raw| K::decode(&raw))
        .ok_or_else(|| ApiError::bad_input("malformed cursor"))
}

/// The page a client asked for: `first` (`None`: [`DEFAULT_FIRST`]) in 1..=[`MAX_FIRST`] and
/// the position after `after`.
pub fn keyset<K: CursorKey>(first: Option<i32>, after: Option<&str>) -> ApiResult<Keyset<K>> {
    let first = first.unwrap_or(DEFAULT_FIRST);
    if !(1..=MAX_FIRST).contains(&first) {
        return Err(ApiError::bad_input(format!(
            "first must be between 1 and {MAX_FIRST}"
        )));
    }
    let after = after.map(decode_cursor).transpose()?;
    Ok(Keyset::first(u64::try_from(first).unwrap_or(1)).after(after))
}

/// [`keyset`] for a staff list, read once the caller's role may see the list: the wrong role
/// hears FORBIDDEN, whatever is wrong with `first` or `after` (the domain checks again).
pub fn staff_keyset<K: CursorKey>(
    staff: &StaffPrincipal,
    needs: &[Permission],
    first: Option<i32>,
    after: Option<&str>,
) -> ApiResult<Keyset<K>> {
    for permission in needs {
        staff.require(*permission).map_err(ApiError::from)?;
    }
    keyset(first, after)
}

/// A connection from a domain page: `key` gives each row's position, `node` its GraphQL shape.
pub fn connection<T, K, N>(
    page: Page<T>,
    keyset: &Keyset<K>,
    key: impl Fn(&T) -> K,
    mut node: impl FnMut(T) -> N,
) -> Connection<String, N>
where
    K: CursorKey,
    N: OutputType,
{
    let mut connection = Connection::new(keyset.after.is_some(), page.has_next);
    connection.edges.extend(
        page.items
            .into_iter()
            .map(|item| Edge::new(cursor(&key(&item)), node(item))),
    );
    connection
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::{cursor, decode_cursor, keyset};

    #[test]
    fn cursors_round_trip_and_refuse_other_kinds() {
        assert_eq!(decode_cursor::<i64>(&cursor(&42_i64)).ok(), Some(42));
        let at = chrono::Utc.with_ymd_and_hms(2026, 12, 5, 8, 30, 0).unwrap()
            + chrono::Duration::nanoseconds(123_456_789);
        let key = (at, 7_i64);
        assert_eq!(decode_cursor::<(_, i64)>(&cursor(&key)).ok(), Some(key));
        assert!(decode_cursor::<i64>(&cursor(&key)).is_err());
        assert!(decode_cursor::<i64>("42").is_err());
        assert!(decode_cursor::<i64>("!!!").is_err());
    }

    #[test]
    fn first_is_bounded() {
        assert_eq!(keyset::<i64>(None, None).map(|k| k.limit).ok(), Some(20));
        assert_eq!(
            keyset::<i64>(Some(100), None).map(|k| k.limit).ok(),
            Some(100)
        );
        for bad in [0, -1, 101] {
            assert!(keyset::<i64>(Some(bad), None).is_err(), "{bad}");
        }
    }
}

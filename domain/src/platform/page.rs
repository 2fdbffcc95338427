//! Keyset pagination. A long list is read after a position in its own order (never with an
//! OFFSET), one row more than asked so the caller learns whether another page follows. The
//! GraphQL layer turns positions into opaque cursors (`graphql-schema/src/pagination.rs`).

use chrono::{DateTime, Utc};
use sea_orm::ColumnTrait;
use sea_orm::sea_query::Condition;

/// The most rows a page may hold; the GraphQL layer refuses more before asking.
pub const MAX_LIMIT: u64 = 100;

/// Where a list ordered by one id column (newest first: descending) is read from.
pub type IdKey = i64;

/// Where a list ordered by a time and then its id is read from.
pub type TimeKey = (DateTime<Utc>, i64);

/// What page to read: rows strictly after `after` in the list's order, at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyset<K> {
    pub after: Option<K>,
    pub limit: u64,
}

impl<K> Keyset<K> {
    /// A page of `limit` rows (held to 1..=[`MAX_LIMIT`]) from the start of the list.
    pub fn first(limit: u64) -> Self {
        Self {
            after: None,
            limit: limit.clamp(1, MAX_LIMIT),
        }
    }

    pub fn after(mut self, after: Option<K>) -> Self {
        self.after = after;
        self
    }

    /// How many rows to ask the database for: one more than the page, to see if more follow.
    pub fn fetch(&self) -> u64 {
        self.limit.clamp(1, MAX_LIMIT) + 1
    }

    /// Cuts the rows read with [`Keyset::fetch`] to the page.
    pub fn page<T>(&self, mut rows: Vec<T>) -> Page<T> {
        let limit = usize::try_from(self.limit.clamp(1, MAX_LIMIT)).unwrap_or(usize::MAX);
        let has_next = rows.len() > limit;
        rows.truncate(limit);
        Page {
            items: rows,
            has_next,
        }
    }
}

/// One page of a list and whether more rows follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next: bool,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            has_next: self.has_next,
        }
    }

    pub fn try_map<U, E>(self, f: impl FnMut(T) -> Result<U, E>) -> Result<Page<U>, E> {
        Ok(Page {
            items: self.items.into_iter().map(f).collect::<Result<_, _>>()?,
            has_next: self.has_next,
        })
    }

    /// Replaces the rows with what they loaded to (the same number, in the same order).
    pub fn with<U>(self, items: Vec<U>) -> Page<U> {
        Page {
            items,
            has_next: self.has_next,
        }
    }

    /// Pages a list already in memory (a short list computed whole), in its order: the rows after
    /// the one whose key is `after`.
    pub fn of_list<K: PartialEq>(list: Vec<T>, keyset: &Keyset<K>, key: impl Fn(&T) -> K) -> Self {
        let start = match &keyset.after {
            Some(after) => list
                .iter()
                .position(|item| key(item) == *after)
                .map_or(list.len(), |i| i + 1),
            None => 0,
        };
        keyset.page(list.into_iter().skip(start).collect())
    }
}

/// Rows after `(at, id)` in a list ordered by `time` then `id`, both ascending.
pub fn after_asc<C: ColumnTrait>(time: C, id: C, (at, after_id): TimeKey) -> Condition {
    Condition::any()
        .add(time.gt(at))
        .add(Condition::all().add(time.eq(at)).add(id.gt(after_id)))
}

/// Rows after `(at, id)` in a list ordered by `time` then `id`, both descending.
pub fn after_desc<C: ColumnTrait>(time: C, id: C, (at, after_id): TimeKey) -> Condition {
    Condition::any()
        .add(time.lt(at))
        .add(Condition::all().add(time.eq(at)).add(id.lt(after_id)))
}

#[cfg(test)]
mod tests {
    use super::{Keyset, MAX_LIMIT, Page};

    #[test]
    fn a_page_knows_whether_more_follow() {
        let keyset = Keyset::<i64>::first(2);
        assert_eq!(keyset.fetch(), 3);
        assert_eq!(
            keyset.page(vec![5, 4, 3]),
            Page {
                items: vec![5, 4],
                has_next: true
            }
        );
        assert!(!keyset.page(vec![5, 4]).has_next);
        assert_eq!(Keyset::<i64>::first(1_000).limit, MAX_LIMIT);
    }

    #[test]
    fn a_list_in_memory_pages_after_its_key() {
        let keyset = Keyset::first(2).after(Some(2));
        let page = Page::of_list(vec![1, 2, 3, 4, 5], &keyset, |n| *n);
        assert_eq!(page.items, vec![3, 4]);
        assert!(page.has_next);
        let gone = Keyset::first(2).after(Some(9));
        assert!(Page::of_list(vec![1, 2], &gone, |n| *n).items.is_empty());
    }
}

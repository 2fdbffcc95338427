//! The key-value port behaves the same on Redis and in process, including under concurrency.

use std::sync::Arc;
use std::time::Duration;

use domain::kv::{CasOutcome, KeyValueStore};
use rouge_tests::{Backend, on_both_backends, test_kv};

async fn basic_operations(backend: Backend) {
    let kv = test_kv(backend);
    assert_eq!(kv.get("a").await.unwrap(), None);
    kv.set("a", b"1", None).await.unwrap();
    assert_eq!(kv.get("a").await.unwrap().as_deref(), Some(&b"1"[..]));
    assert!(
        kv.set_if_absent("b", b"x", Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(
        !kv.set_if_absent("b", b"y", Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert_eq!(kv.get("b").await.unwrap().as_deref(), Some(&b"x"[..]));
    assert_eq!(kv.delete(&["a", "b", "missing"]).await.unwrap(), 2);
    assert_eq!(kv.get("a").await.unwrap(), None);
    kv.ping().await.unwrap();
}

async fn entries_expire(backend: Backend) {
    let kv = test_kv(backend);
    kv.set("short", b"1", Some(Duration::from_millis(30)))
        .await
        .unwrap();
    kv.set("long", b"1", Some(Duration::from_secs(60)))
        .await
        .unwrap();
    assert!(kv.get("short").await.unwrap().is_some());
    // Waiting is the behaviour under test here: poll until the entry is gone, bounded.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while kv.get("short").await.unwrap().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "entry never expired"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(kv.get("long").await.unwrap().is_some());
}

async fn compare_and_swap_semantics(backend: Backend) {
    let kv = test_kv(backend);
    let ttl = Duration::from_secs(60);
    assert_eq!(
        kv.compare_and_swap("k", b"a", b"b", ttl).await.unwrap(),
        CasOutcome::Missing
    );
    kv.set("k", b"a", None).await.unwrap();
    assert_eq!(
        kv.compare_and_swap("k", b"x", b"b", ttl).await.unwrap(),
        CasOutcome::Mismatch
    );
    assert_eq!(kv.get("k").await.unwrap().as_deref(), Some(&b"a"[..]));
    assert_eq!(
        kv.compare_and_swap("k", b"a", b"b", ttl).await.unwrap(),
        CasOutcome::Swapped
    );
    assert_eq!(kv.get("k").await.unwrap().as_deref(), Some(&b"b"[..]));
}

async fn concurrent_operations_are_atomic(backend: Backend) {
    let kv: Arc<dyn KeyValueStore> = test_kv(backend);
    let ttl = Duration::from_secs(60);
    kv.set("token", b"v0", None).await.unwrap();
    let swaps = (0..64).map(|i| {
        let kv = kv.clone();
        async move {
            kv.compare_and_swap("token", b"v0", format!("new{i}").as_bytes(), ttl)
                .await
                .unwrap()
        }
    });
    let outcomes = futures::future::join_all(swaps).await;
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == CasOutcome::Swapped)
            .count(),
        1
    );

    let claims = (0..64).map(|i| {
        let kv = kv.clone();
        async move {
            kv.set_if_absent("lock", format!("{i}").as_bytes(), ttl)
                .await
                .unwrap()
        }
    });
    assert_eq!(
        futures::future::join_all(claims)
            .await
            .iter()
            .filter(|w| **w)
            .count(),
        1
    );

    let increments = (0..200).map(|_| {
        let kv = kv.clone();
        tokio::spawn(async move {
            kv.incr_window("counter", Duration::from_secs(60))
                .await
                .unwrap()
        })
    });
    let mut counts: Vec<i64> = futures::future::join_all(increments)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    counts.sort_unstable();
    assert_eq!(
        counts,
        (1..=200).collect::<Vec<_>>(),
        "every increment seen exactly once"
    );
}

async fn keys_are_isolated_by_namespace(backend: Backend) {
    let a = test_kv(backend);
    let b = test_kv(backend);
    a.set("same", b"a", None).await.unwrap();
    assert_eq!(b.get("same").await.unwrap(), None);
}

on_both_backends!(
    basic_operations,
    entries_expire,
    compare_and_swap_semantics,
    concurrent_operations_are_atomic,
    keys_are_isolated_by_namespace
);

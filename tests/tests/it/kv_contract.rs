//! The key-value port behaves the same on Redis and in process, including under concurrency.

use std::sync::Arc;
use std::time::Duration;

use domain::platform::kv::{
    AttemptWindow, CasOutcome, FlashCounters, FlashGrab, FlashOutcome, KeyValueStore,
};
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
    kv.set("a", b"1", None).await.unwrap();
    // Two keys in one round trip, each answered in its place, a missing one as None.
    assert_eq!(
        kv.get_two("a", "b").await.unwrap(),
        (Some(b"1".to_vec()), Some(b"x".to_vec()))
    );
    assert_eq!(
        kv.get_two("missing", "a").await.unwrap(),
        (None, Some(b"1".to_vec()))
    );
    assert_eq!(kv.delete(&["a", "b", "missing"]).await.unwrap(), 2);
    assert_eq!(kv.get("a").await.unwrap(), None);
    assert_eq!(kv.get_two("a", "b").await.unwrap(), (None, None));
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

async fn counters_give_back_and_compare_and_delete(backend: Backend) {
    let kv = test_kv(backend);
    let window = Duration::from_secs(60);
    // Giving back never creates a counter nor goes below zero.
    assert_eq!(kv.decr_window("n").await.unwrap(), 0);
    assert_eq!(kv.get("n").await.unwrap(), None);
    assert_eq!(kv.incr_window("n", window).await.unwrap(), 1);
    assert_eq!(kv.incr_window("n", window).await.unwrap(), 2);
    assert_eq!(kv.decr_window("n").await.unwrap(), 1);
    assert_eq!(kv.decr_window("n").await.unwrap(), 0);
    assert_eq!(kv.decr_window("n").await.unwrap(), 0);
    assert_eq!(kv.incr_window("n", window).await.unwrap(), 1);

    assert!(!kv.delete_if_equals("d", b"a").await.unwrap());
    kv.set("d", b"a", None).await.unwrap();
    assert!(!kv.delete_if_equals("d", b"b").await.unwrap());
    assert_eq!(kv.get("d").await.unwrap().as_deref(), Some(&b"a"[..]));
    assert!(kv.delete_if_equals("d", b"a").await.unwrap());
    assert_eq!(kv.get("d").await.unwrap(), None);
}

/// `invalidate_if` drops the token it was given and never a newer one stored meanwhile: every
/// round many callers invalidate the old token while one stores a new one; afterwards the new
/// one must be there. A get-then-delete loses it whenever a delete lands after the store.
async fn access_token_invalidation_never_drops_a_newer_token(backend: Backend) {
    use domain::platform::kv::KvAccessTokenCache;
    use wechat_integration::{AccessTokenCache, CachedToken};
    let kv = test_kv(backend);
    let cache = Arc::new(KvAccessTokenCache::new(kv.clone()));
    let token = |t: &str| CachedToken {
        token: t.to_owned(),
        expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
    };
    assert!(cache.get("wx-app").await.is_none());
    cache.put("wx-app", &token("t0")).await;
    cache.invalidate_if("wx-app", "other").await;
    assert_eq!(cache.get("wx-app").await.unwrap().token, "t0");
    cache.invalidate_if("wx-app", "t0").await;
    assert!(cache.get("wx-app").await.is_none());

    // In process the gap between a get and a delete is a microsecond, so it takes many rounds
    // (a get-then-delete fails within about a thousand); over the network a few suffice.
    let rounds = match backend {
        Backend::Embedded => 10_000,
        Backend::Production => 200,
    };
    for round in 0..rounds {
        let old = format!("old-{round}");
        let new = format!("new-{round}");
        cache.put("wx-app", &token(&old)).await;
        let mut tasks = Vec::new();
        for i in 0..32 {
            let cache = cache.clone();
            let (old, fresh) = (old.clone(), token(&new));
            tasks.push(tokio::spawn(async move {
                if i == 8 {
                    cache.put("wx-app", &fresh).await;
                } else {
                    cache.invalidate_if("wx-app", &old).await;
                }
            }));
        }
        for task in futures::future::join_all(tasks).await {
            task.unwrap();
        }
        assert_eq!(
            cache.get("wx-app").await.map(|t| t.token),
            Some(new),
            "round {round}: the newer token was dropped"
        );
    }
}

async fn keys_are_isolated_by_namespace(backend: Backend) {
    let a = test_kv(backend);
    let b = test_kv(backend);
    a.set("same", b"a", None).await.unwrap();
    assert_eq!(b.get("same").await.unwrap(), None);
}

fn flash_counters(stock: i64, limit: i64) -> FlashCounters {
    FlashCounters {
        stock_left: stock,
        starts_at_ms: 1_000,
        ends_at_ms: 2_000,
        per_member_limit: limit,
        members: vec![],
    }
}

async fn flash_grab_semantics(backend: Backend) {
    let kv = test_kv(backend);
    let ttl = Duration::from_secs(60);
    let sale = "flash:{1}";
    assert_eq!(
        kv.flash_grab(sale, 7, 1, 1_500, "key-0001", None)
            .await
            .unwrap(),
        FlashGrab::NotLoaded
    );
    let mut loaded = flash_counters(3, 2);
    loaded.members = vec![(9, 1)];
    loaded.stock_left = 2;
    assert!(kv.flash_load(sale, &loaded, ttl).await.unwrap());
    // Loading again does not overwrite what is there.
    assert!(
        !kv.flash_load(sale, &flash_counters(99, 9), ttl)
            .await
            .unwrap()
    );
    assert_eq!(kv.flash_counters(sale).await.unwrap(), Some(loaded.clone()));

    let decided = |o| FlashGrab::Decided(o);
    assert_eq!(
        kv.flash_grab(sale, 7, 1, 999, "key-0001", None)
            .await
            .unwrap(),
        decided(FlashOutcome::NotStarted)
    );
    // Not started is not remembered: the same key may grab once the sale opens.
    assert_eq!(
        kv.flash_grab(sale, 7, 1, 1_000, "key-0001", None)
            .await
            .unwrap(),
        decided(FlashOutcome::Granted)
    );
    assert_eq!(
        kv.flash_grab(sale, 7, 5, 1_000, "key-0001", None)
            .await
            .unwrap(),
        FlashGrab::Replay {
            quantity: 1,
            outcome: FlashOutcome::Granted
        }
    );
    assert_eq!(
        kv.flash_grab(sale, 7, 2, 1_100, "key-0002", None)
            .await
            .unwrap(),
        decided(FlashOutcome::LimitReached)
    );
    assert_eq!(
        kv.flash_grab(sale, 8, 2, 1_100, "key-0003", None)
            .await
            .unwrap(),
        decided(FlashOutcome::SoldOut)
    );
    assert_eq!(
        kv.flash_grab(sale, 8, 1, 1_100, "key-0004", None)
            .await
            .unwrap(),
        decided(FlashOutcome::Granted)
    );
    assert_eq!(
        kv.flash_grab(sale, 8, 1, 1_100, "key-0005", None)
            .await
            .unwrap(),
        decided(FlashOutcome::SoldOut)
    );
    assert_eq!(
        kv.flash_grab(sale, 8, 1, 2_000, "key-0006", None)
            .await
            .unwrap(),
        decided(FlashOutcome::Ended)
    );
    assert_eq!(
        kv.flash_grab(sale, 8, 1, 1_100, "key-0003", None)
            .await
            .unwrap(),
        FlashGrab::Replay {
            quantity: 2,
            outcome: FlashOutcome::SoldOut
        }
    );
    let state = kv.flash_counters(sale).await.unwrap().unwrap();
    assert_eq!(state.stock_left, 0);
    assert_eq!(state.members, vec![(7, 1), (8, 1), (9, 1)]);

    // Giving back: the unit returns, the member's count drops, the key is forgotten.
    assert!(kv.flash_adjust(sale, 8, 1, Some("key-0004")).await.unwrap());
    let state = kv.flash_counters(sale).await.unwrap().unwrap();
    assert_eq!(state.stock_left, 1);
    assert_eq!(state.members, vec![(7, 1), (9, 1)]);
    assert_eq!(
        kv.flash_grab(sale, 8, 1, 1_100, "key-0004", None)
            .await
            .unwrap(),
        decided(FlashOutcome::Granted)
    );
    // Never more back than the member held.
    assert!(kv.flash_adjust(sale, 9, 5, None).await.unwrap());
    let state = kv.flash_counters(sale).await.unwrap().unwrap();
    assert_eq!(state.stock_left, 1);
    assert_eq!(state.members, vec![(7, 1), (8, 1)]);
    // Taking units (a negative adjustment) gives them to the member.
    assert!(kv.flash_adjust(sale, 9, -1, None).await.unwrap());
    let state = kv.flash_counters(sale).await.unwrap().unwrap();
    assert_eq!(state.stock_left, 0);
    assert_eq!(state.members, vec![(7, 1), (8, 1), (9, 1)]);

    // Deleting the sale key drops the counters (as a restart would).
    kv.delete(&[sale]).await.unwrap();
    assert_eq!(kv.flash_counters(sale).await.unwrap(), None);
    assert!(!kv.flash_adjust(sale, 7, 1, None).await.unwrap());
    assert_eq!(
        kv.flash_grab(sale, 7, 1, 1_500, "key-0009", None)
            .await
            .unwrap(),
        FlashGrab::NotLoaded
    );
}

async fn concurrent_flash_grabs_never_oversell(backend: Backend) {
    let kv = test_kv(backend);
    let sale = "flash:{2}";
    kv.flash_load(sale, &flash_counters(50, 2), Duration::from_secs(60))
        .await
        .unwrap();
    let grabs = (0..400).map(|i| {
        let kv = kv.clone();
        tokio::spawn(async move {
            kv.flash_grab(sale, i % 200, 1, 1_500, &format!("key-{i:05}"), None)
                .await
                .unwrap()
        })
    });
    let granted = futures::future::join_all(grabs)
        .await
        .into_iter()
        .filter(|g| *g.as_ref().unwrap() == FlashGrab::Decided(FlashOutcome::Granted))
        .count();
    assert_eq!(granted, 50);
    let state = kv.flash_counters(sale).await.unwrap().unwrap();
    assert_eq!(state.stock_left, 0);
    assert_eq!(state.members.iter().map(|(_, u)| u).sum::<i64>(), 50);
}

/// Ten members grab 40 times each, all at once, with units to spare: each gets exactly the
/// limit, however the grabs interleave.
async fn concurrent_flash_grabs_keep_each_member_to_the_limit(backend: Backend) {
    let kv = test_kv(backend);
    let sale = "flash:{4}";
    kv.flash_load(sale, &flash_counters(100, 2), Duration::from_secs(60))
        .await
        .unwrap();
    let grabs = (0..400).map(|i| {
        let kv = kv.clone();
        tokio::spawn(async move {
            kv.flash_grab(sale, i % 10, 1, 1_500, &format!("key-{i:05}"), None)
                .await
                .unwrap()
        })
    });
    let outcomes: Vec<FlashGrab> = futures::future::join_all(grabs)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let granted = outcomes
        .iter()
        .filter(|g| **g == FlashGrab::Decided(FlashOutcome::Granted))
        .count();
    assert_eq!(granted, 20, "ten members, two each");
    assert!(
        outcomes
            .iter()
            .all(|g| *g == FlashGrab::Decided(FlashOutcome::Granted)
                || *g == FlashGrab::Decided(FlashOutcome::LimitReached)),
        "{outcomes:?}"
    );
    let state = kv.flash_counters(sale).await.unwrap().unwrap();
    assert_eq!(state.stock_left, 80);
    assert_eq!(state.members, (0..10).map(|m| (m, 2)).collect::<Vec<_>>());
}

/// The attempt window counted inside the grab: nothing is counted while the counters are not
/// loaded; past the limit the answer is Throttled, nothing is taken and the key is not
/// remembered (the same key grabs in a later window).
async fn flash_grab_counts_attempts_in_its_window(backend: Backend) {
    let kv = test_kv(backend);
    let sale = "flash:{5}";
    let window = |limit| {
        Some(AttemptWindow {
            key: "flash:{5}:rl:7",
            window: Duration::from_secs(60),
            limit,
        })
    };
    assert_eq!(
        kv.flash_grab(sale, 7, 1, 1_500, "key-a", window(1))
            .await
            .unwrap(),
        FlashGrab::NotLoaded
    );
    kv.flash_load(sale, &flash_counters(10, 5), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        kv.flash_grab(sale, 7, 1, 1_500, "key-a", window(1))
            .await
            .unwrap(),
        FlashGrab::Decided(FlashOutcome::Granted),
        "the attempt before loading was not counted"
    );
    assert_eq!(
        kv.flash_grab(sale, 7, 1, 1_500, "key-b", window(1))
            .await
            .unwrap(),
        FlashGrab::Throttled
    );
    // A replay is an attempt too.
    assert_eq!(
        kv.flash_grab(sale, 7, 1, 1_500, "key-a", window(1))
            .await
            .unwrap(),
        FlashGrab::Throttled
    );
    let state = kv.flash_counters(sale).await.unwrap().unwrap();
    assert_eq!((state.stock_left, state.members.clone()), (9, vec![(7, 1)]));
    let later_window = Some(AttemptWindow {
        key: "flash:{5}:rl:7:later",
        window: Duration::from_secs(60),
        limit: 1,
    });
    assert_eq!(
        kv.flash_grab(sale, 7, 1, 1_500, "key-b", later_window)
            .await
            .unwrap(),
        FlashGrab::Decided(FlashOutcome::Granted),
        "a throttled key is not remembered"
    );
    // 100 attempts at once against a limit of 40: exactly 40 pass the window.
    let attempts = (0..100).map(|i| {
        let kv = kv.clone();
        tokio::spawn(async move {
            let window = AttemptWindow {
                key: "flash:{5}:rl:8",
                window: Duration::from_secs(60),
                limit: 40,
            };
            kv.flash_grab(sale, 8, 1, 1_500, &format!("key-{i:03}"), Some(window))
                .await
                .unwrap()
        })
    });
    let throttled = futures::future::join_all(attempts)
        .await
        .into_iter()
        .filter(|g| *g.as_ref().unwrap() == FlashGrab::Throttled)
        .count();
    assert_eq!(throttled, 60);
}

on_both_backends!(
    flash_grab_semantics,
    flash_grab_counts_attempts_in_its_window,
    concurrent_flash_grabs_never_oversell,
    concurrent_flash_grabs_keep_each_member_to_the_limit,
    basic_operations,
    entries_expire,
    compare_and_swap_semantics,
    concurrent_operations_are_atomic,
    counters_give_back_and_compare_and_delete,
    access_token_invalidation_never_drops_a_newer_token,
    keys_are_isolated_by_namespace
);

/// A restarted or failed-over Redis has no scripts: the next call reloads it (NOSCRIPT), once,
/// without an error reaching the caller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flash_script_survives_an_empty_script_cache() {
    let kv = test_kv(Backend::Production);
    let sale = "flash:{3}";
    kv.flash_load(sale, &flash_counters(2, 1), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        kv.flash_grab(sale, 1, 1, 1_500, "key-0001", None)
            .await
            .unwrap(),
        FlashGrab::Decided(FlashOutcome::Granted)
    );
    let client = redis::Client::open(rouge_tests::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        kv.flash_grab(sale, 2, 1, 1_500, "key-0002", None)
            .await
            .unwrap(),
        FlashGrab::Decided(FlashOutcome::Granted)
    );
    assert_eq!(
        kv.flash_counters(sale).await.unwrap().unwrap().stock_left,
        0
    );
}

//! The database going away and coming back under load: callers see data or UNAVAILABLE, never
//! INTERNAL, and the server is ready again soon after the database is.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rouge_tests::{Backend, PrivatePostgres, TestApp, eventually, migrated_postgres};
use serde_json::{Value, json};

const READ: &str = "{ me { id points tier { code } } }";
const WRITE: &str =
    "mutation($n: String!) { updateMyProfile(input: { nickname: $n }) { id nickname } }";

/// What one request got back.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Data,
    Unavailable,
    Other(String),
}

fn answer(body: &Value) -> Answer {
    let codes: Vec<&str> = body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["extensions"]["code"].as_str().unwrap_or("none"))
        .collect();
    if codes.is_empty() && body["data"].is_object() {
        Answer::Data
    } else if !codes.is_empty() && codes.iter().all(|c| *c == "UNAVAILABLE") {
        Answer::Unavailable
    } else {
        Answer::Other(body.to_string())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgresql_restart_under_load() {
    let pg = PrivatePostgres::start().await;
    let db = migrated_postgres(&pg.admin_url(), 10).await;
    let app = TestApp::builder(Backend::Production)
        .database(db)
        .start()
        .await;
    let mut members = Vec::new();
    for i in 0..8 {
        members.push(app.login_member(&format!("restart{i}")).await.0);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let succeeded = Arc::new(AtomicUsize::new(0));
    let answers = Arc::new(Mutex::new(Vec::<(Instant, Answer)>::new()));
    // More callers than pooled connections, so requests also queue for a connection.
    let workers: Vec<_> = (0..48)
        .map(|w| {
            let me = members[w % members.len()].clone();
            let (stop, succeeded, answers) = (stop.clone(), succeeded.clone(), answers.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let body = if n.is_multiple_of(4) {
                        me.raw(WRITE, json!({ "n": format!("w{w}-{n}") })).await
                    } else {
                        me.raw(READ, json!({})).await
                    };
                    let got = answer(&body);
                    if got == Answer::Data {
                        succeeded.fetch_add(1, Ordering::Relaxed);
                    }
                    answers.lock().unwrap().push((Instant::now(), got));
                }
            })
        })
        .collect();
    eventually(30, "the load to run", || async {
        succeeded.load(Ordering::Relaxed) >= 200
    })
    .await;

    pg.restart_fast().await;
    let accepting = Instant::now();
    let readyz = format!("{}/readyz", app.base_url);
    let ready_after = loop {
        let status = app
            .http
            .get(&readyz)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        if status == 200 {
            break accepting.elapsed();
        }
        assert!(
            accepting.elapsed() < Duration::from_secs(20),
            "/readyz still {status} 20 s after PostgreSQL accepted connections again"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let before = succeeded.load(Ordering::Relaxed);
    eventually(10, "requests to succeed again", || async {
        succeeded.load(Ordering::Relaxed) >= before + 200
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }

    let answers = answers.lock().unwrap().clone();
    let unavailable = answers
        .iter()
        .filter(|(_, a)| *a == Answer::Unavailable)
        .count();
    let others: Vec<&Answer> = answers
        .iter()
        .map(|(_, a)| a)
        .filter(|a| matches!(a, Answer::Other(_)))
        .collect();
    eprintln!(
        "{} answers, {unavailable} UNAVAILABLE, {} other; /readyz ready {ready_after:?} after PostgreSQL",
        answers.len(),
        others.len()
    );
    assert!(
        others.is_empty(),
        "only data or UNAVAILABLE while PostgreSQL restarts; {} others, e.g. {:?}",
        others.len(),
        &others[..others.len().min(3)]
    );
    assert!(
        ready_after <= Duration::from_secs(2),
        "/readyz answered 200 only {ready_after:?} after PostgreSQL accepted connections again"
    );
    let last_failure = answers
        .iter()
        .filter(|(_, a)| *a != Answer::Data)
        .map(|(at, _)| *at)
        .max();
    if let Some(last) = last_failure {
        assert!(
            last.saturating_duration_since(accepting) <= Duration::from_secs(2),
            "requests still failed {:?} after PostgreSQL was back",
            last.saturating_duration_since(accepting)
        );
    }
}

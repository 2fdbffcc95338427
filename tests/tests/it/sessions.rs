//! Sessions: refresh rotation, reuse detection, logout, expiry, forged and foreign tokens.

use std::sync::Arc;

use domain::platform::clock::ManualClock;
use rouge_tests::{Backend, TestApp, on_both_backends};
use serde_json::json;

const REFRESH: &str =
    "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken } }";
const LOGIN: &str =
    "mutation($c: String!) { login(code: $c) { accessToken refreshToken member { id } } }";

async fn refresh_rotates_and_reuse_ends_the_session(backend: Backend) {
    let app = TestApp::start(backend).await;
    let consumer = app.consumer();
    let data = consumer.ok(LOGIN, json!({ "c": "test:dora:1" })).await;
    let first_refresh = data["login"]["refreshToken"].as_str().unwrap().to_owned();
    let first_access = data["login"]["accessToken"].as_str().unwrap().to_owned();
    // The member accepts the privacy policy, as the mini-program asks on a first login.
    consumer
        .with_token(&first_access)
        .ok(
            "mutation($v: String!) { acceptPrivacyPolicy(version: $v) { privacyPolicyCurrent } }",
            json!({ "v": domain::privacy::DEFAULT_POLICY_VERSION }),
        )
        .await;

    // Another audience's endpoint refuses the token without using it up.
    assert_eq!(
        app.staff()
            .err(REFRESH, json!({ "t": first_refresh }))
            .await,
        "UNAUTHENTICATED"
    );
    let rotated = consumer.ok(REFRESH, json!({ "t": first_refresh })).await;
    let second_refresh = rotated["refreshSession"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let second_access = rotated["refreshSession"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(first_refresh, second_refresh);
    consumer
        .with_token(&second_access)
        .ok("{ me { id } }", json!({}))
        .await;

    // The old refresh token comes back: someone copied it. The whole family ends.
    assert_eq!(
        consumer.err(REFRESH, json!({ "t": first_refresh })).await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        consumer.err(REFRESH, json!({ "t": second_refresh })).await,
        "UNAUTHENTICATED"
    );
    for token in [&first_access, &second_access] {
        assert_eq!(
            consumer
                .with_token(token)
                .err("{ me { id } }", json!({}))
                .await,
            "UNAUTHENTICATED"
        );
    }
    assert_eq!(
        consumer.err(REFRESH, json!({ "t": "garbage" })).await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        consumer.err(REFRESH, json!({ "t": "abc.def" })).await,
        "UNAUTHENTICATED"
    );
}

async fn logout_takes_effect_at_once(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (me, _) = app.login_member("erin").await;
    me.ok("{ me { id } }", json!({})).await;
    assert_eq!(
        me.ok("mutation { logout }", json!({})).await["logout"],
        true
    );
    assert_eq!(me.err("{ me { id } }", json!({})).await, "UNAUTHENTICATED");

    let ba = app.login_staff("ba-demo").await;
    ba.ok("{ me { username role } }", json!({})).await;
    ba.ok("mutation { logout }", json!({})).await;
    assert_eq!(
        ba.err("{ me { username } }", json!({})).await,
        "UNAUTHENTICATED"
    );
}

async fn tokens_expire_and_stay_in_their_audience(backend: Backend) {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let (me, _) = app.login_member("fay").await;
    let token = me_token(&app).await;
    // A consumer token is refused by the other two endpoints.
    assert_eq!(
        app.staff()
            .with_token(&token)
            .err("{ me { id } }", json!({}))
            .await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        app.distributor()
            .with_token(&token)
            .err("{ me { account { id } } }", json!({}))
            .await,
        "UNAUTHENTICATED"
    );
    let staff_token = staff_token(&app).await;
    assert_eq!(
        app.consumer()
            .with_token(&staff_token)
            .err("{ me { id } }", json!({}))
            .await,
        "UNAUTHENTICATED"
    );

    // Access tokens live 15 minutes.
    me.ok("{ me { id } }", json!({})).await;
    clock.advance(chrono::Duration::minutes(16));
    assert_eq!(me.err("{ me { id } }", json!({})).await, "UNAUTHENTICATED");
}

async fn me_token(app: &TestApp) -> String {
    let data = app.consumer().ok(LOGIN, json!({ "c": "test:gil:1" })).await;
    data["login"]["accessToken"].as_str().unwrap().to_owned()
}

async fn staff_token(app: &TestApp) -> String {
    let data = app
        .staff()
        .ok(
            "mutation { login(username: \"ba-demo\", password: \"demo-password\") { accessToken } }",
            json!({}),
        )
        .await;
    data["login"]["accessToken"].as_str().unwrap().to_owned()
}

async fn forged_tokens_are_refused(backend: Backend) {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let app = TestApp::start(backend).await;
    let token = me_token(&app).await;
    let parts: Vec<&str> = token.split('.').collect();
    let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let forged_sig = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        URL_SAFE_NO_PAD.encode(b"0000")
    );
    for bad in [
        format!("{none}.{}.", parts[1]),
        forged_sig,
        "not-a-jwt".to_owned(),
        String::new(),
    ] {
        assert_eq!(
            app.consumer()
                .with_token(&bad)
                .err("{ me { id } }", json!({}))
                .await,
            "UNAUTHENTICATED",
            "{bad}"
        );
    }
}

async fn repeated_failed_logins_are_throttled(backend: Backend) {
    let app = TestApp::start(backend).await;
    let staff = app.staff();
    let login =
        "mutation($p: String!) { login(username: \"manager-demo\", password: $p) { accessToken } }";
    for _ in 0..5 {
        assert_eq!(
            staff.err(login, json!({ "p": "wrong" })).await,
            "UNAUTHENTICATED"
        );
    }
    // Even the right password waits now.
    assert_eq!(
        staff.err(login, json!({ "p": "demo-password" })).await,
        "RATE_LIMITED"
    );
    // Other accounts are not affected.
    app.login_staff("ba-demo").await;
    assert_eq!(
        staff
            .err(
                "mutation { login(username: \"nobody\", password: \"x\") { accessToken } }",
                json!({})
            )
            .await,
        "UNAUTHENTICATED"
    );
}

const STAFF_LOGIN: &str =
    "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }";

/// One staff login over HTTP, optionally with an X-Forwarded-For header; the error code or "OK".
async fn staff_login_code(app: &TestApp, user: &str, password: &str, xff: Option<&str>) -> String {
    let mut req = app
        .http
        .post(app.staff().url())
        .json(&json!({ "query": STAFF_LOGIN, "variables": { "u": user, "p": password } }));
    if let Some(xff) = xff {
        req = req.header("x-forwarded-for", xff);
    }
    let body: serde_json::Value = req.send().await.unwrap().json().await.unwrap();
    rouge_tests::graphql::code_of(&body).unwrap_or_else(|| "OK".to_owned())
}

fn tally(codes: &[String]) -> std::collections::BTreeMap<&str, usize> {
    let mut tally = std::collections::BTreeMap::new();
    for code in codes {
        *tally.entry(code.as_str()).or_default() += 1;
    }
    tally
}

fn auth_limits(per_account: u32, per_address: u32) -> domain::login::AuthSettings {
    domain::login::AuthSettings {
        login_failures_per_account: per_account,
        login_failures_per_address: per_address,
        ..Default::default()
    }
}

/// Parallel wrong passwords for one account: exactly the configured number get checked.
async fn parallel_failed_logins_stop_at_the_account_limit(backend: Backend) {
    let app = TestApp::builder(backend)
        .auth_settings(auth_limits(5, 1_000))
        .start()
        .await;
    let attempts = (0..50).map(|i| {
        let app = &app;
        async move { staff_login_code(app, "manager-demo", &format!("wrong-{i}"), None).await }
    });
    let codes = futures::future::join_all(attempts).await;
    assert_eq!(
        tally(&codes),
        [("RATE_LIMITED", 45), ("UNAUTHENTICATED", 5)].into(),
        "{codes:?}"
    );
    assert_eq!(
        staff_login_code(&app, "manager-demo", "demo-password", None).await,
        "RATE_LIMITED"
    );
    // Each checked wrong password is in the audit log against the account, with the address;
    // the refused flood is one entry, not 45.
    use entities::audit_log::{Action, Column, Entity};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let manager = rouge_tests::fixtures::staff_principal(&app, "manager-demo").await;
    let failed = Entity::find()
        .filter(Column::Action.eq(Action::LoginFailed))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(failed.len(), 5);
    for row in &failed {
        assert_eq!(row.subject_id, Some(manager.staff_id));
        assert_eq!(row.client_addr.as_deref(), Some("127.0.0.1"));
        assert!(
            !serde_json::to_string(&row.detail.0)
                .unwrap()
                .contains("wrong-")
        );
    }
    let throttled = Entity::find()
        .filter(Column::Action.eq(Action::LoginThrottled))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(throttled.len(), 1);
}

/// A correct password gives its attempt back; a wrong one keeps it.
async fn successful_logins_do_not_use_the_budget(backend: Backend) {
    let app = TestApp::builder(backend)
        .auth_settings(auth_limits(3, 1_000))
        .start()
        .await;
    let pw = domain::seed::DEMO_PASSWORD;
    for expected in ["UNAUTHENTICATED", "UNAUTHENTICATED", "OK", "OK", "OK"] {
        let password = if expected == "OK" { pw } else { "wrong" };
        assert_eq!(
            staff_login_code(&app, "ba-demo", password, None).await,
            expected
        );
    }
    assert_eq!(
        staff_login_code(&app, "ba-demo", "wrong", None).await,
        "UNAUTHENTICATED"
    );
    assert_eq!(
        staff_login_code(&app, "ba-demo", pw, None).await,
        "RATE_LIMITED"
    );
}

/// Parallel wrong passwords for many accounts from one address: exactly the address's limit get
/// checked. X-Forwarded-For names the address only when trusted, and only its last entry.
async fn parallel_failed_logins_stop_at_the_address_limit(backend: Backend) {
    async fn burst(app: &TestApp, prefix: &str, xff: Option<&str>) -> Vec<String> {
        let attempts = (0..50).map(|i| async move {
            staff_login_code(app, &format!("{prefix}-{i}"), "wrong", xff).await
        });
        futures::future::join_all(attempts).await
    }
    let limited = [("RATE_LIMITED", 40), ("UNAUTHENTICATED", 10)].into();

    // Not trusted: the header is ignored, every request is the test's loopback address.
    let app = TestApp::builder(backend)
        .auth_settings(auth_limits(5, 10))
        .start()
        .await;
    let codes = burst(&app, "direct", Some("198.51.100.1")).await;
    assert_eq!(tally(&codes), limited, "{codes:?}");
    assert_eq!(
        staff_login_code(&app, "fresh", "wrong", Some("198.51.100.2")).await,
        "RATE_LIMITED"
    );

    // Trusted: the address the proxy appended counts, whatever the client put before it.
    let app = TestApp::builder(backend)
        .auth_settings(auth_limits(5, 10))
        .http_options(api::HttpOptions {
            trust_forwarded_for: true,
            ..Default::default()
        })
        .start()
        .await;
    let codes = burst(&app, "proxied", Some("198.51.100.1")).await;
    assert_eq!(tally(&codes), limited, "{codes:?}");
    assert_eq!(
        staff_login_code(&app, "fresh", "wrong", Some("203.0.113.5, 198.51.100.1")).await,
        "RATE_LIMITED"
    );
    assert_eq!(
        staff_login_code(&app, "fresh", "wrong", Some("198.51.100.2")).await,
        "UNAUTHENTICATED"
    );
}

async fn reused_wechat_codes_are_refused(backend: Backend) {
    let app = TestApp::start(backend).await;
    let consumer = app.consumer();
    consumer.ok(LOGIN, json!({ "c": "test:hana:once" })).await;
    assert_eq!(
        consumer.err(LOGIN, json!({ "c": "test:hana:once" })).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        consumer.err(LOGIN, json!({ "c": "made-up" })).await,
        "BAD_USER_INPUT"
    );
    let members = {
        use sea_orm::{EntityTrait, PaginatorTrait};
        entities::member::Entity::find()
            .count(app.db())
            .await
            .unwrap()
    };
    assert_eq!(members, 3 + 1, "the demo members and hana, nobody else");
}

on_both_backends!(
    refresh_rotates_and_reuse_ends_the_session,
    logout_takes_effect_at_once,
    tokens_expire_and_stay_in_their_audience,
    forged_tokens_are_refused,
    repeated_failed_logins_are_throttled,
    parallel_failed_logins_stop_at_the_account_limit,
    successful_logins_do_not_use_the_budget,
    parallel_failed_logins_stop_at_the_address_limit,
    reused_wechat_codes_are_refused
);

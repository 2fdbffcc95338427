//! Sessions: refresh rotation, reuse detection, logout, expiry, forged and foreign tokens.

use std::sync::Arc;

use domain::clock::ManualClock;
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
    reused_wechat_codes_are_refused
);

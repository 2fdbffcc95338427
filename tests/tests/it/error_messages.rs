//! Error messages a front end can show: a stable `extensions.code` and `extensions.reason`, and a
//! message in Chinese on the consumer endpoint unless `Accept-Language` prefers English, in
//! English on the staff endpoint unless it prefers Chinese. These tests post with their own
//! client (the harness's asks for English).

use rouge_tests::{Backend, Gql, TestApp, on_both_backends};
use serde_json::{Value, json};

const CREATE: &str =
    "mutation($i: CouponTemplateInput!) { createCouponTemplate(input: $i) { id } }";
const CLAIM: &str =
    "mutation($t: ID!, $k: String!) { claimCoupon(templateId: $t, idempotencyKey: $k) { id } }";
const MINE: &str = "{ myCoupons { nodes { id } } }";
const REPORT: &str = "query($t: ID!) { couponReport(templateId: $t) { issued } }";

fn key() -> String {
    format!("key-{}", uuid::Uuid::new_v4().simple())
}

/// Posts an operation to `url` with the token and `Accept-Language` given (none when `None`),
/// from a client that sends no header of its own; the status and the body.
async fn post(
    url: &str,
    token: Option<&str>,
    accept_language: Option<&str>,
    query: &str,
    variables: Value,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(url)
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(language) = accept_language {
        req = req.header("accept-language", language);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("JSON body"))
}

/// The first error's code, reason and message.
fn error_of(body: &Value) -> (String, String, String) {
    let error = &body["errors"][0];
    let text = |v: &Value| v.as_str().unwrap_or_else(|| panic!("{body}")).to_owned();
    (
        text(&error["extensions"]["code"]),
        text(&error["extensions"]["reason"]),
        text(&error["message"]),
    )
}

fn owned(code: &str, reason: &str, message: &str) -> (String, String, String) {
    (code.to_owned(), reason.to_owned(), message.to_owned())
}

async fn sold_out_template(app: &TestApp) -> String {
    let hq = app.login_staff("hq-demo").await;
    let input = json!({ "name": "一张", "kind": "CASH", "amountFen": 500, "totalQuantity": 1,
                        "perMemberLimit": 1, "validDays": 7 });
    let template = hq.ok(CREATE, json!({ "i": input })).await["createCouponTemplate"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (alice, _) = app.login_member("errors-alice").await;
    alice.ok(CLAIM, json!({ "t": template, "k": key() })).await;
    template
}

async fn consumer_errors_are_in_chinese_unless_english_is_preferred(backend: Backend) {
    let app = TestApp::start(backend).await;
    let template = sold_out_template(&app).await;
    let (bob, _) = app.login_member("errors-bob").await;
    let token = bob.token().unwrap();
    let url = bob.url();
    let claim = || json!({ "t": template, "k": key() });

    // A domain error: no header is Chinese, the reason and code the same in every language.
    let sold_out_zh = owned("SOLD_OUT", "COUPON_SOLD_OUT", "该优惠券已被领完");
    let (_, body) = post(url, Some(token), None, CLAIM, claim()).await;
    assert_eq!(error_of(&body), sold_out_zh, "{body}");
    let (_, body) = post(
        url,
        Some(token),
        Some("zh-CN,zh;q=0.9,en;q=0.8"),
        CLAIM,
        claim(),
    )
    .await;
    assert_eq!(error_of(&body), sold_out_zh, "{body}");
    // Another language than Chinese or English leaves the default.
    let (_, body) = post(url, Some(token), Some("fr-FR"), CLAIM, claim()).await;
    assert_eq!(error_of(&body), sold_out_zh, "{body}");
    let sold_out_en = owned(
        "SOLD_OUT",
        "COUPON_SOLD_OUT",
        "all coupons of this kind have been given out",
    );
    let (_, body) = post(url, Some(token), Some("en-US,en;q=0.9"), CLAIM, claim()).await;
    assert_eq!(error_of(&body), sold_out_en, "{body}");
    let (_, body) = post(url, Some(token), Some("zh;q=0.5,en;q=0.8"), CLAIM, claim()).await;
    assert_eq!(error_of(&body), sold_out_en, "{body}");
    // None of the refused claims gave Bob a coupon.
    assert_eq!(
        bob.ok(MINE, json!({})).await["myCoupons"]["nodes"],
        json!([])
    );

    // A resolver's refusal: not signed in.
    let (_, body) = post(url, None, None, MINE, json!({})).await;
    assert_eq!(
        error_of(&body),
        owned("UNAUTHENTICATED", "SIGN_IN_REQUIRED", "请先登录"),
        "{body}"
    );
    let (_, body) = post(url, None, Some("en"), MINE, json!({})).await;
    assert_eq!(error_of(&body).2, "sign-in required", "{body}");

    // Request-level errors: syntax, validation, a token that does not verify.
    let (_, body) = post(url, None, None, "{ myCoupons { id }", json!({})).await;
    let (code, reason, message) = error_of(&body);
    assert_eq!(
        (code.as_str(), reason.as_str()),
        ("BAD_USER_INPUT", "GRAPHQL_PARSE_FAILED")
    );
    assert!(
        message.starts_with("请求的 GraphQL 语法有误：syntax error"),
        "{message}"
    );
    let (_, body) = post(url, Some(token), None, "{ noSuchField }", json!({})).await;
    let (code, reason, message) = error_of(&body);
    assert_eq!(
        (code.as_str(), reason.as_str()),
        ("BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED")
    );
    assert!(message.starts_with("请求不符合接口定义："), "{message}");
    assert!(message.contains("noSuchField"), "{message}");
    let (status, body) = post(url, Some("not-a-token"), None, MINE, json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(
        error_of(&body),
        owned(
            "UNAUTHENTICATED",
            "TOKEN_INVALID",
            "登录凭证对该接口无效，请重新登录"
        ),
        "{body}"
    );
    let (status, body) = post(url, Some("not-a-token"), Some("en"), MINE, json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(
        error_of(&body).2,
        "the token is not valid for this endpoint; sign in again"
    );
    app.stop().await;
}

async fn staff_errors_are_in_english_unless_chinese_is_preferred(backend: Backend) {
    let app = TestApp::start(backend).await;
    let hq: Gql = app.login_staff("hq-demo").await;
    let token = hq.token().unwrap();
    let url = hq.url();
    let missing = json!({ "t": "999999" });

    let not_found_en = owned("NOT_FOUND", "NOT_FOUND", "coupon template not found");
    let (_, body) = post(url, Some(token), None, REPORT, missing.clone()).await;
    assert_eq!(error_of(&body), not_found_en, "{body}");
    let (_, body) = post(
        url,
        Some(token),
        Some("en-US,zh;q=0.5"),
        REPORT,
        missing.clone(),
    )
    .await;
    assert_eq!(error_of(&body), not_found_en, "{body}");
    let (_, body) = post(url, Some(token), Some("zh-CN"), REPORT, missing.clone()).await;
    assert_eq!(
        error_of(&body),
        owned("NOT_FOUND", "NOT_FOUND", "找不到优惠券模板"),
        "{body}"
    );

    // Bad input: the English sentence, and in Chinese a Chinese lead before it; nothing made.
    let templates = || async {
        let data = hq
            .ok(
                "{ couponTemplates(first: 100) { nodes { id } } }",
                json!({}),
            )
            .await;
        data["couponTemplates"]["nodes"].as_array().unwrap().len()
    };
    let before = templates().await;
    let input = json!({ "name": "坏", "kind": "PERCENT_DISCOUNT", "percentOff": 150,
                        "totalQuantity": 1, "perMemberLimit": 1, "validDays": 7 });
    let (_, body) = post(url, Some(token), None, CREATE, json!({ "i": input })).await;
    assert_eq!(
        error_of(&body),
        owned(
            "BAD_USER_INPUT",
            "INVALID_INPUT",
            "percentOff must be between 1 and 99"
        ),
        "{body}"
    );
    let (_, body) = post(url, Some(token), Some("zh"), CREATE, json!({ "i": input })).await;
    assert_eq!(
        error_of(&body),
        owned(
            "BAD_USER_INPUT",
            "INVALID_INPUT",
            "请求内容有误：percentOff must be between 1 and 99"
        ),
        "{body}"
    );
    assert_eq!(templates().await, before);

    // A token that does not verify, in Chinese when asked.
    let (status, body) = post(url, Some("not-a-token"), Some("zh-CN"), REPORT, missing).await;
    assert_eq!(status, 401);
    assert_eq!(error_of(&body).1, "TOKEN_INVALID", "{body}");
    assert_eq!(error_of(&body).2, "登录凭证对该接口无效，请重新登录");
    app.stop().await;
}

on_both_backends!(
    consumer_errors_are_in_chinese_unless_english_is_preferred,
    staff_errors_are_in_english_unless_chinese_is_preferred,
);

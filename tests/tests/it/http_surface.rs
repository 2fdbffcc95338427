//! The HTTP surface: probes, metrics, request ids, and the refusal of bad requests.

use std::time::Duration;

use domain::platform::kv::{RedisStore, RedisStoreOptions};
use rouge_tests::graphql::code_of;
use rouge_tests::{Backend, PrivateRedis, TestApp};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn probes_metrics_and_request_ids() {
    let app = TestApp::start(Backend::Embedded).await;
    let health = app
        .http
        .get(format!("{}/healthz", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = app
        .http
        .get(format!("{}/readyz", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({ "database": "ok", "kv": "ok" })
    );

    let resp = app
        .http
        .post(format!("{}/graphql/consumer", app.base_url))
        .header("x-request-id", "trace-me-123")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "trace-me-123");
    let generated = app
        .http
        .get(format!("{}/healthz", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        generated.headers()["x-request-id"].len(),
        36,
        "a uuid when none was sent"
    );

    let metrics = app
        .http
        .get(format!("{}/metrics", app.base_url))
        .send()
        .await
        .unwrap();
    let text = metrics.text().await.unwrap();
    assert!(text.contains("http_requests_total"), "{text}");
    assert!(text.contains("route=\"graphql_consumer\""), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readiness_follows_redis() {
    let mut redis = PrivateRedis::start().await;
    let kv = RedisStore::connect(&RedisStoreOptions::new(redis.url(), "ready:")).unwrap();
    let app = TestApp::builder(Backend::Production)
        .kv(std::sync::Arc::new(kv))
        .start()
        .await;
    let ready = || async {
        app.http
            .get(format!("{}/readyz", app.base_url))
            .send()
            .await
            .unwrap()
    };
    assert_eq!(ready().await.status(), 200);
    redis.kill().await;
    let resp = ready().await;
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.json::<Value>().await.unwrap()["kv"], "unavailable");
    // A request that needs the store says UNAVAILABLE, not a stack trace.
    let data = app
        .consumer()
        .raw(
            "mutation { login(code: \"test:zoe:1\") { accessToken } }",
            json!({}),
        )
        .await;
    assert_eq!(code_of(&data).as_deref(), Some("UNAVAILABLE"), "{data}");
    redis.restart().await;
    let mut ok = false;
    for _ in 0..100 {
        if ready().await.status() == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok, "ready again once Redis is back");
}

async fn post_raw(app: &TestApp, body: Vec<u8>) -> (u16, Value) {
    let resp = app
        .http
        .post(format!("{}/graphql/consumer", app.base_url))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_requests_get_clear_codes() {
    let app = TestApp::start(Backend::Embedded).await;
    let (status, body) = post_raw(&app, b"{not json".to_vec()).await;
    assert_eq!(
        (status, code_of(&body).as_deref()),
        (400, Some("BAD_USER_INPUT"))
    );

    let huge = json!({ "query": format!("{{ __typename }} #{}", "x".repeat(400 * 1024)) });
    let (status, body) = post_raw(&app, serde_json::to_vec(&huge).unwrap()).await;
    assert_eq!(
        (status, code_of(&body).as_deref()),
        (413, Some("BAD_USER_INPUT"))
    );

    let batch: Vec<Value> = (0..11)
        .map(|_| json!({ "query": "{ __typename }" }))
        .collect();
    let (status, body) = post_raw(&app, serde_json::to_vec(&batch).unwrap()).await;
    assert_eq!(
        (status, code_of(&body).as_deref()),
        (400, Some("BAD_USER_INPUT"))
    );
    let batch: Vec<Value> = (0..3)
        .map(|_| json!({ "query": "{ __typename }" }))
        .collect();
    let (status, body) = post_raw(&app, serde_json::to_vec(&batch).unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().unwrap().len(), 3);

    let gql = app.consumer();
    assert_eq!(
        code_of(&gql.raw("{ me { id ", json!({})).await).as_deref(),
        Some("BAD_USER_INPUT"),
        "syntax"
    );
    assert_eq!(
        code_of(&gql.raw("{ nope }", json!({})).await).as_deref(),
        Some("BAD_USER_INPUT"),
        "unknown field"
    );
    let body = gql.raw("{ mee { id } }", json!({})).await;
    assert!(
        !body.to_string().contains("Did you mean"),
        "no field suggestions: {body}"
    );

    // Depth: nested introspection goes deeper than 10, and next to data it counts as data
    // (graphql_edge.rs has introspection's own limit).
    let deep = "{ categories { id } __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } }";
    assert_eq!(
        code_of(&gql.raw(deep, json!({})).await).as_deref(),
        Some("BAD_USER_INPUT"),
        "depth"
    );
    // Complexity: aliases count, each aliased field is resolved again.
    let aliased: String = (0..300)
        .map(|i| format!("a{i}: categories {{ id }} "))
        .collect();
    let body = gql.raw(&format!("{{ {aliased} }}"), json!({})).await;
    assert_eq!(
        code_of(&body).as_deref(),
        Some("BAD_USER_INPUT"),
        "complexity: {body}"
    );

    // GraphiQL in development.
    let page = app
        .http
        .get(format!("{}/graphql/staff", app.base_url))
        .send()
        .await
        .unwrap();
    assert!(page.text().await.unwrap().contains("graphiql"));
}

/// The `src`/`href` values of an HTML page.
fn page_references(page: &str) -> Vec<String> {
    ["src=\"", "href=\""]
        .iter()
        .flat_map(|attribute| {
            page.split(attribute)
                .skip(1)
                .map(|rest| rest.split('"').next().unwrap_or_default().to_owned())
        })
        .collect()
}

/// GraphiQL works where public CDNs do not: a browser opening an endpoint gets Rouge's page,
/// which loads its scripts and styles from this server only, with the header editor preset.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn graphiql_is_served_from_the_binary() {
    let app = TestApp::start(Backend::Embedded).await;
    let browser = |url: String| {
        app.http
            .get(url)
            .header(
                "accept",
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            )
            .header(
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
            )
            .send()
    };
    let mut assets = Vec::new();
    for endpoint in [
        "/graphql/consumer",
        "/graphql/staff",
        "/graphql/distributor",
    ] {
        let response = browser(format!("{}{endpoint}", app.base_url))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{endpoint}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{endpoint}"
        );
        let page = response.text().await.unwrap();
        assert!(page.contains("graphiql"), "{endpoint}");
        // Same origin only: no absolute or protocol-relative URL anywhere in the page.
        for forbidden in ["http://", "https://", "\"//", "'//", "unpkg", "jsdelivr"] {
            assert!(!page.contains(forbidden), "{endpoint} mentions {forbidden}");
        }
        let references = page_references(&page);
        assert!(references.len() >= 4, "{endpoint}: {references:?}");
        for reference in &references {
            assert!(
                reference.starts_with("/graphiql/assets/") && !reference.contains(".."),
                "{endpoint} loads {reference}"
            );
        }
        // Queries go back to the endpoint the page is opened from; Authorization is preset.
        assert!(page.contains("window.location.pathname"), "{endpoint}");
        assert!(page.contains(r#""Authorization": "Bearer "#), "{endpoint}");
        assets.extend(references);
    }
    assets.sort();
    assets.dedup();
    for asset in &assets {
        let response = browser(format!("{}{asset}", app.base_url)).await.unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let expected = if asset.ends_with(".js") {
            "text/javascript"
        } else {
            "text/css"
        };
        assert!(
            content_type.starts_with(expected),
            "{asset}: {content_type}"
        );
        let cache = response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            cache.contains("max-age=31536000") && cache.contains("immutable"),
            "{asset}: {cache}"
        );
        assert!(response.bytes().await.unwrap().len() > 1000, "{asset}");
    }
    let missing = browser(format!("{}/graphiql/assets/nothing.js", app.base_url))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn production_options_hide_the_schema_and_bound_execution() {
    let options = api::HttpOptions {
        limits: graphql_schema::SchemaLimits {
            introspection: false,
            ..Default::default()
        },
        graphiql: false,
        execution_timeout: Duration::from_nanos(1),
        ..Default::default()
    };
    let app = TestApp::builder(Backend::Production)
        .http_options(options)
        .start()
        .await;
    let body = app
        .staff()
        .raw("{ __schema { types { name } } }", json!({}))
        .await;
    assert!(
        body["data"]["__schema"].is_null() || code_of(&body).is_some(),
        "introspection is off: {body}"
    );
    let page = app
        .http
        .get(format!("{}/graphql/staff", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 405);
    // Nor are GraphiQL's assets served.
    let asset = app
        .http
        .get(format!(
            "{}/graphiql/assets/graphiql-4.0.3.min.js",
            app.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(asset.status(), 404);
    // Logging in needs PostgreSQL and Redis round trips, which cannot finish in a nanosecond.
    let body = app
        .staff()
        .raw("mutation { login(username: \"ba-demo\", password: \"demo-password\") { accessToken } }", json!({}))
        .await;
    assert_eq!(code_of(&body).as_deref(), Some("UNAVAILABLE"), "{body}");
}

//! The GraphQL edge: what a request may cost before it runs (fragment bombs, depth, error
//! sizes), introspection for GraphiQL, and tokens checked before anything executes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use domain::platform::clock::ManualClock;
use rouge_tests::graphql::code_of;
use rouge_tests::{Backend, Gql, TestApp, on_both_backends};
use serde_json::{Value, json};

/// Fragments that each spread the next one twice: 2^levels selections from about 50 bytes a
/// level.
fn fragment_bomb(levels: usize) -> String {
    let mut query = String::from("{ ...G0 }\n");
    for i in 0..levels {
        query.push_str(&format!(
            "fragment G{i} on Query {{ a: __typename ...G{next} ...G{next} }}\n",
            next = i + 1
        ));
    }
    query.push_str(&format!("fragment G{levels} on Query {{ __typename }}\n"));
    query
}

/// Posts a query and returns the status, body and how long the answer took.
async fn timed_post(
    http: &reqwest::Client,
    url: &str,
    query: &str,
) -> Result<(u16, Value, Duration), reqwest::Error> {
    let started = Instant::now();
    let resp = http
        .post(url)
        .timeout(Duration::from_secs(5))
        .json(&json!({ "query": query }))
        .send()
        .await?;
    let status = resp.status().as_u16();
    let body = resp.json().await?;
    Ok((status, body, started.elapsed()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fragment_bombs_are_refused_before_validation() {
    let app = TestApp::start(Backend::Embedded).await;
    let url = app.consumer().url().to_owned();
    for levels in [23, 25, 40] {
        let query = fragment_bomb(levels);
        assert!(query.len() < 2_500, "a small body: {}", query.len());
        let (_, body, took) = timed_post(&app.http, &url, &query)
            .await
            .unwrap_or_else(|e| panic!("{levels} levels: no answer within 5 s: {e}"));
        assert_eq!(code_of(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("too large"), "{message}");
        assert!(
            took < Duration::from_secs(1),
            "{levels} levels answered in {took:?}"
        );
    }
    // A fragment that spreads itself is refused the same way, before validation.
    let cyclic = "{ ...A } fragment A on Query { __typename ...B } fragment B on Query { ...A }";
    let body = app.consumer().raw(cyclic, json!({})).await;
    assert_eq!(code_of(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");

    // Under the cap (1,506 nodes), the same shape still runs: the cap refuses size, not
    // fragments.
    let (_, body, _) = timed_post(&app.http, &url, &fragment_bomb(7))
        .await
        .unwrap();
    assert_eq!(body["data"]["a"], "Query", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn health_answers_while_fragment_bombs_are_in_flight() {
    let app = TestApp::start(Backend::Embedded).await;
    let url = app.consumer().url().to_owned();
    let health = format!("{}/healthz", app.base_url);
    // Warm the connection pool and the server before measuring.
    for _ in 0..3 {
        app.http.get(&health).send().await.unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    // Eight clients keep a bomb in flight each until the probes are done: 40 and 25 levels,
    // and 7 levels (1,506 nodes), which the cap lets through to validation.
    let queries = [40, 40, 40, 25, 25, 25, 7, 7].map(fragment_bomb);
    let senders: Vec<_> = queries
        .into_iter()
        .map(|query| {
            let (http, url, stop, answered) = (
                app.http.clone(),
                url.clone(),
                stop.clone(),
                answered.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let (status, body, _) = timed_post(&http, &url, &query)
                        .await
                        .expect("a bomb is answered within 5 s");
                    assert_eq!(status, 200, "{body}");
                    answered.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    // Probes start once every sender has had an answer, so all eight are busy.
    rouge_tests::eventually(20, "the bombs to be answered", || {
        let answered = answered.clone();
        async move { answered.load(Ordering::SeqCst) >= 8 }
    })
    .await;
    let mut probes = Vec::new();
    for _ in 0..40 {
        let started = Instant::now();
        let resp = app
            .http
            .get(&health)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        probes.push(started.elapsed());
    }
    let answered_during = answered.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    for sender in senders {
        sender.await.unwrap();
    }
    assert!(
        answered.load(Ordering::SeqCst) > answered_during.min(8),
        "the bombs kept coming while /healthz was probed"
    );
    probes.sort();
    let median = probes[probes.len() / 2];
    let worst = probes[probes.len() - 1];
    println!("/healthz with 8 bombs in flight: median {median:?}, worst {worst:?}");
    // Before the fix one probe took 6 to 31 s. The machine is shared, so the worst probe gets
    // room for the scheduler; the median must be quick.
    assert!(
        median < Duration::from_millis(50) && worst < Duration::from_millis(500),
        "/healthz median {median:?}, worst {worst:?} with 8 bombs in flight"
    );
}

/// graphql-js 16's `getIntrospectionQuery()`, which GraphiQL sends to load the schema.
const GRAPHIQL_INTROSPECTION: &str = r"
    query IntrospectionQuery {
      __schema {
        queryType { name }
        mutationType { name }
        subscriptionType { name }
        types {
          ...FullType
        }
        directives {
          name
          description
          locations
          args {
            ...InputValue
          }
        }
      }
    }

    fragment FullType on __Type {
      kind
      name
      description
      fields(includeDeprecated: true) {
        name
        description
        args {
          ...InputValue
        }
        type {
          ...TypeRef
        }
        isDeprecated
        deprecationReason
      }
      inputFields {
        ...InputValue
      }
      interfaces {
        ...TypeRef
      }
      enumValues(includeDeprecated: true) {
        name
        description
        isDeprecated
        deprecationReason
      }
      possibleTypes {
        ...TypeRef
      }
    }

    fragment InputValue on __InputValue {
      name
      description
      type { ...TypeRef }
      defaultValue
    }

    fragment TypeRef on __Type {
      kind
      name
      ofType {
        kind
        name
        ofType {
          kind
          name
          ofType {
            kind
            name
            ofType {
              kind
              name
              ofType {
                kind
                name
                ofType {
                  kind
                  name
                  ofType {
                    kind
                    name
                  }
                }
              }
            }
          }
        }
      }
    }
";

/// `levels` nested fields: `{ f1 { f2 { ... fN } } }` under the given root field.
fn nested(root: &str, levels: usize) -> String {
    let mut query = format!("{{ {root}");
    for i in 1..levels {
        query.push_str(&format!(" {{ f{i}"));
    }
    query.push_str(&" }".repeat(levels));
    query
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn graphiql_loads_the_schema_and_ordinary_queries_keep_depth_ten() {
    let app = TestApp::start(Backend::Embedded).await;
    for gql in [app.consumer(), app.staff(), app.distributor()] {
        let data = gql.ok(GRAPHIQL_INTROSPECTION, json!({})).await;
        assert!(
            data["__schema"]["types"]
                .as_array()
                .is_some_and(|t| t.len() > 10),
            "{} answers the introspection query",
            gql.url()
        );
    }

    let gql = app.consumer();
    let depth = |body: &Value| {
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("nested too deep")
    };
    // An ordinary query 11 deep is refused for its depth; at 10 it gets as far as validation
    // (whose answer is that the fields do not exist).
    let body = gql.raw(&nested("products", 11), json!({})).await;
    assert_eq!(code_of(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");
    assert!(depth(&body), "depth 11: {body}");
    let body = gql.raw(&nested("products", 10), json!({})).await;
    assert_eq!(code_of(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");
    assert!(!depth(&body), "depth 10 passes the depth limit: {body}");

    // Introspection next to data is held to 10 as well: only introspection-only operations
    // are counted separately.
    let deep_type = "__type(name: \"Product\") { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } }";
    let body = gql
        .raw(&format!("{{ categories {{ id }} {deep_type} }}"), json!({}))
        .await;
    assert!(depth(&body), "mixed: {body}");
    gql.ok(&format!("{{ {deep_type} }}"), json!({})).await;
    // And introspection has its own limit (20).
    let body = gql.raw(&nested("__schema", 21), json!({})).await;
    assert!(depth(&body), "introspection 21 deep: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn introspection_stays_off_in_production() {
    let options = api::HttpOptions {
        limits: graphql_schema::SchemaLimits {
            introspection: false,
            ..Default::default()
        },
        graphiql: false,
        ..Default::default()
    };
    let app = TestApp::builder(Backend::Production)
        .http_options(options)
        .start()
        .await;
    let body = app.staff().raw(GRAPHIQL_INTROSPECTION, json!({})).await;
    assert_eq!(code_of(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");
    assert!(body["data"]["__schema"].is_null(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn error_messages_are_capped_and_never_echo_the_query() {
    let app = TestApp::start(Backend::Embedded).await;
    let gql = app.consumer();
    let braces = format!("{}{}", "{".repeat(5_000), "}".repeat(5_000));
    let long_name = "x".repeat(10_000);
    for query in [
        braces,
        format!("{{ {long_name} }}"),
        format!("{{ __typename }} fragment {long_name} on Query {{ __typename }}"),
        format!("{{ categories {{ id }} {long_name}"),
    ] {
        let body = gql.raw(&query, json!({})).await;
        assert_eq!(code_of(&body).as_deref(), Some("BAD_USER_INPUT"), "{body}");
        let text = body.to_string();
        assert!(text.len() < 2_000, "a {} byte answer", text.len());
        for error in body["errors"].as_array().unwrap() {
            let message = error["message"].as_str().unwrap();
            assert!(
                message.chars().count() <= 301,
                "{} chars",
                message.chars().count()
            );
        }
        assert!(!text.contains("{{{{"), "{text}");
        assert!(!text.contains(&"x".repeat(400)), "{text}");
    }
    // A syntax error still says where and what.
    let body = gql.raw("{ categories { id ", json!({})).await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("syntax error"), "{body}");
    assert!(
        body["errors"][0]["locations"][0]["line"].is_number(),
        "{body}"
    );
}

/// Tokens: the endpoint's own audience is the only one accepted, on every field.
async fn foreign_and_bad_tokens_are_refused_before_execution(backend: Backend) {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let (member, _) = app.login_member("tess").await;
    let staff = app.login_staff("ba-demo").await;
    let distributor = app.login_distributor("dist-demo").await;
    let tokens = [
        ("consumer", token_of(&member)),
        ("staff", token_of(&staff)),
        ("distributor", token_of(&distributor)),
    ];
    let endpoints = [
        ("consumer", app.consumer()),
        ("staff", app.staff()),
        ("distributor", app.distributor()),
    ];
    // Public fields answer without a token and with the endpoint's own token.
    for (name, endpoint) in &endpoints {
        endpoint.ok("{ __typename }", json!({})).await;
        let own = &tokens.iter().find(|(n, _)| n == name).unwrap().1;
        endpoint
            .with_token(own)
            .ok("{ __typename }", json!({}))
            .await;
    }
    let refused = |body: &Value, what: &str| {
        assert_eq!(
            code_of(body).as_deref(),
            Some("UNAUTHENTICATED"),
            "{what}: {body}"
        );
        assert!(body["data"].is_null(), "nothing ran for {what}: {body}");
    };
    let bad = [
        ("garbage", "garbage"),
        ("a JWT-looking string", "abc.def.ghi"),
    ];
    for (name, endpoint) in &endpoints {
        for (audience, token) in &tokens {
            if audience != name {
                let body = endpoint
                    .with_token(token)
                    .raw("{ __typename }", json!({}))
                    .await;
                refused(&body, &format!("a {audience} token on {name}"));
            }
        }
        for (what, token) in &bad {
            let body = endpoint
                .with_token(token)
                .raw("{ __typename }", json!({}))
                .await;
            refused(&body, &format!("{what} on {name}"));
        }
        // A header that is not a bearer token at all, and the refusal's HTTP shape.
        let resp = app
            .http
            .post(endpoint.url())
            .header("authorization", "Basic dXNlcjpwYXNz")
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        assert!(resp.headers().contains_key("www-authenticate"));
        refused(&resp.json().await.unwrap(), "a Basic header");
        // A batch is refused as a whole.
        let resp = app
            .http
            .post(endpoint.url())
            .bearer_auth("garbage")
            .json(&json!([{ "query": "{ __typename }" }, { "query": "{ __typename }" }]))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
    // Revoked: a logged-out session's token.
    let (gone, _) = app.login_member("tessb").await;
    gone.ok("mutation { logout }", json!({})).await;
    refused(
        &gone.raw("{ __typename }", json!({})).await,
        "a revoked token",
    );
    // Expired: access tokens live 15 minutes.
    clock.advance(chrono::Duration::minutes(16));
    for ((name, endpoint), (_, token)) in endpoints.iter().zip(&tokens) {
        let body = endpoint
            .with_token(token)
            .raw("{ __typename }", json!({}))
            .await;
        refused(&body, &format!("an expired token on {name}"));
    }
}

fn token_of(gql: &Gql) -> String {
    gql.token().expect("a signed-in client").to_owned()
}

on_both_backends!(foreign_and_bad_tokens_are_refused_before_execution);

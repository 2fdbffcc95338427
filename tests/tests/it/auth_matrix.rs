//! Every staff and distributor operation is refused without a token, with a consumer token,
//! with the other audience's token and, where the role may not, with the wrong role; every role
//! the table allows gets past the check. The operations are read from the live schema and the
//! roles from the one table in code (`graphql_schema::access`), so a new operation must be
//! classified there to pass.

use std::collections::BTreeSet;

use domain::auth::StaffRole;
use graphql_schema::access::{self, Access};
use rouge_tests::graphql::code_of;
use rouge_tests::{Backend, Gql, TestApp};
use serde_json::{Value, json};

/// A service's refusal of a role (its own permission check) or of a scope (another store).
const SERVICE_REFUSAL: &str = "your role may not do this";

/// Operations the table allows a role but whose placeholder arguments name something outside
/// the caller's store, so the service refuses the scope (with the same words as a role).
/// (A booking service without a store is brand-wide: HQ's.)
/// Also the one operation whose service refuses a role the table allows: sales reports are open
/// to finance, counts of members are not (as MEMBERS in `salesReport`). In table order.
const SCOPE_REFUSED: &[(&str, StaffRole)] = &[
    ("rfmSegmentCounts", StaffRole::Finance),
    ("createBookingService", StaffRole::Manager),
    ("updateBookingService", StaffRole::Manager),
];

const DISTRIBUTOR_OPEN: &[&str] = &["login", "refreshSession"];
const CONSUMER_OPEN: &[&str] = &[
    "login",
    "refreshSession",
    "products",
    "product",
    "sku",
    "categories",
    "allergenOptions",
    "stores",
    "tiers",
    "privacyPolicy",
    "sensitiveDataPolicy",
    // shown before signing in, like the tiers: what a top-up gives and its terms
    "topUpPlans",
    "topUpTerms",
];

const INTROSPECT: &str = r"{ __schema {
  queryType { fields(includeDeprecated: true) { name args { name type { ...T } } type { ...T } } }
  mutationType { fields(includeDeprecated: true) { name args { name type { ...T } } type { ...T } } }
  types { name kind isOneOf enumValues { name } inputFields { name type { ...T } } }
} }
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }";

struct Operation {
    kind: &'static str,
    name: String,
    text: String,
    variables: Value,
}

fn named(ty: &Value) -> (&str, String) {
    let mut t = ty;
    while t["name"].is_null() {
        t = &t["ofType"];
    }
    (
        t["kind"].as_str().unwrap_or(""),
        t["name"].as_str().unwrap_or("").to_owned(),
    )
}

fn type_ref(ty: &Value) -> String {
    match ty["kind"].as_str() {
        Some("NON_NULL") => format!("{}!", type_ref(&ty["ofType"])),
        Some("LIST") => format!("[{}]", type_ref(&ty["ofType"])),
        _ => ty["name"].as_str().unwrap_or("").to_owned(),
    }
}

/// A value of the right shape for a type (required input fields filled in, recursively).
fn placeholder(ty: &Value, types: &[Value]) -> Value {
    match ty["kind"].as_str() {
        Some("NON_NULL") => placeholder(&ty["ofType"], types),
        Some("LIST") => json!([placeholder(&ty["ofType"], types)]),
        _ => {
            let name = ty["name"].as_str().unwrap_or("");
            let def = types
                .iter()
                .find(|t| t["name"] == name)
                .cloned()
                .unwrap_or(Value::Null);
            match (def["kind"].as_str(), name) {
                (Some("ENUM"), _) => def["enumValues"][0]["name"].clone(),
                // A oneof input: one field, the first whose type is a scalar or an enum.
                (Some("INPUT_OBJECT"), _) if def["isOneOf"] == true => {
                    let mut obj = serde_json::Map::new();
                    if let Some(f) = def["inputFields"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|f| {
                            matches!(named(&f["type"]).0, "SCALAR" | "ENUM")
                                && f["type"]["kind"] != "LIST"
                        })
                    {
                        obj.insert(
                            f["name"].as_str().unwrap().to_owned(),
                            placeholder(&f["type"], types),
                        );
                    }
                    Value::Object(obj)
                }
                (Some("INPUT_OBJECT"), _) => {
                    let mut obj = serde_json::Map::new();
                    for f in def["inputFields"].as_array().into_iter().flatten() {
                        if f["type"]["kind"] == "NON_NULL" {
                            obj.insert(
                                f["name"].as_str().unwrap().to_owned(),
                                placeholder(&f["type"], types),
                            );
                        }
                    }
                    Value::Object(obj)
                }
                (_, "Int") => json!(1),
                (_, "Fen") => json!("1"),
                (_, "Float") => json!(1.0),
                (_, "Boolean") => json!(true),
                (_, "ID") => json!("1"),
                (_, "Date") => json!("2000-01-01"),
                (_, "DateTime") => json!("2000-01-01T00:00:00Z"),
                (_, "JSON") => json!({}),
                _ => json!("x"),
            }
        }
    }
}

async fn operations(gql: &Gql) -> Vec<Operation> {
    let schema = gql.ok(INTROSPECT, json!({})).await["__schema"].clone();
    let types = schema["types"].as_array().unwrap().clone();
    let mut ops = Vec::new();
    for (kind, root) in [
        ("query", &schema["queryType"]),
        ("mutation", &schema["mutationType"]),
    ] {
        for field in root["fields"].as_array().into_iter().flatten() {
            let name = field["name"].as_str().unwrap().to_owned();
            let mut decls = Vec::new();
            let mut args = Vec::new();
            let mut variables = serde_json::Map::new();
            for arg in field["args"].as_array().into_iter().flatten() {
                let arg_name = arg["name"].as_str().unwrap();
                decls.push(format!("${arg_name}: {}", type_ref(&arg["type"])));
                args.push(format!("{arg_name}: ${arg_name}"));
                variables.insert(arg_name.to_owned(), placeholder(&arg["type"], &types));
            }
            let selection = match named(&field["type"]).0 {
                "OBJECT" | "INTERFACE" | "UNION" => " { __typename }",
                _ => "",
            };
            let decls = if decls.is_empty() {
                String::new()
            } else {
                format!("({})", decls.join(", "))
            };
            let args = if args.is_empty() {
                String::new()
            } else {
                format!("({})", args.join(", "))
            };
            ops.push(Operation {
                kind,
                text: format!("{kind}{decls} {{ {name}{args}{selection} }}"),
                name,
                variables: Value::Object(variables),
            });
        }
    }
    ops
}

async fn code(gql: &Gql, op: &Operation) -> Option<String> {
    code_of(&gql.raw(&op.text, op.variables.clone()).await)
}

/// The code and message of the first error, if any.
async fn outcome(gql: &Gql, op: &Operation) -> (Option<String>, String) {
    let body = gql.raw(&op.text, op.variables.clone()).await;
    (
        code_of(&body),
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_operation_refuses_the_wrong_caller() {
    let app = TestApp::start(Backend::Embedded).await;
    app.login_member("matrix").await;
    let consumer_token = consumer_token(&app).await;
    let roles = [
        (StaffRole::Hq, app.login_staff("hq-demo").await),
        (StaffRole::Finance, app.login_staff("finance-demo").await),
        (StaffRole::Manager, app.login_staff("manager-demo").await),
        (StaffRole::Ba, app.login_staff("ba-demo").await),
    ];
    let staff_token = token_of(&app.staff(), "ba-demo").await;

    // Staff endpoint: the schema and the table list the same operations.
    let staff_ops = operations(&app.staff()).await;
    let classified: BTreeSet<&str> = access::STAFF.iter().map(|(name, _)| *name).collect();
    let in_schema: BTreeSet<&str> = staff_ops.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        in_schema, classified,
        "classify every staff operation in graphql-schema/src/access.rs"
    );
    let dist_token_on_staff = app.staff().with_token(&dist_token(&app).await);
    let mut service_refusals = Vec::new();
    for op in &staff_ops {
        let rule = access::access(domain::auth::Audience::Staff, &op.name).unwrap();
        if rule == Access::Public {
            continue;
        }
        for (who, gql) in [
            ("no token", app.staff()),
            ("consumer token", app.staff().with_token(&consumer_token)),
            ("distributor token", dist_token_on_staff.clone()),
        ] {
            assert_eq!(
                code(&gql, op).await.as_deref(),
                Some("UNAUTHENTICATED"),
                "{} {} with {who}",
                op.kind,
                op.name
            );
        }
        // (logout would end the session the rest of the loop uses; its refusals are checked above)
        if op.name == "logout" {
            continue;
        }
        for (role, gql) in &roles {
            let (code, message) = outcome(gql, op).await;
            if rule.allows_staff(*role) {
                assert_ne!(
                    code.as_deref(),
                    Some("UNAUTHENTICATED"),
                    "{} as {role:?}",
                    op.name
                );
                assert_ne!(message, access::ROLE_REFUSAL, "{} as {role:?}", op.name);
                if code.as_deref() == Some("FORBIDDEN") && message == SERVICE_REFUSAL {
                    service_refusals.push((op.name.clone(), *role));
                }
            } else {
                assert_eq!(
                    (code.as_deref(), message.as_str()),
                    (Some("FORBIDDEN"), access::ROLE_REFUSAL),
                    "{} as {role:?}",
                    op.name
                );
            }
        }
    }

    // Where the table allows a role, the service agrees (but for known scope refusals).
    let expected: Vec<(String, StaffRole)> = SCOPE_REFUSED
        .iter()
        .map(|(op, role)| ((*op).to_owned(), *role))
        .collect();
    assert_eq!(
        service_refusals, expected,
        "a service refuses a role its table allows"
    );

    // Distributor endpoint: everything but login needs a distributor token. (A session opened
    // now: HQ's operations above reset and switched off account 1, dist-demo.)
    let dist = fresh_distributor(&app).await;
    let dist_ops = operations(&app.distributor()).await;
    let classified: BTreeSet<&str> = access::DISTRIBUTOR.iter().map(|(name, _)| *name).collect();
    let in_schema: BTreeSet<&str> = dist_ops.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        in_schema, classified,
        "classify every distributor operation in graphql-schema/src/access.rs"
    );
    for op in dist_ops
        .iter()
        .filter(|o| !DISTRIBUTOR_OPEN.contains(&o.name.as_str()))
    {
        for (who, gql) in [
            ("no token", app.distributor()),
            (
                "consumer token",
                app.distributor().with_token(&consumer_token),
            ),
            ("staff token", app.distributor().with_token(&staff_token)),
        ] {
            assert_eq!(
                code(&gql, op).await.as_deref(),
                Some("UNAUTHENTICATED"),
                "{} {} with {who}",
                op.kind,
                op.name
            );
        }
        if op.name != "logout" {
            assert_ne!(
                code(&dist, op).await.as_deref(),
                Some("UNAUTHENTICATED"),
                "{} as distributor",
                op.name
            );
        }
    }

    // Consumer endpoint: everything but login needs a member token.
    for op in operations(&app.consumer())
        .await
        .iter()
        .filter(|o| !CONSUMER_OPEN.contains(&o.name.as_str()))
    {
        for (who, gql) in [
            ("no token", app.consumer()),
            ("staff token", app.consumer().with_token(&staff_token)),
        ] {
            assert_eq!(
                code(&gql, op).await.as_deref(),
                Some("UNAUTHENTICATED"),
                "{} {} with {who}",
                op.kind,
                op.name
            );
        }
    }
}

async fn consumer_token(app: &TestApp) -> String {
    let data = app
        .consumer()
        .ok(
            "mutation { login(code: \"test:matrix2:1\") { accessToken } }",
            json!({}),
        )
        .await;
    data["login"]["accessToken"].as_str().unwrap().to_owned()
}

async fn token_of(gql: &Gql, username: &str) -> String {
    let data = gql
        .ok(
            "mutation($u: String!) { login(username: $u, password: \"demo-password\") { accessToken } }",
            json!({ "u": username }),
        )
        .await;
    data["login"]["accessToken"].as_str().unwrap().to_owned()
}

/// A new OWNER of dist-demo's organisation, signed in with her own password.
async fn fresh_distributor(app: &TestApp) -> Gql {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let hq = rouge_tests::fixtures::staff_principal(app, "hq-demo").await;
    let org = entities::distributor_account::Entity::find()
        .filter(entities::distributor_account::Column::Username.eq("dist-demo"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .distributor_id;
    let (_, one_time) = domain::accounts::create_distributor_account(
        &app.state,
        &domain::RequestMeta::default(),
        &hq,
        (org, "matrix-owner", "矩阵"),
        domain::auth::DistributorRole::Owner,
    )
    .await
    .unwrap();
    let data = app
        .distributor()
        .ok(
            "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }",
            json!({ "u": "matrix-owner", "p": one_time }),
        )
        .await;
    let gql = app
        .distributor()
        .with_token(data["login"]["accessToken"].as_str().unwrap());
    gql.ok(
        "mutation($o: String!, $n: String!) { changeMyPassword(oldPassword: $o, newPassword: $n) }",
        json!({ "o": one_time, "n": "copper-willow-58" }),
    )
    .await;
    gql
}

async fn dist_token(app: &TestApp) -> String {
    token_of(&app.distributor(), "dist-demo").await
}

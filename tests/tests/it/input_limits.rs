//! Every string a client sends is capped: a walk over every root field of the three schemas
//! (from the SDL the server serves) puts one oversized string in one string position at a time,
//! inline and as a variable, and expects BAD_USER_INPUT, no data and no row written. Tighter
//! per-field caps (delivery.district) are checked by the domain.

use std::collections::{BTreeMap, HashMap};

use async_graphql::parser::types::{
    BaseType, InputValueDefinition, Type, TypeKind, TypeSystemDefinition,
};
use futures::StreamExt;
use rouge_tests::{Backend, Gql, TestApp, fixtures, on_both_backends};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};

/// Sent as a variable. Inline literals carry [`BIG_LITERAL`]: the parser of a debug build is slow on
/// 100 KB literals, and anything over the ceiling is as good a probe.
const BIG: usize = 100_000;
const BIG_LITERAL: usize = 5_000;

/// A value in an argument, rendered both as a GraphQL literal and as JSON for a variable.
#[derive(Clone, Debug)]
enum Dummy {
    Str(String),
    Int,
    Float,
    Bool,
    Enum(String),
    Json(Value),
    List(Vec<Dummy>),
    Obj(Vec<(String, Dummy)>),
}

impl Dummy {
    fn literal(&self) -> String {
        match self {
            Self::Str(s) if s.len() == BIG => serde_json::to_string(&s[..BIG_LITERAL]).unwrap(),
            Self::Str(s) => serde_json::to_string(s).unwrap(),
            Self::Int => "1".into(),
            Self::Float => "1.0".into(),
            Self::Bool => "false".into(),
            Self::Enum(e) => e.clone(),
            Self::Json(v) => json_literal(v).replace(&"x".repeat(BIG), &"x".repeat(BIG_LITERAL)),
            Self::List(items) => format!(
                "[{}]",
                items
                    .iter()
                    .map(Self::literal)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::Obj(fields) => format!(
                "{{{}}}",
                fields
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", v.literal()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    fn json(&self) -> Value {
        match self {
            Self::Str(s) | Self::Enum(s) => json!(s),
            Self::Int => json!(1),
            Self::Float => json!(1.0),
            Self::Bool => json!(false),
            Self::Json(v) => v.clone(),
            Self::List(items) => Value::Array(items.iter().map(Self::json).collect()),
            Self::Obj(fields) => {
                Value::Object(fields.iter().map(|(k, v)| (k.clone(), v.json())).collect())
            }
        }
    }
}

fn json_literal(v: &Value) -> String {
    match v {
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{k}: {}", json_literal(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

struct Sdl {
    inputs: HashMap<String, (bool, Vec<InputValueDefinition>)>,
    enums: HashMap<String, Vec<String>>,
    outputs: std::collections::HashSet<String>,
    /// (operation kind, field name, arguments, returns an object)
    roots: Vec<(&'static str, String, Vec<InputValueDefinition>, bool)>,
}

fn read_sdl(text: &str) -> Sdl {
    let doc = async_graphql::parser::parse_schema(text).unwrap();
    let mut sdl = Sdl {
        inputs: HashMap::new(),
        enums: HashMap::new(),
        outputs: Default::default(),
        roots: Vec::new(),
    };
    let mut objects = HashMap::new();
    for def in &doc.definitions {
        let TypeSystemDefinition::Type(t) = def else {
            continue;
        };
        let name = t.node.name.node.to_string();
        match &t.node.kind {
            TypeKind::InputObject(io) => {
                let one_of = t
                    .node
                    .directives
                    .iter()
                    .any(|d| d.node.name.node == "oneOf");
                sdl.inputs.insert(
                    name,
                    (one_of, io.fields.iter().map(|f| f.node.clone()).collect()),
                );
            }
            TypeKind::Enum(e) => {
                sdl.enums.insert(
                    name,
                    e.values
                        .iter()
                        .map(|v| v.node.value.node.to_string())
                        .collect(),
                );
            }
            TypeKind::Object(o) => {
                sdl.outputs.insert(name.clone());
                objects.insert(name, o.fields.clone());
            }
            TypeKind::Interface(_) | TypeKind::Union(_) => {
                sdl.outputs.insert(name);
            }
            TypeKind::Scalar => {}
        }
    }
    for (kind, root) in [("query", "Query"), ("mutation", "Mutation")] {
        for f in objects.get(root).into_iter().flatten() {
            let ret = base_name(&f.node.ty.node).to_owned();
            sdl.roots.push((
                kind,
                f.node.name.node.to_string(),
                f.node.arguments.iter().map(|a| a.node.clone()).collect(),
                sdl.outputs.contains(&ret),
            ));
        }
    }
    sdl
}

fn base_name(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(n) => n.as_str(),
        BaseType::List(inner) => base_name(inner),
    }
}

fn is_string_scalar(name: &str) -> bool {
    matches!(name, "String" | "ID" | "JSON")
}

/// Every path (argument, then input fields; lists are entered) that ends in a string.
/// A recursive input (a segment rule's `all`) is entered once per path.
fn string_paths<'a>(
    sdl: &'a Sdl,
    ty: &'a Type,
    prefix: Vec<String>,
    seen: &mut Vec<&'a str>,
    out: &mut Vec<Vec<String>>,
) {
    let name = base_name(ty);
    if is_string_scalar(name) {
        out.push(prefix);
    } else if let Some((_, fields)) = sdl.inputs.get(name)
        && !seen.contains(&name)
    {
        seen.push(name);
        for f in fields {
            let mut p = prefix.clone();
            p.push(f.name.node.to_string());
            string_paths(sdl, &f.ty.node, p, seen, out);
        }
        seen.pop();
    }
}

/// A type-correct value; `path` (relative to this value) gets the oversized string.
fn dummy(sdl: &Sdl, ty: &Type, path: Option<&[String]>) -> Dummy {
    if let BaseType::List(inner) = &ty.base {
        return Dummy::List(vec![dummy(sdl, inner, path)]);
    }
    let name = base_name(ty);
    let big = "x".repeat(BIG);
    match name {
        "String" => Dummy::Str(if path.is_some() { big } else { "x".into() }),
        "ID" => Dummy::Str(if path.is_some() { big } else { "1".into() }),
        "JSON" => Dummy::Json(if path.is_some() {
            json!({ "x": big })
        } else {
            json!({})
        }),
        "Int" | "Fen" => Dummy::Int,
        "Float" => Dummy::Float,
        "Boolean" => Dummy::Bool,
        "Date" => Dummy::Str("2030-01-01".into()),
        "DateTime" => Dummy::Str("2030-01-01T00:00:00Z".into()),
        _ => {
            if let Some(values) = sdl.enums.get(name) {
                return Dummy::Enum(values[0].clone());
            }
            let (one_of, fields) = sdl
                .inputs
                .get(name)
                .unwrap_or_else(|| panic!("type {name}"));
            let wanted = path.and_then(|p| p.first());
            // A one-of input not on the path takes a field that does not nest the input again.
            let leaf = fields
                .iter()
                .position(|f| !sdl.inputs.contains_key(base_name(&f.ty.node)))
                .unwrap_or(0);
            let mut out = Vec::new();
            for (i, f) in fields.iter().enumerate() {
                let fname = f.name.node.to_string();
                let on_path = wanted == Some(&fname);
                let include = if *one_of {
                    on_path || (wanted.is_none() && i == leaf)
                } else {
                    on_path || !f.ty.node.nullable
                };
                if include {
                    let rest = if on_path { path.map(|p| &p[1..]) } else { None };
                    out.push((fname, dummy(sdl, &f.ty.node, rest)));
                }
            }
            Dummy::Obj(out)
        }
    }
}

async fn row_counts(app: &TestApp) -> BTreeMap<String, i64> {
    let db = app.db();
    let list = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    };
    let backend = db.get_database_backend();
    let tables: Vec<String> = db
        .query_all_raw(Statement::from_string(backend, list))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .collect();
    let mut counts = BTreeMap::new();
    for t in tables {
        let row = db
            .query_one_raw(Statement::from_string(
                backend,
                format!("SELECT COUNT(*) AS n FROM \"{t}\""),
            ))
            .await
            .unwrap()
            .unwrap();
        counts.insert(t, row.try_get::<i64>("", "n").unwrap());
    }
    counts
}

/// Walks one schema; returns how many requests were checked.
async fn walk(audience: &str, sdl_text: &str, gql: &Gql) -> usize {
    let sdl = read_sdl(sdl_text);
    let mut requests = Vec::new();
    for (kind, field, args, object) in &sdl.roots {
        // A file upload is a multipart request, not a JSON one: its body cap and arguments
        // are checked by the media tests.
        if args.iter().any(|a| base_name(&a.ty.node) == "Upload") {
            continue;
        }
        let selection = if *object { " { __typename }" } else { "" };
        for (ai, arg) in args.iter().enumerate() {
            let mut paths = Vec::new();
            string_paths(&sdl, &arg.ty.node, Vec::new(), &mut Vec::new(), &mut paths);
            for path in paths {
                let values: Vec<(usize, &InputValueDefinition, Dummy)> = args
                    .iter()
                    .enumerate()
                    .filter(|(i, a)| *i == ai || !a.ty.node.nullable)
                    .map(|(i, a)| {
                        let p = (i == ai).then_some(path.as_slice());
                        (i, a, dummy(&sdl, &a.ty.node, p))
                    })
                    .collect();
                let inline = format!(
                    "{kind} {{ {field}({}){selection} }}",
                    values
                        .iter()
                        .map(|(_, a, v)| format!("{}: {}", a.name.node, v.literal()))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let declared = values
                    .iter()
                    .map(|(i, a, _)| format!("$v{i}: {}", a.ty.node))
                    .collect::<Vec<_>>()
                    .join(", ");
                let used = values
                    .iter()
                    .map(|(i, a, _)| format!("{}: $v{i}", a.name.node))
                    .collect::<Vec<_>>()
                    .join(", ");
                let with_vars = format!("{kind}({declared}) {{ {field}({used}){selection} }}");
                let vars: serde_json::Map<String, Value> = values
                    .iter()
                    .map(|(i, _, v)| (format!("v{i}"), v.json()))
                    .collect();
                for (query, variables) in [
                    (inline.clone(), json!({})),
                    (with_vars, Value::Object(vars)),
                ] {
                    let at = format!("{audience} {field}({}.{})", arg.name.node, path.join("."));
                    requests.push((at, query, variables));
                }
            }
        }
    }
    let sent = requests.len();
    futures::stream::iter(requests)
        .map(|(at, query, variables)| async move {
            let body = gql.raw(&query, variables).await;
            assert_eq!(
                body["errors"][0]["extensions"]["code"],
                "BAD_USER_INPUT",
                "{at}: {}",
                truncate(&body)
            );
            assert!(
                body["data"].is_null(),
                "{at} answered data: {}",
                truncate(&body)
            );
        })
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
    sent
}

fn truncate(v: &Value) -> String {
    v.to_string().chars().take(400).collect()
}

async fn every_string_argument_is_capped(backend: Backend) {
    let app = TestApp::start(backend).await;
    fixtures::catalog(&app, 5).await;
    let (member, _) = app.login_member("walker").await;
    let staff = app.login_staff("hq-demo").await;
    let distributor = app.login_distributor("dist-demo").await;
    let before = row_counts(&app).await;
    let sdl: HashMap<&str, String> = graphql_schema::sdl().into_iter().collect();
    let mut sent = 0;
    for (audience, gql) in [
        ("consumer", &member),
        ("staff", &staff),
        ("distributor", &distributor),
    ] {
        let n = walk(audience, &sdl[audience], gql).await;
        assert!(n > 10, "{audience}: only {n} string positions found");
        eprintln!("{audience}: {n} requests with an oversized string");
        sent += n;
    }
    assert!(sent > 200, "only {sent} requests");
    assert_eq!(
        row_counts(&app).await,
        before,
        "a rejected request wrote rows"
    );
    // The tokens still work: nothing above logged anyone out.
    member.ok("{ me { id } }", json!({})).await;
    app.stop().await;
}

/// A district is capped by its own rule, well below the global ceiling, and nothing is stored.
async fn a_long_district_is_refused_by_name(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 5).await;
    let (me, _) = app.login_member("district").await;
    let place = "mutation($i: PlaceOrderInput!, $k: String!) { placeOrder(input: $i, idempotencyKey: $k) { id } }";
    let order = |district: String| {
        json!({
            "i": {
                "lines": [{ "skuId": cat.serum_sku.to_string(), "quantity": 1 }],
                "delivery": {
                    "recipient": "李丽", "phone": "13912345678", "province": "上海市",
                    "city": "上海市", "district": district, "detail": "南京东路 1 号",
                },
            },
            "k": format!("key-{}", uuid::Uuid::new_v4().simple()),
        })
    };
    let before = row_counts(&app).await;
    for district in ["区".repeat(200), "黄浦\u{7}区".to_owned()] {
        let body = me.raw(place, order(district)).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("delivery.district"), "{message}");
    }
    assert_eq!(row_counts(&app).await, before, "a refused order wrote rows");
    me.ok(place, order("黄浦区".into())).await;
    app.stop().await;
}

on_both_backends!(
    every_string_argument_is_capped,
    a_long_district_is_refused_by_name
);

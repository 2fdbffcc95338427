//! One API style (docs/api-style.md): every list that takes `first` is a Relay connection and no
//! other paging shape remains; the consumer schema has no staff-only fields; money sums are
//! `Fen` strings; times are UTC RFC 3339 with milliseconds.

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use rouge_tests::{Backend, Gql, TestApp, on_both_backends};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};

/// Object types whose lists grow with the business: no field may return a bare list of them.
const GROWING: &[&str] = &[
    "AuditEntry",
    "BatchStock",
    "Booking",
    "Campaign",
    "ClaimableCoupon",
    "CodeBatch",
    "Coupon",
    "CouponTemplate",
    "FlaggedScan",
    "FlashSale",
    "LowStock",
    "Order",
    "PointsEntry",
    "Product",
    "SampleVoucher",
    "StockMovement",
    "UnmatchedPaymentNotification",
];

/// Bare lists of growing types that are closed by construction (one day of one BA).
const CLOSED_FIELDS: &[(&str, &str)] = &[("BaBookingDay", "bookings")];

/// Every field of every object type in an SDL: (type, field, arguments, return type).
fn fields(sdl: &str) -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    let mut pending = String::new();
    let mut in_description = false;
    for line in sdl.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("\"\"\"") {
            // A one-line description opens and closes on the same line.
            if !(trimmed.len() > 3 && trimmed.ends_with("\"\"\"")) {
                in_description = !in_description;
            }
            continue;
        }
        if in_description || trimmed.is_empty() {
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("type ") {
            current = rest.split_whitespace().next().map(str::to_owned);
            continue;
        }
        if trimmed.starts_with('}') {
            current = None;
            continue;
        }
        let Some(ty) = &current else { continue };
        // Arguments may span lines: join until the parentheses close.
        pending.push_str(trimmed);
        if pending.matches('(').count() > pending.matches(')').count() {
            continue;
        }
        let field = std::mem::take(&mut pending);
        let (head, returns) = match field.rfind("):") {
            Some(at) => (&field[..=at], field[at + 2..].trim()),
            None => match field.split_once(':') {
                Some((name, ret)) => (name, ret.trim()),
                None => continue,
            },
        };
        let (name, args) = match head.split_once('(') {
            Some((name, args)) => (name.trim(), args.trim_end_matches(')')),
            None => (head.trim(), ""),
        };
        out.push((
            ty.clone(),
            name.to_owned(),
            args.to_owned(),
            returns.to_owned(),
        ));
    }
    out
}

#[test]
fn every_list_that_can_grow_is_a_connection() {
    let mut seen_connections = 0;
    for (schema, sdl) in graphql_schema::sdl() {
        for (ty, field, args, returns) in fields(&sdl) {
            let takes_first = args.split(',').any(|a| a.trim().starts_with("first:"));
            let connection = returns.trim_end_matches('!').ends_with("Connection");
            assert!(
                !takes_first || connection,
                "{schema}: {ty}.{field} takes `first` but returns {returns}, not a connection"
            );
            if connection {
                seen_connections += 1;
                assert!(
                    takes_first && args.contains("after:"),
                    "{schema}: {ty}.{field} returns a connection without first/after"
                );
            }
            let element = returns
                .trim_end_matches('!')
                .strip_prefix('[')
                .map(|inner| inner.trim_end_matches(']').trim_end_matches('!'));
            if let Some(element) = element {
                let parent_is_connection = ty.ends_with("Connection");
                let closed = CLOSED_FIELDS.contains(&(ty.as_str(), field.as_str()));
                assert!(
                    !GROWING.contains(&element) || parent_is_connection || closed,
                    "{schema}: {ty}.{field} returns a bare list of {element}: make it a connection"
                );
            }
        }
        for line in sdl.lines() {
            if let Some(rest) = line.strip_prefix("type ") {
                let name = rest.split_whitespace().next().unwrap_or_default();
                assert!(
                    !name.ends_with("Page") || name == "PageInfo",
                    "{schema}: {name} is another paging shape"
                );
            }
        }
        assert!(
            !sdl.contains("hasMore"),
            "{schema}: hasMore is the old page shape"
        );
    }
    assert!(seen_connections >= 20, "{seen_connections} connections");
}

#[test]
fn the_consumer_schema_has_no_staff_only_fields() {
    let [(_, consumer), (_, staff), _] = graphql_schema::sdl();
    for name in ["costFen", "safetyStock"] {
        assert!(!consumer.contains(name), "consumer SDL names {name}");
        assert!(staff.contains(name), "staff SDL lost {name}");
    }
    let consumer_sku: BTreeSet<String> = fields(&consumer)
        .into_iter()
        .filter(|(ty, ..)| ty == "Sku")
        .map(|(_, field, ..)| field)
        .collect();
    assert!(consumer_sku.contains("priceFen") && consumer_sku.contains("available"));
    // Every store says which zone its hours and dates are in, in the schemas that show stores.
    for (schema, sdl) in graphql_schema::sdl() {
        let store: Vec<_> = fields(&sdl)
            .into_iter()
            .filter(|(ty, ..)| ty == "Store")
            .map(|(_, field, _, returns)| (field, returns))
            .collect();
        if !store.is_empty() {
            assert!(
                store.contains(&("timezone".to_owned(), "String!".to_owned())),
                "{schema}: Store without its time zone"
            );
        }
    }
}

#[test]
fn money_sums_are_fen_and_times_are_documented() {
    for (schema, sdl) in graphql_schema::sdl() {
        let all = fields(&sdl);
        let sums = [
            ("CouponReport", "discountFen"),
            ("CouponReport", "revenueFen"),
            ("CampaignReport", "revenueFen"),
            ("Member", "cumulativeSpendFen"),
            ("Tier", "thresholdFen"),
            ("Distributor", "creditLimitFen"),
        ];
        for (ty, field, _, returns) in &all {
            if sums.contains(&(ty.as_str(), field.as_str())) {
                assert_eq!(returns, "Fen!", "{schema}: {ty}.{field}");
            }
        }
        if sdl.contains("scalar DateTime") {
            assert!(
                sdl.contains("2026-12-05T08:30:00.000Z"),
                "{schema}: DateTime's description shows the format"
            );
        }
    }
}

const CREATE: &str =
    "mutation($i: CouponTemplateInput!) { createCouponTemplate(input: $i) { id } }";
const ISSUE: &str = "mutation($t: ID!, $m: [ID!]!, $k: String!) { issueCoupons(templateId: $t, memberIds: $m, idempotencyKey: $k) { issued } }";
const MINE: &str = "query($first: Int, $after: String) { myCoupons(first: $first, after: $after) {
  edges { cursor node { id validUntil } } nodes { id } pageInfo { hasNextPage hasPreviousPage endCursor } } }";

/// Follows `myCoupons` two at a time; returns the ids in order and the pages' sizes.
async fn walk(me: &Gql) -> (Vec<String>, Vec<usize>) {
    let mut ids = Vec::new();
    let mut sizes = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = me.ok(MINE, json!({ "first": 2, "after": after })).await["myCoupons"].clone();
        let edges = data["edges"].as_array().unwrap();
        let nodes: Vec<&Value> = data["nodes"].as_array().unwrap().iter().collect();
        assert_eq!(nodes.len(), edges.len());
        assert_eq!(data["pageInfo"]["hasPreviousPage"], !after.is_null());
        sizes.push(edges.len());
        for edge in edges {
            ids.push(edge["node"]["id"].as_str().unwrap().to_owned());
        }
        if !data["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            return (ids, sizes);
        }
        after = data["pageInfo"]["endCursor"].clone();
        assert_eq!(after, edges.last().unwrap()["cursor"]);
    }
}

async fn connections_page_by_keyset_and_refuse_bad_windows(backend: Backend) {
    let app = TestApp::start(backend).await;
    let hq = app.login_staff("hq-demo").await;
    let (me, me_id) = app.login_member("pager").await;
    // Five copies with the same end: the time ties, the id orders them.
    let now = Utc::now();
    let until = now + Duration::days(30);
    let fixed = hq
        .ok(
            CREATE,
            json!({ "i": { "name": "同日到期", "kind": "CASH", "amountFen": 500, "totalQuantity": 100,
                           "perMemberLimit": 10, "validFrom": now.to_rfc3339(),
                           "validUntil": until.to_rfc3339() } }),
        )
        .await["createCouponTemplate"]["id"]
        .clone();
    let sooner = hq
        .ok(
            CREATE,
            json!({ "i": { "name": "七天", "kind": "CASH", "amountFen": 300, "totalQuantity": 100,
                           "perMemberLimit": 10, "validDays": 7 } }),
        )
        .await["createCouponTemplate"]["id"]
        .clone();
    for template in [&fixed, &fixed, &sooner, &fixed, &fixed, &fixed] {
        let key = format!("k-{}", uuid::Uuid::new_v4().simple());
        hq.ok(ISSUE, json!({ "t": template, "m": [me_id], "k": key }))
            .await;
    }
    let (ids, sizes) = walk(&me).await;
    assert_eq!(sizes, [2, 2, 2]);
    let rows = entities::coupon::Entity::find()
        .filter(entities::coupon::Column::MemberId.eq(me_id.parse::<i64>().unwrap()))
        .all(app.db())
        .await
        .unwrap();
    let mut expected: Vec<(chrono::DateTime<Utc>, i64)> =
        rows.iter().map(|c| (c.valid_until, c.id)).collect();
    expected.sort();
    let expected: Vec<String> = expected.iter().map(|(_, id)| id.to_string()).collect();
    assert_eq!(ids, expected, "soonest end first, ties by id, each once");

    // A coupon issued while walking shows on a later page, none twice.
    let first_page =
        me.ok(MINE, json!({ "first": 3 })).await["myCoupons"]["pageInfo"]["endCursor"].clone();
    let key = format!("k-{}", uuid::Uuid::new_v4().simple());
    hq.ok(ISSUE, json!({ "t": fixed, "m": [me_id], "k": key }))
        .await;
    let rest = me
        .ok(MINE, json!({ "first": 100, "after": first_page }))
        .await["myCoupons"]["nodes"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(rest, 4, "three left plus the new one");

    // Bad windows are BAD_USER_INPUT: out of range, malformed, another list's cursor.
    let templates_cursor = hq
        .ok(
            "{ couponTemplates(first: 1) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await["couponTemplates"]["pageInfo"]["endCursor"]
        .clone();
    for bad in [
        json!({ "first": 0 }),
        json!({ "first": 101 }),
        json!({ "first": -1 }),
        json!({ "first": 2, "after": "42" }),
        json!({ "first": 2, "after": "not a cursor" }),
        json!({ "first": 2, "after": templates_cursor }),
    ] {
        assert_eq!(me.err(MINE, bad.clone()).await, "BAD_USER_INPUT", "{bad}");
    }
    // Without `first`, a page holds 20.
    let default = me.ok("{ myCoupons { nodes { id } } }", json!({})).await;
    assert_eq!(default["myCoupons"]["nodes"].as_array().unwrap().len(), 7);
}

async fn money_sums_leave_as_exact_strings_and_times_as_utc_milliseconds(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (me, me_id) = app.login_member("big-spender").await;
    // Above 2^31 and above 2^53: neither Int nor a JSON double would keep it.
    let spent: i64 = 9_007_199_254_740_993;
    entities::member::Entity::update_many()
        .col_expr(
            entities::member::Column::CumulativeSpendFen,
            Expr::value(spent),
        )
        .filter(entities::member::Column::Id.eq(me_id.parse::<i64>().unwrap()))
        .exec(app.db())
        .await
        .unwrap();
    let data = me
        .ok(
            "{ me { cumulativeSpendFen createdAt tier { thresholdFen } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["me"]["cumulativeSpendFen"], spent.to_string());
    assert!(data["me"]["tier"]["thresholdFen"].is_string());
    let created = data["me"]["createdAt"].as_str().unwrap();
    assert_utc_millis(created);
    let row = entities::member::Entity::find_by_id(me_id.parse::<i64>().unwrap())
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        created,
        row.created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "the stored instant, in UTC"
    );

    // Times are read with any offset and always written in UTC.
    let hq = app.login_staff("hq-demo").await;
    let made = hq
        .ok(
            "mutation($i: CouponTemplateInput!) { createCouponTemplate(input: $i) { validFrom validUntil createdAt } }",
            json!({ "i": { "name": "窗口", "kind": "CASH", "amountFen": 100, "totalQuantity": 1,
                           "validFrom": "2026-12-05T16:30:00+08:00",
                           "validUntil": "2026-12-31T23:59:59.5+08:00" } }),
        )
        .await["createCouponTemplate"]
        .clone();
    assert_eq!(made["validFrom"], "2026-12-05T08:30:00.000Z");
    assert_eq!(made["validUntil"], "2026-12-31T15:59:59.500Z");
    assert_utc_millis(made["createdAt"].as_str().unwrap());
    assert_eq!(
        hq.err(
            "mutation($i: CouponTemplateInput!) { createCouponTemplate(input: $i) { id } }",
            json!({ "i": { "name": "坏", "kind": "CASH", "amountFen": 100, "totalQuantity": 1,
                           "validFrom": "2026-12-05 16:30", "validUntil": "2026-12-31T00:00:00Z" } }),
        )
        .await,
        "BAD_USER_INPUT"
    );
}

fn assert_utc_millis(at: &str) {
    assert!(
        chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%S%.3fZ").is_ok()
            && at.len() == "2026-12-05T08:30:00.000Z".len(),
        "{at} is not UTC RFC 3339 with milliseconds"
    );
}

on_both_backends!(
    connections_page_by_keyset_and_refuse_bad_windows,
    money_sums_leave_as_exact_strings_and_times_as_utc_milliseconds,
);

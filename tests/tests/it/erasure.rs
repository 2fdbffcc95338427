//! Erasure (PIPL): after `eraseMember` or `deleteMyAccount` no table holds the member's phone
//! (plaintext, ciphertext or blind index), nickname, birthday or skin data, while the orders,
//! their lines and the points earned, which the reports add up, are unchanged.

use rouge_tests::fixtures;
use rouge_tests::{Backend, TestApp, on_both_backends};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, Statement};
use serde_json::{Value, json};

const NICKNAME: &str = "Zelda Erasable";
const BIRTHDAY: &str = "1987-06-05";
const PHONE: &str = "13811112222";
const ALLERGY: &str = "ZZERASEALLERGEN";
const TAG: &str = "ERASE TAG 5521";
const ERASE: &str = "mutation($id: ID!, $r: String!) { eraseMember(id: $id, reason: $r) }";
const SALE: &str = "mutation($m: ID!, $l: [OrderLineInput!]!, $k: String!) {
  recordInStoreSale(memberId: $m, lines: $l, paymentMethod: CASH, acknowledgeAllergens: true, idempotencyKey: $k) { id totalFen } }";

fn reason(body: &Value) -> (&str, &str) {
    let ext = &body["errors"][0]["extensions"];
    (
        ext["code"].as_str().unwrap_or("none"),
        ext["reason"].as_str().unwrap_or("none"),
    )
}

/// Every column of every table, as (table, column).
async fn columns(app: &TestApp) -> Vec<(String, String)> {
    let db = app.db();
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT table_name AS t, column_name AS c FROM information_schema.columns WHERE table_schema = current_schema()"
        }
        _ => {
            "SELECT m.name AS t, p.name AS c FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'"
        }
    };
    db.query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.try_get::<String>("", "t").unwrap(),
                r.try_get::<String>("", "c").unwrap(),
            )
        })
        .collect()
}

/// Where any of `needles` appears in any column (read as text) of any table.
async fn find_anywhere(app: &TestApp, needles: &[String]) -> Vec<String> {
    let db = app.db();
    let backend = db.get_database_backend();
    let mut found = Vec::new();
    for (table, column) in columns(app).await {
        for needle in needles {
            let sql = format!(
                "SELECT COUNT(*) AS n FROM \"{table}\" WHERE CAST(\"{column}\" AS TEXT) LIKE $1"
            );
            let sql = match backend {
                DbBackend::Postgres => sql,
                _ => sql.replace("$1", "?"),
            };
            let row = db
                .query_one_raw(Statement::from_sql_and_values(
                    backend,
                    sql,
                    [format!("%{needle}%").into()],
                ))
                .await
                .unwrap()
                .unwrap();
            if row.try_get::<i64>("", "n").unwrap() > 0 {
                found.push(format!("{table}.{column} holds {needle}"));
            }
        }
    }
    found
}

/// What the reports add up: orders, their lines, refunds and the points ever earned.
async fn totals(app: &TestApp) -> (usize, i64, usize, i64, i64) {
    let orders = entities::order::Entity::find().all(app.db()).await.unwrap();
    let lines = entities::order_line::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    let points = entities::points_ledger::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    (
        orders.len(),
        orders.iter().map(|o| o.total_fen).sum(),
        lines.len(),
        orders.iter().map(|o| o.refunded_fen).sum(),
        points.iter().filter(|p| p.delta > 0).map(|p| p.delta).sum(),
    )
}

async fn erase_member_leaves_no_trace_but_the_accounts(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 50).await;
    let (me, id) = app.login_member("erase-me").await;
    me.ok(
        "mutation($i: ProfileInput!) { updateMyProfile(input: $i) { id } }",
        json!({ "i": {
            "nickname": NICKNAME, "birthday": BIRTHDAY,
            "region": { "province": "上海市", "city": "上海市", "district": "静安区" },
            "skinType": "SENSITIVE", "skinConcerns": ["REDNESS"],
            "allergies": [ALLERGY], "marketingConsent": true
        }}),
    )
    .await;
    me.ok(
        "mutation($c: String!) { bindPhone(code: $c) { phoneMasked } }",
        json!({ "c": format!("test:{PHONE}:p1") }),
    )
    .await;
    let ba = app.login_staff("ba-demo").await;
    ba.ok(
        "mutation($id: ID!, $n: String!) { addMemberTag(memberId: $id, name: $n) { name } }",
        json!({ "id": id, "n": TAG }),
    )
    .await;
    ba.ok(
        "query($id: ID!) { member(id: $id) { phone birthday } }",
        json!({ "id": id }),
    )
    .await;
    let line = json!([{ "skuId": cat.serum_sku.to_string(), "quantity": 2 }]);
    ba.ok(
        SALE,
        json!({ "m": id, "l": line, "k": uuid::Uuid::new_v4().to_string() }),
    )
    .await;
    // Someone else, whose data stays.
    let (other, other_id) = app.login_member("keeps-data").await;
    other
        .ok(
            "mutation { updateMyProfile(input: { nickname: \"Other Stays\", allergies: [\"LINALOOL\"] }) { id } }",
            json!({}),
        )
        .await;
    ba.ok(
        SALE,
        json!({ "m": other_id, "l": line, "k": uuid::Uuid::new_v4().to_string() }),
    )
    .await;

    let row = entities::member::Entity::find_by_id(id.parse::<i64>().unwrap())
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let needles = vec![
        NICKNAME.to_owned(),
        BIRTHDAY.to_owned(),
        PHONE.to_owned(),
        "138****2222".to_owned(),
        ALLERGY.to_owned(),
        TAG.to_owned(),
        row.phone_cipher.clone().unwrap(),
        row.phone_index.clone().unwrap(),
        row.openid.clone(),
    ];
    // The search finds what is there before the erasure (the plain phone number never is).
    let found = find_anywhere(&app, &needles).await;
    for needle in needles.iter().filter(|n| n.as_str() != PHONE) {
        assert!(
            found
                .iter()
                .any(|f| f.ends_with(&format!(" holds {needle}"))),
            "{needle} not found before the erasure: {found:#?}"
        );
    }
    let before = totals(&app).await;

    // Only HQ erases, with a reason; the BA is refused and nothing changes.
    let body = ba.raw(ERASE, json!({ "id": id, "r": "ticket 42" })).await;
    assert_eq!(reason(&body).0, "FORBIDDEN");
    let hq = app.login_staff("hq-demo").await;
    let body = hq.raw(ERASE, json!({ "id": id, "r": "  " })).await;
    assert_eq!(reason(&body).0, "BAD_USER_INPUT");
    me.ok("{ me { id } }", json!({})).await;
    hq.ok(ERASE, json!({ "id": id, "r": "DPO ticket 42" }))
        .await;

    let left = find_anywhere(&app, &needles).await;
    assert!(left.is_empty(), "{left:#?}");
    assert_eq!(
        totals(&app).await,
        before,
        "orders and points earned unchanged"
    );
    // Staff find nobody there any more.
    let body = ba
        .raw(
            "query($id: ID!) { member(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(reason(&body).0, "NOT_FOUND");
    // The session ends at once; the next WeChat login is a new member.
    assert_eq!(me.err("{ me { id } }", json!({})).await, "UNAUTHENTICATED");
    let (_, new_id) = app.login_member("erase-me").await;
    assert_ne!(new_id, id);
    // Someone else keeps everything.
    let data = other.ok("{ me { nickname allergies } }", json!({})).await;
    assert_eq!(data["me"]["nickname"], "Other Stays");
    assert_eq!(data["me"]["allergies"], json!(["LINALOOL"]));
    // Audited: who, why; a second erasure is refused.
    let log = hq
        .ok(
            "query($id: ID!) { memberAuditLog(memberId: $id) { nodes { action actorId detail } } }",
            json!({ "id": id }),
        )
        .await;
    let erase = log["memberAuditLog"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "MEMBER_ERASE")
        .cloned()
        .expect("erasure audited");
    assert_eq!(erase["detail"]["reason"], "DPO ticket 42");
    let body = hq.raw(ERASE, json!({ "id": id, "r": "again" })).await;
    assert_eq!(reason(&body), ("CONFLICT", "ALREADY_ERASED"));
}

async fn a_member_deletes_their_own_account(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (me, id) = app.login_member("leaving").await;
    me.ok(
        "mutation { updateMyProfile(input: { nickname: \"Leaving Soon\" }) { id } }",
        json!({}),
    )
    .await;
    let delete = "mutation($c: String!) { deleteMyAccount(confirmation: $c) }";
    for wrong in ["delete", "yes", ""] {
        let body = me.raw(delete, json!({ "c": wrong })).await;
        assert_eq!(reason(&body).0, "BAD_USER_INPUT", "{wrong}");
    }
    me.ok("{ me { nickname } }", json!({})).await;
    assert_eq!(
        me.ok(delete, json!({ "c": "DELETE" })).await["deleteMyAccount"],
        true
    );
    assert_eq!(me.err("{ me { id } }", json!({})).await, "UNAUTHENTICATED");
    let row = entities::member::Entity::find_by_id(id.parse::<i64>().unwrap())
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert!(row.erased_at.is_some());
    assert_eq!(row.nickname, None);
    assert!(
        find_anywhere(&app, &["Leaving Soon".to_owned()])
            .await
            .is_empty()
    );
}

on_both_backends!(
    erase_member_leaves_no_trace_but_the_accounts,
    a_member_deletes_their_own_account
);

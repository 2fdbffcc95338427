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

    // An order paid with WeChat Pay: the payment notification names her openid as the payer.
    let placed = me
        .ok(
            "mutation($i: PlaceOrderInput!, $k: String!) { placeOrder(input: $i, idempotencyKey: $k) { id orderNo } }",
            json!({ "i": { "lines": [{ "skuId": cat.cream_sku.to_string(), "quantity": 1 }],
                           "pickupStoreId": cat.store_id.to_string() },
                    "k": uuid::Uuid::new_v4().to_string() }),
        )
        .await["placeOrder"]
        .clone();
    me.ok(
        "mutation($id: ID!) { payOrder(orderId: $id) { package } }",
        json!({ "id": placed["id"] }),
    )
    .await;
    let order_no = placed["orderNo"].as_str().unwrap().to_owned();
    app.wechat.pay(&order_no).await.unwrap();
    let paid = || async {
        use sea_orm::{ColumnTrait, QueryFilter};
        entities::order::Entity::find()
            .filter(entities::order::Column::OrderNo.eq(order_no.as_str()))
            .one(app.db())
            .await
            .unwrap()
            .unwrap()
    };
    rouge_tests::eventually(10, "the payment notification", || async {
        paid().await.transaction_id.is_some()
    })
    .await;
    let notifications = entities::payment_notification::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    assert!(!notifications.is_empty());

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
    // The money trail stays: the transaction id on the order, the notifications handled.
    assert!(paid().await.transaction_id.is_some());
    assert_eq!(
        entities::payment_notification::Entity::find()
            .all(app.db())
            .await
            .unwrap(),
        notifications
    );
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

/// What staff writes could add about a member: counts of her rows, her row as stored, the
/// audit entries about her.
async fn footprint(app: &TestApp, id: i64) -> (String, u64, u64, u64, u64, u64, u64) {
    use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter};
    let db = app.db();
    let row = entities::member::Entity::find_by_id(id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    (
        format!("{row:?}"),
        entities::member_tag::Entity::find()
            .filter(entities::member_tag::Column::MemberId.eq(id))
            .count(db)
            .await
            .unwrap(),
        entities::member_allergy::Entity::find()
            .filter(entities::member_allergy::Column::MemberId.eq(id))
            .count(db)
            .await
            .unwrap(),
        entities::order::Entity::find()
            .filter(entities::order::Column::MemberId.eq(id))
            .count(db)
            .await
            .unwrap(),
        entities::coupon::Entity::find()
            .filter(entities::coupon::Column::MemberId.eq(id))
            .count(db)
            .await
            .unwrap(),
        entities::points_ledger::Entity::find()
            .filter(entities::points_ledger::Column::MemberId.eq(id))
            .count(db)
            .await
            .unwrap(),
        entities::audit_log::Entity::find()
            .filter(entities::audit_log::Column::SubjectId.eq(id))
            .count(db)
            .await
            .unwrap(),
    )
}

/// After an erasure every staff write naming the member answers NOT_FOUND and writes nothing,
/// and segments (previews, counts, campaign targeting, automations: one SQL condition) skip
/// the tombstone although her orders stay.
async fn staff_writes_on_an_erased_member_find_nobody(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 50).await;
    let (me, id) = app.login_member("erased-then-written").await;
    let (_, other) = app.login_member("still-here").await;
    me.ok(
        "mutation { updateMyProfile(input: { nickname: \"Soon Gone\" }) { id } }",
        json!({}),
    )
    .await;
    let ba = app.login_staff("ba-demo").await;
    let hq = app.login_staff("hq-demo").await;
    let line = json!([{ "skuId": cat.serum_sku.to_string(), "quantity": 1 }]);
    for m in [&id, &other] {
        ba.ok(
            SALE,
            json!({ "m": m, "l": line, "k": uuid::Uuid::new_v4().to_string() }),
        )
        .await;
    }
    ba.ok(
        "mutation($id: ID!) { addMemberTag(memberId: $id, name: \"KEEP-ME\") { name } }",
        json!({ "id": id }),
    )
    .await;
    let preview =
        "query($r: SegmentRuleInput!) { previewSegment(rule: $r) { count sample { id } } }";
    let bought = json!({ "r": { "boughtProducts": [cat.serum.to_string()] } });
    let before = hq.ok(preview, bought.clone()).await;
    assert_eq!(before["previewSegment"]["count"], 2, "{before}");
    let template = hq
        .ok(
            "mutation($i: CouponTemplateInput!) { createCouponTemplate(input: $i) { id } }",
            json!({ "i": { "name": "给会员", "kind": "CASH", "amountFen": 500, "totalQuantity": 10,
                           "perMemberLimit": 1, "validDays": 30, "stacksWithCoupons": true } }),
        )
        .await["createCouponTemplate"]["id"]
        .clone();
    let ba_id = fixtures::staff_principal(&app, "ba-demo").await.staff_id;

    hq.ok(ERASE, json!({ "id": id, "r": "ticket 77" })).await;
    let erased = footprint(&app, id.parse().unwrap()).await;

    let key = || uuid::Uuid::new_v4().to_string();
    let writes: Vec<(&str, &rouge_tests::Gql, &str, Value)> = vec![
        (
            "tag",
            &ba,
            "mutation($id: ID!) { addMemberTag(memberId: $id, name: \"AFTER\") { name } }",
            json!({ "id": id }),
        ),
        (
            "untag",
            &ba,
            "mutation($id: ID!) { removeMemberTag(memberId: $id, name: \"KEEP-ME\") { name } }",
            json!({ "id": id }),
        ),
        (
            "skin profile",
            &ba,
            "mutation($id: ID!) { updateMemberSkinProfile(memberId: $id, input: { skinType: OILY }) { id } }",
            json!({ "id": id }),
        ),
        (
            "allergies",
            &ba,
            "mutation($id: ID!) { updateMemberSkinProfile(memberId: $id, input: { allergies: [\"LINALOOL\"] }) { id } }",
            json!({ "id": id }),
        ),
        (
            "exclusive BA",
            &hq,
            "mutation($id: ID!, $b: ID) { assignExclusiveBa(memberId: $id, baId: $b) { id } }",
            json!({ "id": id, "b": ba_id.to_string() }),
        ),
        (
            "counter sale",
            &ba,
            SALE,
            json!({ "m": id, "l": line, "k": key() }),
        ),
        (
            "sale preview",
            &ba,
            "query($m: ID!, $l: [OrderLineInput!]!) { previewInStoreSale(memberId: $m, lines: $l) { totalFen } }",
            json!({ "m": id, "l": line }),
        ),
        (
            "points",
            &ba,
            "mutation($m: ID!, $k: String!) { redeemPoints(memberId: $m, points: 1, reward: \"小样\", idempotencyKey: $k) }",
            json!({ "m": id, "k": key() }),
        ),
        (
            "phone",
            &ba,
            "query($id: ID!) { member(id: $id) { phone } }",
            json!({ "id": id }),
        ),
    ];
    for (what, who, query, vars) in writes {
        let body = who.raw(query, vars).await;
        assert_eq!(reason(&body).0, "NOT_FOUND", "{what}: {body}");
    }
    // Issuing to a list counts her as unknown and gives her nothing.
    let outcome = hq
        .ok(
            "mutation($t: ID!, $m: [ID!]!, $k: String!) { issueCoupons(templateId: $t, memberIds: $m, idempotencyKey: $k) { issued unknownMembers } }",
            json!({ "t": template, "m": [id, other], "k": key() }),
        )
        .await;
    assert_eq!(outcome["issueCoupons"]["issued"], 1, "{outcome}");
    assert_eq!(outcome["issueCoupons"]["unknownMembers"], 1, "{outcome}");
    assert_eq!(
        footprint(&app, id.parse().unwrap()).await,
        erased,
        "nothing written"
    );
    // Her order stays, but no segment holds her.
    let after = hq.ok(preview, bought).await;
    assert_eq!(after["previewSegment"]["count"], 1, "{after}");
    assert_eq!(after["previewSegment"]["sample"], json!([{ "id": other }]));
    let everyone =
        domain::campaigns::segments::count(&app.state, &domain::campaigns::SegmentRule::everyone())
            .await
            .unwrap();
    let members = entities::member::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(members.iter().filter(|m| m.erased_at.is_some()).count(), 1);
    let live = members.iter().filter(|m| m.erased_at.is_none()).count();
    assert_eq!(everyone, live as u64);
}

on_both_backends!(
    erase_member_leaves_no_trace_but_the_accounts,
    a_member_deletes_their_own_account,
    staff_writes_on_an_erased_member_find_nobody
);

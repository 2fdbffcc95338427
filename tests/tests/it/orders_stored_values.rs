//! Orders and refunds: a stored order status or refund status Rouge does not know is an error
//! (INTERNAL from the API, a database type error from the domain), never read as a default.

use domain::orders::{self, OrdersError};
use domain::payments::{self, PaymentsError};
use domain::platform::error::StoreError;
use rouge_tests::graphql::code_of;
use rouge_tests::{Backend, Gql, TestApp, fixtures, on_both_backends};
use sea_orm::{ConnectionTrait, DbErr};
use serde_json::{Value, json};

const RECORD: &str = "mutation($m: ID!, $s: ID!, $k: String!) { recordInStoreSale(memberId: $m, lines: [{ skuId: $s, quantity: 1 }], paymentMethod: CASH, idempotencyKey: $k) { id } }";

fn db_type_error(err: &StoreError) -> bool {
    matches!(err, StoreError::Db(DbErr::Type(_)))
}

async fn counter_sale(ba: &Gql, member: &str, sku: i64, key: &str) -> i64 {
    let data = ba
        .ok(
            RECORD,
            json!({ "m": member, "s": sku.to_string(), "k": key }),
        )
        .await;
    data["recordInStoreSale"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn assert_internal(body: &Value, cause: &str) {
    assert_eq!(code_of(body).as_deref(), Some("INTERNAL"), "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(!message.contains(cause), "{message}");
}

async fn unknown_stored_order_and_refund_statuses_are_errors(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 10).await;
    let ba = app.login_staff("ba-demo").await;
    let hq_api = app.login_staff("hq-demo").await;
    let (me, member) = app.login_member("uma").await;
    let odd_order = counter_sale(&ba, &member, cat.serum_sku, "stored-values-1").await;
    let refunded = counter_sale(&ba, &member, cat.cream_sku, "stored-values-2").await;
    let refund = hq_api
        .ok(
            "mutation($id: ID!) { refundOrder(orderId: $id) { status } }",
            json!({ "id": refunded.to_string() }),
        )
        .await;
    assert_eq!(refund["refundOrder"]["status"], "SUCCESS");
    for sql in [
        format!("UPDATE orders SET status = 'SHIPPED' WHERE id = {odd_order}"),
        format!("UPDATE refunds SET status = 'REVERSED' WHERE order_id = {refunded}"),
    ] {
        let done = app.db().execute_unprepared(&sql).await.unwrap();
        assert_eq!(done.rows_affected(), 1, "{sql}");
    }

    // The domain refuses to read them.
    assert!(matches!(
        orders::staff_order(&app.state, &cat.hq, odd_order).await,
        Err(OrdersError::Store(e)) if db_type_error(&e)
    ));
    assert!(matches!(
        payments::refunds_of_order(&app.state, refunded).await,
        Err(PaymentsError::Store(e)) if db_type_error(&e)
    ));

    // The API says INTERNAL without the cause.
    let order = "query($id: ID!) { order(id: $id) { status } }";
    let body = me.raw(order, json!({ "id": odd_order.to_string() })).await;
    assert_internal(&body, "SHIPPED");
    let store_order = "query($id: ID!) { storeOrder(id: $id) { status } }";
    let body = ba
        .raw(store_order, json!({ "id": odd_order.to_string() }))
        .await;
    assert_internal(&body, "SHIPPED");
    let refunds = "query($id: ID!) { orderRefunds(orderId: $id) { status } }";
    let body = ba.raw(refunds, json!({ "id": refunded.to_string() })).await;
    assert_internal(&body, "REVERSED");
    // The orders beside them still read.
    ba.ok(store_order, json!({ "id": refunded.to_string() }))
        .await;
}

on_both_backends!(unknown_stored_order_and_refund_statuses_are_errors);

//! Grab tickets (issue 19): a winner is answered at once with a ticket, the order follows from
//! the background writer within the stated time, exactly once per ticket; a crash between ticket
//! and order never loses a unit nor sells one twice; another member's ticket is NOT_FOUND.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Duration;
use domain::flash_sales::{self, TicketFailure, TicketStatus};
use domain::platform::kv::{FlashCounters, keys};
use domain::{DomainError, ErrorCode};
use entities::{flash_sale_grab, flash_sale_ticket, flash_sale_unit};
use rouge_tests::fixtures::{self, live_flash_sale as live_sale, members};
use rouge_tests::{Backend, TestApp, on_both_backends};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

const GRAB: &str =
    "mutation($s: ID!, $k: String!) { grabFlashSale(saleId: $s, quantity: 1, idempotencyKey: $k) {
  ticket saleId quantity status failure grabbedAt orderExpectedBy orderWrittenAt order { id } } }";
const ORDER: &str = "query($t: ID!) { flashSaleOrder(ticket: $t) { ticket status orderWrittenAt
  order { id status totalFen } } }";
const MY_ORDERS: &str = "{ myOrders(first: 20) { nodes { id status } } }";

fn key() -> String {
    format!("key-{}", uuid::Uuid::new_v4().simple())
}

async fn tickets(app: &TestApp, sale: i64) -> Vec<flash_sale_ticket::Model> {
    flash_sale_ticket::Entity::find()
        .filter(flash_sale_ticket::Column::SaleId.eq(sale))
        .all(app.db())
        .await
        .unwrap()
}

/// Every unit row is claimed by at most one order, every ORDERED ticket's order claims exactly
/// its units and has exactly one grab record, and no order exists without a ticket.
async fn assert_each_unit_sold_once(app: &TestApp, sale: i64) {
    let units = flash_sale_unit::Entity::find()
        .filter(flash_sale_unit::Column::SaleId.eq(sale))
        .all(app.db())
        .await
        .unwrap();
    let mut per_order: HashMap<i64, i64> = HashMap::new();
    for o in units.iter().filter_map(|u| u.order_id) {
        *per_order.entry(o).or_default() += 1;
    }
    let ordered: HashMap<i64, i64> = tickets(app, sale)
        .await
        .into_iter()
        .filter(|t| t.status == TicketStatus::Ordered)
        .map(|t| (t.order_id.unwrap(), i64::from(t.quantity)))
        .collect();
    assert_eq!(
        per_order, ordered,
        "each ordered ticket's order claims its units"
    );
    let grabs = flash_sale_grab::Entity::find()
        .filter(flash_sale_grab::Column::SaleId.eq(sale))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(grabs.len(), ordered.len(), "one order per ticket");
    assert!(grabs.iter().all(|g| ordered.contains_key(&g.order_id)));
}

/// Over the API: the winner's answer is the ticket (PENDING, no order yet, the order expected
/// 2 s later); `flashSaleOrder` returns the order once written (well within the stated time)
/// and it is in `myOrders`; a replay of the key shows the same ticket with its order; another
/// member asking for the ticket gets NOT_FOUND.
async fn a_winner_gets_a_ticket_at_once_and_the_order_in_time(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 10).await;
    let sale = live_sale(&app, &cat, 3, 1).await;
    let (me, _) = app.login_member("ticket-tia").await;
    let k = key();
    let vars = json!({ "s": sale.id.to_string(), "k": k });
    let grabbed = me.ok(GRAB, vars.clone()).await["grabFlashSale"].clone();
    assert_eq!(grabbed["status"], "PENDING", "{grabbed}");
    assert_eq!(grabbed["order"], json!(null));
    assert_eq!(grabbed["quantity"], 1);
    let at = chrono::DateTime::parse_from_rfc3339(grabbed["grabbedAt"].as_str().unwrap()).unwrap();
    let due =
        chrono::DateTime::parse_from_rfc3339(grabbed["orderExpectedBy"].as_str().unwrap()).unwrap();
    assert_eq!(due - at, Duration::seconds(2));

    let asked = std::time::Instant::now();
    let got = me.ok(ORDER, json!({ "t": grabbed["ticket"] })).await["flashSaleOrder"].clone();
    assert!(asked.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(got["status"], "ORDERED", "{got}");
    assert_eq!(got["order"]["status"], "PENDING_PAYMENT");
    assert_eq!(got["order"]["totalFen"], 9_900);
    let written =
        chrono::DateTime::parse_from_rfc3339(got["orderWrittenAt"].as_str().unwrap()).unwrap();
    assert!(written <= due, "written by {due}: {written}");
    let mine = me.ok(MY_ORDERS, json!({})).await;
    assert!(
        mine["myOrders"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["id"] == got["order"]["id"]),
        "{mine}"
    );
    let again = me.ok(GRAB, vars).await["grabFlashSale"].clone();
    assert_eq!(again["ticket"], grabbed["ticket"]);
    assert_eq!(again["status"], "ORDERED");
    assert_eq!(again["order"]["id"], got["order"]["id"]);

    let (other, _) = app.login_member("ticket-uma").await;
    assert_eq!(
        other.err(ORDER, json!({ "t": grabbed["ticket"] })).await,
        "NOT_FOUND"
    );
    assert_eq!(
        other.err(ORDER, json!({ "t": "987654" })).await,
        "NOT_FOUND"
    );
    assert_each_unit_sold_once(&app, sale.id).await;
}

/// A crash between ticket and order. Winners are answered with tickets while no writer runs (the
/// replica died right after answering); the counters are then lost too (Redis restarted) and
/// rebuilt: the pending tickets' units are not sold again. A writer that dies mid-batch (its
/// transaction holds a ticket and a unit row) leaves them to the next pass; other passes skip
/// them. The restart pass writes every order exactly once (a second pass writes none). A ticket
/// whose order can no longer be written (stale counters offered a unit the database does not
/// have) fails SOLD_OUT after a few passes: nothing is oversold, and the counters get the unit
/// back (the reconcile task settles them to the database).
async fn a_crash_between_ticket_and_order_never_loses_or_double_sells(backend: Backend) {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let app = Arc::new(TestApp::start(backend).await);
    let cat = fixtures::catalog(&app, 10).await;
    let sale = live_sale(&app, &cat, 4, 1).await;
    let m = Arc::new(members(&app, 8).await);
    app.state.flash_sales.pause_order_writing(true);
    for me in &m[..2] {
        let t = flash_sales::grab_flash_sale(&app.state, me, sale.id, 1, &key())
            .await
            .unwrap();
        assert_eq!(t.status, TicketStatus::Pending);
    }
    assert_eq!(tickets(&app, sale.id).await.len(), 2);
    assert!(
        tickets(&app, sale.id)
            .await
            .iter()
            .all(|t| t.order_id.is_none())
    );

    // Redis loses the counters: rebuilt from the database, the pending tickets hold their units.
    let counters_key = keys::flash_sale_counters(sale.id);
    app.state.kv.delete(&[&counters_key]).await.unwrap();
    let tasks: Vec<_> = (2..6)
        .map(|i| {
            let (app, m) = (app.clone(), m.clone());
            tokio::spawn(async move {
                flash_sales::grab_flash_sale(&app.state, &m[i], sale.id, 1, &key())
                    .await
                    .map(|t| t.id)
                    .map_err(|e| e.code())
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(code) => assert_eq!(code, ErrorCode::SoldOut),
        }
    }
    assert_eq!(won, 2, "4 units, 2 held by pending tickets: 2 more sell");
    let (counters, truth) = flash_sales::counters_and_truth(&app.state, sale.id)
        .await
        .unwrap();
    assert_eq!(
        counters.unwrap(),
        truth,
        "pending tickets count in the truth"
    );

    // A writer died mid-batch: its transaction holds the oldest ticket (and, on PostgreSQL, a
    // unit row). Other passes skip what it holds; SQLite has one writer, so it dies first.
    let stuck = app.db().begin().await.unwrap();
    let first = tickets(&app, sale.id)
        .await
        .iter()
        .map(|t| t.id)
        .min()
        .unwrap();
    let postgres = app.db().get_database_backend() == sea_orm::DatabaseBackend::Postgres;
    if postgres {
        stuck
            .execute_unprepared(&format!(
                "SELECT id FROM flash_sale_tickets WHERE id = {first} FOR UPDATE"
            ))
            .await
            .unwrap();
        stuck
            .execute_unprepared(&format!(
                "SELECT id FROM flash_sale_units WHERE sale_id = {} AND order_id IS NULL \
                 ORDER BY id LIMIT 1 FOR UPDATE",
                sale.id
            ))
            .await
            .unwrap();
        let written = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            flash_sales::write_pending_orders(&app.state),
        )
        .await
        .expect("a pass never waits for a dead writer's rows")
        .unwrap();
        assert_eq!(written, 3, "the other three tickets");
    }
    stuck.rollback().await.unwrap();

    // The restart pass: every ticket gets its order, once.
    flash_sales::write_pending_orders(&app.state).await.unwrap();
    assert_eq!(
        flash_sales::write_pending_orders(&app.state).await.unwrap(),
        0,
        "exactly once"
    );
    let all = tickets(&app, sale.id).await;
    assert_eq!(all.len(), 4);
    assert!(
        all.iter().all(|t| t.status == TicketStatus::Ordered),
        "{all:?}"
    );
    assert_each_unit_sold_once(&app, sale.id).await;

    // An order that can no longer be written: stale counters (rebuilt wrong, say) offer a unit
    // the database does not have.
    flash_sales::reconcile(&app.state, sale.id).await.unwrap();
    let forgetful = FlashCounters {
        stock_left: 1,
        ..truth
    };
    fixtures::replace_flash_counters(&app, sale.id, &forgetful).await;
    // Nothing is left in the database either: the sale is sold out there, so the unit the
    // stale counters offered cannot sell twice.
    let last = flash_sales::grab_flash_sale(&app.state, &m[6], sale.id, 1, &key())
        .await
        .unwrap();
    flash_sales::write_pending_orders(&app.state).await.unwrap();
    flash_sales::write_pending_orders(&app.state).await.unwrap();
    flash_sales::write_pending_orders(&app.state).await.unwrap();
    let last = flash_sale_ticket::Entity::find_by_id(last.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.status, TicketStatus::Failed, "{last:?}");
    assert_eq!(last.failure, Some(TicketFailure::SoldOut));
    let (counters, _) = flash_sales::counters_and_truth(&app.state, sale.id)
        .await
        .unwrap();
    assert_eq!(
        counters.unwrap().stock_left,
        1,
        "its unit went back to the counters"
    );
    assert_each_unit_sold_once(&app, sale.id).await;
    let claimed = flash_sale_unit::Entity::find()
        .filter(flash_sale_unit::Column::SaleId.eq(sale.id))
        .filter(flash_sale_unit::Column::OrderId.is_not_null())
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(claimed, 4, "4 units, 4 orders: oversold 0");
    app.state.flash_sales.pause_order_writing(false);
}

/// A ticket the database refuses (the member's limit: counters that forgot her pending ticket
/// granted her a second) fails, and its unit goes back to the sale: the counters had turned
/// another member away, and now sell it to her. Her ticket is NOT_FOUND to the first member.
async fn a_failed_tickets_unit_goes_back_to_the_sale(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 10).await;
    let sale = live_sale(&app, &cat, 2, 1).await;
    let m = members(&app, 2).await;
    app.state.flash_sales.pause_order_writing(true);
    flash_sales::grab_flash_sale(&app.state, &m[0], sale.id, 1, &key())
        .await
        .unwrap();
    // The counters forget the member (a stale rebuild) while her ticket is pending.
    let (_, truth) = flash_sales::counters_and_truth(&app.state, sale.id)
        .await
        .unwrap();
    let forgetful = FlashCounters {
        members: vec![],
        ..truth
    };
    fixtures::replace_flash_counters(&app, sale.id, &forgetful).await;
    let second = flash_sales::grab_flash_sale(&app.state, &m[0], sale.id, 1, &key())
        .await
        .unwrap();
    assert_eq!(
        flash_sales::grab_flash_sale(&app.state, &m[1], sale.id, 1, &key())
            .await
            .map(|t| t.id)
            .map_err(|e| e.code()),
        Err(ErrorCode::SoldOut),
        "the counters gave both units to the one member"
    );
    assert_eq!(
        flash_sales::write_pending_orders(&app.state).await.unwrap(),
        1
    );
    let second = flash_sale_ticket::Entity::find_by_id(second.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.failure, Some(TicketFailure::LimitReached));
    // Its unit is back in the sale: the other member buys it.
    app.state.flash_sales.pause_order_writing(false);
    let t = flash_sales::grab_flash_sale(&app.state, &m[1], sale.id, 1, &key())
        .await
        .unwrap();
    let (t, order) = flash_sales::flash_sale_order(&app.state, &m[1], t.id)
        .await
        .unwrap();
    assert_eq!(t.status, TicketStatus::Ordered);
    assert!(order.is_some());
    assert_each_unit_sold_once(&app, sale.id).await;
    assert_eq!(
        flash_sales::flash_sale_order(&app.state, &m[0], t.id)
            .await
            .map(|_| ())
            .map_err(|e| e.code()),
        Err(ErrorCode::NotFound)
    );
}

on_both_backends!(
    a_winner_gets_a_ticket_at_once_and_the_order_in_time,
    a_crash_between_ticket_and_order_never_loses_or_double_sells,
    a_failed_tickets_unit_goes_back_to_the_sale
);

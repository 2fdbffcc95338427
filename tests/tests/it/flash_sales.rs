//! Flash sales (秒杀): scheduling, grabs decided by the counters in one atomic step, tickets
//! answered at once and orders at the flash price written by the background writer, units
//! returned by unpaid orders, and counters that follow the database after a Redis restart or a
//! crash between the counter and the ticket. (Tickets and a crash between ticket and order:
//! `flash_sale_tickets`.)

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, Utc};
use domain::auth::MemberPrincipal;
use domain::flash_sales::{self, FlashSale, FlashSalesError, NewFlashSale};
use domain::platform::clock::{Clock, ManualClock};
use domain::platform::kv::{FlashCounters, FlashGrab, FlashOutcome, RedisStore, RedisStoreOptions};
use domain::{DomainError, ErrorCode, payments};
use rouge_tests::fixtures::{self, Catalog, live_flash_sale as live_sale, members};
use rouge_tests::{Backend, PrivateRedis, TestApp, on_both_backends};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

const GRAB: &str = "mutation($s: ID!, $q: Int!, $k: String!) { grabFlashSale(saleId: $s, quantity: $q, idempotencyKey: $k) {
  ticket status quantity order { id } } }";
const ORDER: &str = "query($t: ID!) { flashSaleOrder(ticket: $t) { ticket status order {
  id orderNo status subtotalFen discountFen totalFen payDeadline lines { skuId quantity unitPriceFen } discounts { kind amountFen } } } }";
const SCHEDULE: &str = "mutation($i: ScheduleFlashSaleInput!) { scheduleFlashSale(input: $i) {
  id title priceFen stock sold perMemberLimit status } }";

fn key() -> String {
    format!("key-{}", uuid::Uuid::new_v4().simple())
}

/// Members written straight to the database (logging 2,000 in over HTTP would be the test).
async fn schedule(
    app: &TestApp,
    cat: &Catalog,
    stock: i32,
    limit: i32,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> FlashSale {
    flash_sales::schedule_flash_sale(
        &app.state,
        &cat.hq,
        NewFlashSale {
            title: "玫瑰精华 秒杀".into(),
            sku_id: cat.serum_sku,
            price_fen: 9_900,
            stock,
            per_member_limit: limit,
            starts_at,
            ends_at,
        },
    )
    .await
    .unwrap()
}

async fn grab(
    app: &TestApp,
    me: &MemberPrincipal,
    sale: i64,
    quantity: i32,
    key: &str,
) -> Result<flash_sales::GrabTicket, FlashSalesError> {
    flash_sales::grab_flash_sale(&app.state, me, sale, quantity, key).await
}

/// A grab and, for a winner, its order (written by the background writer; waited for as
/// `flashSaleOrder` waits).
async fn grab_order(
    app: &TestApp,
    me: &MemberPrincipal,
    sale: i64,
    quantity: i32,
    key: &str,
) -> Result<domain::orders::Order, FlashSalesError> {
    let ticket = grab(app, me, sale, quantity, key).await?;
    let (ticket, order) = flash_sales::flash_sale_order(&app.state, me, ticket.id).await?;
    Ok(order.unwrap_or_else(|| panic!("the ticket's order is written in time: {ticket:?}")))
}

/// Writes the orders of the tickets still pending (what the writers do within seconds), and
/// waits for the writers started by the grabs (on PostgreSQL a pass skips the tickets another
/// writer holds) until no ticket is pending, for at most 10 seconds.
async fn write_orders(app: &TestApp) {
    for _ in 0..1_000 {
        flash_sales::write_pending_orders(&app.state).await.unwrap();
        let pending = entities::flash_sale_ticket::Entity::find()
            .filter(entities::flash_sale_ticket::Column::Status.eq("PENDING"))
            .count(app.db())
            .await
            .unwrap();
        if pending == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

fn code<T>(r: &Result<T, FlashSalesError>) -> Option<ErrorCode> {
    r.as_ref().err().map(DomainError::code)
}

/// The database's units per member of a sale (grab records of orders not closed).
async fn held_in_db(app: &TestApp, sale: i64) -> HashMap<i64, i64> {
    write_orders(app).await;
    let mut held = HashMap::new();
    for g in entities::flash_sale_grab::Entity::find()
        .filter(entities::flash_sale_grab::Column::SaleId.eq(sale))
        .filter(entities::flash_sale_grab::Column::Status.eq("HELD"))
        .all(app.db())
        .await
        .unwrap()
    {
        *held.entry(g.member_id).or_insert(0) += i64::from(g.quantity);
    }
    held
}

/// The counters equal the database's truth.
async fn assert_counters_match(app: &TestApp, sale: i64) {
    write_orders(app).await;
    let (counters, truth) = flash_sales::counters_and_truth(&app.state, sale)
        .await
        .unwrap();
    let counters = counters.expect("counters loaded");
    assert_eq!(counters, truth, "counters equal the database");
    let held = held_in_db(app, sale).await;
    let mut from_grabs: Vec<(i64, i64)> = held.into_iter().filter(|(_, u)| *u > 0).collect();
    from_grabs.sort_unstable();
    assert_eq!(truth.members, from_grabs, "quotas equal the grab records");
}

async fn concurrent_grabs_sell_exactly_the_units(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 200).await;
    let sale = live_sale(&app, &cat, 100, 1).await;
    let members = Arc::new(members(&app, 2_000).await);
    let app = Arc::new(app);
    let tasks: Vec<_> = (0..5_000)
        .map(|i| {
            let app = app.clone();
            let members = members.clone();
            tokio::spawn(async move {
                // Each member grabs three times in a row (distinct keys), above the limit of 1.
                let me = &members[(i / 3) % members.len()];
                let r = grab(&app, me, sale.id, 1, &format!("grab-{i:06}")).await;
                (me.member_id, r.map(|o| o.id).map_err(|e| e.code()))
            })
        })
        .collect();
    let mut won: HashMap<i64, usize> = HashMap::new();
    let mut refusals: HashMap<&'static str, usize> = HashMap::new();
    for t in tasks {
        let (member, r) = t.await.unwrap();
        match r {
            Ok(_) => *won.entry(member).or_default() += 1,
            Err(code) => *refusals.entry(code.as_str()).or_default() += 1,
        }
    }
    assert_eq!(won.values().sum::<usize>(), 100, "refusals: {refusals:?}");
    assert!(won.values().all(|n| *n == 1), "no member above the limit");
    assert!(
        refusals
            .keys()
            .all(|c| *c == "SOLD_OUT" || *c == "LIMIT_REACHED"),
        "only sold out or limit reached under load: {refusals:?}"
    );
    assert_units_claimed_once(&app, sale.id).await;
    let ordered = entities::flash_sale_ticket::Entity::find()
        .filter(entities::flash_sale_ticket::Column::SaleId.eq(sale.id))
        .filter(entities::flash_sale_ticket::Column::Status.eq("ORDERED"))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(ordered, 100, "every winner's ticket has its order");
    // `sold` is settled in bulk (the reconcile task), not by each winner's order.
    flash_sales::reconcile(&app.state, sale.id).await.unwrap();
    let row = entities::flash_sale::Entity::find_by_id(sale.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.sold, 100);
    let orders = entities::flash_sale_grab::Entity::find()
        .filter(entities::flash_sale_grab::Column::SaleId.eq(sale.id))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(orders, 100, "exactly 100 orders");
    let (counters, _) = flash_sales::counters_and_truth(&app.state, sale.id)
        .await
        .unwrap();
    assert_eq!(counters.unwrap().stock_left, 0);
    assert_counters_match(&app, sale.id).await;
}

/// Grabs that find a live sale's counters missing (the store lost them, or nothing warmed the
/// sale) load them once between them, not once each: the others wait for that load instead of
/// each holding a pooled connection to read the same snapshot (or wait on the sale row).
async fn concurrent_grabs_on_cold_counters_load_them_once(backend: Backend) {
    let counter = Arc::new(AtomicUsize::new(0));
    let app = TestApp::builder(backend)
        .count_queries(counter.clone())
        .start()
        .await;
    let cat = fixtures::catalog(&app, 200).await;
    let sale = live_sale(&app, &cat, 100, 1).await;
    let members = members(&app, 40).await;
    app.state.flash_sales.pause_order_writing(true);
    let counters_key = domain::platform::kv::keys::flash_sale_counters(sale.id);
    app.state.kv.delete(&[&counters_key]).await.unwrap();
    let app = Arc::new(app);
    counter.store(0, Ordering::SeqCst);
    let tasks: Vec<_> = members
        .into_iter()
        .map(|me| {
            let app = app.clone();
            tokio::spawn(async move { grab(&app, &me, sale.id, 1, &key()).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let statements = counter.load(Ordering::SeqCst);
    // Each grab reads the sale row and the tickets share inserts; the counters' snapshot is
    // read once (46–64 statements). Loaded once per grab, the 40 grabs ran about 165.
    assert!(
        statements < 40 * 2,
        "{statements} statements for 40 grabs on cold counters"
    );
    app.state.flash_sales.pause_order_writing(false);
    assert_counters_match(&app, sale.id).await;
}

async fn grabs_make_orders_at_the_flash_price_and_replay(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 20).await;
    let hq = app.login_staff("hq-demo").await;
    let now = Utc::now();
    let input = |price: i64, sku: i64| {
        json!({ "i": {
            "title": "玫瑰精华 秒杀", "skuId": sku.to_string(), "priceFen": price, "stock": 3,
            "perMemberLimit": 2, "startsAt": (now - Duration::minutes(1)).to_rfc3339(),
            "endsAt": (now + Duration::hours(1)).to_rfc3339() } })
    };
    assert_eq!(
        hq.err(SCHEDULE, input(0, cat.serum_sku)).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(hq.err(SCHEDULE, input(9_900, 987_654)).await, "NOT_FOUND");
    let ba = app.login_staff("ba-demo").await;
    assert_eq!(
        ba.err(SCHEDULE, input(9_900, cat.serum_sku)).await,
        "FORBIDDEN"
    );
    let sale = hq.ok(SCHEDULE, input(9_900, cat.serum_sku)).await["scheduleFlashSale"].clone();
    assert_eq!(sale["status"], "LIVE");
    let sale_id = sale["id"].as_str().unwrap().to_owned();

    let (me, _) = app.login_member("flash-fay").await;
    let k1 = key();
    let grabbed =
        me.ok(GRAB, json!({ "s": sale_id, "q": 1, "k": k1 })).await["grabFlashSale"].clone();
    assert_eq!(grabbed["quantity"], 1);
    // The order follows the ticket: `flashSaleOrder` waits for it.
    let order = me.ok(ORDER, json!({ "t": grabbed["ticket"] })).await["flashSaleOrder"].clone();
    assert_eq!(order["status"], "ORDERED", "{order}");
    let order = order["order"].clone();
    assert_eq!(order["status"], "PENDING_PAYMENT");
    assert_eq!(order["totalFen"], 9_900);
    assert_eq!(order["subtotalFen"], 29_900);
    assert_eq!(order["discounts"][0]["kind"], "FLASH_SALE");
    assert_eq!(order["discounts"][0]["amountFen"], 20_000);
    // The same key answers with the same order; with another quantity it is a conflict.
    let again =
        me.ok(GRAB, json!({ "s": sale_id, "q": 1, "k": k1 })).await["grabFlashSale"].clone();
    assert_eq!(again["ticket"], grabbed["ticket"]);
    assert_eq!(
        again["order"]["id"], order["id"],
        "a replay shows the written order"
    );
    assert_eq!(
        me.err(GRAB, json!({ "s": sale_id, "q": 2, "k": k1 })).await,
        "CONFLICT"
    );
    // A second unit is within the limit of 2; a third is not.
    me.ok(GRAB, json!({ "s": sale_id, "q": 1, "k": key() }))
        .await;
    let k3 = key();
    assert_eq!(
        me.err(GRAB, json!({ "s": sale_id, "q": 1, "k": k3 })).await,
        "LIMIT_REACHED"
    );
    // A refusal replays too.
    assert_eq!(
        me.err(GRAB, json!({ "s": sale_id, "q": 1, "k": k3 })).await,
        "LIMIT_REACHED"
    );
    let (other, _) = app.login_member("flash-gus").await;
    assert_eq!(
        other
            .err(GRAB, json!({ "s": sale_id, "q": 2, "k": key() }))
            .await,
        "SOLD_OUT"
    );
    other
        .ok(GRAB, json!({ "s": sale_id, "q": 1, "k": key() }))
        .await;
    assert_eq!(
        other
            .err(GRAB, json!({ "s": sale_id, "q": 1, "k": key() }))
            .await,
        "SOLD_OUT"
    );
    // The grab is created before the member says where it goes: it cannot be paid until she
    // does, and then it is paid like any other order.
    let pay = "mutation($id: ID!) { payOrder(orderId: $id) { signType } }";
    let refused = me.raw(pay, json!({ "id": order["id"] })).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["reason"], "DELIVERY_ADDRESS_MISSING",
        "{refused}"
    );
    let address = "mutation($id: ID!, $a: DeliveryAddressInput!) { setOrderDeliveryAddress(orderId: $id, delivery: $a) { fulfilment delivery { recipient phoneMasked province city district detail } } }";
    let bad = json!({ "recipient": "方菲", "phone": "not a phone", "province": "上海", "city": "上海", "detail": "南京西路 1515 号" });
    assert_eq!(
        me.err(address, json!({ "id": order["id"], "a": bad }))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        other
            .err(address, json!({ "id": order["id"], "a": { "recipient": "x", "phone": "13800000000", "province": "上海", "city": "上海", "detail": "x" } }))
            .await,
        "FORBIDDEN"
    );
    let good = json!({ "recipient": "方菲", "phone": "13812345678", "province": "上海", "city": "上海", "district": "静安区", "detail": "南京西路 1515 号" });
    let addressed = me
        .ok(address, json!({ "id": order["id"], "a": good }))
        .await;
    assert_eq!(
        addressed["setOrderDeliveryAddress"]["delivery"],
        json!({ "recipient": "方菲", "phoneMasked": "138****5678", "province": "上海", "city": "上海", "district": "静安区", "detail": "南京西路 1515 号" })
    );
    // Sealed at rest: the stored column holds neither the phone nor the street.
    let order_id: i64 = order["id"].as_str().unwrap().parse().unwrap();
    let stored = entities::order::Entity::find_by_id(order_id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .delivery_address
        .unwrap();
    assert!(!stored.contains("13812345678") && !stored.contains("南京西路"));
    me.ok(pay, json!({ "id": order["id"] })).await;
    assert_counters_match(&app, sale_id.parse().unwrap()).await;
}

async fn a_member_is_throttled(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 5).await;
    let sale = live_sale(&app, &cat, 1, 1).await;
    let me = &members(&app, 1).await[0];
    let mut codes = Vec::new();
    for _ in 0..15 {
        codes.push(code(&grab(&app, me, sale.id, 1, &key()).await));
    }
    assert_eq!(codes[0], None);
    assert!(codes.contains(&Some(ErrorCode::RateLimited)), "{codes:?}");
}

async fn sales_answer_clearly_before_and_after_their_window(backend: Backend) {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 5).await;
    let now = clock.now();
    let sale = schedule(
        &app,
        &cat,
        5,
        1,
        now + Duration::hours(1),
        now + Duration::hours(2),
    )
    .await;
    assert_eq!(sale.status, flash_sales::FlashSaleStatus::Scheduled);
    let me = &members(&app, 1).await[0];
    let k = key();
    let early = grab(&app, me, sale.id, 1, &k).await;
    assert_eq!(code(&early), Some(ErrorCode::BadUserInput));
    assert!(
        early.unwrap_err().to_string().contains("not started"),
        "says it has not started"
    );
    // Warmed ahead of the start by the task.
    clock.advance(Duration::minutes(55));
    flash_sales::warm_upcoming(&app.state).await.unwrap();
    clock.advance(Duration::minutes(5));
    // The same key works once the sale opens: "not started" is not remembered.
    grab(&app, me, sale.id, 1, &k).await.unwrap();
    clock.advance(Duration::hours(1));
    let late = members(&app, 1).await;
    assert_eq!(
        code(&grab(&app, &late[0], sale.id, 1, &key()).await),
        Some(ErrorCode::Expired)
    );
    assert_eq!(
        code(&grab(&app, me, 987_654, 1, &key()).await),
        Some(ErrorCode::NotFound)
    );
    assert_eq!(
        code(&grab(&app, me, sale.id, 0, &key()).await),
        Some(ErrorCode::BadUserInput)
    );
}

async fn unpaid_flash_orders_give_the_unit_back(backend: Backend) {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 5).await;
    let sale = live_sale(&app, &cat, 1, 1).await;
    let m = members(&app, 2).await;
    let (a, b) = (&m[0], &m[1]);
    let order = grab_order(&app, a, sale.id, 1, &key()).await.unwrap();
    assert_eq!(
        code(&grab(&app, b, sale.id, 1, &key()).await),
        Some(ErrorCode::SoldOut)
    );
    clock.advance(Duration::minutes(16));
    assert_eq!(payments::close_overdue_orders(&app.state).await.unwrap(), 1);
    let closed = entities::order::Entity::find_by_id(order.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(closed.status, domain::orders::OrderStatus::Closed);
    assert_counters_match(&app, sale.id).await;
    let (counters, _) = flash_sales::counters_and_truth(&app.state, sale.id)
        .await
        .unwrap();
    assert_eq!(counters.unwrap().stock_left, 1, "the unit is back");
    grab(&app, b, sale.id, 1, &key()).await.unwrap();
    assert_eq!(
        code(&grab(&app, a, sale.id, 1, &key()).await),
        Some(ErrorCode::SoldOut),
        "the member's limit was given back too, but the unit is gone"
    );
    assert_counters_match(&app, sale.id).await;
}

async fn counters_follow_the_database_after_loss_or_crash(backend: Backend) {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 10).await;
    let sale = live_sale(&app, &cat, 5, 2).await;
    let m = members(&app, 3).await;
    grab(&app, &m[0], sale.id, 2, &key()).await.unwrap();
    grab(&app, &m[1], sale.id, 1, &key()).await.unwrap();

    // The store loses the counters (a restart without persistence): rebuilt from the database.
    let counters_key = domain::platform::kv::keys::flash_sale_counters(sale.id);
    app.state.kv.delete(&[&counters_key]).await.unwrap();
    assert_eq!(
        code(&grab(&app, &m[0], sale.id, 1, &key()).await),
        Some(ErrorCode::LimitReached)
    );
    assert_counters_match(&app, sale.id).await;

    // A crash between the counter step and the order: the counter holds a unit no order has.
    let grabbed = app
        .state
        .kv
        .flash_grab(
            &counters_key,
            m[2].member_id,
            1,
            clock.now().timestamp_millis(),
            "crashed-grab",
            None,
        )
        .await
        .unwrap();
    assert_eq!(grabbed, FlashGrab::Decided(FlashOutcome::Granted));
    let (counters, truth) = flash_sales::counters_and_truth(&app.state, sale.id)
        .await
        .unwrap();
    assert_eq!(counters.unwrap().stock_left, truth.stock_left - 1);
    assert_eq!(
        flash_sales::reconcile(&app.state, sale.id).await.unwrap(),
        0,
        "first seen: may be a grab in flight"
    );
    clock.advance(Duration::seconds(31));
    assert_eq!(
        flash_sales::reconcile(&app.state, sale.id).await.unwrap(),
        1
    );
    assert_counters_match(&app, sale.id).await;
    assert_eq!(
        flash_sales::reconcile(&app.state, sale.id).await.unwrap(),
        0
    );
    // The freed units sell: 5 - 3 = 2 left, member 2 may take both.
    grab(&app, &m[2], sale.id, 2, &key()).await.unwrap();
    assert_counters_match(&app, sale.id).await;
}

/// The database keeps each member to the limit on its own: when the counters have lost what
/// members hold (rebuilt from a moment that missed grabs in flight, say), members at their limit
/// grabbing seven times at once get no order (the counters refuse, or the ticket they granted
/// fails at the database's quota), and nobody holds more than the limit.
async fn the_database_alone_keeps_members_to_the_limit(backend: Backend) {
    let app = Arc::new(TestApp::start(backend).await);
    let cat = fixtures::catalog(&app, 200).await;
    let sale = live_sale(&app, &cat, 100, 2).await;
    let m = members(&app, 6).await;
    for me in &m {
        grab(&app, me, sale.id, 2, &key()).await.unwrap();
    }
    // The counters forget every member's units; the sale's units left stay right.
    let (_, truth) = flash_sales::counters_and_truth(&app.state, sale.id)
        .await
        .unwrap();
    let forgetful = FlashCounters {
        members: vec![],
        ..truth
    };
    fixtures::replace_flash_counters(&app, sale.id, &forgetful).await;
    let tasks: Vec<_> = (0..m.len() * 7)
        .map(|i| {
            let (app, me) = (app.clone(), m[i % m.len()].clone());
            tokio::spawn(async move {
                grab(&app, &me, sale.id, 1, &key())
                    .await
                    .map(|t| t.id)
                    .map_err(|e| e.code())
            })
        })
        .collect();
    // The counters (which forgot) grant some: their tickets' orders are refused by the
    // database's quota, so the tickets fail and their units go back.
    let mut tickets = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(ticket) => tickets.push(ticket),
            Err(code) => assert_eq!(code, ErrorCode::LimitReached),
        }
    }
    write_orders(&app).await;
    for id in tickets {
        let t = entities::flash_sale_ticket::Entity::find_by_id(id)
            .one(app.db())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(t.status, flash_sales::TicketStatus::Failed);
        assert_eq!(t.failure, Some(flash_sales::TicketFailure::LimitReached));
        assert_eq!(t.order_id, None);
    }
    let held = held_in_db(&app, sale.id).await;
    assert_eq!(held.len(), m.len());
    assert!(held.values().all(|u| *u == 2), "{held:?}");
    flash_sales::reconcile(&app.state, sale.id).await.unwrap();
    let row = entities::flash_sale::Entity::find_by_id(sale.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.sold, 12);
}

/// Eight grabs under one key at once (a double tap, a retry racing the first): one order, and
/// every answer names it, also for the sale's last unit. Another key of the same member still
/// meets the limit; malformed keys are refused.
async fn grabs_under_one_key_all_answer_with_its_order(backend: Backend) {
    let app = Arc::new(TestApp::start(backend).await);
    let cat = fixtures::catalog(&app, 20).await;
    for stock in [10, 1] {
        let sale = live_sale(&app, &cat, stock, 1).await;
        let me = members(&app, 1).await.remove(0);
        let k = key();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (app, me, k) = (app.clone(), me.clone(), k.clone());
                tokio::spawn(async move { grab(&app, &me, sale.id, 1, &k).await.map(|o| o.id) })
            })
            .collect();
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap().map_err(|e| e.code()));
        }
        assert!(ids.iter().all(|r| *r == ids[0] && r.is_ok()), "{ids:?}");
        let held = held_in_db(&app, sale.id).await;
        assert_eq!(held.get(&me.member_id), Some(&1), "one order");
        assert_eq!(
            code(&grab(&app, &me, sale.id, 1, &key()).await),
            Some(ErrorCode::LimitReached),
            "another key is a new grab"
        );
        assert_counters_match(&app, sale.id).await;
    }
    let sale = live_sale(&app, &cat, 5, 1).await;
    let me = members(&app, 1).await.remove(0);
    for bad in [
        String::new(),
        "k".repeat(300),
        "key\u{1}with-control".into(),
    ] {
        assert_eq!(
            code(&grab(&app, &me, sale.id, 1, &bad).await),
            Some(ErrorCode::BadUserInput),
            "{bad:?}"
        );
    }
}

/// Every held grab's order claims exactly its units, no unit row is claimed by a closed or
/// unknown order, and the order's allocations are the units' batches.
async fn assert_units_claimed_once(app: &TestApp, sale: i64) {
    use entities::{flash_sale_grab, flash_sale_unit, order_allocation};
    write_orders(app).await;
    let units = flash_sale_unit::Entity::find()
        .filter(flash_sale_unit::Column::SaleId.eq(sale))
        .all(app.db())
        .await
        .unwrap();
    let mut per_order: HashMap<i64, i64> = HashMap::new();
    for u in units.iter().filter_map(|u| u.order_id) {
        *per_order.entry(u).or_default() += 1;
    }
    let held: HashMap<i64, i64> = flash_sale_grab::Entity::find()
        .filter(flash_sale_grab::Column::SaleId.eq(sale))
        .filter(flash_sale_grab::Column::Status.eq("HELD"))
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.order_id, i64::from(g.quantity)))
        .collect();
    assert_eq!(per_order, held, "each held order claims exactly its units");
    for (order, n) in &held {
        let allocated: i64 = order_allocation::Entity::find()
            .filter(order_allocation::Column::OrderId.eq(*order))
            .all(app.db())
            .await
            .unwrap()
            .iter()
            .map(|a| i64::from(a.quantity))
            .sum();
        assert_eq!(allocated, *n, "the order is allocated its units");
    }
}

/// One batch of tickets, written with one statement per table: members with room get their
/// orders at the flash price, each claiming exactly its unit; members the counters wrongly let
/// through (they forgot) are refused by the database's quota and their units stay free. A
/// batch with a member twice is written ticket by ticket, to the same rules.
async fn a_batch_of_tickets_is_written_whole_and_kept_to_the_limits(backend: Backend) {
    let app = Arc::new(TestApp::start(backend).await);
    let cat = fixtures::catalog(&app, 200).await;
    let sale = live_sale(&app, &cat, 20, 1).await;
    let m = members(&app, 10).await;
    for me in &m[..4] {
        grab(&app, me, sale.id, 1, &key()).await.unwrap();
    }
    write_orders(&app).await;
    let (_, truth) = flash_sales::counters_and_truth(&app.state, sale.id)
        .await
        .unwrap();
    fixtures::replace_flash_counters(
        &app,
        sale.id,
        &FlashCounters {
            members: vec![],
            ..truth
        },
    )
    .await;
    app.state.flash_sales.pause_order_writing(true);
    let mut tickets = Vec::new();
    for me in &m {
        tickets.push((
            me.member_id,
            grab(&app, me, sale.id, 1, &key()).await.unwrap().id,
        ));
    }
    let written = flash_sales::write_pending_orders(&app.state).await.unwrap();
    assert_eq!(written, 6, "the six members with room");
    for (member_id, id) in tickets {
        let t = entities::flash_sale_ticket::Entity::find_by_id(id)
            .one(app.db())
            .await
            .unwrap()
            .unwrap();
        if m[..4].iter().any(|x| x.member_id == member_id) {
            assert_eq!(t.status, flash_sales::TicketStatus::Failed);
            assert_eq!(t.failure, Some(flash_sales::TicketFailure::LimitReached));
        } else {
            assert_eq!(t.status, flash_sales::TicketStatus::Ordered);
            let order = entities::order::Entity::find_by_id(t.order_id.unwrap())
                .one(app.db())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(order.member_id, member_id);
            assert_eq!(order.total_fen, sale.price_fen);
        }
    }
    assert_units_claimed_once(&app, sale.id).await;
    assert_eq!(held_in_db(&app, sale.id).await.len(), 10);
    assert_eq!(free_units(&app, sale.id).await, 10);

    let pair = live_sale(&app, &cat, 5, 2).await;
    let twice = [
        grab(&app, &m[0], pair.id, 1, &key()).await.unwrap(),
        grab(&app, &m[0], pair.id, 1, &key()).await.unwrap(),
    ];
    assert_eq!(
        flash_sales::write_pending_orders(&app.state).await.unwrap(),
        2
    );
    for ticket in twice {
        let t = entities::flash_sale_ticket::Entity::find_by_id(ticket.id)
            .one(app.db())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(t.status, flash_sales::TicketStatus::Ordered);
    }
    assert_units_claimed_once(&app, pair.id).await;
    app.state.flash_sales.pause_order_writing(false);
    assert_counters_match(&app, pair.id).await;
}

/// Units of the SKU the warehouse can sell.
async fn warehouse_on_hand(app: &TestApp, cat: &Catalog) -> i64 {
    entities::stock_level::Entity::find()
        .filter(entities::stock_level::Column::LocationId.eq(cat.warehouse))
        .filter(entities::stock_level::Column::SkuId.eq(cat.serum_sku))
        .all(app.db())
        .await
        .unwrap()
        .iter()
        .map(|l| l.quantity)
        .sum()
}

async fn free_units(app: &TestApp, sale: i64) -> u64 {
    write_orders(app).await;
    entities::flash_sale_unit::Entity::find()
        .filter(entities::flash_sale_unit::Column::SaleId.eq(sale))
        .filter(entities::flash_sale_unit::Column::OrderId.is_null())
        .count(app.db())
        .await
        .unwrap()
}

/// The new winners' path (issue 19): a warmed sale's units are set aside from the warehouse as
/// rows; winners' orders claim rows and touch neither the sale's row nor the stock rows; an
/// unpaid order that closes frees its rows (the stock stays with the sale); once the sale and
/// its payment time-out ended, the free units go back to the warehouse, and an order closing
/// after that returns its own. The ledger balances throughout.
async fn winners_claim_units_set_aside_when_the_sale_is_warmed(backend: Backend) {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 10).await;
    let sale = live_sale(&app, &cat, 4, 1).await;
    assert_eq!(warehouse_on_hand(&app, &cat).await, 6, "4 units set aside");
    assert_eq!(free_units(&app, sale.id).await, 4);
    assert!(
        domain::inventory::ledger_balances(&app.state)
            .await
            .unwrap()
    );

    let m = Arc::new(members(&app, 5).await);
    let app = Arc::new(app);
    let tasks: Vec<_> = (0..3)
        .map(|i| {
            let (app, m) = (app.clone(), m.clone());
            tokio::spawn(async move { grab(&app, &m[i], sale.id, 1, &key()).await.unwrap() })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(free_units(&app, sale.id).await, 1);
    assert_units_claimed_once(&app, sale.id).await;
    assert_eq!(
        warehouse_on_hand(&app, &cat).await,
        6,
        "winners' orders take no stock row: the units were set aside"
    );
    let row = entities::flash_sale::Entity::find_by_id(sale.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.sold, 0, "the sale's row is not touched by winners");
    flash_sales::reconcile(&app.state, sale.id).await.unwrap();
    let row = entities::flash_sale::Entity::find_by_id(sale.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.sold, 3, "settled in bulk");

    // Unpaid past the time-out: the rows are free again, the stock stays with the sale.
    clock.advance(Duration::minutes(16));
    assert_eq!(payments::close_overdue_orders(&app.state).await.unwrap(), 3);
    assert_eq!(free_units(&app, sale.id).await, 4);
    assert_eq!(warehouse_on_hand(&app, &cat).await, 6);
    assert!(
        domain::inventory::ledger_balances(&app.state)
            .await
            .unwrap()
    );
    assert_counters_match(&app, sale.id).await;
    let late = grab_order(&app, &m[3], sale.id, 1, &key()).await.unwrap();
    assert_units_claimed_once(&app, sale.id).await;

    // The sale ends; after its payment time-out the three free units go back.
    clock.advance(Duration::minutes(60));
    flash_sales::reconcile_active(&app.state).await.unwrap();
    assert_eq!(free_units(&app, sale.id).await, 0);
    assert_eq!(warehouse_on_hand(&app, &cat).await, 9);
    assert!(
        domain::inventory::ledger_balances(&app.state)
            .await
            .unwrap()
    );
    flash_sales::reconcile_active(&app.state).await.unwrap();
    assert_eq!(warehouse_on_hand(&app, &cat).await, 9, "settled once");

    // The last order was never paid either: closing it after the settlement returns its unit
    // to the warehouse as any order does, and its unit row goes.
    assert_eq!(payments::close_overdue_orders(&app.state).await.unwrap(), 1);
    let closed = entities::order::Entity::find_by_id(late.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(closed.status, domain::orders::OrderStatus::Closed);
    assert_eq!(
        warehouse_on_hand(&app, &cat).await,
        10,
        "every unit is back"
    );
    assert!(
        domain::inventory::ledger_balances(&app.state)
            .await
            .unwrap()
    );
    let rows = entities::flash_sale_unit::Entity::find()
        .filter(entities::flash_sale_unit::Column::SaleId.eq(sale.id))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(rows, 0);
}

/// A crash between the grab and its order (issue 19), at both places it can happen: after the
/// counters granted the unit and before the order's transaction (the counters hold a unit no
/// order has: reconciling gives it back), and inside the order's transaction after it picked a
/// unit row (the database rolls it back: the row is free again). On PostgreSQL other winners
/// meanwhile get the other units without waiting for the stuck one. The unit is never lost and
/// never sold twice: the sale ends with every unit claimed by exactly one order.
async fn a_crash_between_grab_and_order_never_loses_or_double_sells_a_unit(backend: Backend) {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 10).await;
    let sale = live_sale(&app, &cat, 3, 1).await;
    let m = Arc::new(members(&app, 6).await);
    let counters_key = domain::platform::kv::keys::flash_sale_counters(sale.id);

    // 1. Granted by the counters, then the replica died before writing the order.
    let grabbed = app
        .state
        .kv
        .flash_grab(
            &counters_key,
            m[0].member_id,
            1,
            clock.now().timestamp_millis(),
            "crashed-before-order",
            None,
        )
        .await
        .unwrap();
    assert_eq!(grabbed, FlashGrab::Decided(FlashOutcome::Granted));

    // 2. A winner's transaction picked (and locked) a unit row, then its replica died.
    let stuck = app.db().begin().await.unwrap();
    let backend_kind = app.db().get_database_backend();
    let pick = match backend_kind {
        sea_orm::DatabaseBackend::Postgres => format!(
            "SELECT id FROM flash_sale_units WHERE sale_id = {} AND order_id IS NULL \
             ORDER BY id LIMIT 1 FOR UPDATE",
            sale.id
        ),
        _ => format!(
            "UPDATE flash_sale_units SET claimed_at = claimed_at WHERE id = (SELECT id FROM \
             flash_sale_units WHERE sale_id = {} AND order_id IS NULL ORDER BY id LIMIT 1)",
            sale.id
        ),
    };
    stuck.execute_unprepared(&pick).await.unwrap();
    let app = Arc::new(app);
    if backend_kind == sea_orm::DatabaseBackend::Postgres {
        // The other winners skip the locked row instead of queueing behind it.
        let tasks: Vec<_> = (1..3)
            .map(|i| {
                let (app, m) = (app.clone(), m.clone());
                tokio::spawn(async move {
                    tokio::time::timeout(
                        std::time::Duration::from_secs(20),
                        grab(&app, &m[i], sale.id, 1, &key()),
                    )
                    .await
                    .expect("a winner never waits for another winner's unit")
                    .map(|o| o.id)
                    .map_err(|e| e.code())
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        stuck.rollback().await.unwrap();
    } else {
        // SQLite: one writer at a time; the stuck writer dies first.
        stuck.rollback().await.unwrap();
        for i in 1..3 {
            grab(&app, &m[i], sale.id, 1, &key()).await.unwrap();
        }
    }
    assert_eq!(
        free_units(&app, sale.id).await,
        1,
        "the stuck unit is free again"
    );
    assert_units_claimed_once(&app, sale.id).await;

    // The crashed grab's unit goes back to the counters once the difference outlives the grace.
    flash_sales::reconcile(&app.state, sale.id).await.unwrap();
    clock.advance(Duration::seconds(31));
    assert_eq!(
        flash_sales::reconcile(&app.state, sale.id).await.unwrap(),
        1
    );
    assert_counters_match(&app, sale.id).await;

    // The last unit is sold exactly once, to one of several members grabbing at once.
    let tasks: Vec<_> = (3..6)
        .map(|i| {
            let (app, m) = (app.clone(), m.clone());
            tokio::spawn(async move { code(&grab(&app, &m[i], sale.id, 1, &key()).await) })
        })
        .collect();
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    assert_eq!(codes.iter().filter(|c| c.is_none()).count(), 1, "{codes:?}");
    assert!(
        codes
            .iter()
            .all(|c| c.is_none() || *c == Some(ErrorCode::SoldOut)),
        "{codes:?}"
    );
    assert_eq!(free_units(&app, sale.id).await, 0);
    assert_units_claimed_once(&app, sale.id).await;
    let orders = entities::flash_sale_grab::Entity::find()
        .filter(entities::flash_sale_grab::Column::SaleId.eq(sale.id))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(orders, 3, "three units, three orders");
    assert_counters_match(&app, sale.id).await;
}

on_both_backends!(
    the_database_alone_keeps_members_to_the_limit,
    grabs_under_one_key_all_answer_with_its_order,
    concurrent_grabs_sell_exactly_the_units,
    concurrent_grabs_on_cold_counters_load_them_once,
    grabs_make_orders_at_the_flash_price_and_replay,
    a_member_is_throttled,
    a_batch_of_tickets_is_written_whole_and_kept_to_the_limits,
    sales_answer_clearly_before_and_after_their_window,
    unpaid_flash_orders_give_the_unit_back,
    counters_follow_the_database_after_loss_or_crash,
    winners_claim_units_set_aside_when_the_sale_is_warmed,
    a_crash_between_grab_and_order_never_loses_or_double_sells_a_unit
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_outage_mid_sale_never_oversells() {
    let mut redis = PrivateRedis::start().await;
    let mut options = RedisStoreOptions::new(redis.url(), "flash:");
    options.response_timeout = std::time::Duration::from_millis(300);
    options.connection_timeout = std::time::Duration::from_millis(300);
    let kv = RedisStore::connect(&options).unwrap();
    let app = Arc::new(
        TestApp::builder(Backend::Production)
            .kv(Arc::new(kv))
            .start()
            .await,
    );
    let cat = fixtures::catalog(&app, 100).await;
    let sale = live_sale(&app, &cat, 50, 1).await;
    let m = Arc::new(members(&app, 120).await);
    let wave = |range: std::ops::Range<usize>| {
        let tasks: Vec<_> = range
            .map(|i| {
                let app = app.clone();
                let m = m.clone();
                tokio::spawn(async move {
                    code(&grab(&app, &m[i], sale.id, 1, &format!("wave-{i:04}-{}", key())).await)
                })
            })
            .collect();
        async move {
            let mut codes = Vec::new();
            for t in tasks {
                codes.push(t.await.unwrap());
            }
            codes
        }
    };
    let first = wave(0..20).await;
    assert!(first.iter().all(Option::is_none), "{first:?}");

    redis.kill().await;
    let down = wave(20..30).await;
    assert!(
        down.iter().all(|c| *c == Some(ErrorCode::Unavailable)),
        "grabs answer UNAVAILABLE while Redis is down: {down:?}"
    );

    // Back, empty: the sale continues from the database's truth.
    redis.restart().await;
    let mut ready = false;
    for _ in 0..200 {
        if app.state.kv.ping().await.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(ready, "Redis answers again");
    let again = wave(0..20).await;
    assert!(
        again.iter().all(|c| *c == Some(ErrorCode::LimitReached)),
        "the first buyers' limits survive the restart: {again:?}"
    );
    let rest = wave(20..120).await;
    let won = rest.iter().filter(|c| c.is_none()).count();
    assert_eq!(won, 30, "exactly the units left: {rest:?}");
    assert!(
        rest.iter()
            .all(|c| c.is_none() || *c == Some(ErrorCode::SoldOut)),
        "{rest:?}"
    );
    assert_units_claimed_once(&app, sale.id).await;
    flash_sales::reconcile(&app.state, sale.id).await.unwrap();
    let row = entities::flash_sale::Entity::find_by_id(sale.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.sold, 50, "nothing oversold");
    assert_counters_match(&app, sale.id).await;
}

//! The store's day close (日结): takings by tender add up to the sales facts and the payments,
//! the cash difference is recorded with its reason, a closed day never changes (a sale recorded
//! after the close is an adjustment on the next open day), a manager closes only her own
//! store's day, and two closes at once make one.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use domain::auth::{StaffPrincipal, StaffRole};
use domain::day_close::{self, CloseDay, DayCloseError};
use domain::orders::{self, PaymentMethod};
use domain::platform::clock::ManualClock;
use domain::pricing::LineInput;
use domain::stored_value;
use entities::sales_fact;
use rouge_tests::fixtures::{self, Catalog};
use rouge_tests::{Backend, Gql, TestApp, on_both_backends};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

const FIGURES: &str = "sales { wechatPayFen cashFen bankCardFen alipayFen storedValueFen storedValuePrincipalFen storedValueBonusFen totalFen }
  salesCount couponDiscountFen
  refunds { cashFen bankCardFen wechatPayFen storedValueFen totalFen } refundsCount netTakingsFen
  topUps { cashFen bankCardFen wechatPayFen totalFen } topUpBonusFen topUpsCount
  expensesFen expensesCount cashFen";

fn day_query() -> String {
    format!(
        "query($s: ID!, $d: Date!) {{ storeDay(storeId: $s, date: $d) {{ storeId date status expectedCashFen
  figures {{ {FIGURES} }} adjustmentFigures {{ {FIGURES} }}
  adjustments {{ kind eventDate reference amountFen }}
  expenses {{ category amountFen note }}
  close {{ countedCashFen differenceFen differenceReason note closedBy }} }} }}"
    )
}

fn close_mutation() -> String {
    format!(
        "mutation($s: ID!, $d: Date!, $c: Fen!, $n: String, $r: String) {{ closeStoreDay(storeId: $s, date: $d, countedCashFen: $c, note: $n, differenceReason: $r) {{ status expectedCashFen
  figures {{ {FIGURES} }} adjustments {{ kind eventDate reference amountFen }}
  close {{ countedCashFen differenceFen differenceReason note }} }} }}"
    )
}

const EXPENSE: &str = "mutation($i: StoreExpenseInput!) { recordStoreExpense(input: $i) { id category amountFen date } }";
const MONTH: &str = "query($s: ID!, $m: String!) { storeMonth(storeId: $s, month: $m) { month closedDays cashDifferenceFen
  days { date status cashDifferenceFen figures { salesCount netTakingsFen } adjustmentFigures { salesCount netTakingsFen } }
  totals { salesCount netTakingsFen expensesFen sales { cashFen } }
  expensesByCategory { category amountFen } } }";

fn key() -> String {
    format!("key-{}", uuid::Uuid::new_v4().simple())
}

/// `hh:mm` on a day in Shanghai.
fn at(day: &str, hour: u32, minute: u32) -> DateTime<Utc> {
    let d = fixtures::date(day);
    let local = d.and_hms_opt(hour, minute, 0).unwrap();
    Utc.from_utc_datetime(&(local - chrono::Duration::hours(8)))
}

fn fen(v: &Value) -> i64 {
    v.as_str()
        .unwrap_or_else(|| panic!("not a Fen: {v}"))
        .parse()
        .unwrap()
}

async fn sell(
    app: &TestApp,
    ba: &StaffPrincipal,
    member: i64,
    cat: &Catalog,
    method: PaymentMethod,
) -> orders::Order {
    orders::record_in_store_sale(
        &app.state,
        ba,
        member,
        &[LineInput {
            sku_id: cat.serum_sku,
            quantity: 1,
        }],
        method,
        true,
        &key(),
    )
    .await
    .unwrap()
}

async fn store_day(gql: &Gql, store: i64, date: &str) -> Value {
    gql.ok(&day_query(), json!({ "s": store.to_string(), "d": date }))
        .await["storeDay"]
        .clone()
}

/// Σ net of the store's sales facts on a business day.
async fn facts_net(app: &TestApp, store: i64, date: &str) -> i64 {
    sales_fact::Entity::find()
        .filter(sales_fact::Column::StoreId.eq(store))
        .filter(sales_fact::Column::BusinessDate.eq(fixtures::date(date)))
        .all(app.db())
        .await
        .unwrap()
        .iter()
        .map(|f| f.net_fen)
        .sum()
}

async fn takings_add_up_and_the_cash_difference_is_recorded(backend: Backend) {
    let clock = Arc::new(ManualClock::new(at("2026-11-10", 10, 0)));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 50).await;
    let store = cat.store_id;
    let ba = fixtures::staff_principal(&app, "ba-demo").await;
    let (_, member) = app.login_member("tina").await;
    let member: i64 = member.parse().unwrap();
    // Two cash sales, one by card, one by WeChat at the counter; a cash top-up with which the
    // member pays a sale from her balance; one cash sale refunded.
    let cash1 = sell(&app, &ba, member, &cat, PaymentMethod::Cash).await;
    let cash2 = sell(&app, &ba, member, &cat, PaymentMethod::Cash).await;
    let card = sell(&app, &ba, member, &cat, PaymentMethod::Card).await;
    let wechat = sell(&app, &ba, member, &cat, PaymentMethod::Wechat).await;
    let top_up = stored_value::record_counter_top_up(
        &app.state,
        &ba,
        stored_value::CounterTopUp {
            member_id: member,
            plan_id: None,
            amount_fen: Some(100_000),
            tender: PaymentMethod::Cash,
        },
        &key(),
    )
    .await
    .unwrap();
    let by_balance = sell(&app, &ba, member, &cat, PaymentMethod::Balance).await;
    let manager = app.login_staff("manager-demo").await;
    let refund = "mutation($id: ID!) { refundOrder(orderId: $id) { status amountFen } }";
    let r = manager
        .ok(refund, json!({ "id": cash2.id.to_string() }))
        .await;
    assert_eq!(r["refundOrder"]["status"], "SUCCESS");

    let day = store_day(&manager, store, "2026-11-10").await;
    assert_eq!(day["status"], "OPEN");
    let f = &day["figures"];
    assert_eq!(
        fen(&f["sales"]["cashFen"]),
        cash1.total_fen + cash2.total_fen
    );
    assert_eq!(fen(&f["sales"]["bankCardFen"]), card.total_fen);
    assert_eq!(fen(&f["sales"]["wechatPayFen"]), wechat.total_fen);
    assert_eq!(fen(&f["sales"]["storedValueFen"]), by_balance.total_fen);
    assert_eq!(
        fen(&f["sales"]["storedValuePrincipalFen"]),
        by_balance.total_fen
    );
    assert_eq!(f["salesCount"], 5);
    assert_eq!(fen(&f["refunds"]["cashFen"]), cash2.total_fen);
    assert_eq!(f["refundsCount"], 1);
    assert_eq!(fen(&f["topUps"]["cashFen"]), top_up.principal_fen);
    assert_eq!(f["topUpsCount"], 1);
    // Takings by tender add up to the sales facts (sales − refunds) and to the orders.
    let net = fen(&f["netTakingsFen"]);
    assert_eq!(net, facts_net(&app, store, "2026-11-10").await);
    assert_eq!(
        net,
        cash1.total_fen + card.total_fen + wechat.total_fen + by_balance.total_fen
    );
    assert_eq!(
        fen(&f["sales"]["totalFen"]) - fen(&f["refunds"]["totalFen"]),
        net
    );
    // Expected cash: cash sales − cash refunds + cash top-ups (a top-up is not revenue).
    let expected = cash1.total_fen + top_up.principal_fen;
    assert_eq!(fen(&day["expectedCashFen"]), expected);

    // Roles: a BA may not close nor read, finance reads but may not close.
    let close = close_mutation();
    let vars = |counted: i64, reason: Option<&str>| {
        json!({ "s": store.to_string(), "d": "2026-11-10", "c": counted.to_string(),
            "n": "晚班清点", "r": reason })
    };
    let ba_gql = app.login_staff("ba-demo").await;
    assert_eq!(ba_gql.err(&close, vars(expected, None)).await, "FORBIDDEN");
    assert_eq!(
        ba_gql
            .err(
                &day_query(),
                json!({ "s": store.to_string(), "d": "2026-11-10" })
            )
            .await,
        "FORBIDDEN"
    );
    let finance = app.login_staff("finance-demo").await;
    assert_eq!(finance.err(&close, vars(expected, None)).await, "FORBIDDEN");
    assert_eq!(
        store_day(&finance, store, "2026-11-10").await["figures"],
        day["figures"]
    );
    // A manager of another store is refused; a day not begun and bad input change nothing.
    let other_store = fixtures::staff_principal(&app, "ba-bj-demo")
        .await
        .store_id
        .unwrap();
    let mut other_manager = fixtures::staff_principal(&app, "manager-demo").await;
    other_manager.store_id = Some(other_store);
    assert_eq!(other_manager.role, StaffRole::Manager);
    let attempt = |p: StaffPrincipal, date: &str| {
        let state = app.state.clone();
        let date = fixtures::date(date);
        async move {
            day_close::close_store_day(
                &state,
                &p,
                CloseDay {
                    store_id: store,
                    date,
                    counted_cash_fen: expected,
                    note: None,
                    difference_reason: None,
                },
            )
            .await
        }
    };
    assert!(matches!(
        attempt(other_manager.clone(), "2026-11-10").await,
        Err(DayCloseError::Auth(_))
    ));
    let own_manager = fixtures::staff_principal(&app, "manager-demo").await;
    assert!(matches!(
        attempt(own_manager.clone(), "2026-11-11").await,
        Err(DayCloseError::FutureDay)
    ));
    assert_eq!(manager.err(&close, vars(-1, None)).await, "BAD_USER_INPUT");
    // ¥5 short without a reason is refused; with the reason it is recorded.
    let short = manager.raw(&close, vars(expected - 500, None)).await;
    assert_eq!(
        short["errors"][0]["extensions"]["reason"], "DIFFERENCE_REASON_REQUIRED",
        "{short}"
    );
    assert_eq!(
        store_day(&manager, store, "2026-11-10").await["status"],
        "OPEN"
    );
    let closed = manager
        .ok(&close, vars(expected - 500, Some("找零差错")))
        .await["closeStoreDay"]
        .clone();
    assert_eq!(closed["status"], "CLOSED");
    assert_eq!(closed["figures"], day["figures"]);
    assert_eq!(fen(&closed["close"]["differenceFen"]), -500);
    assert_eq!(closed["close"]["differenceReason"], "找零差错");
    assert_eq!(fen(&closed["close"]["countedCashFen"]), expected - 500);
    // Closing again is CONFLICT, and so is an expense on the closed day.
    let again = manager.raw(&close, vars(expected, None)).await;
    assert_eq!(again["errors"][0]["extensions"]["code"], "CONFLICT");
    assert_eq!(
        again["errors"][0]["extensions"]["reason"],
        "DAY_ALREADY_CLOSED"
    );
    let expense = |date: &str, amount: i64| {
        json!({ "i": { "storeId": store.to_string(), "date": date, "category": "SUPPLIES",
            "amountFen": amount, "note": "化妆棉" } })
    };
    assert_eq!(
        manager.err(EXPENSE, expense("2026-11-10", 3_000)).await,
        "CONFLICT"
    );
    assert_eq!(
        manager.err(EXPENSE, expense("2026-11-11", 3_000)).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        manager.err(EXPENSE, expense("2026-11-09", 0)).await,
        "BAD_USER_INPUT"
    );
    manager.ok(EXPENSE, expense("2026-11-09", 3_000)).await;
    // The month (finance): the closed day, its difference, the expense by category.
    let month = finance
        .ok(MONTH, json!({ "s": store.to_string(), "m": "2026-11" }))
        .await["storeMonth"]
        .clone();
    assert_eq!(month["closedDays"], 1);
    assert_eq!(fen(&month["cashDifferenceFen"]), -500);
    assert_eq!(month["days"].as_array().unwrap().len(), 10);
    assert_eq!(fen(&month["totals"]["netTakingsFen"]), net);
    assert_eq!(fen(&month["totals"]["expensesFen"]), 3_000);
    assert_eq!(month["expensesByCategory"][0]["category"], "SUPPLIES");
    assert_eq!(
        finance
            .err(MONTH, json!({ "s": store.to_string(), "m": "2026-1" }))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        entities::store_day_close::Entity::find()
            .count(app.db())
            .await
            .unwrap(),
        1
    );
}

async fn a_sale_after_the_close_is_an_adjustment_on_the_next_open_day(backend: Backend) {
    let clock = Arc::new(ManualClock::new(at("2026-11-10", 11, 0)));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 50).await;
    let store = cat.store_id;
    let ba = fixtures::staff_principal(&app, "ba-demo").await;
    let (_, member) = app.login_member("tina").await;
    let member: i64 = member.parse().unwrap();
    let first = sell(&app, &ba, member, &cat, PaymentMethod::Cash).await;
    // The manager closes the day early, at 20:00.
    clock.set(at("2026-11-10", 20, 0));
    let manager = app.login_staff("manager-demo").await;
    let close = close_mutation();
    let closed = manager
        .ok(
            &close,
            json!({ "s": store.to_string(), "d": "2026-11-10", "c": first.total_fen.to_string() }),
        )
        .await["closeStoreDay"]
        .clone();
    assert_eq!(fen(&closed["close"]["differenceFen"]), 0);
    let before = store_day(&manager, store, "2026-11-10").await;
    // A counter sale at 21:30 the same business day, after the close.
    clock.set(at("2026-11-10", 21, 30));
    let late = sell(&app, &ba, member, &cat, PaymentMethod::Cash).await;
    // The closed day never changes.
    let manager = app.login_staff("manager-demo").await;
    let after = store_day(&manager, store, "2026-11-10").await;
    assert_eq!(before, after);
    assert_eq!(fen(&after["figures"]["sales"]["cashFen"]), first.total_fen);
    assert_eq!(after["figures"]["salesCount"], 1);
    // The next open day carries it as an adjustment, and expects its cash.
    clock.set(at("2026-11-11", 12, 0));
    let manager = app.login_staff("manager-demo").await;
    let next = store_day(&manager, store, "2026-11-11").await;
    assert_eq!(next["status"], "OPEN");
    assert_eq!(next["figures"]["salesCount"], 0);
    assert_eq!(next["adjustments"].as_array().unwrap().len(), 1, "{next}");
    assert_eq!(next["adjustments"][0]["kind"], "SALE");
    assert_eq!(next["adjustments"][0]["eventDate"], "2026-11-10");
    assert_eq!(next["adjustments"][0]["reference"], late.order_no);
    assert_eq!(
        fen(&next["adjustmentFigures"]["sales"]["cashFen"]),
        late.total_fen
    );
    assert_eq!(fen(&next["expectedCashFen"]), late.total_fen);
    // Closing the next day takes the adjustment in; the first day still has not changed.
    let closed_next = manager
        .ok(
            &close,
            json!({ "s": store.to_string(), "d": "2026-11-11", "c": late.total_fen.to_string() }),
        )
        .await["closeStoreDay"]
        .clone();
    assert_eq!(closed_next["adjustments"][0]["reference"], late.order_no);
    assert_eq!(fen(&closed_next["close"]["differenceFen"]), 0);
    assert_eq!(store_day(&manager, store, "2026-11-10").await, before);
    // Nothing is left to adjust on the day after, and the month counts each sale once.
    let after_next = store_day(&manager, store, "2026-11-12").await;
    assert_eq!(after_next["adjustments"], json!([]));
    let month = manager
        .ok(MONTH, json!({ "s": store.to_string(), "m": "2026-11" }))
        .await["storeMonth"]
        .clone();
    assert_eq!(month["totals"]["salesCount"], 2);
    assert_eq!(
        fen(&month["totals"]["sales"]["cashFen"]),
        first.total_fen + late.total_fen
    );
    assert_eq!(month["closedDays"], 2);
}

async fn two_closes_at_once_make_one(backend: Backend) {
    let clock = Arc::new(ManualClock::new(at("2026-11-10", 11, 0)));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 20).await;
    let ba = fixtures::staff_principal(&app, "ba-demo").await;
    let (_, member) = app.login_member("tina").await;
    let member: i64 = member.parse().unwrap();
    let sale = sell(&app, &ba, member, &cat, PaymentMethod::Cash).await;
    let manager = fixtures::staff_principal(&app, "manager-demo").await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let state = app.state.clone();
        let manager = manager.clone();
        tasks.push(tokio::spawn(async move {
            day_close::close_store_day(
                &state,
                &manager,
                CloseDay {
                    store_id: cat.store_id,
                    date: fixtures::date("2026-11-10"),
                    counted_cash_fen: sale.total_fen,
                    note: None,
                    difference_reason: None,
                },
            )
            .await
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(day) => {
                won += 1;
                assert_eq!(day.figures.sales.cash_fen, sale.total_fen);
            }
            Err(DayCloseError::AlreadyClosed) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(
        entities::store_day_close::Entity::find()
            .count(app.db())
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        entities::store_day_close_item::Entity::find()
            .count(app.db())
            .await
            .unwrap(),
        1
    );
}

on_both_backends!(
    takings_add_up_and_the_cash_difference_is_recorded,
    a_sale_after_the_close_is_an_adjustment_on_the_next_open_day,
    two_closes_at_once_make_one,
);

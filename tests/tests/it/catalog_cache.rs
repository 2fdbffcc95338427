//! Anonymous catalog answers are kept for a moment (api::response_cache): never for members,
//! never with another member's allergen warnings; catalog writes show at once, and stock changed
//! behind the catalog's back (an order, another replica) within the stated staleness.

use std::time::Instant;

use api::response_cache::MAX_STALENESS;
use rouge_tests::{Backend, TestApp, eventually, fixtures, on_both_backends};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

const PRODUCTS: &str = "query($cat: ID) { products(first: 10, categoryId: $cat) {
  edges { node { name allergenWarnings skus { id priceFen available } } } } }";

fn serum(data: &Value) -> &Value {
    &data["products"]["edges"][0]["node"]
}

async fn members_never_get_a_kept_answer(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 10).await;
    let vars = json!({ "cat": cat.category.to_string() });
    let anonymous = app.consumer();
    // Kept for anonymous visitors: no warnings in it.
    let first = anonymous.ok(PRODUCTS, vars.clone()).await;
    assert_eq!(serum(&first)["allergenWarnings"], json!([]));
    assert_eq!(anonymous.ok(PRODUCTS, vars.clone()).await, first);

    // Lily (allergic to fragrance) asks the very same thing: her own warnings, not the kept
    // anonymous answer.
    let (lily, _) = app.login_member("demo-lily").await;
    let hers = lily.ok(PRODUCTS, vars.clone()).await;
    assert_eq!(serum(&hers)["allergenWarnings"], json!(["PARFUM"]));
    // Nobody else is shown Lily's warnings: another member, and anonymous visitors again.
    let (other, _) = app.login_member("cache-other").await;
    let theirs = other.ok(PRODUCTS, vars.clone()).await;
    assert_eq!(serum(&theirs)["allergenWarnings"], json!([]));
    let again = anonymous.ok(PRODUCTS, vars.clone()).await;
    assert_eq!(serum(&again)["allergenWarnings"], json!([]));
    // Lily again (her answer is never kept, so it is still hers).
    let hers = lily.ok(PRODUCTS, vars).await;
    assert_eq!(serum(&hers)["allergenWarnings"], json!(["PARFUM"]));
}

async fn price_and_stock_changes_show_in_time(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 10).await;
    let vars = json!({ "cat": cat.category.to_string() });
    let anonymous = app.consumer();
    let before = anonymous.ok(PRODUCTS, vars.clone()).await;
    assert_eq!(serum(&before)["skus"][0]["priceFen"], 29_900);
    assert_eq!(serum(&before)["skus"][0]["available"], 20);

    // HQ changes the price: the next anonymous answer has it (the catalog version moved).
    let hq = app.login_staff("hq-demo").await;
    hq.ok(
        "mutation($id: ID!) { updateSku(id: $id, input: { priceFen: 25900 }) { priceFen } }",
        json!({ "id": cat.serum_sku.to_string() }),
    )
    .await;
    let after = anonymous.ok(PRODUCTS, vars.clone()).await;
    assert_eq!(serum(&after)["skus"][0]["priceFen"], 25_900);

    // Stock taken behind the catalog's back (as an order or another replica does): shown
    // within the stated staleness, never served stale for longer.
    let answered = anonymous.ok(PRODUCTS, vars.clone()).await;
    assert_eq!(serum(&answered)["skus"][0]["available"], 20);
    entities::stock_level::Entity::update_many()
        .col_expr(
            entities::stock_level::Column::Quantity,
            Expr::col(entities::stock_level::Column::Quantity).sub(1),
        )
        .filter(entities::stock_level::Column::SkuId.eq(cat.serum_sku))
        .filter(entities::stock_level::Column::LocationId.eq(cat.warehouse))
        .exec(app.db())
        .await
        .unwrap();
    let changed = Instant::now();
    // A request that starts later than the stated staleness after the change must show it: the
    // server only looks at its caches after the request started, so a slow machine can make the
    // change show later in wall time but never makes such a request stale.
    eventually(10, "the stock change to show", || {
        let (anonymous, vars) = (&anonymous, vars.clone());
        async move {
            let started = changed.elapsed();
            let data = anonymous.ok(PRODUCTS, vars).await;
            let shown = serum(&data)["skus"][0]["available"] == 19;
            assert!(
                // (+ 50 ms: the caches keep time on their own clock)
                shown || started <= MAX_STALENESS + std::time::Duration::from_millis(50),
                "a request started {started:?} after the stock change was answered stale; \
                 stated {MAX_STALENESS:?}"
            );
            shown
        }
    })
    .await;
}

on_both_backends!(
    members_never_get_a_kept_answer,
    price_and_stock_changes_show_in_time
);

//! The catalog as members browse it and HQ keeps it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rouge_tests::fixtures;
use rouge_tests::graphql::code_of;
use rouge_tests::{Backend, TestApp, on_both_backends};
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::json;

const PRODUCTS: &str = "query($first: Int!, $after: String, $cat: ID, $skin: SkinType) {
  products(first: $first, after: $after, categoryId: $cat, skinType: $skin) {
    edges { cursor node { id name ingredients allergenWarnings suitableSkinTypes skus { id priceFen available } } }
    pageInfo { hasNextPage endCursor }
  } }";
/// The staff schema's listing: its `Sku` has the cost.
const STAFF_PRODUCTS: &str = "query($first: Int!, $cat: ID) {
  products(first: $first, categoryId: $cat) { edges { node { skus { id costFen safetyStock } } } } }";

async fn members_browse_with_allergen_warnings(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 10).await;
    let anonymous = app.consumer();
    let data = anonymous
        .ok(
            PRODUCTS,
            json!({ "first": 10, "cat": cat.category.to_string() }),
        )
        .await;
    let edges = data["products"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 2);
    let serum = &edges[0]["node"];
    assert_eq!(serum["name"], "玫瑰精华");
    assert_eq!(serum["ingredients"], json!(["AQUA", "GLYCERIN", "PARFUM"]));
    assert_eq!(
        serum["allergenWarnings"],
        json!([]),
        "no member, no warnings"
    );
    assert_eq!(serum["skus"][0]["priceFen"], 29_900);
    assert_eq!(serum["skus"][0]["available"], 20, "store and warehouse");
    // The consumer schema has no cost at all: asking for it is a validation error.
    let costly = anonymous
        .raw(
            STAFF_PRODUCTS,
            json!({ "first": 10, "cat": cat.category.to_string() }),
        )
        .await;
    assert!(costly["data"].is_null(), "{costly}");
    assert!(
        costly["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("costFen"),
        "{costly}"
    );

    // Lily (demo) is allergic to fragrance (香精), which covers PARFUM.
    let (lily, _) = app.login_member("demo-lily").await;
    let data = lily
        .ok(
            PRODUCTS,
            json!({ "first": 10, "cat": cat.category.to_string() }),
        )
        .await;
    let edges = data["products"]["edges"].as_array().unwrap();
    assert_eq!(edges[0]["node"]["allergenWarnings"], json!(["PARFUM"]));
    assert_eq!(edges[1]["node"]["allergenWarnings"], json!([]));

    // Filters and cursor pages.
    let oily = anonymous
        .ok(
            PRODUCTS,
            json!({ "first": 10, "cat": cat.category.to_string(), "skin": "OILY" }),
        )
        .await;
    let names: Vec<&str> = oily["products"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["控油面霜"]);
    let page1 = anonymous
        .ok(
            PRODUCTS,
            json!({ "first": 1, "cat": cat.category.to_string() }),
        )
        .await;
    assert_eq!(page1["products"]["pageInfo"]["hasNextPage"], true);
    let cursor = page1["products"]["pageInfo"]["endCursor"].clone();
    let page2 = anonymous
        .ok(
            PRODUCTS,
            json!({ "first": 1, "after": cursor, "cat": cat.category.to_string() }),
        )
        .await;
    assert_eq!(page2["products"]["edges"][0]["node"]["name"], "控油面霜");
    assert_eq!(page2["products"]["pageInfo"]["hasNextPage"], false);
    assert_eq!(
        anonymous.err(PRODUCTS, json!({ "first": 0 })).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        anonymous.err(PRODUCTS, json!({ "first": 101 })).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        anonymous
            .err(PRODUCTS, json!({ "first": 5, "after": "zzz" }))
            .await,
        "BAD_USER_INPUT"
    );

    // Staff see the cost.
    let hq = app.login_staff("hq-demo").await;
    let data = hq
        .ok(
            STAFF_PRODUCTS,
            json!({ "first": 10, "cat": cat.category.to_string() }),
        )
        .await;
    assert_eq!(
        data["products"]["edges"][0]["node"]["skus"][0]["costFen"],
        7_475
    );
}

async fn hq_keeps_the_catalog_and_bad_input_changes_nothing(backend: Backend) {
    let app = TestApp::start(backend).await;
    let hq = app.login_staff("hq-demo").await;
    let ba = app.login_staff("ba-demo").await;
    let cat = hq
        .ok(
            "mutation { createCategory(input: { code: \"lips\", name: \"唇妆\" }) { id code } }",
            json!({}),
        )
        .await;
    assert_eq!(cat["createCategory"]["code"], "LIPS");
    let cat_id = cat["createCategory"]["id"].clone();
    let create = "mutation($i: NewProductInput!) { createProduct(input: $i) { id ingredients efficacyClaims } }";
    let product = hq
        .ok(create, json!({ "i": { "code": "LIP-01", "name": "丝绒唇釉", "categoryId": cat_id,
            "efficacyClaims": ["持久"], "ingredients": ["dimethicone", "CI 77491", "Dimethicone"] } }))
        .await;
    assert_eq!(
        product["createProduct"]["ingredients"],
        json!(["DIMETHICONE", "CI 77491"])
    );
    let product_id = product["createProduct"]["id"].clone();
    assert_eq!(
        ba.err(
            create,
            json!({ "i": { "code": "X", "name": "x", "categoryId": cat_id } })
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(
        hq.err(
            create,
            json!({ "i": { "code": "LIP-01", "name": "dup", "categoryId": cat_id } })
        )
        .await,
        "CONFLICT"
    );
    assert_eq!(
        hq.err(
            create,
            json!({ "i": { "code": "LIP-02", "name": "x", "categoryId": "999999" } })
        )
        .await,
        "NOT_FOUND"
    );

    let add = "mutation($i: NewSkuInput!) { addSku(input: $i) { id priceFen shade } }";
    let sku = hq
        .ok(add, json!({ "i": { "productId": product_id, "code": "LIP-01-R01", "shade": "R01 正红", "priceFen": 26000, "costFen": 5000, "barcode": "6901234567892" } }))
        .await;
    assert_eq!(sku["addSku"]["shade"], "R01 正红");
    for bad in [
        json!({ "productId": product_id, "code": "LIP-01-R02", "priceFen": 260.5, "costFen": 1 }),
        json!({ "productId": product_id, "code": "LIP-01-R02", "priceFen": -1, "costFen": 1 }),
        json!({ "productId": product_id, "code": "LIP-01-R02", "priceFen": 100, "costFen": 1, "barcode": "12ab" }),
        json!({ "productId": product_id, "code": "bad code!", "priceFen": 100, "costFen": 1 }),
    ] {
        assert_eq!(
            hq.err(add, json!({ "i": bad })).await,
            "BAD_USER_INPUT",
            "{bad}"
        );
    }
    let skus = app
        .consumer()
        .ok(
            "query($id: ID!) { product(id: $id) { skus { code } } }",
            json!({ "id": product_id }),
        )
        .await;
    assert_eq!(
        skus["product"]["skus"].as_array().unwrap().len(),
        1,
        "refused SKUs were not written"
    );
}

/// A page of 20 products costs the same few queries as a page of 2: reads are batched.
async fn catalog_reads_are_batched(backend: Backend) {
    let counter = Arc::new(AtomicUsize::new(0));
    let app = TestApp::builder(backend)
        .count_queries(counter.clone())
        .start()
        .await;
    let cat = fixtures::catalog(&app, 5).await;
    for i in 0..20 {
        let p = domain::catalog::create_product(
            &app.state,
            &cat.hq,
            domain::catalog::NewProduct {
                code: format!("BULK-{i}"),
                name: format!("商品{i}"),
                description: String::new(),
                category_id: cat.category,
                efficacy_claims: vec![],
                suitable_skin_types: vec![],
                ingredients: vec!["AQUA".into()],
            },
        )
        .await
        .unwrap();
        domain::catalog::add_sku(
            &app.state,
            &cat.hq,
            domain::catalog::NewSku {
                product_id: p.id,
                code: format!("BULK-{i}-A"),
                barcode: None,
                shade: None,
                size: None,
                price_fen: 100,
                cost_fen: 10,
                safety_stock: 0,
            },
        )
        .await
        .unwrap();
    }
    let count = |first: i64| {
        let counter = counter.clone();
        let gql = app.consumer();
        async move {
            counter.store(0, Ordering::SeqCst);
            gql.ok(PRODUCTS, json!({ "first": first })).await;
            counter.load(Ordering::SeqCst)
        }
    };
    let small = count(2).await;
    let large = count(22).await;
    assert!(small > 0, "the callback sees queries");
    assert_eq!(small, large, "queries do not grow with the page size");
    assert!(large <= 4, "{large} queries for a page");
}

const SKU: &str =
    "query($id: ID!) { sku(id: $id) { id productId code priceFen available active } }";
const STAFF_SKU: &str = "query($id: ID!) { sku(id: $id) { id costFen safetyStock } }";

async fn consumers_list_stores_and_read_one_sku(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = fixtures::catalog(&app, 10).await;
    let anonymous = app.consumer();

    // Every store, with its time zone; the id is what pick-up takes.
    let stores = anonymous
        .ok(
            "{ stores { id code name city address timezone } }",
            json!({}),
        )
        .await["stores"]
        .as_array()
        .unwrap()
        .clone();
    let rows = entities::store::Entity::find()
        .order_by_asc(entities::store::Column::Id)
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(stores.len(), rows.len());
    for (shown, row) in stores.iter().zip(&rows) {
        assert_eq!(
            shown,
            &json!({ "id": row.id.to_string(), "code": row.code, "name": row.name,
                     "city": row.city, "address": row.address, "timezone": row.timezone })
        );
    }
    let sh = stores.iter().find(|s| s["code"] == "SH001").unwrap();
    assert_eq!(sh["id"], cat.store_id.to_string());
    assert!(!sh["timezone"].as_str().unwrap().is_empty());

    // One SKU as the catalog shows it: staff-only fields are not in the consumer schema.
    let (member, _) = app.login_member("sku-reader").await;
    for reader in [&anonymous, &member] {
        let sku = reader
            .ok(SKU, json!({ "id": cat.serum_sku.to_string() }))
            .await["sku"]
            .clone();
        assert_eq!(sku["id"], cat.serum_sku.to_string());
        assert_eq!(sku["productId"], cat.serum.to_string());
        assert_eq!(sku["priceFen"], 29_900);
        assert_eq!(sku["available"], 20);
        assert_eq!(sku["active"], true);
        let refused = reader
            .raw(STAFF_SKU, json!({ "id": cat.serum_sku.to_string() }))
            .await;
        assert!(refused["data"].is_null(), "{refused}");
    }
    let hq = app.login_staff("hq-demo").await;
    let staff_view = hq
        .ok(STAFF_SKU, json!({ "id": cat.serum_sku.to_string() }))
        .await["sku"]
        .clone();
    assert!(staff_view["costFen"].is_i64(), "{staff_view}");
    assert!(staff_view["safetyStock"].is_i64(), "{staff_view}");

    // Bad and unknown ids.
    assert_eq!(
        code_of(&anonymous.raw(SKU, json!({ "id": "SKU-1" })).await).as_deref(),
        Some("BAD_USER_INPUT")
    );
    assert_eq!(
        code_of(&anonymous.raw(SKU, json!({ "id": "987654321" })).await).as_deref(),
        Some("NOT_FOUND")
    );
}

on_both_backends!(
    members_browse_with_allergen_warnings,
    hq_keeps_the_catalog_and_bad_input_changes_nothing,
    catalog_reads_are_batched,
    consumers_list_stores_and_read_one_sku
);

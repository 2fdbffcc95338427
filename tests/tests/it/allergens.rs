//! The allergen vocabulary: members and staff read it, members pick allergies by code or by
//! name in either language, and product warnings match through it.

use domain::catalog;
use rouge_tests::{Backend, TestApp, fixtures, on_both_backends};
use serde_json::{Value, json};

const OPTIONS: &str = "{ allergenOptions { code nameZh nameEn inciNames } }";
const PRODUCTS: &str = "query($cat: ID) { products(first: 10, categoryId: $cat) {
  edges { node { name allergenWarnings } } } }";
const PROFILE: &str =
    "mutation($a: [String!]) { updateMyProfile(input: { allergies: $a }) { allergies } }";

fn group<'a>(options: &'a Value, code: &str) -> &'a Value {
    options["allergenOptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["code"] == code)
        .unwrap_or_else(|| panic!("no group {code} in {options}"))
}

fn warnings(data: &Value) -> Vec<(String, Value)> {
    data["products"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["node"]["name"].as_str().unwrap().to_owned(),
                e["node"]["allergenWarnings"].clone(),
            )
        })
        .collect()
}

async fn members_pick_allergens_from_the_vocabulary_and_warnings_match_through_it(
    backend: Backend,
) {
    let app = TestApp::start(backend).await;

    // Anyone in the mini-program and any staff member read the same vocabulary.
    let options = app.consumer().ok(OPTIONS, json!({})).await;
    assert!(options["allergenOptions"].as_array().unwrap().len() >= 10);
    let fragrance = group(&options, "fragrance");
    assert_eq!(fragrance["nameZh"], "香精");
    assert_eq!(fragrance["nameEn"], "Fragrance");
    for inci in ["PARFUM", "LINALOOL", "LIMONENE", "CITRONELLOL", "GERANIOL"] {
        assert!(
            fragrance["inciNames"]
                .as_array()
                .unwrap()
                .contains(&json!(inci)),
            "{inci}"
        );
    }
    assert_eq!(group(&options, "alcohol")["nameZh"], "酒精");
    assert!(
        group(&options, "parabens")["inciNames"]
            .as_array()
            .unwrap()
            .contains(&json!("METHYLPARABEN"))
    );
    let ba = app.login_staff("ba-demo").await;
    assert_eq!(ba.ok(OPTIONS, json!({})).await, options);

    // A product whose label has LINALOOL but no PARFUM, next to the fixture serum (PARFUM)
    // and cream (neither).
    let cat = fixtures::catalog(&app, 10).await;
    catalog::create_product(
        &app.state,
        &cat.hq,
        catalog::NewProduct {
            code: format!("OIL-{}", cat.category),
            name: "薰衣草身体油".into(),
            description: String::new(),
            category_id: cat.category,
            efficacy_claims: vec![],
            suitable_skin_types: vec![],
            ingredients: vec!["SQUALANE".into(), "Linalool".into()],
        },
    )
    .await
    .unwrap();

    // Names in either language and any case become the group's code; INCI names stay.
    let (me, member_id) = app.login_member("allergic").await;
    let set = me
        .ok(
            PROFILE,
            json!({ "a": ["香精", "Fragrance", " fragrance ", "Methylparaben"] }),
        )
        .await;
    assert_eq!(
        set["updateMyProfile"]["allergies"],
        json!(["METHYLPARABEN", "fragrance"])
    );
    let vars = json!({ "cat": cat.category.to_string() });
    assert_eq!(
        warnings(&me.ok(PRODUCTS, vars.clone()).await),
        [
            ("玫瑰精华".to_owned(), json!(["PARFUM"])),
            ("控油面霜".to_owned(), json!([])),
            ("薰衣草身体油".to_owned(), json!(["LINALOOL"])),
        ]
    );

    // A BA's counter preview warns through the vocabulary too.
    let preview = ba
        .ok(
            "query($m: ID!, $l: [OrderLineInput!]!) { previewInStoreSale(memberId: $m, lines: $l) { allergenWarnings { productName allergens } } }",
            json!({ "m": member_id, "l": [{ "skuId": cat.serum_sku.to_string(), "quantity": 1 }] }),
        )
        .await;
    assert_eq!(
        preview["previewInStoreSale"]["allergenWarnings"],
        json!([{ "productName": "玫瑰精华", "allergens": ["PARFUM"] }])
    );

    // A free-text INCI name matches only itself.
    me.ok(PROFILE, json!({ "a": ["Linalool"] })).await;
    assert_eq!(
        warnings(&me.ok(PRODUCTS, vars.clone()).await),
        [
            ("玫瑰精华".to_owned(), json!([])),
            ("控油面霜".to_owned(), json!([])),
            ("薰衣草身体油".to_owned(), json!(["LINALOOL"])),
        ]
    );

    // Bad input changes nothing.
    assert_eq!(
        me.err(PROFILE, json!({ "a": ["香精", "x".repeat(65)] }))
            .await,
        "BAD_USER_INPUT"
    );
    let me_now = me.ok("{ me { allergies } }", json!({})).await;
    assert_eq!(me_now["me"]["allergies"], json!(["LINALOOL"]));
}

on_both_backends!(members_pick_allergens_from_the_vocabulary_and_warnings_match_through_it);

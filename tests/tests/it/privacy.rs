//! Members' data rights (PIPL): the privacy policy gate, and the separate consent to
//! sensitive personal data (skin concerns, allergies) that a withdrawal erases at once.

use domain::privacy::{ConsentKind, DEFAULT_POLICY_VERSION, DEFAULT_SENSITIVE_VERSION};
use entities::{member_allergy, member_consent};
use rouge_tests::{Backend, TestApp, on_both_backends};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};

const ACCEPT: &str = "mutation($v: String!) { acceptPrivacyPolicy(version: $v) { privacyPolicyVersion privacyPolicyAcceptedAt privacyPolicyCurrent } }";
const GRANT: &str = "mutation($v: String!) { grantSensitiveDataConsent(version: $v) { sensitiveDataVersion sensitiveDataConsent } }";
const WITHDRAW: &str =
    "mutation { withdrawSensitiveDataConsent { sensitiveDataVersion sensitiveDataConsent } }";
const UPDATE: &str = "mutation($i: ProfileInput!) { updateMyProfile(input: $i) { skinType skinConcerns allergies } }";
const BA_EDIT: &str = "mutation($id: ID!, $i: SkinProfileInput!) { updateMemberSkinProfile(memberId: $id, input: $i) { skinConcerns allergies } }";

fn reason(body: &Value) -> (&str, &str) {
    let ext = &body["errors"][0]["extensions"];
    (
        ext["code"].as_str().unwrap_or("none"),
        ext["reason"].as_str().unwrap_or("none"),
    )
}

fn member_id(id: &str) -> i64 {
    id.parse().unwrap()
}

async fn consents(app: &TestApp, id: i64) -> Vec<member_consent::Model> {
    member_consent::Entity::find()
        .filter(member_consent::Column::MemberId.eq(id))
        .all(app.db())
        .await
        .unwrap()
}

async fn the_privacy_policy_gates_everything_until_accepted(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (me, id) = app.login_member_without_consent("gated").await;

    // Everything but the policy, its acceptance and the session is refused, and changes nothing.
    for (query, vars) in [
        ("{ me { id } }", json!({})),
        ("{ myCoupons { nodes { id } } }", json!({})),
        (UPDATE, json!({ "i": { "nickname": "Gated" } })),
    ] {
        let body = me.raw(query, vars).await;
        assert_eq!(
            reason(&body),
            ("FORBIDDEN", "CONSENT_REQUIRED"),
            "{query}: {body}"
        );
    }
    // Her data rights do not wait for her acceptance: she may take her data and leave.
    let export = me.ok("{ exportMyData }", json!({})).await;
    assert!(export["exportMyData"].is_object(), "{export}");
    let policy = me.ok("{ privacyPolicy { version url } }", json!({})).await;
    assert_eq!(policy["privacyPolicy"]["version"], DEFAULT_POLICY_VERSION);
    assert!(
        policy["privacyPolicy"]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );

    // Only the version shown may be accepted.
    let body = me.raw(ACCEPT, json!({ "v": "2020-01-01" })).await;
    assert_eq!(reason(&body), ("BAD_USER_INPUT", "POLICY_VERSION_OUTDATED"));
    assert!(consents(&app, member_id(&id)).await.is_empty());

    let accepted = me.ok(ACCEPT, json!({ "v": DEFAULT_POLICY_VERSION })).await;
    assert_eq!(
        accepted["acceptPrivacyPolicy"]["privacyPolicyCurrent"],
        true
    );
    assert!(accepted["acceptPrivacyPolicy"]["privacyPolicyAcceptedAt"].is_string());
    // The same token works on its very next request; accepting again keeps one record.
    let data = me
        .ok(
            "{ me { id nickname consents { privacyPolicyVersion } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["me"]["id"], id);
    assert_eq!(
        data["me"]["nickname"],
        Value::Null,
        "the refused update changed nothing"
    );
    assert_eq!(
        data["me"]["consents"]["privacyPolicyVersion"],
        DEFAULT_POLICY_VERSION
    );
    me.ok(ACCEPT, json!({ "v": DEFAULT_POLICY_VERSION })).await;
    let rows = consents(&app, member_id(&id)).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].kind, ConsentKind::PrivacyPolicy);
    assert_eq!(rows[0].version, DEFAULT_POLICY_VERSION);
    assert!(rows[0].withdrawn_at.is_none());

    // A new session of the same member is not asked again.
    let (again, again_id) = app.login_member_without_consent("gated").await;
    assert_eq!(again_id, id);
    again.ok("{ me { id } }", json!({})).await;

    // Someone who accepted only an older version is asked again.
    let (old, old_id) = app.login_member_without_consent("accepted-long-ago").await;
    member_consent::ActiveModel {
        member_id: Set(member_id(&old_id)),
        kind: Set(ConsentKind::PrivacyPolicy),
        version: Set("2020-01-01".into()),
        granted_at: Set(chrono::Utc::now()),
        withdrawn_at: Set(None),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap();
    let body = old.raw("{ me { id } }", json!({})).await;
    assert_eq!(reason(&body), ("FORBIDDEN", "CONSENT_REQUIRED"));
}

async fn sensitive_data_needs_its_own_consent(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (me, id) = app.login_member_without_consent("sensitive").await;
    me.ok(ACCEPT, json!({ "v": DEFAULT_POLICY_VERSION })).await;
    let ba = app.login_staff("ba-demo").await;
    let ba_sees = |ba: &rouge_tests::Gql, id: String| {
        let ba = ba.clone();
        async move {
            ba.ok(
                "query($id: ID!) { member(id: $id) { consents { sensitiveDataConsent } skinConcerns allergies } }",
                json!({ "id": id }),
            )
            .await["member"]
                .clone()
        }
    };
    assert_eq!(
        ba_sees(&ba, id.clone()).await["consents"]["sensitiveDataConsent"],
        false
    );

    // Without the consent neither the member nor the BA can store concerns or allergies;
    // the skin type alone is fine, and nothing of a refused write is kept.
    let body = me
        .raw(
            UPDATE,
            json!({ "i": { "skinType": "DRY", "allergies": ["fragrance"] } }),
        )
        .await;
    assert_eq!(reason(&body), ("FORBIDDEN", "SENSITIVE_CONSENT_REQUIRED"));
    let body = me
        .raw(UPDATE, json!({ "i": { "skinConcerns": ["ACNE"] } }))
        .await;
    assert_eq!(reason(&body), ("FORBIDDEN", "SENSITIVE_CONSENT_REQUIRED"));
    let body = ba
        .raw(
            BA_EDIT,
            json!({ "id": id, "i": { "allergies": ["LINALOOL"] } }),
        )
        .await;
    assert_eq!(reason(&body), ("FORBIDDEN", "SENSITIVE_CONSENT_REQUIRED"));
    let data = me.ok(UPDATE, json!({ "i": { "skinType": "DRY" } })).await;
    assert_eq!(data["updateMyProfile"]["skinType"], "DRY");
    assert_eq!(data["updateMyProfile"]["allergies"], json!([]));

    let sensitive = me
        .ok("{ sensitiveDataPolicy { version url purpose } }", json!({}))
        .await;
    assert_eq!(
        sensitive["sensitiveDataPolicy"]["version"],
        DEFAULT_SENSITIVE_VERSION
    );
    assert!(sensitive["sensitiveDataPolicy"]["purpose"].is_string());
    let body = me.raw(GRANT, json!({ "v": "old" })).await;
    assert_eq!(reason(&body), ("BAD_USER_INPUT", "POLICY_VERSION_OUTDATED"));
    let granted = me
        .ok(GRANT, json!({ "v": DEFAULT_SENSITIVE_VERSION }))
        .await;
    assert_eq!(
        granted["grantSensitiveDataConsent"]["sensitiveDataConsent"],
        true
    );

    me.ok(
        UPDATE,
        json!({ "i": { "skinConcerns": ["ACNE", "REDNESS"] } }),
    )
    .await;
    let data = ba
        .ok(
            BA_EDIT,
            json!({ "id": id, "i": { "allergies": ["LINALOOL"] } }),
        )
        .await;
    assert_eq!(
        data["updateMemberSkinProfile"]["allergies"],
        json!(["LINALOOL"])
    );
    let seen = ba_sees(&ba, id.clone()).await;
    assert_eq!(seen["consents"]["sensitiveDataConsent"], true);
    assert_eq!(seen["skinConcerns"], json!(["ACNE", "REDNESS"]));

    // Withdrawing erases concerns and allergies at once; the BA sees it on her next read.
    let withdrawn = me.ok(WITHDRAW, json!({})).await;
    assert_eq!(
        withdrawn["withdrawSensitiveDataConsent"]["sensitiveDataConsent"],
        false
    );
    assert_eq!(
        withdrawn["withdrawSensitiveDataConsent"]["sensitiveDataVersion"],
        Value::Null
    );
    let seen = ba_sees(&ba, id.clone()).await;
    assert_eq!(seen["consents"]["sensitiveDataConsent"], false);
    assert_eq!(seen["skinConcerns"], json!([]));
    assert_eq!(seen["allergies"], json!([]));
    let left = member_allergy::Entity::find()
        .filter(member_allergy::Column::MemberId.eq(member_id(&id)))
        .all(app.db())
        .await
        .unwrap();
    assert!(left.is_empty());
    let body = ba
        .raw(
            BA_EDIT,
            json!({ "id": id, "i": { "allergies": ["LINALOOL"] } }),
        )
        .await;
    assert_eq!(reason(&body), ("FORBIDDEN", "SENSITIVE_CONSENT_REQUIRED"));
    // The record of what was agreed stays, closed.
    let rows = consents(&app, member_id(&id)).await;
    let sensitive: Vec<_> = rows
        .iter()
        .filter(|r| r.kind == ConsentKind::SensitiveData)
        .collect();
    assert_eq!(sensitive.len(), 1);
    assert!(sensitive[0].withdrawn_at.is_some());
}

/// Every `member_id` in the document, wherever it is nested.
fn member_ids(v: &Value, out: &mut Vec<i64>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "member_id" {
                    out.extend(v.as_i64());
                }
                member_ids(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| member_ids(v, out)),
        _ => {}
    }
}

async fn export_holds_everything_and_only_hers(backend: Backend) {
    let app = TestApp::start(backend).await;
    let cat = rouge_tests::fixtures::catalog(&app, 20).await;
    let (me, id) = app.login_member("exporter").await;
    me.ok(
        "mutation { updateMyProfile(input: { nickname: \"Export Me\", birthday: \"1990-01-02\", skinConcerns: [ACNE], allergies: [\"LINALOOL\"] }) { id } }",
        json!({}),
    )
    .await;
    me.ok(
        "mutation { bindPhone(code: \"test:13722223333:p1\") { phoneMasked } }",
        json!({}),
    )
    .await;
    let ba = app.login_staff("ba-demo").await;
    ba.ok(
        "mutation($id: ID!) { addMemberTag(memberId: $id, name: \"VIP-EXPORT\") { name } }",
        json!({ "id": id }),
    )
    .await;
    ba.ok(
        "query($id: ID!) { member(id: $id) { phone } }",
        json!({ "id": id }),
    )
    .await;
    let sale = "mutation($m: ID!, $l: [OrderLineInput!]!, $k: String!) {
      recordInStoreSale(memberId: $m, lines: $l, paymentMethod: CASH, acknowledgeAllergens: true, idempotencyKey: $k) { id } }";
    let lines = json!([{ "skuId": cat.serum_sku.to_string(), "quantity": 1 }]);
    ba.ok(
        sale,
        json!({ "m": id, "l": lines, "k": uuid::Uuid::new_v4().to_string() }),
    )
    .await;
    // Someone else's data never shows.
    let (other, other_id) = app.login_member("not-exported").await;
    other
        .ok(
            "mutation { updateMyProfile(input: { nickname: \"Someone Else\" }) { id } }",
            json!({}),
        )
        .await;
    ba.ok(
        sale,
        json!({ "m": other_id, "l": lines, "k": uuid::Uuid::new_v4().to_string() }),
    )
    .await;

    let doc = me.ok("{ exportMyData }", json!({})).await["exportMyData"].clone();
    assert_eq!(doc["format"], domain::privacy::EXPORT_FORMAT);
    assert_eq!(doc["member"]["id"], member_id(&id));
    assert_eq!(doc["member"]["nickname"], "Export Me");
    assert_eq!(doc["member"]["birthday"], "1990-01-02");
    assert_eq!(doc["member"]["phone"], "+8613722223333");
    assert_eq!(doc["member"]["skinConcerns"], json!(["ACNE"]));
    assert_eq!(doc["allergies"], json!(["LINALOOL"]));
    assert!(
        doc["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "VIP-EXPORT")
    );
    let policies = doc["consents"]["policies"].as_array().unwrap();
    for kind in ["PRIVACY_POLICY", "SENSITIVE_DATA"] {
        assert!(
            policies
                .iter()
                .any(|c| c["kind"] == kind && c["version"].is_string()),
            "{kind}: {policies:?}"
        );
    }
    let orders = doc["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(orders[0]["lines"].as_array().unwrap().len(), 1);
    assert!(
        !doc["pointsLedger"].as_array().unwrap().is_empty(),
        "points earned on the sale"
    );
    for list in ["coupons", "bookings", "campaignMessages", "flashSaleGrabs"] {
        assert!(doc[list].is_array(), "{list}");
    }
    assert!(doc["scans"]["redemptions"].is_array() && doc["scans"]["events"].is_array());
    let access = doc["staffAccess"].as_array().unwrap();
    assert!(
        access
            .iter()
            .any(|a| a["staff"] == "静安美容顾问" && a["action"] == "member.phone.read"),
        "{access:?}"
    );
    let mut ids = Vec::new();
    member_ids(&doc, &mut ids);
    assert!(!ids.is_empty());
    assert!(ids.iter().all(|m| *m == member_id(&id)), "{ids:?}");
    let text = doc.to_string();
    for absent in [
        "Someone Else",
        "idempotency_key",
        "phone_cipher",
        "phone_index",
        "openid",
    ] {
        assert!(!text.contains(absent), "{absent} in {text}");
    }
    // The export is audited, and customer service writes the same document.
    let out = std::env::temp_dir().join(format!("export-{}.json", uuid::Uuid::new_v4()));
    api::members_export::write(&app.state, member_id(&id), "ticket 7", &out)
        .await
        .unwrap();
    let mut written: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    std::fs::remove_file(&out).unwrap();
    let mut shown = doc.clone();
    written["generatedAt"] = Value::Null;
    shown["generatedAt"] = Value::Null;
    // The first export's audit entry shows in the second only as a non-staff entry: none.
    assert_eq!(written, shown);
    let exports = entities::audit_log::Entity::find()
        .filter(
            entities::audit_log::Column::Action.eq(entities::audit_log::Action::MemberDataExport),
        )
        .filter(entities::audit_log::Column::SubjectId.eq(member_id(&id)))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(exports.len(), 2);
}

on_both_backends!(
    the_privacy_policy_gates_everything_until_accepted,
    sensitive_data_needs_its_own_consent,
    export_holds_everything_and_only_hers
);

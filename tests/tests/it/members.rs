//! A member logs in with WeChat, keeps a beauty profile and binds a phone; a BA finds them by
//! phone, reads the number (audited), edits the skin profile and tags.

use domain::audit::Action;
use rouge_tests::{Backend, TestApp, on_both_backends};
use sea_orm::EntityTrait;
use serde_json::json;

const ME: &str = "{ me { id memberCode nickname gender birthday region { province city district }
    skinType skinConcerns allergies tags { name source } tier { code } points marketingConsent phoneMasked phone
    profileUpdatedBy } }";

async fn member_profile_round_trip(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (me, id) = app.login_member("alice").await;
    let data = me.ok(ME, json!({})).await;
    assert_eq!(data["me"]["id"], id);
    assert_eq!(data["me"]["tier"]["code"], "MEMBER");
    assert_eq!(data["me"]["points"], 0);
    assert_eq!(data["me"]["tags"], json!([]));

    let update = "mutation($i: ProfileInput!) { updateMyProfile(input: $i) {
        nickname skinType skinConcerns allergies tags { name source } birthday region { city } marketingConsent } }";
    let data = me
        .ok(
            update,
            json!({ "i": {
                "nickname": "  Alice ", "gender": "FEMALE", "birthday": "1995-03-08",
                "region": { "province": "上海市", "city": "上海市", "district": "静安区" },
                "skinType": "SENSITIVE", "skinConcerns": ["REDNESS", "ACNE"],
                "allergies": ["parfum", "Methylisothiazolinone", "PARFUM"], "marketingConsent": true
            }}),
        )
        .await;
    let p = &data["updateMyProfile"];
    assert_eq!(p["nickname"], "Alice");
    assert_eq!(p["skinType"], "SENSITIVE");
    assert_eq!(p["skinConcerns"], json!(["ACNE", "REDNESS"]));
    assert_eq!(p["allergies"], json!(["METHYLISOTHIAZOLINONE", "PARFUM"]));
    assert_eq!(p["tags"], json!([{ "name": "敏感肌", "source": "SYSTEM" }]));
    assert_eq!(p["birthday"], "1995-03-08");
    assert_eq!(p["marketingConsent"], true);

    // The skin-type tag follows the skin type, one at a time.
    let data = me.ok(update, json!({ "i": { "skinType": "OILY" } })).await;
    assert_eq!(
        data["updateMyProfile"]["tags"],
        json!([{ "name": "油性肌", "source": "SYSTEM" }])
    );
    assert_eq!(
        data["updateMyProfile"]["nickname"], "Alice",
        "fields left out stay"
    );

    // Out-of-range values are refused and change nothing.
    for bad in [
        json!({ "nickname": "x".repeat(33) }),
        json!({ "nickname": "   " }),
        json!({ "birthday": "2999-01-01" }),
        json!({ "birthday": "1800-01-01" }),
        json!({ "allergies": ["x".repeat(65)] }),
        json!({ "region": { "province": "", "city": "上海市" } }),
        json!({ "skinType": "OILY", "nickname": "y".repeat(40) }),
    ] {
        assert_eq!(
            me.err(update, json!({ "i": bad })).await,
            "BAD_USER_INPUT",
            "{bad}"
        );
    }
    assert_eq!(
        me.err(update, json!({ "i": { "skinType": "GREASY" } }))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        me.err(update, json!({ "i": { "birthday": "08/03/1995" } }))
            .await,
        "BAD_USER_INPUT"
    );
    let data = me.ok(ME, json!({})).await;
    assert_eq!(data["me"]["skinType"], "OILY");
    assert_eq!(data["me"]["nickname"], "Alice");
    assert_eq!(data["me"]["birthday"], "1995-03-08");

    // Phone binding through WeChat's getuserphonenumber.
    let bind = "mutation($c: String!) { bindPhone(code: $c) { phoneMasked phone } }";
    let data = me.ok(bind, json!({ "c": "test:13912345678:p1" })).await;
    assert_eq!(data["bindPhone"]["phoneMasked"], "139****5678");
    assert_eq!(data["bindPhone"]["phone"], "+8613912345678");
    assert_eq!(
        me.err(bind, json!({ "c": "test:13912345678:p1" })).await,
        "BAD_USER_INPUT",
        "reused code"
    );
    assert_eq!(
        me.err(bind, json!({ "c": "nonsense" })).await,
        "BAD_USER_INPUT",
        "unknown code"
    );

    // Another member cannot take the same number.
    let (bob, _) = app.login_member("bob").await;
    assert_eq!(
        bob.err(bind, json!({ "c": "test:13912345678:p2" })).await,
        "CONFLICT"
    );

    // The number is stored encrypted, found by blind index only.
    let row = entities::member::Entity::find_by_id(id.parse::<i64>().unwrap())
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert!(!row.phone_cipher.clone().unwrap().contains("13912345678"));
    assert!(!row.phone_index.clone().unwrap().contains("13912345678"));

    // A BA finds the member by phone, reads the number (audited), edits the skin profile and tags.
    let ba = app.login_staff("ba-demo").await;
    let find = "query($p: String) { findMember(phone: $p) { id nickname phoneMasked skinType } }";
    let data = ba.ok(find, json!({ "p": "139 1234 5678" })).await;
    assert_eq!(data["findMember"]["id"], id);
    assert_eq!(
        ba.ok(find, json!({ "p": "13900000000" })).await["findMember"],
        json!(null)
    );
    assert_eq!(
        ba.err(find, json!({ "p": "phone" })).await,
        "BAD_USER_INPUT"
    );

    let audited_before = audit_count(&app, &id, Action::MemberPhoneRead).await;
    let data = ba
        .ok(
            "query($id: ID!) { member(id: $id) { phone birthday } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data["member"]["phone"], "+8613912345678");
    assert_eq!(data["member"]["birthday"], "1995-03-08");
    assert_eq!(
        audit_count(&app, &id, Action::MemberPhoneRead).await,
        audited_before + 1
    );
    assert_eq!(audit_count(&app, &id, Action::MemberBirthdayRead).await, 1);
    assert_eq!(audit_count(&app, &id, Action::MemberSearchPhone).await, 1);

    let edit = "mutation($id: ID!, $i: SkinProfileInput!) { updateMemberSkinProfile(memberId: $id, input: $i) {
        skinType allergies profileUpdatedBy profileUpdatedAt tags { name source } } }";
    let data = ba
        .ok(edit, json!({ "id": id, "i": { "skinType": "COMBINATION", "allergies": ["Alcohol Denat."] } }))
        .await;
    let p = &data["updateMemberSkinProfile"];
    assert_eq!(p["skinType"], "COMBINATION");
    assert_eq!(p["allergies"], json!(["ALCOHOL DENAT."]));
    assert!(p["profileUpdatedBy"].is_string(), "who edited is recorded");
    assert!(p["profileUpdatedAt"].is_string(), "when is recorded");
    assert_eq!(p["tags"], json!([{ "name": "混合肌", "source": "SYSTEM" }]));
    assert_eq!(
        ba.err(edit, json!({ "id": id, "i": {} })).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        ba.err(edit, json!({ "id": "999999", "i": { "skinType": "DRY" } }))
            .await,
        "NOT_FOUND"
    );

    let add =
        "mutation($id: ID!, $n: String!) { addMemberTag(memberId: $id, name: $n) { name source } }";
    let remove =
        "mutation($id: ID!, $n: String!) { removeMemberTag(memberId: $id, name: $n) { name } }";
    let data = ba.ok(add, json!({ "id": id, "n": "VIP护肤" })).await;
    assert_eq!(
        data["addMemberTag"],
        json!([{ "name": "混合肌", "source": "SYSTEM" }, { "name": "VIP护肤", "source": "MANUAL" }])
    );
    let again = ba.ok(add, json!({ "id": id, "n": "VIP护肤" })).await;
    assert_eq!(
        again["addMemberTag"].as_array().unwrap().len(),
        2,
        "adding twice changes nothing"
    );
    assert_eq!(
        ba.err(add, json!({ "id": id, "n": "混合肌" })).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        ba.err(remove, json!({ "id": id, "n": "混合肌" })).await,
        "BAD_USER_INPUT",
        "system tags stay"
    );
    assert_eq!(
        ba.err(remove, json!({ "id": id, "n": "nope" })).await,
        "NOT_FOUND"
    );
    let data = ba.ok(remove, json!({ "id": id, "n": "VIP护肤" })).await;
    assert_eq!(data["removeMemberTag"], json!([{ "name": "混合肌" }]));

    // The member sees the BA's edit.
    let data = me.ok(ME, json!({})).await;
    assert_eq!(data["me"]["skinType"], "COMBINATION");
    assert!(data["me"]["profileUpdatedBy"].is_string());

    // HQ reads the audit log; a BA may not.
    let hq = app.login_staff("hq-demo").await;
    let log = "query($id: ID!) { memberAuditLog(memberId: $id) { nodes { action actorKind requestId } } }";
    let data = hq.ok(log, json!({ "id": id })).await;
    let actions: Vec<&str> = data["memberAuditLog"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"MEMBER_PHONE_READ"));
    assert!(actions.contains(&"MEMBER_SKIN_PROFILE_UPDATE"));
    assert!(data["memberAuditLog"]["nodes"][0]["requestId"].is_string());
    assert_eq!(ba.err(log, json!({ "id": id })).await, "FORBIDDEN");

    // Finding by the member QR code.
    let code = me.ok("{ me { memberCode } }", json!({})).await["me"]["memberCode"].clone();
    let data = ba
        .ok(
            "query($c: String) { findMember(memberCode: $c) { id } }",
            json!({ "c": code }),
        )
        .await;
    assert_eq!(data["findMember"]["id"], id);
}

async fn audit_count(app: &TestApp, member_id: &str, action: Action) -> usize {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    entities::audit_log::Entity::find()
        .filter(entities::audit_log::Column::SubjectId.eq(member_id.parse::<i64>().unwrap()))
        .filter(entities::audit_log::Column::Action.eq(action))
        .count(app.db())
        .await
        .unwrap() as usize
}

/// Logging in twice at once as a new WeChat user makes one member; the seeded demo member is
/// reached by its demo WeChat user.
async fn concurrent_first_logins_make_one_member(backend: Backend) {
    let app = TestApp::start(backend).await;
    let logins = (0..20).map(|_| app.login_member("carol"));
    let ids: Vec<String> = futures::future::join_all(logins)
        .await
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let (lily, _) = app.login_member("demo-lily").await;
    let data = lily
        .ok("{ me { nickname skinType allergies } }", json!({}))
        .await;
    assert_eq!(data["me"]["nickname"], "Lily");
    assert_eq!(data["me"]["skinType"], "SENSITIVE");
}

/// Two members racing to bind the same number: one wins, the other gets CONFLICT.
async fn concurrent_phone_binding_has_one_winner(backend: Backend) {
    let app = TestApp::start(backend).await;
    let bind = "mutation($c: String!) { bindPhone(code: $c) { phoneMasked } }";
    let mut members = Vec::new();
    for i in 0..8 {
        members.push(app.login_member(&format!("racer{i}")).await.0);
    }
    let attempts = members
        .iter()
        .enumerate()
        .map(|(i, m)| m.raw(bind, json!({ "c": format!("test:13700000000:r{i}") })));
    let results = futures::future::join_all(attempts).await;
    let wins = results.iter().filter(|r| r["errors"].is_null()).count();
    let conflicts = results
        .iter()
        .filter(|r| rouge_tests::graphql::code_of(r).as_deref() == Some("CONFLICT"))
        .count();
    assert_eq!((wins, conflicts), (1, 7), "{results:?}");
}

on_both_backends!(
    member_profile_round_trip,
    concurrent_first_logins_make_one_member,
    concurrent_phone_binding_has_one_winner
);

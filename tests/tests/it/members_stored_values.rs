//! Members, points, stock and the audit log: a stored skin type, tag source, points reason,
//! movement kind or audit action Rouge does not know is an error (INTERNAL from the API, a
//! database type error from the domain), never read as a default.

use domain::audit::{self, AuditError};
use domain::auth::{StaffPrincipal, StaffRole};
use domain::inventory::{self, InventoryError};
use domain::loyalty::{self, LoyaltyError};
use domain::members::{self, MembersError};
use domain::platform::error::StoreError;
use domain::platform::page::Keyset;
use rouge_tests::graphql::code_of;
use rouge_tests::{Backend, TestApp, on_both_backends};
use sea_orm::{ConnectionTrait, DbErr, Statement};
use serde_json::json;

fn hq() -> StaffPrincipal {
    StaffPrincipal {
        staff_id: 1,
        role: StaffRole::Hq,
        store_id: None,
        session_id: "test".into(),
    }
}

fn db_type_error(err: &StoreError) -> bool {
    matches!(err, StoreError::Db(DbErr::Type(_)))
}

async fn unknown_stored_member_values_are_errors(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (alice, alice_id) = app.login_member("alice").await;
    let (bob, bob_id) = app.login_member("bob").await;
    alice
        .ok(
            "mutation { updateMyProfile(input: { skinType: SENSITIVE }) { skinType } }",
            json!({}),
        )
        .await;
    let hq_api = app.login_staff("hq-demo").await;
    for sql in [
        format!("UPDATE members SET skin_type = 'GREASY' WHERE id = {alice_id}"),
        format!("UPDATE member_tags SET source = 'IMPORTED' WHERE member_id = {alice_id}"),
        format!(
            "INSERT INTO points_ledger (member_id, delta, reason, idempotency_key, remaining, created_at) \
             SELECT id, 10, 'BONUS', 'stored-values-test', 10, created_at FROM members WHERE id = {bob_id}"
        ),
        format!(
            "INSERT INTO audit_log (at, actor_kind, actor_id, action, subject_kind, subject_id, detail) \
             SELECT created_at, 'STAFF', 1, 'member.phone.export', 'MEMBER', id, '{{}}' FROM members WHERE id = {bob_id}"
        ),
        "UPDATE stock_movements SET kind = 'SHRINKAGE' WHERE id = (SELECT MIN(id) FROM stock_movements)"
            .to_owned(),
    ] {
        let done = app.db().execute_unprepared(&sql).await.unwrap();
        assert_eq!(done.rows_affected(), 1, "{sql}");
    }
    let db = app.db();
    let location_id: i64 = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT location_id FROM stock_movements WHERE kind = 'SHRINKAGE'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "location_id")
        .unwrap();
    let alice_id: i64 = alice_id.parse().unwrap();
    let bob_id: i64 = bob_id.parse().unwrap();

    // The domain refuses to read them.
    assert!(matches!(
        members::get(&app.state, alice_id).await,
        Err(MembersError::Store(e)) if db_type_error(&e)
    ));
    assert!(matches!(
        members::tags(&app.state, alice_id).await,
        Err(MembersError::Store(e)) if db_type_error(&e)
    ));
    assert!(matches!(
        loyalty::ledger(&app.state, bob_id, Keyset::first(50)).await,
        Err(LoyaltyError::Store(e)) if db_type_error(&e)
    ));
    assert!(matches!(
        audit::entries_for_member(&app.state, &hq(), bob_id, Keyset::first(50)).await,
        Err(AuditError::Store(e)) if db_type_error(&e)
    ));
    assert!(matches!(
        inventory::movements(&app.state, &hq(), location_id, None, Keyset::first(100)).await,
        Err(InventoryError::Store(e)) if db_type_error(&e)
    ));

    // The API says INTERNAL without the cause.
    let answers = [
        alice.raw("{ me { skinType } }", json!({})).await,
        bob.raw("{ myPointsLedger { nodes { reason } } }", json!({}))
            .await,
        hq_api
            .raw(
                "query($id: ID!) { memberAuditLog(memberId: $id) { nodes { action } } }",
                json!({ "id": bob_id.to_string() }),
            )
            .await,
    ];
    for body in answers {
        assert_eq!(code_of(&body).as_deref(), Some("INTERNAL"), "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        for cause in ["GREASY", "BONUS", "export"] {
            assert!(!message.contains(cause), "{message}");
        }
    }
}

on_both_backends!(unknown_stored_member_values_are_errors);

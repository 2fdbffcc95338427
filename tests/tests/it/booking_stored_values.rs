//! Booking: a stored status, reminder outcome or product list Rouge does not know is an error
//! (INTERNAL from the API, a database type error from the domain), never read as a default;
//! what Rouge wrote before the columns were typed reads the same, and is written the same.

use chrono::{Duration, Utc};
use domain::auth::MemberPrincipal;
use domain::booking::{self, BookingError, BookingStatus};
use domain::platform::error::StoreError;
use domain::platform::page::Keyset;
use entities::{booking as booking_row, booking_service, store};
use rouge_tests::graphql::code_of;
use rouge_tests::{Backend, TestApp, on_both_backends};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
};
use serde_json::json;

fn is_type_error(result: Result<impl std::fmt::Debug, BookingError>) -> bool {
    matches!(
        result,
        Err(BookingError::Store(StoreError::Db(DbErr::Type(_))))
    )
}

/// A booking row as Rouge writes it, for the demo skin test at the first store.
async fn booking_of(app: &TestApp, member_id: i64, key: &str) -> i64 {
    let service = booking_service::Entity::find()
        .filter(booking_service::Column::Code.eq("SKIN-TEST"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let store = store::Entity::find().one(app.db()).await.unwrap().unwrap();
    let starts_at = Utc::now() + Duration::days(2);
    booking_row::ActiveModel {
        member_id: Set(member_id),
        store_id: Set(store.id),
        service_id: Set(service.id),
        ba_id: Set(1),
        starts_at: Set(starts_at),
        ends_at: Set(starts_at + Duration::minutes(20)),
        holds_until: Set(starts_at + Duration::minutes(30)),
        status: Set(BookingStatus::Booked),
        price_fen: Set(0),
        idempotency_key: Set(key.into()),
        request_hash: Set("x".into()),
        checked_in_at: Set(None),
        checked_in_by: Set(None),
        redeemed_at: Set(None),
        redeemed_by: Set(None),
        products_used: Set(None),
        notes: Set(None),
        cancelled_at: Set(None),
        reminder_sent_at: Set(None),
        reminder_outcome: Set(None),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(app.db())
    .await
    .unwrap()
    .id
}

async fn unknown_stored_booking_values_are_errors(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (alice, alice_id) = app.login_member("alice").await;
    let alice_id: i64 = alice_id.parse().unwrap();
    let me = MemberPrincipal {
        member_id: alice_id,
        session_id: "test".into(),
    };
    let old = booking_of(&app, alice_id, "stored-old").await;
    let bad_status = booking_of(&app, alice_id, "stored-status").await;
    let bad_outcome = booking_of(&app, alice_id, "stored-outcome").await;
    let bad_products = booking_of(&app, alice_id, "stored-products").await;
    for sql in [
        // What Rouge wrote before the columns were typed.
        format!(
            "UPDATE bookings SET status = 'REDEEMED', products_used = '[3,1]', \
             reminder_outcome = 'NO_CONSENT' WHERE id = {old}"
        ),
        format!("UPDATE bookings SET status = 'LATE' WHERE id = {bad_status}"),
        format!("UPDATE bookings SET reminder_outcome = 'BOUNCED' WHERE id = {bad_outcome}"),
        format!("UPDATE bookings SET products_used = '[\"serum\"]' WHERE id = {bad_products}"),
    ] {
        let done = app.db().execute_unprepared(&sql).await.unwrap();
        assert_eq!(done.rows_affected(), 1, "{sql}");
    }

    let read = booking::my_booking(&app.state, &me, old).await.unwrap();
    assert_eq!(read.status, BookingStatus::Redeemed);
    assert_eq!(read.products_used, vec![3, 1]);
    let row = booking_row::Entity::find_by_id(old)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.reminder_outcome,
        Some(booking::ReminderOutcome::NoConsent)
    );

    // The domain refuses to read them.
    for id in [bad_status, bad_outcome, bad_products] {
        assert!(
            is_type_error(booking::my_booking(&app.state, &me, id).await),
            "booking {id}"
        );
    }
    assert!(is_type_error(
        booking::my_bookings(&app.state, &me, false, Keyset::first(20)).await
    ));

    // The API says INTERNAL without the cause.
    for id in [bad_status, bad_outcome, bad_products] {
        let body = alice
            .raw(
                "query($id: ID!) { myBooking(id: $id) { status productsUsed } }",
                json!({ "id": id.to_string() }),
            )
            .await;
        assert_eq!(code_of(&body).as_deref(), Some("INTERNAL"), "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(
            !message.contains("LATE") && !message.contains("BOUNCED") && !message.contains("serum"),
            "{message}"
        );
    }
    let list = alice
        .raw("{ myBookings { nodes { id } } }", json!({}))
        .await;
    assert_eq!(code_of(&list).as_deref(), Some("INTERNAL"), "{list}");
}

on_both_backends!(unknown_stored_booking_values_are_errors);

/// Required skills stay comma-separated text (sorted, each once), as before they were typed.
async fn required_skills_are_stored_as_before(backend: Backend) {
    let app = TestApp::start(backend).await;
    let hq = app.login_staff("hq-demo").await;
    let made = hq
        .ok(
            "mutation($i: NewBookingServiceInput!) { createBookingService(input: $i) { id requiredSkills } }",
            json!({ "i": {
                "code": "STORED-SKILLS", "name": "双人护理", "durationMinutes": 60,
                "bufferMinutes": 0, "priceFen": 0, "requiredSkills": ["MAKEUP", "FACIAL", "MAKEUP"]
            } }),
        )
        .await;
    assert_eq!(
        made["createBookingService"]["requiredSkills"],
        json!(["FACIAL", "MAKEUP"])
    );
    let id: i64 = made["createBookingService"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let db = app.db();
    let text: String = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!("SELECT required_skills FROM booking_services WHERE id = {id}"),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "required_skills")
        .unwrap();
    assert_eq!(text, "FACIAL,MAKEUP");
    let none: String = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT required_skills FROM booking_services WHERE code = 'SKIN-TEST'".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "required_skills")
        .unwrap();
    assert_eq!(none, "");
}

on_both_backends!(required_skills_are_stored_as_before);

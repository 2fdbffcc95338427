//! Campaigns: a stored status, state or document Rouge does not know is an error (INTERNAL
//! from the API, a database type error from the domain), never read as a default.

use domain::auth::{StaffPrincipal, StaffRole};
use domain::campaigns::{self, CampaignsError};
use domain::error::StoreError;
use rouge_tests::graphql::code_of;
use rouge_tests::{Backend, TestApp, on_both_backends};
use sea_orm::{ConnectionTrait, DbErr};
use serde_json::json;

const TPL: &str = "tpl_stored";

const CREATE: &str =
    "mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { id status kind } }";

fn hq() -> StaffPrincipal {
    StaffPrincipal {
        staff_id: 1,
        role: StaffRole::Hq,
        store_id: None,
        session_id: "test".into(),
    }
}

fn is_type_error(result: Result<impl std::fmt::Debug, CampaignsError>) -> bool {
    matches!(
        result,
        Err(CampaignsError::Store(StoreError::Db(DbErr::Type(_))))
    )
}

async fn unknown_stored_campaign_values_are_errors(backend: Backend) {
    let app = TestApp::start(backend).await;
    let hq_api = app.login_staff("hq-demo").await;
    hq_api
        .ok(
            "mutation($i: RegisterSubscriptionTemplateInput!) { registerSubscriptionTemplate(input: $i) { id } }",
            json!({ "i": { "templateId": TPL, "title": "活动通知", "keys": [{ "key": "thing1", "kind": "thing" }] } }),
        )
        .await;
    let create = || async {
        let made = hq_api
            .ok(
                CREATE,
                json!({ "i": {
                    "name": "冬季", "segment": { "all": [] }, "templateId": TPL,
                    "values": [{ "key": "thing1", "value": "冬季礼遇" }],
                    "page": "pages/campaign/index"
                } }),
            )
            .await;
        assert_eq!(made["createCampaign"]["status"], "DRAFT");
        assert_eq!(made["createCampaign"]["kind"], "MANUAL");
        made["createCampaign"]["id"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
    };
    let (bad_status, bad_values, bad_state) = (create().await, create().await, create().await);
    for sql in [
        format!("UPDATE campaigns SET status = 'ARCHIVED' WHERE id = {bad_status}"),
        format!("UPDATE campaigns SET template_values = '[\"thing1\"]' WHERE id = {bad_values}"),
        format!(
            "INSERT INTO campaign_deliveries (campaign_id, member_id, state, attempts, next_attempt_at) \
             SELECT {bad_state}, id, 'LOST', 0, created_at FROM members ORDER BY id LIMIT 1"
        ),
    ] {
        let done = app.db().execute_unprepared(&sql).await.unwrap();
        assert_eq!(done.rows_affected(), 1, "{sql}");
    }

    // The domain refuses to read them.
    assert!(is_type_error(
        campaigns::get(&app.state, &hq(), bad_status).await
    ));
    assert!(is_type_error(
        campaigns::get(&app.state, &hq(), bad_values).await
    ));
    assert!(is_type_error(
        campaigns::report_of(&app.state, bad_state).await
    ));
    // A transition reads the campaign first: an unknown status is not taken for a draft.
    assert!(is_type_error(
        campaigns::schedule(&app.state, &hq(), bad_status, None).await
    ));

    // The API says INTERNAL without the cause.
    for (query, id) in [
        (
            "query($id: ID!) { campaign(id: $id) { status } }",
            bad_status,
        ),
        (
            "query($id: ID!) { campaign(id: $id) { values { key } } }",
            bad_values,
        ),
        (
            "query($id: ID!) { campaignReport(id: $id) { audience } }",
            bad_state,
        ),
        (
            "mutation($id: ID!) { cancelCampaign(id: $id) { status } }",
            bad_status,
        ),
    ] {
        let body = hq_api.raw(query, json!({ "id": id.to_string() })).await;
        assert_eq!(
            code_of(&body).as_deref(),
            Some("INTERNAL"),
            "{query}: {body}"
        );
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(
            !message.contains("ARCHIVED") && !message.contains("LOST"),
            "{message}"
        );
    }
    let list = hq_api.raw("{ campaigns { id } }", json!({})).await;
    assert_eq!(code_of(&list).as_deref(), Some("INTERNAL"), "{list}");
}

on_both_backends!(unknown_stored_campaign_values_are_errors);

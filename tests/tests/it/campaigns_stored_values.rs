//! Campaigns: a stored status, state or document Rouge does not know is an error (INTERNAL
//! from the API, a database type error from the domain), never read as a default.

use domain::auth::{StaffPrincipal, StaffRole};
use domain::campaigns::{self, CampaignsError};
use domain::platform::error::StoreError;
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
    let list = hq_api
        .raw("{ campaigns { nodes { id } } }", json!({}))
        .await;
    assert_eq!(code_of(&list).as_deref(), Some("INTERNAL"), "{list}");
}

on_both_backends!(unknown_stored_campaign_values_are_errors);

/// Segment rules are JSON text in `campaigns.segment_rule`: a rule written before its values
/// were typed reads the same, a rule made now is stored as the old code wrote it, and a value
/// Rouge does not know fails the read.
async fn stored_segment_rules_read_as_before(backend: Backend) {
    use domain::booking::BookingStatus;
    use domain::campaigns::{CampaignKind, Lifecycle, RfmSegment, SegmentRule};
    use domain::members::{SkinConcern, SkinType};

    let app = TestApp::start(backend).await;
    let hq_api = app.login_staff("hq-demo").await;
    hq_api
        .ok(
            "mutation($i: RegisterSubscriptionTemplateInput!) { registerSubscriptionTemplate(input: $i) { id } }",
            json!({ "i": { "templateId": TPL, "title": "活动通知", "keys": [{ "key": "thing1", "kind": "thing" }] } }),
        )
        .await;
    let create = |segment: serde_json::Value| {
        let hq_api = &hq_api;
        async move {
            let made = hq_api
                .ok(
                    CREATE,
                    json!({ "i": {
                        "name": "分群", "segment": segment, "templateId": TPL,
                        "values": [{ "key": "thing1", "value": "冬季礼遇" }],
                        "page": "pages/campaign/index"
                    } }),
                )
                .await;
            made["createCampaign"]["id"]
                .as_str()
                .unwrap()
                .parse::<i64>()
                .unwrap()
        }
    };
    let stored_text = |id: i64| {
        let db = app.db();
        async move {
            db.query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                format!("SELECT segment_rule FROM campaigns WHERE id = {id}"),
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<String>("", "segment_rule")
            .unwrap()
        }
    };

    // Made through the API with enums, stored as the old code wrote the strings.
    let made = create(json!({ "all": [
        { "skinTypes": ["OILY", "COMBINATION"] },
        { "skinConcerns": ["ACNE"] },
        { "lifecycles": ["AT_RISK"] },
        { "rfmSegments": ["BIG_SPENDERS"] },
        { "booked": { "status": "NO_SHOW" } }
    ] }))
    .await;
    assert_eq!(
        stored_text(made).await,
        r#"{"type":"ALL","rules":[{"type":"SKIN_TYPE","types":["OILY","COMBINATION"]},{"type":"SKIN_CONCERN","concerns":["ACNE"]},{"type":"LIFECYCLE","stages":["AT_RISK"]},{"type":"RFM","segments":["BIG_SPENDERS"]},{"type":"BOOKED","service_id":null,"status":"NO_SHOW","since":null,"before":null}]}"#
    );

    // Written by the old code (strings), read as the typed rule.
    let old = create(json!({ "all": [] })).await;
    let old_text = r#"{"type":"ALL","rules":[{"type":"SKIN_TYPE","types":["SENSITIVE"]},{"type":"SKIN_CONCERN","concerns":["REDNESS","PORES"]},{"type":"LIFECYCLE","stages":["AT_RISK","LOST"]},{"type":"RFM","segments":["CHAMPIONS"]},{"type":"NOT_MESSAGED_BY","kind":"WIN_BACK","since":"2026-11-01T00:00:00Z"},{"type":"BOOKED","service_id":null,"status":"REDEEMED","since":"2026-11-01","before":null},{"type":"MARKETING_CONSENT","value":true}]}"#;
    let unknown = create(json!({ "all": [] })).await;
    for sql in [
        format!("UPDATE campaigns SET segment_rule = '{old_text}' WHERE id = {old}"),
        format!(
            "UPDATE campaigns SET segment_rule = '{}' WHERE id = {unknown}",
            old_text.replace("\"LOST\"", "\"SLEEPY\"")
        ),
    ] {
        let done = app.db().execute_unprepared(&sql).await.unwrap();
        assert_eq!(done.rows_affected(), 1, "{sql}");
    }
    let read = campaigns::get(&app.state, &hq(), old).await.unwrap();
    let since = chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert_eq!(
        read.segment,
        SegmentRule::All {
            rules: vec![
                SegmentRule::SkinType {
                    types: vec![SkinType::Sensitive]
                },
                SegmentRule::SkinConcern {
                    concerns: vec![SkinConcern::Redness, SkinConcern::Pores]
                },
                SegmentRule::Lifecycle {
                    stages: vec![Lifecycle::AtRisk, Lifecycle::Lost]
                },
                SegmentRule::Rfm {
                    segments: vec![RfmSegment::Champions]
                },
                SegmentRule::NotMessagedBy {
                    kind: CampaignKind::WinBack,
                    since
                },
                SegmentRule::Booked {
                    service_id: None,
                    status: Some(BookingStatus::Redeemed),
                    since: chrono::NaiveDate::from_ymd_opt(2026, 11, 1),
                    before: None
                },
                SegmentRule::MarketingConsent { value: true },
            ]
        }
    );
    // Scheduling reads and keeps it: the stored text is untouched.
    campaigns::schedule(&app.state, &hq(), old, None)
        .await
        .unwrap();
    assert_eq!(stored_text(old).await, old_text);

    // A value Rouge does not know is an error, not a default.
    assert!(is_type_error(
        campaigns::get(&app.state, &hq(), unknown).await
    ));
    let body = hq_api
        .raw(
            "query($id: ID!) { campaign(id: $id) { status } }",
            json!({ "id": unknown.to_string() }),
        )
        .await;
    assert_eq!(code_of(&body).as_deref(), Some("INTERNAL"), "{body}");
    assert!(
        !body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("SLEEPY"),
        "{body}"
    );
}

on_both_backends!(stored_segment_rules_read_as_before);

//! Report exports (issue 17): `exportReport` queues a job the worker runs; the CSV and the XLSX
//! hold the figures `salesReport` returns; LINES exports show members by id and masked phone
//! only; the download link is signed, valid an hour (then 403, as is an altered one); every
//! export is audited; another staff's job is NOT_FOUND; a manager's export holds her store only.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

use chrono::Duration;
use domain::orders::PaymentMethod;
use domain::platform::clock::ManualClock;
use entities::audit_log;
use entities::sales_fact::{self, SalesEvent};
use rouge_tests::fixtures;
use rouge_tests::{Backend, Gql, TestApp, on_both_backends};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};
use serde_json::{Value, json};

const REPORT: &str = "query($q: ReportQuery!) { salesReport(query: $q) {
  rows { keys { key label } values { metric fen number } }
  totals { metric fen number } } }";
const EXPORT: &str = "mutation($q: ReportQuery!, $f: ExportFormat!, $d: ExportDetail!) {
  exportReport(query: $q, format: $f, detail: $d) { id status rowsDone rowsTotal url } }";
const JOB: &str = "query($id: ID!) { exportJob(id: $id) {
  id status format detail rowsDone rowsTotal url expiresAt } }";
const PHONE: &str = "13812341234";
const MASKED: &str = "138****1234";

/// A member with a bound phone number.
async fn member_with_phone(app: &TestApp, name: &str) -> i64 {
    let (me, id) = app.login_member(name).await;
    me.ok(
        "mutation($c: String!) { bindPhone(code: $c) { phoneMasked } }",
        json!({ "c": format!("test:{PHONE}:{name}") }),
    )
    .await;
    id.parse().unwrap()
}

/// Queues an export, runs the worker's pass and returns the finished job.
async fn export(gql: &Gql, app: &TestApp, q: &Value, format: &str, detail: &str) -> Value {
    let job = gql
        .ok(EXPORT, json!({ "q": q, "f": format, "d": detail }))
        .await["exportReport"]
        .clone();
    assert_eq!(job["status"], "QUEUED");
    assert!(job["url"].is_null());
    let ran = domain::reports::run_queued_exports(&app.state)
        .await
        .unwrap();
    assert_eq!(ran, 1);
    let done = gql.ok(JOB, json!({ "id": job["id"] })).await["exportJob"].clone();
    assert_eq!(done["status"], "DONE", "{done}");
    assert_eq!(done["format"], format);
    assert_eq!(done["rowsDone"], done["rowsTotal"]);
    done
}

async fn download(app: &TestApp, url: &str) -> reqwest::Response {
    app.http
        .get(format!("{}{url}", app.base_url))
        .send()
        .await
        .unwrap()
}

pub(crate) async fn bytes(app: &TestApp, url: &str) -> Vec<u8> {
    let response = download(app, url).await;
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap().to_vec()
}

pub(crate) fn csv_rows(data: &[u8]) -> Vec<Vec<String>> {
    csv::Reader::from_reader(data)
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// Every XML part of an XLSX file, as text.
fn xlsx_parts(data: &[u8]) -> HashMap<String, String> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(data)).unwrap();
    let mut parts = HashMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        let mut text = String::new();
        f.read_to_string(&mut text).unwrap();
        parts.insert(name, text);
    }
    parts
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let end = s[start..].find(close)? + start;
    Some(&s[start..end])
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The text inside the first `<t>` or `<t ...>` element of `s`.
fn text_of(s: &str) -> Option<String> {
    let start = s.find("<t")?;
    let rest = &s[start..];
    let open_end = rest.find('>')? + 1;
    let close = rest.find("</t>")?;
    Some(unescape(&rest[open_end..close]))
}

/// The zero-based column of a cell reference (`C7` → 2).
fn column_of(reference: &str) -> usize {
    reference
        .bytes()
        .take_while(u8::is_ascii_uppercase)
        .fold(0, |n, b| n * 26 + usize::from(b - b'A' + 1))
        - 1
}

/// The first sheet's rows as text cells (shared and inline strings resolved; a cell never
/// written is an empty string, as in the CSV).
pub(crate) fn xlsx_rows(data: &[u8]) -> Vec<Vec<String>> {
    let parts = xlsx_parts(data);
    let shared: Vec<String> = parts
        .get("xl/sharedStrings.xml")
        .map(|xml| {
            xml.split("<si>")
                .skip(1)
                .map(|si| text_of(si).unwrap_or_default())
                .collect()
        })
        .unwrap_or_default();
    let sheet = &parts["xl/worksheets/sheet1.xml"];
    let mut rows = Vec::new();
    for row in sheet.split("<row").skip(1) {
        let row = row.split("</row>").next().unwrap();
        let mut cells = Vec::new();
        for cell in row.split("<c ").skip(1) {
            let head = &cell[..cell.find('>').unwrap()];
            let kind = between(head, "t=\"", "\"").unwrap_or("n");
            let value = match kind {
                "s" => {
                    let i: usize = between(cell, "<v>", "</v>").unwrap().parse().unwrap();
                    shared[i].clone()
                }
                "inlineStr" | "str" => text_of(cell).unwrap_or_default(),
                _ => between(cell, "<v>", "</v>").unwrap_or("").to_owned(),
            };
            let col = column_of(between(head, "r=\"", "\"").unwrap());
            cells.resize(col, String::new());
            cells.push(value);
        }
        rows.push(cells);
    }
    rows
}

/// A report value as the export writes it: fen as an integer, numbers as they are.
fn as_number(v: &Value) -> f64 {
    v["fen"]
        .as_str()
        .map(|f| f.parse::<f64>().unwrap())
        .or_else(|| v["number"].as_f64())
        .unwrap()
}

/// The exported data rows (header and totals line dropped) against the report's rows: keys
/// and every metric equal.
fn assert_matches_report(rows: &[Vec<String>], report: &Value, dims: usize, metrics: usize) {
    let expected = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), expected.len() + 2, "header + rows + totals");
    for (row, want) in rows[1..rows.len() - 1].iter().zip(expected) {
        for (i, key) in want["keys"].as_array().unwrap().iter().enumerate() {
            assert_eq!(row[2 * i], key["key"].as_str().unwrap());
            assert_eq!(row[2 * i + 1], key["label"].as_str().unwrap());
        }
        for (j, v) in want["values"].as_array().unwrap().iter().enumerate() {
            let cell = row.get(2 * dims + j).map_or("", String::as_str);
            if v["fen"].is_null() && v["number"].is_null() {
                assert_eq!(cell, "", "no value: an empty cell");
                continue;
            }
            let got: f64 = cell.parse().unwrap();
            assert!((got - as_number(v)).abs() < 1e-9, "{row:?} vs {want}");
        }
        assert!(row.len() <= 2 * dims + metrics);
    }
    let totals = rows.last().unwrap();
    assert!(totals.contains(&"TOTAL".to_owned()), "{totals:?}");
    for (j, v) in report["totals"].as_array().unwrap().iter().enumerate() {
        let got: f64 = totals[totals.len() - metrics + j].parse().unwrap();
        assert!((got - as_number(v)).abs() < 1e-9);
    }
}

async fn exports_hold_the_reports_figures_mask_phones_expire_and_are_audited(backend: Backend) {
    let clock = Arc::new(ManualClock::new(fixtures::shanghai_noon("2026-09-10")));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 20).await;
    let ba = fixtures::staff_principal(&app, "ba-demo").await;
    let member = member_with_phone(&app, "petra").await;
    fixtures::counter_sale(
        &app,
        &ba,
        member,
        &[(cat.serum_sku, 2), (cat.cream_sku, 1)],
        PaymentMethod::Cash,
    )
    .await;
    clock.advance(Duration::days(1));
    fixtures::counter_sale(
        &app,
        &ba,
        member,
        &[(cat.serum_sku, 1)],
        PaymentMethod::Cash,
    )
    .await;

    let hq = app.login_staff("hq-demo").await;
    let q = json!({ "metrics": ["NET_REVENUE", "MARGIN", "UNITS", "ORDERS", "MARGIN_PCT"],
        "groupBy": ["DAY", "SKU"], "from": "2026-09-09", "to": "2026-09-11" });
    let report = hq.ok(REPORT, json!({ "q": q })).await["salesReport"].clone();
    assert!(report["rows"].as_array().unwrap().len() >= 4);

    // CSV: the report's rows, row for row, then the totals.
    let csv_job = export(&hq, &app, &q, "CSV", "SUMMARY").await;
    assert_eq!(
        csv_job["rowsTotal"].as_i64().unwrap() as usize,
        report["rows"].as_array().unwrap().len()
    );
    let url = csv_job["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("/media/private/"), "{url}");
    let response = download(&app, &url).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let data = response.bytes().await.unwrap();
    let mut with_header = vec![Vec::new()];
    with_header.extend(csv_rows(&data));
    assert_matches_report(&with_header, &report, 2, 5);

    // XLSX: the same figures, read back from the sheet.
    let xlsx_job = export(&hq, &app, &q, "XLSX", "SUMMARY").await;
    let data = bytes(&app, xlsx_job["url"].as_str().unwrap()).await;
    assert_eq!(&data[..2], b"PK");
    let rows = xlsx_rows(&data);
    assert_matches_report(&rows, &report, 2, 5);

    // LINES: every fact, the member by id and masked phone, never the full number.
    let lines_csv = export(&hq, &app, &q, "CSV", "LINES").await;
    assert_eq!(lines_csv["rowsTotal"], 3, "three lines sold");
    let data = bytes(&app, lines_csv["url"].as_str().unwrap()).await;
    let text = String::from_utf8(data).unwrap();
    assert!(text.contains(MASKED), "{text}");
    assert!(
        !text.contains(PHONE) && !text.contains(&PHONE[3..]),
        "{text}"
    );
    let lines_xlsx = export(&hq, &app, &q, "XLSX", "LINES").await;
    let data = bytes(&app, lines_xlsx["url"].as_str().unwrap()).await;
    let all_xml: String = xlsx_parts(&data).into_values().collect();
    assert!(all_xml.contains(MASKED));
    assert!(!all_xml.contains(PHONE) && !all_xml.contains(&PHONE[3..]));

    // Another staff member's job is not found; a BA may not export.
    let manager = app.login_staff("manager-demo").await;
    assert_eq!(
        manager.err(JOB, json!({ "id": csv_job["id"] })).await,
        "NOT_FOUND"
    );
    let ba_gql = app.login_staff("ba-demo").await;
    assert_eq!(
        ba_gql
            .err(EXPORT, json!({ "q": q, "f": "CSV", "d": "SUMMARY" }))
            .await,
        "FORBIDDEN"
    );
    // Bad input changes nothing: no job queued.
    let bad = json!({ "metrics": [], "from": "2026-09-09", "to": "2026-09-11" });
    assert_eq!(
        hq.err(EXPORT, json!({ "q": bad, "f": "CSV", "d": "SUMMARY" }))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        domain::reports::run_queued_exports(&app.state)
            .await
            .unwrap(),
        0
    );

    // An altered link is refused; the link expires after an hour.
    let altered = url.replace("exp=", "exp=1");
    assert_eq!(download(&app, &altered).await.status(), 403);
    clock.advance(Duration::seconds(3_601));
    assert_eq!(download(&app, &url).await.status(), 403);
    // Read again (signed in again: the clock moved past the token too), the job mints a
    // fresh link.
    let hq = app.login_staff("hq-demo").await;
    let again = hq.ok(JOB, json!({ "id": csv_job["id"] })).await["exportJob"].clone();
    assert_eq!(
        download(&app, again["url"].as_str().unwrap())
            .await
            .status(),
        200
    );

    // Each export audited: who, the query, how many rows.
    let hq_id = fixtures::staff_principal(&app, "hq-demo").await.staff_id;
    let entries = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq(audit_log::Action::ReportExport))
        .order_by_asc(audit_log::Column::Id)
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(entries.len(), 4);
    for (entry, job) in entries
        .iter()
        .zip([&csv_job, &xlsx_job, &lines_csv, &lines_xlsx])
    {
        assert_eq!(entry.actor_id, Some(hq_id));
        assert_eq!(
            entry.subject_id.map(|id| id.to_string()).as_deref(),
            job["id"].as_str()
        );
        let detail = entry.detail.clone().into_inner();
        assert_eq!(detail["rows"], job["rowsTotal"]);
        assert_eq!(detail["query"]["from"], "2026-09-09");
        assert_eq!(detail["query"]["groupBy"], json!(["DAY", "SKU"]));
    }
}

/// A sale at another store, written as its fact directly (the fixtures stock one store only).
async fn fact_at(app: &TestApp, store_id: i64, template: &sales_fact::Model) {
    let mut f = template.clone().into_active_model().reset_all();
    f.id = sea_orm::ActiveValue::NotSet;
    f.fact_key = Set(format!("TEST:{}", uuid::Uuid::new_v4().simple()));
    f.store_id = Set(Some(store_id));
    f.ba_id = Set(None);
    f.event = Set(SalesEvent::Sale);
    f.insert(app.db()).await.unwrap();
}

async fn a_managers_export_holds_only_her_store(backend: Backend) {
    let clock = Arc::new(ManualClock::new(fixtures::shanghai_noon("2026-09-10")));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 20).await;
    let ba = fixtures::staff_principal(&app, "ba-demo").await;
    let member = member_with_phone(&app, "quinn").await;
    fixtures::counter_sale(
        &app,
        &ba,
        member,
        &[(cat.serum_sku, 1)],
        PaymentMethod::Cash,
    )
    .await;
    let own = sales_fact::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let other_store = fixtures::staff_principal(&app, "ba-bj-demo")
        .await
        .store_id
        .unwrap();
    fact_at(&app, other_store, &own).await;

    let q = json!({ "metrics": ["NET_REVENUE", "UNITS"], "groupBy": ["STORE"],
        "from": "2026-09-01", "to": "2026-09-30" });
    let manager = app.login_staff("manager-demo").await;
    let job = export(&manager, &app, &q, "CSV", "LINES").await;
    assert_eq!(job["rowsTotal"], 1);
    let rows = csv_rows(&bytes(&app, job["url"].as_str().unwrap()).await);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][5], cat.store_id.to_string(), "store id column");
    let summary = export(&manager, &app, &q, "CSV", "SUMMARY").await;
    let rows = csv_rows(&bytes(&app, summary["url"].as_str().unwrap()).await);
    assert_eq!(rows.len(), 2, "her store and the totals: {rows:?}");
    assert_eq!(rows[0][0], cat.store_id.to_string());
    // HQ sees both stores; the manager may not name the other one.
    let hq = app.login_staff("hq-demo").await;
    let all = export(&hq, &app, &q, "CSV", "LINES").await;
    assert_eq!(all["rowsTotal"], 2);
    let mut other = q.clone();
    other["storeIds"] = json!([other_store.to_string()]);
    assert_eq!(
        manager
            .err(EXPORT, json!({ "q": other, "f": "CSV", "d": "LINES" }))
            .await,
        "FORBIDDEN"
    );
    // Finance sees money, not members: no LINES export.
    let finance = app.login_staff("finance-demo").await;
    assert_eq!(
        finance
            .err(EXPORT, json!({ "q": q, "f": "XLSX", "d": "LINES" }))
            .await,
        "FORBIDDEN"
    );
}

/// A job left RUNNING by a worker that died is queued again once its lease is stale (a job
/// whose worker is alive is left alone), then finishes; a day after, its file is deleted.
async fn an_abandoned_job_runs_again_and_old_files_are_swept(backend: Backend) {
    use entities::report_export_job::{self, ExportStatus};
    let clock = Arc::new(ManualClock::new(fixtures::shanghai_noon("2026-09-10")));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 20).await;
    let ba = fixtures::staff_principal(&app, "ba-demo").await;
    let member = member_with_phone(&app, "quinn").await;
    fixtures::counter_sale(
        &app,
        &ba,
        member,
        &[(cat.serum_sku, 1)],
        PaymentMethod::Cash,
    )
    .await;
    let hq = app.login_staff("hq-demo").await;
    let q = json!({ "metrics": ["NET_REVENUE"], "groupBy": ["DAY"], "from": "2026-09-01", "to": "2026-09-30" });
    let queue = |gql: &Gql| {
        let q = q.clone();
        let gql = gql.clone();
        async move {
            gql.ok(EXPORT, json!({ "q": q, "f": "CSV", "d": "SUMMARY" }))
                .await["exportReport"]["id"]
                .as_str()
                .unwrap()
                .parse::<i64>()
                .unwrap()
        }
    };
    let abandoned = queue(&hq).await;
    let alive = queue(&hq).await;
    // Both were claimed; one worker died ten minutes ago, the other renewed its lease just now.
    let now = fixtures::shanghai_noon("2026-09-10");
    for (id, beat) in [
        (abandoned, now - Duration::minutes(10)),
        (alive, now - Duration::seconds(5)),
    ] {
        report_export_job::ActiveModel {
            id: Set(id),
            status: Set(ExportStatus::Running),
            started_at: Set(Some(now - Duration::minutes(11))),
            heartbeat_at: Set(Some(beat)),
            rows_done: Set(7),
            ..Default::default()
        }
        .update(app.db())
        .await
        .unwrap();
    }
    assert_eq!(
        domain::reports::run_queued_exports(&app.state)
            .await
            .unwrap(),
        1,
        "the abandoned job ran again"
    );
    let job = |id: i64| {
        let db = app.db().clone();
        async move {
            report_export_job::Entity::find_by_id(id)
                .one(&db)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let done = job(abandoned).await;
    assert_eq!(done.status, ExportStatus::Done);
    let key = done.object_key.clone().expect("a file");
    assert_eq!(
        job(alive).await.status,
        ExportStatus::Running,
        "a live worker keeps its job"
    );
    let view = hq.ok(JOB, json!({ "id": abandoned.to_string() })).await["exportJob"].clone();
    assert_eq!(view["status"], "DONE");
    assert_eq!(
        download(&app, view["url"].as_str().unwrap()).await.status(),
        200
    );
    // Less than a day: kept. More: deleted, the job DONE without a link.
    clock.set(now + Duration::hours(23));
    assert_eq!(
        domain::reports::sweep_export_files(&app.state)
            .await
            .unwrap(),
        0
    );
    assert!(app.state.media.store.size_of(&key).await.unwrap().is_some());
    clock.set(now + Duration::hours(25));
    assert_eq!(
        domain::reports::sweep_export_files(&app.state)
            .await
            .unwrap(),
        1
    );
    assert!(
        app.state.media.store.size_of(&key).await.unwrap().is_none(),
        "the file is gone"
    );
    let swept = job(abandoned).await;
    assert_eq!(swept.status, ExportStatus::Done);
    assert!(swept.object_key.is_none());
    // (A day on, the session has run out: ask the service as HQ.)
    let hq_p = fixtures::staff_principal(&app, "hq-demo").await;
    let view = domain::reports::export_job(&app.state, &hq_p, abandoned)
        .await
        .unwrap();
    assert!(view.url.is_none());
    assert_eq!(
        domain::reports::sweep_export_files(&app.state)
            .await
            .unwrap(),
        0
    );
}

/// Queues HQ's CSV summary of September (one counter sale in it) and returns the job's id.
async fn queued_summary(app: &TestApp) -> (Gql, i64) {
    let cat = fixtures::catalog(app, 20).await;
    let ba = fixtures::staff_principal(app, "ba-demo").await;
    let member = member_with_phone(app, "rosa").await;
    fixtures::counter_sale(app, &ba, member, &[(cat.serum_sku, 1)], PaymentMethod::Cash).await;
    let hq = app.login_staff("hq-demo").await;
    let q = json!({ "metrics": ["NET_REVENUE"], "groupBy": ["DAY"], "from": "2026-09-01", "to": "2026-09-30" });
    let id = hq
        .ok(EXPORT, json!({ "q": q, "f": "CSV", "d": "SUMMARY" }))
        .await["exportReport"]["id"]
        .as_str()
        .unwrap()
        .parse::<i64>()
        .unwrap();
    (hq, id)
}

async fn export_audits(app: &TestApp, job: i64) -> usize {
    audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq(audit_log::Action::ReportExport))
        .filter(audit_log::Column::SubjectId.eq(job))
        .all(app.db())
        .await
        .unwrap()
        .len()
}

const JOB_FAILURE: &str =
    "query($id: ID!) { exportJob(id: $id) { status attempts failure url rowsDone } }";

async fn an_export_whose_worker_dies_every_time_is_given_up_after_three_attempts(backend: Backend) {
    use domain::reports::{
        EXPORT_MAX_ATTEMPTS, ExportFailure, ExportStatus, claim_export, export_job,
        requeue_stale_exports,
    };
    let now = fixtures::shanghai_noon("2026-09-10");
    let clock = Arc::new(ManualClock::new(now));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let (hq, id) = queued_summary(&app).await;
    let view = hq.ok(JOB_FAILURE, json!({ "id": id.to_string() })).await["exportJob"].clone();
    assert_eq!(view["attempts"], 0);
    assert!(view["failure"].is_null());
    assert_eq!(EXPORT_MAX_ATTEMPTS, 3);
    // (The clock runs past the session's 15 minutes: read the job through the service.)
    let hq_p = fixtures::staff_principal(&app, "hq-demo").await;
    // Each attempt's worker dies mid-file (the claim is dropped, its lease goes stale).
    for attempt in 1..=3 {
        let claim = claim_export(&app.state).await.unwrap().expect("queued");
        assert_eq!((claim.job.id, claim.attempt), (id, attempt));
        assert!(
            claim_export(&app.state).await.unwrap().is_none(),
            "one holder"
        );
        let job = export_job(&app.state, &hq_p, id).await.unwrap();
        assert_eq!((job.status, job.attempts), (ExportStatus::Running, attempt));
        clock.advance(Duration::minutes(6));
        assert_eq!(requeue_stale_exports(&app.state).await.unwrap(), 1);
        let job = export_job(&app.state, &hq_p, id).await.unwrap();
        if attempt < 3 {
            assert_eq!(
                job.status,
                ExportStatus::Queued,
                "attempt {attempt} is retried"
            );
            assert_eq!(job.failure, None);
        } else {
            assert_eq!(
                job.status,
                ExportStatus::Failed,
                "given up after three attempts"
            );
            assert_eq!(job.failure, Some(ExportFailure::TooManyAttempts));
            assert!(job.url.is_none());
        }
    }
    // Nothing left to run, nothing retried, nothing written or audited.
    clock.advance(Duration::minutes(10));
    assert_eq!(
        domain::reports::run_queued_exports(&app.state)
            .await
            .unwrap(),
        0
    );
    // Its owner sees why.
    let hq = app.login_staff("hq-demo").await;
    let view = hq.ok(JOB_FAILURE, json!({ "id": id.to_string() })).await["exportJob"].clone();
    assert_eq!(view["status"], "FAILED");
    assert_eq!(view["failure"], "TOO_MANY_ATTEMPTS");
    assert_eq!(view["attempts"], 3);
    assert!(view["url"].is_null());
    assert_eq!(export_audits(&app, id).await, 0);
    let row = entities::report_export_job::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert!(row.object_key.is_none());
    assert!(row.finished_at.is_some());
}

async fn a_worker_resuming_after_its_job_was_queued_again_finishes_nothing(backend: Backend) {
    use domain::reports::{claim_export, requeue_stale_exports, run_claimed_export};
    let now = fixtures::shanghai_noon("2026-09-10");
    let clock = Arc::new(ManualClock::new(now));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let (hq, id) = queued_summary(&app).await;
    // Worker A takes the job and stalls past its lease; the job is queued again and B takes it.
    let a = claim_export(&app.state).await.unwrap().expect("queued");
    clock.advance(Duration::minutes(6));
    assert_eq!(requeue_stale_exports(&app.state).await.unwrap(), 1);
    let b = claim_export(&app.state)
        .await
        .unwrap()
        .expect("queued again");
    assert_eq!((a.attempt, b.attempt), (1, 2));
    // A resumes while B runs: both write their file at once; only B's claim finishes the job.
    let (ra, rb) = tokio::join!(
        run_claimed_export(&app.state, &a),
        run_claimed_export(&app.state, &b)
    );
    assert_eq!((ra.unwrap(), rb.unwrap()), (false, true));
    let row = entities::report_export_job::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, entities::report_export_job::ExportStatus::Done);
    assert_eq!(row.attempts, 2);
    let key = row.object_key.clone().expect("B's file");
    assert_eq!(
        export_audits(&app, id).await,
        1,
        "one finisher, one audit entry"
    );
    // A, resuming again later, still changes nothing.
    assert!(!run_claimed_export(&app.state, &a).await.unwrap());
    let again = entities::report_export_job::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.object_key.as_deref(), Some(key.as_str()));
    assert_eq!(again.finished_at, row.finished_at);
    assert_eq!(export_audits(&app, id).await, 1);
    let view = hq.ok(JOB, json!({ "id": id.to_string() })).await["exportJob"].clone();
    assert_eq!(view["status"], "DONE");
    assert_eq!(
        download(&app, view["url"].as_str().unwrap()).await.status(),
        200
    );
}

/// `rouge reports export` and `rouge reports chart` as the command line runs them: a LINES
/// export of more facts than three pages holds every fact once, in order, phones masked, and
/// is audited; the SUMMARY holds the report's figures; the chart draws the report's series;
/// an unknown account, a BA, an unknown metric and an existing file are refused, writing nothing.
async fn the_command_line_exports_and_charts_what_the_report_says(backend: Backend) {
    use api::reports_export::{ChartRequest, ExportRequest, ReportArgs, chart, run};
    use domain::reports::{ExportDetail, ExportFormat};
    let clock = Arc::new(ManualClock::new(fixtures::shanghai_noon("2026-09-10")));
    let app = TestApp::builder(backend).clock(clock.clone()).start().await;
    let cat = fixtures::catalog(&app, 20).await;
    let ba = fixtures::staff_principal(&app, "ba-demo").await;
    let member = member_with_phone(&app, "rosa").await;
    fixtures::counter_sale(
        &app,
        &ba,
        member,
        &[(cat.serum_sku, 1)],
        PaymentMethod::Cash,
    )
    .await;
    let sold = sales_fact::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    // 2,599 more lines like it: the export reads them in pages of 1,000.
    let more: Vec<sales_fact::ActiveModel> = (0..2_599)
        .map(|i| {
            let mut f = sold.clone().into_active_model().reset_all();
            f.id = sea_orm::ActiveValue::NotSet;
            f.fact_key = Set(format!("TEST:cli:{i}"));
            f
        })
        .collect();
    for chunk in more.chunks(200) {
        sales_fact::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(app.db())
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let args = |staff: &str, by: &[&str]| ReportArgs {
        staff_username: staff.into(),
        from: fixtures::date("2026-09-01"),
        to: fixtures::date("2026-09-30"),
        by: by.iter().map(|d| (*d).to_owned()).collect(),
        store_ids: None,
    };
    let request = |staff: &str, by: &[&str], format, detail| ExportRequest {
        report: args(staff, by),
        metrics: vec!["net_revenue".into(), "units".into()],
        format,
        detail,
    };

    let lines = dir.path().join("lines.csv");
    let written = run(
        &app.state,
        &request("hq-demo", &["day"], ExportFormat::Csv, ExportDetail::Lines),
        &lines,
    )
    .await
    .unwrap();
    assert_eq!(written, 2_600);
    let text = std::fs::read_to_string(&lines).unwrap();
    assert!(text.contains(MASKED));
    assert!(!text.contains(PHONE) && !text.contains(&PHONE[3..]));
    let ids: Vec<i64> = csv_rows(text.as_bytes())
        .iter()
        .map(|r| r[0].parse().unwrap())
        .collect();
    assert_eq!(ids.len(), 2_600);
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "every fact once, in order"
    );

    let summary = dir.path().join("summary.xlsx");
    run(
        &app.state,
        &request(
            "hq-demo",
            &["store"],
            ExportFormat::Xlsx,
            ExportDetail::Summary,
        ),
        &summary,
    )
    .await
    .unwrap();
    let hq = app.login_staff("hq-demo").await;
    let q = json!({ "metrics": ["NET_REVENUE", "UNITS"], "groupBy": ["STORE"],
        "from": "2026-09-01", "to": "2026-09-30" });
    let report = hq.ok(REPORT, json!({ "q": q })).await["salesReport"].clone();
    assert_matches_report(&xlsx_rows(&std::fs::read(&summary).unwrap()), &report, 1, 2);
    assert_eq!(
        report["totals"][0]["fen"],
        (2_600 * sold.net_fen).to_string()
    );
    let audited = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq(audit_log::Action::ReportExport))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(audited, 2, "each command-line export audited");

    let svg = dir.path().join("chart.svg");
    let asked = |metric: &str| ChartRequest {
        report: args("hq-demo", &["day"]),
        metric: metric.into(),
        title: Some("九月".into()),
    };
    chart(&app.state, &asked("net_revenue"), &svg)
        .await
        .unwrap();
    let drawn = std::fs::read_to_string(&svg).unwrap();
    assert!(
        drawn.starts_with("<svg") && drawn.contains("九月"),
        "{drawn}"
    );
    // One series (grouped by day only), a point for each of September's 30 days.
    let series: Vec<&str> = drawn.lines().filter(|l| l.starts_with("<path")).collect();
    assert_eq!(series.len(), 1, "{drawn}");
    assert_eq!(
        series[0].matches('M').count() + series[0].matches('L').count(),
        30,
        "{}",
        series[0]
    );

    // Refused, and nothing written.
    let refused = dir.path().join("refused.csv");
    for (staff, by) in [
        ("nobody", "day"),
        ("ba-demo", "day"),
        ("hq-demo", "weekday"),
    ] {
        let req = request(staff, &[by], ExportFormat::Csv, ExportDetail::Summary);
        assert!(
            run(&app.state, &req, &refused).await.is_err(),
            "{staff} by {by}"
        );
        assert!(!refused.exists());
    }
    assert!(
        chart(&app.state, &asked("happiness"), &refused)
            .await
            .is_err()
    );
    assert!(
        chart(&app.state, &asked("net_revenue"), &svg)
            .await
            .is_err(),
        "the file exists"
    );
    assert!(
        run(
            &app.state,
            &request("hq-demo", &["day"], ExportFormat::Csv, ExportDetail::Lines),
            &lines
        )
        .await
        .is_err()
    );
    assert_eq!(
        std::fs::read_to_string(&lines).unwrap(),
        text,
        "left as it was"
    );
    assert_eq!(
        audit_log::Entity::find()
            .filter(audit_log::Column::Action.eq(audit_log::Action::ReportExport))
            .count(app.db())
            .await
            .unwrap(),
        2
    );
}

on_both_backends!(
    exports_hold_the_reports_figures_mask_phones_expire_and_are_audited,
    a_managers_export_holds_only_her_store,
    an_abandoned_job_runs_again_and_old_files_are_swept,
    an_export_whose_worker_dies_every_time_is_given_up_after_three_attempts,
    a_worker_resuming_after_its_job_was_queued_again_finishes_nothing,
    the_command_line_exports_and_charts_what_the_report_says,
);

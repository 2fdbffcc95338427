//! Staff and distributor accounts (issue 14): one-time passwords, immediate revocation, a
//! manager's reach, a distributor owner's reach, the audit trail, the first administrator.

use domain::accounts::{self, NewStaffAccount};
use domain::auth::StaffRole;
use rouge_tests::{Backend, Gql, TestApp, on_both_backends};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

const LOGIN: &str =
    "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }";
const CREATE_STAFF: &str = "mutation($i: CreateStaffAccountInput!) {
  createStaffAccount(input: $i) { oneTimePassword account { id username role storeId mustChangePassword } } }";
const CHANGE: &str =
    "mutation($o: String!, $n: String!) { changeMyPassword(oldPassword: $o, newPassword: $n) }";
const ME: &str = "{ me { id role storeId mustChangePassword } }";

async fn login(gql: &Gql, username: &str, password: &str) -> Gql {
    let data = gql.ok(LOGIN, json!({ "u": username, "p": password })).await;
    gql.with_token(data["login"]["accessToken"].as_str().unwrap())
}

async fn store_ids(hq: &Gql) -> Vec<String> {
    let data = hq.ok("{ stores { id } }", json!({})).await;
    data["stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Creates a staff account as `by` and returns (id, one-time password).
async fn create_staff(
    by: &Gql,
    username: &str,
    role: &str,
    store: Option<&str>,
) -> (String, String) {
    let data = by
        .ok(
            CREATE_STAFF,
            json!({ "i": { "username": username, "displayName": "新同事", "role": role,
                           "storeId": store, "phone": "13912345678" } }),
        )
        .await;
    let created = &data["createStaffAccount"];
    assert_eq!(created["account"]["mustChangePassword"], true);
    (
        created["account"]["id"].as_str().unwrap().to_owned(),
        created["oneTimePassword"].as_str().unwrap().to_owned(),
    )
}

/// Signs in with a one-time password and changes it; returns the session.
async fn first_sign_in(gql: &Gql, username: &str, one_time: &str, new: &str) -> Gql {
    let session = login(gql, username, one_time).await;
    session.ok(CHANGE, json!({ "o": one_time, "n": new })).await;
    session
}

async fn one_time_passwords_must_be_changed_first(backend: Backend) {
    let app = TestApp::start(backend).await;
    let hq = app.login_staff("hq-demo").await;
    let stores = store_ids(&hq).await;
    let (_, one_time) = create_staff(&hq, "ba-lin", "BA", Some(&stores[0])).await;
    let first = login(&app.staff(), "ba-lin", &one_time).await;
    let second = login(&app.staff(), "ba-lin", &one_time).await;
    assert_eq!(
        first.ok(ME, json!({})).await["me"]["mustChangePassword"],
        true
    );
    let body = first.raw("{ stores { id } }", json!({})).await;
    assert_eq!(
        rouge_tests::graphql::code_of(&body).as_deref(),
        Some("FORBIDDEN")
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("changeMyPassword"),
        "{body}"
    );
    // Weak new passwords are refused and change nothing.
    for weak in ["short", "ba-lin-2026-x", "qwertyuiop", "1234567890"] {
        assert_eq!(
            first.err(CHANGE, json!({ "o": one_time, "n": weak })).await,
            "BAD_USER_INPUT",
            "{weak}"
        );
    }
    assert_eq!(
        first
            .err(
                CHANGE,
                json!({ "o": "not-the-password", "n": "violet-harbour-42" })
            )
            .await,
        "BAD_USER_INPUT"
    );
    first
        .ok(CHANGE, json!({ "o": one_time, "n": "violet-harbour-42" }))
        .await;
    // This session carries on, now with everything a BA may do; the other one has ended.
    first.ok("{ stores { id } }", json!({})).await;
    assert_eq!(
        first.ok(ME, json!({})).await["me"]["mustChangePassword"],
        false
    );
    assert_eq!(second.err(ME, json!({})).await, "UNAUTHENTICATED");
    assert_eq!(
        app.staff()
            .err(LOGIN, json!({ "u": "ba-lin", "p": one_time }))
            .await,
        "UNAUTHENTICATED"
    );
    login(&app.staff(), "ba-lin", "violet-harbour-42").await;
}

async fn deactivation_and_role_changes_take_effect_on_the_next_request(backend: Backend) {
    let app = TestApp::start(backend).await;
    let hq = app.login_staff("hq-demo").await;
    let stores = store_ids(&hq).await;
    let (id, one_time) = create_staff(&hq, "ba-zhou", "BA", Some(&stores[0])).await;
    let ba = first_sign_in(&app.staff(), "ba-zhou", &one_time, "violet-harbour-42").await;
    assert_eq!(
        ba.err("{ staffAccounts { edges { node { id } } } }", json!({}))
            .await,
        "FORBIDDEN"
    );

    // Promoted: the same token manages staff at once, with the store it now has.
    hq.ok(
        "mutation($id: ID!, $s: ID!) { updateStaffAccount(id: $id, input: { role: MANAGER, storeId: $s }) { role } }",
        json!({ "id": id, "s": stores[1] }),
    )
    .await;
    let me = ba.ok(ME, json!({})).await;
    assert_eq!(me["me"]["role"], "MANAGER");
    assert_eq!(me["me"]["storeId"], stores[1].as_str());
    let listed = ba
        .ok(
            "{ staffAccounts(first: 50) { edges { node { storeId } } } }",
            json!({}),
        )
        .await;
    for edge in listed["staffAccounts"]["edges"].as_array().unwrap() {
        assert_eq!(edge["node"]["storeId"], stores[1].as_str(), "{listed}");
    }

    // Switched off: the very next request is refused, and so is signing in.
    hq.ok(
        "mutation($id: ID!) { deactivateStaffAccount(id: $id) { active } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(ba.err(ME, json!({})).await, "UNAUTHENTICATED");
    assert_eq!(
        app.staff()
            .err(LOGIN, json!({ "u": "ba-zhou", "p": "violet-harbour-42" }))
            .await,
        "FORBIDDEN"
    );
    hq.ok(
        "mutation($id: ID!) { reactivateStaffAccount(id: $id) { active } }",
        json!({ "id": id }),
    )
    .await;
    // The old session stays ended; a new sign-in works.
    assert_eq!(ba.err(ME, json!({})).await, "UNAUTHENTICATED");
    let again = login(&app.staff(), "ba-zhou", "violet-harbour-42").await;
    again.ok(ME, json!({})).await;

    // A reset ends every session and hands out a new one-time password.
    let reset = hq
        .ok(
            "mutation($id: ID!) { resetStaffPassword(id: $id) { oneTimePassword } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(again.err(ME, json!({})).await, "UNAUTHENTICATED");
    let fresh = login(
        &app.staff(),
        "ba-zhou",
        reset["resetStaffPassword"]["oneTimePassword"]
            .as_str()
            .unwrap(),
    )
    .await;
    assert_eq!(
        fresh.ok(ME, json!({})).await["me"]["mustChangePassword"],
        true
    );

    // The demo BA is refused on her next request too (the issue's own example).
    let demo_ba = app.login_staff("ba-demo").await;
    let demo_id = demo_ba.ok(ME, json!({})).await["me"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    hq.ok(
        "mutation($id: ID!) { deactivateStaffAccount(id: $id) { active } }",
        json!({ "id": demo_id }),
    )
    .await;
    assert_eq!(demo_ba.err(ME, json!({})).await, "UNAUTHENTICATED");
}

async fn a_manager_manages_only_her_own_stores_bas(backend: Backend) {
    let app = TestApp::start(backend).await;
    let hq = app.login_staff("hq-demo").await;
    let manager = app.login_staff("manager-demo").await;
    let own = manager.ok(ME, json!({})).await["me"]["storeId"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = store_ids(&hq)
        .await
        .into_iter()
        .find(|s| *s != own)
        .unwrap();
    let before = entities::staff_account::Entity::find()
        .count(app.db())
        .await
        .unwrap();

    // Never a manager, HQ or finance account, never another store's BA.
    for (role, store) in [
        ("MANAGER", Some(own.as_str())),
        ("HQ", None),
        ("FINANCE", None),
        ("BA", Some(other.as_str())),
    ] {
        let body = manager
            .raw(
                CREATE_STAFF,
                json!({ "i": { "username": "nope-1", "displayName": "x", "role": role, "storeId": store } }),
            )
            .await;
        assert_eq!(
            rouge_tests::graphql::code_of(&body).as_deref(),
            Some("FORBIDDEN"),
            "{role}: {body}"
        );
    }
    assert_eq!(
        entities::staff_account::Entity::find()
            .count(app.db())
            .await
            .unwrap(),
        before,
        "nothing was created"
    );

    // Another store's staff: not listed, not touched.
    let gz_ba = entities::staff_account::Entity::find()
        .filter(entities::staff_account::Column::Username.eq("ba-gz-demo"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    for op in [
        "mutation($id: ID!) { deactivateStaffAccount(id: $id) { id } }",
        "mutation($id: ID!) { resetStaffPassword(id: $id) { oneTimePassword } }",
        "mutation($id: ID!) { updateStaffAccount(id: $id, input: { displayName: \"x\" }) { id } }",
    ] {
        assert_eq!(
            manager.err(op, json!({ "id": gz_ba.id.to_string() })).await,
            "FORBIDDEN",
            "{op}"
        );
    }
    assert_eq!(
        manager
            .err(
                "query($s: ID!) { staffAccounts(storeId: $s) { edges { node { id } } } }",
                json!({ "s": other })
            )
            .await,
        "FORBIDDEN"
    );
    let gz_now = entities::staff_account::Entity::find_by_id(gz_ba.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(gz_now, gz_ba, "the other store's BA is unchanged");

    // Her own BAs: created, listed, moved nowhere else, switched off.
    let (id, _) = create_staff(&manager, "ba-new", "BA", Some(&own)).await;
    let listed = manager
        .ok(
            "{ staffAccounts(first: 100) { edges { node { id storeId } } } }",
            json!({}),
        )
        .await;
    let nodes = listed["staffAccounts"]["edges"].as_array().unwrap();
    assert!(nodes.iter().any(|n| n["node"]["id"] == id.as_str()));
    assert!(
        nodes.iter().all(|n| n["node"]["storeId"] == own.as_str()),
        "{listed}"
    );
    assert_eq!(
        manager
            .err(
                "mutation($id: ID!, $s: ID!) { updateStaffAccount(id: $id, input: { storeId: $s }) { id } }",
                json!({ "id": id, "s": other })
            )
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        manager
            .err(
                "mutation($id: ID!) { updateStaffAccount(id: $id, input: { role: MANAGER }) { id } }",
                json!({ "id": id })
            )
            .await,
        "FORBIDDEN"
    );
    manager
        .ok(
            "mutation($id: ID!) { deactivateStaffAccount(id: $id) { active } }",
            json!({ "id": id }),
        )
        .await;

    // A taken username is a conflict and creates nothing.
    assert_eq!(
        hq.err(
            CREATE_STAFF,
            json!({ "i": { "username": "ba-demo", "displayName": "x", "role": "BA", "storeId": own } })
        )
        .await,
        "CONFLICT"
    );
}

const CREATE_ORG: &str = "mutation($i: CreateDistributorInput!) { createDistributor(input: $i) { id code region regionCodes active } }";
const CREATE_DIST_ACCOUNT: &str = "mutation($d: ID!, $u: String!, $r: DistributorRole!) {
  createDistributorAccount(distributorId: $d, username: $u, role: $r) { oneTimePassword account { id role } } }";
const MY_TEAM: &str = "{ myTeam { id username role } }";
const DIST_ME: &str = "{ me { account { id role } distributor { id code } } }";

async fn distributor_owners_reach_only_their_own_organisation(backend: Backend) {
    let app = TestApp::start(backend).await;
    let hq = app.login_staff("hq-demo").await;
    let org = hq
        .ok(
            CREATE_ORG,
            json!({ "i": { "code": "d-west-01", "name": "西南美妆", "level": "b",
                           "territory": ["四川省", "500000"], "contactName": "李经理",
                           "contactPhone": "13900001111" } }),
        )
        .await["createDistributor"]
        .clone();
    assert_eq!(org["code"], "D-WEST-01");
    assert_eq!(org["regionCodes"], json!(["500000", "510000"]));
    let org_id = org["id"].as_str().unwrap().to_owned();
    let created = hq
        .ok(
            CREATE_DIST_ACCOUNT,
            json!({ "d": org_id, "u": "west-owner", "r": "OWNER" }),
        )
        .await;
    let one_time = created["createDistributorAccount"]["oneTimePassword"]
        .as_str()
        .unwrap();
    let west = first_sign_in(
        &app.distributor(),
        "west-owner",
        one_time,
        "violet-harbour-42",
    )
    .await;

    let east = app.login_distributor("dist-demo").await;
    let east_me = east.ok(DIST_ME, json!({})).await;
    assert_eq!(east_me["me"]["account"]["role"], "OWNER");
    let east_id = east_me["me"]["account"]["id"].as_str().unwrap().to_owned();

    // Each owner sees her own team only, and cannot reach the other organisation's accounts.
    let team = west.ok(MY_TEAM, json!({})).await;
    assert_eq!(team["myTeam"].as_array().unwrap().len(), 1, "{team}");
    assert_eq!(team["myTeam"][0]["username"], "west-owner");
    assert_eq!(
        west.err(
            "mutation($id: ID!) { deactivateTeamAccount(id: $id) { id } }",
            json!({ "id": east_id })
        )
        .await,
        "NOT_FOUND"
    );
    east.ok(DIST_ME, json!({})).await;

    // An owner adds a buyer; a buyer manages nothing; a switched-off buyer is refused at once.
    let buyer = east
        .ok(
            "mutation { createTeamAccount(username: \"east-buyer\", displayName: \"采购小王\", role: BUYER) { oneTimePassword account { id } } }",
            json!({}),
        )
        .await;
    let buyer_id = buyer["createTeamAccount"]["account"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let buyer_pw = buyer["createTeamAccount"]["oneTimePassword"]
        .as_str()
        .unwrap();
    let buyer = first_sign_in(
        &app.distributor(),
        "east-buyer",
        buyer_pw,
        "violet-harbour-42",
    )
    .await;
    assert_eq!(buyer.err(MY_TEAM, json!({})).await, "FORBIDDEN");
    assert_eq!(
        east.err(
            "mutation { createTeamAccount(username: \"east-owner2\", displayName: \"x\", role: OWNER) { oneTimePassword } }",
            json!({})
        )
        .await,
        "FORBIDDEN"
    );
    east.ok(
        "mutation($id: ID!) { deactivateTeamAccount(id: $id) { active } }",
        json!({ "id": buyer_id }),
    )
    .await;
    assert_eq!(buyer.err(DIST_ME, json!({})).await, "UNAUTHENTICATED");

    // HQ switches the east organisation off: its owner is refused on her next request.
    let east_org = east_me["me"]["distributor"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    hq.ok(
        "mutation($id: ID!) { setDistributorActive(id: $id, active: false) { active } }",
        json!({ "id": east_org }),
    )
    .await;
    assert_eq!(east.err(DIST_ME, json!({})).await, "UNAUTHENTICATED");
    assert_eq!(
        app.distributor()
            .err(
                LOGIN,
                json!({ "u": "dist-demo", "p": domain::seed::DEMO_PASSWORD })
            )
            .await,
        "FORBIDDEN"
    );
    west.ok(DIST_ME, json!({})).await;
    // A taken code is a conflict.
    assert_eq!(
        hq.err(
            CREATE_ORG,
            json!({ "i": { "code": "D-WEST-01", "name": "x", "level": "A", "territory": ["上海"] } })
        )
        .await,
        "CONFLICT"
    );
}

const AUDIT: &str = "query($f: AuditLogFilter, $after: String) {
  auditLog(filter: $f, first: 2, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { action actorKind actorId subjectType subjectId clientAddress detail } } } }";

/// Every entry about one subject, newest first, walking the pages.
async fn audit_of(hq: &Gql, filter: Value) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = hq.ok(AUDIT, json!({ "f": filter, "after": after })).await;
        let page = &data["auditLog"];
        entries.extend(
            page["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"].clone()),
        );
        if page["pageInfo"]["hasNextPage"] != true {
            return entries;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

async fn account_changes_and_failed_logins_are_audited_without_secrets(backend: Backend) {
    let app = TestApp::start(backend).await;
    let hq = app.login_staff("hq-demo").await;
    let hq_id = hq.ok(ME, json!({})).await["me"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let stores = store_ids(&hq).await;
    let (id, one_time) = create_staff(&hq, "ba-audit", "BA", Some(&stores[0])).await;
    hq.ok(
        "mutation($id: ID!, $s: ID!) { updateStaffAccount(id: $id, input: { displayName: \"王芳\", storeId: $s }) { id } }",
        json!({ "id": id, "s": stores[1] }),
    )
    .await;
    let reset = hq
        .ok(
            "mutation($id: ID!) { resetStaffPassword(id: $id) { oneTimePassword } }",
            json!({ "id": id }),
        )
        .await;
    let reset_pw = reset["resetStaffPassword"]["oneTimePassword"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.staff()
            .err(LOGIN, json!({ "u": "ba-audit", "p": "wrong-password-1" }))
            .await,
        "UNAUTHENTICATED"
    );
    hq.ok(
        "mutation($id: ID!) { deactivateStaffAccount(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await;

    let entries = audit_of(
        &hq,
        json!({ "subjectType": "STAFF_ACCOUNT", "subjectId": id }),
    )
    .await;
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "STAFF_DEACTIVATE",
            "LOGIN_FAILED",
            "STAFF_PASSWORD_RESET",
            "STAFF_UPDATE",
            "STAFF_CREATE"
        ]
    );
    for e in &entries {
        assert_eq!(e["clientAddress"], "127.0.0.1", "{e}");
        assert_eq!(e["subjectId"], id.as_str());
    }
    let by_action = |a: &str| entries.iter().find(|e| e["action"] == a).unwrap();
    let update = by_action("STAFF_UPDATE");
    assert_eq!(update["actorKind"], "STAFF");
    assert_eq!(update["actorId"], hq_id.as_str());
    assert_eq!(update["detail"]["before"]["display_name"], "新同事");
    assert_eq!(update["detail"]["after"]["display_name"], "王芳");
    assert_eq!(update["detail"]["after"]["store_id"].to_string(), stores[1]);
    assert_eq!(
        by_action("STAFF_DEACTIVATE")["detail"]["after"]["active"],
        false
    );
    assert_eq!(
        by_action("STAFF_CREATE")["detail"]["after"]["phone"],
        "139****5678"
    );
    let failed = by_action("LOGIN_FAILED");
    assert_eq!(failed["detail"]["reason"], "WRONG_PASSWORD");
    assert_eq!(failed["actorKind"], "SYSTEM");

    // Filters: by actor and by action.
    let by_hq = audit_of(&hq, json!({ "actorId": hq_id, "action": "STAFF_UPDATE" })).await;
    assert_eq!(by_hq.len(), 1);

    // No password, one-time password, hash or phone number anywhere in the log.
    let rows = entities::audit_log::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    assert!(rows.len() >= 5);
    for row in rows {
        let text = serde_json::to_string(&row.detail.into_inner()).unwrap();
        for secret in [
            one_time.as_str(),
            reset_pw.as_str(),
            "wrong-password-1",
            "$argon2",
            "13912345678",
        ] {
            assert!(!text.contains(secret), "{text} holds {secret}");
        }
    }
}

async fn the_first_administrator_comes_from_the_command_line(backend: Backend) {
    let app = TestApp::builder(backend).empty().start().await;
    let admin = |username: &str| NewStaffAccount {
        username: username.into(),
        display_name: "总部管理员".into(),
        role: StaffRole::Hq,
        store_id: None,
        phone: None,
    };
    for weak in ["short", "chief-admin-1", "password123", "1234567890"] {
        let err = accounts::create_first_admin(&app.state, admin("chief-admin"), weak)
            .await
            .unwrap_err();
        assert!(
            matches!(err, accounts::AccountsError::WeakPassword(_)),
            "{weak}: {err}"
        );
    }
    let err = accounts::create_first_admin(
        &app.state,
        NewStaffAccount {
            role: StaffRole::Ba,
            ..admin("chief-ba")
        },
        "violet-harbour-42",
    )
    .await
    .unwrap_err();
    assert!(matches!(err, accounts::AccountsError::Invalid(_)), "{err}");
    assert_eq!(
        entities::staff_account::Entity::find()
            .count(app.db())
            .await
            .unwrap(),
        0
    );

    let created =
        accounts::create_first_admin(&app.state, admin("chief-admin"), "violet-harbour-42")
            .await
            .unwrap();
    assert_eq!(created.role, StaffRole::Hq);
    assert!(!created.must_change_password);
    let again =
        accounts::create_first_admin(&app.state, admin("chief-admin"), "another-harbour-43")
            .await
            .unwrap_err();
    assert!(
        matches!(again, accounts::AccountsError::UsernameTaken(_)),
        "{again}"
    );
    assert_eq!(
        entities::staff_account::Entity::find()
            .count(app.db())
            .await
            .unwrap(),
        1
    );

    // The new administrator signs in with the chosen password and opens the first store's staff.
    let hq = login(&app.staff(), "chief-admin", "violet-harbour-42").await;
    assert_eq!(hq.ok(ME, json!({})).await["me"]["role"], "HQ");
    let store = hq
        .ok(
            "mutation { createStore(input: { code: \"SH100\", name: \"首店\", city: \"上海\", address: \"南京西路1号\" }) { id } }",
            json!({}),
        )
        .await;
    let store_id = store["createStore"]["id"].as_str().unwrap().to_owned();
    create_staff(&hq, "first-manager", "MANAGER", Some(&store_id)).await;
}

/// HQ switches one distributor account off and on and resets its password: each takes effect
/// on the account's very next request, is audited, and is HQ's alone.
async fn hq_manages_single_distributor_accounts(backend: Backend) {
    let app = TestApp::start(backend).await;
    let hq = app.login_staff("hq-demo").await;
    let manager = app.login_staff("manager-demo").await;
    let owner = app.login_distributor("dist-demo").await;
    let id = owner.ok(DIST_ME, json!({})).await["me"]["account"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let off = "mutation($id: ID!) { deactivateDistributorAccount(id: $id) { id active } }";
    let on = "mutation($id: ID!) { reactivateDistributorAccount(id: $id) { id active } }";
    let reset = "mutation($id: ID!) { resetDistributorPassword(id: $id) { oneTimePassword account { id mustChangePassword } } }";

    // Only HQ; an unknown account is not found; nothing changes.
    for op in [off, on, reset] {
        assert_eq!(manager.err(op, json!({ "id": id })).await, "FORBIDDEN");
        assert_eq!(hq.err(op, json!({ "id": "999999" })).await, "NOT_FOUND");
    }
    owner.ok(DIST_ME, json!({})).await;

    let data = hq.ok(off, json!({ "id": id })).await;
    assert_eq!(data["deactivateDistributorAccount"]["active"], false);
    assert_eq!(owner.err(DIST_ME, json!({})).await, "UNAUTHENTICATED");
    assert_eq!(
        app.distributor()
            .err(
                LOGIN,
                json!({ "u": "dist-demo", "p": domain::seed::DEMO_PASSWORD })
            )
            .await,
        "FORBIDDEN"
    );
    let data = hq.ok(on, json!({ "id": id })).await;
    assert_eq!(data["reactivateDistributorAccount"]["active"], true);
    let owner = app.login_distributor("dist-demo").await;
    owner.ok(DIST_ME, json!({})).await;

    // A reset ends the session at once; the old password no longer works; the new one
    // must be changed before anything else.
    let data = hq.ok(reset, json!({ "id": id })).await;
    let one_time = data["resetDistributorPassword"]["oneTimePassword"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        data["resetDistributorPassword"]["account"]["mustChangePassword"],
        true
    );
    assert_eq!(owner.err(DIST_ME, json!({})).await, "UNAUTHENTICATED");
    assert_eq!(
        app.distributor()
            .err(
                LOGIN,
                json!({ "u": "dist-demo", "p": domain::seed::DEMO_PASSWORD })
            )
            .await,
        "UNAUTHENTICATED"
    );
    let fresh = login(&app.distributor(), "dist-demo", &one_time).await;
    assert_eq!(fresh.err(MY_TEAM, json!({})).await, "FORBIDDEN");
    fresh
        .ok(CHANGE, json!({ "o": one_time, "n": "amber-lantern-77" }))
        .await;
    fresh.ok(MY_TEAM, json!({})).await;

    let entries = audit_of(
        &hq,
        json!({ "subjectType": "DISTRIBUTOR_ACCOUNT", "subjectId": id }),
    )
    .await;
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .filter(|a| a.starts_with("DISTRIBUTOR_ACCOUNT"))
        .collect();
    assert_eq!(
        actions,
        [
            "DISTRIBUTOR_ACCOUNT_PASSWORD_CHANGE",
            "DISTRIBUTOR_ACCOUNT_PASSWORD_RESET",
            "DISTRIBUTOR_ACCOUNT_REACTIVATE",
            "DISTRIBUTOR_ACCOUNT_DEACTIVATE",
            "DISTRIBUTOR_ACCOUNT_CREATE",
        ]
    );
    let text = serde_json::to_string(&entries).unwrap();
    assert!(!text.contains(&one_time), "no password in the audit log");
}

/// Wrong current passwords given to changeMyPassword: parallel guesses get exactly the budget,
/// then even the right one waits; nothing changes.
async fn wrong_current_passwords_are_throttled(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ba = app.login_staff("ba-demo").await;
    let answers = futures::future::join_all((0..20).map(|i| {
        let ba = ba.clone();
        async move {
            let body = ba
                .raw(
                    CHANGE,
                    json!({ "o": format!("not-it-{i}"), "n": "granite-orchid-93" }),
                )
                .await;
            body["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap_or("none")
                .to_owned()
        }
    }))
    .await;
    let count = |code: &str| answers.iter().filter(|a| a.as_str() == code).count();
    assert_eq!(
        count("BAD_USER_INPUT"),
        accounts::PASSWORD_CHECKS as usize,
        "{answers:?}"
    );
    assert_eq!(
        count("RATE_LIMITED"),
        20 - accounts::PASSWORD_CHECKS as usize,
        "{answers:?}"
    );
    let body = ba
        .raw(
            CHANGE,
            json!({ "o": domain::seed::DEMO_PASSWORD, "n": "granite-orchid-93" }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["reason"], "PASSWORD_CHECKS_THROTTLED",
        "{body}"
    );
    // The password is unchanged; another account has its own budget.
    login(&app.staff(), "ba-demo", domain::seed::DEMO_PASSWORD).await;
    let manager = app.login_staff("manager-demo").await;
    let body = manager
        .raw(
            CHANGE,
            json!({ "o": "wrong-one", "n": "granite-orchid-93" }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

on_both_backends!(
    hq_manages_single_distributor_accounts,
    wrong_current_passwords_are_throttled,
    one_time_passwords_must_be_changed_first,
    deactivation_and_role_changes_take_effect_on_the_next_request,
    a_manager_manages_only_her_own_stores_bas,
    distributor_owners_reach_only_their_own_organisation,
    account_changes_and_failed_logins_are_audited_without_secrets,
    the_first_administrator_comes_from_the_command_line
);

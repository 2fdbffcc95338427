//! The demo's people: staff of each role, a distributor with its buyer account, and members
//! with skin profiles, allergies and encrypted phone numbers.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, DatabaseTransaction, Set};

use super::{DEMO_MEMBERS, SeedError};
use crate::AppState;
use crate::accounts;
use crate::auth::StaffRole;
use crate::members::{Gender, SkinConcern, TagSource};
use entities::{distributor, member, member_allergy, member_tag};

/// The demo staff, through the same path as `createStaffAccount` (with the documented demo
/// password and no forced change), by store: HQ and finance; at SH001 the manager and `ba-demo`;
/// a BA at BJ001 (`ba-bj-demo`) and at GZ001 (`ba-gz-demo`). Returns the BAs' ids per store, in
/// `store_ids`' order.
pub(super) async fn staff(
    app: &AppState,
    txn: &DatabaseTransaction,
    store_ids: &[i64],
    password: &str,
) -> Result<Vec<Vec<i64>>, SeedError> {
    let mut bas = vec![Vec::new(); store_ids.len()];
    for (username, display, role, store) in [
        ("hq-demo", "总部运营", StaffRole::Hq, None),
        ("manager-demo", "静安店长", StaffRole::Manager, Some(0)),
        ("ba-demo", "静安美容顾问", StaffRole::Ba, Some(0)),
        ("ba-bj-demo", "三里屯美容顾问", StaffRole::Ba, Some(1)),
        ("ba-gz-demo", "天环美容顾问", StaffRole::Ba, Some(2)),
        ("finance-demo", "总部财务", StaffRole::Finance, None),
    ] {
        let store_id = store.and_then(|i| store_ids.get(i).copied());
        if store.is_some() && store_id.is_none() {
            continue;
        }
        let account = accounts::seed_staff_account(
            txn,
            app,
            accounts::NewStaffAccount {
                username: username.into(),
                display_name: display.into(),
                role,
                store_id,
                phone: None,
            },
            password,
        )
        .await
        .map_err(seed_error)?;
        if let (StaffRole::Ba, Some(list)) = (role, store.and_then(|i| bas.get_mut(i))) {
            list.push(account.id);
        }
    }
    Ok(bas)
}

fn seed_error(err: accounts::AccountsError) -> SeedError {
    match err {
        accounts::AccountsError::Store(s) => SeedError::Store(s),
        other => SeedError::Accounts(other.to_string()),
    }
}

/// The demo distributor and its OWNER account (`dist-demo`), through HQ's paths.
pub(super) async fn distributor(
    app: &AppState,
    txn: &DatabaseTransaction,
    password: &str,
) -> Result<(), SeedError> {
    let dist = accounts::seed_distributor(
        txn,
        app,
        accounts::DistributorInput {
            code: "D-EAST-01".into(),
            name: "华东美妆贸易有限公司".into(),
            level: "A".into(),
            territory: vec!["310000".into()],
            contact_name: None,
            contact_phone: None,
        },
        ("dist-demo", "华东采购"),
        password,
    )
    .await
    .map_err(seed_error)?;
    // Credit terms are finance's business (a later issue): the demo starts with 500,000 yuan.
    distributor::ActiveModel {
        id: Set(dist.id),
        credit_limit_fen: Set(50_000_000),
        ..Default::default()
    }
    .update(txn)
    .await?;
    Ok(())
}

pub(super) async fn members(
    app: &AppState,
    txn: &DatabaseTransaction,
    openid_for: &impl Fn(&str) -> String,
    now: DateTime<Utc>,
) -> Result<(), SeedError> {
    for (i, demo) in DEMO_MEMBERS.iter().enumerate() {
        let e164 = format!("+86{}", demo.phone);
        let row = member::ActiveModel {
            member_code: Set(format!("MDEMO{:06}", i + 1)),
            openid: Set(openid_for(demo.wechat_user)),
            unionid: Set(None),
            nickname: Set(Some(demo.nickname.into())),
            gender: Set(Gender::Female),
            skin_type: Set(Some(demo.skin_type)),
            skin_concerns: Set(SkinConcern::to_bits(demo.concerns)),
            marketing_consent: Set(true),
            marketing_consent_at: Set(Some(now)),
            phone_cipher: Set(Some(app.pii.encrypt(&e164))),
            phone_index: Set(Some(app.pii.blind_index(&e164))),
            phone_masked: Set(Some(format!(
                "{}****{}",
                &demo.phone[..3],
                &demo.phone[7..]
            ))),
            tier_code: Set("MEMBER".into()),
            cumulative_spend_fen: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        member_tag::ActiveModel {
            member_id: Set(row.id),
            name: Set(demo.skin_type.tag().into()),
            source: Set(TagSource::System),
            created_by: Set(None),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        crate::privacy::record_demo_consents(txn, app, row.id, now).await?;
        for ingredient in demo.allergies {
            member_allergy::ActiveModel {
                member_id: Set(row.id),
                ingredient: Set((*ingredient).into()),
            }
            .insert(txn)
            .await?;
        }
    }
    Ok(())
}

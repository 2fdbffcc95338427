//! Reading a rebate account: the balance row and the ledger, newest first (a connection). The
//! distributor reads its own; HQ and finance any distributor's.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::super::B2bError;
use crate::AppState;
use crate::auth::{DistributorPrincipal, Permission, StaffPrincipal};
use crate::platform::page::{IdKey, Keyset, Page};
use entities::rebate_entry::RebateEntryKind;
use entities::{distributor, rebate_account, rebate_entry};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RebateAccount {
    pub distributor_id: i64,
    pub accrued_fen: i64,
    pub pending_fen: i64,
    pub available_fen: i64,
    pub held_fen: i64,
    pub used_fen: i64,
    pub owed_fen: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebateEntry {
    pub id: i64,
    pub kind: RebateEntryKind,
    pub quarter: String,
    pub policy_id: Option<i64>,
    pub amount_fen: i64,
    pub source_ref: String,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

async fn account_of(app: &AppState, distributor_id: i64) -> Result<RebateAccount, B2bError> {
    Ok(rebate_account::Entity::find_by_id(distributor_id)
        .one(&app.db)
        .await?
        .map_or(
            RebateAccount {
                distributor_id,
                ..RebateAccount::default()
            },
            |a| RebateAccount {
                distributor_id,
                accrued_fen: a.accrued_fen,
                pending_fen: a.pending_fen,
                available_fen: a.available_fen,
                held_fen: a.held_fen,
                used_fen: a.used_fen,
                owed_fen: a.owed_fen,
            },
        ))
}

/// The caller's organisation's rebate account.
pub async fn rebate_account(
    app: &AppState,
    who: &DistributorPrincipal,
) -> Result<RebateAccount, B2bError> {
    account_of(app, who.distributor_id).await
}

/// A distributor's rebate account (HQ, finance).
pub async fn distributor_rebate_account(
    app: &AppState,
    staff: &StaffPrincipal,
    distributor_id: i64,
) -> Result<RebateAccount, B2bError> {
    staff.require(Permission::ViewDistributors)?;
    distributor::Entity::find_by_id(distributor_id)
        .one(&app.db)
        .await?
        .ok_or(B2bError::NotFound("distributor"))?;
    account_of(app, distributor_id).await
}

/// The ledger of an account read through [`rebate_account`] or
/// [`distributor_rebate_account`] (which checked who may read it), newest first.
pub async fn rebate_ledger(
    app: &AppState,
    account: &RebateAccount,
    page: Keyset<IdKey>,
) -> Result<Page<RebateEntry>, B2bError> {
    let mut q = rebate_entry::Entity::find()
        .filter(rebate_entry::Column::DistributorId.eq(account.distributor_id))
        .order_by_desc(rebate_entry::Column::Id)
        .limit(page.fetch());
    if let Some(after) = page.after {
        q = q.filter(rebate_entry::Column::Id.lt(after));
    }
    Ok(page.page(q.all(&app.db).await?).map(|e| RebateEntry {
        id: e.id,
        kind: e.kind,
        quarter: e.quarter,
        policy_id: e.policy_id,
        amount_fen: e.amount_fen,
        source_ref: e.source_ref,
        note: e.note,
        created_at: e.created_at,
    }))
}

//! A member asks for her unused principal back (单用途商业预付卡: the unused principal is
//! refundable on request): a manager or HQ records it; the bonus is forfeited with it. The money
//! itself goes back through the tender it came in (cash, card, WeChat) outside Rouge.

use serde_json::json;

use super::ledger::{self, Change};
use super::{Balance, BalanceSource, StoredValueError, invalid};
use crate::audit::{self, Action, Actor, SubjectKind};
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::{db, validate};
use crate::{AppState, RequestMeta};

/// Pays back the member's whole unused principal and writes off the bonus; returns the
/// principal paid back. A retry with the same key changes nothing more.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id, member_id))]
pub async fn return_principal(
    app: &AppState,
    staff: &StaffPrincipal,
    meta: &RequestMeta,
    member_id: i64,
    idempotency_key: &str,
) -> Result<i64, StoredValueError> {
    staff.require(Permission::RefundOrders)?;
    validate::idempotency_key(idempotency_key).map_err(invalid)?;
    let now = app.clock.now();
    let key = format!("principal-return:{}:{idempotency_key}", staff.staff_id);
    let txn = db::begin_write(&app.db).await?;
    let row = ledger::lock(&txn, member_id, now).await?;
    let held = Balance {
        member_id,
        principal_fen: row.principal_fen,
        bonus_fen: row.bonus_fen,
        bonus_expires_at: row.bonus_expires_at,
    };
    if held.principal_fen == 0 {
        return Err(invalid("the member has no unused principal"));
    }
    let applied = ledger::apply(
        &txn,
        &Change {
            member_id,
            source: BalanceSource::PrincipalReturned,
            principal_delta_fen: -held.principal_fen,
            bonus_delta_fen: -held.bonus_fen,
            reference: None,
            key: &key,
            staff_id: Some(staff.staff_id),
            bonus_valid_until: None,
            at: now,
        },
    )
    .await?;
    if !applied {
        return Ok(0);
    }
    audit::record(
        &txn,
        app,
        meta,
        Actor::Staff(staff.staff_id),
        Action::MemberBalanceRead,
        (SubjectKind::Member, Some(member_id)),
        json!({ "principal_returned_fen": held.principal_fen, "bonus_forfeited_fen": held.bonus_fen }),
    )
    .await?;
    txn.commit().await?;
    Ok(held.principal_fen)
}

//! 政策执行率: what each policy did to each order (recorded when the order is submitted and
//! replaced when it is edited, in the same transaction), and HQ's view of one policy: the
//! distributors it is addressed to, how many acknowledged it, how many ordered under it, the
//! gift units and discount it gave. Cancelled and rejected orders do not count.

use std::collections::{BTreeMap, HashSet};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::B2bError;
use super::quote::Quote;
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use entities::purchase_order::PoStatus;
use entities::{b2b_policy, b2b_policy_ack, distributor, purchase_order, purchase_order_policy};

/// Writes what the quote's policies did to order `po_id` (`replacing` what an earlier version
/// of the order recorded, when it is edited).
pub(crate) async fn record_applied<C: ConnectionTrait>(
    db: &C,
    (po_id, replacing): (i64, bool),
    distributor_id: i64,
    quote: &Quote,
) -> Result<(), B2bError> {
    if replacing {
        purchase_order_policy::Entity::delete_many()
            .filter(purchase_order_policy::Column::PurchaseOrderId.eq(po_id))
            .exec(db)
            .await?;
    }
    // (discount, gift units) per policy, in the order the quote applied them.
    let mut by_policy: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for step in &quote.explain {
        if let Some(policy_id) = step.policy_id {
            by_policy.entry(policy_id).or_default().0 += step.amount_fen;
        }
    }
    for (policy_id, units) in &quote.policy_gifts {
        by_policy.entry(*policy_id).or_default().1 += units;
    }
    if by_policy.is_empty() {
        return Ok(());
    }
    purchase_order_policy::Entity::insert_many(by_policy.into_iter().map(
        |(policy_id, (discount, gifts))| purchase_order_policy::ActiveModel {
            purchase_order_id: sea_orm::Set(po_id),
            policy_id: sea_orm::Set(policy_id),
            distributor_id: sea_orm::Set(distributor_id),
            discount_fen: sea_orm::Set(discount),
            gift_units: sea_orm::Set(gifts),
            ..Default::default()
        },
    ))
    .exec(db)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyExecution {
    pub policy_id: i64,
    /// Active distributors the policy is addressed to (tier, kind, region).
    pub distributors_in_scope: i64,
    /// Of those, how many acknowledged it.
    pub acknowledged: i64,
    /// Of those, how many have a live or completed order the policy applied to.
    pub ordered: i64,
    /// Orders the policy applied to (not cancelled or rejected).
    pub orders: i64,
    pub gift_units: i64,
    pub discount_fen: i64,
}

/// One policy's execution (HQ).
pub async fn policy_execution(
    app: &AppState,
    staff: &StaffPrincipal,
    policy_id: i64,
) -> Result<PolicyExecution, B2bError> {
    staff.require(Permission::ManageB2b)?;
    let policy = b2b_policy::Entity::find_by_id(policy_id)
        .one(&app.db)
        .await?
        .ok_or(B2bError::NotFound("policy"))?;
    let in_scope: HashSet<i64> = distributor::Entity::find()
        .filter(distributor::Column::Active.eq(true))
        .all(&app.db)
        .await?
        .into_iter()
        .filter(|d| super::scope::addressed_to(&policy, d))
        .map(|d| d.id)
        .collect();
    let acknowledged = b2b_policy_ack::Entity::find()
        .filter(b2b_policy_ack::Column::PolicyId.eq(policy_id))
        .all(&app.db)
        .await?
        .into_iter()
        .filter(|a| in_scope.contains(&a.distributor_id))
        .count();
    let applied = purchase_order_policy::Entity::find()
        .filter(purchase_order_policy::Column::PolicyId.eq(policy_id))
        .filter(
            purchase_order_policy::Column::PurchaseOrderId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(purchase_order::Column::Id)
                    .from(purchase_order::Entity)
                    .and_where(
                        purchase_order::Column::Status
                            .is_not_in([PoStatus::Cancelled, PoStatus::Rejected]),
                    )
                    .to_owned(),
            ),
        )
        .all(&app.db)
        .await?;
    let ordered: HashSet<i64> = applied
        .iter()
        .map(|a| a.distributor_id)
        .filter(|d| in_scope.contains(d))
        .collect();
    Ok(PolicyExecution {
        policy_id,
        distributors_in_scope: count(in_scope.len()),
        acknowledged: count(acknowledged),
        ordered: count(ordered.len()),
        orders: count(applied.len()),
        gift_units: applied.iter().map(|a| a.gift_units).sum(),
        discount_fen: applied.iter().map(|a| a.discount_fen).sum(),
    })
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

//! Who a policy is addressed to (政策直达 by 经销商类型 and 区域): a tier (or every tier), a
//! distributor kind (or every kind) and regions (or everywhere). A distributor is in a policy's
//! regions when its territory overlaps one of them (a territory province inside a policy's
//! region, or a policy city inside the territory's province); a distributor without a territory
//! is in no regional policy. A policy not addressed to a distributor is invisible to it:
//! `myPolicies` leaves it out, quotes do not apply it, acknowledging it is NOT_FOUND.

use sea_orm::{ActiveEnum, ActiveModelTrait, EntityTrait, Set};
use serde_json::json;

use super::B2bError;
use crate::audit::{self, Action, Actor, SubjectKind};
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::regions::{self, RegionCode};
use crate::{AppState, RequestMeta};
pub use entities::distributor::DistributorKind;
use entities::{b2b_policy, distributor};

/// Whether `policy` is addressed to `dist` (validity aside).
pub(crate) fn addressed_to(policy: &b2b_policy::Model, dist: &distributor::Model) -> bool {
    let tier = policy.tier_id.is_none() || policy.tier_id == dist.tier_id;
    let kind = policy.distributor_kind.is_none_or(|k| k == dist.kind);
    let region = match &policy.region_codes {
        None => true,
        Some(text) => overlaps(
            &regions::stored_codes(text),
            &crate::scan_codes::distributor_territory(dist),
        ),
    };
    tier && kind && region
}

fn overlaps(policy: &[RegionCode], territory: &[RegionCode]) -> bool {
    territory
        .iter()
        .any(|t| policy.iter().any(|r| r.contains(*t) || t.contains(*r)))
}

/// The stored form of a policy's regions (names or GB/T 2260 codes): None for everywhere.
pub(crate) fn region_codes(names: &[String]) -> Result<Option<String>, B2bError> {
    if names.is_empty() {
        return Ok(None);
    }
    if names.len() > 40 {
        return Err(B2bError::InvalidInput(
            "a policy lists at most 40 regions".into(),
        ));
    }
    let mut codes = names
        .iter()
        .map(|n| regions::territory_entry(n).map_err(B2bError::InvalidInput))
        .collect::<Result<Vec<_>, _>>()?;
    codes.sort();
    codes.dedup();
    Ok(Some(
        codes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
    ))
}

/// The display names of stored region codes.
pub(crate) fn region_names(stored: Option<&str>) -> Vec<String> {
    stored
        .map(regions::stored_codes)
        .unwrap_or_default()
        .into_iter()
        .map(|c| match c.names() {
            (_, Some(city)) => city.to_owned(),
            (Some(province), None) => province.to_owned(),
            (None, None) => c.to_string(),
        })
        .collect()
}

/// Sets what kind of channel partner a distributor is (HQ; audited).
pub async fn set_distributor_kind(
    app: &AppState,
    meta: &RequestMeta,
    staff: &StaffPrincipal,
    distributor_id: i64,
    kind: DistributorKind,
) -> Result<DistributorKind, B2bError> {
    staff.require(Permission::ManageB2b)?;
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let before = distributor::Entity::find_by_id(distributor_id)
        .one(&txn)
        .await?
        .ok_or(B2bError::NotFound("distributor"))?;
    distributor::ActiveModel {
        id: Set(distributor_id),
        kind: Set(kind),
        ..Default::default()
    }
    .update(&txn)
    .await?;
    audit::record(
        &txn,
        app,
        meta,
        Actor::Staff(staff.staff_id),
        Action::DistributorKindSet,
        (SubjectKind::Distributor, Some(distributor_id)),
        json!({ "before": { "kind": before.kind.to_value() }, "after": { "kind": kind.to_value() } }),
    )
    .await?;
    txn.commit().await?;
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_overlap_by_containment_either_way() {
        let gd = RegionCode(440_000);
        let gz = RegionCode(440_100);
        let sh = RegionCode(310_000);
        assert!(overlaps(&[gd], &[gz]));
        assert!(overlaps(&[gz], &[gd]));
        assert!(!overlaps(&[sh], &[gd, gz]));
        assert!(!overlaps(&[sh], &[]));
    }
}

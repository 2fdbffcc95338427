//! Marketing materials pushed with a policy (营销物料协同, seed 001): HQ uploads an image with
//! the purpose MARKETING_MATERIAL (stored PRIVATE by media: random keys, signed links only)
//! and attaches it to a policy with a title; the distributors the policy is addressed to
//! (tier, kind, region: [`super::scope`]) list them with 5-minute download links. A policy not
//! addressed to the caller's organisation is NOT_FOUND, as everywhere in B2B.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};

use super::B2bError;
use crate::AppState;
use crate::auth::{DistributorPrincipal, Permission, StaffPrincipal};
use crate::media::{self, MediaPurpose};
use crate::platform::error::UniqueViolation;
use entities::{b2b_policy, distributor, policy_material};

/// The most materials one policy carries.
pub const MAX_MATERIALS: u64 = 20;
/// The longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 100;

/// A material with links valid until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Material {
    pub id: i64,
    pub policy_id: i64,
    pub title: String,
    pub width: i32,
    pub height: i32,
    /// largest first
    pub variants: Vec<media::VariantLink>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

fn to_material(row: &policy_material::Model, links: media::PrivateLinks) -> Material {
    Material {
        id: row.id,
        policy_id: row.policy_id,
        title: row.title.clone(),
        width: links.width,
        height: links.height,
        variants: links.variants,
        expires_at: links.expires_at,
        created_at: row.created_at,
    }
}

/// Attaches an uploaded MARKETING_MATERIAL to a policy (HQ, `MANAGE_B2B`); the same asset on
/// the same policy twice, a title of 0 or over 100 characters, or a 21st material →
/// BAD_USER_INPUT.
#[tracing::instrument(skip_all, err, fields(policy_id, asset_id))]
pub async fn attach_policy_material(
    app: &AppState,
    staff: &StaffPrincipal,
    policy_id: i64,
    asset_id: i64,
    title: &str,
) -> Result<Material, B2bError> {
    staff.require(Permission::ManageB2b)?;
    let title = title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
        return Err(B2bError::InvalidInput(
            "a material's title has 1 to 100 characters".into(),
        ));
    }
    b2b_policy::Entity::find_by_id(policy_id)
        .one(&app.db)
        .await?
        .ok_or(B2bError::NotFound("policy"))?;
    let links = media::private_links(app, asset_id, MediaPurpose::MarketingMaterial)
        .await?
        .ok_or(B2bError::NotFound("marketing material upload"))?;
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let count = policy_material::Entity::find()
        .filter(policy_material::Column::PolicyId.eq(policy_id))
        .count(&txn)
        .await?;
    if count >= MAX_MATERIALS {
        return Err(B2bError::InvalidInput(
            "a policy carries at most 20 materials".into(),
        ));
    }
    let row = policy_material::ActiveModel {
        policy_id: Set(policy_id),
        asset_id: Set(asset_id),
        title: Set(title.to_owned()),
        attached_by_staff_id: Set(staff.staff_id),
        created_at: Set(app.clock.now()),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .on_unique_violation(|| {
        B2bError::InvalidInput("this material is already attached to the policy".into())
    })?;
    txn.commit().await?;
    Ok(to_material(&row, links))
}

/// The materials of a policy addressed to the caller's organisation, in the order attached,
/// with fresh 5-minute links. Any distributor role may read them.
pub async fn marketing_materials(
    app: &AppState,
    who: &DistributorPrincipal,
    policy_id: i64,
) -> Result<Vec<Material>, B2bError> {
    let dist = distributor::Entity::find_by_id(who.distributor_id)
        .one(&app.db)
        .await?
        .ok_or(B2bError::NotFound("distributor"))?;
    b2b_policy::Entity::find_by_id(policy_id)
        .one(&app.db)
        .await?
        .filter(|p| super::scope::addressed_to(p, &dist))
        .ok_or(B2bError::NotFound("policy"))?;
    let rows = policy_material::Entity::find()
        .filter(policy_material::Column::PolicyId.eq(policy_id))
        .order_by_asc(policy_material::Column::Id)
        .all(&app.db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        if let Some(links) =
            media::private_links(app, row.asset_id, MediaPurpose::MarketingMaterial).await?
        {
            out.push(to_material(row, links));
        }
    }
    Ok(out)
}

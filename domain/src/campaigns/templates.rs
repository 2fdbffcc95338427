//! Subscription-message templates HQ registers (WECHAT.md §4), and the check of a campaign's
//! values against its template before anything is sent.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use wechat_integration::check_subscribe_value;

use super::{CampaignsError, TemplateKey, invalid};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::error::UniqueViolation;
use entities::subscription_template::{self, KeyKind};
use entities::typed::JsonText;

/// A key's kind as WeChat spells it (`thing`, `character_string`, ...); unknown is bad input.
pub fn key_kind(key: &str, kind: &str) -> Result<KeyKind, CampaignsError> {
    KeyKind::parse(kind).ok_or_else(|| invalid(format!("{key}: unknown kind {kind:?}")))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionTemplate {
    pub id: i64,
    pub template_id: String,
    pub title: String,
    pub keys: Vec<TemplateKey>,
    pub created_at: DateTime<Utc>,
}

pub(crate) fn template_view(row: subscription_template::Model) -> SubscriptionTemplate {
    SubscriptionTemplate {
        id: row.id,
        template_id: row.template_id,
        title: row.title,
        keys: row.keys.into_inner(),
        created_at: row.created_at,
    }
}

fn check_template_id(id: &str) -> Result<(), CampaignsError> {
    if (1..=128).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        Ok(())
    } else {
        Err(invalid(format!("malformed template id {id:?}")))
    }
}

/// HQ registers a template WeChat approved for the mini-program, with its keys' kinds.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id))]
pub async fn register_template(
    app: &AppState,
    staff: &StaffPrincipal,
    template_id: &str,
    title: &str,
    keys: Vec<TemplateKey>,
) -> Result<SubscriptionTemplate, CampaignsError> {
    staff.require(Permission::ManageCampaigns)?;
    check_template_id(template_id)?;
    let title = title.trim();
    if title.is_empty() || title.chars().count() > 64 {
        return Err(invalid("the title is 1 to 64 characters"));
    }
    if keys.is_empty() || keys.len() > 20 {
        return Err(invalid("a template has 1 to 20 keys"));
    }
    let mut seen = std::collections::HashSet::new();
    for k in &keys {
        let prefix = k.key.trim_end_matches(|c: char| c.is_ascii_digit());
        let kind = k.kind.as_str();
        if prefix != kind || prefix.len() == k.key.len() {
            return Err(invalid(format!(
                "{}: a key is its kind followed by a number ({kind}1, {kind}2...)",
                k.key
            )));
        }
        if !seen.insert(k.key.clone()) {
            return Err(invalid(format!("{}: listed twice", k.key)));
        }
    }
    let row = subscription_template::ActiveModel {
        template_id: Set(template_id.to_owned()),
        title: Set(title.to_owned()),
        keys: Set(JsonText(keys)),
        created_by: Set(Some(staff.staff_id)),
        created_at: Set(app.clock.now()),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .on_unique_violation(|| {
        CampaignsError::Conflict(format!("template {template_id} is already registered"))
    })?;
    Ok(template_view(row))
}

pub async fn templates(
    app: &AppState,
    staff: &StaffPrincipal,
) -> Result<Vec<SubscriptionTemplate>, CampaignsError> {
    staff.require(Permission::ManageCampaigns)?;
    Ok(subscription_template::Entity::find()
        .order_by_asc(subscription_template::Column::Id)
        .all(&app.db)
        .await?
        .into_iter()
        .map(template_view)
        .collect())
}

pub(crate) async fn template_by_wechat_id<C: ConnectionTrait>(
    db: &C,
    template_id: &str,
) -> Result<SubscriptionTemplate, CampaignsError> {
    subscription_template::Entity::find()
        .filter(subscription_template::Column::TemplateId.eq(template_id))
        .one(db)
        .await?
        .map(template_view)
        .ok_or(CampaignsError::NotFound("subscription template"))
}

/// The per-member fields a value may hold.
pub const PLACEHOLDERS: &[&str] = &["nickname", "member_code", "coupon"];

/// Replaces `{{field}}` with the member's value.
pub(crate) fn render(value: &str, fields: &[(&str, &str)]) -> String {
    let mut out = value.to_owned();
    for (name, v) in fields {
        out = out.replace(&format!("{{{{{name}}}}}"), v);
    }
    out
}

/// Checks a campaign's values against its template before anything is sent: every key has a
/// value, no stray keys, placeholders are known, and each value (with placeholders filled by a
/// typical member) keeps its key's rule.
pub fn check_values(
    template: &SubscriptionTemplate,
    values: &BTreeMap<String, String>,
    has_coupon: bool,
) -> Result<(), CampaignsError> {
    for key in values.keys() {
        if !template.keys.iter().any(|k| &k.key == key) {
            return Err(invalid(format!(
                "{key}: not a key of template {}",
                template.template_id
            )));
        }
    }
    for k in &template.keys {
        let Some(value) = values.get(&k.key) else {
            return Err(invalid(format!("{}: a value is required", k.key)));
        };
        let mut rest = value.as_str();
        while let Some(start) = rest.find("{{") {
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                return Err(invalid(format!("{}: unclosed placeholder", k.key)));
            };
            let name = &after[..end];
            if !PLACEHOLDERS.contains(&name) || (name == "coupon" && !has_coupon) {
                return Err(invalid(format!(
                    "{}: unknown placeholder {{{{{name}}}}}",
                    k.key
                )));
            }
            rest = &after[end + 2..];
        }
        let sample = render(
            value,
            &[
                ("nickname", "会员"),
                ("member_code", "M2026ABCD"),
                ("coupon", "满300减50"),
            ],
        );
        check_subscribe_value(&k.key, &sample)?;
    }
    Ok(())
}

//! Everything Rouge holds about one member, as one JSON document (PIPL art. 45): the member
//! reads it in the mini-program (`exportMyData`), customer service writes it to a file for a
//! request made by phone (`rouge members export`). Both are this function, and both are audited.
//!
//! Rows are exported column by column as stored (so a column added later is exported without
//! anyone remembering to), less the columns that are Rouge's own machinery (idempotency keys,
//! request hashes, ciphertexts, blind indexes, WeChat ids). Staff appear by display name.

use std::collections::{BTreeMap, HashMap};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Select};
use serde_json::{Map, Value, json};

use super::PrivacyError;
use crate::AppState;
use crate::platform::error::StoreError;
use entities::audit_log::{ActorKind, SubjectKind};
use entities::member::SkinConcern;
use entities::{
    audit_log, booking, campaign, campaign_delivery, coupon, coupon_template, flash_sale_grab,
    member, member_allergy, member_consent, member_insight, member_tag, order, order_line,
    points_ledger, scan_event, scan_redemption, staff_account, subscription_consent,
};

/// The version of the document's shape, for whoever reads an exported file later.
pub const EXPORT_FORMAT: &str = "rouge.member-export/1";

/// Columns that are Rouge's machinery rather than information about the member.
const INTERNAL: &[&str] = &[
    "idempotency_key",
    "request_hash",
    "issue_key",
    "source_key",
    "claimed_until",
    "next_attempt_at",
    "attempts",
    "holds_until",
    "phone_cipher",
    "phone_index",
    "openid",
    "unionid",
    "password_hash",
];

async fn rows<E, C>(db: &C, select: Select<E>) -> Result<Vec<Value>, StoreError>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let found = select.into_json().all(db).await?;
    Ok(found
        .into_iter()
        .map(|mut row| {
            if let Value::Object(map) = &mut row {
                for key in INTERNAL {
                    map.remove(*key);
                }
            }
            row
        })
        .collect())
}

fn id_of(row: &Value, key: &str) -> Option<i64> {
    row.get(key).and_then(Value::as_i64)
}

/// The member's document. `generated_at` is the caller's clock.
pub async fn member_document(app: &AppState, member_id: i64) -> Result<Value, PrivacyError> {
    let db = &app.db;
    let m = member::Entity::find_by_id(member_id)
        .one(db)
        .await?
        .ok_or(PrivacyError::MemberNotFound)?;
    let phone = m
        .phone_cipher
        .as_deref()
        .map(|c| app.pii.decrypt(c))
        .transpose()?;
    let profile = json!({
        "id": m.id,
        "memberCode": m.member_code,
        "nickname": m.nickname,
        "gender": sea_orm::ActiveEnum::to_value(&m.gender),
        "birthday": m.birthday,
        "region": {
            "province": m.region_province, "city": m.region_city,
            "district": m.region_district, "code": m.region_code,
        },
        "phone": phone,
        "skinType": m.skin_type.map(|t| sea_orm::ActiveEnum::to_value(&t)),
        "skinConcerns": SkinConcern::from_bits(m.skin_concerns)
            .iter().map(sea_orm::ActiveEnum::to_value).collect::<Vec<_>>(),
        "marketingConsent": m.marketing_consent,
        "marketingConsentAt": m.marketing_consent_at,
        "tier": m.tier_code,
        "cumulativeSpendFen": m.cumulative_spend_fen,
        "exclusiveBa": staff_name(db, m.exclusive_ba_id).await?,
        "profileUpdatedAt": m.profile_updated_at,
        "profileUpdatedBy": staff_name(db, m.profile_updated_by).await?,
        "createdAt": m.created_at,
        "updatedAt": m.updated_at,
    });
    let mut doc = Map::new();
    doc.insert("format".into(), json!(EXPORT_FORMAT));
    doc.insert("generatedAt".into(), json!(app.clock.now()));
    doc.insert("member".into(), profile);
    let allergies: Vec<String> = member_allergy::Entity::find()
        .filter(member_allergy::Column::MemberId.eq(member_id))
        .order_by_asc(member_allergy::Column::Ingredient)
        .all(db)
        .await?
        .into_iter()
        .map(|a| a.ingredient)
        .collect();
    doc.insert("allergies".into(), json!(allergies));
    doc.insert(
        "tags".into(),
        json!(
            rows(
                db,
                by_member::<member_tag::Entity>(member_tag::Column::MemberId, member_id)
            )
            .await?
        ),
    );
    doc.insert("consents".into(), consents(db, member_id).await?);
    doc.insert("orders".into(), json!(orders(db, member_id).await?));
    doc.insert(
        "pointsLedger".into(),
        json!(
            rows(
                db,
                by_member::<points_ledger::Entity>(points_ledger::Column::MemberId, member_id)
            )
            .await?
        ),
    );
    doc.insert("coupons".into(), json!(coupons(db, member_id).await?));
    doc.insert(
        "bookings".into(),
        json!(
            rows(
                db,
                by_member::<booking::Entity>(booking::Column::MemberId, member_id)
            )
            .await?
        ),
    );
    doc.insert(
        "flashSaleGrabs".into(),
        json!(
            rows(
                db,
                by_member::<flash_sale_grab::Entity>(flash_sale_grab::Column::MemberId, member_id)
            )
            .await?
        ),
    );
    doc.insert("scans".into(), json!({
        "redemptions": rows(db, by_member::<scan_redemption::Entity>(scan_redemption::Column::MemberId, member_id)).await?,
        "events": rows(db, by_member::<scan_event::Entity>(scan_event::Column::MemberId, member_id)).await?,
    }));
    doc.insert(
        "campaignMessages".into(),
        json!(campaign_messages(db, member_id).await?),
    );
    doc.insert(
        "insight".into(),
        json!(
            rows(
                db,
                by_member::<member_insight::Entity>(member_insight::Column::MemberId, member_id)
            )
            .await?
        ),
    );
    doc.insert(
        "staffAccess".into(),
        json!(staff_access(db, member_id).await?),
    );
    Ok(Value::Object(doc))
}

/// The rows of a table that name the member, oldest first (by primary key order of the table).
fn by_member<E: EntityTrait>(column: E::Column, member_id: i64) -> Select<E>
where
    E::Column: ColumnTrait,
{
    E::find().filter(column.eq(member_id))
}

async fn staff_name<C: ConnectionTrait>(
    db: &C,
    id: Option<i64>,
) -> Result<Option<String>, StoreError> {
    let Some(id) = id else {
        return Ok(None);
    };
    Ok(staff_account::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(|s| s.display_name))
}

async fn consents<C: ConnectionTrait>(db: &C, member_id: i64) -> Result<Value, StoreError> {
    let given = rows(
        db,
        member_consent::Entity::find()
            .filter(member_consent::Column::MemberId.eq(member_id))
            .order_by_asc(member_consent::Column::Id),
    )
    .await?;
    let subscriptions = rows(
        db,
        by_member::<subscription_consent::Entity>(
            subscription_consent::Column::MemberId,
            member_id,
        ),
    )
    .await?;
    Ok(json!({ "policies": given, "subscriptionMessages": subscriptions }))
}

async fn orders<C: ConnectionTrait>(db: &C, member_id: i64) -> Result<Vec<Value>, StoreError> {
    let mut orders = rows(
        db,
        order::Entity::find()
            .filter(order::Column::MemberId.eq(member_id))
            .order_by_asc(order::Column::Id),
    )
    .await?;
    let ids: Vec<i64> = orders.iter().filter_map(|o| id_of(o, "id")).collect();
    let mut lines: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
    for chunk in ids.chunks(500) {
        for line in rows(
            db,
            order_line::Entity::find()
                .filter(order_line::Column::OrderId.is_in(chunk.to_vec()))
                .order_by_asc(order_line::Column::Id),
        )
        .await?
        {
            if let Some(order_id) = id_of(&line, "order_id") {
                lines.entry(order_id).or_default().push(line);
            }
        }
    }
    for o in &mut orders {
        let own = id_of(o, "id")
            .and_then(|id| lines.remove(&id))
            .unwrap_or_default();
        if let Value::Object(map) = o {
            map.insert("lines".into(), Value::Array(own));
        }
    }
    Ok(orders)
}

async fn coupons<C: ConnectionTrait>(db: &C, member_id: i64) -> Result<Vec<Value>, StoreError> {
    let mut coupons = rows(
        db,
        by_member::<coupon::Entity>(coupon::Column::MemberId, member_id),
    )
    .await?;
    let ids: Vec<i64> = coupons
        .iter()
        .filter_map(|c| id_of(c, "template_id"))
        .collect();
    let names: HashMap<i64, String> = coupon_template::Entity::find()
        .filter(coupon_template::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    for c in &mut coupons {
        let name = id_of(c, "template_id").and_then(|id| names.get(&id).cloned());
        if let Value::Object(map) = c {
            map.insert("template_name".into(), json!(name));
        }
    }
    Ok(coupons)
}

async fn campaign_messages<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
) -> Result<Vec<Value>, StoreError> {
    let mut deliveries = rows(
        db,
        by_member::<campaign_delivery::Entity>(campaign_delivery::Column::MemberId, member_id),
    )
    .await?;
    let ids: Vec<i64> = deliveries
        .iter()
        .filter_map(|d| id_of(d, "campaign_id"))
        .collect();
    let names: HashMap<i64, String> = campaign::Entity::find()
        .filter(campaign::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    for d in &mut deliveries {
        let name = id_of(d, "campaign_id").and_then(|id| names.get(&id).cloned());
        if let Value::Object(map) = d {
            map.insert("campaign_name".into(), json!(name));
        }
    }
    Ok(deliveries)
}

/// Which staff read or changed the member's data, and when: names, never account ids.
async fn staff_access<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
) -> Result<Vec<Value>, StoreError> {
    let entries = audit_log::Entity::find()
        .filter(audit_log::Column::SubjectKind.eq(SubjectKind::Member))
        .filter(audit_log::Column::SubjectId.eq(member_id))
        .filter(audit_log::Column::ActorKind.eq(ActorKind::Staff))
        .order_by_asc(audit_log::Column::Id)
        .all(db)
        .await?;
    let ids: Vec<i64> = entries.iter().filter_map(|e| e.actor_id).collect();
    let names: HashMap<i64, String> = staff_account::Entity::find()
        .filter(staff_account::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.display_name))
        .collect();
    Ok(entries
        .into_iter()
        .map(|e| {
            json!({
                "staff": e.actor_id.and_then(|id| names.get(&id).cloned()),
                "action": sea_orm::ActiveEnum::to_value(&e.action),
                "at": e.at,
            })
        })
        .collect())
}

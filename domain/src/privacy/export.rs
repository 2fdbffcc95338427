//! Everything Rouge holds about one member, as one JSON document (PIPL art. 45): the member
//! reads it in the mini-program (`exportMyData`), customer service writes it to a file for a
//! request made by phone (`rouge members export`). Both are this function, and both are audited.
//!
//! Rows are exported column by column (so a column added later is exported without anyone
//! remembering to), less the columns that are Rouge's own machinery (idempotency keys, request
//! hashes, ciphertexts, blind indexes, WeChat ids). Staff appear by display name.
//!
//! The document is typed the same on both databases (format 2): keys in camelCase, booleans
//! `true`/`false`, times RFC 3339 in UTC with microseconds (`2026-12-05T12:00:00.000000Z`),
//! dates `YYYY-MM-DD`, statuses and kinds as their stored names; the column's declared type
//! decides, not how the database hands the value back.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use sea_orm::sea_query::ColumnType;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IdenStatic, Iterable, QueryFilter, QueryOrder,
    Select,
};
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
pub const EXPORT_FORMAT: &str = "rouge.member-export/2";

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

/// How a column's value is written in the document.
#[derive(Clone, Copy)]
enum Kind {
    Bool,
    Time,
    Json,
    AsIs,
}

fn kind_of(column_type: &ColumnType) -> Kind {
    match column_type {
        ColumnType::Boolean => Kind::Bool,
        ColumnType::DateTime | ColumnType::Timestamp | ColumnType::TimestampWithTimeZone => {
            Kind::Time
        }
        ColumnType::Json | ColumnType::JsonBinary => Kind::Json,
        _ => Kind::AsIs,
    }
}

/// `snake_case` to `camelCase`.
fn camel(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A time in the document's one format: RFC 3339, UTC, microseconds.
pub(crate) fn time(at: DateTime<Utc>) -> Value {
    Value::String(at.to_rfc3339_opts(SecondsFormat::Micros, true))
}

/// A stored time as either database hands it back (RFC 3339, `YYYY-MM-DD HH:MM:SS[.f][+zz:zz]`).
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%:z"] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .map(|t| t.and_utc())
}

fn typed_value(kind: Kind, value: Value) -> Value {
    match (kind, value) {
        (Kind::Bool, Value::Number(n)) => Value::Bool(n.as_i64().is_some_and(|n| n != 0)),
        (Kind::Bool, Value::String(s)) => Value::Bool(matches!(s.as_str(), "1" | "t" | "true")),
        (Kind::Time, Value::String(s)) => parse_time(&s).map_or(Value::String(s), time),
        (Kind::Json, Value::String(s)) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        (_, v) => v,
    }
}

/// The rows, each typed by its entity's columns, camelCase keys, machinery left out.
async fn rows<E, C>(db: &C, select: Select<E>) -> Result<Vec<Value>, StoreError>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let kinds: HashMap<&'static str, Kind> = E::Column::iter()
        .map(|c| (c.as_str(), kind_of(c.def().get_column_type())))
        .collect();
    let found = select.into_json().all(db).await?;
    Ok(found
        .into_iter()
        .map(|row| match row {
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .filter(|(key, _)| !INTERNAL.contains(&key.as_str()))
                    .map(|(key, value)| {
                        let kind = kinds.get(key.as_str()).copied().unwrap_or(Kind::AsIs);
                        (camel(&key), typed_value(kind, value))
                    })
                    .collect(),
            ),
            other => other,
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
        "marketingConsentAt": m.marketing_consent_at.map(time),
        "tier": m.tier_code,
        "cumulativeSpendFen": m.cumulative_spend_fen,
        "exclusiveBa": staff_name(db, m.exclusive_ba_id).await?,
        "profileUpdatedAt": m.profile_updated_at.map(time),
        "profileUpdatedBy": staff_name(db, m.profile_updated_by).await?,
        "createdAt": time(m.created_at),
        "updatedAt": time(m.updated_at),
    });
    let mut doc = Map::new();
    doc.insert("format".into(), json!(EXPORT_FORMAT));
    doc.insert("generatedAt".into(), time(app.clock.now()));
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
            if let Some(order_id) = id_of(&line, "orderId") {
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
        .filter_map(|c| id_of(c, "templateId"))
        .collect();
    let names: HashMap<i64, String> = coupon_template::Entity::find()
        .filter(coupon_template::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    for c in &mut coupons {
        let name = id_of(c, "templateId").and_then(|id| names.get(&id).cloned());
        if let Value::Object(map) = c {
            map.insert("templateName".into(), json!(name));
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
        .filter_map(|d| id_of(d, "campaignId"))
        .collect();
    let names: HashMap<i64, String> = campaign::Entity::find()
        .filter(campaign::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    for d in &mut deliveries {
        let name = id_of(d, "campaignId").and_then(|id| names.get(&id).cloned());
        if let Value::Object(map) = d {
            map.insert("campaignName".into(), json!(name));
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
                "at": time(e.at),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_typed_the_same_whatever_the_database_gives() {
        assert_eq!(camel("template_id"), "templateId");
        assert_eq!(camel("id"), "id");
        assert_eq!(camel("attribution_until"), "attributionUntil");
        let want = json!("2026-12-05T12:00:00.500000Z");
        for stored in [
            "2026-12-05T12:00:00.5Z",
            "2026-12-05T20:00:00.5+08:00",
            "2026-12-05 12:00:00.5+00:00",
            "2026-12-05 12:00:00.500000+00",
            "2026-12-05 12:00:00.5",
        ] {
            assert_eq!(typed_value(Kind::Time, json!(stored)), want, "{stored}");
        }
        assert_eq!(typed_value(Kind::Bool, json!(1)), json!(true));
        assert_eq!(typed_value(Kind::Bool, json!(0)), json!(false));
        assert_eq!(typed_value(Kind::Bool, json!(true)), json!(true));
        assert_eq!(typed_value(Kind::Json, json!("[1,2]")), json!([1, 2]));
        assert_eq!(typed_value(Kind::AsIs, json!("[1,2]")), json!("[1,2]"));
    }
}

//! Segments: a tree of rules combined with AND/OR (and NOT), compiled into one SQL condition on
//! `members` that the database evaluates. Members are never loaded to be filtered in memory:
//! counting is `COUNT(*)`, the audience is paged by member id.
//!
//! Days in rules (booking history, repurchase due) are local days in the campaign zone
//! (Asia/Shanghai).

use chrono::{DateTime, NaiveDate, Offset, TimeZone, Utc};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::{CampaignKind, CampaignsError, DeliveryState};
use crate::AppState;
use crate::booking::BookingStatus;
use crate::members::{SkinConcern, birthday};
use SegmentRule as R;
pub use entities::campaign::SegmentRule;
use entities::order::OrderStatus;
use entities::{
    booking, booking_service, campaign, campaign_delivery, category, member, member_insight,
    member_tag, order, order_line, product, sku,
};

/// Order statuses that count as a purchase.
pub(crate) const PURCHASED: [OrderStatus; 2] = [OrderStatus::Paid, OrderStatus::PartiallyRefunded];

const MAX_DEPTH: usize = 8;
const MAX_NODES: usize = 200;

fn bad(msg: impl Into<String>) -> CampaignsError {
    CampaignsError::InvalidInput(msg.into())
}

/// What the domain does with a segment rule (the rule itself is data, stored as JSON by the
/// campaign entity): check it, compile it to SQL, check what it names exists.
pub(crate) trait SegmentRuleExt {
    /// Checks sizes and values; a rule that passes compiles.
    fn validate(&self) -> Result<(), CampaignsError>;
    /// The rule as one SQL condition on `members` (for `backend`'s dialect).
    fn condition(&self, backend: DbBackend) -> Condition;
    /// Checks that the booking services and categories the rule names exist.
    async fn check_references<C: ConnectionTrait>(&self, db: &C) -> Result<(), CampaignsError>;
}

impl SegmentRuleExt for SegmentRule {
    fn validate(&self) -> Result<(), CampaignsError> {
        let mut nodes = 0;
        validate_at(self, 1, &mut nodes)
    }

    fn condition(&self, backend: DbBackend) -> Condition {
        // Erased members (anonymous tombstones) are in no segment, whatever the rule says.
        Condition::all()
            .add(condition(self, backend))
            .add(member::Column::ErasedAt.is_null())
    }

    async fn check_references<C: ConnectionTrait>(&self, db: &C) -> Result<(), CampaignsError> {
        let (mut services, mut categories) = (Vec::new(), Vec::new());
        references(self, &mut services, &mut categories);
        services.sort_unstable();
        services.dedup();
        categories.sort_unstable();
        categories.dedup();
        if !services.is_empty() {
            let found = booking_service::Entity::find()
                .filter(booking_service::Column::Id.is_in(services.clone()))
                .count(db)
                .await?;
            if found != services.len() as u64 {
                return Err(bad("booked: unknown booking service"));
            }
        }
        if !categories.is_empty() {
            let found = category::Entity::find()
                .filter(category::Column::Id.is_in(categories.clone()))
                .count(db)
                .await?;
            if found != categories.len() as u64 {
                return Err(bad("repurchase due: unknown category"));
            }
        }
        Ok(())
    }
}

fn non_empty<T>(list: &[T], what: &str) -> Result<(), CampaignsError> {
    if list.is_empty() || list.len() > 100 {
        Err(bad(format!("{what}: give 1 to 100 values")))
    } else {
        Ok(())
    }
}

fn validate_at(rule: &SegmentRule, depth: usize, nodes: &mut usize) -> Result<(), CampaignsError> {
    *nodes += 1;
    if depth > MAX_DEPTH {
        return Err(bad(format!("a segment nests at most {MAX_DEPTH} levels")));
    }
    if *nodes > MAX_NODES {
        return Err(bad(format!("a segment has at most {MAX_NODES} rules")));
    }
    match rule {
        R::All { rules } | R::Any { rules } => {
            for r in rules {
                validate_at(r, depth + 1, nodes)?;
            }
            Ok(())
        }
        R::Not { rule } => validate_at(rule, depth + 1, nodes),
        R::Tag { names } => non_empty(names, "tag"),
        R::Tier { codes } => non_empty(codes, "tier"),
        R::SkinType { types } => non_empty(types, "skin type"),
        R::SkinConcern { concerns } => non_empty(concerns, "skin concern"),
        R::Region { province, .. } if province.trim().is_empty() => {
            Err(bad("region: name the province"))
        }
        R::Region { .. } => Ok(()),
        R::Rfm { segments } => non_empty(segments, "RFM segment"),
        R::Lifecycle { stages } => non_empty(stages, "lifecycle"),
        R::PurchasedBetween { from, to } if from >= to => {
            Err(bad("purchased between: from must be before to"))
        }
        R::LastPurchaseBefore { .. }
        | R::LastPurchaseAfter { .. }
        | R::PurchasedBetween { .. }
        | R::MarketingConsent { .. }
        | R::NotMessagedBy { .. }
        | R::RepurchaseDue { .. } => Ok(()),
        R::Booked { since, before, .. } => match (since, before) {
            (Some(since), Some(before)) if since >= before => {
                Err(bad("booked: since must be before before"))
            }
            _ => Ok(()),
        },
        R::BoughtProduct { product_ids } => non_empty(product_ids, "bought product"),
        R::BoughtCategory { category_ids } => non_empty(category_ids, "bought category"),
        R::BirthdayMonth { months } => {
            non_empty(months, "birthday month")?;
            if months.iter().all(|m| (1..=12).contains(m)) {
                Ok(())
            } else {
                Err(bad("birthday month: 1 to 12"))
            }
        }
        R::BirthdayOn { month, day } => {
            if (1..=12).contains(month) && (1..=31).contains(day) {
                Ok(())
            } else {
                Err(bad("birthday: month 1 to 12, day 1 to 31"))
            }
        }
    }
}

/// The rule as one SQL condition on `members` (for `backend`'s dialect).
fn condition(rule: &SegmentRule, backend: DbBackend) -> Condition {
    match rule {
        R::All { rules } => rules
            .iter()
            .fold(Condition::all(), |c, r| c.add(condition(r, backend))),
        R::Any { rules } if rules.is_empty() => Condition::all().add(Expr::val(1).eq(0)),
        R::Any { rules } => rules
            .iter()
            .fold(Condition::any(), |c, r| c.add(condition(r, backend))),
        R::Not { rule } => condition(rule, backend).not(),
        R::Tag { names } => Condition::all().add(
            member_id().in_subquery(
                Query::select()
                    .column(member_tag::Column::MemberId)
                    .from(member_tag::Entity)
                    .and_where(member_tag::Column::Name.is_in(names.clone()))
                    .to_owned(),
            ),
        ),
        R::Tier { codes } => Condition::all().add(member::Column::TierCode.is_in(codes.clone())),
        R::SkinType { types } => {
            Condition::all().add(member::Column::SkinType.is_in(types.iter().copied()))
        }
        R::SkinConcern { concerns } => {
            let bits = SkinConcern::to_bits(concerns);
            Condition::all().add(
                Expr::col((member::Entity, member::Column::SkinConcerns))
                    .bit_and(bits)
                    .ne(0),
            )
        }
        R::Region { province, city } => {
            let mut c = Condition::all().add(member::Column::RegionProvince.eq(province.clone()));
            if let Some(city) = city {
                c = c.add(member::Column::RegionCity.eq(city.clone()));
            }
            c
        }
        R::Rfm { segments } => Condition::all().add(member_id().in_subquery(insights_where(
            member_insight::Column::RfmSegment.is_in(segments.iter().copied()),
        ))),
        R::Lifecycle { stages } => Condition::all().add(member_id().in_subquery(insights_where(
            member_insight::Column::Lifecycle.is_in(stages.iter().copied()),
        ))),
        R::LastPurchaseBefore { at } => Condition::all().add(
            member_id().in_subquery(
                Query::select()
                    .column(order::Column::MemberId)
                    .from(order::Entity)
                    .and_where(order::Column::Status.is_in(PURCHASED))
                    .group_by_col(order::Column::MemberId)
                    .and_having(Expr::col(order::Column::PaidAt).max().lt(*at))
                    .to_owned(),
            ),
        ),
        R::LastPurchaseAfter { at } => Condition::all().add(
            member_id().in_subquery(
                purchases()
                    .and_where(order::Column::PaidAt.gte(*at))
                    .to_owned(),
            ),
        ),
        R::PurchasedBetween { from, to } => Condition::all().add(
            member_id().in_subquery(
                purchases()
                    .and_where(order::Column::PaidAt.gte(*from))
                    .and_where(order::Column::PaidAt.lt(*to))
                    .to_owned(),
            ),
        ),
        R::BoughtProduct { product_ids } => bought_products(product_ids),
        R::BoughtCategory { category_ids } => bought_categories(category_ids),
        R::BirthdayMonth { months } => birthday::born_in_months(backend, months),
        R::BirthdayOn { month, day } => birthday::born_on(backend, *month, *day),
        R::MarketingConsent { value } => {
            Condition::all().add(member::Column::MarketingConsent.eq(*value))
        }
        R::NotMessagedBy { kind, since } => not_messaged_by(*kind, *since),
        R::Booked {
            service_id,
            status,
            since,
            before,
        } => booked(*service_id, *status, *since, *before),
        R::RepurchaseDue {
            on,
            category_id,
            not_bought_since,
        } => Condition::all().add(repurchase_due(
            backend,
            *on,
            *category_id,
            *not_bought_since,
        )),
    }
}

/// Booking services and categories the rule names.
fn references(rule: &SegmentRule, services: &mut Vec<i64>, categories: &mut Vec<i64>) {
    match rule {
        R::All { rules } | R::Any { rules } => {
            for r in rules {
                references(r, services, categories);
            }
        }
        R::Not { rule } => references(rule, services, categories),
        R::Booked {
            service_id: Some(id),
            ..
        } => services.push(*id),
        R::RepurchaseDue {
            category_id: Some(id),
            ..
        } => categories.push(*id),
        _ => {}
    }
}

/// The start of a local day (campaign zone) as an instant.
fn local_midnight(day: NaiveDate) -> Option<DateTime<Utc>> {
    crate::platform::clock::DEFAULT_ZONE
        .from_local_datetime(&day.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// Days since 1970-01-01.
fn epoch_day(day: NaiveDate) -> i64 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    (day - epoch).num_days()
}

/// A member's own buying cycle in days from her distinct purchase days: the mean gap between
/// them, (last − first) ÷ (days − 1), rounded half up; `None` under two purchase days. The
/// same arithmetic as [`repurchase_due`]'s SQL (the REPURCHASE automation), for callers that
/// read the purchase days themselves (churn risk in reports).
pub fn buying_cycle_days(first: NaiveDate, last: NaiveDate, purchase_days: i64) -> Option<i64> {
    if purchase_days < 2 {
        return None;
    }
    let span = (last - first).num_days();
    Some((2 * span + purchase_days - 1) / (2 * (purchase_days - 1)))
}

/// `members.id IN (members due to re-buy a category on `on`)`, computed by the database:
/// distinct local purchase days per member and category, then the cycle and due day per
/// group with integer day numbers (rounded half up the same way on both databases).
fn repurchase_due(
    backend: DbBackend,
    on: NaiveDate,
    category_id: Option<i64>,
    not_bought_since: Option<NaiveDate>,
) -> Expr {
    let zone = crate::platform::clock::DEFAULT_ZONE;
    let local_day = match backend {
        DbBackend::Postgres => format!(
            "((o.paid_at AT TIME ZONE '{}')::date - DATE '1970-01-01')",
            zone.name()
        ),
        // SQLite has no zone database: the zone's offset on that day (Shanghai has no DST).
        _ => {
            let offset = zone.offset_from_utc_date(&on).fix().local_minus_utc() / 60;
            format!("CAST(julianday(date(o.paid_at, '{offset:+} minutes')) - 2440587.5 AS INTEGER)")
        }
    };
    let statuses = PURCHASED
        .iter()
        .map(|s| format!("'{}'", s.to_value()))
        .collect::<Vec<_>>()
        .join(", ");
    let category = category_id
        .map(|id| format!(" AND p.category_id = {id}"))
        .unwrap_or_default();
    let due = epoch_day(on);
    let since = not_bought_since
        .map(|day| format!(" AND MAX(pd.d) < {}", epoch_day(day)))
        .unwrap_or_default();
    Expr::cust(format!(
        "\"members\".\"id\" IN (SELECT pd.member_id FROM (\
           SELECT DISTINCT o.member_id AS member_id, p.category_id AS category_id, {local_day} AS d \
           FROM orders o \
           JOIN order_lines l ON l.order_id = o.id \
           JOIN skus s ON s.id = l.sku_id \
           JOIN products p ON p.id = s.product_id \
           WHERE o.status IN ({statuses}) AND o.paid_at IS NOT NULL{category}) pd \
         GROUP BY pd.member_id, pd.category_id \
         HAVING COUNT(*) >= 2 \
           AND MAX(pd.d) + (2 * (MAX(pd.d) - MIN(pd.d)) + COUNT(*) - 1) / (2 * (COUNT(*) - 1)) = {due}{since})"
    ))
}

fn bought_products(product_ids: &[i64]) -> Condition {
    Condition::all().add(
        member_id().in_subquery(
            purchased_lines()
                .and_where(
                    Expr::col((sku::Entity, sku::Column::ProductId)).is_in(product_ids.to_vec()),
                )
                .to_owned(),
        ),
    )
}

fn bought_categories(category_ids: &[i64]) -> Condition {
    Condition::all().add(
        member_id().in_subquery(
            purchased_lines()
                .inner_join(
                    product::Entity,
                    Expr::col((product::Entity, product::Column::Id))
                        .equals((sku::Entity, sku::Column::ProductId)),
                )
                .and_where(
                    Expr::col((product::Entity, product::Column::CategoryId))
                        .is_in(category_ids.to_vec()),
                )
                .to_owned(),
        ),
    )
}

/// Members who got no SENT message from a campaign of `kind` since `since`.
fn not_messaged_by(kind: CampaignKind, since: DateTime<Utc>) -> Condition {
    use campaign_delivery::Column as D;
    Condition::all().add(
        member_id().not_in_subquery(
            Query::select()
                .column((campaign_delivery::Entity, D::MemberId))
                .from(campaign_delivery::Entity)
                .inner_join(
                    campaign::Entity,
                    Expr::col((campaign::Entity, campaign::Column::Id))
                        .equals((campaign_delivery::Entity, D::CampaignId)),
                )
                .and_where(Expr::col((campaign::Entity, campaign::Column::Kind)).eq(kind))
                .and_where(Expr::col((campaign_delivery::Entity, D::State)).eq(DeliveryState::Sent))
                .and_where(Expr::col((campaign_delivery::Entity, D::SentAt)).gte(since))
                .to_owned(),
        ),
    )
}

/// Members with a booking of the service (any), in the status (any not cancelled), starting
/// in [since, before) local days.
fn booked(
    service_id: Option<i64>,
    status: Option<BookingStatus>,
    since: Option<NaiveDate>,
    before: Option<NaiveDate>,
) -> Condition {
    let mut q = Query::select()
        .column(booking::Column::MemberId)
        .from(booking::Entity)
        .to_owned();
    if let Some(service_id) = service_id {
        q.and_where(booking::Column::ServiceId.eq(service_id));
    }
    match status {
        Some(status) => q.and_where(booking::Column::Status.eq(status)),
        None => q.and_where(booking::Column::Status.ne(BookingStatus::Cancelled)),
    };
    if let Some(since) = since.and_then(local_midnight) {
        q.and_where(booking::Column::StartsAt.gte(since));
    }
    if let Some(before) = before.and_then(local_midnight) {
        q.and_where(booking::Column::StartsAt.lt(before));
    }
    Condition::all().add(member_id().in_subquery(q))
}

fn member_id() -> Expr {
    Expr::col((member::Entity, member::Column::Id))
}

fn insights_where(cond: Expr) -> SelectStatement {
    Query::select()
        .column(member_insight::Column::MemberId)
        .from(member_insight::Entity)
        .and_where(cond)
        .to_owned()
}

fn purchases() -> SelectStatement {
    Query::select()
        .column(order::Column::MemberId)
        .from(order::Entity)
        .and_where(order::Column::Status.is_in(PURCHASED))
        .to_owned()
}

fn purchased_lines() -> SelectStatement {
    Query::select()
        .column((order::Entity, order::Column::MemberId))
        .from(order::Entity)
        .inner_join(
            order_line::Entity,
            Expr::col((order_line::Entity, order_line::Column::OrderId))
                .equals((order::Entity, order::Column::Id)),
        )
        .inner_join(
            sku::Entity,
            Expr::col((sku::Entity, sku::Column::Id))
                .equals((order_line::Entity, order_line::Column::SkuId)),
        )
        .and_where(Expr::col((order::Entity, order::Column::Status)).is_in(PURCHASED))
        .to_owned()
}

/// A member of a preview sample: nickname masked, no phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleMember {
    pub member_id: i64,
    pub member_code: String,
    pub nickname_masked: String,
    pub tier_code: String,
    pub region_province: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentPreview {
    pub count: u64,
    pub sample: Vec<SampleMember>,
}

/// "王小美" → "王**", "Lily" → "L***".
pub fn mask_nickname(nickname: Option<&str>) -> String {
    let Some(name) = nickname.filter(|n| !n.is_empty()) else {
        return "*".into();
    };
    let mut chars = name.chars();
    let first = chars.next().unwrap_or('*');
    let rest = chars.count().clamp(1, 5);
    format!("{first}{}", "*".repeat(rest))
}

/// How many members the rule selects and a few of them, masked.
pub async fn preview(
    app: &AppState,
    rule: &SegmentRule,
    sample_size: u64,
) -> Result<SegmentPreview, CampaignsError> {
    rule.validate()?;
    rule.check_references(&app.db).await?;
    let backend = app.db.get_database_backend();
    let cond = rule.condition(backend);
    let count = member::Entity::find()
        .filter(cond.clone())
        .count(&app.db)
        .await?;
    let sample = member::Entity::find()
        .filter(cond)
        .order_by_asc(member::Column::Id)
        .limit(Ord::min(sample_size, 20))
        .all(&app.db)
        .await?
        .into_iter()
        .map(|m| SampleMember {
            member_id: m.id,
            member_code: m.member_code,
            nickname_masked: mask_nickname(m.nickname.as_deref()),
            tier_code: m.tier_code,
            region_province: m.region_province,
        })
        .collect();
    Ok(SegmentPreview { count, sample })
}

/// Counts the rule's members (the database counts).
pub async fn count(app: &AppState, rule: &SegmentRule) -> Result<u64, CampaignsError> {
    let backend = app.db.get_database_backend();
    Ok(member::Entity::find()
        .filter(rule.condition(backend))
        .count(&app.db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buying_cycle_is_the_mean_gap_rounded_half_up() {
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        assert_eq!(buying_cycle_days(d(9, 1), d(9, 1), 1), None);
        assert_eq!(buying_cycle_days(d(9, 1), d(9, 21), 2), Some(20));
        // gaps 10 and 11: 10.5 rounds to 11
        assert_eq!(buying_cycle_days(d(9, 1), d(9, 22), 3), Some(11));
        assert_eq!(buying_cycle_days(d(9, 1), d(9, 21), 4), Some(7));
    }

    #[test]
    fn masks_and_validates() {
        assert_eq!(mask_nickname(Some("王小美")), "王**");
        assert_eq!(mask_nickname(Some("L")), "L*");
        assert_eq!(mask_nickname(None), "*");
        let deep = (0..10).fold(SegmentRule::everyone(), |r, _| SegmentRule::Not {
            rule: Box::new(r),
        });
        assert!(deep.validate().is_err());
        // An unknown value does not even parse; an empty list does not validate.
        assert!(
            serde_json::from_str::<SegmentRule>(r#"{"type":"LIFECYCLE","stages":["SLEEPY"]}"#)
                .is_err()
        );
        assert!(
            SegmentRule::Lifecycle { stages: vec![] }
                .validate()
                .is_err()
        );
        let json = serde_json::to_string(&SegmentRule::Any {
            rules: vec![SegmentRule::BirthdayMonth { months: vec![3] }],
        })
        .unwrap_or_default();
        assert!(json.contains("\"type\":\"ANY\""), "{json}");
        let day = |d| NaiveDate::from_ymd_opt(2026, 12, d).unwrap_or_default();
        let booked = |status: Option<BookingStatus>, since, before| SegmentRule::Booked {
            service_id: None,
            status,
            since,
            before,
        };
        assert!(
            booked(Some(BookingStatus::NoShow), Some(day(1)), Some(day(2)))
                .validate()
                .is_ok()
        );
        assert!(booked(None, Some(day(2)), Some(day(1))).validate().is_err());
        assert!(booked(None, Some(day(2)), Some(day(2))).validate().is_err());
        assert!(
            serde_json::from_str::<SegmentRule>(r#"{"type":"BOOKED","status":"LATE"}"#).is_err()
        );
        assert_eq!(epoch_day(day(1)), 20788);
    }
}

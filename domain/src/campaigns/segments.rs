//! Segments: a tree of rules combined with AND/OR (and NOT), compiled into one SQL condition on
//! `members` that the database evaluates. Members are never loaded to be filtered in memory:
//! counting is `COUNT(*)`, the audience is paged by member id.
//!
//! Days in rules (booking history, repurchase due) are local days in the campaign zone
//! (Asia/Shanghai).

use chrono::{DateTime, NaiveDate, Offset, TimeZone, Utc};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, Iterable, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

use super::{CampaignKind, CampaignsError, DeliveryState};
use crate::AppState;
use crate::booking::BookingStatus;
use crate::members::{SkinConcern, SkinType, birthday};
use entities::{
    booking, booking_service, campaign, campaign_delivery, category, member, member_insight,
    member_tag, order, order_line, product, sku,
};

/// Lifecycle stages the nightly job assigns (see [`super::insights`]).
pub const LIFECYCLES: &[&str] = &["NEW", "ACTIVE", "AT_RISK", "LOST"];
/// RFM segments the nightly job assigns.
pub const RFM_SEGMENTS: &[&str] = &[
    "CHAMPIONS",
    "LOYAL",
    "BIG_SPENDERS",
    "PROMISING",
    "HIBERNATING",
    "PROSPECT",
];

/// Order statuses that count as a purchase.
pub(crate) const PURCHASED: [&str; 2] = ["PAID", "PARTIALLY_REFUNDED"];

const MAX_DEPTH: usize = 8;
const MAX_NODES: usize = 200;

/// One node of a segment. Lists inside a leaf mean "any of".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SegmentRule {
    /// Every sub-rule holds (AND); an empty list holds for everyone.
    All {
        rules: Vec<SegmentRule>,
    },
    /// At least one sub-rule holds (OR).
    Any {
        rules: Vec<SegmentRule>,
    },
    Not {
        rule: Box<SegmentRule>,
    },
    Tag {
        names: Vec<String>,
    },
    Tier {
        codes: Vec<String>,
    },
    SkinType {
        types: Vec<String>,
    },
    /// Has any of these concerns.
    SkinConcern {
        concerns: Vec<String>,
    },
    Region {
        province: String,
        city: Option<String>,
    },
    Rfm {
        segments: Vec<String>,
    },
    Lifecycle {
        stages: Vec<String>,
    },
    /// Has purchased, and the last purchase was before `at`.
    LastPurchaseBefore {
        at: DateTime<Utc>,
    },
    /// Purchased at or after `at`.
    LastPurchaseAfter {
        at: DateTime<Utc>,
    },
    /// Purchased within [from, to).
    PurchasedBetween {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
    BoughtProduct {
        product_ids: Vec<i64>,
    },
    BoughtCategory {
        category_ids: Vec<i64>,
    },
    BirthdayMonth {
        months: Vec<u32>,
    },
    BirthdayOn {
        month: u32,
        day: u32,
    },
    MarketingConsent {
        value: bool,
    },
    /// Got no message (SENT) from a campaign of this kind since `since` (automations).
    NotMessagedBy {
        kind: String,
        since: DateTime<Utc>,
    },
    /// Booking history: has a booking of this service (any without one) in this status
    /// (REDEEMED = came and was served, NO_SHOW, ...; none = any booking not cancelled) that
    /// starts on or after the local day `since` and before the local day `before`.
    Booked {
        #[serde(default)]
        service_id: Option<i64>,
        #[serde(default)]
        status: Option<String>,
        #[serde(default)]
        since: Option<NaiveDate>,
        #[serde(default)]
        before: Option<NaiveDate>,
    },
    /// Due to buy a category again on the local day `on`, by the member's own buying cycle:
    /// for a category (this one, or any) bought on at least two distinct local days, the cycle
    /// is (last day - first day) / (distinct days - 1), rounded to whole days, and the due day
    /// is the last day plus the cycle. A new purchase of the category moves the due day, so a
    /// member who re-bought is no longer due on `on`; with `not_bought_since`, a member who
    /// bought the category on that local day or later is left out too (a reminder sent a
    /// `lead` ahead never reaches someone who bought it that very day).
    RepurchaseDue {
        on: NaiveDate,
        #[serde(default)]
        category_id: Option<i64>,
        #[serde(default)]
        not_bought_since: Option<NaiveDate>,
    },
}

fn bad(msg: impl Into<String>) -> CampaignsError {
    CampaignsError::InvalidInput(msg.into())
}

impl SegmentRule {
    /// Everyone (an empty AND).
    pub fn everyone() -> Self {
        Self::All { rules: vec![] }
    }

    /// Checks sizes and values; a rule that passes compiles.
    pub fn validate(&self) -> Result<(), CampaignsError> {
        let mut nodes = 0;
        self.validate_at(1, &mut nodes)
    }

    fn validate_at(&self, depth: usize, nodes: &mut usize) -> Result<(), CampaignsError> {
        *nodes += 1;
        if depth > MAX_DEPTH {
            return Err(bad(format!("a segment nests at most {MAX_DEPTH} levels")));
        }
        if *nodes > MAX_NODES {
            return Err(bad(format!("a segment has at most {MAX_NODES} rules")));
        }
        fn non_empty<T>(list: &[T], what: &str) -> Result<(), CampaignsError> {
            if list.is_empty() || list.len() > 100 {
                Err(bad(format!("{what}: give 1 to 100 values")))
            } else {
                Ok(())
            }
        }
        fn known(list: &[String], allowed: &[&str], what: &str) -> Result<(), CampaignsError> {
            non_empty(list, what)?;
            match list.iter().find(|v| !allowed.contains(&v.as_str())) {
                Some(v) => Err(bad(format!("{what}: unknown value {v:?}"))),
                None => Ok(()),
            }
        }
        match self {
            Self::All { rules } | Self::Any { rules } => {
                for r in rules {
                    r.validate_at(depth + 1, nodes)?;
                }
                Ok(())
            }
            Self::Not { rule } => rule.validate_at(depth + 1, nodes),
            Self::Tag { names } => non_empty(names, "tag"),
            Self::Tier { codes } => non_empty(codes, "tier"),
            Self::SkinType { types } => {
                let all: Vec<String> = SkinType::iter().map(|t| t.to_value()).collect();
                let all: Vec<&str> = all.iter().map(String::as_str).collect();
                known(types, &all, "skin type")
            }
            Self::SkinConcern { concerns } => {
                let all: Vec<String> = SkinConcern::iter().map(|c| c.to_value()).collect();
                let all: Vec<&str> = all.iter().map(String::as_str).collect();
                known(concerns, &all, "skin concern")
            }
            Self::Region { province, .. } if province.trim().is_empty() => {
                Err(bad("region: name the province"))
            }
            Self::Region { .. } => Ok(()),
            Self::Rfm { segments } => known(segments, RFM_SEGMENTS, "RFM segment"),
            Self::Lifecycle { stages } => known(stages, LIFECYCLES, "lifecycle"),
            Self::PurchasedBetween { from, to } if from >= to => {
                Err(bad("purchased between: from must be before to"))
            }
            Self::LastPurchaseBefore { .. }
            | Self::LastPurchaseAfter { .. }
            | Self::PurchasedBetween { .. }
            | Self::MarketingConsent { .. }
            | Self::RepurchaseDue { .. } => Ok(()),
            Self::NotMessagedBy { kind, .. } => CampaignKind::try_from_value(kind)
                .map(|_| ())
                .map_err(|_| bad(format!("not messaged by: unknown campaign kind {kind:?}"))),
            Self::Booked {
                status,
                since,
                before,
                ..
            } => {
                if let Some(status) = status
                    && BookingStatus::parse(status).is_none()
                {
                    return Err(bad(format!("booked: unknown booking status {status:?}")));
                }
                match (since, before) {
                    (Some(since), Some(before)) if since >= before => {
                        Err(bad("booked: since must be before before"))
                    }
                    _ => Ok(()),
                }
            }
            Self::BoughtProduct { product_ids } => non_empty(product_ids, "bought product"),
            Self::BoughtCategory { category_ids } => non_empty(category_ids, "bought category"),
            Self::BirthdayMonth { months } => {
                non_empty(months, "birthday month")?;
                if months.iter().all(|m| (1..=12).contains(m)) {
                    Ok(())
                } else {
                    Err(bad("birthday month: 1 to 12"))
                }
            }
            Self::BirthdayOn { month, day } => {
                if (1..=12).contains(month) && (1..=31).contains(day) {
                    Ok(())
                } else {
                    Err(bad("birthday: month 1 to 12, day 1 to 31"))
                }
            }
        }
    }

    /// The rule as one SQL condition on `members` (for `backend`'s dialect).
    pub fn condition(&self, backend: DbBackend) -> Condition {
        match self {
            Self::All { rules } => rules
                .iter()
                .fold(Condition::all(), |c, r| c.add(r.condition(backend))),
            Self::Any { rules } if rules.is_empty() => Condition::all().add(Expr::val(1).eq(0)),
            Self::Any { rules } => rules
                .iter()
                .fold(Condition::any(), |c, r| c.add(r.condition(backend))),
            Self::Not { rule } => rule.condition(backend).not(),
            Self::Tag { names } => Condition::all().add(
                member_id().in_subquery(
                    Query::select()
                        .column(member_tag::Column::MemberId)
                        .from(member_tag::Entity)
                        .and_where(member_tag::Column::Name.is_in(names.clone()))
                        .to_owned(),
                ),
            ),
            Self::Tier { codes } => {
                Condition::all().add(member::Column::TierCode.is_in(codes.clone()))
            }
            Self::SkinType { types } => {
                Condition::all().add(member::Column::SkinType.is_in(types.clone()))
            }
            Self::SkinConcern { concerns } => {
                let bits = concerns
                    .iter()
                    .filter_map(|c| SkinConcern::try_from_value(c).ok())
                    .fold(0, |b, c| b | c.bit());
                Condition::all().add(
                    Expr::col((member::Entity, member::Column::SkinConcerns))
                        .bit_and(bits)
                        .ne(0),
                )
            }
            Self::Region { province, city } => {
                let mut c =
                    Condition::all().add(member::Column::RegionProvince.eq(province.clone()));
                if let Some(city) = city {
                    c = c.add(member::Column::RegionCity.eq(city.clone()));
                }
                c
            }
            Self::Rfm { segments } => Condition::all().add(member_id().in_subquery(
                insights_where(member_insight::Column::RfmSegment.is_in(segments.clone())),
            )),
            Self::Lifecycle { stages } => Condition::all().add(member_id().in_subquery(
                insights_where(member_insight::Column::Lifecycle.is_in(stages.clone())),
            )),
            Self::LastPurchaseBefore { at } => Condition::all().add(
                member_id().in_subquery(
                    Query::select()
                        .column(order::Column::MemberId)
                        .from(order::Entity)
                        .and_where(order::Column::Status.is_in(PURCHASED.iter().copied()))
                        .group_by_col(order::Column::MemberId)
                        .and_having(Expr::col(order::Column::PaidAt).max().lt(*at))
                        .to_owned(),
                ),
            ),
            Self::LastPurchaseAfter { at } => Condition::all().add(
                member_id().in_subquery(
                    purchases()
                        .and_where(order::Column::PaidAt.gte(*at))
                        .to_owned(),
                ),
            ),
            Self::PurchasedBetween { from, to } => Condition::all().add(
                member_id().in_subquery(
                    purchases()
                        .and_where(order::Column::PaidAt.gte(*from))
                        .and_where(order::Column::PaidAt.lt(*to))
                        .to_owned(),
                ),
            ),
            Self::BoughtProduct { product_ids } => bought_products(product_ids),
            Self::BoughtCategory { category_ids } => bought_categories(category_ids),
            Self::BirthdayMonth { months } => birthday::born_in_months(backend, months),
            Self::BirthdayOn { month, day } => birthday::born_on(backend, *month, *day),
            Self::MarketingConsent { value } => {
                Condition::all().add(member::Column::MarketingConsent.eq(*value))
            }
            Self::NotMessagedBy { kind, since } => not_messaged_by(kind, *since),
            Self::Booked {
                service_id,
                status,
                since,
                before,
            } => booked(*service_id, status.as_deref(), *since, *before),
            Self::RepurchaseDue {
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
    fn references(&self, services: &mut Vec<i64>, categories: &mut Vec<i64>) {
        match self {
            Self::All { rules } | Self::Any { rules } => {
                for r in rules {
                    r.references(services, categories);
                }
            }
            Self::Not { rule } => rule.references(services, categories),
            Self::Booked {
                service_id: Some(id),
                ..
            } => services.push(*id),
            Self::RepurchaseDue {
                category_id: Some(id),
                ..
            } => categories.push(*id),
            _ => {}
        }
    }

    /// Checks that the booking services and categories the rule names exist.
    pub async fn check_references<C: ConnectionTrait>(&self, db: &C) -> Result<(), CampaignsError> {
        let (mut services, mut categories) = (Vec::new(), Vec::new());
        self.references(&mut services, &mut categories);
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

/// The start of a local day (campaign zone) as an instant.
fn local_midnight(day: NaiveDate) -> Option<DateTime<Utc>> {
    crate::clock::DEFAULT_ZONE
        .from_local_datetime(&day.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// Days since 1970-01-01.
fn epoch_day(day: NaiveDate) -> i64 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    (day - epoch).num_days()
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
    let zone = crate::clock::DEFAULT_ZONE;
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
        .map(|s| format!("'{s}'"))
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
fn not_messaged_by(kind: &str, since: DateTime<Utc>) -> Condition {
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
    status: Option<&str>,
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
        None => q.and_where(booking::Column::Status.ne(BookingStatus::Cancelled.as_str())),
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
        .and_where(order::Column::Status.is_in(PURCHASED.iter().copied()))
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
        .and_where(
            Expr::col((order::Entity, order::Column::Status)).is_in(PURCHASED.iter().copied()),
        )
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
    fn masks_and_validates() {
        assert_eq!(mask_nickname(Some("王小美")), "王**");
        assert_eq!(mask_nickname(Some("L")), "L*");
        assert_eq!(mask_nickname(None), "*");
        let deep = (0..10).fold(SegmentRule::everyone(), |r, _| SegmentRule::Not {
            rule: Box::new(r),
        });
        assert!(deep.validate().is_err());
        assert!(
            SegmentRule::Lifecycle {
                stages: vec!["SLEEPY".into()]
            }
            .validate()
            .is_err()
        );
        let json = serde_json::to_string(&SegmentRule::Any {
            rules: vec![SegmentRule::BirthdayMonth { months: vec![3] }],
        })
        .unwrap_or_default();
        assert!(json.contains("\"type\":\"ANY\""), "{json}");
        let day = |d| NaiveDate::from_ymd_opt(2026, 12, d).unwrap_or_default();
        let booked = |status: Option<&str>, since, before| SegmentRule::Booked {
            service_id: None,
            status: status.map(str::to_owned),
            since,
            before,
        };
        assert!(
            booked(Some("NO_SHOW"), Some(day(1)), Some(day(2)))
                .validate()
                .is_ok()
        );
        assert!(booked(None, Some(day(2)), Some(day(1))).validate().is_err());
        assert!(booked(None, Some(day(2)), Some(day(2))).validate().is_err());
        assert!(booked(Some("LATE"), None, None).validate().is_err());
        assert_eq!(epoch_day(day(1)), 20788);
    }
}

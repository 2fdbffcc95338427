//! Segments: a tree of rules combined with AND/OR (and NOT), compiled into one SQL condition on
//! `members` that the database evaluates. Members are never loaded to be filtered in memory:
//! counting is `COUNT(*)`, the audience is paged by member id.
//!
//! Booking history is not a rule yet: the booking capability is being built in parallel and
//! the rule is added when it lands.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

use super::CampaignsError;
use crate::AppState;
use crate::members::{SkinConcern, SkinType};
use entities::{
    campaign, campaign_delivery, member, member_insight, member_tag, order, order_line, product,
    sku,
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
pub(crate) const PURCHASED: &[&str] = &["PAID", "PARTIALLY_REFUNDED"];

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
                let all: Vec<&str> = SkinType::ALL.iter().map(|t| t.as_str()).collect();
                known(types, &all, "skin type")
            }
            Self::SkinConcern { concerns } => {
                let all: Vec<&str> = SkinConcern::ALL.iter().map(|t| t.as_str()).collect();
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
            | Self::NotMessagedBy { .. } => Ok(()),
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
                    .filter_map(|c| SkinConcern::parse(c))
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
            Self::BoughtProduct { product_ids } => Condition::all().add(
                member_id().in_subquery(
                    purchased_lines()
                        .and_where(
                            Expr::col((sku::Entity, sku::Column::ProductId))
                                .is_in(product_ids.clone()),
                        )
                        .to_owned(),
                ),
            ),
            Self::BoughtCategory { category_ids } => Condition::all().add(
                member_id().in_subquery(
                    purchased_lines()
                        .inner_join(
                            product::Entity,
                            Expr::col((product::Entity, product::Column::Id))
                                .equals((sku::Entity, sku::Column::ProductId)),
                        )
                        .and_where(
                            Expr::col((product::Entity, product::Column::CategoryId))
                                .is_in(category_ids.clone()),
                        )
                        .to_owned(),
                ),
            ),
            Self::BirthdayMonth { months } => Condition::all()
                .add(birthday_part(backend, "month").is_in(months.iter().map(|m| i64::from(*m)))),
            Self::BirthdayOn { month, day } => Condition::all()
                .add(birthday_part(backend, "month").eq(i64::from(*month)))
                .add(birthday_part(backend, "day").eq(i64::from(*day))),
            Self::MarketingConsent { value } => {
                Condition::all().add(member::Column::MarketingConsent.eq(*value))
            }
            Self::NotMessagedBy { kind, since } => Condition::all().add(
                member_id().not_in_subquery(
                    Query::select()
                        .column((
                            campaign_delivery::Entity,
                            campaign_delivery::Column::MemberId,
                        ))
                        .from(campaign_delivery::Entity)
                        .inner_join(
                            campaign::Entity,
                            Expr::col((campaign::Entity, campaign::Column::Id)).equals((
                                campaign_delivery::Entity,
                                campaign_delivery::Column::CampaignId,
                            )),
                        )
                        .and_where(Expr::col((campaign::Entity, campaign::Column::Kind)).eq(kind))
                        .and_where(
                            Expr::col((
                                campaign_delivery::Entity,
                                campaign_delivery::Column::State,
                            ))
                            .eq("SENT"),
                        )
                        .and_where(
                            Expr::col((
                                campaign_delivery::Entity,
                                campaign_delivery::Column::SentAt,
                            ))
                            .gte(*since),
                        )
                        .to_owned(),
                ),
            ),
        }
    }
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

/// The month or day of the member's birthday as an integer (NULL without a birthday).
fn birthday_part(backend: DbBackend, part: &str) -> Expr {
    match (backend, part) {
        (DbBackend::Postgres, "month") => {
            Expr::cust("CAST(EXTRACT(MONTH FROM \"members\".\"birthday\") AS INTEGER)")
        }
        (DbBackend::Postgres, _) => {
            Expr::cust("CAST(EXTRACT(DAY FROM \"members\".\"birthday\") AS INTEGER)")
        }
        (_, "month") => Expr::cust("CAST(strftime('%m', \"members\".\"birthday\") AS INTEGER)"),
        _ => Expr::cust("CAST(strftime('%d', \"members\".\"birthday\") AS INTEGER)"),
    }
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
    }
}

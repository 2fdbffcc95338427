use std::collections::BTreeMap;

use chrono::NaiveDate;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::booking::BookingStatus;
use crate::member::{SkinConcern, SkinType};
use crate::member_insight::{Lifecycle, RfmSegment};
use crate::typed::JsonText;

/// Who made the campaign: HQ by hand, or one of the automations (one a day each).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CampaignKind {
    Manual,
    Birthday,
    FollowUp,
    Repurchase,
    WinBack,
}

/// Where a campaign is in its life cycle (only the dispatcher moves it to RUNNING and
/// COMPLETED).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum CampaignStatus {
    Draft,
    Scheduled,
    Running,
    Paused,
    Cancelled,
    Completed,
}

impl From<crate::campaign_automation::AutomationKind> for CampaignKind {
    fn from(kind: crate::campaign_automation::AutomationKind) -> Self {
        use crate::campaign_automation::AutomationKind as A;
        match kind {
            A::Birthday => Self::Birthday,
            A::FollowUp => Self::FollowUp,
            A::Repurchase => Self::Repurchase,
            A::WinBack => Self::WinBack,
        }
    }
}

/// One node of a segment, stored as JSON in `campaigns.segment_rule` (a `type` tag in
/// SCREAMING_SNAKE_CASE and the node's fields); domain::campaigns::segments checks and compiles
/// it. Lists inside a leaf mean "any of". Values from a fixed vocabulary are the enums, whose
/// JSON text is their stored text, so rules stored before they were typed read the same and a
/// value Rouge does not know fails the read.
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
        types: Vec<SkinType>,
    },
    /// Has any of these concerns.
    SkinConcern {
        concerns: Vec<SkinConcern>,
    },
    Region {
        province: String,
        city: Option<String>,
    },
    Rfm {
        segments: Vec<RfmSegment>,
    },
    Lifecycle {
        stages: Vec<Lifecycle>,
    },
    /// Has purchased, and the last purchase was before `at`.
    LastPurchaseBefore {
        at: DateTimeUtc,
    },
    /// Purchased at or after `at`.
    LastPurchaseAfter {
        at: DateTimeUtc,
    },
    /// Purchased within [from, to).
    PurchasedBetween {
        from: DateTimeUtc,
        to: DateTimeUtc,
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
        kind: CampaignKind,
        since: DateTimeUtc,
    },
    /// Booking history: has a booking of this service (any without one) in this status
    /// (REDEEMED = came and was served, NO_SHOW, ...; none = any booking not cancelled) that
    /// starts on or after the local day `since` and before the local day `before`.
    Booked {
        #[serde(default)]
        service_id: Option<i64>,
        #[serde(default)]
        status: Option<BookingStatus>,
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

impl SegmentRule {
    /// Everyone (an empty AND).
    pub fn everyone() -> Self {
        Self::All { rules: vec![] }
    }
}

/// A private-domain campaign (私域营销): a segment, a subscription-message template and its
/// values, when and how politely to send (quiet hours, frequency cap), and dispatch progress.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaigns")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub kind: CampaignKind,
    /// Automations create one campaign per day: this key makes a second pass a no-op.
    #[sea_orm(unique)]
    pub dedupe_key: Option<String>,
    pub status: CampaignStatus,
    /// The segment rule tree as JSON.
    pub segment_rule: JsonText<SegmentRule>,
    pub template_id: String,
    /// Key -> value, values may hold {{nickname}} and the like.
    pub template_values: JsonText<BTreeMap<String, String>>,
    pub page: String,
    /// The coupon template issued with each message (coupons are wired by the coupon module).
    pub coupon_template_id: Option<i64>,
    pub start_at: Option<DateTimeUtc>,
    /// IANA zone quiet hours are reasoned in.
    pub zone: String,
    /// Quiet hours, minutes after local midnight (start may be after end: it wraps midnight).
    pub quiet_start_min: i32,
    pub quiet_end_min: i32,
    /// At most cap_count messages per member across campaigns within cap_days (0 = no cap).
    pub cap_count: i32,
    pub cap_days: i32,
    /// Orders within this many days of the send count to the campaign.
    pub attribution_days: i32,
    /// Audience paging: the last member id written into deliveries.
    pub audience_cursor: i64,
    pub audience_done: bool,
    /// No dispatch before this (back-off, quiet hours, daily quota).
    pub not_before: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveEnum, Iterable};
    use serde::Serialize;

    use super::*;

    fn same_text<T: ActiveEnum<Value = String> + Iterable + Serialize>() {
        for v in T::iter() {
            let json = serde_json::to_value(&v).unwrap();
            assert_eq!(json, serde_json::Value::String(v.to_value()));
        }
    }

    #[test]
    fn segment_values_in_json_are_their_stored_text() {
        same_text::<SkinType>();
        same_text::<SkinConcern>();
        same_text::<Lifecycle>();
        same_text::<RfmSegment>();
        same_text::<BookingStatus>();
        same_text::<CampaignKind>();
    }

    #[test]
    fn a_rule_written_before_it_was_typed_reads_the_same() {
        let text = r#"{"type":"ALL","rules":[{"type":"SKIN_TYPE","types":["OILY","COMBINATION"]},{"type":"LIFECYCLE","stages":["AT_RISK"]},{"type":"RFM","segments":["BIG_SPENDERS"]},{"type":"SKIN_CONCERN","concerns":["ACNE"]},{"type":"NOT_MESSAGED_BY","kind":"WIN_BACK","since":"2026-12-01T00:00:00Z"},{"type":"BOOKED","service_id":null,"status":"NO_SHOW","since":"2026-11-01","before":null}]}"#;
        let rule: SegmentRule = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&rule).unwrap(), text);
        let unknown = text.replace("AT_RISK", "SLEEPY");
        assert!(serde_json::from_str::<SegmentRule>(&unknown).is_err());
    }
}

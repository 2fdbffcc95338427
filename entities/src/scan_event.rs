use sea_orm::entity::prelude::*;

pub use crate::member::SkinType;

// The mini-survey's age bands (stored text and GraphQL names are the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum AgeBand {
    #[sea_orm(string_value = "UNDER_18")]
    #[cfg_attr(feature = "graphql", graphql(name = "UNDER_18"))]
    Under18,
    #[sea_orm(string_value = "AGE_18_24")]
    #[cfg_attr(feature = "graphql", graphql(name = "AGE_18_24"))]
    From18To24,
    #[sea_orm(string_value = "AGE_25_29")]
    #[cfg_attr(feature = "graphql", graphql(name = "AGE_25_29"))]
    From25To29,
    #[sea_orm(string_value = "AGE_30_34")]
    #[cfg_attr(feature = "graphql", graphql(name = "AGE_30_34"))]
    From30To34,
    #[sea_orm(string_value = "AGE_35_39")]
    #[cfg_attr(feature = "graphql", graphql(name = "AGE_35_39"))]
    From35To39,
    #[sea_orm(string_value = "AGE_40_49")]
    #[cfg_attr(feature = "graphql", graphql(name = "AGE_40_49"))]
    From40To49,
    #[sea_orm(string_value = "AGE_50_PLUS")]
    #[cfg_attr(feature = "graphql", graphql(name = "AGE_50_PLUS"))]
    From50,
}

// Where the member says they bought the pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum WhereBought {
    BrandStore,
    DepartmentStore,
    MiniProgram,
    Ecommerce,
    Gift,
    Other,
}

/// What a scan was: REDEEMED (the first scan), REPEAT (the same member again) or OTHER_MEMBER.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum ScanEventOutcome {
    Redeemed,
    Repeat,
    OtherMember,
}

// Why a scan is flagged for HQ's follow-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum ScanFlag {
    /// Scanned outside the batch's territory (窜货).
    CrossTerritory,
    /// A redeemed code scanned by another member.
    OtherMember,
}

/// One valid scan of a pack code (the first, which redeems it, and every later one), with the
/// coarse region and the optional mini-survey. Feeds insight and fraud flags.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scan_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub batch_id: i64,
    pub serial: i64,
    pub member_id: i64,
    pub sku_id: i64,
    pub lot: Option<String>,
    pub distributor_id: Option<i64>,
    pub province: Option<String>,
    pub city: Option<String>,
    /// GB/T 2260 code of the region (the city when known, else the province).
    pub region_code: Option<String>,
    pub age_band: Option<AgeBand>,
    pub skin_type: Option<SkinType>,
    pub where_bought: Option<WhereBought>,
    pub outcome: ScanEventOutcome,
    /// 1 when this scan granted the gift.
    pub gifted: i32,
    pub flag: Option<ScanFlag>,
    /// The store-zone date (YYYY-MM-DD), for grouping over time on both backends.
    pub day: String,
    pub scanned_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
mod tests {
    use sea_orm::Iterable;

    use super::*;
    use crate::scan_code_batch::GiftKind;

    fn texts<T: ActiveEnum<Value = String> + Iterable>() -> Vec<String> {
        T::iter().map(|v| v.to_value()).collect()
    }

    #[test]
    fn stored_texts_are_the_ones_rows_hold() {
        assert_eq!(texts::<GiftKind>(), ["POINTS", "COUPON", "SAMPLE"]);
        assert_eq!(
            texts::<AgeBand>(),
            [
                "UNDER_18",
                "AGE_18_24",
                "AGE_25_29",
                "AGE_30_34",
                "AGE_35_39",
                "AGE_40_49",
                "AGE_50_PLUS"
            ]
        );
        assert_eq!(
            texts::<WhereBought>(),
            [
                "BRAND_STORE",
                "DEPARTMENT_STORE",
                "MINI_PROGRAM",
                "ECOMMERCE",
                "GIFT",
                "OTHER"
            ]
        );
        assert_eq!(
            texts::<ScanEventOutcome>(),
            ["REDEEMED", "REPEAT", "OTHER_MEMBER"]
        );
        assert_eq!(texts::<ScanFlag>(), ["CROSS_TERRITORY", "OTHER_MEMBER"]);
        assert!(AgeBand::try_from_value(&"AGE_60_PLUS".to_owned()).is_err());
    }
}

use sea_orm::entity::prelude::*;

/// What a member consented to: the privacy policy (needed to use Rouge at all) or the separate
/// consent to sensitive personal data (PIPL art. 29: skin concerns, allergies, later photos).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum ConsentKind {
    PrivacyPolicy,
    SensitiveData,
}

/// One consent as given: the version of the text the member agreed to and when; a withdrawal
/// closes the row (rows are kept as the record of what was agreed to when).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "member_consents")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub member_id: i64,
    pub kind: ConsentKind,
    pub version: String,
    pub granted_at: DateTimeUtc,
    pub withdrawn_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

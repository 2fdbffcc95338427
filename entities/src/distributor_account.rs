use sea_orm::entity::prelude::*;

// What a distributor account may do in its own organisation. Plain comments: the GraphQL enum
// carries no descriptions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum DistributorRole {
    // Runs the organisation's accounts (and everything a buyer does).
    Owner,
    // Orders stock for the organisation.
    Buyer,
    // Reads only.
    Viewer,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "distributor_accounts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub distributor_id: i64,
    #[sea_orm(unique)]
    pub username: String,
    pub password_hash: String,
    pub display_name: String,
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub role: DistributorRole,
    /// The password is a one-time one: nothing but changing it until then.
    pub must_change_password: bool,
    /// Sessions that began before this are ended.
    pub password_changed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

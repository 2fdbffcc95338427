use sea_orm::entity::prelude::*;

/// Who read or changed personal data, and when.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: DateTimeUtc,
    /// STAFF, MEMBER, DISTRIBUTOR or SYSTEM.
    pub actor_kind: String,
    pub actor_id: Option<i64>,
    /// e.g. member.phone.read
    pub action: String,
    pub subject_kind: String,
    pub subject_id: Option<i64>,
    pub request_id: Option<String>,
    /// JSON with whatever else matters for the entry (never the personal data itself).
    pub detail: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

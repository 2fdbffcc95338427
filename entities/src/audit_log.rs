use sea_orm::entity::prelude::*;

use crate::typed::JsonText;

/// Who did something: STAFF, MEMBER, DISTRIBUTOR or SYSTEM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[cfg_attr(feature = "graphql", graphql(name = "AuditActorKind"))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum ActorKind {
    Staff,
    Member,
    Distributor,
    System,
}

/// What was read or changed. Stored as the dotted names the log always had.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[cfg_attr(feature = "graphql", graphql(name = "AuditAction"))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum Action {
    /// A staff search by phone number.
    #[sea_orm(string_value = "member.search.phone")]
    MemberSearchPhone,
    #[sea_orm(string_value = "member.phone.read")]
    MemberPhoneRead,
    #[sea_orm(string_value = "member.birthday.read")]
    MemberBirthdayRead,
    #[sea_orm(string_value = "member.skin_profile.update")]
    MemberSkinProfileUpdate,
    #[sea_orm(string_value = "member.exclusive_ba.assign")]
    MemberExclusiveBaAssign,
    #[sea_orm(string_value = "member.tag.add")]
    MemberTagAdd,
    #[sea_orm(string_value = "member.tag.remove")]
    MemberTagRemove,
}

/// What an entry is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum SubjectKind {
    Member,
}

/// Who read or changed personal data, and when.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: DateTimeUtc,
    pub actor_kind: ActorKind,
    pub actor_id: Option<i64>,
    pub action: Action,
    pub subject_kind: SubjectKind,
    pub subject_id: Option<i64>,
    pub request_id: Option<String>,
    /// JSON with whatever else matters for the entry (never the personal data itself).
    pub detail: JsonText<serde_json::Value>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// Unused one-time subscription consents a member gave for a message template. WeChat does not
/// say how many remain, so Rouge counts: each accepted wx.requestSubscribeMessage adds one,
/// each send uses one, and WeChat's 43101 sets it to zero.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subscription_consents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub member_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub template_id: String,
    pub remaining: i32,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

use crate::audit_log::ActorKind;
use crate::purchase_order::PoStatus;

/// A purchase order's status history: one row per transition.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "purchase_order_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub purchase_order_id: i64,
    pub status: PoStatus,
    pub actor_kind: ActorKind,
    pub actor_id: Option<i64>,
    pub note: Option<String>,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

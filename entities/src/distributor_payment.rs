use sea_orm::entity::prelude::*;

/// A payment a distributor made (回款), recorded by finance; one per (distributor, reference).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "distributor_payments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub distributor_id: i64,
    pub amount_fen: i64,
    pub reference: String,
    pub idempotency_key: String,
    pub recorded_by: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// A BA's figures for a month that are not sales (seed 004's formula): base salary (基础工资,
/// of which the plan pays a share) and the rating bonus (评价加分), set by HQ.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "commission_inputs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub staff_id: i64,
    /// `YYYY-MM`.
    pub month: String,
    pub base_salary_fen: i64,
    pub rating_bonus_fen: i64,
    pub set_by: i64,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

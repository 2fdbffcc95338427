//! RFM segment counts over time (issue 17): the nightly member insights also keep how many
//! members each segment held that day, per store of the member's exclusive BA. A new table:
//! the code before it keeps working; days before it have no counts.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{id, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RfmSegmentDays {
    Table,
    Id,
    BusinessDate,
    StoreId,
    Segment,
    Members,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(RfmSegmentDays::Table)
                .col(id(RfmSegmentDays::Id))
                .col(date(RfmSegmentDays::BusinessDate))
                .col(big_integer(RfmSegmentDays::StoreId))
                .col(string(RfmSegmentDays::Segment))
                .col(big_integer(RfmSegmentDays::Members))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "uq_rfm_segment_days_key",
                RfmSegmentDays::Table,
                vec![
                    RfmSegmentDays::BusinessDate.into_iden(),
                    RfmSegmentDays::StoreId.into_iden(),
                    RfmSegmentDays::Segment.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(RfmSegmentDays::Table).to_owned())
            .await
    }
}

//! The store's day close (日结, issue 18): a closed day's frozen figures, the money events each
//! close took in (so an event recorded later for a closed day is an adjustment on the next open
//! day, and no event is counted by two closes), and the store's expenses (费用). Only new
//! tables: code released before it keeps working.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{fk, id, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StoreDayCloses {
    Table,
    Id,
    StoreId,
    BusinessDate,
    Figures,
    ExpectedCashFen,
    CountedCashFen,
    DifferenceFen,
    DifferenceReason,
    Note,
    ClosedBy,
    ClosedAt,
}

#[derive(DeriveIden)]
enum StoreDayCloseItems {
    Table,
    Id,
    CloseId,
    StoreId,
    Kind,
    RefId,
    EventDate,
    Reference,
    AmountFen,
}

#[derive(DeriveIden)]
enum StoreExpenses {
    Table,
    Id,
    StoreId,
    BusinessDate,
    Category,
    AmountFen,
    Note,
    RecordedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Stores {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(StoreDayCloses::Table)
                .col(id(StoreDayCloses::Id))
                .col(big_integer(StoreDayCloses::StoreId))
                .col(date(StoreDayCloses::BusinessDate))
                .col(text(StoreDayCloses::Figures))
                .col(big_integer(StoreDayCloses::ExpectedCashFen))
                .col(big_integer(StoreDayCloses::CountedCashFen))
                .col(big_integer(StoreDayCloses::DifferenceFen))
                .col(string_null(StoreDayCloses::DifferenceReason))
                .col(string_null(StoreDayCloses::Note))
                .col(big_integer(StoreDayCloses::ClosedBy))
                .col(timestamp_with_time_zone(StoreDayCloses::ClosedAt))
                .foreign_key(&mut fk(
                    (StoreDayCloses::Table, StoreDayCloses::StoreId),
                    (Stores::Table, Stores::Id),
                ))
                .check(Expr::col(StoreDayCloses::CountedCashFen).gte(0))
                .to_owned(),
        )
        .await?;
        // One close per store and day: two closes at once, one wins.
        m.create_index(
            index(
                "uq_store_day_closes_store_date",
                StoreDayCloses::Table,
                vec![
                    StoreDayCloses::StoreId.into_iden(),
                    StoreDayCloses::BusinessDate.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(StoreDayCloseItems::Table)
                .col(id(StoreDayCloseItems::Id))
                .col(big_integer(StoreDayCloseItems::CloseId))
                .col(big_integer(StoreDayCloseItems::StoreId))
                .col(string(StoreDayCloseItems::Kind))
                .col(big_integer(StoreDayCloseItems::RefId))
                .col(date(StoreDayCloseItems::EventDate))
                .col(string(StoreDayCloseItems::Reference))
                .col(big_integer(StoreDayCloseItems::AmountFen))
                .foreign_key(&mut fk(
                    (StoreDayCloseItems::Table, StoreDayCloseItems::CloseId),
                    (StoreDayCloses::Table, StoreDayCloses::Id),
                ))
                .to_owned(),
        )
        .await?;
        // An event is counted by one close only.
        m.create_index(
            index(
                "uq_store_day_close_items_event",
                StoreDayCloseItems::Table,
                vec![
                    StoreDayCloseItems::Kind.into_iden(),
                    StoreDayCloseItems::RefId.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_store_day_close_items_store_date",
            StoreDayCloseItems::Table,
            vec![
                StoreDayCloseItems::StoreId.into_iden(),
                StoreDayCloseItems::EventDate.into_iden(),
            ],
        ))
        .await?;
        m.create_table(
            Table::create()
                .table(StoreExpenses::Table)
                .col(id(StoreExpenses::Id))
                .col(big_integer(StoreExpenses::StoreId))
                .col(date(StoreExpenses::BusinessDate))
                .col(string(StoreExpenses::Category))
                .col(big_integer(StoreExpenses::AmountFen))
                .col(string_null(StoreExpenses::Note))
                .col(big_integer(StoreExpenses::RecordedBy))
                .col(timestamp_with_time_zone(StoreExpenses::CreatedAt))
                .foreign_key(&mut fk(
                    (StoreExpenses::Table, StoreExpenses::StoreId),
                    (Stores::Table, Stores::Id),
                ))
                .check(Expr::col(StoreExpenses::AmountFen).gt(0))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_store_expenses_store_date",
            StoreExpenses::Table,
            vec![
                StoreExpenses::StoreId.into_iden(),
                StoreExpenses::BusinessDate.into_iden(),
            ],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            StoreExpenses::Table.into_iden(),
            StoreDayCloseItems::Table.into_iden(),
            StoreDayCloses::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

//! Flash-sale grab tickets (issue 19): a winner is answered at once with a ticket and the order
//! is written by a background writer, exactly once per ticket. Every grab recorded before has
//! its order already: it gets an ORDERED ticket (so a replay of its key, and `flashSaleOrder`,
//! find it). A new table: the code before it keeps working.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{fk, id, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FlashSaleTickets {
    Table,
    Id,
    SaleId,
    MemberId,
    Quantity,
    IdempotencyKey,
    Status,
    Failure,
    OrderId,
    Attempts,
    CreatedAt,
    OrderDueAt,
    WrittenAt,
}

#[derive(DeriveIden)]
enum FlashSales {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Members {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(FlashSaleTickets::Table)
                .col(id(FlashSaleTickets::Id))
                .col(big_integer(FlashSaleTickets::SaleId))
                .col(big_integer(FlashSaleTickets::MemberId))
                .col(integer(FlashSaleTickets::Quantity))
                .col(string(FlashSaleTickets::IdempotencyKey))
                .col(string(FlashSaleTickets::Status))
                .col(string_null(FlashSaleTickets::Failure))
                .col(big_integer_null(FlashSaleTickets::OrderId).unique_key())
                .col(integer(FlashSaleTickets::Attempts).default(0))
                .col(timestamp_with_time_zone(FlashSaleTickets::CreatedAt))
                .col(timestamp_with_time_zone(FlashSaleTickets::OrderDueAt))
                .col(timestamp_with_time_zone_null(FlashSaleTickets::WrittenAt))
                .foreign_key(&mut fk(
                    (FlashSaleTickets::Table, FlashSaleTickets::SaleId),
                    (FlashSales::Table, FlashSales::Id),
                ))
                .foreign_key(&mut fk(
                    (FlashSaleTickets::Table, FlashSaleTickets::MemberId),
                    (Members::Table, Members::Id),
                ))
                .foreign_key(&mut fk(
                    (FlashSaleTickets::Table, FlashSaleTickets::OrderId),
                    (Orders::Table, Orders::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "uq_flash_sale_tickets_key",
                FlashSaleTickets::Table,
                vec![
                    FlashSaleTickets::SaleId.into_iden(),
                    FlashSaleTickets::MemberId.into_iden(),
                    FlashSaleTickets::IdempotencyKey.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        // The tickets waiting for their order, oldest first: what the writer reads. Partial (same
        // syntax on both databases), so written tickets drop out of it.
        db.execute_unprepared(
            "CREATE INDEX ix_flash_sale_tickets_pending ON flash_sale_tickets (id) \
             WHERE status = 'PENDING'",
        )
        .await?;
        db.execute_unprepared(
            "INSERT INTO flash_sale_tickets (sale_id, member_id, quantity, idempotency_key, \
             status, order_id, attempts, created_at, order_due_at, written_at) \
             SELECT sale_id, member_id, quantity, idempotency_key, 'ORDERED', order_id, 0, \
             created_at, created_at, created_at FROM flash_sale_grabs ORDER BY id",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(FlashSaleTickets::Table).to_owned())
            .await
    }
}

//! One booking per member at a time, in the database itself: every booking that holds the member
//! (BOOKED or CHECKED_IN) writes one row per 5-minute cell of its service, keyed (member, cell),
//! as bookings already do per BA. Open bookings made before this release get their cells here, so
//! the rule holds for them too; where old data already has two bookings of one member at the same
//! time (the race this closes), the older booking keeps the cell and both bookings stay.

use chrono::{DateTime, Utc};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::fk;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Seconds in a cell; the same arithmetic as `domain::booking::cells`.
const CELL_SECONDS: i64 = 5 * 60;

/// Rows written per statement while filling the cells of open bookings.
const FILL_BATCH: usize = 500;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(BookingMemberCells::Table)
                .col(big_integer(BookingMemberCells::MemberId))
                .col(big_integer(BookingMemberCells::Cell))
                .col(big_integer(BookingMemberCells::BookingId))
                .primary_key(
                    Index::create()
                        .col(BookingMemberCells::MemberId)
                        .col(BookingMemberCells::Cell),
                )
                .foreign_key(
                    &mut fk(
                        (BookingMemberCells::Table, BookingMemberCells::BookingId),
                        (Bookings::Table, Bookings::Id),
                    )
                    .on_delete(ForeignKeyAction::Cascade)
                    .to_owned(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_booking_member_cells_booking")
                .table(BookingMemberCells::Table)
                .col(BookingMemberCells::BookingId)
                .to_owned(),
        )
        .await?;

        let db = m.get_connection();
        let open = Query::select()
            .columns([
                Bookings::Id,
                Bookings::MemberId,
                Bookings::StartsAt,
                Bookings::EndsAt,
            ])
            .from(Bookings::Table)
            .and_where(Expr::col(Bookings::Status).is_in(["BOOKED", "CHECKED_IN"]))
            .order_by(Bookings::Id, Order::Asc)
            .to_owned();
        let mut cells: Vec<(i64, i64, i64)> = Vec::new();
        for row in db.query_all(&open).await? {
            let id: i64 = row.try_get("", "id")?;
            let member_id: i64 = row.try_get("", "member_id")?;
            let starts_at: DateTime<Utc> = row.try_get("", "starts_at")?;
            let ends_at: DateTime<Utc> = row.try_get("", "ends_at")?;
            let first = starts_at.timestamp().div_euclid(CELL_SECONDS);
            let last = (ends_at.timestamp() + CELL_SECONDS - 1).div_euclid(CELL_SECONDS);
            cells.extend((first..last).map(|cell| (member_id, cell, id)));
        }
        for batch in cells.chunks(FILL_BATCH) {
            let mut insert = Query::insert()
                .into_table(BookingMemberCells::Table)
                .columns([
                    BookingMemberCells::MemberId,
                    BookingMemberCells::Cell,
                    BookingMemberCells::BookingId,
                ])
                .on_conflict(
                    OnConflict::columns([BookingMemberCells::MemberId, BookingMemberCells::Cell])
                        .do_nothing()
                        .to_owned(),
                )
                .to_owned();
            for (member_id, cell, booking_id) in batch {
                insert
                    .values([(*member_id).into(), (*cell).into(), (*booking_id).into()])
                    .map_err(|e| DbErr::Custom(e.to_string()))?;
            }
            db.execute(&insert).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(BookingMemberCells::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Bookings {
    Table,
    Id,
    MemberId,
    StartsAt,
    EndsAt,
    Status,
}

#[derive(DeriveIden)]
enum BookingMemberCells {
    Table,
    MemberId,
    Cell,
    BookingId,
}

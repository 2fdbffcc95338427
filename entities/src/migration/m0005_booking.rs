//! Booking of in-store services: the services, each store's booking policy, opening hours and
//! closures, BA skills, shifts and blocked time, the bookings, and the per-BA time cells that
//! make a double booking impossible in the database itself (a unique (BA, cell) key covering
//! every 5-minute cell a booking holds, buffer included).

use sea_orm_migration::{prelude::*, schema::*};

use super::m0001_foundation::{Members, StaffAccounts, Stores};
use super::{TableColumns, fk, id, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(BookingServices::Table)
                .col(id(BookingServices::Id))
                .col(big_integer_null(BookingServices::StoreId))
                .col(string(BookingServices::Code).unique_key())
                .col(string(BookingServices::Name))
                .col(integer(BookingServices::DurationMinutes))
                .col(integer(BookingServices::BufferMinutes))
                .col(big_integer(BookingServices::PriceFen))
                .col(string(BookingServices::RequiredSkills))
                .col(boolean(BookingServices::Active))
                .timestamps()
                .foreign_key(&mut fk(
                    (BookingServices::Table, BookingServices::StoreId),
                    (Stores::Table, Stores::Id),
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(BookingPolicies::Table)
                .col(big_integer(BookingPolicies::StoreId).primary_key())
                .col(integer(BookingPolicies::SlotMinutes))
                .col(integer(BookingPolicies::CancelCutoffMinutes))
                .col(integer(BookingPolicies::HorizonDays))
                .col(timestamp_with_time_zone(BookingPolicies::UpdatedAt))
                .foreign_key(&mut fk(
                    (BookingPolicies::Table, BookingPolicies::StoreId),
                    (Stores::Table, Stores::Id),
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(StoreOpeningHours::Table)
                .col(big_integer(StoreOpeningHours::StoreId))
                .col(integer(StoreOpeningHours::Weekday))
                .col(integer(StoreOpeningHours::OpensMinute))
                .col(integer(StoreOpeningHours::ClosesMinute))
                .primary_key(
                    Index::create()
                        .col(StoreOpeningHours::StoreId)
                        .col(StoreOpeningHours::Weekday),
                )
                .foreign_key(&mut fk(
                    (StoreOpeningHours::Table, StoreOpeningHours::StoreId),
                    (Stores::Table, Stores::Id),
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(StoreClosures::Table)
                .col(big_integer(StoreClosures::StoreId))
                .col(date(StoreClosures::ClosedOn))
                .col(string(StoreClosures::Reason))
                .primary_key(
                    Index::create()
                        .col(StoreClosures::StoreId)
                        .col(StoreClosures::ClosedOn),
                )
                .foreign_key(&mut fk(
                    (StoreClosures::Table, StoreClosures::StoreId),
                    (Stores::Table, Stores::Id),
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(BaSkills::Table)
                .col(big_integer(BaSkills::StaffId))
                .col(string(BaSkills::Skill))
                .primary_key(Index::create().col(BaSkills::StaffId).col(BaSkills::Skill))
                .foreign_key(&mut fk(
                    (BaSkills::Table, BaSkills::StaffId),
                    (StaffAccounts::Table, StaffAccounts::Id),
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(BaShifts::Table)
                .col(id(BaShifts::Id))
                .col(big_integer(BaShifts::StaffId))
                .col(big_integer(BaShifts::StoreId))
                .col(date(BaShifts::LocalDate))
                .col(timestamp_with_time_zone(BaShifts::StartsAt))
                .col(timestamp_with_time_zone(BaShifts::EndsAt))
                .col(timestamp_with_time_zone(BaShifts::CreatedAt))
                .foreign_key(&mut fk(
                    (BaShifts::Table, BaShifts::StaffId),
                    (StaffAccounts::Table, StaffAccounts::Id),
                ))
                .foreign_key(&mut fk(
                    (BaShifts::Table, BaShifts::StoreId),
                    (Stores::Table, Stores::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_ba_shifts_store_time",
            BaShifts::Table,
            vec![
                BaShifts::StoreId.into_iden(),
                BaShifts::StartsAt.into_iden(),
            ],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(BaBlocks::Table)
                .col(id(BaBlocks::Id))
                .col(big_integer(BaBlocks::StaffId))
                .col(big_integer(BaBlocks::StoreId))
                .col(timestamp_with_time_zone(BaBlocks::StartsAt))
                .col(timestamp_with_time_zone(BaBlocks::EndsAt))
                .col(string(BaBlocks::Reason))
                .col(big_integer(BaBlocks::CreatedBy))
                .col(timestamp_with_time_zone(BaBlocks::CreatedAt))
                .foreign_key(&mut fk(
                    (BaBlocks::Table, BaBlocks::StaffId),
                    (StaffAccounts::Table, StaffAccounts::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_ba_blocks_store_time",
            BaBlocks::Table,
            vec![
                BaBlocks::StoreId.into_iden(),
                BaBlocks::StartsAt.into_iden(),
            ],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Bookings::Table)
                .col(id(Bookings::Id))
                .col(big_integer(Bookings::MemberId))
                .col(big_integer(Bookings::StoreId))
                .col(big_integer(Bookings::ServiceId))
                .col(big_integer(Bookings::BaId))
                .col(timestamp_with_time_zone(Bookings::StartsAt))
                .col(timestamp_with_time_zone(Bookings::EndsAt))
                .col(timestamp_with_time_zone(Bookings::HoldsUntil))
                .col(string(Bookings::Status))
                .col(big_integer(Bookings::PriceFen))
                .col(string(Bookings::IdempotencyKey))
                .col(string(Bookings::RequestHash))
                .col(timestamp_with_time_zone_null(Bookings::CheckedInAt))
                .col(big_integer_null(Bookings::CheckedInBy))
                .col(timestamp_with_time_zone_null(Bookings::RedeemedAt))
                .col(big_integer_null(Bookings::RedeemedBy))
                .col(text_null(Bookings::ProductsUsed))
                .col(text_null(Bookings::Notes))
                .col(timestamp_with_time_zone_null(Bookings::CancelledAt))
                .col(timestamp_with_time_zone_null(Bookings::ReminderSentAt))
                .col(string_null(Bookings::ReminderOutcome))
                .timestamps()
                .foreign_key(&mut fk(
                    (Bookings::Table, Bookings::MemberId),
                    (Members::Table, Members::Id),
                ))
                .foreign_key(&mut fk(
                    (Bookings::Table, Bookings::StoreId),
                    (Stores::Table, Stores::Id),
                ))
                .foreign_key(&mut fk(
                    (Bookings::Table, Bookings::ServiceId),
                    (BookingServices::Table, BookingServices::Id),
                ))
                .foreign_key(&mut fk(
                    (Bookings::Table, Bookings::BaId),
                    (StaffAccounts::Table, StaffAccounts::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "uq_bookings_member_key",
                Bookings::Table,
                vec![
                    Bookings::MemberId.into_iden(),
                    Bookings::IdempotencyKey.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_bookings_store_time",
            Bookings::Table,
            vec![
                Bookings::StoreId.into_iden(),
                Bookings::StartsAt.into_iden(),
            ],
        ))
        .await?;
        m.create_index(index(
            "idx_bookings_status_time",
            Bookings::Table,
            vec![Bookings::Status.into_iden(), Bookings::StartsAt.into_iden()],
        ))
        .await?;
        m.create_index(index(
            "idx_bookings_member",
            Bookings::Table,
            vec![
                Bookings::MemberId.into_iden(),
                Bookings::StartsAt.into_iden(),
            ],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(BookingCells::Table)
                .col(big_integer(BookingCells::BaId))
                .col(big_integer(BookingCells::Cell))
                .col(big_integer(BookingCells::BookingId))
                .primary_key(
                    Index::create()
                        .col(BookingCells::BaId)
                        .col(BookingCells::Cell),
                )
                .foreign_key(
                    &mut fk(
                        (BookingCells::Table, BookingCells::BookingId),
                        (Bookings::Table, Bookings::Id),
                    )
                    .on_delete(ForeignKeyAction::Cascade)
                    .to_owned(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_booking_cells_booking",
            BookingCells::Table,
            vec![BookingCells::BookingId.into_iden()],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            BookingCells::Table.into_iden(),
            Bookings::Table.into_iden(),
            BaBlocks::Table.into_iden(),
            BaShifts::Table.into_iden(),
            BaSkills::Table.into_iden(),
            StoreClosures::Table.into_iden(),
            StoreOpeningHours::Table.into_iden(),
            BookingPolicies::Table.into_iden(),
            BookingServices::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum BookingServices {
    Table,
    Id,
    StoreId,
    Code,
    Name,
    DurationMinutes,
    BufferMinutes,
    PriceFen,
    RequiredSkills,
    Active,
}

#[derive(DeriveIden)]
enum BookingPolicies {
    Table,
    StoreId,
    SlotMinutes,
    CancelCutoffMinutes,
    HorizonDays,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum StoreOpeningHours {
    Table,
    StoreId,
    Weekday,
    OpensMinute,
    ClosesMinute,
}

#[derive(DeriveIden)]
enum StoreClosures {
    Table,
    StoreId,
    ClosedOn,
    Reason,
}

#[derive(DeriveIden)]
enum BaSkills {
    Table,
    StaffId,
    Skill,
}

#[derive(DeriveIden)]
enum BaShifts {
    Table,
    Id,
    StaffId,
    StoreId,
    LocalDate,
    StartsAt,
    EndsAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum BaBlocks {
    Table,
    Id,
    StaffId,
    StoreId,
    StartsAt,
    EndsAt,
    Reason,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Bookings {
    Table,
    Id,
    MemberId,
    StoreId,
    ServiceId,
    BaId,
    StartsAt,
    EndsAt,
    HoldsUntil,
    Status,
    PriceFen,
    IdempotencyKey,
    RequestHash,
    CheckedInAt,
    CheckedInBy,
    RedeemedAt,
    RedeemedBy,
    ProductsUsed,
    Notes,
    CancelledAt,
    ReminderSentAt,
    ReminderOutcome,
}

#[derive(DeriveIden)]
enum BookingCells {
    Table,
    BaId,
    Cell,
    BookingId,
}

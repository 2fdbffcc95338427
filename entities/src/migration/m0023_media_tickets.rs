//! Media leftovers (issue 16): single-use upload tickets for direct uploads, and the queue of
//! stored objects waiting to be deleted (retried by the worker). New tables only.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{fk, id, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UploadTickets {
    Table,
    Id,
    Purpose,
    MemberId,
    StorageKey,
    ContentType,
    ByteSize,
    Sha256,
    State,
    AssetId,
    ExpiresAt,
    CreatedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum MediaDeletions {
    Table,
    Id,
    ObjectKey,
    Attempts,
    NextAttemptAt,
    LastError,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Members {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(UploadTickets::Table)
                .col(id(UploadTickets::Id))
                .col(string(UploadTickets::Purpose))
                .col(big_integer(UploadTickets::MemberId))
                .col(string(UploadTickets::StorageKey))
                .col(string(UploadTickets::ContentType))
                .col(big_integer(UploadTickets::ByteSize))
                .col(string(UploadTickets::Sha256))
                .col(string(UploadTickets::State))
                .col(big_integer_null(UploadTickets::AssetId))
                .col(timestamp_with_time_zone(UploadTickets::ExpiresAt))
                .col(timestamp_with_time_zone(UploadTickets::CreatedAt))
                .col(timestamp_with_time_zone_null(UploadTickets::FinishedAt))
                .foreign_key(&mut fk(
                    (UploadTickets::Table, UploadTickets::MemberId),
                    (Members::Table, Members::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "uq_upload_tickets_storage_key",
                UploadTickets::Table,
                vec![UploadTickets::StorageKey.into_iden()],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_upload_tickets_state_expiry",
            UploadTickets::Table,
            vec![
                UploadTickets::State.into_iden(),
                UploadTickets::ExpiresAt.into_iden(),
            ],
        ))
        .await?;
        m.create_index(index(
            "idx_upload_tickets_member",
            UploadTickets::Table,
            vec![UploadTickets::MemberId.into_iden()],
        ))
        .await?;
        m.create_table(
            Table::create()
                .table(MediaDeletions::Table)
                .col(id(MediaDeletions::Id))
                .col(string(MediaDeletions::ObjectKey))
                .col(integer(MediaDeletions::Attempts))
                .col(timestamp_with_time_zone(MediaDeletions::NextAttemptAt))
                .col(text_null(MediaDeletions::LastError))
                .col(timestamp_with_time_zone(MediaDeletions::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_media_deletions_due",
            MediaDeletions::Table,
            vec![MediaDeletions::NextAttemptAt.into_iden()],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(MediaDeletions::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(UploadTickets::Table).to_owned())
            .await
    }
}

//! Members' data rights (issue 14, PIPL): the privacy policy a member accepted and the separate
//! consent to sensitive personal data, each with the version agreed to and when, kept after a
//! withdrawal as the record of what was agreed; and when a member's personal data was erased
//! (the member row stays as an anonymous tombstone). The new column is nullable, so code
//! released before it keeps working.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{fk, id, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MemberConsents {
    Table,
    Id,
    MemberId,
    Kind,
    Version,
    GrantedAt,
    WithdrawnAt,
}

#[derive(DeriveIden)]
enum Members {
    Table,
    Id,
    ErasedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(MemberConsents::Table)
                .col(id(MemberConsents::Id))
                .col(big_integer(MemberConsents::MemberId))
                .col(string(MemberConsents::Kind))
                .col(string(MemberConsents::Version))
                .col(timestamp_with_time_zone(MemberConsents::GrantedAt))
                .col(timestamp_with_time_zone_null(MemberConsents::WithdrawnAt))
                .foreign_key(&mut fk(
                    (MemberConsents::Table, MemberConsents::MemberId),
                    (Members::Table, Members::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Members::Table)
                .add_column(timestamp_with_time_zone_null(Members::ErasedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_member_consents_member_kind",
            MemberConsents::Table,
            vec![
                MemberConsents::MemberId.into_iden(),
                MemberConsents::Kind.into_iden(),
                MemberConsents::Id.into_iden(),
            ],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Members::Table)
                .drop_column(Members::ErasedAt)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(MemberConsents::Table).to_owned())
            .await
    }
}

//! Stores, staff, distributors, tiers, members with their skin profile, tags and points, and the audit log.

use sea_orm_migration::{prelude::*, schema::*};

use super::{TableColumns, fk, id};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Stores::Table)
                .col(id(Stores::Id))
                .col(string(Stores::Code).unique_key())
                .col(string(Stores::Name))
                .col(string(Stores::City))
                .col(string(Stores::Address))
                .col(string(Stores::Timezone))
                .col(timestamp_with_time_zone(Stores::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(StaffAccounts::Table)
                .col(id(StaffAccounts::Id))
                .col(string(StaffAccounts::Username).unique_key())
                .col(string(StaffAccounts::PasswordHash))
                .col(string(StaffAccounts::DisplayName))
                .col(string(StaffAccounts::Role))
                .col(big_integer_null(StaffAccounts::StoreId))
                .col(boolean(StaffAccounts::Active))
                .col(timestamp_with_time_zone(StaffAccounts::CreatedAt))
                .foreign_key(&mut fk(
                    (StaffAccounts::Table, StaffAccounts::StoreId),
                    (Stores::Table, Stores::Id),
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Distributors::Table)
                .col(id(Distributors::Id))
                .col(string(Distributors::Code).unique_key())
                .col(string(Distributors::Name))
                .col(string(Distributors::Level))
                .col(string(Distributors::Region))
                .col(big_integer(Distributors::CreditLimitFen))
                .col(timestamp_with_time_zone(Distributors::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(DistributorAccounts::Table)
                .col(id(DistributorAccounts::Id))
                .col(big_integer(DistributorAccounts::DistributorId))
                .col(string(DistributorAccounts::Username).unique_key())
                .col(string(DistributorAccounts::PasswordHash))
                .col(string(DistributorAccounts::DisplayName))
                .col(boolean(DistributorAccounts::Active))
                .col(timestamp_with_time_zone(DistributorAccounts::CreatedAt))
                .foreign_key(&mut fk(
                    (
                        DistributorAccounts::Table,
                        DistributorAccounts::DistributorId,
                    ),
                    (Distributors::Table, Distributors::Id),
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Tiers::Table)
                .col(id(Tiers::Id))
                .col(string(Tiers::Code).unique_key())
                .col(string(Tiers::Name))
                .col(integer(Tiers::Rank))
                .col(big_integer(Tiers::ThresholdFen))
                .col(integer(Tiers::PointsMultiplierPct))
                .col(integer(Tiers::DiscountPct))
                .col(timestamp_with_time_zone(Tiers::CreatedAt))
                .to_owned(),
        )
        .await?;

        // Every deployment has a base tier that new members start in; HQ adds the others.
        let base_tier = Query::insert()
            .into_table(Tiers::Table)
            .columns([
                Tiers::Code,
                Tiers::Name,
                Tiers::Rank,
                Tiers::ThresholdFen,
                Tiers::PointsMultiplierPct,
                Tiers::DiscountPct,
                Tiers::CreatedAt,
            ])
            .values_panic([
                "MEMBER".into(),
                "会员".into(),
                0.into(),
                0i64.into(),
                100.into(),
                0.into(),
                Expr::current_timestamp(),
            ])
            .to_owned();
        m.exec_stmt(base_tier).await?;

        m.create_table(
            Table::create()
                .table(Members::Table)
                .col(id(Members::Id))
                .col(string(Members::MemberCode).unique_key())
                .col(string(Members::Openid).unique_key())
                .col(string_null(Members::Unionid))
                .col(string_null(Members::Nickname))
                .col(string(Members::Gender))
                .col(date_null(Members::Birthday))
                .col(string_null(Members::RegionProvince))
                .col(string_null(Members::RegionCity))
                .col(string_null(Members::RegionDistrict))
                .col(string_null(Members::SkinType))
                .col(integer(Members::SkinConcerns))
                .col(boolean(Members::MarketingConsent))
                .col(timestamp_with_time_zone_null(Members::MarketingConsentAt))
                .col(text_null(Members::PhoneCipher))
                .col(string_null(Members::PhoneIndex).unique_key())
                .col(string_null(Members::PhoneMasked))
                .col(string(Members::TierCode))
                .col(big_integer(Members::CumulativeSpendFen))
                .col(big_integer_null(Members::ExclusiveBaId))
                .col(timestamp_with_time_zone_null(Members::ProfileUpdatedAt))
                .col(big_integer_null(Members::ProfileUpdatedBy))
                .timestamps()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_members_unionid")
                .table(Members::Table)
                .col(Members::Unionid)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(MemberAllergies::Table)
                .col(big_integer(MemberAllergies::MemberId))
                .col(string(MemberAllergies::Ingredient))
                .primary_key(
                    Index::create()
                        .col(MemberAllergies::MemberId)
                        .col(MemberAllergies::Ingredient),
                )
                .foreign_key(
                    &mut fk(
                        (MemberAllergies::Table, MemberAllergies::MemberId),
                        (Members::Table, Members::Id),
                    )
                    .on_delete(ForeignKeyAction::Cascade)
                    .to_owned(),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(MemberTags::Table)
                .col(id(MemberTags::Id))
                .col(big_integer(MemberTags::MemberId))
                .col(string(MemberTags::Name))
                .col(string(MemberTags::Source))
                .col(big_integer_null(MemberTags::CreatedBy))
                .col(timestamp_with_time_zone(MemberTags::CreatedAt))
                .foreign_key(
                    &mut fk(
                        (MemberTags::Table, MemberTags::MemberId),
                        (Members::Table, Members::Id),
                    )
                    .on_delete(ForeignKeyAction::Cascade)
                    .to_owned(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_member_tags_member_name")
                .table(MemberTags::Table)
                .col(MemberTags::MemberId)
                .col(MemberTags::Name)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_member_tags_name")
                .table(MemberTags::Table)
                .col(MemberTags::Name)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(PointsLedger::Table)
                .col(id(PointsLedger::Id))
                .col(big_integer(PointsLedger::MemberId))
                .col(big_integer(PointsLedger::Delta))
                .col(string(PointsLedger::Reason))
                .col(string_null(PointsLedger::Reference))
                .col(string(PointsLedger::IdempotencyKey).unique_key())
                .col(timestamp_with_time_zone_null(PointsLedger::ExpiresAt))
                .col(big_integer(PointsLedger::Remaining))
                .col(timestamp_with_time_zone(PointsLedger::CreatedAt))
                .foreign_key(&mut fk(
                    (PointsLedger::Table, PointsLedger::MemberId),
                    (Members::Table, Members::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_points_ledger_member")
                .table(PointsLedger::Table)
                .col(PointsLedger::MemberId)
                .col(PointsLedger::ExpiresAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(SubscriptionConsents::Table)
                .col(big_integer(SubscriptionConsents::MemberId))
                .col(string(SubscriptionConsents::TemplateId))
                .col(integer(SubscriptionConsents::Remaining))
                .col(timestamp_with_time_zone(SubscriptionConsents::UpdatedAt))
                .primary_key(
                    Index::create()
                        .col(SubscriptionConsents::MemberId)
                        .col(SubscriptionConsents::TemplateId),
                )
                .foreign_key(
                    &mut fk(
                        (SubscriptionConsents::Table, SubscriptionConsents::MemberId),
                        (Members::Table, Members::Id),
                    )
                    .on_delete(ForeignKeyAction::Cascade)
                    .to_owned(),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .col(id(AuditLog::Id))
                .col(timestamp_with_time_zone(AuditLog::At))
                .col(string(AuditLog::ActorKind))
                .col(big_integer_null(AuditLog::ActorId))
                .col(string(AuditLog::Action))
                .col(string(AuditLog::SubjectKind))
                .col(big_integer_null(AuditLog::SubjectId))
                .col(string_null(AuditLog::RequestId))
                .col(text(AuditLog::Detail))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_audit_log_subject")
                .table(AuditLog::Table)
                .col(AuditLog::SubjectKind)
                .col(AuditLog::SubjectId)
                .col(AuditLog::At)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditLog::Table.into_iden(),
            SubscriptionConsents::Table.into_iden(),
            PointsLedger::Table.into_iden(),
            MemberTags::Table.into_iden(),
            MemberAllergies::Table.into_iden(),
            Members::Table.into_iden(),
            Tiers::Table.into_iden(),
            DistributorAccounts::Table.into_iden(),
            Distributors::Table.into_iden(),
            StaffAccounts::Table.into_iden(),
            Stores::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
pub(crate) enum Stores {
    Table,
    Id,
    Code,
    Name,
    City,
    Address,
    Timezone,
    CreatedAt,
}

#[derive(DeriveIden)]
pub(crate) enum StaffAccounts {
    Table,
    Id,
    Username,
    PasswordHash,
    DisplayName,
    Role,
    StoreId,
    Active,
    CreatedAt,
}

#[derive(DeriveIden)]
pub(crate) enum Distributors {
    Table,
    Id,
    Code,
    Name,
    Level,
    Region,
    CreditLimitFen,
    CreatedAt,
}

#[derive(DeriveIden)]
enum DistributorAccounts {
    Table,
    Id,
    DistributorId,
    Username,
    PasswordHash,
    DisplayName,
    Active,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Tiers {
    Table,
    Id,
    Code,
    Name,
    Rank,
    ThresholdFen,
    PointsMultiplierPct,
    DiscountPct,
    CreatedAt,
}

#[derive(DeriveIden)]
pub(crate) enum Members {
    Table,
    Id,
    MemberCode,
    Openid,
    Unionid,
    Nickname,
    Gender,
    Birthday,
    RegionProvince,
    RegionCity,
    RegionDistrict,
    SkinType,
    SkinConcerns,
    MarketingConsent,
    MarketingConsentAt,
    PhoneCipher,
    PhoneIndex,
    PhoneMasked,
    TierCode,
    CumulativeSpendFen,
    ExclusiveBaId,
    ProfileUpdatedAt,
    ProfileUpdatedBy,
}

#[derive(DeriveIden)]
enum MemberAllergies {
    Table,
    MemberId,
    Ingredient,
}

#[derive(DeriveIden)]
enum MemberTags {
    Table,
    Id,
    MemberId,
    Name,
    Source,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PointsLedger {
    Table,
    Id,
    MemberId,
    Delta,
    Reason,
    Reference,
    IdempotencyKey,
    ExpiresAt,
    Remaining,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    ActorKind,
    ActorId,
    Action,
    SubjectKind,
    SubjectId,
    RequestId,
    Detail,
}

#[derive(DeriveIden)]
enum SubscriptionConsents {
    Table,
    MemberId,
    TemplateId,
    Remaining,
    UpdatedAt,
}

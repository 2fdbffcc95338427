//! Private-domain campaigns: HQ's subscription-message templates, campaigns and their
//! per-member deliveries (one row per campaign and member, written before the send), the
//! nightly member insights (RFM segment and lifecycle) segments filter on, and the automations.

use sea_orm_migration::{prelude::*, schema::*};

use super::{TableColumns, fk, id};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SubscriptionTemplates::Table)
                .col(id(SubscriptionTemplates::Id))
                .col(string(SubscriptionTemplates::TemplateId).unique_key())
                .col(string(SubscriptionTemplates::Title))
                .col(text(SubscriptionTemplates::Keys))
                .col(big_integer_null(SubscriptionTemplates::CreatedBy))
                .col(timestamp_with_time_zone(SubscriptionTemplates::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Campaigns::Table)
                .col(id(Campaigns::Id))
                .col(string(Campaigns::Name))
                .col(string(Campaigns::Kind))
                .col(string_null(Campaigns::DedupeKey).unique_key())
                .col(string(Campaigns::Status))
                .col(text(Campaigns::SegmentRule))
                .col(string(Campaigns::TemplateId))
                .col(text(Campaigns::TemplateValues))
                .col(string(Campaigns::Page))
                .col(big_integer_null(Campaigns::CouponTemplateId))
                .col(timestamp_with_time_zone_null(Campaigns::StartAt))
                .col(string(Campaigns::Zone))
                .col(integer(Campaigns::QuietStartMin))
                .col(integer(Campaigns::QuietEndMin))
                .col(integer(Campaigns::CapCount))
                .col(integer(Campaigns::CapDays))
                .col(integer(Campaigns::AttributionDays))
                .col(big_integer(Campaigns::AudienceCursor))
                .col(boolean(Campaigns::AudienceDone))
                .col(timestamp_with_time_zone_null(Campaigns::NotBefore))
                .col(string_null(Campaigns::LastError))
                .col(big_integer_null(Campaigns::CreatedBy))
                .timestamps()
                .col(timestamp_with_time_zone_null(Campaigns::CompletedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_campaigns_status")
                .table(Campaigns::Table)
                .col(Campaigns::Status)
                .col(Campaigns::Id)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(CampaignDeliveries::Table)
                .col(id(CampaignDeliveries::Id))
                .col(big_integer(CampaignDeliveries::CampaignId))
                .col(big_integer(CampaignDeliveries::MemberId))
                .col(string(CampaignDeliveries::State))
                .col(string_null(CampaignDeliveries::Reason))
                .col(integer(CampaignDeliveries::Attempts))
                .col(timestamp_with_time_zone(CampaignDeliveries::NextAttemptAt))
                .col(timestamp_with_time_zone_null(
                    CampaignDeliveries::ClaimedUntil,
                ))
                .col(timestamp_with_time_zone_null(CampaignDeliveries::SentAt))
                .col(timestamp_with_time_zone_null(
                    CampaignDeliveries::AttributionUntil,
                ))
                .foreign_key(&mut fk(
                    (CampaignDeliveries::Table, CampaignDeliveries::CampaignId),
                    (Campaigns::Table, Campaigns::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("uq_campaign_deliveries_member")
                .table(CampaignDeliveries::Table)
                .col(CampaignDeliveries::CampaignId)
                .col(CampaignDeliveries::MemberId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_campaign_deliveries_queue")
                .table(CampaignDeliveries::Table)
                .col(CampaignDeliveries::CampaignId)
                .col(CampaignDeliveries::State)
                .col(CampaignDeliveries::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_campaign_deliveries_member_sent")
                .table(CampaignDeliveries::Table)
                .col(CampaignDeliveries::MemberId)
                .col(CampaignDeliveries::SentAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(MemberInsights::Table)
                .col(
                    big_integer(MemberInsights::MemberId)
                        .primary_key()
                        .to_owned(),
                )
                .col(string(MemberInsights::Lifecycle))
                .col(string(MemberInsights::RfmSegment))
                .col(timestamp_with_time_zone_null(MemberInsights::LastOrderAt))
                .col(big_integer(MemberInsights::OrderCount))
                .col(big_integer(MemberInsights::MonetaryFen))
                .col(timestamp_with_time_zone(MemberInsights::ComputedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_member_insights_lifecycle")
                .table(MemberInsights::Table)
                .col(MemberInsights::Lifecycle)
                .col(MemberInsights::MemberId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_member_insights_rfm")
                .table(MemberInsights::Table)
                .col(MemberInsights::RfmSegment)
                .col(MemberInsights::MemberId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(CampaignAutomations::Table)
                .col(string(CampaignAutomations::Kind).primary_key())
                .col(boolean(CampaignAutomations::Enabled))
                .col(string(CampaignAutomations::TemplateId))
                .col(text(CampaignAutomations::TemplateValues))
                .col(string(CampaignAutomations::Page))
                .col(integer(CampaignAutomations::Days))
                .col(big_integer_null(CampaignAutomations::CouponTemplateId))
                .col(timestamp_with_time_zone(CampaignAutomations::UpdatedAt))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            CampaignAutomations::Table.into_iden(),
            MemberInsights::Table.into_iden(),
            CampaignDeliveries::Table.into_iden(),
            Campaigns::Table.into_iden(),
            SubscriptionTemplates::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum SubscriptionTemplates {
    Table,
    Id,
    TemplateId,
    Title,
    Keys,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Campaigns {
    Table,
    Id,
    Name,
    Kind,
    DedupeKey,
    Status,
    SegmentRule,
    TemplateId,
    TemplateValues,
    Page,
    CouponTemplateId,
    StartAt,
    Zone,
    QuietStartMin,
    QuietEndMin,
    CapCount,
    CapDays,
    AttributionDays,
    AudienceCursor,
    AudienceDone,
    NotBefore,
    LastError,
    CreatedBy,
    CompletedAt,
}

#[derive(DeriveIden)]
enum CampaignDeliveries {
    Table,
    Id,
    CampaignId,
    MemberId,
    State,
    Reason,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    SentAt,
    AttributionUntil,
}

#[derive(DeriveIden)]
enum MemberInsights {
    Table,
    MemberId,
    Lifecycle,
    RfmSegment,
    LastOrderAt,
    OrderCount,
    MonetaryFen,
    ComputedAt,
}

#[derive(DeriveIden)]
enum CampaignAutomations {
    Table,
    Kind,
    Enabled,
    TemplateId,
    TemplateValues,
    Page,
    Days,
    CouponTemplateId,
    UpdatedAt,
}

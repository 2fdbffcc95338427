//! Share posters (issue 16): one row per rendered poster, keyed by the hash of everything that
//! went into it, pointing at the PUBLIC asset that holds the PNG; and the marketing materials
//! HQ attaches to B2B policies (PRIVATE assets). New tables only.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{fk, id, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Posters {
    Table,
    Id,
    CacheKey,
    Kind,
    TargetId,
    MemberId,
    TemplateVersion,
    Scene,
    AssetId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PolicyMaterials {
    Table,
    Id,
    PolicyId,
    AssetId,
    Title,
    AttachedByStaffId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum B2bPolicies {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Members {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum MediaAssets {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Posters::Table)
                .col(id(Posters::Id))
                .col(string(Posters::CacheKey))
                .col(string(Posters::Kind))
                .col(big_integer(Posters::TargetId))
                .col(big_integer(Posters::MemberId))
                .col(integer(Posters::TemplateVersion))
                .col(string(Posters::Scene))
                .col(big_integer(Posters::AssetId))
                .col(timestamp_with_time_zone(Posters::CreatedAt))
                .foreign_key(&mut fk(
                    (Posters::Table, Posters::MemberId),
                    (Members::Table, Members::Id),
                ))
                .foreign_key(
                    fk(
                        (Posters::Table, Posters::AssetId),
                        (MediaAssets::Table, MediaAssets::Id),
                    )
                    .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "uq_posters_cache_key",
                Posters::Table,
                vec![Posters::CacheKey.into_iden()],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_posters_member",
            Posters::Table,
            vec![Posters::MemberId.into_iden()],
        ))
        .await?;
        m.create_index(index(
            "idx_posters_asset",
            Posters::Table,
            vec![Posters::AssetId.into_iden()],
        ))
        .await?;
        m.create_table(
            Table::create()
                .table(PolicyMaterials::Table)
                .col(id(PolicyMaterials::Id))
                .col(big_integer(PolicyMaterials::PolicyId))
                .col(big_integer(PolicyMaterials::AssetId))
                .col(string(PolicyMaterials::Title))
                .col(big_integer(PolicyMaterials::AttachedByStaffId))
                .col(timestamp_with_time_zone(PolicyMaterials::CreatedAt))
                .foreign_key(&mut fk(
                    (PolicyMaterials::Table, PolicyMaterials::PolicyId),
                    (B2bPolicies::Table, B2bPolicies::Id),
                ))
                .foreign_key(&mut fk(
                    (PolicyMaterials::Table, PolicyMaterials::AssetId),
                    (MediaAssets::Table, MediaAssets::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "uq_policy_materials_policy_asset",
                PolicyMaterials::Table,
                vec![
                    PolicyMaterials::PolicyId.into_iden(),
                    PolicyMaterials::AssetId.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_policy_materials_asset",
            PolicyMaterials::Table,
            vec![PolicyMaterials::AssetId.into_iden()],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(PolicyMaterials::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Posters::Table).to_owned())
            .await
    }
}

//! Media (issue 16): stored images with their fixed-width variants, product pictures and
//! members' skin photos. New tables only.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{fk, id, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MediaAssets {
    Table,
    Id,
    Class,
    Purpose,
    OwnerMemberId,
    UploadedByStaffId,
    UploadedByMemberId,
    SourceMime,
    Width,
    Height,
    Variants,
    KeyPrefix,
    WrappedKey,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProductImages {
    Table,
    Id,
    ProductId,
    AssetId,
    Position,
    Alt,
}

#[derive(DeriveIden)]
enum SkinPhotos {
    Table,
    Id,
    MemberId,
    AssetId,
    Area,
    TakenAt,
    Note,
    StoreId,
    RecordedByStaffId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Products {
    Table,
    Id,
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
                .table(MediaAssets::Table)
                .col(id(MediaAssets::Id))
                .col(string(MediaAssets::Class))
                .col(string(MediaAssets::Purpose))
                .col(big_integer_null(MediaAssets::OwnerMemberId))
                .col(big_integer_null(MediaAssets::UploadedByStaffId))
                .col(big_integer_null(MediaAssets::UploadedByMemberId))
                .col(string(MediaAssets::SourceMime))
                .col(integer(MediaAssets::Width))
                .col(integer(MediaAssets::Height))
                .col(text(MediaAssets::Variants))
                .col(string_null(MediaAssets::KeyPrefix))
                .col(text_null(MediaAssets::WrappedKey))
                .col(timestamp_with_time_zone(MediaAssets::CreatedAt))
                .foreign_key(&mut fk(
                    (MediaAssets::Table, MediaAssets::OwnerMemberId),
                    (Members::Table, Members::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_media_assets_owner",
            MediaAssets::Table,
            vec![MediaAssets::OwnerMemberId.into_iden()],
        ))
        .await?;
        m.create_table(
            Table::create()
                .table(ProductImages::Table)
                .col(id(ProductImages::Id))
                .col(big_integer(ProductImages::ProductId))
                .col(big_integer(ProductImages::AssetId))
                .col(integer(ProductImages::Position))
                .col(string(ProductImages::Alt))
                .foreign_key(&mut fk(
                    (ProductImages::Table, ProductImages::ProductId),
                    (Products::Table, Products::Id),
                ))
                .foreign_key(&mut fk(
                    (ProductImages::Table, ProductImages::AssetId),
                    (MediaAssets::Table, MediaAssets::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "uq_product_images_product_asset",
                ProductImages::Table,
                vec![
                    ProductImages::ProductId.into_iden(),
                    ProductImages::AssetId.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SkinPhotos::Table)
                .col(id(SkinPhotos::Id))
                .col(big_integer(SkinPhotos::MemberId))
                .col(big_integer(SkinPhotos::AssetId))
                .col(string(SkinPhotos::Area))
                .col(timestamp_with_time_zone(SkinPhotos::TakenAt))
                .col(text_null(SkinPhotos::Note))
                .col(big_integer_null(SkinPhotos::StoreId))
                .col(big_integer(SkinPhotos::RecordedByStaffId))
                .col(timestamp_with_time_zone(SkinPhotos::CreatedAt))
                .foreign_key(&mut fk(
                    (SkinPhotos::Table, SkinPhotos::MemberId),
                    (Members::Table, Members::Id),
                ))
                .foreign_key(&mut fk(
                    (SkinPhotos::Table, SkinPhotos::AssetId),
                    (MediaAssets::Table, MediaAssets::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "uq_skin_photos_asset",
                SkinPhotos::Table,
                vec![SkinPhotos::AssetId.into_iden()],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_skin_photos_member",
            SkinPhotos::Table,
            vec![SkinPhotos::MemberId.into_iden(), SkinPhotos::Id.into_iden()],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SkinPhotos::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(ProductImages::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(MediaAssets::Table).to_owned())
            .await
    }
}

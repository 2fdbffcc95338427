//! Catalog (categories, products, ingredients, SKUs), stock by location and batch with its
//! movement ledger, consumer orders with their lines, allocations and refunds, and the record of
//! handled WeChat Pay notifications.

use sea_orm_migration::{prelude::*, schema::*};

use super::m0001_foundation::{Members, Stores};
use super::{TableColumns, fk, id, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Categories::Table)
                .col(id(Categories::Id))
                .col(string(Categories::Code).unique_key())
                .col(string(Categories::Name))
                .col(big_integer_null(Categories::ParentId))
                .col(integer(Categories::SortOrder))
                .col(timestamp_with_time_zone(Categories::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Products::Table)
                .col(id(Products::Id))
                .col(string(Products::Code).unique_key())
                .col(string(Products::Name))
                .col(text(Products::Description))
                .col(big_integer(Products::CategoryId))
                .col(text(Products::EfficacyClaims))
                .col(integer(Products::SuitableSkinTypes))
                .col(boolean(Products::Active))
                .timestamps()
                .foreign_key(&mut fk(
                    (Products::Table, Products::CategoryId),
                    (Categories::Table, Categories::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_products_category",
            Products::Table,
            vec![Products::CategoryId.into_iden(), Products::Id.into_iden()],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(ProductIngredients::Table)
                .col(big_integer(ProductIngredients::ProductId))
                .col(integer(ProductIngredients::Position))
                .col(string(ProductIngredients::InciName))
                .primary_key(
                    Index::create()
                        .col(ProductIngredients::ProductId)
                        .col(ProductIngredients::Position),
                )
                .foreign_key(
                    &mut fk(
                        (ProductIngredients::Table, ProductIngredients::ProductId),
                        (Products::Table, Products::Id),
                    )
                    .on_delete(ForeignKeyAction::Cascade)
                    .to_owned(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_product_ingredients_inci",
            ProductIngredients::Table,
            vec![ProductIngredients::InciName.into_iden()],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Skus::Table)
                .col(id(Skus::Id))
                .col(big_integer(Skus::ProductId))
                .col(string(Skus::Code).unique_key())
                .col(string_null(Skus::Barcode).unique_key())
                .col(string_null(Skus::Shade))
                .col(string_null(Skus::Size))
                .col(big_integer(Skus::PriceFen))
                .col(big_integer(Skus::CostFen))
                .col(integer(Skus::SafetyStock))
                .col(boolean(Skus::Active))
                .timestamps()
                .foreign_key(&mut fk(
                    (Skus::Table, Skus::ProductId),
                    (Products::Table, Products::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_skus_product",
            Skus::Table,
            vec![Skus::ProductId.into_iden()],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Locations::Table)
                .col(id(Locations::Id))
                .col(string(Locations::Code).unique_key())
                .col(string(Locations::Name))
                .col(string(Locations::Kind))
                .col(big_integer_null(Locations::StoreId))
                .col(timestamp_with_time_zone(Locations::CreatedAt))
                .foreign_key(&mut fk(
                    (Locations::Table, Locations::StoreId),
                    (Stores::Table, Stores::Id),
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(StockBatches::Table)
                .col(id(StockBatches::Id))
                .col(big_integer(StockBatches::SkuId))
                .col(string(StockBatches::Lot))
                .col(date(StockBatches::ManufacturedOn))
                .col(date(StockBatches::ExpiresOn))
                .col(timestamp_with_time_zone(StockBatches::CreatedAt))
                .foreign_key(&mut fk(
                    (StockBatches::Table, StockBatches::SkuId),
                    (Skus::Table, Skus::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "uq_stock_batches_sku_lot",
                StockBatches::Table,
                vec![
                    StockBatches::SkuId.into_iden(),
                    StockBatches::Lot.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(StockLevels::Table)
                .col(big_integer(StockLevels::LocationId))
                .col(big_integer(StockLevels::BatchId))
                .col(big_integer(StockLevels::SkuId))
                .col(big_integer(StockLevels::Quantity))
                .col(timestamp_with_time_zone(StockLevels::UpdatedAt))
                .primary_key(
                    Index::create()
                        .col(StockLevels::LocationId)
                        .col(StockLevels::BatchId),
                )
                .foreign_key(&mut fk(
                    (StockLevels::Table, StockLevels::LocationId),
                    (Locations::Table, Locations::Id),
                ))
                .foreign_key(&mut fk(
                    (StockLevels::Table, StockLevels::BatchId),
                    (StockBatches::Table, StockBatches::Id),
                ))
                // The last line of defence against overselling.
                .check(Expr::col(StockLevels::Quantity).gte(0))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_stock_levels_sku",
            StockLevels::Table,
            vec![
                StockLevels::SkuId.into_iden(),
                StockLevels::LocationId.into_iden(),
            ],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(StockMovements::Table)
                .col(id(StockMovements::Id))
                .col(big_integer(StockMovements::LocationId))
                .col(big_integer(StockMovements::BatchId))
                .col(big_integer(StockMovements::SkuId))
                .col(big_integer(StockMovements::Delta))
                .col(string(StockMovements::Kind))
                .col(string_null(StockMovements::Reference))
                .col(big_integer_null(StockMovements::StaffId))
                .col(string_null(StockMovements::Note))
                .col(timestamp_with_time_zone(StockMovements::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_stock_movements_pair",
            StockMovements::Table,
            vec![
                StockMovements::LocationId.into_iden(),
                StockMovements::BatchId.into_iden(),
            ],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Orders::Table)
                .col(id(Orders::Id))
                .col(string(Orders::OrderNo).unique_key())
                .col(big_integer(Orders::MemberId))
                .col(string(Orders::Channel))
                .col(string(Orders::Fulfilment))
                .col(big_integer_null(Orders::StoreId))
                .col(big_integer(Orders::LocationId))
                .col(string(Orders::Status))
                .col(big_integer(Orders::SubtotalFen))
                .col(big_integer(Orders::DiscountFen))
                .col(big_integer(Orders::TotalFen))
                .col(big_integer(Orders::RefundedFen))
                .col(string_null(Orders::PaymentMethod))
                .col(string_null(Orders::TransactionId))
                .col(big_integer_null(Orders::BaId))
                .col(string_null(Orders::IdempotencyKey).unique_key())
                .col(string_null(Orders::RequestHash))
                .col(text_null(Orders::DeliveryAddress))
                .col(timestamp_with_time_zone_null(Orders::PayDeadline))
                .col(timestamp_with_time_zone_null(Orders::PaidAt))
                .col(timestamp_with_time_zone_null(Orders::ClosedAt))
                .timestamps()
                .foreign_key(&mut fk(
                    (Orders::Table, Orders::MemberId),
                    (Members::Table, Members::Id),
                ))
                .foreign_key(&mut fk(
                    (Orders::Table, Orders::LocationId),
                    (Locations::Table, Locations::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_orders_member",
            Orders::Table,
            vec![Orders::MemberId.into_iden(), Orders::Id.into_iden()],
        ))
        .await?;
        m.create_index(index(
            "idx_orders_status_deadline",
            Orders::Table,
            vec![Orders::Status.into_iden(), Orders::PayDeadline.into_iden()],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(OrderLines::Table)
                .col(id(OrderLines::Id))
                .col(big_integer(OrderLines::OrderId))
                .col(big_integer(OrderLines::SkuId))
                .col(string(OrderLines::ProductName))
                .col(string(OrderLines::SkuLabel))
                .col(integer(OrderLines::Quantity))
                .col(big_integer(OrderLines::UnitPriceFen))
                .col(big_integer(OrderLines::DiscountFen))
                .col(big_integer(OrderLines::LineTotalFen))
                .col(integer(OrderLines::RefundedQuantity))
                .foreign_key(&mut fk(
                    (OrderLines::Table, OrderLines::OrderId),
                    (Orders::Table, Orders::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_order_lines_order",
            OrderLines::Table,
            vec![OrderLines::OrderId.into_iden()],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(OrderAllocations::Table)
                .col(id(OrderAllocations::Id))
                .col(big_integer(OrderAllocations::OrderId))
                .col(big_integer(OrderAllocations::OrderLineId))
                .col(big_integer(OrderAllocations::LocationId))
                .col(big_integer(OrderAllocations::BatchId))
                .col(integer(OrderAllocations::Quantity))
                .foreign_key(&mut fk(
                    (OrderAllocations::Table, OrderAllocations::OrderId),
                    (Orders::Table, Orders::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_order_allocations_order",
            OrderAllocations::Table,
            vec![OrderAllocations::OrderId.into_iden()],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(OrderDiscounts::Table)
                .col(id(OrderDiscounts::Id))
                .col(big_integer(OrderDiscounts::OrderId))
                .col(string(OrderDiscounts::Kind))
                .col(string(OrderDiscounts::Label))
                .col(big_integer(OrderDiscounts::AmountFen))
                .col(string_null(OrderDiscounts::Reference))
                .foreign_key(&mut fk(
                    (OrderDiscounts::Table, OrderDiscounts::OrderId),
                    (Orders::Table, Orders::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_order_discounts_order",
            OrderDiscounts::Table,
            vec![OrderDiscounts::OrderId.into_iden()],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Refunds::Table)
                .col(id(Refunds::Id))
                .col(big_integer(Refunds::OrderId))
                .col(string(Refunds::RefundNo).unique_key())
                .col(big_integer(Refunds::AmountFen))
                .col(string_null(Refunds::Reason))
                .col(string(Refunds::Status))
                .col(string_null(Refunds::WechatRefundId))
                .col(text(Refunds::Lines))
                .col(big_integer_null(Refunds::RequestedBy))
                .col(timestamp_with_time_zone(Refunds::CreatedAt))
                .col(timestamp_with_time_zone_null(Refunds::CompletedAt))
                .foreign_key(&mut fk(
                    (Refunds::Table, Refunds::OrderId),
                    (Orders::Table, Orders::Id),
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(PaymentNotifications::Table)
                .col(string(PaymentNotifications::Id).primary_key())
                .col(string(PaymentNotifications::EventType))
                .col(string(PaymentNotifications::Reference))
                .col(timestamp_with_time_zone(PaymentNotifications::ReceivedAt))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PaymentNotifications::Table.into_iden(),
            Refunds::Table.into_iden(),
            OrderAllocations::Table.into_iden(),
            OrderDiscounts::Table.into_iden(),
            OrderLines::Table.into_iden(),
            Orders::Table.into_iden(),
            StockMovements::Table.into_iden(),
            StockLevels::Table.into_iden(),
            StockBatches::Table.into_iden(),
            Locations::Table.into_iden(),
            Skus::Table.into_iden(),
            ProductIngredients::Table.into_iden(),
            Products::Table.into_iden(),
            Categories::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
pub(crate) enum Categories {
    Table,
    Id,
    Code,
    Name,
    ParentId,
    SortOrder,
    CreatedAt,
}

#[derive(DeriveIden)]
pub(crate) enum Products {
    Table,
    Id,
    Code,
    Name,
    Description,
    CategoryId,
    EfficacyClaims,
    SuitableSkinTypes,
    Active,
}

#[derive(DeriveIden)]
enum ProductIngredients {
    Table,
    ProductId,
    Position,
    InciName,
}

#[derive(DeriveIden)]
pub(crate) enum Skus {
    Table,
    Id,
    ProductId,
    Code,
    Barcode,
    Shade,
    Size,
    PriceFen,
    CostFen,
    SafetyStock,
    Active,
}

#[derive(DeriveIden)]
pub(crate) enum Locations {
    Table,
    Id,
    Code,
    Name,
    Kind,
    StoreId,
    CreatedAt,
}

#[derive(DeriveIden)]
pub(crate) enum StockBatches {
    Table,
    Id,
    SkuId,
    Lot,
    ManufacturedOn,
    ExpiresOn,
    CreatedAt,
}

#[derive(DeriveIden)]
enum StockLevels {
    Table,
    LocationId,
    BatchId,
    SkuId,
    Quantity,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum StockMovements {
    Table,
    Id,
    LocationId,
    BatchId,
    SkuId,
    Delta,
    Kind,
    Reference,
    StaffId,
    Note,
    CreatedAt,
}

#[derive(DeriveIden)]
pub(crate) enum Orders {
    Table,
    Id,
    OrderNo,
    MemberId,
    Channel,
    Fulfilment,
    StoreId,
    LocationId,
    Status,
    SubtotalFen,
    DiscountFen,
    TotalFen,
    RefundedFen,
    PaymentMethod,
    TransactionId,
    BaId,
    IdempotencyKey,
    RequestHash,
    DeliveryAddress,
    PayDeadline,
    PaidAt,
    ClosedAt,
}

#[derive(DeriveIden)]
enum OrderLines {
    Table,
    Id,
    OrderId,
    SkuId,
    ProductName,
    SkuLabel,
    Quantity,
    UnitPriceFen,
    DiscountFen,
    LineTotalFen,
    RefundedQuantity,
}

#[derive(DeriveIden)]
enum OrderAllocations {
    Table,
    Id,
    OrderId,
    OrderLineId,
    LocationId,
    BatchId,
    Quantity,
}

#[derive(DeriveIden)]
enum OrderDiscounts {
    Table,
    Id,
    OrderId,
    Kind,
    Label,
    AmountFen,
    Reference,
}

#[derive(DeriveIden)]
enum Refunds {
    Table,
    Id,
    OrderId,
    RefundNo,
    AmountFen,
    Reason,
    Status,
    WechatRefundId,
    Lines,
    RequestedBy,
    CreatedAt,
    CompletedAt,
}

#[derive(DeriveIden)]
enum PaymentNotifications {
    Table,
    Id,
    EventType,
    Reference,
    ReceivedAt,
}

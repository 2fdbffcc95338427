//! B2B fulfilment (issue 15): allocation of purchase orders (FEFO with a per-distributor minimum
//! remaining shelf life, backorders per line), shipments binding pack-code serial ranges to
//! order lines, receipts, receivables with due dates and distributor payments. Only new tables and one
//! nullable column (`distributors.min_shelf_life_days`), so code released before keeps working.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{fk, id, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Distributors {
    Table,
    Id,
    MinShelfLifeDays,
}

#[derive(DeriveIden)]
enum PurchaseOrders {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum PurchaseOrderLines {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum PoLineFulfilment {
    Table,
    PoLineId,
    PurchaseOrderId,
    SkuId,
    OrderedQty,
    AllocatedQty,
    BackorderedQty,
    ShippedQty,
    ReceivedQty,
    DamagedQty,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PoAllocations {
    Table,
    Id,
    PurchaseOrderId,
    PoLineId,
    LocationId,
    StockBatchId,
    SkuId,
    Qty,
    ShippedQty,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Shipments {
    Table,
    Id,
    No,
    PurchaseOrderId,
    DistributorId,
    InvoiceFen,
    ShippedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum ShipmentCodeRanges {
    Table,
    Id,
    ShipmentId,
    PoLineId,
    DistributorId,
    CodeBatchId,
    StockBatchId,
    SkuId,
    SerialFrom,
    SerialTo,
}

#[derive(DeriveIden)]
enum Receivables {
    Table,
    Id,
    DistributorId,
    ShipmentId,
    PurchaseOrderId,
    AmountFen,
    PaidFen,
    DueOn,
    CreatedAt,
}

#[derive(DeriveIden)]
enum DistributorPayments {
    Table,
    Id,
    DistributorId,
    AmountFen,
    Reference,
    IdempotencyKey,
    RecordedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Locations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum StockBatches {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ScanCodeBatches {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Distributors::Table)
                .add_column(integer_null(Distributors::MinShelfLifeDays))
                .to_owned(),
        )
        .await?;
        fulfilment(m).await?;
        shipments(m).await?;
        money(m).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            DistributorPayments::Table.into_iden(),
            Receivables::Table.into_iden(),
            ShipmentCodeRanges::Table.into_iden(),
            Shipments::Table.into_iden(),
            PoAllocations::Table.into_iden(),
            PoLineFulfilment::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        m.alter_table(
            Table::alter()
                .table(Distributors::Table)
                .drop_column(Distributors::MinShelfLifeDays)
                .to_owned(),
        )
        .await
    }
}

async fn fulfilment(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    use PoLineFulfilment as F;
    m.create_table(
        Table::create()
            .table(F::Table)
            .col(
                ColumnDef::new(F::PoLineId)
                    .big_integer()
                    .not_null()
                    .primary_key(),
            )
            .col(big_integer(F::PurchaseOrderId))
            .col(big_integer(F::SkuId))
            .col(integer(F::OrderedQty))
            .col(integer(F::AllocatedQty))
            .col(integer(F::BackorderedQty))
            .col(integer(F::ShippedQty))
            .col(integer(F::ReceivedQty))
            .col(integer(F::DamagedQty))
            .col(timestamp_with_time_zone(F::UpdatedAt))
            .foreign_key(&mut fk(
                (F::Table, F::PoLineId),
                (PurchaseOrderLines::Table, PurchaseOrderLines::Id),
            ))
            .foreign_key(&mut fk(
                (F::Table, F::PurchaseOrderId),
                (PurchaseOrders::Table, PurchaseOrders::Id),
            ))
            // Never more allocated than ordered, shipped than allocated, counted than shipped.
            .check(Expr::col(F::AllocatedQty).gte(0))
            .check(Expr::col(F::BackorderedQty).gte(0))
            .check(
                Expr::col(F::AllocatedQty)
                    .add(Expr::col(F::BackorderedQty))
                    .lte(Expr::col(F::OrderedQty)),
            )
            .check(Expr::col(F::ShippedQty).gte(0))
            .check(Expr::col(F::ShippedQty).lte(Expr::col(F::AllocatedQty)))
            .check(Expr::col(F::ReceivedQty).gte(0))
            .check(Expr::col(F::DamagedQty).gte(0))
            .check(
                Expr::col(F::ReceivedQty)
                    .add(Expr::col(F::DamagedQty))
                    .lte(Expr::col(F::ShippedQty)),
            )
            .to_owned(),
    )
    .await?;
    m.create_index(index(
        "idx_po_line_fulfilment_order",
        F::Table,
        vec![F::PurchaseOrderId.into_iden()],
    ))
    .await?;
    use PoAllocations as A;
    m.create_table(
        Table::create()
            .table(A::Table)
            .col(id(A::Id))
            .col(big_integer(A::PurchaseOrderId))
            .col(big_integer(A::PoLineId))
            .col(big_integer(A::LocationId))
            .col(big_integer(A::StockBatchId))
            .col(big_integer(A::SkuId))
            .col(integer(A::Qty))
            .col(integer(A::ShippedQty))
            .col(timestamp_with_time_zone(A::CreatedAt))
            .foreign_key(&mut fk(
                (A::Table, A::PurchaseOrderId),
                (PurchaseOrders::Table, PurchaseOrders::Id),
            ))
            .foreign_key(&mut fk(
                (A::Table, A::PoLineId),
                (PurchaseOrderLines::Table, PurchaseOrderLines::Id),
            ))
            .foreign_key(&mut fk(
                (A::Table, A::LocationId),
                (Locations::Table, Locations::Id),
            ))
            .foreign_key(&mut fk(
                (A::Table, A::StockBatchId),
                (StockBatches::Table, StockBatches::Id),
            ))
            .check(Expr::col(A::Qty).gt(0))
            .check(Expr::col(A::ShippedQty).gte(0))
            .check(Expr::col(A::ShippedQty).lte(Expr::col(A::Qty)))
            .to_owned(),
    )
    .await?;
    m.create_index(index(
        "idx_po_allocations_line",
        A::Table,
        vec![A::PoLineId.into_iden(), A::Id.into_iden()],
    ))
    .await
}

async fn shipments(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    use ShipmentCodeRanges as R;
    m.create_table(
        Table::create()
            .table(Shipments::Table)
            .col(id(Shipments::Id))
            .col(string_uniq(Shipments::No))
            .col(big_integer(Shipments::PurchaseOrderId))
            .col(big_integer(Shipments::DistributorId))
            .col(big_integer(Shipments::InvoiceFen))
            .col(timestamp_with_time_zone(Shipments::ShippedAt))
            .col(big_integer(Shipments::CreatedBy))
            .foreign_key(&mut fk(
                (Shipments::Table, Shipments::PurchaseOrderId),
                (PurchaseOrders::Table, PurchaseOrders::Id),
            ))
            .foreign_key(&mut fk(
                (Shipments::Table, Shipments::DistributorId),
                (Distributors::Table, Distributors::Id),
            ))
            .to_owned(),
    )
    .await?;
    m.create_index(index(
        "idx_shipments_order",
        Shipments::Table,
        vec![Shipments::PurchaseOrderId.into_iden()],
    ))
    .await?;
    m.create_table(
        Table::create()
            .table(R::Table)
            .col(id(R::Id))
            .col(big_integer(R::ShipmentId))
            .col(big_integer(R::PoLineId))
            .col(big_integer(R::DistributorId))
            .col(big_integer(R::CodeBatchId))
            .col(big_integer_null(R::StockBatchId))
            .col(big_integer(R::SkuId))
            .col(big_integer(R::SerialFrom))
            .col(big_integer(R::SerialTo))
            .foreign_key(&mut fk(
                (R::Table, R::ShipmentId),
                (Shipments::Table, Shipments::Id),
            ))
            .foreign_key(&mut fk(
                (R::Table, R::PoLineId),
                (PurchaseOrderLines::Table, PurchaseOrderLines::Id),
            ))
            .foreign_key(&mut fk(
                (R::Table, R::CodeBatchId),
                (ScanCodeBatches::Table, ScanCodeBatches::Id),
            ))
            .check(Expr::col(R::SerialFrom).gte(0))
            .check(Expr::col(R::SerialTo).gte(Expr::col(R::SerialFrom)))
            .to_owned(),
    )
    .await?;
    m.create_index(index(
        "idx_shipment_code_ranges_batch",
        R::Table,
        vec![R::CodeBatchId.into_iden(), R::SerialFrom.into_iden()],
    ))
    .await?;
    m.create_index(index(
        "idx_shipment_code_ranges_distributor",
        R::Table,
        vec![R::DistributorId.into_iden()],
    ))
    .await
}

async fn money(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    use DistributorPayments as P;
    use Receivables as R;
    m.create_table(
        Table::create()
            .table(R::Table)
            .col(id(R::Id))
            .col(big_integer(R::DistributorId))
            .col(big_integer(R::ShipmentId).unique_key())
            .col(big_integer(R::PurchaseOrderId))
            .col(big_integer(R::AmountFen))
            .col(big_integer(R::PaidFen))
            .col(date(R::DueOn))
            .col(timestamp_with_time_zone(R::CreatedAt))
            .foreign_key(&mut fk(
                (R::Table, R::DistributorId),
                (Distributors::Table, Distributors::Id),
            ))
            .foreign_key(&mut fk(
                (R::Table, R::ShipmentId),
                (Shipments::Table, Shipments::Id),
            ))
            .check(Expr::col(R::AmountFen).gte(0))
            .check(Expr::col(R::PaidFen).gte(0))
            .check(Expr::col(R::PaidFen).lte(Expr::col(R::AmountFen)))
            .to_owned(),
    )
    .await?;
    m.create_index(index(
        "idx_receivables_distributor_due",
        R::Table,
        vec![R::DistributorId.into_iden(), R::DueOn.into_iden()],
    ))
    .await?;
    m.create_table(
        Table::create()
            .table(P::Table)
            .col(id(P::Id))
            .col(big_integer(P::DistributorId))
            .col(big_integer(P::AmountFen))
            .col(string(P::Reference))
            .col(string(P::IdempotencyKey))
            .col(big_integer(P::RecordedBy))
            .col(timestamp_with_time_zone(P::CreatedAt))
            .foreign_key(&mut fk(
                (P::Table, P::DistributorId),
                (Distributors::Table, Distributors::Id),
            ))
            .check(Expr::col(P::AmountFen).gt(0))
            .to_owned(),
    )
    .await?;
    m.create_index(
        index(
            "uq_distributor_payments_reference",
            P::Table,
            vec![P::DistributorId.into_iden(), P::Reference.into_iden()],
        )
        .unique()
        .to_owned(),
    )
    .await
}

//! Schema migrations, run by `rouge migrate` as a release step (and at start-up in the embedded
//! default). Each migration is backward-compatible with the code released before it: add tables
//! and nullable columns, backfill, and only then tighten, in a later release.

use sea_orm_migration::prelude::*;

mod m0001_foundation;
mod m0002_catalog_orders;
mod m0003_coupons;
mod m0004_flash_sales;
mod m0005_booking;
mod m0006_scan_codes;
mod m0007_campaigns;
mod m0008_unmatched_notifications;
mod m0009_booking_member_cells;
mod m0010_region_codes;
mod m0011_coupon_source_key;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_foundation::Migration),
            Box::new(m0002_catalog_orders::Migration),
            Box::new(m0003_coupons::Migration),
            Box::new(m0004_flash_sales::Migration),
            Box::new(m0005_booking::Migration),
            Box::new(m0006_scan_codes::Migration),
            Box::new(m0007_campaigns::Migration),
            Box::new(m0008_unmatched_notifications::Migration),
            Box::new(m0009_booking_member_cells::Migration),
            Box::new(m0010_region_codes::Migration),
            Box::new(m0011_coupon_source_key::Migration),
        ]
    }
}

/// An i64 identity primary key (BIGINT identity on PostgreSQL, INTEGER PRIMARY KEY on SQLite).
pub(crate) fn id<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

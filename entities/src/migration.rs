//! Schema migrations, run by `rouge migrate` as a release step (and at start-up in the embedded
//! default). Each migration is backward-compatible with the code released before it: add tables
//! and nullable columns, backfill, and only then tighten, in a later release.
//!
//! New tables use the helpers below: `id`, `.timestamps()` (created_at and updated_at), `fk` and
//! `index`. They generate exactly the SQL the older migrations wrote by hand (a schema dump of a
//! freshly migrated SQLite and PostgreSQL database was the same before and after they were put
//! in), so an existing migration only uses them where that holds.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema;

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
mod m0012_accounts;
mod m0013_member_privacy;
mod m0014_sales_facts;
mod m0015_b2b;
mod m0016_media;
mod m0017_stored_value;
mod m0018_commission;
mod m0019_day_close;
mod m0020_report_exports;
mod m0021_b2b_fulfilment;
mod m0022_b2b_insight;
mod m0023_media_tickets;
mod m0024_b2b_rebates;
mod m0025_media_posters;
mod m0026_reports_rollups;
mod m0027_flash_sale_units;
mod m0028_b2b_rebate_recompute;
mod m0030_reports_scale;
mod m0032_b2b_pricing_version;
mod m0033_flash_sale_tickets;
mod m0034_reports_first_purchases;
mod m0035_rfm_segment_days;
mod m0036_scan_gift_days;

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
            Box::new(m0012_accounts::Migration),
            Box::new(m0013_member_privacy::Migration),
            Box::new(m0014_sales_facts::Migration),
            Box::new(m0015_b2b::Migration),
            Box::new(m0016_media::Migration),
            Box::new(m0017_stored_value::Migration),
            Box::new(m0018_commission::Migration),
            Box::new(m0019_day_close::Migration),
            Box::new(m0020_report_exports::Migration),
            Box::new(m0021_b2b_fulfilment::Migration),
            Box::new(m0022_b2b_insight::Migration),
            Box::new(m0023_media_tickets::Migration),
            Box::new(m0024_b2b_rebates::Migration),
            Box::new(m0025_media_posters::Migration),
            Box::new(m0026_reports_rollups::Migration),
            Box::new(m0027_flash_sale_units::Migration),
            Box::new(m0028_b2b_rebate_recompute::Migration),
            Box::new(m0030_reports_scale::Migration),
            Box::new(m0032_b2b_pricing_version::Migration),
            Box::new(m0033_flash_sale_tickets::Migration),
            Box::new(m0034_reports_first_purchases::Migration),
            Box::new(m0035_rfm_segment_days::Migration),
            Box::new(m0036_scan_gift_days::Migration),
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

/// Columns every table of the same shape gets, added in one call.
pub(crate) trait TableColumns {
    /// `created_at` then `updated_at`: NOT NULL timestamps with time zone (the app writes both).
    fn timestamps(&mut self) -> &mut Self;
}

impl TableColumns for TableCreateStatement {
    fn timestamps(&mut self) -> &mut Self {
        self.col(schema::timestamp_with_time_zone(Alias::new("created_at")))
            .col(schema::timestamp_with_time_zone(Alias::new("updated_at")))
    }
}

/// An unnamed foreign key `from.column` → `to.column` (PostgreSQL names it
/// `<table>_<column>_fkey`); add `.on_delete(...)` where rows go with their parent.
pub(crate) fn fk(
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .to_owned()
}

/// A named index on `cols` in that order; add `.unique()` for a unique one.
pub(crate) fn index(name: &str, table: impl IntoIden, cols: Vec<DynIden>) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(col);
    }
    index.to_owned()
}

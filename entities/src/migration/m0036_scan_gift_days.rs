//! Scan gifts per member and store day (issue 19): a first scan counts its gift by adding one
//! to the member's row for the day, which also orders that member's claims one after the other,
//! instead of locking the member's row and counting the day's redemptions.
//!
//! A new table. The rows of today and yesterday (Asia/Shanghai) are filled from the redeeming
//! scan events, so the cap holds across the upgrade; older days are never read. The code before
//! it keeps working (it never reads the table).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ScanGiftDays {
    Table,
    MemberId,
    Day,
    Gifts,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ScanGiftDays::Table)
                .col(big_integer(ScanGiftDays::MemberId))
                .col(string_len(ScanGiftDays::Day, 10))
                .col(big_integer(ScanGiftDays::Gifts))
                .primary_key(
                    Index::create()
                        .col(ScanGiftDays::MemberId)
                        .col(ScanGiftDays::Day),
                )
                .to_owned(),
        )
        .await?;
        // Shanghai keeps no daylight saving: its day is UTC + 8 hours.
        let yesterday = (chrono::Utc::now() + chrono::Duration::hours(8)
            - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
        m.get_connection()
            .execute_unprepared(&format!(
                "INSERT INTO scan_gift_days (member_id, day, gifts) \
                 SELECT member_id, day, COUNT(*) FROM scan_events \
                 WHERE outcome = 'REDEEMED' AND day >= '{yesterday}' \
                 GROUP BY member_id, day"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ScanGiftDays::Table).to_owned())
            .await
    }
}

//! The key of the source that gave a coupon (campaign id, birthday year, scan idempotency key)
//! in its own indexed column, so copies from one source are found by equality rather than by
//! matching the end of the issue key. Existing rows are filled from their issue key
//! (`template:member:KIND:key`); the column stays nullable for code released before it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, FromQueryResult};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Coupons {
    Table,
    Id,
    IssueKey,
    Source,
    SourceKey,
}

#[derive(FromQueryResult)]
struct Keyed {
    id: i64,
    issue_key: String,
}

/// Rows read per backfill round: never the whole table in memory.
const PAGE: u64 = 1_000;

/// The source's key: what follows template, member and kind in an issue key.
pub(crate) fn source_key_of(issue_key: &str) -> Option<&str> {
    issue_key.splitn(4, ':').nth(3)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Coupons::Table)
                .add_column(ColumnDef::new(Coupons::SourceKey).string().null())
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        let backend = db.get_database_backend();
        let mut after = 0_i64;
        loop {
            let rows = Keyed::find_by_statement(
                backend.build(
                    Query::select()
                        .columns([Coupons::Id, Coupons::IssueKey])
                        .from(Coupons::Table)
                        .and_where(Expr::col(Coupons::Id).gt(after))
                        .order_by(Coupons::Id, Order::Asc)
                        .limit(PAGE),
                ),
            )
            .all(db)
            .await?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            for row in &rows {
                let Some(key) = source_key_of(&row.issue_key) else {
                    continue;
                };
                db.execute(
                    Query::update()
                        .table(Coupons::Table)
                        .value(Coupons::SourceKey, key)
                        .and_where(Expr::col(Coupons::Id).eq(row.id)),
                )
                .await?;
            }
        }
        m.create_index(
            Index::create()
                .name("idx_coupons_source_key")
                .table(Coupons::Table)
                .col(Coupons::Source)
                .col(Coupons::SourceKey)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("idx_coupons_source_key")
                .table(Coupons::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Coupons::Table)
                .drop_column(Coupons::SourceKey)
                .to_owned(),
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::source_key_of;

    #[test]
    fn the_source_key_is_everything_after_the_kind() {
        assert_eq!(source_key_of("3:7:BIRTHDAY:2026"), Some("2026"));
        assert_eq!(source_key_of("3:7:SCAN:a:b"), Some("a:b"));
        assert_eq!(source_key_of("legacy"), None);
    }
}

//! One counter for the B2B pricing world (issue 15): every change to a price list, its items or
//! a channel policy bumps `b2b_pricing_versions.version` in the same transaction, by database
//! triggers (no code path can forget it). A replica keeps the price lists and policies in
//! memory for the version it read them at, and every quote and submit reads the counter first:
//! a quote is never priced from an older world than the one committed. A new table and
//! triggers only: the code before it keeps working.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables whose rows decide a quote's prices and policies.
const WATCHED: [&str; 3] = ["price_lists", "price_list_items", "b2b_policies"];
const BUMP: &str = "UPDATE b2b_pricing_versions SET version = version + 1 WHERE id = 1";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared(
            "CREATE TABLE b2b_pricing_versions (id SMALLINT NOT NULL PRIMARY KEY, \
             version BIGINT NOT NULL, CHECK (id = 1))",
        )
        .await?;
        db.execute_unprepared("INSERT INTO b2b_pricing_versions (id, version) VALUES (1, 0)")
            .await?;
        match db.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared(&format!(
                    "CREATE FUNCTION bump_b2b_pricing_version() RETURNS trigger \
                     LANGUAGE plpgsql AS $$ BEGIN {BUMP}; RETURN NULL; END $$"
                ))
                .await?;
                for table in WATCHED {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER {table}_bump_pricing AFTER INSERT OR UPDATE OR DELETE \
                         OR TRUNCATE ON {table} FOR EACH STATEMENT \
                         EXECUTE FUNCTION bump_b2b_pricing_version()"
                    ))
                    .await?;
                }
            }
            _ => {
                // SQLite triggers run per row; one statement's rows bump it several times.
                for table in WATCHED {
                    for event in ["INSERT", "UPDATE", "DELETE"] {
                        let lower = event.to_ascii_lowercase();
                        db.execute_unprepared(&format!(
                            "CREATE TRIGGER {table}_bump_pricing_{lower} AFTER {event} ON {table} \
                             BEGIN {BUMP}; END"
                        ))
                        .await?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        match db.get_database_backend() {
            DatabaseBackend::Postgres => {
                for table in WATCHED {
                    db.execute_unprepared(&format!(
                        "DROP TRIGGER IF EXISTS {table}_bump_pricing ON {table}"
                    ))
                    .await?;
                }
                db.execute_unprepared("DROP FUNCTION IF EXISTS bump_b2b_pricing_version()")
                    .await?;
            }
            _ => {
                for table in WATCHED {
                    for event in ["insert", "update", "delete"] {
                        db.execute_unprepared(&format!(
                            "DROP TRIGGER IF EXISTS {table}_bump_pricing_{event}"
                        ))
                        .await?;
                    }
                }
            }
        }
        db.execute_unprepared("DROP TABLE b2b_pricing_versions")
            .await?;
        Ok(())
    }
}

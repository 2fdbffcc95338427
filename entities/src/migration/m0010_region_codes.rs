//! Regions as GB/T 2260 codes: nullable code columns next to the names (kept for display),
//! filled here from the names with the compiled-in table ([`crate::regions`]). A name the table
//! does not know stays without a code (never flagged, grouped as unknown).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, FromQueryResult, StatementBuilder};

use crate::regions;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (table, name columns, new code column): rows whose region is one province and city.
const POINT_REGIONS: [(&str, &str, &str, &str); 3] = [
    ("scan_events", "province", "city", "region_code"),
    ("scan_redemptions", "province", "city", "region_code"),
    ("members", "region_province", "region_city", "region_code"),
];

/// (table, list column, new codes column): rows whose region is a list of provinces.
const LIST_REGIONS: [(&str, &str, &str); 2] = [
    ("distributors", "region", "region_codes"),
    ("scan_code_batches", "territory", "territory_codes"),
];

#[derive(FromQueryResult)]
struct Pair {
    p: Option<String>,
    c: Option<String>,
}

#[derive(FromQueryResult)]
struct Listed {
    id: i64,
    t: Option<String>,
}

/// Territory text as stored: provinces separated by lines, commas, 、 or semicolons.
pub(crate) fn list_codes(text: &str) -> String {
    let mut codes: Vec<String> = text
        .split([',', '，', '、', ';', '；', '\n'])
        .filter_map(|s| regions::province(s).map(|d| d.code.to_string()))
        .collect();
    codes.sort();
    codes.dedup();
    codes.join("\n")
}

async fn run<S: StatementBuilder>(m: &SchemaManager<'_>, stmt: &S) -> Result<(), DbErr> {
    let db = m.get_connection();
    db.execute(stmt).await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        let backend = db.get_database_backend();
        for (table, province, city, code) in POINT_REGIONS {
            m.alter_table(
                Table::alter()
                    .table(Alias::new(table))
                    .add_column(ColumnDef::new(Alias::new(code)).string_len(6).null())
                    .to_owned(),
            )
            .await?;
            let pairs = Pair::find_by_statement(
                backend.build(
                    Query::select()
                        .distinct()
                        .expr_as(Expr::col(Alias::new(province)), Alias::new("p"))
                        .expr_as(Expr::col(Alias::new(city)), Alias::new("c"))
                        .from(Alias::new(table))
                        .and_where(Expr::col(Alias::new(province)).is_not_null()),
                ),
            )
            .all(db)
            .await?;
            for pair in pairs {
                let Some(p) = pair.p else { continue };
                let Some(found) = regions::code_from_names(&p, pair.c.as_deref()) else {
                    continue;
                };
                let mut update = Query::update();
                update
                    .table(Alias::new(table))
                    .value(Alias::new(code), found.to_string())
                    .and_where(Expr::col(Alias::new(province)).eq(p));
                match pair.c {
                    Some(c) => update.and_where(Expr::col(Alias::new(city)).eq(c)),
                    None => update.and_where(Expr::col(Alias::new(city)).is_null()),
                };
                run(m, &update).await?;
            }
            m.create_index(
                Index::create()
                    .name(format!("idx_{table}_{code}"))
                    .table(Alias::new(table))
                    .col(Alias::new(code))
                    .to_owned(),
            )
            .await?;
        }
        for (table, list, codes) in LIST_REGIONS {
            m.alter_table(
                Table::alter()
                    .table(Alias::new(table))
                    .add_column(ColumnDef::new(Alias::new(codes)).text().null())
                    .to_owned(),
            )
            .await?;
            let rows = Listed::find_by_statement(
                backend.build(
                    Query::select()
                        .column(Alias::new("id"))
                        .expr_as(Expr::col(Alias::new(list)), Alias::new("t"))
                        .from(Alias::new(table)),
                ),
            )
            .all(db)
            .await?;
            for row in rows {
                run(
                    m,
                    Query::update()
                        .table(Alias::new(table))
                        .value(Alias::new(codes), list_codes(&row.t.unwrap_or_default()))
                        .and_where(Expr::col(Alias::new("id")).eq(row.id)),
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, _, _, code) in POINT_REGIONS {
            m.drop_index(
                Index::drop()
                    .name(format!("idx_{table}_{code}"))
                    .table(Alias::new(table))
                    .to_owned(),
            )
            .await?;
            m.alter_table(
                Table::alter()
                    .table(Alias::new(table))
                    .drop_column(Alias::new(code))
                    .to_owned(),
            )
            .await?;
        }
        for (table, _, codes) in LIST_REGIONS {
            m.alter_table(
                Table::alter()
                    .table(Alias::new(table))
                    .drop_column(Alias::new(codes))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}

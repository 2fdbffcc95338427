//! Members by birthday, as SQL conditions on `members` in each backend's dialect: campaign
//! segments (birthday month, birthday on a day) and the birthday coupons use them, so both ask
//! the same question the same way.

use sea_orm::DbBackend;
use sea_orm::sea_query::{Condition, Expr, ExprTrait};

/// Members whose birthday falls in one of `months` (1 to 12); members without one never do.
pub fn born_in_months(backend: DbBackend, months: &[u32]) -> Condition {
    Condition::all()
        .add(birthday_part(backend, Part::Month).is_in(months.iter().map(|m| i64::from(*m))))
}

/// Members whose birthday is `month`/`day`.
pub fn born_on(backend: DbBackend, month: u32, day: u32) -> Condition {
    Condition::all()
        .add(birthday_part(backend, Part::Month).eq(i64::from(month)))
        .add(birthday_part(backend, Part::Day).eq(i64::from(day)))
}

#[derive(Clone, Copy)]
enum Part {
    Month,
    Day,
}

/// The month or day of the member's birthday as an integer (NULL without a birthday).
fn birthday_part(backend: DbBackend, part: Part) -> Expr {
    match (backend, part) {
        (DbBackend::Postgres, Part::Month) => {
            Expr::cust("CAST(EXTRACT(MONTH FROM \"members\".\"birthday\") AS INTEGER)")
        }
        (DbBackend::Postgres, Part::Day) => {
            Expr::cust("CAST(EXTRACT(DAY FROM \"members\".\"birthday\") AS INTEGER)")
        }
        (_, Part::Month) => Expr::cust("CAST(strftime('%m', \"members\".\"birthday\") AS INTEGER)"),
        (_, Part::Day) => Expr::cust("CAST(strftime('%d', \"members\".\"birthday\") AS INTEGER)"),
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::sea_query::{Query, SqliteQueryBuilder};

    use super::*;

    #[test]
    fn birthdays_are_read_in_each_dialect() {
        let sql = |c: Condition| {
            Query::select()
                .expr(Expr::val(1))
                .from(entities::member::Entity)
                .cond_where(c)
                .to_string(SqliteQueryBuilder)
        };
        assert_eq!(
            sql(born_in_months(DbBackend::Sqlite, &[3, 4])),
            "SELECT 1 FROM \"members\" WHERE \
             (CAST(strftime('%m', \"members\".\"birthday\") AS INTEGER)) IN (3, 4)"
        );
        assert_eq!(
            sql(born_on(DbBackend::Postgres, 12, 31)),
            "SELECT 1 FROM \"members\" WHERE \
             (CAST(EXTRACT(MONTH FROM \"members\".\"birthday\") AS INTEGER)) = 12 AND \
             (CAST(EXTRACT(DAY FROM \"members\".\"birthday\") AS INTEGER)) = 31"
        );
    }
}

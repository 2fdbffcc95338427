//! Birthday coupons: every active birthday template goes to the members whose birthday month
//! it is (in the business zone), once per member and year, by a periodic task.

use std::collections::HashSet;

use chrono::Datelike;
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{CouponSource, CouponsError, IssueSource, issue_to_members};
use crate::AppState;
use crate::members::birthday::born_in_months;
use entities::{coupon, coupon_template, member};

/// Members read per page by the birthday task.
const BIRTHDAY_PAGE: u64 = 1_000;

/// Issues every active birthday template to the members whose birthday month it is (in the
/// business zone), once per member and year. Returns how many copies it gave.
pub async fn issue_birthday_coupons(app: &AppState) -> Result<u64, CouponsError> {
    let local = app
        .clock
        .now()
        .with_timezone(&crate::platform::clock::DEFAULT_ZONE);
    let (year, month) = (local.year(), local.month());
    let templates = coupon_template::Entity::find()
        .filter(coupon_template::Column::Birthday.eq(true))
        .filter(coupon_template::Column::Active.eq(true))
        .all(&app.db)
        .await?;
    if templates.is_empty() {
        return Ok(0);
    }
    // Members born this month, a page at a time by id, the month read in SQL: never all
    // members in memory.
    let born_now = born_in_months(app.db.get_database_backend(), &[month]);
    let key = year.to_string();
    let mut given = 0;
    for tpl in templates {
        given += issue_template(app, tpl.id, &born_now, &key).await?;
    }
    Ok(given)
}

/// One birthday template to every member born now who has not had it this year.
async fn issue_template(
    app: &AppState,
    template_id: i64,
    born_now: &Condition,
    year: &str,
) -> Result<u64, CouponsError> {
    let mut given = 0;
    let mut cursor = 0_i64;
    loop {
        let page: Vec<i64> = member::Entity::find()
            .select_only()
            .column(member::Column::Id)
            .filter(born_now.clone())
            .filter(member::Column::Id.gt(cursor))
            .order_by_asc(member::Column::Id)
            .limit(BIRTHDAY_PAGE)
            .into_tuple()
            .all(&app.db)
            .await?;
        let Some(&last) = page.last() else {
            break;
        };
        cursor = last;
        let due = not_given_yet(app, template_id, page, year).await?;
        if due.is_empty() {
            continue;
        }
        let outcome = issue_to_members(
            app,
            template_id,
            &due,
            IssueSource {
                kind: CouponSource::Birthday,
                key: year,
            },
        )
        .await?;
        given += outcome.issued;
        if outcome.sold_out > 0 {
            tracing::warn!(
                template_id,
                left_out = outcome.sold_out,
                "birthday coupon template ran out"
            );
            break;
        }
    }
    Ok(given)
}

/// The members of `page` this template has not yet been given to this year.
async fn not_given_yet(
    app: &AppState,
    template_id: i64,
    page: Vec<i64>,
    year: &str,
) -> Result<Vec<i64>, CouponsError> {
    let done: HashSet<i64> = coupon::Entity::find()
        .select_only()
        .column(coupon::Column::MemberId)
        .filter(coupon::Column::TemplateId.eq(template_id))
        .filter(coupon::Column::Source.eq(CouponSource::Birthday))
        .filter(coupon::Column::MemberId.is_in(page.iter().copied()))
        .filter(coupon::Column::SourceKey.eq(year))
        .into_tuple::<i64>()
        .all(&app.db)
        .await?
        .into_iter()
        .collect();
    Ok(page.into_iter().filter(|m| !done.contains(m)).collect())
}

/// Scheduled: birthday coupons for the month.
pub struct BirthdayCoupons;

#[async_trait::async_trait]
impl crate::platform::jobs::PeriodicTask for BirthdayCoupons {
    fn name(&self) -> &'static str {
        "birthday-coupons"
    }
    fn every(&self) -> std::time::Duration {
        std::time::Duration::from_secs(3600)
    }
    async fn run(&self, app: &AppState) -> Result<u64, crate::platform::jobs::TaskError> {
        Ok(issue_birthday_coupons(app).await?)
    }
}

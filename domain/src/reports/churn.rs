//! Churn risk: members past their own buying cycle. A member's purchase days are the distinct
//! business days with a sale fact (at the store asked, or anywhere for HQ without one); her
//! cycle is the mean gap between them as the REPURCHASE automation computes it
//! ([`crate::campaigns::segments::buying_cycle_days`]); she is at risk once today is past her
//! last purchase day plus that cycle. Most overdue first; each row says why.

use chrono::NaiveDate;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use super::ReportsError;
use crate::AppState;
use crate::auth::{AuthError, Permission, StaffPrincipal, StaffRole};
use crate::campaigns::segments::buying_cycle_days;
use crate::platform::clock::DEFAULT_ZONE;
use crate::platform::page::{IdKey, Keyset, Page};
use entities::sales_fact::{self, SalesEvent};

/// One member past her buying cycle, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChurnRisk {
    pub member_id: i64,
    /// Distinct days she bought on.
    pub purchase_days: i64,
    pub first_purchase: NaiveDate,
    pub last_purchase: NaiveDate,
    /// Her usual gap between purchases, in days.
    pub usual_cycle_days: i64,
    /// When she would have bought again on her cycle.
    pub due: NaiveDate,
    pub days_overdue: i64,
}

impl ChurnRisk {
    /// The reason in words, for a list on a screen.
    pub fn reason(&self) -> String {
        format!(
            "last purchase {}, usually every {} days, {} days overdue",
            self.last_purchase, self.usual_cycle_days, self.days_overdue
        )
    }
}

/// The store to look at: HQ any (or all), a manager her own (the default); others FORBIDDEN.
pub(super) fn store_scope(
    staff: &StaffPrincipal,
    asked: Option<i64>,
) -> Result<Option<i64>, ReportsError> {
    staff.require(Permission::ViewSalesReports)?;
    match staff.role {
        StaffRole::Hq => Ok(asked),
        StaffRole::Manager => {
            let own = staff.store_id.ok_or(AuthError::Forbidden)?;
            match asked {
                Some(id) if id != own => Err(AuthError::Forbidden.into()),
                _ => Ok(Some(own)),
            }
        }
        // Finance sees money, not members.
        _ => Err(AuthError::Forbidden.into()),
    }
}

/// Members of the store past their own buying cycle, most overdue first (then by id).
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id))]
pub async fn churn_risk(
    app: &AppState,
    staff: &StaffPrincipal,
    store_id: Option<i64>,
    page: Keyset<IdKey>,
) -> Result<Page<ChurnRisk>, ReportsError> {
    let store = store_scope(staff, store_id)?;
    let today = app.clock.now().with_timezone(&DEFAULT_ZONE).date_naive();
    let mut q = sales_fact::Entity::find()
        .select_only()
        .column(sales_fact::Column::MemberId)
        .column_as(sales_fact::Column::BusinessDate.min(), "first")
        .column_as(sales_fact::Column::BusinessDate.max(), "last")
        .column_as(
            Expr::cust("COUNT(DISTINCT \"sales_facts\".\"business_date\")"),
            "days",
        )
        .filter(sales_fact::Column::Event.ne(SalesEvent::Refund))
        .filter(sales_fact::Column::BusinessDate.lte(today))
        .group_by(sales_fact::Column::MemberId)
        .having(Expr::cust(
            "COUNT(DISTINCT \"sales_facts\".\"business_date\") >= 2",
        ));
    if let Some(id) = store {
        q = q.filter(sales_fact::Column::StoreId.eq(id));
    }
    let rows: Vec<(i64, NaiveDate, NaiveDate, i64)> = q.into_tuple().all(&app.db).await?;
    let mut risks: Vec<ChurnRisk> = rows
        .into_iter()
        .filter_map(|(member_id, first, last, days)| {
            let cycle = buying_cycle_days(first, last, days)?;
            let due = last + chrono::Duration::days(cycle);
            let days_overdue = (today - due).num_days();
            (days_overdue > 0).then_some(ChurnRisk {
                member_id,
                purchase_days: days,
                first_purchase: first,
                last_purchase: last,
                usual_cycle_days: cycle,
                due,
                days_overdue,
            })
        })
        .collect();
    risks.sort_by(|a, b| {
        b.days_overdue
            .cmp(&a.days_overdue)
            .then(a.member_id.cmp(&b.member_id))
    });
    Ok(Page::of_list(risks, &page, |r| r.member_id))
}

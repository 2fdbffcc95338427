//! Demo commission (业绩提成): a brand-wide plan from last month (seed 004's 5% on products, 10%
//! on services, 1% on counter top-ups; 70/30 between the designated and the serving BA; 20% of
//! base salary), each demo BA's base salary and rating bonus for last month, and last month
//! locked at every demo store (its statements written from the demo sales).

use chrono::{DateTime, Datelike, Duration, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::SeedError;
use crate::AppState;
use crate::auth::{StaffPrincipal, StaffRole};
use crate::commission::{
    self, CommissionBase, CommissionInputs, CommissionItemKind, CommissionMethod, PlanInput,
    RuleInput, TierMode,
};
use entities::staff_account;

fn failed(e: commission::CommissionError) -> SeedError {
    SeedError::Sales(format!("commission: {e}"))
}

fn flat(item_kind: CommissionItemKind, rate_bp: i32) -> RuleInput {
    RuleInput {
        item_kind,
        base: CommissionBase::NetRevenue,
        method: CommissionMethod::Flat,
        rate_bp: Some(rate_bp),
        brackets: Vec::new(),
    }
}

pub(super) async fn seed(app: &AppState, now: DateTime<Utc>) -> Result<(), SeedError> {
    let Some(hq) = staff_account::Entity::find()
        .filter(staff_account::Column::Username.eq("hq-demo"))
        .one(&app.db)
        .await?
    else {
        return Ok(());
    };
    let hq = StaffPrincipal {
        staff_id: hq.id,
        role: StaffRole::Hq,
        store_id: None,
        session_id: "seed".into(),
    };
    let today = crate::sales::business_date(now, None);
    let this_month = today.with_day(1).unwrap_or(today);
    let last_month = (this_month - Duration::days(1)).format("%Y-%m").to_string();
    commission::upsert_commission_plan(
        app,
        &hq,
        PlanInput {
            store_id: None,
            effective_month: last_month.clone(),
            name: "门店导购提成（演示）".into(),
            tier_mode: TierMode::WholeMonth,
            designated_share_bp: 7_000,
            assistant_share_bp: 3_000,
            base_salary_rate_bp: 2_000,
            rules: vec![
                flat(CommissionItemKind::Product, 500),
                flat(CommissionItemKind::Service, 1_000),
                flat(CommissionItemKind::TopUp, 100),
            ],
        },
    )
    .await
    .map_err(failed)?;
    let bas = staff_account::Entity::find()
        .filter(staff_account::Column::Role.eq(StaffRole::Ba))
        .filter(staff_account::Column::StoreId.is_not_null())
        .all(&app.db)
        .await?;
    let mut stores: Vec<i64> = Vec::new();
    for ba in &bas {
        let input = CommissionInputs {
            staff_id: ba.id,
            month: last_month.clone(),
            base_salary_fen: 500_000,
            rating_bonus_fen: 8_000,
        };
        commission::set_commission_inputs(app, &hq, input)
            .await
            .map_err(failed)?;
        stores.extend(ba.store_id.filter(|s| !stores.contains(s)));
    }
    for store_id in stores {
        commission::lock_commission_month(app, &hq, &last_month, store_id)
            .await
            .map_err(failed)?;
    }
    Ok(())
}

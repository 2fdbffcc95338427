//! HQ's top-up plans (充1000送100) and the terms a member is shown before topping up.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::{StoredValueError, TopUpPlan, invalid};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use entities::top_up_plan;

/// The version of [`TERMS_ZH`]; a member accepts this version when topping up.
pub const TERMS_VERSION: &str = "2026-12";

/// The stored-value terms shown before a top-up (单用途商业预付卡 disclosure).
pub const TERMS_ZH: &str = "会员储值须知：\
1. 储值本金不设有效期；赠送金额按所选方案注明的天数有效，过期作废，过期不影响本金。\
2. 消费时先扣本金，再扣赠送金额；订单退款按原支付方式原路退回，储值部分退回本金和赠送金额各自原额（部分退款先退本金）。\
3. 您可随时申请退还未使用的本金（到店或联系客服，退回原支付方式或银行账户），赠送金额随之作废。\
4. 每位会员储值本金余额上限为人民币5000元。\
5. 储值仅限本品牌门店及小程序使用，不可转让、不可提现（本金退还除外）。";

/// A plan as HQ writes it.
#[derive(Debug, Clone)]
pub struct TopUpPlanInput {
    pub code: String,
    pub name: String,
    pub pay_fen: i64,
    pub bonus_fen: i64,
    pub bonus_valid_days: Option<i32>,
    pub active: bool,
}

fn check(input: &TopUpPlanInput) -> Result<(), StoredValueError> {
    let code_ok = (1..=32).contains(&input.code.len())
        && input
            .code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !code_ok {
        return Err(invalid(
            "a plan code is 1 to 32 letters, digits, '-' or '_'",
        ));
    }
    if input.name.trim().is_empty() || input.name.chars().count() > 64 {
        return Err(invalid("a plan name is 1 to 64 characters"));
    }
    if !(100..=super::MAX_PRINCIPAL_FEN).contains(&input.pay_fen) {
        return Err(invalid("a plan's amount is between 100 and 500,000 fen"));
    }
    if !(0..=input.pay_fen).contains(&input.bonus_fen) {
        return Err(invalid("a plan's bonus is between 0 and the amount paid"));
    }
    if input
        .bonus_valid_days
        .is_some_and(|d| !(1..=3650).contains(&d))
    {
        return Err(invalid("a bonus is valid for 1 to 3650 days"));
    }
    Ok(())
}

/// HQ creates or changes a top-up plan, by code. A change applies to later top-ups only.
#[tracing::instrument(skip_all, err, fields(staff_id = staff.staff_id))]
pub async fn upsert_top_up_plan(
    app: &AppState,
    staff: &StaffPrincipal,
    input: TopUpPlanInput,
) -> Result<TopUpPlan, StoredValueError> {
    staff.require(Permission::ManageTiers)?;
    check(&input)?;
    let now = app.clock.now();
    top_up_plan::Entity::insert(top_up_plan::ActiveModel {
        code: Set(input.code.clone()),
        name: Set(input.name.trim().to_owned()),
        pay_fen: Set(input.pay_fen),
        bonus_fen: Set(input.bonus_fen),
        bonus_valid_days: Set(input.bonus_valid_days),
        active: Set(input.active),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(top_up_plan::Column::Code)
            .update_columns([
                top_up_plan::Column::Name,
                top_up_plan::Column::PayFen,
                top_up_plan::Column::BonusFen,
                top_up_plan::Column::BonusValidDays,
                top_up_plan::Column::Active,
                top_up_plan::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(&app.db)
    .await?;
    top_up_plan::Entity::find()
        .filter(top_up_plan::Column::Code.eq(input.code))
        .one(&app.db)
        .await?
        .map(Into::into)
        .ok_or(StoredValueError::NotFound("top-up plan"))
}

/// The plans on offer (active only), smallest first; HQ sees the inactive ones too.
pub async fn top_up_plans(
    app: &AppState,
    include_inactive: bool,
) -> Result<Vec<TopUpPlan>, StoredValueError> {
    let mut query = top_up_plan::Entity::find()
        .order_by_asc(top_up_plan::Column::PayFen)
        .order_by_asc(top_up_plan::Column::Id);
    if !include_inactive {
        query = query.filter(top_up_plan::Column::Active.eq(true));
    }
    Ok(query
        .all(&app.db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// An active plan by id.
pub(super) async fn active_plan(
    app: &AppState,
    plan_id: i64,
) -> Result<top_up_plan::Model, StoredValueError> {
    top_up_plan::Entity::find_by_id(plan_id)
        .filter(top_up_plan::Column::Active.eq(true))
        .one(&app.db)
        .await?
        .ok_or(StoredValueError::NotFound("top-up plan"))
}

/// What a top-up credits: a plan's amount and bonus, or a free amount without bonus.
pub(super) async fn amounts(
    app: &AppState,
    plan_id: Option<i64>,
    amount_fen: Option<i64>,
) -> Result<(Option<top_up_plan::Model>, i64, i64), StoredValueError> {
    match (plan_id, amount_fen) {
        (Some(id), None) => {
            let plan = active_plan(app, id).await?;
            let (pay, bonus) = (plan.pay_fen, plan.bonus_fen);
            Ok((Some(plan), pay, bonus))
        }
        (None, Some(amount)) if (100..=super::MAX_PRINCIPAL_FEN).contains(&amount) => {
            Ok((None, amount, 0))
        }
        (None, Some(_)) => Err(invalid("a top-up is between 100 and 500,000 fen")),
        _ => Err(invalid("give either a plan or an amount")),
    }
}

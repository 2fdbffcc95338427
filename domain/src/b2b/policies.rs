//! Channel policies (渠道政策): HQ creates them (scope: one tier or all, a validity window, a
//! priority); quotes apply them in priority order (then by id) with one explanation line each:
//! 满减 (ORDER_REDUCTION, once per order) and 搭赠 (BUY_N_GET_M: `floor(qty / buy) * get` gift
//! units, the SKU's quantity summed over the order's lines first, never recursive, so 15 units
//! on "10 + 1" give exactly one). A must-confirm policy (强制确认) blocks submitting until an
//! OWNER or BUYER of the organisation acknowledges it.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter,
    QueryOrder, Set,
};

use super::{B2bError, buyer};
use crate::AppState;
use crate::auth::{DistributorPrincipal, Permission, StaffPrincipal};
use crate::platform::clock::DEFAULT_ZONE;
use crate::platform::error::UniqueViolation;
use crate::platform::validate;
pub use entities::b2b_policy::{PolicyKind, PolicyRule};
use entities::{b2b_policy, b2b_policy_ack, distributor, distributor_tier, sku};

#[derive(Debug, Clone)]
pub struct PolicyInput {
    pub name: String,
    pub rule: PolicyRule,
    pub tier_id: Option<i64>,
    pub valid_from: DateTime<Utc>,
    pub valid_to: DateTime<Utc>,
    pub priority: i32,
    pub requires_ack: bool,
    /// Only distributors of this kind (None: every kind).
    pub distributor_kind: Option<super::scope::DistributorKind>,
    /// Only distributors whose territory overlaps these regions (names or GB/T 2260 codes;
    /// empty: everywhere).
    pub regions: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub id: i64,
    pub name: String,
    pub kind: PolicyKind,
    pub rule: PolicyRule,
    pub tier_id: Option<i64>,
    pub valid_from: DateTime<Utc>,
    pub valid_to: DateTime<Utc>,
    pub priority: i32,
    pub requires_ack: bool,
    /// When the caller's organisation acknowledged it (distributor reads only).
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub distributor_kind: Option<super::scope::DistributorKind>,
    /// The regions' display names (empty: everywhere).
    pub regions: Vec<String>,
    /// What the rule does, in words (a rebate's mode and cap included).
    pub explanation: String,
}

impl Policy {
    fn of(row: b2b_policy::Model, acknowledged_at: Option<DateTime<Utc>>) -> Self {
        Self {
            explanation: super::rebates::explain_rule(&row.name, &row.rule),
            distributor_kind: row.distributor_kind,
            regions: super::scope::region_names(row.region_codes.as_deref()),
            id: row.id,
            name: row.name,
            kind: row.kind,
            rule: row.rule.into_inner(),
            tier_id: row.tier_id,
            valid_from: row.valid_from,
            valid_to: row.valid_to,
            priority: row.priority,
            requires_ack: row.requires_ack,
            acknowledged_at,
        }
    }
}

fn check_rule(rule: &PolicyRule) -> Result<(), String> {
    match rule {
        PolicyRule::OrderReduction {
            threshold_fen,
            off_fen,
        } => {
            if *off_fen <= 0 || *threshold_fen < *off_fen {
                return Err("offFen must be positive and at most thresholdFen".into());
            }
        }
        PolicyRule::BuyNGetM { buy, get, .. } => {
            if *buy < 1 || *get < 1 || *get > 1_000_000 || *buy > 1_000_000 {
                return Err("buy and get must be between 1 and 1000000".into());
            }
        }
        PolicyRule::VolumeRebate { .. } | PolicyRule::ScanRebate { .. } => {
            super::rebates::check_rule(rule)?;
        }
    }
    Ok(())
}

/// Creates a policy (HQ).
pub async fn create_policy(
    app: &AppState,
    staff: &StaffPrincipal,
    input: PolicyInput,
) -> Result<Policy, B2bError> {
    staff.require(Permission::ManageB2b)?;
    let name = validate::text("name", &input.name, 100).map_err(B2bError::InvalidInput)?;
    check_rule(&input.rule).map_err(B2bError::InvalidInput)?;
    let region_codes = super::scope::region_codes(&input.regions)?;
    if input.valid_to <= input.valid_from {
        return Err(B2bError::InvalidInput(
            "validTo must be after validFrom".into(),
        ));
    }
    if let Some(tier) = input.tier_id {
        distributor_tier::Entity::find_by_id(tier)
            .one(&app.db)
            .await?
            .ok_or(B2bError::NotFound("tier"))?;
    }
    if let PolicyRule::BuyNGetM {
        sku_id,
        gift_sku_id,
        ..
    } = &input.rule
    {
        for id in [sku_id, gift_sku_id] {
            sku::Entity::find_by_id(*id)
                .one(&app.db)
                .await?
                .ok_or(B2bError::NotFound("SKU"))?;
        }
    }
    let kind = input.rule.kind();
    let row = b2b_policy::ActiveModel {
        name: Set(name),
        kind: Set(kind),
        rule: Set(input.rule.into()),
        tier_id: Set(input.tier_id),
        valid_from: Set(input.valid_from),
        valid_to: Set(input.valid_to),
        priority: Set(input.priority),
        requires_ack: Set(input.requires_ack),
        created_at: Set(app.clock.now()),
        distributor_kind: Set(input.distributor_kind),
        region_codes: Set(region_codes),
        ..Default::default()
    }
    .insert(&app.db)
    .await?;
    Ok(Policy::of(row, None))
}

/// The policies in force at `at` for a distributor on `tier`, in the order they apply.
pub(crate) async fn in_force<C: ConnectionTrait>(
    db: &C,
    tier: Option<i64>,
    at: DateTime<Utc>,
) -> Result<Vec<b2b_policy::Model>, B2bError> {
    let mut scope = b2b_policy::Column::TierId.is_null();
    if let Some(tier) = tier {
        scope = scope.or(b2b_policy::Column::TierId.eq(tier));
    }
    Ok(b2b_policy::Entity::find()
        .filter(scope)
        .filter(b2b_policy::Column::ValidFrom.lte(at))
        .filter(b2b_policy::Column::ValidTo.gt(at))
        .order_by_asc(b2b_policy::Column::Priority)
        .order_by_asc(b2b_policy::Column::Id)
        .all(db)
        .await?)
}

pub(crate) async fn acks<C: ConnectionTrait>(
    db: &C,
    distributor_id: i64,
) -> Result<HashMap<i64, DateTime<Utc>>, B2bError> {
    Ok(b2b_policy_ack::Entity::find()
        .filter(b2b_policy_ack::Column::DistributorId.eq(distributor_id))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.policy_id, a.at))
        .collect())
}

/// What the policies in force do to an order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Applied {
    /// (gift SKU, units, policy id)
    pub gifts: Vec<(i64, i64, i64)>,
    pub discount_fen: i64,
    /// (policy id, kind, label, amount)
    pub steps: Vec<(i64, &'static str, String, i64)>,
    /// Must-confirm policies in force the organisation has not acknowledged.
    pub unacknowledged: Vec<i64>,
}

/// What `policies` (in force, addressed to the distributor, in the order they apply) do to an
/// order of `qty` worth `subtotal`; `acked` are the must-confirm ones the organisation confirmed.
pub(crate) fn apply<'a>(
    policies: impl IntoIterator<Item = &'a b2b_policy::Model>,
    acked: &HashMap<i64, DateTime<Utc>>,
    qty: &BTreeMap<i64, i64>,
    subtotal: i64,
) -> Applied {
    let mut out = Applied::default();
    for p in policies {
        if p.requires_ack && !acked.contains_key(&p.id) {
            out.unacknowledged.push(p.id);
        }
        match *p.rule {
            PolicyRule::OrderReduction {
                threshold_fen,
                off_fen,
            } => {
                let room = subtotal - out.discount_fen;
                if subtotal >= threshold_fen && room > 0 {
                    let off = Ord::min(off_fen, room);
                    out.discount_fen += off;
                    out.steps.push((
                        p.id,
                        "ORDER_REDUCTION",
                        format!("{}：满 {threshold_fen} 分减 {off_fen} 分", p.name),
                        off,
                    ));
                }
            }
            PolicyRule::BuyNGetM {
                sku_id,
                buy,
                gift_sku_id,
                get,
            } => {
                let bought = qty.get(&sku_id).copied().unwrap_or(0);
                let units = (bought / i64::from(buy)) * i64::from(get);
                if units > 0 {
                    out.gifts.push((gift_sku_id, units, p.id));
                    out.steps.push((
                        p.id,
                        "BUY_N_GET_M",
                        format!("{}：每满 {buy} 件赠 {get} 件，赠 {units} 件", p.name),
                        0,
                    ));
                }
            }
            // Rebates do not change the price: they accrue on receipts and scans.
            PolicyRule::VolumeRebate { .. } | PolicyRule::ScanRebate { .. } => {}
        }
    }
    out
}

/// The start of a day in Asia/Shanghai, as an instant.
fn day_start(day: NaiveDate) -> Option<DateTime<Utc>> {
    DEFAULT_ZONE
        .from_local_datetime(&day.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// The policies for the caller's organisation in force on `active_on` (a day in Asia/Shanghai;
/// now when left out), with when it acknowledged each.
pub async fn my_policies(
    app: &AppState,
    who: &DistributorPrincipal,
    active_on: Option<NaiveDate>,
) -> Result<Vec<Policy>, B2bError> {
    let dist = distributor::Entity::find_by_id(who.distributor_id)
        .one(&app.db)
        .await?
        .ok_or(B2bError::NotFound("distributor"))?;
    let at = match active_on {
        Some(day) => day_start(day).ok_or_else(|| B2bError::InvalidInput("activeOn".into()))?,
        None => app.clock.now(),
    };
    let acked = acks(&app.db, dist.id).await?;
    Ok(in_force(&app.db, dist.tier_id, at)
        .await?
        .into_iter()
        .filter(|p| super::scope::addressed_to(p, &dist))
        .map(|p| {
            let at = acked.get(&p.id).copied();
            Policy::of(p, at)
        })
        .collect())
}

/// Confirms a policy for the caller's organisation (OWNER or BUYER); confirming again changes
/// nothing. A policy not addressed to the organisation (tier, kind, region) is not found.
pub async fn acknowledge_policy(
    app: &AppState,
    who: &DistributorPrincipal,
    policy_id: i64,
) -> Result<Policy, B2bError> {
    let account = buyer(&app.db, who).await?;
    let dist = distributor::Entity::find_by_id(who.distributor_id)
        .one(&app.db)
        .await?
        .ok_or(B2bError::NotFound("distributor"))?;
    let policy = b2b_policy::Entity::find_by_id(policy_id)
        .one(&app.db)
        .await?
        .filter(|p| super::scope::addressed_to(p, &dist))
        .ok_or(B2bError::NotFound("policy"))?;
    let now = app.clock.now();
    b2b_policy_ack::ActiveModel {
        policy_id: Set(policy_id),
        distributor_id: Set(dist.id),
        account_id: Set(account.id),
        at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unless_duplicate::<B2bError>()?;
    let acked = acks(&app.db, dist.id).await?;
    let at = acked.get(&policy_id).copied();
    Ok(Policy::of(policy, at))
}

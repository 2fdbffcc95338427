//! B2B fulfilment demo data (showcase): dist-demo has an order that went the whole way through
//! the real services — submitted, approved by hq-demo, allocated from the warehouse, shipped
//! with a pack-code range bound to its line (invoiced: a receivable), received — and showcase
//! members scanned those packs, 13 inside its territory (上海) and 3 outside (2 in 广东, 1 in
//! 北京), so `territoryLeakage`, `replenishmentSuggestions`, `purchaseOrderFulfilment`,
//! `myReceivables` and `accountStatement` all show something. Runs after the demo is committed.
//!
//! Rebates (返利): tier A has a quarterly volume rebate (3% of the whole quarter once ¥1,000 is
//! received) and a scan rebate (¥0.50 per first scan inside the territory), so the receipt
//! accrues a volume rebate and the scan rebate worker's pass accrues the 13 scans in 上海:
//! `rebateAccount` shows pending rebate and its ledger.
//!
//! The must-confirm tier-A policy stays unconfirmed (the demo shows ordering blocked): the demo
//! order is placed while that policy is held back for a moment (its start moved past now and
//! restored), as if it had been placed before the policy was published.

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use super::SeedError;
use crate::auth::{DistributorPrincipal, MemberPrincipal, StaffPrincipal};
use crate::b2b::{self, B2bError, Carton, CartonLine, LineInput};
use crate::scan_codes::{self, ScanInput};
use crate::{AppState, RequestMeta};
use entities::b2b_policy::{PolicyRule, RebateMode};
use entities::location::LocationKind;
use entities::{
    b2b_policy, distributor, distributor_account, location, member, price_list_item,
    scan_code_batch, staff_account, stock_level,
};

/// Units on the demo order: 13 + 3 packs are scanned, 2 stay on the distributor's shelf.
const ORDER_UNITS: i32 = 18;
/// Showcase fans (`MDEMO000101`...) who scan a shipped pack: 1–13 are in 上海, 14–17 in 北京,
/// 18–21 in 广东.
const SCANNING_FANS: [i64; 16] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 18, 19];

fn failed(e: impl std::fmt::Display) -> SeedError {
    SeedError::Sales(format!("B2B fulfilment: {e}"))
}

fn b2b_failed(e: B2bError) -> SeedError {
    match e {
        B2bError::Store(s) => SeedError::Store(s),
        other => failed(other),
    }
}

/// The principals the demo acts as: dist-demo's owner and hq-demo.
async fn principals(
    app: &AppState,
) -> Result<Option<(DistributorPrincipal, StaffPrincipal)>, SeedError> {
    let Some(account) = distributor_account::Entity::find()
        .filter(distributor_account::Column::Username.eq("dist-demo"))
        .one(&app.db)
        .await?
    else {
        return Ok(None);
    };
    let Some(hq) = staff_account::Entity::find()
        .filter(staff_account::Column::Username.eq("hq-demo"))
        .one(&app.db)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some((
        DistributorPrincipal {
            account_id: account.id,
            distributor_id: account.distributor_id,
            session_id: "demo-seed".into(),
        },
        StaffPrincipal {
            staff_id: hq.id,
            role: hq.role,
            store_id: hq.store_id,
            session_id: "demo-seed".into(),
        },
    )))
}

/// A SKU on the distributor's price list with enough units in a warehouse.
async fn stocked_sku(app: &AppState, who: &DistributorPrincipal) -> Result<Option<i64>, SeedError> {
    let Some(dist) = distributor::Entity::find_by_id(who.distributor_id)
        .one(&app.db)
        .await?
    else {
        return Ok(None);
    };
    let Some(tier) = dist.tier_id else {
        return Ok(None);
    };
    let lists: Vec<i64> = entities::price_list::Entity::find()
        .filter(entities::price_list::Column::TierId.eq(tier))
        .all(&app.db)
        .await?
        .into_iter()
        .map(|l| l.id)
        .collect();
    let mut listed: Vec<i64> = price_list_item::Entity::find()
        .filter(price_list_item::Column::PriceListId.is_in(lists))
        .all(&app.db)
        .await?
        .into_iter()
        .map(|i| i.sku_id)
        .collect();
    listed.sort_unstable();
    listed.dedup();
    let warehouses: Vec<i64> = location::Entity::find()
        .filter(location::Column::Kind.eq(LocationKind::Warehouse))
        .all(&app.db)
        .await?
        .into_iter()
        .map(|l| l.id)
        .collect();
    for sku in listed {
        let held: i64 = stock_level::Entity::find()
            .filter(stock_level::Column::LocationId.is_in(warehouses.clone()))
            .filter(stock_level::Column::SkuId.eq(sku))
            .all(&app.db)
            .await?
            .iter()
            .map(|l| l.quantity)
            .sum();
        if held >= i64::from(ORDER_UNITS) * 2 {
            return Ok(Some(sku));
        }
    }
    Ok(None)
}

/// Moves the start of the tier's must-confirm policies in force past now (`hold = true`) or
/// back to `starts` (the original starts, by id).
async fn hold_must_confirm(
    app: &AppState,
    starts: &[(i64, chrono::DateTime<chrono::Utc>)],
    hold: bool,
) -> Result<(), SeedError> {
    let later = app.clock.now() + chrono::Duration::days(1);
    for (id, start) in starts {
        b2b_policy::Entity::update_many()
            .col_expr(
                b2b_policy::Column::ValidFrom,
                Expr::value(if hold { later } else { *start }),
            )
            .filter(b2b_policy::Column::Id.eq(*id))
            .exec(&app.db)
            .await?;
    }
    Ok(())
}

/// Places, approves, allocates, ships and receives the demo order; returns (code batch, SKU).
async fn order_through(
    app: &AppState,
    who: &DistributorPrincipal,
    hq: &StaffPrincipal,
    sku: i64,
) -> Result<i64, SeedError> {
    let now = app.clock.now();
    let lines = [LineInput {
        sku_id: sku,
        qty: ORDER_UNITS,
    }];
    let must_confirm: Vec<(i64, chrono::DateTime<chrono::Utc>)> = b2b_policy::Entity::find()
        .filter(b2b_policy::Column::RequiresAck.eq(true))
        .filter(b2b_policy::Column::ValidFrom.lte(now))
        .all(&app.db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.valid_from))
        .collect();
    hold_must_confirm(app, &must_confirm, true).await?;
    let placed = async {
        let quote = b2b::quote_purchase_order(app, who, &lines).await?;
        let order =
            b2b::submit_purchase_order(app, who, &lines, &quote.hash, "demo-fulfilment-1").await?;
        Ok::<_, B2bError>((quote, order))
    }
    .await;
    hold_must_confirm(app, &must_confirm, false).await?;
    let (quote, order) = placed.map_err(b2b_failed)?;
    b2b::approve_purchase_order(app, hq, order.id, &quote.hash)
        .await
        .map_err(b2b_failed)?;
    let allocated = b2b::allocate_purchase_order(app, hq, order.id)
        .await
        .map_err(b2b_failed)?;
    let line = allocated
        .lines
        .iter()
        .find(|l| l.sku_id == sku && !l.is_gift && l.allocated_qty == ORDER_UNITS)
        .ok_or_else(|| failed("the demo order was not allocated in full"))?
        .line_id;
    let batch = scan_code_batch::ActiveModel {
        name: Set("经销商发货箱码（演示）".into()),
        sku_id: Set(sku),
        code_count: Set(i64::from(ORDER_UNITS)),
        stock_batch_id: Set(None),
        lot: Set(None),
        distributor_id: Set(None),
        territory: Set(String::new()),
        territory_codes: Set(None),
        gift_kind: Set(scan_code_batch::GiftKind::Points),
        gift_points: Set(10),
        coupon_template_id: Set(None),
        sample_name: Set(None),
        valid_from: Set(now - chrono::Duration::days(1)),
        valid_until: Set(now + chrono::Duration::days(365)),
        active: Set(true),
        created_by: Set(hq.staff_id),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await?;
    let meta = RequestMeta {
        request_id: "demo-seed".into(),
        client_ip: None,
    };
    let carton = Carton {
        lines: vec![CartonLine {
            line_id: line,
            code_batch_id: batch.id,
            serial_from: 0,
            serial_to: i64::from(ORDER_UNITS) - 1,
            qty: ORDER_UNITS,
        }],
    };
    b2b::ship_purchase_order(app, &meta, hq, order.id, &[carton])
        .await
        .map_err(b2b_failed)?;
    b2b::confirm_receipt(app, who, order.id, &[])
        .await
        .map_err(b2b_failed)?;
    Ok(batch.id)
}

/// Showcase fans scan the shipped packs where they live.
async fn scans(app: &AppState, batch: i64) -> Result<(), SeedError> {
    let meta = RequestMeta {
        request_id: "demo-seed".into(),
        client_ip: None,
    };
    for (serial, fan) in SCANNING_FANS.iter().enumerate() {
        let Some(m) = member::Entity::find()
            .filter(member::Column::MemberCode.eq(format!("MDEMO{:06}", 100 + fan)))
            .one(&app.db)
            .await?
        else {
            continue;
        };
        let code = scan_codes::code_for(
            &app.settings.scan.key,
            batch,
            i64::try_from(serial).map_err(failed)?,
        )
        .ok_or_else(|| failed("no pack code"))?;
        scan_codes::scan(
            app,
            &MemberPrincipal {
                member_id: m.id,
                session_id: "demo-seed".into(),
            },
            &meta,
            ScanInput {
                code,
                survey: scan_codes::Survey::default(),
                // The member's profile region.
                region: None,
            },
        )
        .await
        .map_err(failed)?;
    }
    Ok(())
}

/// Tier A's two rebate policies (see the module docs), in force from yesterday for 90 days.
async fn rebate_policies(app: &AppState, who: &DistributorPrincipal) -> Result<(), SeedError> {
    let Some(tier) = distributor::Entity::find_by_id(who.distributor_id)
        .one(&app.db)
        .await?
        .and_then(|d| d.tier_id)
    else {
        return Ok(());
    };
    let now = app.clock.now();
    let rules = [
        (
            "季度进货返利：季度到货满 ¥1,000 全额返 3%",
            PolicyRule::VolumeRebate {
                threshold_fen: 100_000,
                rate_bp: 300,
                mode: RebateMode::Whole,
                max_use_percent: 10,
            },
        ),
        (
            "动销返利：辖区内消费者首次扫码每码返 ¥0.50",
            PolicyRule::ScanRebate {
                fen_per_scan: 50,
                max_use_percent: 10,
            },
        ),
    ];
    for (name, rule) in rules {
        b2b_policy::ActiveModel {
            name: Set(name.to_owned()),
            kind: Set(rule.kind()),
            rule: Set(rule.into()),
            tier_id: Set(Some(tier)),
            valid_from: Set(now - chrono::Duration::days(1)),
            valid_to: Set(now + chrono::Duration::days(90)),
            priority: Set(20),
            requires_ack: Set(false),
            created_at: Set(now),
            distributor_kind: Set(None),
            region_codes: Set(None),
            ..Default::default()
        }
        .insert(&app.db)
        .await?;
    }
    Ok(())
}

pub(super) async fn seed(app: &AppState) -> Result<(), SeedError> {
    let Some((who, hq)) = principals(app).await? else {
        return Ok(());
    };
    let Some(sku) = stocked_sku(app, &who).await? else {
        return Ok(());
    };
    rebate_policies(app, &who).await?;
    let batch = order_through(app, &who, &hq, sku).await?;
    scans(app, batch).await?;
    // The scan rebate worker's pass, now (every scan above has committed).
    b2b::accrue_scan_rebates(app, chrono::Duration::zero())
        .await
        .map_err(b2b_failed)?;
    Ok(())
}

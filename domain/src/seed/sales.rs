//! Demo sales (issue 17): counter sales over the last six weeks at every demo store, by its
//! BAs, to the showcase's scanning members, so every sales report and performance page shows something. The
//! orders are real (stock taken, points earned) and their facts are written as a payment
//! writes them; the rollups are computed once the seed has committed.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::SeedError;
use crate::AppState;
use crate::inventory::MovementKind;
use crate::orders::{FulfilmentKind, OrderDraft, OrderStatus, PaymentMethod};
use crate::pricing::{self, Channel, LineInput};
use entities::{member, sku};

/// SKUs the demo sells, in turn (not the toner: its lot near expiry is the showcase's).
const SOLD: [&str; 3] = ["ROSE-SERUM-30", "CLEAR-CREAM-50", "ROSE-SERUM-50"];
/// How many days back the demo sales go.
const DAYS: i64 = 42;

/// One demo store: its id, counter location and BAs.
pub(super) struct SalesStore<'a> {
    pub store_id: i64,
    pub location_id: i64,
    pub bas: &'a [i64],
}

fn failed(e: impl std::fmt::Display) -> SeedError {
    SeedError::Sales(e.to_string())
}

/// Counter sales on about two days in three, one or two units each, at 11:00 Shanghai time
/// plus an hour per store.
pub(super) async fn seed(
    app: &AppState,
    txn: &DatabaseTransaction,
    stores: &[SalesStore<'_>],
    now: DateTime<Utc>,
) -> Result<(), SeedError> {
    let skus: Vec<i64> = sku::Entity::find()
        .select_only()
        .column(sku::Column::Id)
        .filter(sku::Column::Code.is_in(SOLD))
        .order_by_asc(sku::Column::Id)
        .into_tuple()
        .all(txn)
        .await?;
    let members: Vec<i64> = member::Entity::find()
        .select_only()
        .column(member::Column::Id)
        // The showcase's newest members (its scanners), not the named ones whose own orders
        // the demo shows.
        .order_by_desc(member::Column::Id)
        .limit(12)
        .into_tuple()
        .all(txn)
        .await?;
    if skus.is_empty() || members.is_empty() {
        return Ok(());
    }
    let today = now.date_naive();
    let mut n = 0_usize;
    for (i, store) in stores.iter().enumerate() {
        if store.bas.is_empty() {
            continue;
        }
        for back in (1..=DAYS).rev() {
            let offset = usize::try_from(back).unwrap_or(0) + i;
            if offset.is_multiple_of(3) {
                continue;
            }
            n += 1;
            let day = today - Duration::days(back);
            // 11:00 in Shanghai is 03:00 UTC.
            let hour = 3 + u32::try_from(i).unwrap_or(0);
            let Some(at) = day.and_hms_opt(hour, 0, 0).map(|t| t.and_utc()) else {
                continue;
            };
            let line = LineInput {
                sku_id: skus[n % skus.len()],
                quantity: 1 + i32::from(n.is_multiple_of(4)),
            };
            let lines = pricing::price_lines(txn, &[line]).await.map_err(failed)?;
            let ba = store.bas[n % store.bas.len()];
            let draft = OrderDraft {
                member_id: members[n % members.len()],
                channel: Channel::InStore,
                fulfilment: FulfilmentKind::Counter,
                store_id: Some(store.store_id),
                location_id: store.location_id,
                lines,
                discounts: Vec::new(),
                ba_id: Some(ba),
                idempotency_key: Some(format!("demo-sale-{}-{n}", store.store_id)),
                request_hash: None,
                delivery_address: None,
                status: OrderStatus::Paid,
                payment_method: Some(PaymentMethod::Card),
                pay_deadline: None,
            };
            let row =
                crate::orders::insert_order(txn, draft, MovementKind::InStoreSale, Some(ba), at)
                    .await
                    .map_err(failed)?;
            crate::orders::reward_payment(txn, app, &row, at)
                .await
                .map_err(failed)?;
        }
    }
    Ok(())
}

/// The rollups of the demo's sales days, after the seed committed.
pub(super) async fn roll_up(app: &AppState) -> Result<(), SeedError> {
    crate::sales::recompute_dirty_days(app, 500)
        .await
        .map_err(failed)?;
    Ok(())
}

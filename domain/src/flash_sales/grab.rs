//! A member grabs units: the counters decide in one atomic step, then the grab ticket is
//! recorded (or the units go back) on its own task and the winner is answered with it; the
//! order follows from the background writer.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::counters::{give_back_units, warm};
use super::tickets::{self, GrabTicket};
use super::{FlashSalesError, counters_down, invalid, sale_row, writer};
use crate::AppState;
use crate::auth::MemberPrincipal;
use crate::platform::kv::keys;
use crate::platform::kv::{AttemptWindow, FlashGrab, FlashOutcome, KvError};
use crate::platform::{idempotency, validate};
use entities::flash_sale;

fn refused(outcome: FlashOutcome, sale: Option<&flash_sale::Model>) -> FlashSalesError {
    match outcome {
        FlashOutcome::NotStarted => {
            FlashSalesError::NotStarted(sale.map(|s| s.starts_at).unwrap_or_default())
        }
        FlashOutcome::Ended => FlashSalesError::Ended,
        FlashOutcome::SoldOut => FlashSalesError::SoldOut,
        FlashOutcome::LimitReached => FlashSalesError::LimitReached,
        // Not a refusal; never asked for.
        FlashOutcome::Granted => FlashSalesError::InProgress,
    }
}

/// A member grabs `quantity` units of a flash sale. The counters decide in one atomic step; a
/// successful grab is answered at once with its ticket (one row, written before the answer),
/// and its order at the flash price (payable within the payment time-out) is written by the
/// background writer, exactly once, within [`tickets::ORDER_WITHIN`]. Never sells more than the
/// sale's units, nor more than the member's limit.
///
/// Refusals (sold out, limit, ...) are the normal answer for most grabs and are not logged as
/// errors; the API layer logs internal and unavailable ones.
#[tracing::instrument(skip_all, fields(member_id = me.member_id, sale_id))]
pub async fn grab_flash_sale(
    app: &Arc<AppState>,
    me: &MemberPrincipal,
    sale_id: i64,
    quantity: i32,
    idempotency_key: &str,
) -> Result<GrabTicket, FlashSalesError> {
    validate::idempotency_key(idempotency_key).map_err(invalid)?;
    if !(1..=99).contains(&quantity) {
        return Err(invalid("a quantity is between 1 and 99"));
    }
    let key = keys::flash_sale_counters(sale_id);
    let rate_key = keys::flash_sale_grab_rate(sale_id, me.member_id);
    // The attempt is counted by the grab's own script: once per request (not again while
    // waiting on a twin), and only once the counters are loaded (not twice across a warm).
    let mut attempt = Some(AttemptWindow {
        key: &rate_key,
        window: Duration::from_secs(1),
        limit: app.settings.flash_sales.grabs_per_second,
    });
    let q = i64::from(quantity);
    let now = app.clock.now();
    let grab = |attempts| {
        app.kv.flash_grab(
            &key,
            me.member_id,
            q,
            now.timestamp_millis(),
            idempotency_key,
            attempts,
        )
    };
    let mut sale = None;
    let mut twin = idempotency::TwinWait::new();
    loop {
        let mut decision = grab(attempt).await.map_err(counters_down)?;
        // Missing counters are loaded once per replica, not once per grab (`warm_once`); a
        // stripe shared with another cold sale can take a second look.
        for _ in 0..2 {
            if decision != FlashGrab::NotLoaded {
                break;
            }
            let seen = app.flash_sales.warm_loads(sale_id);
            let row = match sale.take() {
                Some(row) => row,
                None => sale_row(app, sale_id).await?,
            };
            app.flash_sales
                .warm_once(sale_id, seen, || warm(app, &row))
                .await?;
            decision = grab(attempt).await.map_err(counters_down)?;
            sale = Some(row);
        }
        if decision != FlashGrab::NotLoaded {
            attempt = None;
        }
        match decision {
            FlashGrab::Throttled => return Err(FlashSalesError::Throttled),
            FlashGrab::NotLoaded => {
                return Err(FlashSalesError::CountersDown(KvError::Unavailable(
                    "flash counters vanished while loading".into(),
                )));
            }
            FlashGrab::Replay {
                quantity: first,
                outcome,
            } => {
                if first != q {
                    return Err(FlashSalesError::KeyReused);
                }
                match outcome {
                    FlashOutcome::Granted => {
                        if let Some(ticket) =
                            tickets::by_key(&app.db, sale_id, me.member_id, idempotency_key).await?
                        {
                            return Ok(ticket.into());
                        }
                        // The first grab under this key is still recording its ticket (or
                        // failed and gives the key back): its answer is ours, so wait for it and
                        // ask the counters again.
                        if !twin.pause().await {
                            return Err(FlashSalesError::InProgress);
                        }
                    }
                    FlashOutcome::NotStarted => {
                        let row = match sale {
                            Some(row) => row,
                            None => sale_row(app, sale_id).await?,
                        };
                        return Err(refused(outcome, Some(&row)));
                    }
                    other => return Err(refused(other, None)),
                }
            }
            FlashGrab::Decided(FlashOutcome::Granted) => {
                // The units are taken: finishing (the ticket, or giving them back) runs on its
                // own task, so a request cancelled half-way (client gone, time-out) cannot
                // strand them.
                let task = tokio::spawn({
                    let (app, me, key) = (Arc::clone(app), me.clone(), idempotency_key.to_owned());
                    async move { finish_grab(&app, &me, sale_id, quantity, &key, now).await }
                });
                return task.await.unwrap_or_else(|e| {
                    Err(FlashSalesError::CountersDown(KvError::Protocol(format!(
                        "grab task failed: {e}"
                    ))))
                });
            }
            FlashGrab::Decided(FlashOutcome::NotStarted) => {
                let row = match sale {
                    Some(row) => row,
                    None => sale_row(app, sale_id).await?,
                };
                return Err(refused(FlashOutcome::NotStarted, Some(&row)));
            }
            FlashGrab::Decided(other) => return Err(refused(other, None)),
        }
    }
}

/// After the counters granted `quantity` units: records the ticket (and starts a writer for its
/// order), or gives the units back.
async fn finish_grab(
    app: &Arc<AppState>,
    me: &MemberPrincipal,
    sale_id: i64,
    quantity: i32,
    idempotency_key: &str,
    now: DateTime<Utc>,
) -> Result<GrabTicket, FlashSalesError> {
    let q = i64::from(quantity);
    match tickets::record(app, sale_id, me.member_id, quantity, idempotency_key, now).await {
        Ok((ticket, true)) => {
            writer::kick(app);
            Ok(ticket.into())
        }
        Ok((ticket, false)) => {
            // The counters forgot the answer (a restart) but the ticket exists: give the units
            // just taken back and answer with the first ticket.
            give_back_units(app, sale_id, me.member_id, q, None).await;
            Ok(ticket.into())
        }
        Err(e) => {
            // No ticket: the units go back and the key may be retried.
            give_back_units(app, sale_id, me.member_id, q, Some(idempotency_key)).await;
            Err(e)
        }
    }
}

//! The distributor confirms receipt of a shipped order (OWNER or BUYER): SHIPPED → RECEIVED,
//! with what arrived per line; a line left out arrived whole. Short (shipped − received −
//! damaged) and damaged units are recorded per line and noted in the order's history.

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use super::fulfilment::{Fulfilment, load_fulfilment};
use super::{B2bError, buyer};
use crate::AppState;
use crate::audit::ActorKind;
use crate::auth::DistributorPrincipal;
use entities::purchase_order::PoStatus;
use entities::{po_line_fulfilment, purchase_order, purchase_order_event};

/// What arrived of one line.
#[derive(Debug, Clone)]
pub struct ReceiptLine {
    pub line_id: i64,
    pub received_qty: i32,
    pub damaged_qty: i32,
}

pub async fn confirm_receipt(
    app: &AppState,
    who: &DistributorPrincipal,
    id: i64,
    lines: &[ReceiptLine],
) -> Result<Fulfilment, B2bError> {
    let account = buyer(&app.db, who).await?;
    let now = app.clock.now();
    let txn = crate::platform::db::begin_write(&app.db).await?;
    let order = purchase_order::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .filter(|o| o.distributor_id == who.distributor_id)
        .ok_or(B2bError::NotFound("purchase order"))?;
    let moved = purchase_order::Entity::update_many()
        .col_expr(
            purchase_order::Column::Status,
            Expr::value(PoStatus::Received),
        )
        .col_expr(purchase_order::Column::UpdatedAt, Expr::value(now))
        .filter(purchase_order::Column::Id.eq(id))
        .filter(purchase_order::Column::Status.eq(PoStatus::Shipped))
        .exec(&txn)
        .await?;
    if moved.rows_affected != 1 {
        return Err(B2bError::WrongState);
    }
    let counted = po_line_fulfilment::Entity::find()
        .filter(po_line_fulfilment::Column::PurchaseOrderId.eq(id))
        .all(&txn)
        .await?;
    for l in lines {
        if !counted.iter().any(|c| c.po_line_id == l.line_id) {
            return Err(B2bError::NotFound("purchase order line"));
        }
        if lines.iter().filter(|o| o.line_id == l.line_id).count() > 1 {
            return Err(B2bError::InvalidInput("each line at most once".into()));
        }
    }
    let (mut short, mut damaged) = (0, 0);
    for c in counted {
        let (received, broken) = match lines.iter().find(|l| l.line_id == c.po_line_id) {
            Some(l) => (l.received_qty, l.damaged_qty),
            None => (c.shipped_qty, 0),
        };
        if received < 0 || broken < 0 || received + broken > c.shipped_qty {
            return Err(B2bError::InvalidInput(format!(
                "line {}: received and damaged must be 0 or more and at most the {} shipped",
                c.po_line_id, c.shipped_qty
            )));
        }
        short += c.shipped_qty - received - broken;
        damaged += broken;
        po_line_fulfilment::ActiveModel {
            po_line_id: Set(c.po_line_id),
            received_qty: Set(received),
            damaged_qty: Set(broken),
            updated_at: Set(now),
            ..Default::default()
        }
        .update(&txn)
        .await?;
    }
    let note = (short > 0 || damaged > 0).then(|| format!("short {short}, damaged {damaged}"));
    purchase_order_event::ActiveModel {
        purchase_order_id: Set(id),
        status: Set(PoStatus::Received),
        actor_kind: Set(ActorKind::Distributor),
        actor_id: Set(Some(account.id)),
        note: Set(note),
        at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    super::rebates::on_receipt(&txn, &order, now, &format!("receipt:{id}"), now).await?;
    let order = purchase_order::Entity::find_by_id(order.id)
        .one(&txn)
        .await?
        .ok_or(B2bError::NotFound("purchase order"))?;
    let out = load_fulfilment(&txn, &order).await?;
    txn.commit().await?;
    Ok(out)
}

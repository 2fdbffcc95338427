//! The queue: the audience written in pages, batches claimed (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL), claims of dead dispatchers recovered, a finished campaign completed.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, OnConflict, Order, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::record::write_final;
use super::{Dispatcher, OPEN_STATES, set_not_before};
use crate::AppState;
use crate::campaigns::{
    Campaign, CampaignStatus, CampaignsError, DeliveryReason, DeliveryState, SegmentRuleExt,
};
use crate::subscriptions;
use entities::{campaign, campaign_delivery, member};

/// A delivery this dispatcher claimed.
#[derive(Debug, FromQueryResult)]
pub(super) struct Claimed {
    pub id: i64,
    pub member_id: i64,
    pub attempts: i32,
}

impl Dispatcher {
    /// Writes the next page of the audience into the delivery queue.
    pub(super) async fn materialize_page(
        &self,
        app: &AppState,
        mut c: campaign::Model,
        cv: &Campaign,
        now: DateTime<Utc>,
    ) -> Result<campaign::Model, CampaignsError> {
        let cond = cv.segment.condition(app.db.get_database_backend());
        let page = Ord::max(self.settings.audience_page, 1);
        // The last member id of this page, if the page is full.
        let boundary: Option<i64> = member::Entity::find()
            .select_only()
            .column(member::Column::Id)
            .filter(cond.clone())
            .filter(member::Column::Id.gt(c.audience_cursor))
            .order_by_asc(member::Column::Id)
            .offset(page - 1)
            .limit(1)
            .into_tuple()
            .one(&app.db)
            .await?;
        let mut select = Query::select();
        select
            .expr(Expr::val(c.id))
            .column((member::Entity, member::Column::Id))
            .expr(Expr::val(DeliveryState::Pending))
            .expr(Expr::val(0))
            .expr(Expr::val(now))
            .from(member::Entity)
            .cond_where(cond)
            .and_where(Expr::col((member::Entity, member::Column::Id)).gt(c.audience_cursor));
        if let Some(b) = boundary {
            select.and_where(Expr::col((member::Entity, member::Column::Id)).lte(b));
        }
        let mut insert = Query::insert();
        insert
            .into_table(campaign_delivery::Entity)
            .columns([
                campaign_delivery::Column::CampaignId,
                campaign_delivery::Column::MemberId,
                campaign_delivery::Column::State,
                campaign_delivery::Column::Attempts,
                campaign_delivery::Column::NextAttemptAt,
            ])
            .select_from(select)
            .map_err(|e| CampaignsError::InvalidInput(e.to_string()))?
            .on_conflict(
                OnConflict::columns([
                    campaign_delivery::Column::CampaignId,
                    campaign_delivery::Column::MemberId,
                ])
                .do_nothing()
                .to_owned(),
            );
        let txn = crate::platform::db::begin_write(&app.db).await?;
        txn.execute(&insert).await?;
        let cursor = boundary.unwrap_or(c.audience_cursor);
        let done = boundary.is_none();
        campaign::Entity::update_many()
            .col_expr(campaign::Column::AudienceCursor, Expr::value(cursor))
            .col_expr(campaign::Column::AudienceDone, Expr::value(done))
            .filter(campaign::Column::Id.eq(c.id))
            .filter(campaign::Column::AudienceCursor.eq(c.audience_cursor))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        // Whoever won, read the truth back.
        match campaign::Entity::find_by_id(c.id).one(&app.db).await? {
            Some(fresh) => Ok(fresh),
            None => {
                c.audience_done = true;
                Ok(c)
            }
        }
    }

    /// Turns up to `size` due PENDING rows CLAIMED for this dispatcher, in one statement.
    pub(super) async fn claim(
        &self,
        app: &AppState,
        campaign_id: i64,
        size: u64,
        now: DateTime<Utc>,
    ) -> Result<Vec<Claimed>, CampaignsError> {
        let claim_until = now + chrono::Duration::seconds(self.settings.claim_secs);
        let mut due = Query::select();
        due.column(campaign_delivery::Column::Id)
            .from(campaign_delivery::Entity)
            .and_where(campaign_delivery::Column::CampaignId.eq(campaign_id))
            .and_where(campaign_delivery::Column::State.eq(DeliveryState::Pending))
            .and_where(campaign_delivery::Column::NextAttemptAt.lte(now))
            .order_by(campaign_delivery::Column::Id, Order::Asc)
            .limit(size)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        let update = Query::update()
            .table(campaign_delivery::Entity)
            .value(campaign_delivery::Column::State, DeliveryState::Claimed)
            .value(campaign_delivery::Column::ClaimedUntil, claim_until)
            .value(
                campaign_delivery::Column::Attempts,
                Expr::col(campaign_delivery::Column::Attempts).add(1),
            )
            .and_where(Expr::col(campaign_delivery::Column::Id).in_subquery(due.to_owned()))
            .returning(Query::returning().columns([
                campaign_delivery::Column::Id,
                campaign_delivery::Column::MemberId,
                campaign_delivery::Column::Attempts,
            ]))
            .to_owned();
        let rows = app.db.query_all(&update).await?;
        let mut claimed = rows
            .iter()
            .map(|r| Claimed::from_query_result(r, ""))
            .collect::<Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|c| c.id);
        Ok(claimed)
    }

    /// Completes a campaign with nothing open left, or comes back when its retries are due.
    pub(super) async fn maybe_complete(
        &self,
        app: &AppState,
        campaign_id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), CampaignsError> {
        let open = campaign_delivery::Entity::find()
            .filter(campaign_delivery::Column::CampaignId.eq(campaign_id))
            .filter(campaign_delivery::Column::State.is_in(OPEN_STATES))
            .limit(1)
            .one(&app.db)
            .await?;
        match open {
            None => {
                campaign::Entity::update_many()
                    .col_expr(
                        campaign::Column::Status,
                        Expr::value(CampaignStatus::Completed),
                    )
                    .col_expr(campaign::Column::CompletedAt, Expr::value(now))
                    .col_expr(campaign::Column::UpdatedAt, Expr::value(now))
                    .filter(campaign::Column::Id.eq(campaign_id))
                    .filter(campaign::Column::Status.eq(CampaignStatus::Running))
                    .exec(&app.db)
                    .await?;
            }
            Some(row) if row.state == DeliveryState::Pending && row.next_attempt_at > now => {
                // Only retries later on: come back then.
                let next: Option<DateTime<Utc>> = campaign_delivery::Entity::find()
                    .select_only()
                    .column_as(campaign_delivery::Column::NextAttemptAt.min(), "next")
                    .filter(campaign_delivery::Column::CampaignId.eq(campaign_id))
                    .filter(campaign_delivery::Column::State.eq(DeliveryState::Pending))
                    .into_tuple()
                    .one(&app.db)
                    .await?
                    .flatten();
                if let Some(next) = next {
                    set_not_before(&app.db, campaign_id, next).await?;
                }
            }
            Some(_) => {}
        }
        Ok(())
    }
}

/// Rows whose dispatcher died (their claim ran out). SENDING ones may have reached WeChat,
/// which has no idempotency key: they turn FAILED/IN_DOUBT and are never resent. READY ones
/// (consent taken, not sent) get their consent back and return to the queue, as do CLAIMED
/// ones (nothing taken yet), without using an attempt.
pub(super) async fn recover_expired_claims(
    app: &AppState,
    campaign_id: i64,
    template_id: &str,
    now: DateTime<Utc>,
) -> Result<(), CampaignsError> {
    let expired: Vec<(i64, i64, DeliveryState)> = campaign_delivery::Entity::find()
        .select_only()
        .columns([
            campaign_delivery::Column::Id,
            campaign_delivery::Column::MemberId,
            campaign_delivery::Column::State,
        ])
        .filter(campaign_delivery::Column::CampaignId.eq(campaign_id))
        .filter(campaign_delivery::Column::State.is_in([
            DeliveryState::Claimed,
            DeliveryState::Ready,
            DeliveryState::Sending,
        ]))
        .filter(campaign_delivery::Column::ClaimedUntil.lt(now))
        .into_tuple()
        .all(&app.db)
        .await?;
    if expired.is_empty() {
        return Ok(());
    }
    let in_doubt: Vec<(i64, DeliveryReason)> = expired
        .iter()
        .filter(|(_, _, state)| *state == DeliveryState::Sending)
        .map(|(id, _, _)| (*id, DeliveryReason::InDoubt))
        .collect();
    let consent_back: Vec<i64> = expired
        .iter()
        .filter(|(_, _, state)| *state == DeliveryState::Ready)
        .map(|(_, member_id, _)| *member_id)
        .collect();
    let requeue: Vec<i64> = expired
        .iter()
        .filter(|(_, _, state)| *state != DeliveryState::Sending)
        .map(|(id, _, _)| *id)
        .collect();
    let txn = crate::platform::db::begin_write(&app.db).await?;
    write_final(&txn, &in_doubt, DeliveryState::Failed).await?;
    if !requeue.is_empty() {
        campaign_delivery::Entity::update_many()
            .col_expr(
                campaign_delivery::Column::State,
                Expr::value(DeliveryState::Pending),
            )
            .col_expr(
                campaign_delivery::Column::Attempts,
                Expr::col(campaign_delivery::Column::Attempts).sub(1),
            )
            .col_expr(campaign_delivery::Column::NextAttemptAt, Expr::value(now))
            .filter(campaign_delivery::Column::Id.is_in(requeue))
            // Another dispatcher may have recovered them meanwhile.
            .filter(
                campaign_delivery::Column::State
                    .is_in([DeliveryState::Claimed, DeliveryState::Ready]),
            )
            .filter(campaign_delivery::Column::ClaimedUntil.lt(now))
            .exec(&txn)
            .await?;
    }
    subscriptions::give_back_many(&txn, template_id, &consent_back, now).await?;
    txn.commit().await?;
    if !in_doubt.is_empty() {
        tracing::warn!(
            campaign_id,
            in_doubt = in_doubt.len(),
            "a dispatcher died while sending: those messages are not resent"
        );
    }
    Ok(())
}

/// Puts claimed rows back in the queue.
pub(super) async fn release(
    app: &AppState,
    ids: &[i64],
    now: DateTime<Utc>,
    used_attempt: bool,
) -> Result<(), CampaignsError> {
    let mut update = campaign_delivery::Entity::update_many()
        .col_expr(
            campaign_delivery::Column::State,
            Expr::value(DeliveryState::Pending),
        )
        .col_expr(campaign_delivery::Column::NextAttemptAt, Expr::value(now));
    if !used_attempt {
        update = update.col_expr(
            campaign_delivery::Column::Attempts,
            Expr::col(campaign_delivery::Column::Attempts).sub(1),
        );
    }
    update
        .filter(campaign_delivery::Column::Id.is_in(ids.iter().copied()))
        .exec(&app.db)
        .await?;
    Ok(())
}

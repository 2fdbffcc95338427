//! Counted WeChat subscription consents (WECHAT.md §4). One accepted wx.requestSubscribeMessage
//! allows one send of that template to that member; consents accumulate and never expire, and
//! WeChat offers no way to read how many remain, so Rouge keeps the count. Every sender (booking
//! reminders, campaigns, automations) goes through [`take`] and [`exhausted`].

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::AppState;
use crate::auth::MemberPrincipal;
use crate::platform::error::{DomainError, ErrorCode, StoreError};
use entities::subscription_consent;

#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
pub enum SubscriptionsError {
    #[error("{0}")]
    InvalidInput(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_conversions!(SubscriptionsError);

impl DomainError for SubscriptionsError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidInput(_) => ErrorCode::BadUserInput,
            Self::Store(e) => e.code(),
        }
    }
}

/// What wx.requestSubscribeMessage answered for one template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentAnswer {
    Accept,
    Reject,
    Ban,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentCount {
    pub template_id: String,
    pub remaining: i32,
}

/// Told of the consents members report, for a WeChat that cannot learn them itself. Real
/// WeChat knows a member's answers because the mini-program asked it (wx.requestSubscribeMessage),
/// so production has no sink; the demo's in-process fake WeChat has one (`api::demo`), so what a
/// member grants through `recordSubscriptions` is what the fake holds when Rouge sends.
pub trait SubscriptionConsentSink: Send + Sync {
    /// A member's answers, after Rouge recorded them (accepted: one more consent; ban: none left).
    fn reported(&self, openid: &str, answers: &[(String, ConsentAnswer)]);
}

/// The most templates one wx.requestSubscribeMessage call can ask about.
const MAX_TEMPLATES_PER_REPORT: usize = 20;

fn check_template_id(id: &str) -> Result<(), SubscriptionsError> {
    if (1..=128).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        Ok(())
    } else {
        Err(SubscriptionsError::InvalidInput(format!(
            "malformed template id {id:?}"
        )))
    }
}

/// Records the mini-program's report of a wx.requestSubscribeMessage call: each accepted
/// template gains one consent; "ban" (the member switched the template off) clears them.
pub async fn record(
    app: &AppState,
    me: &MemberPrincipal,
    answers: &[(String, ConsentAnswer)],
) -> Result<Vec<ConsentCount>, SubscriptionsError> {
    if answers.is_empty() || answers.len() > MAX_TEMPLATES_PER_REPORT {
        return Err(SubscriptionsError::InvalidInput(format!(
            "report 1 to {MAX_TEMPLATES_PER_REPORT} templates"
        )));
    }
    for (template, _) in answers {
        check_template_id(template)?;
    }
    let now = app.clock.now();
    let txn = crate::platform::db::begin_write(&app.db).await?;
    for (template, answer) in answers {
        match answer {
            ConsentAnswer::Accept => {
                subscription_consent::Entity::insert(subscription_consent::ActiveModel {
                    member_id: Set(me.member_id),
                    template_id: Set(template.clone()),
                    remaining: Set(1),
                    updated_at: Set(now),
                })
                .on_conflict(
                    OnConflict::columns([
                        subscription_consent::Column::MemberId,
                        subscription_consent::Column::TemplateId,
                    ])
                    .value(
                        subscription_consent::Column::Remaining,
                        Expr::col((
                            subscription_consent::Entity,
                            subscription_consent::Column::Remaining,
                        ))
                        .add(1),
                    )
                    .value(subscription_consent::Column::UpdatedAt, Expr::value(now))
                    .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
            }
            ConsentAnswer::Ban => set_zero(&txn, me.member_id, template, now).await?,
            ConsentAnswer::Reject => {}
        }
    }
    txn.commit().await?;
    if let Some(sink) = &app.consent_sink {
        // The consents are recorded already: a failed look-up only costs the sink this report.
        match entities::member::Entity::find_by_id(me.member_id)
            .one(&app.db)
            .await
        {
            Ok(Some(m)) => sink.reported(&m.openid, answers),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "could not tell the consent sink"),
        }
    }
    counts(app, me.member_id).await
}

/// Every counted, unused consent with its member's openid: (openid, template, remaining). For
/// filling a [`SubscriptionConsentSink`] that starts empty (the demo's fake WeChat at start-up).
pub async fn counted_consents(app: &AppState) -> Result<Vec<(String, String, i32)>, StoreError> {
    let rows = subscription_consent::Entity::find()
        .filter(subscription_consent::Column::Remaining.gt(0))
        .all(&app.db)
        .await?;
    let mut ids: Vec<i64> = rows.iter().map(|c| c.member_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut openids = std::collections::HashMap::new();
    for chunk in ids.chunks(500) {
        for m in entities::member::Entity::find()
            .filter(entities::member::Column::Id.is_in(chunk.iter().copied()))
            .all(&app.db)
            .await?
        {
            openids.insert(m.id, m.openid);
        }
    }
    Ok(rows
        .into_iter()
        .filter_map(|c| {
            let openid = openids.get(&c.member_id)?.clone();
            Some((openid, c.template_id, c.remaining))
        })
        .collect())
}

pub async fn counts(
    app: &AppState,
    member_id: i64,
) -> Result<Vec<ConsentCount>, SubscriptionsError> {
    Ok(subscription_consent::Entity::find()
        .filter(subscription_consent::Column::MemberId.eq(member_id))
        .all(&app.db)
        .await?
        .into_iter()
        .map(|c| ConsentCount {
            template_id: c.template_id,
            remaining: c.remaining,
        })
        .collect())
}

pub async fn remaining<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
    template_id: &str,
) -> Result<i32, StoreError> {
    Ok(
        subscription_consent::Entity::find_by_id((member_id, template_id.to_owned()))
            .one(db)
            .await?
            .map_or(0, |c| c.remaining),
    )
}

/// Uses one consent if there is one; true when taken. A conditional update, so concurrent
/// senders can never use more consents than the member gave.
pub async fn take<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
    template_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, StoreError> {
    let result = subscription_consent::Entity::update_many()
        .col_expr(
            subscription_consent::Column::Remaining,
            Expr::col(subscription_consent::Column::Remaining).sub(1),
        )
        .col_expr(subscription_consent::Column::UpdatedAt, Expr::value(now))
        .filter(subscription_consent::Column::MemberId.eq(member_id))
        .filter(subscription_consent::Column::TemplateId.eq(template_id))
        .filter(subscription_consent::Column::Remaining.gt(0))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Gives back a consent taken for a send that never reached WeChat (a retryable failure).
pub async fn give_back<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
    template_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    subscription_consent::Entity::update_many()
        .col_expr(
            subscription_consent::Column::Remaining,
            Expr::col(subscription_consent::Column::Remaining).add(1),
        )
        .col_expr(subscription_consent::Column::UpdatedAt, Expr::value(now))
        .filter(subscription_consent::Column::MemberId.eq(member_id))
        .filter(subscription_consent::Column::TemplateId.eq(template_id))
        .exec(db)
        .await?;
    Ok(())
}

/// WeChat answered 43101: the member has no consent left whatever we counted. Never retried.
pub async fn exhausted<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
    template_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    set_zero(db, member_id, template_id, now).await
}

async fn set_zero<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
    template_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    subscription_consent::Entity::update_many()
        .col_expr(subscription_consent::Column::Remaining, Expr::value(0))
        .col_expr(subscription_consent::Column::UpdatedAt, Expr::value(now))
        .filter(subscription_consent::Column::MemberId.eq(member_id))
        .filter(subscription_consent::Column::TemplateId.eq(template_id))
        .exec(db)
        .await?;
    Ok(())
}

/// What happened to one subscription message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    Sent {
        msgid: u64,
    },
    /// Rouge counted no unused consent: nothing was sent.
    NoConsent,
    /// WeChat answered 43101: the member has none left; the count is now zero. Do not retry.
    Refused,
    /// 45011: back off, then retry (the consent was given back).
    RateLimited,
    /// 45009: the daily quota is spent; stop for the day (the consent was given back).
    DailyQuota,
    /// -1, 5xx, network: retry later (the consent was given back).
    Retry,
    /// The message itself is wrong (a value breaks its key's rule, bad template or page): a
    /// retry would fail the same way (the consent was given back).
    Rejected(String),
}

/// Sends one subscription message to a member, using one of their counted consents for the
/// template: the single door every sender (booking reminders, campaigns, automations) goes through.
pub async fn send_with_consent(
    app: &AppState,
    member_id: i64,
    openid: &str,
    message: wechat_integration::SubscribeMessage,
) -> Result<SendOutcome, StoreError> {
    use wechat_integration::WeChatErrorKind as K;
    let template = message.template_id.clone();
    if !take(&app.db, member_id, &template, app.clock.now()).await? {
        return Ok(SendOutcome::NoConsent);
    }
    let message = wechat_integration::SubscribeMessage {
        touser: openid.to_owned(),
        ..message
    };
    let err = match app.wechat.send_subscribe_message(&message).await {
        Ok(msgid) => return Ok(SendOutcome::Sent { msgid }),
        Err(err) => err,
    };
    let now = app.clock.now();
    if err.kind() == K::ConsentExhausted {
        exhausted(&app.db, member_id, &template, now).await?;
        return Ok(SendOutcome::Refused);
    }
    give_back(&app.db, member_id, &template, now).await?;
    Ok(match err.kind() {
        K::RateLimited => SendOutcome::RateLimited,
        K::DailyQuota => SendOutcome::DailyQuota,
        K::Busy | K::TokenInvalid => SendOutcome::Retry,
        _ => SendOutcome::Rejected(err.to_string()),
    })
}

/// [`take`] for many members at once (a campaign batch): uses one consent of each member who
/// has one, in one conditional update; returns the members whose consent was taken.
pub async fn take_many<C: ConnectionTrait>(
    db: &C,
    template_id: &str,
    member_ids: &[i64],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<std::collections::HashSet<i64>, StoreError> {
    use sea_orm::sea_query::Query;
    let mut ids = member_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let update = Query::update()
        .table(subscription_consent::Entity)
        .value(
            subscription_consent::Column::Remaining,
            Expr::col(subscription_consent::Column::Remaining).sub(1),
        )
        .value(subscription_consent::Column::UpdatedAt, now)
        .and_where(subscription_consent::Column::TemplateId.eq(template_id))
        .and_where(subscription_consent::Column::MemberId.is_in(ids))
        .and_where(subscription_consent::Column::Remaining.gt(0))
        .returning_col(subscription_consent::Column::MemberId)
        .to_owned();
    let rows = db.query_all(&update).await?;
    rows.iter()
        .map(|r| r.try_get::<i64>("", "member_id").map_err(StoreError::from))
        .collect()
}

/// [`give_back`] for many members at once.
pub async fn give_back_many<C: ConnectionTrait>(
    db: &C,
    template_id: &str,
    member_ids: &[i64],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    if member_ids.is_empty() {
        return Ok(());
    }
    subscription_consent::Entity::update_many()
        .col_expr(
            subscription_consent::Column::Remaining,
            Expr::col(subscription_consent::Column::Remaining).add(1),
        )
        .col_expr(subscription_consent::Column::UpdatedAt, Expr::value(now))
        .filter(subscription_consent::Column::TemplateId.eq(template_id))
        .filter(subscription_consent::Column::MemberId.is_in(member_ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

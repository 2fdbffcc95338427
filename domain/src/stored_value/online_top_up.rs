//! A member tops up in the mini-program with WeChat Pay: the top-up waits for the payment
//! notification, which credits it once however many times WeChat delivers it.

use chrono::{DateTime, Utc};
use rand::Rng;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set};
use sha2::{Digest, Sha256};
use wechat_integration::{ClientPaymentParams, JsapiOrder, WeChatError, WeChatErrorKind};

use super::ledger::{self, Change};
use super::{BalanceSource, StoredValueError, TERMS_VERSION, TopUp, TopUpStatus, invalid};
use crate::AppState;
use crate::auth::MemberPrincipal;
use crate::platform::{db, validate};
use entities::order::PaymentMethod;
use entities::{member, top_up};

const PREFIX: &str = "TU";

/// Whether a WeChat Pay `out_trade_no` is a top-up's (order numbers start with `R`).
pub fn is_top_up_no(out_trade_no: &str) -> bool {
    out_trade_no.starts_with(PREFIX)
}

pub(super) fn new_top_up_no(now: DateTime<Utc>) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut rng = rand::thread_rng();
    let tail: String = (0..10)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{PREFIX}{}{tail}", now.format("%y%m%d"))
}

pub(super) fn request_hash(parts: &impl serde::Serialize) -> String {
    hex::encode(Sha256::digest(
        serde_json::to_vec(parts).unwrap_or_default(),
    ))
}

fn pay_error(err: WeChatError) -> StoredValueError {
    match err.kind() {
        WeChatErrorKind::Busy | WeChatErrorKind::RateLimited => {
            StoredValueError::PayUnavailable(err)
        }
        _ => {
            tracing::error!(error = %err, "WeChat Pay refused a top-up");
            StoredValueError::PayRefused(err.to_string())
        }
    }
}

/// A member starts a top-up (a plan, or a free amount without bonus) after being shown the
/// terms ([`super::TERMS_ZH`]) and accepting their version; returns the top-up and the
/// parameters for wx.requestPayment. A retry with the same key pays the same top-up.
#[tracing::instrument(skip_all, err, fields(member_id = me.member_id))]
pub async fn start_top_up(
    app: &AppState,
    me: &MemberPrincipal,
    (plan_id, amount_fen): (Option<i64>, Option<i64>),
    accepted_terms_version: &str,
    idempotency_key: &str,
) -> Result<(TopUp, ClientPaymentParams), StoredValueError> {
    validate::idempotency_key(idempotency_key).map_err(invalid)?;
    if accepted_terms_version != TERMS_VERSION {
        return Err(StoredValueError::TermsNotAccepted(TERMS_VERSION));
    }
    let (plan, principal, bonus) = super::plans::amounts(app, plan_id, amount_fen).await?;
    let key = format!("member:{}:{idempotency_key}", me.member_id);
    let hash = request_hash(&(plan_id, amount_fen));
    let now = app.clock.now();
    let existing = top_up::Entity::find()
        .filter(top_up::Column::IdempotencyKey.eq(&key))
        .one(&app.db)
        .await?;
    let row = match existing {
        Some(row) if row.request_hash.as_deref() == Some(hash.as_str()) => row,
        Some(_) => return Err(StoredValueError::KeyReused),
        None => {
            let held = super::balance::my_balance(app, me).await?;
            if held.principal_fen + principal > super::MAX_PRINCIPAL_FEN {
                return Err(StoredValueError::PrincipalLimit {
                    max_fen: super::MAX_PRINCIPAL_FEN,
                });
            }
            top_up::ActiveModel {
                top_up_no: Set(new_top_up_no(now)),
                member_id: Set(me.member_id),
                plan_id: Set(plan.as_ref().map(|p| p.id)),
                tender: Set(PaymentMethod::Wechat),
                principal_fen: Set(principal),
                bonus_fen: Set(bonus),
                bonus_valid_days: Set(plan.as_ref().and_then(|p| p.bonus_valid_days)),
                status: Set(TopUpStatus::PendingPayment),
                staff_id: Set(None),
                store_id: Set(None),
                idempotency_key: Set(Some(key.clone())),
                request_hash: Set(Some(hash)),
                transaction_id: Set(None),
                paid_at: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(&app.db)
            .await
            .map_err(|e| {
                if crate::platform::error::is_unique_violation(&e) {
                    StoredValueError::KeyReused
                } else {
                    e.into()
                }
            })?
        }
    };
    if row.status != TopUpStatus::PendingPayment {
        return Err(invalid("this top-up is already paid"));
    }
    let openid: Option<String> = member::Entity::find_by_id(me.member_id)
        .select_only()
        .column(member::Column::Openid)
        .into_tuple()
        .one(&app.db)
        .await?;
    let openid = openid.ok_or(StoredValueError::NotFound("member"))?;
    let prepay_id = app
        .pay
        .jsapi_prepay(&JsapiOrder {
            description: format!("Rouge 会员储值 {}", row.top_up_no),
            out_trade_no: row.top_up_no.clone(),
            amount_fen: row.principal_fen,
            payer_openid: openid,
            time_expire: Some(row.created_at + app.settings.orders.payment_timeout),
            attach: None,
        })
        .await
        .map_err(pay_error)?;
    let params = app
        .pay
        .client_payment_params(&prepay_id)
        .map_err(pay_error)?;
    Ok((row.into(), params))
}

/// What a WeChat payment did to a top-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopUpMatch {
    /// Paid now and credited.
    Credited,
    /// Credited before by this transaction (another delivery came first).
    AlreadyCredited,
    /// No top-up has this number.
    Unknown,
    /// The amount paid is not the top-up's: nothing changed.
    AmountMismatch { expected_fen: i64 },
    /// Paid before by another transaction: nothing changed, the money must go back.
    PaidByAnother,
}

/// Credits a top-up once its WeChat payment is told, however many times and however
/// concurrently: the status moves from waiting to paid once, and the ledger entry is keyed by
/// the top-up number, in the same transaction.
pub async fn top_up_paid(
    app: &AppState,
    top_up_no: &str,
    transaction_id: &str,
    amount_fen: i64,
) -> Result<TopUpMatch, StoredValueError> {
    let now = app.clock.now();
    let txn = db::begin_write(&app.db).await?;
    let Some(row) = top_up::Entity::find()
        .filter(top_up::Column::TopUpNo.eq(top_up_no))
        .one(&txn)
        .await?
    else {
        return Ok(TopUpMatch::Unknown);
    };
    if row.principal_fen != amount_fen {
        tracing::error!(
            top_up_no,
            expected = row.principal_fen,
            paid = amount_fen,
            "paid amount differs from the top-up"
        );
        return Ok(TopUpMatch::AmountMismatch {
            expected_fen: row.principal_fen,
        });
    }
    let updated = top_up::Entity::update_many()
        .col_expr(top_up::Column::Status, Expr::value(TopUpStatus::Paid))
        .col_expr(top_up::Column::TransactionId, Expr::value(transaction_id))
        .col_expr(top_up::Column::PaidAt, Expr::value(now))
        .col_expr(top_up::Column::UpdatedAt, Expr::value(now))
        .filter(top_up::Column::Id.eq(row.id))
        .filter(top_up::Column::Status.eq(TopUpStatus::PendingPayment))
        .exec(&txn)
        .await?;
    if updated.rows_affected == 0 {
        let current = top_up::Entity::find_by_id(row.id)
            .one(&txn)
            .await?
            .ok_or(StoredValueError::NotFound("top-up"))?;
        if current.transaction_id.as_deref() == Some(transaction_id) {
            return Ok(TopUpMatch::AlreadyCredited);
        }
        tracing::error!(top_up_no, "a second payment for a paid top-up");
        return Ok(TopUpMatch::PaidByAnother);
    }
    credit(&txn, &row, BalanceSource::TopUpOnline, now).await?;
    txn.commit().await?;
    Ok(TopUpMatch::Credited)
}

/// Credits a paid top-up: principal and bonus, the bonus valid for the plan's days.
pub(super) async fn credit<C: sea_orm::ConnectionTrait>(
    db: &C,
    row: &top_up::Model,
    source: BalanceSource,
    now: DateTime<Utc>,
) -> Result<bool, StoredValueError> {
    ledger::apply(
        db,
        &Change {
            member_id: row.member_id,
            source,
            principal_delta_fen: row.principal_fen,
            bonus_delta_fen: row.bonus_fen,
            reference: Some(&row.top_up_no),
            key: &format!("top-up:{}", row.top_up_no),
            staff_id: row.staff_id,
            bonus_valid_until: row
                .bonus_valid_days
                .map(|d| now + chrono::Duration::days(i64::from(d))),
            at: now,
        },
    )
    .await
}

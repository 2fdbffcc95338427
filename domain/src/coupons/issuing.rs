//! Giving copies out: the claim centre and claims, HQ's issues, other modules' issues (campaigns,
//! scan-for-gift, birthdays), and the member's own coupons.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::ActiveEnum;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::{
    Coupon, CouponSource, CouponStatus, CouponsError, Template, invalid, load_template,
    pending_order_ids, template_row, to_coupon, with_templates,
};
use crate::AppState;
use crate::auth::{MemberPrincipal, Permission, StaffPrincipal};
use crate::platform::error::{StoreError, UniqueViolation};
use crate::platform::page::{IdKey, Keyset, Page, TimeKey, after_asc};
use crate::platform::{db, idempotency, validate};
use entities::{coupon, coupon_template, member};

/// Where a coupon came from, and the key that makes issuing it idempotent: one copy per
/// (template, member, kind, key). Claims use CLAIM and the member's idempotency key; other
/// modules pass their own kind (e.g. SCAN, CAMPAIGN) and a key of their choosing.
#[derive(Debug, Clone, Copy)]
pub struct IssueSource<'a> {
    pub kind: CouponSource,
    pub key: &'a str,
}

/// What issuing a template to a list of members did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueOutcome {
    /// Copies given now.
    pub issued: u64,
    /// Members who already had a copy from this source (an idempotent repeat).
    pub already: u64,
    /// Members at their per-member limit.
    pub limit_reached: u64,
    /// Members left without one because the template ran out.
    pub sold_out: u64,
    /// Ids that are not members.
    pub unknown_members: u64,
}

async fn held<C: ConnectionTrait>(db: &C, template_id: i64, member_id: i64) -> Result<u64, DbErr> {
    coupon::Entity::find()
        .filter(coupon::Column::TemplateId.eq(template_id))
        .filter(coupon::Column::MemberId.eq(member_id))
        .count(db)
        .await
}

fn issue_key(template_id: i64, member_id: i64, source: IssueSource<'_>) -> String {
    // The kind's stored text, as the key has always been written.
    let kind = source.kind.to_value();
    format!("{template_id}:{member_id}:{kind}:{}", source.key)
}

/// What one attempt to give a copy inside a caller's transaction did.
pub(crate) enum GrantAttempt {
    Granted(Box<coupon::Model>),
    /// This source key already gave the member a copy: that copy, nothing new.
    Existing(Box<coupon::Model>),
    /// A concurrent grant to the same member took the same number (or this very key): the
    /// transaction must be rolled back and the whole attempt made again.
    Collided,
}

/// Gives one copy of a template to a member inside the caller's transaction: holds the template
/// row (until commit), answers with the copy this source key already gave if there is one, and
/// only then takes one from the template's total and, when asked, keeps to the member's limit,
/// so a retry never meets the limit or the total its first attempt used up. Other modules
/// (scan-for-gift) use it so the coupon and their own record commit together.
pub(crate) async fn grant_in<C: ConnectionTrait>(
    txn: &C,
    template_id: i64,
    member_id: i64,
    source: IssueSource<'_>,
    enforce_member_limit: bool,
    now: DateTime<Utc>,
) -> Result<GrantAttempt, CouponsError> {
    let tpl = load_template(txn, template_id).await?;
    tpl.issuable(now)?;
    // The lock every grant of this template queues on (SQLite's write lock already is one).
    coupon_template::Entity::update_many()
        .col_expr(
            coupon_template::Column::Id,
            Expr::col(coupon_template::Column::Id),
        )
        .filter(coupon_template::Column::Id.eq(template_id))
        .exec(txn)
        .await?;
    if let Some(existing) = by_issue_key(txn, &issue_key(template_id, member_id, source)).await? {
        return Ok(GrantAttempt::Existing(Box::new(existing)));
    }
    let limit = u64::try_from(tpl.per_member_limit).unwrap_or(0);
    if enforce_member_limit && held(txn, template_id, member_id).await? >= limit {
        return Err(CouponsError::LimitReached);
    }
    let taken = coupon_template::Entity::update_many()
        .col_expr(
            coupon_template::Column::Issued,
            Expr::col(coupon_template::Column::Issued).add(1),
        )
        .filter(coupon_template::Column::Id.eq(template_id))
        .filter(
            Expr::col(coupon_template::Column::Issued)
                .lt(Expr::col(coupon_template::Column::TotalQuantity)),
        )
        .exec(txn)
        .await?;
    if taken.rows_affected == 0 {
        return Err(CouponsError::SoldOut);
    }
    // Counted again after the template row is ours: claims committed meanwhile are seen.
    let count = held(txn, template_id, member_id).await?;
    if enforce_member_limit && count >= limit {
        return Err(CouponsError::LimitReached);
    }
    let (valid_from, valid_until) = tpl.window_for(now);
    let inserted = coupon::ActiveModel {
        template_id: Set(template_id),
        member_id: Set(member_id),
        seq: Set(i32::try_from(count + 1).unwrap_or(i32::MAX)),
        status: Set(CouponStatus::Available),
        source: Set(source.kind),
        issue_key: Set(issue_key(template_id, member_id, source)),
        source_key: Set(Some(source.key.to_owned())),
        valid_from: Set(valid_from),
        valid_until: Set(valid_until),
        issued_at: Set(now),
        used_at: Set(None),
        used_order_id: Set(None),
        used_store_id: Set(None),
        used_by_staff: Set(None),
        discount_fen: Set(0),
        ..Default::default()
    }
    .insert(txn)
    .await;
    Ok(match inserted.unless_duplicate::<CouponsError>()? {
        Some(row) => GrantAttempt::Granted(Box::new(row)),
        None => GrantAttempt::Collided,
    })
}

async fn by_issue_key<C: ConnectionTrait>(
    db: &C,
    key: &str,
) -> Result<Option<coupon::Model>, DbErr> {
    coupon::Entity::find()
        .filter(coupon::Column::IssueKey.eq(key))
        .one(db)
        .await
}

/// Gives one copy of a template to a member, once per source key. Returns the copy and
/// whether it was created now.
async fn grant(
    app: &AppState,
    template_id: i64,
    member_id: i64,
    source: IssueSource<'_>,
    enforce_member_limit: bool,
) -> Result<(coupon::Model, bool), CouponsError> {
    let key = issue_key(template_id, member_id, source);
    idempotency::same_answer(
        || async {
            Ok(by_issue_key(&app.db, &key)
                .await?
                .map(|existing| (existing, false)))
        },
        || grant_new(app, template_id, member_id, source, enforce_member_limit),
    )
    .await
}

async fn grant_new(
    app: &AppState,
    template_id: i64,
    member_id: i64,
    source: IssueSource<'_>,
    enforce_member_limit: bool,
) -> Result<(coupon::Model, bool), CouponsError> {
    for _ in 0..8 {
        let txn = db::begin_write(&app.db).await?;
        let attempt = grant_in(
            &txn,
            template_id,
            member_id,
            source,
            enforce_member_limit,
            app.clock.now(),
        )
        .await?;
        match attempt {
            GrantAttempt::Granted(row) => {
                txn.commit().await?;
                return Ok((*row, true));
            }
            GrantAttempt::Existing(row) => return Ok((*row, false)),
            // Another claim of this member (or this very key) won the same number: look again.
            GrantAttempt::Collided => drop(txn),
        }
    }
    Err(StoreError::Contention(DbErr::Custom("coupon claim kept colliding".into())).into())
}

/// Copies another module gave from one source (e.g. kind CAMPAIGN, key the campaign id):
/// how many were issued and how many of those have been used.
pub async fn issued_from_source(
    app: &AppState,
    kind: CouponSource,
    key: &str,
) -> Result<(i64, i64), CouponsError> {
    let from_source = || {
        coupon::Entity::find()
            .filter(coupon::Column::Source.eq(kind))
            .filter(coupon::Column::SourceKey.eq(key))
    };
    let issued = from_source().count(&app.db).await?;
    let used = from_source()
        .filter(coupon::Column::Status.eq(CouponStatus::Used))
        .count(&app.db)
        .await?;
    Ok((
        i64::try_from(issued).unwrap_or(i64::MAX),
        i64::try_from(used).unwrap_or(i64::MAX),
    ))
}

/// Templates a member can claim now, with how many they hold.
#[derive(Debug, Clone)]
pub struct Claimable {
    pub template: Template,
    pub held: i32,
    pub left: i64,
}

/// The claim centre: active templates with copies left, except birthday ones.
pub async fn claimable_coupons(
    app: &AppState,
    me: &MemberPrincipal,
    page: Keyset<IdKey>,
) -> Result<Page<Claimable>, CouponsError> {
    let now = app.clock.now();
    let rows = coupon_template::Entity::find()
        .filter(coupon_template::Column::Active.eq(true))
        .filter(coupon_template::Column::Birthday.eq(false))
        .filter(
            Expr::col(coupon_template::Column::Issued)
                .lt(Expr::col(coupon_template::Column::TotalQuantity)),
        )
        .order_by_desc(coupon_template::Column::Id)
        .limit(200)
        .all(&app.db)
        .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let held: Vec<(i64, i64)> = coupon::Entity::find()
        .select_only()
        .column(coupon::Column::TemplateId)
        .column_as(coupon::Column::Id.count(), "n")
        .filter(coupon::Column::MemberId.eq(me.member_id))
        .filter(coupon::Column::TemplateId.is_in(ids))
        .group_by(coupon::Column::TemplateId)
        .into_tuple()
        .all(&app.db)
        .await?;
    let held: HashMap<i64, i64> = held.into_iter().collect();
    let templates = rows
        .into_iter()
        .map(Template::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    // Computed whole (at most 200 live templates) and paged by template id.
    let claimable = templates
        .into_iter()
        .filter(|t| t.issuable(now).is_ok())
        .map(|t| Claimable {
            held: i32::try_from(held.get(&t.id).copied().unwrap_or(0)).unwrap_or(i32::MAX),
            left: t.total_quantity - t.issued,
            template: t,
        })
        .collect();
    Ok(Page::of_list(claimable, &page, |c| c.template.id))
}

/// A member claims a copy. The same idempotency key returns the same copy, whatever the limit
/// and total say by then; SOLD_OUT when the template has none left, LIMIT_REACHED when the
/// member holds their limit.
#[tracing::instrument(skip_all, err, fields(member_id = me.member_id, template_id))]
pub async fn claim_coupon(
    app: &AppState,
    me: &MemberPrincipal,
    template_id: i64,
    idempotency_key: &str,
) -> Result<Coupon, CouponsError> {
    validate::idempotency_key(idempotency_key).map_err(invalid)?;
    let tpl = load_template(&app.db, template_id).await?;
    if tpl.birthday {
        return Err(invalid(
            "birthday coupons are given in the birthday month, not claimed",
        ));
    }
    let (row, _) = grant(
        app,
        template_id,
        me.member_id,
        IssueSource {
            kind: CouponSource::Claim,
            key: idempotency_key,
        },
        true,
    )
    .await?;
    let now = app.clock.now();
    Ok(to_coupon(row, tpl, now))
}

/// Issues a template to members (for HQ lists, campaign segments, scan-for-gift...), once per
/// (template, member, source kind and key), within the template's total and each member's
/// limit. Members at their limit or beyond the total are counted, not failed.
#[tracing::instrument(skip_all, err, fields(template_id, members = member_ids.len(), source = %source.kind.to_value()))]
pub async fn issue_to_members(
    app: &AppState,
    template_id: i64,
    member_ids: &[i64],
    source: IssueSource<'_>,
) -> Result<IssueOutcome, CouponsError> {
    if source.key.is_empty() || source.key.len() > 100 {
        return Err(invalid(
            "an issue source has a kind and a key of 1 to 100 characters",
        ));
    }
    let unique: BTreeSet<i64> = member_ids.iter().copied().collect();
    let known: HashSet<i64> = member::Entity::find()
        .select_only()
        .column(member::Column::Id)
        .filter(member::Column::Id.is_in(unique.iter().copied()))
        // An erased member is an anonymous tombstone: she gets nothing new.
        .filter(member::Column::ErasedAt.is_null())
        .into_tuple::<i64>()
        .all(&app.db)
        .await?
        .into_iter()
        .collect();
    let mut outcome = IssueOutcome::default();
    let mut sold_out = false;
    for member_id in unique {
        if !known.contains(&member_id) {
            outcome.unknown_members += 1;
            continue;
        }
        if sold_out {
            outcome.sold_out += 1;
            continue;
        }
        match grant(
            app,
            template_id,
            member_id,
            source,
            source.kind != CouponSource::Birthday,
        )
        .await
        {
            Ok((_, true)) => outcome.issued += 1,
            Ok((_, false)) => outcome.already += 1,
            Err(CouponsError::LimitReached) => outcome.limit_reached += 1,
            Err(CouponsError::SoldOut) => {
                sold_out = true;
                outcome.sold_out += 1;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(outcome)
}

/// One copy for one member from another module (e.g. a scan-for-gift prize): the copy, new or
/// the one this source already gave.
pub async fn issue_one(
    app: &AppState,
    template_id: i64,
    member_id: i64,
    source: IssueSource<'_>,
) -> Result<Coupon, CouponsError> {
    let (row, _) = grant(app, template_id, member_id, source, true).await?;
    let tpl = load_template(&app.db, template_id).await?;
    Ok(to_coupon(row, tpl, app.clock.now()))
}

/// HQ issues a template to a list of members; the key makes a retried request harmless.
pub async fn issue_coupons(
    app: &AppState,
    staff: &StaffPrincipal,
    template_id: i64,
    member_ids: &[i64],
    idempotency_key: &str,
) -> Result<IssueOutcome, CouponsError> {
    staff.require(Permission::ManageCoupons)?;
    validate::idempotency_key(idempotency_key).map_err(invalid)?;
    if member_ids.is_empty() || member_ids.len() > 10_000 {
        return Err(invalid("issue to 1 to 10,000 members at a time"));
    }
    template_row(&app.db, template_id).await?;
    issue_to_members(
        app,
        template_id,
        member_ids,
        IssueSource {
            kind: CouponSource::Issue,
            key: idempotency_key,
        },
    )
    .await
}

/// The member's coupons, optionally of one status, soonest to expire first (then by id).
pub async fn my_coupons(
    app: &AppState,
    me: &MemberPrincipal,
    status: Option<CouponStatus>,
    page: Keyset<TimeKey>,
) -> Result<Page<Coupon>, CouponsError> {
    let now = app.clock.now();
    let mut q = coupon::Entity::find().filter(coupon::Column::MemberId.eq(me.member_id));
    q = match status {
        Some(CouponStatus::Available) => q
            .filter(coupon::Column::Status.eq(CouponStatus::Available))
            .filter(coupon::Column::ValidUntil.gt(now)),
        Some(CouponStatus::Used) => q
            .filter(coupon::Column::Status.eq(CouponStatus::Used))
            .filter(
                coupon::Column::UsedOrderId
                    .is_null()
                    .or(coupon::Column::UsedOrderId.not_in_subquery(pending_order_ids())),
            ),
        Some(CouponStatus::Reserved) => q
            .filter(coupon::Column::Status.eq(CouponStatus::Used))
            .filter(coupon::Column::UsedOrderId.in_subquery(pending_order_ids())),
        Some(CouponStatus::Expired) => q.filter(
            coupon::Column::Status
                .eq(CouponStatus::Expired)
                .or(coupon::Column::Status
                    .eq(CouponStatus::Available)
                    .and(coupon::Column::ValidUntil.lte(now))),
        ),
        None => q,
    };
    if let Some(after) = page.after {
        q = q.filter(after_asc(
            coupon::Column::ValidUntil,
            coupon::Column::Id,
            after,
        ));
    }
    let rows = q
        .order_by_asc(coupon::Column::ValidUntil)
        .order_by_asc(coupon::Column::Id)
        .limit(page.fetch())
        .all(&app.db)
        .await?;
    let rows = page.page(rows);
    let has_next = rows.has_next;
    Ok(Page {
        items: with_templates(&app.db, rows.items, now).await?,
        has_next,
    })
}

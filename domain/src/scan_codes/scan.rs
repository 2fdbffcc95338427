//! A member scans a pack code: the first valid scan redeems it and grants the gift in one
//! transaction; later scans answer "already redeemed" with when and where. Every valid scan is
//! kept as an event (region, mini-survey, outcome, fraud flag) for insight.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{
    CommonTableExpression, Expr, ExprTrait, InsertStatement, OnConflict, Query, WithClause,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
    QuerySelect, QueryTrait, Set,
};

use super::batches::cached_batch;
use super::throttle::{check_throttle, note_unknown};
use super::vouchers::random_voucher;
use super::{CodeError, Gift, ScanError, ScanEventOutcome, ScanFlag, Survey, batch_territory};
use crate::auth::MemberPrincipal;
use crate::coupons;
use crate::loyalty::{self, PointsEvent, PointsReason};
use crate::platform::clock::DEFAULT_ZONE;
use crate::platform::error::StoreError;
use crate::platform::regions::{self, Place, RegionCode};
use crate::platform::{db, validate};
use crate::{AppState, RequestMeta};
use entities::{
    member, points_ledger, scan_code_batch, scan_event, scan_gift_day, scan_redemption,
};

/// A coarse region: province and city only, never a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRegion {
    pub province: String,
    pub city: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ScanInput {
    pub code: String,
    pub survey: Survey,
    /// Stated by the member or coarse from the client; none: the member's profile region.
    pub region: Option<ScanRegion>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanStatus {
    /// This scan redeemed the code and granted the gift.
    Redeemed,
    /// The code was redeemed before (a genuineness answer: when and where).
    AlreadyRedeemed,
}

#[derive(Debug, Clone)]
pub struct ScanOutcome {
    pub status: ScanStatus,
    pub batch_id: i64,
    pub serial: i64,
    pub sku_id: i64,
    pub lot: Option<String>,
    pub gift: Gift,
    /// For a SAMPLE gift, the voucher to show at the counter (only to the redeeming member).
    pub voucher_code: Option<String>,
    pub first_scanned_at: DateTime<Utc>,
    pub first_province: Option<String>,
    pub first_city: Option<String>,
    pub first_region_code: Option<String>,
    /// Whether the calling member redeemed it (now or earlier).
    pub redeemed_by_you: bool,
}

fn store_day(at: DateTime<Utc>) -> String {
    at.with_timezone(&DEFAULT_ZONE)
        .date_naive()
        .format("%Y-%m-%d")
        .to_string()
}

fn normalise_region(r: ScanRegion) -> Result<Place, ScanError> {
    use validate::FieldKind;
    let province = validate::field(FieldKind::Region, "region.province", &r.province, None)
        .map_err(ScanError::InvalidInput)?;
    let city = validate::field_opt(FieldKind::Region, "region.city", r.city.as_deref())
        .map_err(ScanError::InvalidInput)?;
    regions::place(&province, city.as_deref())
        .map_err(|e| ScanError::InvalidInput(format!("region: {e}")))
}

/// The coarse region of a scan: what the member or client stated, else the profile's. A
/// profile region the table does not know has no code: kept by name, never flagged.
async fn region_for(
    app: &AppState,
    member_id: i64,
    stated: Option<Place>,
) -> Result<Option<ScanPlace>, ScanError> {
    if let Some(p) = stated {
        return Ok(Some(ScanPlace {
            code: Some(p.code),
            province: p.province,
            city: p.city,
        }));
    }
    type Row = (Option<String>, Option<String>, Option<String>);
    let row: Option<Row> = member::Entity::find_by_id(member_id)
        .select_only()
        .column(member::Column::RegionProvince)
        .column(member::Column::RegionCity)
        .column(member::Column::RegionCode)
        .into_tuple()
        .one(&app.db)
        .await?;
    Ok(row.and_then(|(p, c, code)| {
        let province = p?;
        let code = code
            .as_deref()
            .and_then(RegionCode::parse_stored)
            .or_else(|| regions::place(&province, c.as_deref()).ok().map(|p| p.code));
        Some(ScanPlace {
            code,
            province,
            city: c,
        })
    }))
}

/// Where a scan happened, as recorded.
#[derive(Debug, Clone)]
struct ScanPlace {
    code: Option<RegionCode>,
    province: String,
    city: Option<String>,
}

/// Grants a COUPON gift inside the redemption's transaction, keyed by the code, so the coupon
/// and the redemption commit together or not at all. The template's total is kept; its
/// per-member limit is not (each pack is a purchase; the daily gift cap guards abuse).
async fn grant_coupon_gift<C: ConnectionTrait>(
    txn: &C,
    member_id: i64,
    template_id: i64,
    idempotency_key: &str,
    now: DateTime<Utc>,
) -> Result<(), ScanError> {
    let source = coupons::IssueSource {
        kind: coupons::CouponSource::Scan,
        key: idempotency_key,
    };
    match coupons::grant_in(txn, template_id, member_id, source, false, now).await? {
        coupons::GrantAttempt::Granted(_) | coupons::GrantAttempt::Existing(_) => Ok(()),
        // A concurrent claim of the same template by this member: the scan is rolled back and
        // the member can scan again.
        coupons::GrantAttempt::Collided => Err(ScanError::Store(StoreError::Contention(
            sea_orm::DbErr::Custom("coupon gift collided with a concurrent claim".into()),
        ))),
    }
}

struct EventFacts<'a> {
    batch: &'a scan_code_batch::Model,
    serial: i64,
    member_id: i64,
    region: Option<&'a ScanPlace>,
    survey: &'a Survey,
    outcome: ScanEventOutcome,
    gifted: bool,
    flag: Option<ScanFlag>,
    at: DateTime<Utc>,
}

fn event(f: EventFacts<'_>) -> scan_event::ActiveModel {
    scan_event::ActiveModel {
        batch_id: Set(f.batch.id),
        serial: Set(f.serial),
        member_id: Set(f.member_id),
        sku_id: Set(f.batch.sku_id),
        lot: Set(f.batch.lot.clone()),
        distributor_id: Set(f.batch.distributor_id),
        province: Set(f.region.map(|r| r.province.clone())),
        city: Set(f.region.and_then(|r| r.city.clone())),
        region_code: Set(f.region.and_then(|r| r.code).map(|c| c.to_string())),
        age_band: Set(f.survey.age_band),
        skin_type: Set(f.survey.skin_type),
        where_bought: Set(f.survey.where_bought),
        outcome: Set(f.outcome),
        gifted: Set(i32::from(f.gifted)),
        flag: Set(f.flag),
        day: Set(store_day(f.at)),
        scanned_at: Set(f.at),
        ..Default::default()
    }
}

/// What the reads of a scan found, before anything is written.
enum Lookup {
    /// A well-formed code that is not one of ours (forged, or past its batch's count).
    Unknown,
    Found(Box<Found>),
}

struct Found {
    batch: scan_code_batch::Model,
    serial: i64,
    gift: Gift,
    region: Option<ScanPlace>,
    /// The code's redemption, when it was redeemed before this scan looked.
    existing: Option<scan_redemption::Model>,
}

/// Everything a scan needs to read: the code, its batch (cached per replica), the region and
/// whether the code was redeemed already. Reads only; refusals that need no count (malformed,
/// inactive, not yet valid, ended) are answered here.
async fn look_up(
    app: &AppState,
    member_id: i64,
    code: &str,
    region: Option<ScanRegion>,
) -> Result<Lookup, ScanError> {
    let (batch_id, serial) = match app.settings.scan.key.decode(code) {
        Ok(v) => (i64::from(v.0), i64::from(v.1)),
        Err(CodeError::Malformed) => return Err(ScanError::Malformed),
        Err(CodeError::Forged) => return Ok(Lookup::Unknown),
    };
    let stated = region.map(normalise_region).transpose()?;
    let cached = cached_batch(app, batch_id).await?;
    let Some(batch) = cached.as_ref().as_ref().filter(|b| serial < b.code_count) else {
        return Ok(Lookup::Unknown);
    };
    let now = app.clock.now();
    if !batch.active {
        return Err(ScanError::Inactive);
    }
    if now < batch.valid_from {
        return Err(ScanError::NotYetValid);
    }
    if now >= batch.valid_until {
        return Err(ScanError::Expired);
    }
    let gift = Gift::from_row(batch)?;
    let find_existing = scan_redemption::Entity::find()
        .filter(scan_redemption::Column::BatchId.eq(batch_id))
        .filter(scan_redemption::Column::Serial.eq(serial))
        .one(&app.db);
    // Two independent reads: one waits for the slower, not for both in turn.
    let (region, existing) = tokio::try_join!(region_for(app, member_id, stated), async {
        find_existing.await.map_err(ScanError::from)
    })?;
    Ok(Lookup::Found(Box::new(Found {
        batch: batch.clone(),
        serial,
        gift,
        region,
        existing,
    })))
}

/// A member scans a pack code. The first valid scan redeems it and grants the gift in the same
/// transaction; later ones answer "already redeemed" with when and where it was first scanned,
/// from reads and one event row, without a write transaction.
///
/// The throttle (key-value store) and the look-up (reads only) run at once, so a scan waits for
/// the slower of the two rather than their sum; nothing is counted or written before the
/// throttle has let the scan through, and its refusal comes first, as before.
#[tracing::instrument(skip_all, err, fields(member_id = who.member_id))]
pub async fn scan(
    app: &AppState,
    who: &MemberPrincipal,
    meta: &RequestMeta,
    input: ScanInput,
) -> Result<ScanOutcome, ScanError> {
    let ScanInput {
        code,
        survey,
        region,
    } = input;
    let (throttled, looked) = tokio::join!(
        check_throttle(app, who, meta),
        look_up(app, who.member_id, &code, region)
    );
    throttled?;
    let found = match looked? {
        Lookup::Unknown => {
            note_unknown(app, who, meta).await?;
            return Err(ScanError::UnknownCode);
        }
        Lookup::Found(found) => *found,
    };
    let Found {
        batch,
        serial,
        gift,
        region,
        existing,
    } = found;
    let first = match existing {
        Some(first) => first,
        None => {
            let claim = Claim {
                batch: &batch,
                serial,
                region: region.as_ref(),
                gift: gift.clone(),
            };
            match redeem(app, who, claim, &survey).await? {
                Claimed::Redeemed(outcome) => return Ok(*outcome),
                // Redeemed just now by a concurrent scan: a genuineness answer.
                Claimed::Before(first) => *first,
            }
        }
    };
    let now = app.clock.now();
    let mine = first.member_id == who.member_id;
    let (outcome, flag) = if mine {
        (ScanEventOutcome::Repeat, None)
    } else {
        (ScanEventOutcome::OtherMember, Some(ScanFlag::OtherMember))
    };
    // One statement on its own (no transaction to open or commit): the scan is kept for insight.
    scan_event::Entity::insert(event(EventFacts {
        batch: &batch,
        serial,
        member_id: who.member_id,
        region: region.as_ref(),
        survey: &survey,
        outcome,
        gifted: false,
        flag,
        at: now,
    }))
    .exec_without_returning(&app.db)
    .await?;
    Ok(ScanOutcome {
        status: ScanStatus::AlreadyRedeemed,
        batch_id: batch.id,
        serial,
        sku_id: batch.sku_id,
        lot: batch.lot,
        gift,
        voucher_code: if mine { first.voucher_code } else { None },
        first_scanned_at: first.redeemed_at,
        first_province: first.province,
        first_city: first.city,
        first_region_code: first.region_code,
        redeemed_by_you: mine,
    })
}

/// What a first scan's claim came to.
enum Claimed {
    /// This scan redeemed the code.
    Redeemed(Box<ScanOutcome>),
    /// Another scan redeemed it first (committed before this claim): its redemption.
    Before(Box<scan_redemption::Model>),
}

/// What a first scan claims: a code of a batch, where it was scanned, and the batch's gift.
struct Claim<'a> {
    batch: &'a scan_code_batch::Model,
    serial: i64,
    region: Option<&'a ScanPlace>,
    gift: Gift,
}

/// Claims the code and grants the gift in one transaction. When another scan claimed it first,
/// nothing is written and that scan's redemption is answered.
///
/// Order inside the transaction: the claim (the unique (batch, serial) makes it exactly-once; a
/// scan that lost the race stops here without counting), then the gift counted on the member's
/// day row (its lock puts one member's claims one after the other, so the daily cap is exact),
/// then the gift and the event. Over the cap, all of it is rolled back.
async fn redeem(
    app: &AppState,
    who: &MemberPrincipal,
    claim: Claim<'_>,
    survey: &Survey,
) -> Result<Claimed, ScanError> {
    let Claim {
        batch,
        serial,
        region,
        gift,
    } = claim;
    // Microseconds: what both databases keep, so the first scan's answer equals later ones.
    let now = chrono::SubsecRound::trunc_subsecs(app.clock.now(), 6);
    let territory = batch_territory(batch);
    let cross = region
        .and_then(|r| r.code)
        .is_some_and(|at| regions::outside(&territory, at));
    let voucher = matches!(gift, Gift::Sample { .. }).then(random_voucher);
    let rows = RedemptionRows {
        redemption: scan_redemption::ActiveModel {
            batch_id: Set(batch.id),
            serial: Set(serial),
            member_id: Set(who.member_id),
            sku_id: Set(batch.sku_id),
            province: Set(region.map(|r| r.province.clone())),
            city: Set(region.and_then(|r| r.city.clone())),
            region_code: Set(region.and_then(|r| r.code).map(|c| c.to_string())),
            cross_territory: Set(cross),
            gift_kind: Set(gift.kind()),
            gift_points: Set(gift.points()),
            voucher_code: Set(voucher.clone()),
            voucher_redeemed_at: Set(None),
            voucher_redeemed_by: Set(None),
            voucher_store_id: Set(None),
            redeemed_at: Set(now),
            ..Default::default()
        },
        day: scan_gift_day::ActiveModel {
            member_id: Set(who.member_id),
            day: Set(store_day(now)),
            gifts: Set(1),
        },
        event: event(EventFacts {
            batch,
            serial,
            member_id: who.member_id,
            region,
            survey,
            outcome: ScanEventOutcome::Redeemed,
            gifted: true,
            flag: cross.then_some(ScanFlag::CrossTerritory),
            at: now,
        }),
    };
    let gift_write = GiftWrite::of(&gift, (batch.id, serial));
    let cap = app.settings.scan.daily_gift_cap;
    let txn = db::begin_write(&app.db).await?;
    // SQLite has no writing common table expressions; a coupon's rules read before writing.
    let one_statement = txn.get_database_backend() == DbBackend::Postgres
        && !matches!(gift_write, GiftWrite::Coupon { .. });
    let counted = if one_statement {
        let points = match &gift_write {
            GiftWrite::Points(points) => {
                let expires_at = now + app.settings.loyalty.points_validity;
                Some(points.entry(who.member_id, now, expires_at))
            }
            _ => None,
        };
        claim_in_one_statement(&txn, rows, points).await?
    } else {
        let gift = (&gift_write, now);
        claim_step_by_step(app, &txn, who.member_id, rows, gift).await?
    };
    match counted {
        Counted::Lost => {
            // Claimed first by a scan that has committed (PostgreSQL waited for it at the
            // unique index; SQLite's writers take turns): read it before letting go.
            let first = find_redemption(&txn, batch.id, serial).await?;
            txn.rollback().await?;
            return Ok(Claimed::Before(Box::new(first)));
        }
        Counted::Gifts(gifts) if gifts > cap => {
            txn.rollback().await?;
            return Err(ScanError::DailyCapReached);
        }
        Counted::Gifts(_) => txn.commit().await?,
    }
    if cross {
        tracing::info!(
            batch_id = batch.id,
            serial,
            "scan-for-gift: cross-territory scan"
        );
    }
    Ok(Claimed::Redeemed(Box::new(ScanOutcome {
        status: ScanStatus::Redeemed,
        batch_id: batch.id,
        serial,
        sku_id: batch.sku_id,
        lot: batch.lot.clone(),
        gift,
        voucher_code: voucher,
        first_scanned_at: now,
        first_province: region.map(|r| r.province.clone()),
        first_city: region.and_then(|r| r.city.clone()),
        first_region_code: region.and_then(|r| r.code).map(|c| c.to_string()),
        redeemed_by_you: true,
    })))
}

/// The rows a first scan writes besides its gift: the redemption (the claim), the member's
/// day count and the event.
struct RedemptionRows {
    redemption: scan_redemption::ActiveModel,
    day: scan_gift_day::ActiveModel,
    event: scan_event::ActiveModel,
}

/// What the claim came to, before the daily cap is judged.
enum Counted {
    /// Another scan claimed the code first: nothing was written.
    Lost,
    /// This scan claimed it: the member's gifts on the store day, this one included. Within
    /// the cap, the gift and the event are written too.
    Gifts(i64),
}

/// How a code's gift is written.
enum GiftWrite {
    /// One points entry, keyed by the code.
    Points(ScanPoints),
    /// Nothing beyond the redemption (a sample: the redemption row is its voucher).
    Nothing,
    /// Through the coupon rules (`coupons::grant_in`), keyed by the code.
    Coupon { template_id: i64, key: String },
}

impl GiftWrite {
    fn of(gift: &Gift, (batch_id, serial): (i64, i64)) -> Self {
        match gift {
            Gift::Points(points) if *points > 0 => Self::Points(ScanPoints {
                points: *points,
                reference: format!("scan:{batch_id}:{serial}"),
                key: gift_key(batch_id, serial),
            }),
            // No points, no entry (as `loyalty::earn`); a batch is created with 1 or more.
            Gift::Points(_) | Gift::Sample { .. } => Self::Nothing,
            Gift::Coupon { template_id } => Self::Coupon {
                template_id: *template_id,
                key: gift_key(batch_id, serial),
            },
        }
    }
}

/// A points gift: one entry per code, so a replay adds nothing.
struct ScanPoints {
    points: i64,
    reference: String,
    key: String,
}

impl ScanPoints {
    fn event(&self, member_id: i64, at: DateTime<Utc>) -> PointsEvent<'_> {
        PointsEvent {
            member_id,
            points: self.points,
            reason: PointsReason::ScanGift,
            reference: &self.reference,
            idempotency_key: &self.key,
            at,
        }
    }

    fn entry(
        &self,
        member_id: i64,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> points_ledger::ActiveModel {
        loyalty::earning_entry(&self.event(member_id, at), Some(expires_at))
    }
}

fn gift_key(batch_id: i64, serial: i64) -> String {
    format!("scan-gift:{batch_id}:{serial}")
}

/// PostgreSQL: the claim, the day's count, the points entry and the event as one statement
/// (each later part writes once per row the claim returned, so a lost claim writes nothing).
/// A first scan was four statements inside its transaction; each costs the database a parse,
/// bind and round trip of its own, which at 2 cores was as much as the work itself.
async fn claim_in_one_statement(
    txn: &DatabaseTransaction,
    rows: RedemptionRows,
    points: Option<points_ledger::ActiveModel>,
) -> Result<Counted, ScanError> {
    use scan_gift_day::Column as Day;
    let mut claim = scan_redemption::Entity::insert(rows.redemption)
        .on_conflict(code_taken())
        .into_query();
    claim.returning_col(scan_redemption::Column::Id);
    let mut day = db::insert_per_row(&rows.day, "claim")?;
    day.on_conflict(one_more_gift()).returning_col(Day::Gifts);
    let mut with = WithClause::new();
    with.cte(cte("claim", claim)).cte(cte("day", day));
    if let Some(entry) = points {
        let mut points = db::insert_per_row(&entry, "claim")?;
        points.on_conflict(loyalty::earning_key_taken());
        with.cte(cte("points", points));
    }
    with.cte(cte("event", db::insert_per_row(&rows.event, "claim")?));
    let statement = with.query(Query::select().column(Day::Gifts).from("day").to_owned());
    let counted = match txn.query_one(&statement).await? {
        None => Counted::Lost,
        Some(row) => Counted::Gifts(row.try_get_by_index(0)?),
    };
    Ok(counted)
}

fn cte(name: &'static str, statement: InsertStatement) -> CommonTableExpression {
    CommonTableExpression::new()
        .query(statement)
        .table_name(name)
        .to_owned()
}

/// SQLite (no writing common table expressions), and coupon gifts, whose rules read first:
/// the claim, the count, then the gift and the event when within the cap.
async fn claim_step_by_step(
    app: &AppState,
    txn: &DatabaseTransaction,
    member_id: i64,
    rows: RedemptionRows,
    (gift, now): (&GiftWrite, DateTime<Utc>),
) -> Result<Counted, ScanError> {
    if !claim_code(txn, rows.redemption).await? {
        return Ok(Counted::Lost);
    }
    let gifts = scan_gift_day::Entity::insert(rows.day)
        .on_conflict(one_more_gift())
        .exec_with_returning(txn)
        .await?
        .gifts;
    if gifts <= app.settings.scan.daily_gift_cap {
        grant_gift(app, txn, member_id, gift, now).await?;
        scan_event::Entity::insert(rows.event)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(Counted::Gifts(gifts))
}

/// One more gift on the member's store day. The row's lock, held to the commit, puts one
/// member's claims one after the other, so the cap is exact.
fn one_more_gift() -> OnConflict {
    use scan_gift_day::Column as Day;
    OnConflict::columns([Day::MemberId, Day::Day])
        .value(
            Day::Gifts,
            Expr::col((scan_gift_day::Entity, Day::Gifts)).add(1),
        )
        .to_owned()
}

/// A code redeemed already is not claimed again (the unique (batch, serial)).
fn code_taken() -> OnConflict {
    OnConflict::columns([
        scan_redemption::Column::BatchId,
        scan_redemption::Column::Serial,
    ])
    .do_nothing()
    .to_owned()
}

/// The code's redemption, which must exist.
async fn find_redemption<C: ConnectionTrait>(
    db: &C,
    batch_id: i64,
    serial: i64,
) -> Result<scan_redemption::Model, ScanError> {
    scan_redemption::Entity::find()
        .filter(scan_redemption::Column::BatchId.eq(batch_id))
        .filter(scan_redemption::Column::Serial.eq(serial))
        .one(db)
        .await?
        .ok_or_else(|| {
            ScanError::Store(StoreError::Db(sea_orm::DbErr::RecordNotFound(
                "redemption vanished".into(),
            )))
        })
}

/// Writes the redemption row unless the code is redeemed already (the unique (batch, serial)
/// makes this exactly-once). Whether this scan claimed it.
async fn claim_code<C: ConnectionTrait>(
    txn: &C,
    redemption: scan_redemption::ActiveModel,
) -> Result<bool, ScanError> {
    let claimed = scan_redemption::Entity::insert(redemption)
        .on_conflict(code_taken())
        .exec_without_returning(txn)
        .await?;
    Ok(claimed == 1)
}

/// Grants the gift of a claimed code inside the redemption's transaction, keyed by the code.
async fn grant_gift<C: ConnectionTrait>(
    app: &AppState,
    txn: &C,
    member_id: i64,
    gift: &GiftWrite,
    now: DateTime<Utc>,
) -> Result<(), ScanError> {
    match gift {
        GiftWrite::Points(points) => {
            let expires_at = now + app.settings.loyalty.points_validity;
            loyalty::earn(txn, &points.event(member_id, now), Some(expires_at)).await?;
        }
        GiftWrite::Coupon { template_id, key } => {
            grant_coupon_gift(txn, member_id, *template_id, key, now).await?;
        }
        GiftWrite::Nothing => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn the_store_day_is_in_shanghai() {
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 17, 0, 0).unwrap();
        assert_eq!(store_day(at), "2026-03-02");
    }
}

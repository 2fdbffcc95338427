//! Booking of in-store services: members find slots, book, move and cancel and show a check-in
//! code; BAs check in and redeem at the counter; managers and HQ set services, hours,
//! closures, skills, shifts and blocks, and read the day and the utilisation.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use domain::auth::Permission;
use domain::booking;
use domain::subscriptions::{self, ConsentAnswer};

use crate::context::{app, member, staff};
use crate::error::{ApiResult, parse_id};
use crate::pagination;
use crate::scalars::Date;
use crate::scalars::DateTime;
use crate::subscriptions::SubscriptionAnswer;

pub use domain::booking::BookingStatus;

#[derive(SimpleObject)]
pub struct BookingService {
    pub id: ID,
    /// None: offered at every store.
    pub store_id: Option<ID>,
    pub code: String,
    pub name: String,
    pub duration_minutes: i32,
    pub buffer_minutes: i32,
    /// 0 when free.
    pub price_fen: i64,
    pub free: bool,
    pub required_skills: Vec<String>,
    pub active: bool,
}

impl From<booking::Service> for BookingService {
    fn from(s: booking::Service) -> Self {
        Self {
            id: s.id.into(),
            store_id: s.store_id.map(Into::into),
            code: s.code,
            name: s.name,
            duration_minutes: s.duration_minutes,
            buffer_minutes: s.buffer_minutes,
            price_fen: s.price_fen,
            free: s.price_fen == 0,
            required_skills: s.required_skills,
            active: s.active,
        }
    }
}

/// An open start time and the BAs free for it.
#[derive(SimpleObject)]
pub struct BookingSlot {
    pub starts_at: DateTime,
    pub ends_at: DateTime,
    pub ba_ids: Vec<ID>,
}

#[derive(SimpleObject)]
pub struct Booking {
    pub id: ID,
    pub member_id: ID,
    pub store_id: ID,
    pub service_id: ID,
    pub service_name: String,
    pub ba_id: ID,
    pub starts_at: DateTime,
    pub ends_at: DateTime,
    pub status: BookingStatus,
    pub price_fen: i64,
    pub checked_in_at: Option<DateTime>,
    pub redeemed_at: Option<DateTime>,
    /// SKUs used during the service.
    pub products_used: Vec<ID>,
    pub notes: Option<String>,
    pub reminder_sent_at: Option<DateTime>,
    pub created_at: DateTime,
}

impl From<booking::Booking> for Booking {
    fn from(b: booking::Booking) -> Self {
        Self {
            id: b.id.into(),
            member_id: b.member_id.into(),
            store_id: b.store_id.into(),
            service_id: b.service_id.into(),
            service_name: b.service_name,
            ba_id: b.ba_id.into(),
            starts_at: b.starts_at.into(),
            ends_at: b.ends_at.into(),
            status: b.status,
            price_fen: b.price_fen,
            checked_in_at: b.checked_in_at.map(Into::into),
            redeemed_at: b.redeemed_at.map(Into::into),
            products_used: b.products_used.into_iter().map(Into::into).collect(),
            notes: b.notes,
            reminder_sent_at: b.reminder_sent_at.map(Into::into),
            created_at: b.created_at.into(),
        }
    }
}

fn bookings(list: Vec<booking::Booking>) -> Vec<Booking> {
    list.into_iter().map(Into::into).collect()
}

/// QR content for the counter; refresh it before `expiresAt`.
#[derive(SimpleObject)]
pub struct BookingCheckInCode {
    pub code: String,
    pub expires_at: DateTime,
}

#[derive(InputObject)]
pub struct BookServiceInput {
    pub store_id: ID,
    pub service_id: ID,
    /// Leave out for any free qualified BA.
    pub ba_id: Option<ID>,
    pub starts_at: DateTime,
}

#[derive(Default)]
pub struct ConsumerBookingQuery;

#[Object]
impl ConsumerBookingQuery {
    /// The services a store offers.
    async fn booking_services(
        &self,
        ctx: &Context<'_>,
        store_id: ID,
    ) -> ApiResult<Vec<BookingService>> {
        member(ctx).await?;
        let list = booking::services(app(ctx), parse_id(&store_id)?).await?;
        Ok(list.into_iter().map(Into::into).collect())
    }

    /// Open slots of a service at a store for `days` local days from `from` (store's zone).
    async fn available_slots(
        &self,
        ctx: &Context<'_>,
        store_id: ID,
        service_id: ID,
        from: Date,
        #[graphql(default = 7)] days: i32,
        ba_id: Option<ID>,
    ) -> ApiResult<Vec<BookingSlot>> {
        member(ctx).await?;
        let ba_id = ba_id.as_ref().map(parse_id).transpose()?;
        let slots = booking::available_slots(
            app(ctx),
            parse_id(&store_id)?,
            parse_id(&service_id)?,
            from.0,
            i64::from(days),
            ba_id,
        )
        .await?;
        Ok(slots
            .into_iter()
            .map(|s| BookingSlot {
                starts_at: s.starts_at.into(),
                ends_at: s.ends_at.into(),
                ba_ids: s.ba_ids.into_iter().map(Into::into).collect(),
            })
            .collect())
    }

    /// The member's bookings, latest start first.
    async fn my_bookings(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] upcoming_only: bool,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, Booking>> {
        let me = member(ctx).await?;
        let page = pagination::keyset(first, after.as_deref())?;
        let list = booking::my_bookings(app(ctx), me, upcoming_only, page).await?;
        Ok(pagination::connection(
            list,
            &page,
            |b| (b.starts_at, b.id),
            Into::into,
        ))
    }

    async fn my_booking(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Booking> {
        let me = member(ctx).await?;
        Ok(booking::my_booking(app(ctx), me, parse_id(&id)?)
            .await?
            .into())
    }

    /// A short-lived signed code for the booking's check-in QR.
    async fn booking_check_in_code(
        &self,
        ctx: &Context<'_>,
        booking_id: ID,
    ) -> ApiResult<BookingCheckInCode> {
        let me = member(ctx).await?;
        let (code, expires_at) =
            booking::check_in_code(app(ctx), me, parse_id(&booking_id)?).await?;
        Ok(BookingCheckInCode {
            code,
            expires_at: expires_at.into(),
        })
    }

    /// The template to ask wx.requestSubscribeMessage about for booking reminders.
    async fn booking_reminder_template_id(&self, ctx: &Context<'_>) -> ApiResult<String> {
        member(ctx).await?;
        Ok(app(ctx).settings.booking.reminder_template_id.clone())
    }
}

#[derive(Default)]
pub struct ConsumerBookingMutation;

#[Object]
impl ConsumerBookingMutation {
    /// Books a service. Retrying with the same idempotency key returns the same booking.
    async fn book_service(
        &self,
        ctx: &Context<'_>,
        input: BookServiceInput,
        idempotency_key: String,
    ) -> ApiResult<Booking> {
        let me = member(ctx).await?;
        let input = booking::BookInput {
            store_id: parse_id(&input.store_id)?,
            service_id: parse_id(&input.service_id)?,
            ba_id: input.ba_id.as_ref().map(parse_id).transpose()?,
            starts_at: input.starts_at.0,
        };
        Ok(booking::book(app(ctx), me, input, &idempotency_key)
            .await?
            .into())
    }

    async fn reschedule_booking(
        &self,
        ctx: &Context<'_>,
        booking_id: ID,
        starts_at: DateTime,
        ba_id: Option<ID>,
    ) -> ApiResult<Booking> {
        let me = member(ctx).await?;
        let ba_id = ba_id.as_ref().map(parse_id).transpose()?;
        Ok(
            booking::reschedule(app(ctx), me, parse_id(&booking_id)?, starts_at.0, ba_id)
                .await?
                .into(),
        )
    }

    async fn cancel_booking(&self, ctx: &Context<'_>, booking_id: ID) -> ApiResult<Booking> {
        let me = member(ctx).await?;
        Ok(booking::cancel(app(ctx), me, parse_id(&booking_id)?)
            .await?
            .into())
    }

    /// Reports the member's answer to wx.requestSubscribeMessage for the booking reminder
    /// template (one accepted request allows one reminder); returns the unused consents.
    async fn subscribe_booking_reminders(
        &self,
        ctx: &Context<'_>,
        answer: SubscriptionAnswer,
    ) -> ApiResult<i32> {
        let me = member(ctx).await?;
        let app = app(ctx);
        let template = app.settings.booking.reminder_template_id.clone();
        let answer = match answer {
            SubscriptionAnswer::Accept => ConsentAnswer::Accept,
            SubscriptionAnswer::Reject => ConsentAnswer::Reject,
            SubscriptionAnswer::Ban => ConsentAnswer::Ban,
        };
        let counts = subscriptions::record(app, me, &[(template.clone(), answer)]).await?;
        Ok(counts
            .into_iter()
            .find(|c| c.template_id == template)
            .map_or(0, |c| c.remaining))
    }
}

// ---------------------------------------------------------------- staff

#[derive(SimpleObject)]
pub struct BookingPolicy {
    pub slot_minutes: i32,
    pub cancel_cutoff_minutes: i32,
    pub horizon_days: i32,
}

#[derive(SimpleObject)]
pub struct OpeningHours {
    /// 1 = Monday ... 7 = Sunday.
    pub weekday: i32,
    /// HH:MM, store's local time.
    pub opens: String,
    /// HH:MM; 24:00 is midnight.
    pub closes: String,
}

#[derive(InputObject)]
pub struct OpeningHoursInput {
    pub weekday: i32,
    pub opens: String,
    pub closes: String,
}

#[derive(SimpleObject)]
pub struct StoreClosure {
    pub date: Date,
    pub reason: String,
}

#[derive(SimpleObject)]
pub struct BookingBa {
    pub id: ID,
    pub display_name: String,
    pub skills: Vec<String>,
}

/// A store's booking setup.
#[derive(SimpleObject)]
pub struct StoreBookingSetup {
    pub policy: BookingPolicy,
    pub opening_hours: Vec<OpeningHours>,
    /// Closure days from today on.
    pub closures: Vec<StoreClosure>,
    pub bas: Vec<BookingBa>,
}

#[derive(SimpleObject)]
pub struct BaShift {
    pub id: ID,
    pub ba_id: ID,
    pub store_id: ID,
    pub local_date: Date,
    pub starts_at: DateTime,
    pub ends_at: DateTime,
}

impl From<booking::Shift> for BaShift {
    fn from(s: booking::Shift) -> Self {
        Self {
            id: s.id.into(),
            ba_id: s.ba_id.into(),
            store_id: s.store_id.into(),
            local_date: Date(s.local_date),
            starts_at: s.starts_at.into(),
            ends_at: s.ends_at.into(),
        }
    }
}

#[derive(SimpleObject)]
pub struct BaBlock {
    pub id: ID,
    pub ba_id: ID,
    pub starts_at: DateTime,
    pub ends_at: DateTime,
    pub reason: String,
}

#[derive(SimpleObject)]
pub struct BaBookingDay {
    pub ba_id: ID,
    pub ba_name: String,
    pub bookings: Vec<Booking>,
}

#[derive(SimpleObject)]
pub struct BaUtilisation {
    pub ba_id: ID,
    pub ba_name: String,
    pub shift_minutes: i64,
    pub booked_minutes: i64,
    pub utilisation: f64,
}

#[derive(SimpleObject)]
pub struct ServiceUtilisation {
    pub service_id: ID,
    pub service_name: String,
    pub bookings: i64,
    pub booked_minutes: i64,
    /// Booked minutes of the service over all shift minutes at the store.
    pub utilisation: f64,
}

#[derive(SimpleObject)]
pub struct BookingReport {
    pub per_ba: Vec<BaUtilisation>,
    pub per_service: Vec<ServiceUtilisation>,
    pub bookings: i64,
    pub no_shows: i64,
    /// No-shows over concluded bookings (checked in, redeemed or no-show).
    pub no_show_rate: f64,
}

#[derive(InputObject)]
pub struct NewBookingServiceInput {
    /// Leave out for every store (HQ only).
    pub store_id: Option<ID>,
    pub code: String,
    pub name: String,
    pub duration_minutes: i32,
    #[graphql(default = 0)]
    pub buffer_minutes: i32,
    /// 0 for a free service.
    #[graphql(default = 0)]
    pub price_fen: i64,
    #[graphql(default)]
    pub required_skills: Vec<String>,
}

#[derive(InputObject)]
pub struct BookingServiceChangesInput {
    pub name: Option<String>,
    pub duration_minutes: Option<i32>,
    pub buffer_minutes: Option<i32>,
    pub price_fen: Option<i64>,
    pub required_skills: Option<Vec<String>>,
    pub active: Option<bool>,
}

fn policy_view(p: booking::Policy) -> BookingPolicy {
    BookingPolicy {
        slot_minutes: p.slot_minutes,
        cancel_cutoff_minutes: p.cancel_cutoff_minutes,
        horizon_days: p.horizon_days,
    }
}

fn hours_view(list: Vec<booking::OpeningHours>) -> Vec<OpeningHours> {
    list.into_iter()
        .map(|h| OpeningHours {
            weekday: h.weekday,
            opens: booking::format_hhmm(h.opens_minute),
            closes: booking::format_hhmm(h.closes_minute),
        })
        .collect()
}

#[derive(Default)]
pub struct StaffBookingQuery;

#[Object]
impl StaffBookingQuery {
    /// The services a store offers (as members see them).
    async fn booking_services(
        &self,
        ctx: &Context<'_>,
        store_id: ID,
    ) -> ApiResult<Vec<BookingService>> {
        staff(ctx).await?;
        let list = booking::services(app(ctx), parse_id(&store_id)?).await?;
        Ok(list.into_iter().map(Into::into).collect())
    }

    /// Policy, opening hours, closures and BAs with their skills (own store).
    async fn store_booking_setup(
        &self,
        ctx: &Context<'_>,
        store_id: ID,
    ) -> ApiResult<StoreBookingSetup> {
        let me = staff(ctx).await?;
        let app = app(ctx);
        let store_id = parse_id(&store_id)?;
        booking::check_store_access(me, store_id)?;
        let today = app
            .clock
            .now()
            .with_timezone(&domain::platform::clock::DEFAULT_ZONE)
            .date_naive();
        Ok(StoreBookingSetup {
            policy: policy_view(booking::store_policy(app, store_id).await?),
            opening_hours: hours_view(booking::opening_hours(app, store_id).await?),
            closures: booking::closures(app, store_id, today)
                .await?
                .into_iter()
                .map(|c| StoreClosure {
                    date: Date(c.date),
                    reason: c.reason,
                })
                .collect(),
            bas: booking::store_bas(&app.db, store_id)
                .await?
                .into_iter()
                .map(|b| BookingBa {
                    id: b.id.into(),
                    display_name: b.display_name,
                    skills: b.skills,
                })
                .collect(),
        })
    }

    /// Shifts at a store starting on `days` local days from `from`.
    async fn ba_shifts(
        &self,
        ctx: &Context<'_>,
        store_id: ID,
        from: Date,
        #[graphql(default = 7)] days: i32,
    ) -> ApiResult<Vec<BaShift>> {
        let me = staff(ctx).await?;
        let list =
            booking::shifts(app(ctx), me, parse_id(&store_id)?, from.0, i64::from(days)).await?;
        Ok(list.into_iter().map(Into::into).collect())
    }

    /// A member's bookings, latest start first, with products used and notes (their service
    /// record).
    async fn member_bookings(
        &self,
        ctx: &Context<'_>,
        member_id: ID,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Connection<String, Booking>> {
        let me = staff(ctx).await?;
        let page = pagination::staff_keyset(
            me,
            &[Permission::ReadMembers, Permission::ServeBookings],
            first,
            after.as_deref(),
        )?;
        let list = booking::member_bookings(app(ctx), me, parse_id(&member_id)?, page).await?;
        Ok(pagination::connection(
            list,
            &page,
            |b| (b.starts_at, b.id),
            Into::into,
        ))
    }

    /// The day's bookings at a store, per BA (managers: own store).
    async fn store_booking_day(
        &self,
        ctx: &Context<'_>,
        store_id: ID,
        date: Date,
    ) -> ApiResult<Vec<BaBookingDay>> {
        let me = staff(ctx).await?;
        let days = booking::day_bookings(app(ctx), me, parse_id(&store_id)?, date.0).await?;
        Ok(days
            .into_iter()
            .map(|d| BaBookingDay {
                ba_id: d.ba_id.into(),
                ba_name: d.ba_name,
                bookings: bookings(d.bookings),
            })
            .collect())
    }

    /// Utilisation per BA and service and the no-show rate over local days `from ..= to`.
    async fn booking_report(
        &self,
        ctx: &Context<'_>,
        store_id: ID,
        from: Date,
        to: Date,
    ) -> ApiResult<BookingReport> {
        let me = staff(ctx).await?;
        let r = booking::report(app(ctx), me, parse_id(&store_id)?, from.0, to.0).await?;
        Ok(BookingReport {
            per_ba: r
                .per_ba
                .into_iter()
                .map(|b| BaUtilisation {
                    ba_id: b.ba_id.into(),
                    ba_name: b.ba_name,
                    shift_minutes: b.shift_minutes,
                    booked_minutes: b.booked_minutes,
                    utilisation: b.utilisation,
                })
                .collect(),
            per_service: r
                .per_service
                .into_iter()
                .map(|s| ServiceUtilisation {
                    service_id: s.service_id.into(),
                    service_name: s.service_name,
                    bookings: s.bookings,
                    booked_minutes: s.booked_minutes,
                    utilisation: s.utilisation,
                })
                .collect(),
            bookings: r.bookings,
            no_shows: r.no_shows,
            no_show_rate: r.no_show_rate,
        })
    }
}

#[derive(Default)]
pub struct StaffBookingMutation;

#[Object]
impl StaffBookingMutation {
    async fn create_booking_service(
        &self,
        ctx: &Context<'_>,
        input: NewBookingServiceInput,
    ) -> ApiResult<BookingService> {
        let me = staff(ctx).await?;
        me.require(Permission::ManageBookings)
            .map_err(crate::ApiError::from)?;
        let input = booking::NewService {
            store_id: input.store_id.as_ref().map(parse_id).transpose()?,
            code: input.code,
            name: input.name,
            duration_minutes: input.duration_minutes,
            buffer_minutes: input.buffer_minutes,
            price_fen: input.price_fen,
            required_skills: input.required_skills,
        };
        Ok(booking::create_service(app(ctx), me, input).await?.into())
    }

    async fn update_booking_service(
        &self,
        ctx: &Context<'_>,
        id: ID,
        changes: BookingServiceChangesInput,
    ) -> ApiResult<BookingService> {
        let me = staff(ctx).await?;
        let changes = booking::ServiceChanges {
            name: changes.name,
            duration_minutes: changes.duration_minutes,
            buffer_minutes: changes.buffer_minutes,
            price_fen: changes.price_fen,
            required_skills: changes.required_skills,
            active: changes.active,
        };
        Ok(
            booking::update_service(app(ctx), me, parse_id(&id)?, changes)
                .await?
                .into(),
        )
    }

    async fn set_booking_policy(
        &self,
        ctx: &Context<'_>,
        store_id: ID,
        slot_minutes: i32,
        cancel_cutoff_minutes: i32,
        horizon_days: i32,
    ) -> ApiResult<BookingPolicy> {
        let me = staff(ctx).await?;
        let p = booking::set_policy(
            app(ctx),
            me,
            parse_id(&store_id)?,
            booking::Policy {
                slot_minutes,
                cancel_cutoff_minutes,
                horizon_days,
            },
        )
        .await?;
        Ok(policy_view(p))
    }

    /// Replaces the store's weekly opening hours; a weekday left out is closed.
    async fn set_opening_hours(
        &self,
        ctx: &Context<'_>,
        store_id: ID,
        hours: Vec<OpeningHoursInput>,
    ) -> ApiResult<Vec<OpeningHours>> {
        let me = staff(ctx).await?;
        me.require(Permission::ManageBookings)
            .map_err(crate::ApiError::from)?;
        let hours = hours
            .into_iter()
            .map(|h| {
                Ok(booking::OpeningHours {
                    weekday: h.weekday,
                    opens_minute: booking::parse_hhmm(&h.opens)?,
                    closes_minute: booking::parse_hhmm(&h.closes)?,
                })
            })
            .collect::<Result<Vec<_>, booking::BookingError>>()?;
        Ok(hours_view(
            booking::set_opening_hours(app(ctx), me, parse_id(&store_id)?, hours).await?,
        ))
    }

    async fn add_store_closure(
        &self,
        ctx: &Context<'_>,
        store_id: ID,
        date: Date,
        reason: String,
    ) -> ApiResult<StoreClosure> {
        let me = staff(ctx).await?;
        let c = booking::add_closure(app(ctx), me, parse_id(&store_id)?, date.0, &reason).await?;
        Ok(StoreClosure {
            date: Date(c.date),
            reason: c.reason,
        })
    }

    async fn remove_store_closure(
        &self,
        ctx: &Context<'_>,
        store_id: ID,
        date: Date,
    ) -> ApiResult<bool> {
        let me = staff(ctx).await?;
        Ok(booking::remove_closure(app(ctx), me, parse_id(&store_id)?, date.0).await?)
    }

    /// Replaces a BA's skills.
    async fn set_ba_skills(
        &self,
        ctx: &Context<'_>,
        ba_id: ID,
        skills: Vec<String>,
    ) -> ApiResult<Vec<String>> {
        let me = staff(ctx).await?;
        Ok(booking::set_ba_skills(app(ctx), me, parse_id(&ba_id)?, skills).await?)
    }

    /// A shift on a local day from `start` to `end` (HH:MM); an end at or before the start is
    /// on the next day.
    async fn add_ba_shift(
        &self,
        ctx: &Context<'_>,
        ba_id: ID,
        date: Date,
        start: String,
        end: String,
    ) -> ApiResult<BaShift> {
        let me = staff(ctx).await?;
        me.require(Permission::ManageBookings)
            .map_err(crate::ApiError::from)?;
        let (start, end) = (booking::parse_hhmm(&start)?, booking::parse_hhmm(&end)?);
        Ok(
            booking::add_shift(app(ctx), me, parse_id(&ba_id)?, date.0, start, end)
                .await?
                .into(),
        )
    }

    async fn remove_ba_shift(&self, ctx: &Context<'_>, shift_id: ID) -> ApiResult<bool> {
        let me = staff(ctx).await?;
        Ok(booking::remove_shift(app(ctx), me, parse_id(&shift_id)?).await?)
    }

    /// Blocks a BA's time (no new bookings then).
    async fn block_ba_time(
        &self,
        ctx: &Context<'_>,
        ba_id: ID,
        starts_at: DateTime,
        ends_at: DateTime,
        reason: String,
    ) -> ApiResult<BaBlock> {
        let me = staff(ctx).await?;
        let b = booking::block_ba_time(
            app(ctx),
            me,
            parse_id(&ba_id)?,
            starts_at.0,
            ends_at.0,
            &reason,
        )
        .await?;
        Ok(BaBlock {
            id: b.id.into(),
            ba_id: b.ba_id.into(),
            starts_at: b.starts_at.into(),
            ends_at: b.ends_at.into(),
            reason: b.reason,
        })
    }

    async fn unblock_ba_time(&self, ctx: &Context<'_>, block_id: ID) -> ApiResult<bool> {
        let me = staff(ctx).await?;
        Ok(booking::unblock_ba_time(app(ctx), me, parse_id(&block_id)?).await?)
    }

    /// The BA scans the member's booking code: checked in, once.
    async fn check_in_booking(&self, ctx: &Context<'_>, code: String) -> ApiResult<Booking> {
        let me = staff(ctx).await?;
        Ok(booking::check_in(app(ctx), me, &code).await?.into())
    }

    /// After the service: redeemed (到店核销), with products used and notes.
    async fn redeem_booking(
        &self,
        ctx: &Context<'_>,
        booking_id: ID,
        #[graphql(default)] products_used: Vec<ID>,
        notes: Option<String>,
    ) -> ApiResult<Booking> {
        let me = staff(ctx).await?;
        let products = products_used
            .iter()
            .map(parse_id)
            .collect::<ApiResult<Vec<_>>>()?;
        Ok(
            booking::redeem(app(ctx), me, parse_id(&booking_id)?, products, notes)
                .await?
                .into(),
        )
    }
}

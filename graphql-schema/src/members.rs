//! Members and their beauty profile: the member's own view in the mini-program, and the BA's
//! view at the counter (personal data reads audited by the domain).

use crate::scalars::{DateTime, Fen};
use async_graphql::{ComplexObject, Context, ID, InputObject, Object, SimpleObject};
use domain::auth::Principal;
use domain::{loyalty, members};

use crate::context::{app, member, meta, principal, staff};
use crate::error::{ApiError, ApiResult, parse_id};
use crate::scalars::Date;

pub use members::{Gender, SkinConcern, SkinType, TagSource};

#[derive(SimpleObject)]
pub struct Tag {
    pub name: String,
    pub source: TagSource,
    pub created_at: DateTime,
}

impl From<members::Tag> for Tag {
    fn from(t: members::Tag) -> Self {
        Self {
            name: t.name,
            source: t.source,
            created_at: t.created_at.into(),
        }
    }
}

#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "RegionInput")]
pub struct Region {
    pub province: String,
    pub city: String,
    pub district: Option<String>,
}

#[derive(SimpleObject)]
pub struct Tier {
    pub code: String,
    pub name: String,
    pub rank: i32,
    /// Lifetime spend (`Member.cumulativeSpendFen`) that reaches the tier.
    pub threshold_fen: Fen,
    pub points_multiplier_pct: i32,
    pub discount_pct: i32,
}

impl From<loyalty::Tier> for Tier {
    fn from(t: loyalty::Tier) -> Self {
        Self {
            code: t.code,
            name: t.name,
            rank: t.rank,
            threshold_fen: t.threshold_fen.into(),
            points_multiplier_pct: t.points_multiplier_pct,
            discount_pct: t.discount_pct,
        }
    }
}

/// A member of the brand. The same type serves the member (their own record) and staff.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Member {
    pub id: ID,
    /// Shown as the member QR; a BA scans it to find the member.
    pub member_code: String,
    pub nickname: Option<String>,
    pub gender: Gender,
    pub region: Option<Region>,
    pub skin_type: Option<SkinType>,
    pub skin_concerns: Vec<SkinConcern>,
    pub marketing_consent: bool,
    /// e.g. 138****8000
    pub phone_masked: Option<String>,
    pub profile_updated_at: Option<DateTime>,
    /// The staff account that last edited the skin profile (none when the member did).
    pub profile_updated_by: Option<ID>,
    /// The member's exclusive BA (专属BA), credited for their online orders.
    pub exclusive_ba_id: Option<ID>,
    /// Lifetime spend that decides the tier.
    pub cumulative_spend_fen: Fen,
    pub created_at: DateTime,
    #[graphql(skip)]
    pub inner: members::Member,
}

impl From<members::Member> for Member {
    fn from(m: members::Member) -> Self {
        Self {
            id: m.id.into(),
            member_code: m.member_code.clone(),
            nickname: m.nickname.clone(),
            gender: m.gender,
            region: m.region.clone().map(|r| Region {
                province: r.province,
                city: r.city,
                district: r.district,
            }),
            skin_type: m.skin_type,
            skin_concerns: m.skin_concerns.clone(),
            marketing_consent: m.marketing_consent,
            phone_masked: m.phone_masked.clone(),
            profile_updated_at: m.profile_updated_at.map(Into::into),
            profile_updated_by: m.profile_updated_by.map(Into::into),
            exclusive_ba_id: m.exclusive_ba_id.map(Into::into),
            cumulative_spend_fen: m.cumulative_spend_fen.into(),
            created_at: m.created_at.into(),
            inner: m,
        }
    }
}

#[ComplexObject]
impl Member {
    /// Allergens the member must avoid: `allergenOptions` codes (e.g. `fragrance`) and INCI names.
    async fn allergies(&self, ctx: &Context<'_>) -> ApiResult<Vec<String>> {
        Ok(members::allergies(app(ctx), self.inner.id).await?)
    }

    /// The member's consents: whether the privacy policy is accepted and whether skin
    /// concerns and allergies may be recorded (the BA checks before a skin test).
    async fn consents(&self, ctx: &Context<'_>) -> ApiResult<crate::privacy::MemberConsents> {
        Ok(domain::privacy::consent_status(app(ctx), self.inner.id)
            .await?
            .into())
    }

    async fn tags(&self, ctx: &Context<'_>) -> ApiResult<Vec<Tag>> {
        Ok(members::tags(app(ctx), self.inner.id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    async fn tier(&self, ctx: &Context<'_>) -> ApiResult<Tier> {
        Ok(loyalty::tier(app(ctx), &self.inner.tier_code).await?.into())
    }

    /// The points balance (the sum of the points ledger).
    async fn points(&self, ctx: &Context<'_>) -> ApiResult<i64> {
        Ok(loyalty::points_balance(app(ctx), self.inner.id).await?)
    }

    /// The full phone number. The member sees their own; a staff read is written to the audit log.
    async fn phone(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        let app = app(ctx);
        match principal(ctx).await? {
            Principal::Member(me) if me.member_id == self.inner.id => {
                Ok(members::own_phone(app, me).await?)
            }
            Principal::Staff(staff) => {
                Ok(members::read_phone(app, staff, meta(ctx)?, self.inner.id).await?)
            }
            _ => Err(ApiError::unauthenticated()),
        }
    }

    /// The birthday. The member sees their own; a staff read is written to the audit log.
    async fn birthday(&self, ctx: &Context<'_>) -> ApiResult<Option<Date>> {
        let app = app(ctx);
        let date = match principal(ctx).await? {
            Principal::Member(me) if me.member_id == self.inner.id => self.inner.birthday,
            Principal::Staff(staff) => {
                members::read_birthday(app, staff, meta(ctx)?, self.inner.id).await?
            }
            _ => return Err(ApiError::unauthenticated()),
        };
        Ok(date.map(Date))
    }
}

/// The skin profile a member or a BA records.
#[derive(InputObject, Default)]
pub struct SkinProfileInput {
    pub skin_type: Option<SkinType>,
    pub skin_concerns: Option<Vec<SkinConcern>>,
    /// Allergens to avoid: `allergenOptions` codes (names such as 香精 or Fragrance are read
    /// as their code) or INCI names; replaces the whole list.
    pub allergies: Option<Vec<String>>,
}

impl From<SkinProfileInput> for members::SkinProfileUpdate {
    fn from(i: SkinProfileInput) -> Self {
        Self {
            skin_type: i.skin_type,
            skin_concerns: i.skin_concerns,
            allergies: i.allergies,
        }
    }
}

/// Fields left out stay as they are.
#[derive(InputObject)]
pub struct ProfileInput {
    pub nickname: Option<String>,
    pub gender: Option<Gender>,
    pub birthday: Option<Date>,
    pub region: Option<Region>,
    pub skin_type: Option<SkinType>,
    pub skin_concerns: Option<Vec<SkinConcern>>,
    /// Allergens to avoid: `allergenOptions` codes (names such as 香精 or Fragrance are read
    /// as their code) or INCI names; replaces the whole list.
    pub allergies: Option<Vec<String>>,
    pub marketing_consent: Option<bool>,
}

#[derive(Default)]
pub struct ConsumerMembersQuery;

#[Object]
impl ConsumerMembersQuery {
    /// The signed-in member.
    async fn me(&self, ctx: &Context<'_>) -> ApiResult<Member> {
        let me = member(ctx).await?;
        Ok(members::get(app(ctx), me.member_id).await?.into())
    }
}

#[derive(Default)]
pub struct ConsumerMembersMutation;

#[Object]
impl ConsumerMembersMutation {
    async fn update_my_profile(&self, ctx: &Context<'_>, input: ProfileInput) -> ApiResult<Member> {
        let me = member(ctx).await?;
        let update = members::ProfileUpdate {
            nickname: input.nickname,
            gender: input.gender,
            birthday: input.birthday.map(|d| d.0),
            region: input.region.map(|r| members::Region {
                province: r.province,
                city: r.city,
                district: r.district,
            }),
            skin: SkinProfileInput {
                skin_type: input.skin_type,
                skin_concerns: input.skin_concerns,
                allergies: input.allergies,
            }
            .into(),
            marketing_consent: input.marketing_consent,
        };
        Ok(members::update_own_profile(app(ctx), me, update)
            .await?
            .into())
    }

    /// Binds the phone number from a getPhoneNumber button code.
    async fn bind_phone(&self, ctx: &Context<'_>, code: String) -> ApiResult<Member> {
        let me = member(ctx).await?;
        Ok(members::bind_phone(app(ctx), me, &code).await?.into())
    }
}

#[derive(Default)]
pub struct StaffMembersQuery;

#[Object]
impl StaffMembersQuery {
    /// Finds a member by phone number or by the member code from their QR (give one).
    async fn find_member(
        &self,
        ctx: &Context<'_>,
        phone: Option<String>,
        member_code: Option<String>,
    ) -> ApiResult<Option<Member>> {
        let staff = staff(ctx).await?;
        let app = app(ctx);
        let found = match (phone, member_code) {
            (Some(phone), None) => members::find_by_phone(app, staff, meta(ctx)?, &phone).await?,
            (None, Some(code)) => members::find_by_code(app, staff, &code).await?,
            _ => return Err(ApiError::bad_input("give either phone or memberCode")),
        };
        Ok(found.map(Into::into))
    }

    async fn member(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Member> {
        let staff = staff(ctx).await?;
        Ok(members::get_for_staff(app(ctx), staff, parse_id(&id)?)
            .await?
            .into())
    }
}

#[derive(Default)]
pub struct StaffMembersMutation;

#[Object]
impl StaffMembersMutation {
    /// Records the skin test at the counter; who and when are kept.
    async fn update_member_skin_profile(
        &self,
        ctx: &Context<'_>,
        member_id: ID,
        input: SkinProfileInput,
    ) -> ApiResult<Member> {
        let staff = staff(ctx).await?;
        let id = parse_id(&member_id)?;
        Ok(
            members::update_skin_profile(app(ctx), staff, meta(ctx)?, id, input.into())
                .await?
                .into(),
        )
    }

    /// Makes a BA the member's exclusive BA (manager or HQ); null removes it.
    async fn assign_exclusive_ba(
        &self,
        ctx: &Context<'_>,
        member_id: ID,
        ba_id: Option<ID>,
    ) -> ApiResult<Member> {
        let staff = staff(ctx).await?;
        let id = parse_id(&member_id)?;
        let ba = ba_id.as_ref().map(parse_id).transpose()?;
        Ok(
            members::assign_exclusive_ba(app(ctx), staff, meta(ctx)?, id, ba)
                .await?
                .into(),
        )
    }

    /// Erases a member's personal data on a request (HQ), as the member's `deleteMyAccount`
    /// does: at once and for good, sessions ended; orders and payments stay, anonymous. The
    /// reason (a ticket, not personal data) is kept in the audit log.
    async fn erase_member(&self, ctx: &Context<'_>, id: ID, reason: String) -> ApiResult<bool> {
        let staff = staff(ctx).await?;
        let id = parse_id(&id)?;
        domain::erasure::erase_member(app(ctx), staff, meta(ctx)?, id, &reason).await?;
        Ok(true)
    }

    async fn add_member_tag(
        &self,
        ctx: &Context<'_>,
        member_id: ID,
        name: String,
    ) -> ApiResult<Vec<Tag>> {
        let staff = staff(ctx).await?;
        let id = parse_id(&member_id)?;
        let tags = members::add_tag(app(ctx), staff, meta(ctx)?, id, &name).await?;
        Ok(tags.into_iter().map(Into::into).collect())
    }

    async fn remove_member_tag(
        &self,
        ctx: &Context<'_>,
        member_id: ID,
        name: String,
    ) -> ApiResult<Vec<Tag>> {
        let staff = staff(ctx).await?;
        let id = parse_id(&member_id)?;
        let tags = members::remove_tag(app(ctx), staff, meta(ctx)?, id, &name).await?;
        Ok(tags.into_iter().map(Into::into).collect())
    }
}

use sea_orm::entity::prelude::*;

/// A consumer known to the brand.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "members")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Random code shown as the member QR; BAs find members by it.
    #[sea_orm(unique)]
    pub member_code: String,
    #[sea_orm(unique)]
    pub openid: String,
    pub unionid: Option<String>,
    pub nickname: Option<String>,
    /// UNKNOWN, MALE or FEMALE.
    pub gender: String,
    pub birthday: Option<Date>,
    pub region_province: Option<String>,
    pub region_city: Option<String>,
    pub region_district: Option<String>,
    /// GB/T 2260 code of the profile region (the city when known, else the province).
    pub region_code: Option<String>,
    /// DRY, OILY, COMBINATION, NORMAL or SENSITIVE.
    pub skin_type: Option<String>,
    /// Bit set of skin concerns (see domain::members::SkinConcern), so segments filter in SQL on both backends.
    pub skin_concerns: i32,
    pub marketing_consent: bool,
    pub marketing_consent_at: Option<DateTimeUtc>,
    /// AES-256-GCM ciphertext of the phone number (personal data).
    pub phone_cipher: Option<String>,
    /// Keyed HMAC of the normalised phone number: look-up without decrypting.
    #[sea_orm(unique)]
    pub phone_index: Option<String>,
    /// e.g. 138****8000, safe to show in lists.
    pub phone_masked: Option<String>,
    pub tier_code: String,
    pub cumulative_spend_fen: i64,
    /// The member's exclusive BA (专属BA), credited for their orders.
    pub exclusive_ba_id: Option<i64>,
    pub profile_updated_at: Option<DateTimeUtc>,
    /// The staff account that last edited the skin profile; none when the member did.
    pub profile_updated_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::Iterable;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// 干 dry, 油 oily, 混合 combination, 中性 normal, 敏感 sensitive.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SkinType {
    Dry,
    Oily,
    Combination,
    Normal,
    Sensitive,
}

impl SkinType {
    /// The system tag that mirrors the skin type (one at a time).
    pub const fn tag(self) -> &'static str {
        match self {
            Self::Dry => "干性肌",
            Self::Oily => "油性肌",
            Self::Combination => "混合肌",
            Self::Normal => "中性肌",
            Self::Sensitive => "敏感肌",
        }
    }

    /// The type's bit in a product's `suitable_skin_types` (declaration order).
    pub const fn bit(self) -> i32 {
        1 << (self as i32)
    }

    pub fn from_bits(bits: i32) -> Vec<Self> {
        Self::iter().filter(|t| bits & t.bit() != 0).collect()
    }

    pub fn to_bits(types: &[Self]) -> i32 {
        types.iter().fold(0, |bits, t| bits | t.bit())
    }
}

// Skin concerns. Not a text column: `members.skin_concerns` holds them as a bit set, so
// segments filter in SQL on both backends; the text form is for JSON (audit detail, segments).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SkinConcern {
    Acne,
    Ageing,
    Pigmentation,
    Redness,
    Pores,
    Dehydration,
    Dullness,
}

impl SkinConcern {
    /// The concern's bit in `members.skin_concerns` (declaration order).
    pub const fn bit(self) -> i32 {
        1 << (self as i32)
    }

    pub fn from_bits(bits: i32) -> Vec<Self> {
        Self::iter().filter(|c| bits & c.bit() != 0).collect()
    }

    pub fn to_bits(concerns: &[Self]) -> i32 {
        concerns.iter().fold(0, |bits, c| bits | c.bit())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum Gender {
    Unknown,
    Male,
    Female,
}

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
    pub gender: Gender,
    pub birthday: Option<Date>,
    pub region_province: Option<String>,
    pub region_city: Option<String>,
    pub region_district: Option<String>,
    /// GB/T 2260 code of the profile region (the city when known, else the province).
    pub region_code: Option<String>,
    pub skin_type: Option<SkinType>,
    /// Bit set of skin concerns (see [`SkinConcern`]), so segments filter in SQL on both backends.
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
    /// When the member's personal data was erased (PIPL): the row stays as the anonymous
    /// tombstone their orders, payments and ledgers point to.
    pub erased_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip() {
        let concerns = vec![SkinConcern::Acne, SkinConcern::Dullness];
        assert_eq!(
            SkinConcern::from_bits(SkinConcern::to_bits(&concerns)),
            concerns
        );
        assert_eq!(SkinType::Dry.bit(), 1);
        assert_eq!(SkinType::Sensitive.bit(), 16);
        assert_eq!(SkinConcern::Dullness.bit(), 64);
    }
}
